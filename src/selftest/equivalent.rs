//! `cases/selftest-equivalent.json` (schema beside it): deviations no documented API can
//! observe, each with the reason. Strict like expected failures: a listed deviation that is
//! killed, or that no longer exists, is stale and fails the self-test.
use serde::{Deserialize, Serialize};
use std::path::Path;

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Equivalent {
    /// A deviation id (`cloudconform emulate --list-deviations`).
    pub id: String,
    /// Why no case can notice it (which documented API would have to show it, and does not).
    pub reason: String,
    /// The target modes it holds in (all when empty): in-process runs also read the
    /// emulator's world, which shows what no documented API does.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub modes: Vec<super::TargetMode>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Equivalents {
    #[serde(default, rename = "$schema", skip_serializing_if = "Option::is_none")]
    pub schema: Option<String>,
    #[serde(default, rename = "equivalent")]
    pub entries: Vec<Equivalent>,
}

impl Equivalents {
    /// Load the list; a missing file is an empty list, a malformed one an error naming it.
    pub fn load(path: &Path) -> Result<Equivalents, String> {
        match std::fs::read_to_string(path) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Equivalents::default()),
            Err(e) => Err(format!("{}: {e}", path.display())),
            Ok(text) => serde_json::from_str(&text).map_err(|e| format!("{}: {e}", path.display())),
        }
    }

    /// The reason `id` is equivalent in `mode`, if it is.
    pub fn reason(&self, id: &str, mode: super::TargetMode) -> Option<&str> {
        self.in_mode(mode)
            .find(|e| e.id == id)
            .map(|e| e.reason.as_str())
    }

    /// The entries that hold in `mode`.
    pub fn in_mode(&self, mode: super::TargetMode) -> impl Iterator<Item = &Equivalent> {
        self.entries
            .iter()
            .filter(move |e| e.modes.is_empty() || e.modes.contains(&mode))
    }
}
