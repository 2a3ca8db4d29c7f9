//! Running one step of a case: send it, record the exchange, check the answer against the
//! step's expectation, bind what it captures for later steps, and observe each declared effect
//! (through the spec's describe action, or the emulator's world where no API shows it).
use super::bind::{Bindings, Bound};
use super::exec::Endpoint;
use super::{control_world, CaseResult, Exchange, RequestRecord, ResponseRecord, Runner, Sent};
use crate::check::{Checker, Finding};
use crate::generate::{Case, Expect, Step};
use crate::sign::Credentials;
use crate::spec::{ActionSpec, Observe};
use serde_json::Value;
use std::collections::BTreeMap;

impl Runner {
    /// Send one step (with its fault, retries and replay), check it and its effects.
    pub(super) async fn run_step(
        &self,
        case: &Case,
        n: usize,
        step: &Step,
        endpoint: &Endpoint,
        bindings: &mut Bindings,
        result: &mut CaseResult,
    ) -> Result<Vec<Finding>, String> {
        let action = self
            .step_action(case, step)
            .ok_or_else(|| format!("no spec for step action {}", step.action))?;
        let accounts = control_world::accounts(self, endpoint).await;
        let creds = self.credentials_for(case.action.provider, step.caller, &accounts);
        let sent = {
            let _gate = self.control.gate.read().await;
            self.send_step(&action, step, endpoint, bindings, &creds)
                .await
        };
        let (req, resp) = match sent {
            Sent::Ok(req, resp) => (req, resp),
            Sent::Transport(e) => return Err(e),
            Sent::Build(e) => return Err(format!("could not build the request: {e}")),
        };
        result.exchanges.push(Exchange {
            step: n,
            action: step.action.clone(),
            request: RequestRecord::scrubbed(&req),
            response: Some(ResponseRecord::of(&resp)),
        });
        let resp = &*result.last_response.insert(resp);
        // The body is parsed once, for the checks and the captures alike.
        let parsed = serde_json::from_slice::<Value>(&resp.body);
        let mut findings =
            self.checker
                .check_parsed(&action, &step.expect, resp, parsed.as_ref(), bindings);
        let body = parsed.as_ref().unwrap_or(&Value::Null);
        // An error the expectation also allows (`or_error`) has no effects to observe.
        let answered_error = self.checker.is_error(action.provider, resp.status, body);
        if findings.is_empty() && !answered_error {
            if let Expect::Success {
                effects, capture, ..
            } = &step.expect
            {
                // `k1` captures an id, `k1.name` a name: both bind the symbol for later steps
                // (and for effect checks), like a world object.
                for (sym, pointer) in capture {
                    let Some(v) = pointer.as_str().and_then(|p| body.pointer(p)) else {
                        return Ok(vec![Finding {
                            evidence: Default::default(),
                            source: String::new(),
                            rule: format!("{}#{}", case.id, "/steps"),
                            location: pointer.as_str().unwrap_or_default().to_string(),
                            message: format!("nothing to capture as {sym}"),
                        }]);
                    };
                    let v = crate::check::loose(v);
                    let (base, is_name) = match sym.strip_suffix(".name") {
                        Some(b) => (b.to_string(), true),
                        None => (sym.clone(), false),
                    };
                    let slot = bindings.objects.entry(base).or_insert_with(|| Bound {
                        id: v.clone(),
                        name: v.clone(),
                    });
                    if is_name {
                        slot.name = v;
                    } else {
                        slot.id = v;
                    }
                }
                for id in effects {
                    if let Some(f) = self
                        .observe_effect(case, &action, step, id, endpoint, bindings, &creds)
                        .await?
                    {
                        findings.push(f);
                    }
                }
            }
        }
        Ok(findings)
    }

    /// Check one declared effect through its fixture describe call (or, on the emulator, the
    /// world when no API shows it).
    #[allow(clippy::too_many_arguments)]
    async fn observe_effect(
        &self,
        case: &Case,
        action: &ActionSpec,
        step: &Step,
        effect_id: &str,
        endpoint: &Endpoint,
        bindings: &Bindings,
        creds: &Credentials,
    ) -> Result<Option<Finding>, String> {
        let Some((idx, effect)) = action
            .effects
            .iter()
            .enumerate()
            .find(|(_, e)| e.id == effect_id)
        else {
            return Ok(None);
        };
        let file = self.specs.file_of(&action.key()).unwrap_or_default();
        let rule = format!("{file}#/effects/{idx}");
        let syms_of = |s: &Option<crate::spec::Subject>| -> Vec<String> {
            s.as_ref()
                .and_then(|s| s.parameter())
                .and_then(|p| step.params.get(p))
                .map(placeholder_syms)
                .unwrap_or_default()
                .into_iter()
                .filter(|s| bindings.objects.contains_key(s))
                .collect()
        };
        let key_syms = syms_of(&effect.keys);
        let inst_syms = syms_of(&effect.instances);
        let keys: Vec<Bound> = key_syms
            .iter()
            .filter_map(|s| bindings.objects.get(s).cloned())
            .collect();
        let before: Vec<String> = inst_syms
            .iter()
            .filter_map(|s| case.world.instances.iter().find(|i| &i.sym == s))
            .map(|i| i.state.clone())
            .collect();
        // Keys the case's world binds to the subject instances that a replacing bind drops.
        let mut replaced: Vec<Bound> = Vec::new();
        if effect.binding == Some(crate::spec::Binding::Replace) {
            for i in &inst_syms {
                let Some(inst) = case.world.instances.iter().find(|x| &x.sym == i) else {
                    continue;
                };
                for k in inst.keys.iter().filter(|k| !key_syms.contains(k)) {
                    if let Some(b) = bindings.objects.get(k) {
                        if !replaced.contains(b) {
                            replaced.push(b.clone());
                        }
                    }
                }
            }
        }
        match &effect.observe {
            None => Ok(None),
            Some(Observe::Unobservable { .. }) => {
                if !self.target.is_emulator() {
                    return Ok(None);
                }
                // The emulator's world shows what no API does.
                let svc = format!("{}/{}", case.action.provider, case.action.service);
                let service = match &endpoint.placement {
                    Some(p) => serde_json::to_value(p.0.service(&svc)).unwrap_or(Value::Null),
                    None => control_world::get_world(self, endpoint, false)
                        .await?
                        .pointer(&format!("/services/{}", svc.replace('/', "~1")))
                        .cloned()
                        .unwrap_or(Value::Null),
                };
                let ids: Vec<String> = inst_syms
                    .iter()
                    .filter_map(|s| bindings.objects.get(s).map(|b| b.id.clone()))
                    .collect();
                let selected: Vec<Value> = service
                    .get("instances")
                    .and_then(Value::as_array)
                    .map(|a| {
                        a.iter()
                            .filter(|i| {
                                i.get("id")
                                    .and_then(Value::as_str)
                                    .is_some_and(|id| ids.iter().any(|x| x == id))
                            })
                            .filter_map(|i| match effect.op {
                                crate::spec::EffectOp::SetState
                                | crate::spec::EffectOp::RestoreState => i.get("state").cloned(),
                                _ => i.get("keys").cloned(),
                            })
                            .collect()
                    })
                    .unwrap_or_default();
                Ok(crate::check::effects::evaluate(
                    effect,
                    &rule,
                    "emulator world",
                    &selected,
                    &keys,
                    &replaced,
                    &before,
                ))
            }
            Some(Observe::Action {
                action: describe,
                select,
            }) => {
                let Some(fixture) = self
                    .specs
                    .find(case.action.provider, &case.action.service, describe)
                    .into_iter()
                    .find(|a| a.version == case.action.version)
                    .cloned()
                else {
                    return Err(format!("no fixture spec for {describe}"));
                };
                let mut given = BTreeMap::new();
                given.insert("instance".to_string(), inst_syms.clone());
                given.insert("key_pair".to_string(), key_syms.clone());
                let params =
                    crate::generate::fixture_params(&self.specs, &self.derived, &fixture, &given)
                        .ok_or_else(|| format!("cannot build a {describe} request"))?;
                // Filtered to the case's own resources; every page the describe spec's
                // `paging` describes is read (one call without paging).
                let mut selected: Vec<Value> = Vec::new();
                let pages = if fixture.paging.is_some() {
                    crate::spec::MAX_PAGES
                } else {
                    1
                };
                for n in 0..pages {
                    let mut params = params.clone();
                    if let Some(pg) = &fixture.paging {
                        params.extend(pg.params(&fixture, n));
                    }
                    let observe_step = Step {
                        action: describe.clone(),
                        params,
                        wire: Default::default(),
                        caller: Default::default(),
                        expect: Expect::Any,
                    };
                    let sent = {
                        let _gate = self.control.gate.read().await;
                        self.send_step(&fixture, &observe_step, endpoint, bindings, creds)
                            .await
                    };
                    let resp = match sent {
                        Sent::Ok(_, resp) => resp,
                        Sent::Transport(e) => return Err(format!("observing {effect_id}: {e}")),
                        Sent::Build(e) => return Err(format!("observing {effect_id}: {e}")),
                    };
                    let body: Value = serde_json::from_slice(&resp.body).unwrap_or(Value::Null);
                    if self
                        .checker
                        .is_error(case.action.provider, resp.status, &body)
                    {
                        match effect.op {
                            // Describing deleted keys may fail with "not found": nothing listed.
                            crate::spec::EffectOp::Delete => break,
                            _ => {
                                let code =
                                    Checker::error_code(&body).map(|c| c.1).unwrap_or_default();
                                return Ok(Some(Finding {
                                    evidence: Default::default(),
                                    source: String::new(),
                                    rule,
                                    location: format!("{describe} response"),
                                    message: format!(
                                        "observing effect {effect_id}: {describe} failed with {code}"
                                    ),
                                }));
                            }
                        }
                    }
                    selected.extend(crate::check::effects::select(
                        &body,
                        select,
                        &BTreeMap::new(),
                    ));
                    if fixture
                        .paging
                        .as_ref()
                        .is_none_or(|pg| pg.is_last(&fixture, &body, n))
                    {
                        break;
                    }
                }
                Ok(crate::check::effects::evaluate(
                    effect,
                    &rule,
                    &format!("{describe} {select}"),
                    &selected,
                    &keys,
                    &replaced,
                    &before,
                ))
            }
        }
    }
}

/// Symbols named by placeholders in a parameter value (`${i1}`, `${k1.name}`).
pub fn placeholder_syms(v: &Value) -> Vec<String> {
    let mut out = Vec::new();
    let mut visit = |s: &str| {
        let mut rest = s;
        while let Some(i) = rest.find("${") {
            let after = &rest[i + 2..];
            let Some(end) = after.find('}') else { break };
            let key = &after[..end];
            let sym = key.split('.').next().unwrap_or(key);
            if sym != "region" && !out.contains(&sym.to_string()) {
                out.push(sym.to_string());
            }
            rest = &after[end + 1..];
        }
    };
    match v {
        Value::String(s) => visit(s),
        Value::Array(a) => {
            for x in a {
                if let Value::String(s) = x {
                    visit(s)
                }
            }
        }
        _ => {}
    }
    out
}
