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

    pub fn reason(&self, id: &str) -> Option<&str> {
        self.entries
            .iter()
            .find(|e| e.id == id)
            .map(|e| e.reason.as_str())
    }
}
