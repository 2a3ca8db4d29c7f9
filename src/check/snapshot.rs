//! Snapshots of exchanges (`insta`, files under `snapshots/<target>/`), redacted so they are
//! stable, with their provenance (target, spec version) in the snapshot metadata. No date: a
//! date in the metadata would change on every `cargo insta accept` and fail a full-match run
//! (`INSTA_REQUIRE_FULL_MATCH`) the next day; git already says when a snapshot changed.
//!
//! A case is compared with its snapshot when the snapshot file exists; new snapshots are
//! written only when asked (`CLOUDCONFORM_SNAPSHOTS=record` with `INSTA_UPDATE=always`), so a new
//! generated case never fails a CI run for lack of a snapshot.
use serde::Serialize;
use serde_json::Value;
use std::path::{Path, PathBuf};

/// Where a snapshot came from.
#[derive(Debug, Clone, Serialize)]
pub struct Provenance {
    pub target: String,
    /// `provider/service/version` of the action.
    pub spec_version: String,
}

/// File-safe snapshot name for a case id.
pub fn snapshot_name(case_id: &str) -> String {
    case_id.replace('/', "__").replace('@', "-at-")
}

pub fn snapshot_dir(root: &Path, target: &str) -> PathBuf {
    root.join("snapshots").join(target)
}

/// Whether snapshots should be recorded (not only compared).
pub fn recording() -> bool {
    std::env::var("CLOUDCONFORM_SNAPSHOTS").is_ok_and(|v| v == "record")
}

/// Compare (or record) one case's snapshot. Returns false when there is no snapshot to compare
/// with and recording is off. Panics (an insta assertion) on a mismatch.
pub fn assert_snapshot(root: &Path, provenance: &Provenance, case_id: &str, value: &Value) -> bool {
    let dir = snapshot_dir(root, &provenance.target);
    let name = snapshot_name(case_id);
    if !dir.join(format!("{name}.snap")).exists() && !recording() {
        return false;
    }
    let mut settings = insta::Settings::clone_current();
    settings.set_snapshot_path(dir);
    settings.set_prepend_module_to_snapshot(false);
    settings.set_omit_expression(true);
    settings.set_info(provenance);
    settings.set_description(case_id);
    settings.bind(|| insta::assert_json_snapshot!(name, value));
    true
}
