//! `--record` and `cloudconform parity`: each live case's exchanges, already redacted (see
//! `record`), stored as `<dir>/<provider>/<region>/<case id with / as __>.json` with their
//! provenance; and the comparison of the emulator's answer to the same case with the recorded
//! live one, saying for each difference which side would have to change.
use super::{CaseResult, Exchange};
use crate::check::{Checker, Verdict};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::path::{Path, PathBuf};

/// Where and when an exchange was recorded.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Provenance {
    pub date: String,
    pub target: String,
    pub region: String,
    /// `provider/service/version/Action` of the case's spec.
    pub spec: String,
    pub harness_version: String,
}

/// One recorded case: what was sent and received, and how the run judged it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Recorded {
    pub provenance: Provenance,
    pub case: String,
    /// `pass`, `fail`, `divergence` or `inconclusive`.
    pub verdict: String,
    pub exchanges: Vec<Value>,
}

fn verdict_name(v: &Verdict) -> &'static str {
    match v {
        Verdict::Pass => "pass",
        Verdict::Fail { .. } => "fail",
        Verdict::Divergence { .. } => "divergence",
        Verdict::Inconclusive { .. } => "inconclusive",
    }
}

/// The file a case is recorded in.
pub fn path_for(dir: &Path, case_id: &str, region: &str) -> PathBuf {
    let provider = case_id.split('/').next().unwrap_or("unknown");
    dir.join(provider)
        .join(region)
        .join(format!("{}.json", case_id.replace('/', "__")))
}

/// Store every result that has exchanges; the number of files written.
pub fn write(
    dir: &Path,
    target: &str,
    region_of: &dyn Fn(&str) -> String,
    date: &str,
    results: &[CaseResult],
) -> std::io::Result<usize> {
    let mut n = 0;
    for r in results.iter().filter(|r| !r.exchanges.is_empty()) {
        let region = region_of(&r.id);
        let rec = Recorded {
            provenance: Provenance {
                date: date.to_string(),
                target: target.to_string(),
                region: region.clone(),
                spec: r.action.clone(),
                harness_version: env!("CARGO_PKG_VERSION").to_string(),
            },
            case: r.id.clone(),
            verdict: verdict_name(&r.verdict).to_string(),
            exchanges: r
                .exchanges
                .iter()
                .map(|e| serde_json::to_value(e).unwrap_or(Value::Null))
                .collect(),
        };
        let path = path_for(dir, &r.id, &region);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)?;
        }
        let text = serde_json::to_string_pretty(&rec).map_err(std::io::Error::other)?;
        std::fs::write(path, text)?;
        n += 1;
    }
    Ok(n)
}

/// Every recorded case under `dir`.
pub fn load(dir: &Path) -> Result<Vec<Recorded>, String> {
    let mut out: Vec<Recorded> = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let entries =
            std::fs::read_dir(&d).map_err(|e| format!("cannot read {}: {e}", d.display()))?;
        for e in entries.flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else if p.extension().is_some_and(|x| x == "json") {
                let text = std::fs::read_to_string(&p)
                    .map_err(|e| format!("cannot read {}: {e}", p.display()))?;
                out.push(
                    serde_json::from_str(&text)
                        .map_err(|e| format!("{}: not a recorded case: {e}", p.display()))?,
                );
            }
        }
    }
    out.sort_by(|a, b| a.case.cmp(&b.case));
    Ok(out)
}

/// What an answer amounts to for parity: HTTP status and error code (`-` for a success).
pub fn outcome(status: u16, body: &str) -> (u16, String) {
    let code = serde_json::from_str::<Value>(body)
        .ok()
        .and_then(|b| Checker::error_code(&b).map(|(_, c)| c))
        .unwrap_or_else(|| "-".into());
    (status, code)
}

/// The last answer of a recorded case, as (status, code).
pub fn recorded_outcome(rec: &Recorded) -> Option<(u16, String)> {
    let last = rec.exchanges.iter().rev().find_map(|e| e.get("response"))?;
    Some(outcome(
        last.get("status")?.as_u64()? as u16,
        last.get("body")?.as_str()?,
    ))
}

/// The last answer of a fresh result, as (status, code).
pub fn result_outcome(r: &CaseResult) -> Option<(u16, String)> {
    let last: &Exchange = r.exchanges.iter().rev().find(|e| e.response.is_some())?;
    let resp = last.response.as_ref()?;
    Some(outcome(resp.status, &resp.body))
}

/// Which side a difference asks to change: the recorded live verdict says whether the cloud
/// answered as the docs say.
pub fn who_changes(recorded_verdict: &str) -> &'static str {
    match recorded_verdict {
        "pass" => "the emulator (the live answer matches the docs)",
        "fail" => "the docs/specs (the live answer contradicts them), or the cloud is wrong",
        _ => "undecided (the live case was inconclusive)",
    }
}
