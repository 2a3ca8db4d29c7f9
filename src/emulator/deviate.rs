//! Serving deviations (`crate::deviate`): the emulator's own behaviour, bent in exactly one
//! documented place. Three hooks keep this out of the request path's logic: the settings a
//! request runs under, the decoded parameters before validation, and the finished answer.
use super::Shared;
use crate::deviate::{Deviation, Op};
use crate::http::RawResponse;
use crate::spec::{ActionSpec, Provider};
use crate::wire::decode::WireParams;
use serde_json::Value;

fn active<'a>(shared: &'a Shared, action: &'a ActionSpec) -> impl Iterator<Item = &'a Op> + 'a {
    shared
        .config
        .deviations
        .iter()
        .filter(move |d| d.applies_to(action))
        .map(|d: &Deviation| &d.op)
}

/// The settings a request to `action` runs under.
pub(crate) fn settings(
    shared: &Shared,
    action: &ActionSpec,
    mut settings: super::Settings,
) -> super::Settings {
    for op in active(shared, action) {
        match op {
            Op::SignatureUnchecked => settings.auth.verify_signatures = false,
            Op::NonceReplayAllowed => settings.auth.check_nonces = false,
            Op::RateLimitUnenforced => settings.rate_limits = false,
            _ => {}
        }
    }
    settings
}

/// The parameters as the deviant service reads them (before validation).
pub(crate) fn parameters(shared: &Shared, action: &ActionSpec, params: &mut WireParams) {
    for op in active(shared, action) {
        match op {
            // Reads only the first `max` items, so one more is not an error.
            Op::AcceptOverLimit { parameter, max }
                if list_len(params, parameter).is_some_and(|n| n > *max) =>
            {
                resize(params, parameter, *max)
            }
            // Counts one item too many, so exactly `max` is an error.
            Op::RejectAtLimit { parameter, max } if list_len(params, parameter) == Some(*max) => {
                resize(params, parameter, max + 1)
            }
            _ => {}
        }
    }
}

/// The answer as the deviant service sends it.
pub(crate) fn response(shared: &Shared, action: Option<&ActionSpec>, resp: &mut RawResponse) {
    let Some(action) = action else { return };
    let ops: Vec<&Op> = active(shared, action).collect();
    if ops.is_empty() {
        return;
    }
    let Ok(mut body) = serde_json::from_slice::<Value>(&resp.body) else {
        return;
    };
    let tencent = action.provider == Provider::Tencent;
    let error_code = if tencent {
        body.pointer("/Response/Error/Code")
    } else {
        body.get("Code").filter(|_| resp.status >= 400)
    }
    .and_then(Value::as_str)
    .map(str::to_string);
    for op in ops {
        match op {
            Op::SiblingCode { code, sibling } if error_code.as_deref() == Some(code) => {
                let at = if tencent {
                    body.pointer_mut("/Response/Error/Code")
                } else {
                    body.get_mut("Code")
                };
                if let Some(v) = at {
                    *v = Value::from(sibling.as_str());
                }
            }
            Op::WrongStatus { code, status } if error_code.as_deref() == Some(code) => {
                resp.status = *status;
            }
            Op::OtherStatusRule { status } if error_code.is_some() => resp.status = *status,
            Op::DropField { field } if error_code.is_none() => {
                if let Some(m) = members(&mut body, tencent) {
                    m.remove(field);
                }
            }
            Op::WrongType { field } if error_code.is_none() => {
                if let Some(v) = members(&mut body, tencent).and_then(|m| m.get_mut(field)) {
                    *v = wrong_type(v);
                }
            }
            Op::RequestIdFormat => {
                if let Some(v) = members(&mut body, tencent).and_then(|m| m.get_mut("RequestId")) {
                    // The same randomness without the documented dashes and casing.
                    let id = v.as_str().unwrap_or_default().replace('-', "");
                    *v = Value::from(format!("req_{id}"));
                }
            }
            Op::MissingHostId if error_code.is_some() => {
                if let Some(m) = body.as_object_mut() {
                    m.remove("HostId");
                }
            }
            Op::MissingWrapper => {
                if let Some(inner) = body.get("Response").cloned() {
                    body = inner;
                }
            }
            Op::ContentType { value } => {
                for (k, v) in resp.headers.iter_mut() {
                    if k.eq_ignore_ascii_case("content-type") {
                        v.clone_from(value);
                    }
                }
            }
            _ => {}
        }
    }
    resp.body = serde_json::to_vec(&body).expect("JSON values always serialize");
}

/// Where the answer's members live (inside Tencent's `Response`).
fn members(body: &mut Value, tencent: bool) -> Option<&mut serde_json::Map<String, Value>> {
    if tencent {
        body.get_mut("Response")?.as_object_mut()
    } else {
        body.as_object_mut()
    }
}

/// A value of another JSON type carrying the same information where it can.
fn wrong_type(v: &Value) -> Value {
    match v {
        Value::String(s) => s
            .parse::<i64>()
            .map(Value::from)
            .unwrap_or(Value::Bool(!s.is_empty())),
        Value::Number(n) => Value::from(n.to_string()),
        Value::Bool(b) => Value::from(b.to_string()),
        Value::Array(a) => Value::from(a.len()),
        Value::Object(_) => Value::from(v.to_string()),
        Value::Null => Value::from(0),
    }
}

/// How many items a list parameter carries, in whichever encoding it was sent.
fn list_len(params: &WireParams, name: &str) -> Option<usize> {
    match params {
        WireParams::Json(m) => m
            .iter()
            .rev()
            .find(|(k, _)| k == name)
            .and_then(|(_, v)| json_list(v).map(|a| a.len())),
        WireParams::Text(p) => {
            if let Some((_, v)) = p.iter().rev().find(|(k, _)| k == name) {
                return json_list(&Value::from(v.as_str())).map(|a| a.len());
            }
            let n = indexes(p, name).len();
            (n > 0).then_some(n)
        }
    }
}

/// A JSON array, or a string holding one (Alibaba's JSON-encoded list parameters).
fn json_list(v: &Value) -> Option<Vec<Value>> {
    match v {
        Value::Array(a) => Some(a.clone()),
        Value::String(s) => serde_json::from_str::<Vec<Value>>(s).ok(),
        _ => None,
    }
}

/// The distinct `name.N` indexes sent, in order.
fn indexes(pairs: &[(String, String)], name: &str) -> Vec<usize> {
    let mut out: Vec<usize> = pairs
        .iter()
        .filter_map(|(k, _)| k.strip_prefix(name)?.strip_prefix('.')?.parse().ok())
        .collect();
    out.sort_unstable();
    out.dedup();
    out
}

fn resized(mut items: Vec<Value>, n: usize) -> Vec<Value> {
    if items.is_empty() {
        return items;
    }
    while items.len() < n {
        let last = items[items.len() - 1].clone();
        items.push(last);
    }
    items.truncate(n);
    items
}

/// Truncate the list to `n` items, or pad it by repeating the last one.
fn resize(params: &mut WireParams, name: &str, n: usize) {
    match params {
        WireParams::Json(m) => {
            for (k, v) in m.iter_mut().filter(|(k, _)| k == name) {
                let _ = k;
                if let Some(items) = json_list(v) {
                    let items = Value::Array(resized(items, n));
                    *v = if v.is_string() {
                        Value::from(items.to_string())
                    } else {
                        items
                    };
                }
            }
        }
        WireParams::Text(p) => {
            if p.iter().any(|(k, _)| k == name) {
                for (_, v) in p.iter_mut().filter(|(k, _)| k == name) {
                    if let Some(items) = json_list(&Value::from(v.as_str())) {
                        *v = Value::Array(resized(items, n)).to_string();
                    }
                }
                return;
            }
            let idx = indexes(p, name);
            let index_of = |k: &str| -> Option<usize> {
                k.strip_prefix(name)?.strip_prefix('.')?.parse().ok()
            };
            if idx.len() > n {
                let keep: Vec<usize> = idx[..n].to_vec();
                p.retain(|(k, _)| index_of(k).is_none_or(|i| keep.contains(&i)));
            } else if let Some(&last) = idx.last() {
                let value = p
                    .iter()
                    .find(|(k, _)| index_of(k) == Some(last))
                    .map(|(_, v)| v.clone())
                    .unwrap_or_default();
                for extra in 0..n - idx.len() {
                    p.push((format!("{name}.{}", last + 1 + extra), value.clone()));
                }
            }
        }
    }
}
