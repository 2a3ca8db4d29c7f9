//! The `cloudconform` command line: the only place that uses `anyhow` and decides exit codes.
mod cli;

/// The emulator this binary hosts answers many small requests from many threads; with glibc's
/// allocator its resident memory kept growing under fuzzing (per-thread arenas holding freed
/// pages). mimalloc returns them (docs/emulator.md "Memory"; `--no-default-features` builds
/// without it for comparison).
#[cfg(feature = "mimalloc")]
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    cli::main()
}
