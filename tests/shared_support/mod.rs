//! The reference material the tests check against (`shared/` beside the repository: seed pages,
//! protocol vectors, SDK captures). Missing, it is one clear failure naming the expected place,
//! not a raw `NotFound` unwrap: see README "Set-up" for why tests fail rather than skip.
#![allow(dead_code)] // each test binary uses part of it

/// `path` (a file under `../shared/`), panicking with what is missing and where it belongs.
pub fn require(path: &str) -> &str {
    if !std::path::Path::new(path).exists() {
        let beside = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .parent()
            .map(|p| p.join("shared").display().to_string())
            .unwrap_or_else(|| "../shared".into());
        panic!(
            "reference material missing: {path} does not exist. The tests read the shared/ \
             folder (seeds, protocol vectors, SDK captures) from beside the repository: put it \
             at {beside} (README, Set-up)"
        );
    }
    path
}

/// The text of a file under `../shared/` (see [`require`]).
pub fn read(path: &str) -> String {
    std::fs::read_to_string(require(path)).unwrap_or_else(|e| panic!("reading {path}: {e}"))
}
