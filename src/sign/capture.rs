//! Wire-capture records (`captures.jsonl`) and their reference intermediates
//! (`verification.jsonl`) as typed values: the verifier's CLI and the emulator's replay both read
//! them. The request is rebuilt from `body_b64` (exact bytes), never from the `body` text.
use super::Provider;
use crate::http::RawRequest;
use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine;
use serde::Deserialize;

/// One captured SDK request.
#[derive(Debug, Clone, PartialEq)]
pub struct CaptureRecord {
    pub seq: u64,
    pub label: String,
    /// What the capture endpoint answered (`ok`, `error`, …).
    pub mode: String,
    /// Capture time, Unix seconds (fractional).
    pub ts: f64,
    /// `tencent`, `aliyun-ecs` or `aliyun-ens`.
    pub family: String,
    pub action: Option<String>,
    pub version: Option<String>,
    pub request: RawRequest,
}

impl CaptureRecord {
    /// The provider whose rules verify this record, from its `family`.
    pub fn provider(&self) -> Option<Provider> {
        match self.family.as_str() {
            "tencent" => Some(Provider::Tencent),
            f if f.starts_with("aliyun") => Some(Provider::Alibaba),
            _ => None,
        }
    }

    /// The capture time as whole Unix seconds: "now" when replaying.
    pub fn now(&self) -> i64 {
        self.ts.floor() as i64
    }
}

/// The intermediates an independent implementation computed for a capture.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct ReferenceRecord {
    pub seq: u64,
    #[serde(default)]
    pub label: String,
    #[serde(default)]
    pub scheme: String,
    #[serde(default)]
    pub canonical_request: Option<String>,
    #[serde(default)]
    pub canonicalized_query_string: Option<String>,
    #[serde(default)]
    pub string_to_sign: Option<String>,
    #[serde(default)]
    pub signature: Option<String>,
}

/// A line that is not a valid record. `line` is 1-based.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("line {line}: {reason}")]
pub struct CaptureError {
    pub line: usize,
    pub reason: String,
}

#[derive(Deserialize)]
struct WireRecord {
    seq: u64,
    #[serde(default)]
    label: String,
    #[serde(default)]
    mode: String,
    ts: f64,
    #[serde(default)]
    family: String,
    action: Option<String>,
    version: Option<String>,
    method: String,
    path: String,
    #[serde(default)]
    raw_query: String,
    headers: Vec<(String, String)>,
    #[serde(default)]
    body: Option<String>,
    #[serde(default)]
    body_b64: Option<String>,
}

/// Parse one `captures.jsonl` line.
pub fn parse_capture(line: &str) -> Result<CaptureRecord, String> {
    let wire: WireRecord = serde_json::from_str(line).map_err(|e| e.to_string())?;
    let body = match (&wire.body_b64, &wire.body) {
        (Some(b64), _) => BASE64
            .decode(b64.as_bytes())
            .map_err(|e| format!("body_b64 is not Base64: {e}"))?,
        (None, Some(text)) => text.clone().into_bytes(),
        (None, None) => Vec::new(),
    };
    Ok(CaptureRecord {
        seq: wire.seq,
        label: wire.label,
        mode: wire.mode,
        ts: wire.ts,
        family: wire.family,
        action: wire.action,
        version: wire.version,
        request: RawRequest {
            method: wire.method,
            path: wire.path,
            raw_query: wire.raw_query,
            headers: wire.headers,
            body,
        },
    })
}

/// Parse a whole JSON-lines document; blank lines are skipped, the first bad line fails.
pub fn parse_captures(text: &str) -> Result<Vec<CaptureRecord>, CaptureError> {
    parse_lines(text, parse_capture)
}

/// Parse a `verification.jsonl` document.
pub fn parse_references(text: &str) -> Result<Vec<ReferenceRecord>, CaptureError> {
    parse_lines(text, |line| {
        serde_json::from_str(line).map_err(|e| e.to_string())
    })
}

fn parse_lines<T>(
    text: &str,
    parse: impl Fn(&str) -> Result<T, String>,
) -> Result<Vec<T>, CaptureError> {
    text.lines()
        .enumerate()
        .filter(|(_, line)| !line.trim().is_empty())
        .map(|(index, line)| {
            parse(line).map_err(|reason| CaptureError {
                line: index + 1,
                reason,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_a_record_and_decodes_the_body() {
        let line = r#"{"seq": 7, "label": "x", "mode": "ok", "ts": 1795361616.9, "family": "aliyun-ecs", "action": "A", "version": "V", "method": "POST", "path": "/", "raw_query": "a=1", "headers": [["Host", "h"]], "body": "ignored", "body_b64": "e30="}"#;
        let record = parse_capture(line).unwrap();
        assert_eq!(record.request.body, b"{}");
        assert_eq!(record.request.host(), Some("h"));
        assert_eq!(record.provider(), Some(Provider::Alibaba));
        assert_eq!(record.now(), 1795361616);
    }

    #[test]
    fn reports_the_failing_line() {
        let text = "\n{\"seq\": 1}\n";
        let error = parse_captures(text).unwrap_err();
        assert_eq!(error.line, 2);
        let bad_b64 = r#"{"seq":1,"ts":1,"method":"GET","path":"/","headers":[],"body_b64":"%%"}"#;
        assert!(parse_capture(bad_b64).unwrap_err().contains("Base64"));
    }
}
