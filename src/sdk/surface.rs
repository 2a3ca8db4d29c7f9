//! The surface layer: what the SDK made of the endpoint's answer. A success must come back with
//! every field the endpoint sent, each with the same JSON type and value; an error must come
//! back as an error with the code, request id and (when the SDK exposes one) HTTP status the
//! endpoint sent.
use super::judge::{Layer, SdkFinding};
use super::protocol::{Outcome, SdkError};
use crate::check::{loose, Checker};
use crate::emulator::Exchange;
use crate::spec::Provider;
use serde_json::Value;

/// At most this many field findings per call: the first divergence is what matters.
const MAX_FIELD_FINDINGS: usize = 3;

/// Judge the SDK's outcome against the answer it got. `None` when the outcome is not the
/// SDK's (skipped/errored: the caller reports those).
pub fn judge(
    provider: Provider,
    action_file: &str,
    exchange: &Exchange,
    outcome: &Outcome,
) -> Vec<SdkFinding> {
    let pfile = format!("{provider}/provider.json");
    let find = |rule: String, message: String| SdkFinding {
        layer: Layer::Surface,
        rule,
        message,
    };
    let status = exchange.response.status;
    let Ok(body) = serde_json::from_slice::<Value>(&exchange.response.body) else {
        return Vec::new();
    };
    let request_id = request_id(&body);
    let answered_error = Checker::error_code(&body).map(|(_, c)| c);
    match (outcome, answered_error) {
        (Outcome::Ok { data }, Some(code)) => vec![find(
            format!("{pfile}#/envelopes/error"),
            format!(
                "error code: the endpoint answered {code} (HTTP {status}, request id {}); the SDK returned success ({})",
                request_id.as_deref().unwrap_or("none"),
                short(data)
            ),
        )],
        (Outcome::Error { error }, None) => vec![find(
            format!("{pfile}#/envelopes/success"),
            format!(
                "the endpoint answered success (HTTP {status}, request id {}); the SDK surfaced an error ({})",
                request_id.as_deref().unwrap_or("none"),
                describe(error)
            ),
        )],
        (Outcome::Error { error }, Some(code)) => {
            let mut out = Vec::new();
            if error.code.as_deref() != Some(code.as_str()) {
                out.push(find(
                    format!("{pfile}#/envelopes/error"),
                    format!(
                        "error code: the endpoint answered {code}; the SDK surfaced {}",
                        error.code.as_deref().unwrap_or("no code")
                    ),
                ));
            }
            if let Some(rid) = &request_id {
                if error.request_id.as_deref() != Some(rid.as_str()) {
                    out.push(find(
                        format!("{pfile}#/request_id"),
                        format!(
                            "request id: the endpoint answered {rid}; the SDK surfaced {}",
                            error.request_id.as_deref().unwrap_or("none")
                        ),
                    ));
                }
            }
            // `null` means the SDK exposes no status; a wrong one is a divergence.
            if let Some(got) = error.http_status.filter(|s| *s != status) {
                out.push(find(
                    format!("{pfile}#/http_status"),
                    format!("HTTP status: the endpoint answered {status}; the SDK surfaced {got}"),
                ));
            }
            out
        }
        (Outcome::Ok { data }, None) => {
            let mut out = Vec::new();
            let reference = result_of(provider, &body);
            compare(
                "",
                reference,
                data,
                &mut |pointer: &str, message: String| {
                    if out.len() < MAX_FIELD_FINDINGS {
                        out.push(find(
                            format!("{action_file}#/response/schema"),
                            format!("field {pointer}: {message}"),
                        ));
                    }
                },
            );
            out
        }
        (Outcome::Skipped { .. } | Outcome::Errored { .. }, _) => Vec::new(),
    }
}

/// The part of a success body an SDK hands back: Tencent unwraps `Response`, Alibaba's body
/// is the result itself.
fn result_of(provider: Provider, body: &Value) -> &Value {
    match provider {
        Provider::Tencent => body.get("Response").unwrap_or(body),
        Provider::Alibaba => body,
    }
}

fn request_id(body: &Value) -> Option<String> {
    ["/Response/RequestId", "/RequestId"]
        .iter()
        .find_map(|p| body.pointer(p).map(loose))
}

fn compare(pointer: &str, want: &Value, got: &Value, report: &mut dyn FnMut(&str, String)) {
    match want {
        Value::Object(fields) => {
            let Value::Object(have) = got else {
                report(
                    if pointer.is_empty() { "/" } else { pointer },
                    format!(
                        "the endpoint answered an object; the SDK returned {}",
                        kind(got)
                    ),
                );
                return;
            };
            for (k, v) in fields {
                let p = format!("{pointer}/{k}");
                match have.get(k) {
                    Some(h) => compare(&p, v, h, report),
                    None => report(
                        &p,
                        format!(
                            "the endpoint answered {}; the SDK's result has no such field",
                            short(v)
                        ),
                    ),
                }
            }
        }
        Value::Array(items) => {
            let Value::Array(have) = got else {
                report(
                    pointer,
                    format!(
                        "the endpoint answered an array; the SDK returned {}",
                        kind(got)
                    ),
                );
                return;
            };
            if have.len() != items.len() {
                report(
                    pointer,
                    format!(
                        "the endpoint answered {} item(s); the SDK returned {}",
                        items.len(),
                        have.len()
                    ),
                );
                return;
            }
            for (i, (v, h)) in items.iter().zip(have).enumerate() {
                compare(&format!("{pointer}/{i}"), v, h, report);
            }
        }
        leaf if leaf != got => report(
            pointer,
            format!(
                "the endpoint answered {} ({}); the SDK returned {} ({})",
                short(leaf),
                kind(leaf),
                short(got),
                kind(got)
            ),
        ),
        _ => {}
    }
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

fn short(v: &Value) -> String {
    let s = v.to_string();
    if s.chars().count() > 80 {
        format!("{}…", s.chars().take(80).collect::<String>())
    } else {
        s
    }
}

fn describe(e: &SdkError) -> String {
    format!(
        "code {}, message {}",
        e.code.as_deref().unwrap_or("none"),
        e.message.as_deref().unwrap_or("none")
    )
}
