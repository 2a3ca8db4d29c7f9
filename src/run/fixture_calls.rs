//! Fixture calls: the spec's documented actions (create a key pair, bind it, stop or start an
//! instance) chosen by purpose and sent as the run's own requests, answers judged by the
//! provider's error rule.
use super::bind::Bindings;
use super::exec::Endpoint;
use super::{Runner, Sent};
use crate::generate::{fixture_params, Case, Expect, Step};
use crate::spec::ActionSpec;
use serde_json::Value;
use std::collections::BTreeMap;
use std::sync::Arc;

/// The action of this service that does `purpose` to `resource`: a fixture spec, else a seed
/// whose declared effect does it (CVM DeleteKeyPairs deletes key pairs, Disassociate unbinds).
pub(super) fn fixture(
    runner: &Runner,
    case: &Case,
    purpose: &str,
    resource: &str,
) -> Option<Arc<ActionSpec>> {
    fixture_in(runner, &case.action, purpose, resource)
}

/// [`fixture`] for the service of any action.
pub(super) fn fixture_in(
    runner: &Runner,
    key: &crate::spec::ActionKey,
    purpose: &str,
    resource: &str,
) -> Option<Arc<ActionSpec>> {
    fixture_of(&runner.specs, key, purpose, resource)
}

/// [`fixture_in`] from the specs alone (the dry-run plan).
pub(super) fn fixture_of(
    specs: &crate::spec::SpecSet,
    key: &crate::spec::ActionKey,
    purpose: &str,
    resource: &str,
) -> Option<Arc<ActionSpec>> {
    let same_service = |a: &&Arc<ActionSpec>| {
        a.provider == key.provider && a.service == key.service && a.version == key.version
    };
    let effect_op = match purpose {
        "delete" => Some(crate::spec::EffectOp::Delete),
        "unbind" => Some(crate::spec::EffectOp::Unbind),
        "bind" => Some(crate::spec::EffectOp::Bind),
        "create" => Some(crate::spec::EffectOp::Create),
        _ => None,
    };
    specs
        .actions()
        .filter(same_service)
        .find(|a| {
            a.fixture
                .as_ref()
                .is_some_and(|f| f.purpose == purpose && f.resource == resource)
        })
        .or_else(|| {
            let op = effect_op?;
            specs.actions().filter(same_service).find(|a| {
                a.effects.iter().any(|e| {
                    e.op == op
                        && (e.resource.as_deref() == Some(resource)
                            || (resource == "key_pair" && e.keys.is_some()))
                })
            })
        })
        .cloned()
}

/// How a fixture error says the target answered with its own error envelope (as opposed to a
/// lost answer or a gateway fault).
const REJECTED: &str = "failed with";

/// Whether a fixture error is the target's own rejection (the call was answered).
pub(super) fn rejected(error: &str) -> bool {
    error.contains(REJECTED)
}

/// Call a fixture with the given symbols; the response body, or the error code.
pub(super) async fn call(
    runner: &Runner,
    endpoint: &Endpoint,
    spec: &ActionSpec,
    given: &BTreeMap<String, Vec<String>>,
    extra: &[(String, Value)],
    bindings: &Bindings,
) -> Result<Value, String> {
    let mut params = fixture_params(&runner.specs, &runner.derived, spec, given)
        .ok_or_else(|| format!("cannot build a {} request", spec.action))?;
    for (k, v) in extra {
        params.insert(k.clone(), v.clone());
    }
    let step = Step {
        action: spec.action.clone(),
        params,
        wire: Default::default(),
        caller: Default::default(),
        expect: Expect::Any,
    };
    let creds = runner
        .live_credentials(spec.provider)
        .ok_or_else(|| format!("no {} credentials for a live target", spec.provider))?;
    let sent = {
        let _gate = runner.control.gate.read().await;
        runner
            .send_step(spec, &step, endpoint, bindings, &creds)
            .await
    };
    match sent {
        Sent::Ok(_, resp) => {
            let body: Value = serde_json::from_slice(&resp.body).unwrap_or(Value::Null);
            if !body.is_object() {
                return Err(format!(
                    "{}: HTTP {} is not the provider's envelope; setup aborted",
                    spec.action, resp.status
                ));
            }
            if runner.checker.is_error(spec.provider, resp.status, &body) {
                let code = crate::check::Checker::error_code(&body)
                    .map(|c| c.1)
                    .unwrap_or_default();
                Err(format!("{} {REJECTED} {code}", spec.action))
            } else {
                Ok(body)
            }
        }
        Sent::Transport(e) | Sent::Build(e) => Err(format!("{}: {e}", spec.action)),
    }
}

/// [`call`] for a describe fixture, following every page its spec's `paging` describes (one
/// call when it has none): the answer of each page, in order.
pub(super) async fn call_pages(
    runner: &Runner,
    endpoint: &Endpoint,
    spec: &ActionSpec,
    given: &BTreeMap<String, Vec<String>>,
    extra: &[(String, Value)],
    bindings: &Bindings,
) -> Result<Vec<Value>, String> {
    let Some(paging) = &spec.paging else {
        return Ok(vec![
            call(runner, endpoint, spec, given, extra, bindings).await?,
        ]);
    };
    let mut pages = Vec::new();
    for n in 0..crate::spec::MAX_PAGES {
        let mut with_page = extra.to_vec();
        with_page.extend(paging.params(spec, n));
        let body = call(runner, endpoint, spec, given, &with_page, bindings).await?;
        let last = paging.is_last(spec, &body, n);
        pages.push(body);
        if last {
            break;
        }
    }
    Ok(pages)
}

pub(super) fn output<'a>(spec: &ActionSpec, body: &'a Value, hint: &str) -> Option<&'a Value> {
    spec.response
        .outputs
        .iter()
        .find(|(name, _)| name.to_ascii_lowercase().contains(hint))
        .and_then(|(_, ptr)| body.pointer(ptr))
}

pub(super) fn name_param(spec: &ActionSpec) -> Option<String> {
    spec.parameters
        .iter()
        .find(|p| {
            p.references
                .as_ref()
                .is_some_and(|r| r.resource == "key_pair" && r.by == crate::spec::RefBy::Name)
                || p.name == "KeyName"
                || p.name == "KeyPairName"
        })
        .map(|p| p.name.clone())
}
