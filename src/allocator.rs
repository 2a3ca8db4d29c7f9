//! The global allocator of the CLI (and so of `cloudconform emulate`), also compiled into
//! `benches/load.rs` so the load benchmark measures what the CLI runs. Outside the library,
//! which forbids `unsafe`.
//!
//! mimalloc 2, chosen by measurement over glibc, jemalloc and mimalloc 3 (docs/emulator.md
//! "Allocator"): with purging at once (`configure`) its RSS under fuzzing is tuned jemalloc's,
//! the emulator serves as many requests/s, and its one C file builds in about a second where
//! jemalloc's build script added a minute or more to every clean build. The price: checked
//! cases 10–17 % slower than with jemalloc.

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// `mi_option_purge_delay`: how long freed pages stay resident before they are returned to the
/// system. libmimalloc-sys names only some options; in mimalloc 2's `mi_option_e` this one sits
/// between the two it names here (15).
const MI_OPTION_PURGE_DELAY: libmimalloc_sys::mi_option_t =
    libmimalloc_sys::mi_option_eager_commit_delay + 1;
const _: () = assert!(MI_OPTION_PURGE_DELAY + 1 == libmimalloc_sys::mi_option_use_numa_nodes);

/// Purge freed pages at once instead of after 10 ms (100 ms in arenas). mimalloc 2 has no
/// background thread, so memory freed by a burst that idleness follows would otherwise stay
/// resident: 56 MB instead of 41 MB after `bench --fuzz 200000`. `MIMALLOC_PURGE_DELAY` in the
/// environment still wins (mimalloc reads it at start; then this leaves the option alone).
///
/// Call first thing in `main`, before any other thread exists.
pub fn configure() {
    if std::env::var_os("MIMALLOC_PURGE_DELAY").is_none() {
        // SAFETY: writes one integer in mimalloc's option table; no other thread exists yet to
        // read it concurrently, and the index is in range (checked by mimalloc as well).
        unsafe { libmimalloc_sys::mi_option_set(MI_OPTION_PURGE_DELAY, 0) };
    }
}
