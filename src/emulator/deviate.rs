//! Serving deviations (`crate::deviate`): the emulator's own behaviour, bent in exactly one
//! documented place. Hooks keep this out of the request path's logic: the action's rules as
//! the deviant reads them, the settings a request runs under, the decoded parameters before
//! validation, the validation verdict, the effects applied, and the finished answer.
use super::route::Routed;
use super::semantics::{self, Applied, Call, ItemFailures};
use super::validate::{Params, Violation};
use super::world::World;
use super::Shared;
use crate::deviate::{Deviation, Op};
use crate::http::{RawRequest, RawResponse};
use crate::spec::{ActionSpec, EffectOp, Provider, RefBy, Scope, Violation as V};
use crate::wire::decode::WireParams;
use serde_json::Value;
use std::sync::Arc;

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
            Op::SkewUnchecked => settings.auth.check_skew = false,
            Op::CommonOptional { parameter, header } => {
                settings.auth.may_omit.push(parameter.clone());
                settings.auth.may_omit.extend(header.iter().cloned());
            }
            _ => {}
        }
    }
    settings
}

/// The action and version a request names, as a deviant that does without them reads it: a
/// request without `Action` is for the deviating action, one of it without `Version` for its
/// version.
pub(crate) fn routed(shared: &Shared, pspec: &crate::spec::ProviderSpec, routed: &mut Routed) {
    for d in shared
        .config
        .deviations
        .iter()
        .filter(|d| d.provider == pspec.provider)
    {
        let Op::CommonOptional { parameter, .. } = &d.op else {
            continue;
        };
        match parameter.as_str() {
            "Action" if routed.action.is_none() => routed.action = Some(d.action.clone()),
            "Version" if routed.version.is_none() && routed.action.as_ref() == Some(&d.action) => {
                routed.version = Some(d.version.clone())
            }
            _ => {}
        }
    }
}

/// A documented-optional common parameter the deviant demands, when the request could carry
/// it (a header under header signing, a parameter under v1/RPC signing) and does not.
pub(crate) fn demanded(
    shared: &Shared,
    action: &ActionSpec,
    request: &RawRequest,
) -> Option<Violation> {
    let mut params = None;
    for op in active(shared, action) {
        let Op::CommonRequired { parameter, header } = op else {
            continue;
        };
        let header_signed = request.header("authorization").is_some();
        let sent = if header_signed {
            match header {
                Some(h) => request.header(h).is_some(),
                None => continue,
            }
        } else {
            if header.as_deref() == Some(parameter.as_str()) {
                continue;
            }
            params
                .get_or_insert_with(|| crate::sign::encoding::query_and_form_params(request))
                .iter()
                .any(|(n, _)| n == parameter.as_bytes())
        };
        if !sent {
            return Some(Violation::parameter(
                parameter,
                V::Missing,
                format!("The common parameter `{parameter}` is missing."),
            ));
        }
    }
    None
}

/// The action's rules as the deviant service applies them: a rule it does not check is
/// simply absent (a format, a minimum, a precondition, an effect, a one-of bound, the region
/// rule), one it over-applies is widened.
pub(crate) fn action(shared: &Shared, action: Arc<ActionSpec>) -> Arc<ActionSpec> {
    let ops: Vec<Op> = active(shared, &action).cloned().collect();
    if ops.is_empty() {
        return action;
    }
    let mut a = (*action).clone();
    for op in &ops {
        match op {
            Op::AcceptMalformed { parameter } => {
                if let Some(p) = a.parameters.iter_mut().find(|p| &p.name == parameter) {
                    p.format = None;
                    if let Some(items) = p.items.as_mut() {
                        items.format = None;
                    }
                }
            }
            Op::AcceptUnderMinimum { parameter, .. } => {
                if let Some(p) = a.parameters.iter_mut().find(|p| &p.name == parameter) {
                    p.min_items = None;
                }
            }
            Op::SkipPrecondition { precondition } => {
                a.preconditions.retain(|p| &p.id != precondition)
            }
            Op::IgnoreUnless { precondition } => {
                if let Some(p) = a.preconditions.iter_mut().find(|p| &p.id == precondition) {
                    p.unless = None;
                }
            }
            Op::WholeRequest { precondition } => {
                if let Some(p) = a.preconditions.iter_mut().find(|p| &p.id == precondition) {
                    p.scope = Scope::Request;
                }
            }
            // A restore that is not applied leaves the instances stopped: `apply_effects`.
            Op::EffectNotApplied { effect } => a
                .effects
                .retain(|e| &e.id != effect || e.op == EffectOp::RestoreState),
            Op::OneOfNoneAccepted { group } => {
                if let Some(g) = a.one_of.iter_mut().find(|g| &g.id == group) {
                    g.at_least = 0;
                }
            }
            Op::OneOfSeveralAccepted { group } => {
                if let Some(g) = a.one_of.iter_mut().find(|g| &g.id == group) {
                    g.at_most = None;
                }
            }
            Op::RegionOptional => {
                a.region.required = false;
                let name = a.region.parameter.clone();
                if let Some(p) = a
                    .parameters
                    .iter_mut()
                    .find(|p| Some(&p.name) == name.as_ref())
                {
                    p.required = false;
                }
            }
            Op::RegionRequired => a.region.required = true,
            _ => {}
        }
    }
    Arc::new(a)
}

/// The validation verdict as the deviant service reaches it: a well-formed value refused.
pub(crate) fn violation(
    shared: &Shared,
    action: &ActionSpec,
    params: &Params,
    found: &mut Option<Violation>,
) {
    if found.is_some() {
        return;
    }
    for op in active(shared, action) {
        if let Op::RejectWellFormed { parameter } = op {
            if params.contains_key(parameter) {
                *found = Some(Violation::parameter(
                    parameter,
                    V::Format,
                    format!("The value of `{parameter}` is malformed."),
                ));
                return;
            }
        }
    }
}

/// The effects as the deviant service applies them: one effect on the first item only, or on
/// other resources of the kind than the ones named; the rest as documented.
pub(crate) fn apply_effects(
    shared: &Shared,
    call: &Call,
    world: &mut World,
    failures: &ItemFailures,
    new_id: &mut dyn FnMut(&str, &World) -> String,
) -> Applied {
    let restore_list = |effect: &str| {
        call.action
            .effects
            .iter()
            .find(|e| e.id == effect && e.op == EffectOp::RestoreState)
            .and_then(|e| e.instances.as_ref().or(e.target.as_ref()))
            .and_then(|s| s.parameter())
            .map(str::to_string)
    };
    let bent = active(shared, call.action).find_map(|op| match op {
        Op::EffectPartly { effect, parameter } => Some((effect, parameter.clone(), Bent::Partly)),
        Op::EffectWrongResource { effect, parameter } => {
            Some((effect, parameter.clone(), Bent::Elsewhere))
        }
        Op::EffectNotApplied { effect } => restore_list(effect).map(|p| (effect, p, Bent::Nowhere)),
        _ => None,
    });
    let Some((effect, parameter, how)) = bent else {
        return semantics::apply_effects(call, world, failures, new_id);
    };
    let parameter = &parameter;
    // The documented effects but the bent one, then the bent one on other values.
    let mut rest = call.action.clone();
    rest.effects.retain(|e| &e.id != effect);
    let mut only = call.action.clone();
    only.effects.retain(|e| &e.id == effect);
    let with = |action, params| Call {
        provider: call.provider,
        action,
        params,
        region: call.region,
        caller_allowed: call.caller_allowed,
        service: call.service.clone(),
    };
    let mut applied = semantics::apply_effects(&with(&rest, call.params), world, failures, new_id);
    let named = semantics::values(call.params, parameter);
    let values: Vec<String> = match how {
        Bent::Elsewhere => others(call, world, parameter, &named),
        Bent::Partly => named.iter().take(1).cloned().collect(),
        Bent::Nowhere => Vec::new(),
    };
    // The service stopped the instances it should restart: those it does not restart stay
    // stopped (the emulator models the stop and the restart as one step).
    let when_holds = only
        .effects
        .iter()
        .any(|e| e.op == EffectOp::RestoreState && e.when.as_ref().is_none_or(|c| holds(call, c)));
    if when_holds {
        let stopped = call
            .provider
            .resources
            .get("instance")
            .and_then(|r| r.states.iter().find(|s| s.eq_ignore_ascii_case("stopped")))
            .cloned();
        if let Some(stopped) = stopped {
            let svc = world.service_mut(&call.service);
            for inst in svc
                .instances
                .iter_mut()
                .filter(|i| named.contains(&i.id) && !values.contains(&i.id))
            {
                inst.state.clone_from(&stopped);
            }
        }
    }
    let mut params = call.params.clone();
    let list = values.into_iter().map(Value::from).collect::<Vec<_>>();
    let value = match params.get(parameter.as_str()) {
        Some(Value::Array(_)) => Value::Array(list),
        _ => list.into_iter().next().unwrap_or(Value::Null),
    };
    params.insert(parameter.clone(), value);
    let more = semantics::apply_effects(&with(&only, &params), world, failures, new_id);
    applied.created.extend(more.created);
    applied.state_changes.extend(more.state_changes);
    applied
}

/// How a bent effect misses its resources.
#[derive(Clone, Copy)]
enum Bent {
    /// Applied to the first item only.
    Partly,
    /// Applied to other resources of the kind.
    Elsewhere,
    /// Not applied (only reaches here for a restore, which then leaves instances stopped).
    Nowhere,
}

fn holds(call: &Call, c: &crate::spec::Condition) -> bool {
    call.params
        .get(&c.parameter)
        .is_some_and(|v| super::validate::loose_eq(v, &c.equals))
}

/// As many resources of the kind `parameter` references as it names, none of them named.
fn others(call: &Call, world: &World, parameter: &str, named: &[String]) -> Vec<String> {
    let Some(r) = call
        .action
        .parameter(parameter)
        .and_then(|p| p.references.as_ref())
    else {
        return Vec::new();
    };
    let Some(svc) = world.service(&call.service) else {
        return Vec::new();
    };
    let candidates: Vec<String> = match r.resource.as_str() {
        "instance" => svc.instances.iter().map(|i| i.id.clone()).collect(),
        "key_pair" => svc
            .key_pairs
            .iter()
            .map(|k| match r.by {
                RefBy::Id => k.id.clone(),
                RefBy::Name => k.name.clone(),
            })
            .collect(),
        "image" => svc.images.iter().map(|i| i.id.clone()).collect(),
        _ => Vec::new(),
    };
    candidates
        .into_iter()
        .filter(|c| !named.contains(c))
        .take(named.len())
        .collect()
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
            Op::RenameField { field, to } if error_code.is_none() => {
                if let Some(m) = members(&mut body, tencent) {
                    if let Some(v) = m.remove(field) {
                        m.insert(to.clone(), v);
                    }
                }
            }
            Op::TotalCountsSucceeded { pointer } if error_code.is_none() => {
                let failed = failed_items(action, &body);
                if let Some(v) = body.pointer_mut(pointer) {
                    *v = count_like(v, count_of(v).saturating_sub(failed));
                }
            }
            Op::FailedCountZero { pointer } if error_code.is_none() => {
                if let Some(v) = body.pointer_mut(pointer) {
                    *v = count_like(v, 0);
                }
            }
            Op::FailedItemsMissing { pointer } if error_code.is_none() => {
                let ok = success_code(action);
                if let Some(Value::Array(items)) = body.pointer_mut(pointer) {
                    items.retain(|i| i.get("Code").map(text) == ok);
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

fn text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// The per-item code of success, as text.
fn success_code(action: &ActionSpec) -> Option<String> {
    action
        .response
        .batch
        .as_ref()
        .map(|b| text(&b.success_code))
}

/// How many per-item results of the answer failed.
fn failed_items(action: &ActionSpec, body: &Value) -> usize {
    let Some(batch) = &action.response.batch else {
        return 0;
    };
    let ok = success_code(action);
    body.pointer(&batch.items)
        .and_then(Value::as_array)
        .map(|items| {
            items
                .iter()
                .filter(|i| i.get("Code").map(text) != ok)
                .count()
        })
        .unwrap_or(0)
}

fn count_of(v: &Value) -> usize {
    text(v).parse().unwrap_or(0)
}

/// `n` in the JSON type the count was sent in (ECS sends counts as strings).
fn count_like(v: &Value, n: usize) -> Value {
    match v {
        Value::String(_) => Value::from(n.to_string()),
        _ => Value::from(n),
    }
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
