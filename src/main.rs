//! The `cloudconform` command line: the only place that uses `anyhow` and decides exit codes.
mod cli;

/// jemalloc, chosen by measurement over glibc and mimalloc (docs/emulator.md "Allocator"):
/// more requests per second, and with the options below less RSS under `bench --fuzz` too.
#[cfg(not(target_env = "msvc"))]
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

/// jemalloc's options, read before `main`: two arenas (the default, four per core, keeps more
/// memory per idle arena), and freed pages returned to the system within about a second by a
/// background thread instead of staying resident until the next allocation burst.
/// `_RJEM_MALLOC_CONF` in the environment overrides them.
#[cfg(not(target_env = "msvc"))]
#[allow(non_upper_case_globals)]
#[export_name = "_rjem_malloc_conf"]
pub static malloc_conf: &[u8; 70] =
    b"narenas:2,background_thread:true,dirty_decay_ms:1000,muzzy_decay_ms:0\0";

fn main() -> std::process::ExitCode {
    cli::main()
}
