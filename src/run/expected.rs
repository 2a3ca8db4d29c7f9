//! Expected-failure lists (`cases/expected-failures/<target>.json`, schema beside them): cases a
//! target is known to fail, each with a reason. A listed case that fails is reported as an
//! expected failure; a listed case that passes is stale and fails the run.
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::Path;

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExpectedFailure {
    /// A case id, or a prefix ending in `*`.
    pub case: String,
    /// Why the target fails it (a link to an issue, a known provider quirk).
    pub reason: String,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExpectedFailures {
    #[serde(default, rename = "$schema", skip_serializing_if = "Option::is_none")]
    pub schema: Option<String>,
    pub target: String,
    #[serde(default)]
    pub failures: Vec<ExpectedFailure>,
}

impl ExpectedFailures {
    /// Load `dir/<target>.json`; a missing file is an empty list.
    pub fn load(dir: &Path, target: &str) -> Result<ExpectedFailures, String> {
        let path = dir.join(format!("{}.json", file_stem(target)));
        match std::fs::read_to_string(&path) {
            Err(_) => Ok(ExpectedFailures {
                target: target.to_string(),
                ..Default::default()
            }),
            Ok(text) => serde_json::from_str(&text)
                .map_err(|e| format!("expected-failures/{}.json: {e}", file_stem(target))),
        }
    }

    /// The reason a case is expected to fail, if it is listed.
    pub fn reason(&self, case_id: &str) -> Option<&str> {
        self.failures
            .iter()
            .find(|f| match f.case.strip_suffix('*') {
                Some(prefix) => case_id.starts_with(prefix),
                None => f.case == case_id,
            })
            .map(|f| f.reason.as_str())
    }

    pub fn by_case(&self) -> BTreeMap<&str, &str> {
        self.failures
            .iter()
            .map(|f| (f.case.as_str(), f.reason.as_str()))
            .collect()
    }
}

/// `emulator`, or a URL's host with unsafe characters replaced.
pub fn file_stem(target: &str) -> String {
    let t = target
        .trim_start_matches("http://")
        .trim_start_matches("https://")
        .trim_end_matches('/');
    t.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '.' {
                c
            } else {
                '_'
            }
        })
        .collect()
}
