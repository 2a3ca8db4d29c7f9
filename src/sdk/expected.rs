//! Expected-failure lists per SDK (`adapters/expected-failures/<sdk>.json`, schema beside
//! them): calls an SDK is known to get wrong, each with the SDK behaviour it comes from and the
//! evidence. A listed call that fails in the listed layer is an expected failure; a listed call
//! that passes is stale and fails the run.
use super::judge::Layer;
use serde::{Deserialize, Serialize};
use std::path::Path;

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Entry {
    /// A case id, or a prefix ending in `*`.
    pub case: String,
    /// `style/signing`, or absent for every method.
    #[serde(default)]
    pub method: Option<String>,
    /// The layer the failure is in.
    pub layer: Layer,
    /// What the SDK does that makes the call fail.
    pub behaviour: String,
    /// Where that behaviour is documented or observed (captures README section, seq numbers).
    pub evidence: String,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SdkExpected {
    #[serde(default, rename = "$schema", skip_serializing_if = "Option::is_none")]
    pub schema: Option<String>,
    pub sdk: String,
    #[serde(default)]
    pub failures: Vec<Entry>,
}

/// The file name for an SDK (`@alicloud/ecs20140526` → `_alicloud_ecs20140526.json`).
pub fn file_name(sdk: &str) -> String {
    let stem: String = sdk
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '.' {
                c
            } else {
                '_'
            }
        })
        .collect();
    format!("{stem}.json")
}

impl SdkExpected {
    /// Load the list for `sdk` from `dir`; a missing file is an empty list.
    pub fn load(dir: &Path, sdk: &str) -> Result<SdkExpected, String> {
        let path = dir.join(file_name(sdk));
        let Ok(text) = std::fs::read_to_string(&path) else {
            return Ok(SdkExpected {
                sdk: sdk.to_string(),
                ..Default::default()
            });
        };
        let list: SdkExpected =
            serde_json::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))?;
        if list.sdk != sdk {
            return Err(format!(
                "{}: the list is for `{}`, the adapter is `{sdk}`; fix the `sdk` field",
                path.display(),
                list.sdk
            ));
        }
        Ok(list)
    }

    /// The entry covering this call, if any.
    pub fn entry(&self, case_id: &str, method: &str) -> Option<&Entry> {
        self.failures.iter().find(|e| {
            let case_ok = match e.case.strip_suffix('*') {
                Some(prefix) => case_id.starts_with(prefix),
                None => e.case == case_id,
            };
            case_ok && e.method.as_deref().is_none_or(|m| m == method)
        })
    }
}
