//! Observing a step's declared effects afterwards. What an effect check judges is the state
//! after the call: on an emulator this run started itself, that state is read in process
//! ([`super::placement::WorldPlacement::service`]), like its worlds are placed, and the case's
//! own request is the only one on the wire; on every other target (a URL, with or without the
//! control API, a live account) through the effect's documented describe call
//! (`effects[].observe`), every page of it. `RunOptions::observe_through_api` forces the
//! describe calls in process too. Effects no API shows (`unobservable`) are read from the
//! emulator's world (in process, else its control API) and not checked elsewhere.
use super::bind::{Bindings, Bound};
use super::exec::Endpoint;
use super::{control_world, Runner, Sent};
use crate::check::{Checker, Finding};
use crate::emulator::ServiceState;
use crate::generate::{Case, Expect, Step};
use crate::sign::Credentials;
use crate::spec::{ActionSpec, Effect, EffectOp, Observe};
use serde_json::Value;
use std::collections::BTreeMap;

impl Runner {
    /// Check one declared effect (see the module docs for where it is read).
    #[allow(clippy::too_many_arguments)]
    pub(super) async fn observe_effect(
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
        // The rule and the location are written only for a finding (most effects hold).
        let rule = || {
            let file = self.specs.file_of(&action.key()).unwrap_or_default();
            format!("{file}#/effects/{idx}")
        };
        let syms_of = |s: &Option<crate::spec::Subject>| -> Vec<String> {
            s.as_ref()
                .and_then(|s| s.parameter())
                .and_then(|p| step.params.get(p))
                .map(super::placeholder_syms)
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
        let evaluate = |location: &dyn Fn() -> String, selected: &[Value]| {
            crate::check::effects::evaluate(
                effect, &rule, location, selected, &keys, &replaced, &before,
            )
        };
        let instance_ids = || -> Vec<String> {
            inst_syms
                .iter()
                .filter_map(|s| bindings.objects.get(s).map(|b| b.id.clone()))
                .collect()
        };
        let in_process = endpoint.placement.is_some() && !self.opts.observe_through_api;
        match &effect.observe {
            None => Ok(None),
            // The emulator's world shows what no API does; elsewhere it is not checked.
            Some(Observe::Unobservable { .. }) if !self.target.is_emulator() => Ok(None),
            Some(Observe::Unobservable { .. }) => {
                let state = self.service_now(case, endpoint).await?;
                let selected = selected_in_state(&state, effect, &instance_ids());
                Ok(evaluate(&|| "emulator world".into(), &selected))
            }
            Some(Observe::Action { action, select }) if in_process => {
                let state = self.service_now(case, endpoint).await?;
                let selected = selected_in_state(&state, effect, &instance_ids());
                Ok(evaluate(
                    &|| format!("emulator world (in process; {action} {select} over HTTP)"),
                    &selected,
                ))
            }
            Some(Observe::Action {
                action: describe,
                select,
            }) => {
                let observed = self
                    .describe_effect(
                        case, effect, describe, select, &inst_syms, &key_syms, endpoint, bindings,
                        creds,
                    )
                    .await?;
                match observed {
                    Ok(selected) => Ok(evaluate(&|| format!("{describe} {select}"), &selected)),
                    Err(code) => Ok(Some(Finding {
                        evidence: Default::default(),
                        source: String::new(),
                        rule: rule(),
                        location: format!("{describe} response"),
                        message: format!(
                            "observing effect {effect_id}: {describe} failed with {code}"
                        ),
                    })),
                }
            }
        }
    }

    /// The case's service as it is now on the emulator: in process where the run started it,
    /// else through the control API.
    async fn service_now(&self, case: &Case, endpoint: &Endpoint) -> Result<ServiceState, String> {
        let svc = format!("{}/{}", case.action.provider, case.action.service);
        if let Some(p) = &endpoint.placement {
            return Ok(p.0.service(&svc).unwrap_or_default());
        }
        let world = control_world::get_world(self, endpoint, false).await?;
        let service = world
            .pointer(&format!("/services/{}", svc.replace('/', "~1")))
            .cloned()
            .unwrap_or(Value::Null);
        if service.is_null() {
            return Ok(ServiceState::default());
        }
        serde_json::from_value(service).map_err(|e| format!("control API world {svc}: {e}"))
    }

    /// What the effect's describe call shows of its subjects, every page; `Err(code)` when the
    /// describe call itself failed (a delete's "not found" lists nothing instead).
    #[allow(clippy::too_many_arguments)]
    async fn describe_effect(
        &self,
        case: &Case,
        effect: &Effect,
        describe: &str,
        select: &str,
        inst_syms: &[String],
        key_syms: &[String],
        endpoint: &Endpoint,
        bindings: &Bindings,
        creds: &Credentials,
    ) -> Result<Result<Vec<Value>, String>, String> {
        let effect_id = &effect.id;
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
        given.insert("instance".to_string(), inst_syms.to_vec());
        given.insert("key_pair".to_string(), key_syms.to_vec());
        let params = crate::generate::fixture_params(&self.specs, &self.derived, &fixture, &given)
            .ok_or_else(|| format!("cannot build a {describe} request"))?;
        // Filtered to the case's own resources; every page the describe spec's `paging`
        // describes is read (one call without paging).
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
                action: describe.to_string(),
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
                    EffectOp::Delete => break,
                    _ => {
                        let code = Checker::error_code(&body).map(|c| c.1).unwrap_or_default();
                        return Ok(Err(code));
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
        Ok(Ok(selected))
    }
}

/// What the effect's subjects look like in the service state, in the shape `evaluate` reads:
/// an effect on instances sees their states (state effects) or the ids and names of their bound
/// keys (key effects); an effect on key pairs alone (create, delete) sees the id and name of
/// every key pair the service holds, in any region, so a key deleted here but kept elsewhere
/// still shows.
pub(super) fn selected_in_state(
    state: &ServiceState,
    effect: &Effect,
    instance_ids: &[String],
) -> Vec<Value> {
    if effect.instances.is_some() {
        return state
            .instances
            .iter()
            .filter(|i| instance_ids.contains(&i.id))
            .map(|i| match effect.op {
                EffectOp::SetState | EffectOp::RestoreState => Value::String(i.state.clone()),
                // Bound keys are held by id; a describe call shows ids (CVM) or names (ECS),
                // and a key captured by name is known by its name alone: both are seen.
                _ => Value::Array(
                    i.keys
                        .iter()
                        .flat_map(|id| {
                            let name = state.key_pairs.iter().find(|k| &k.id == id);
                            std::iter::once(id.clone()).chain(name.map(|k| k.name.clone()))
                        })
                        .map(Value::String)
                        .collect(),
                ),
            })
            .collect();
    }
    state
        .key_pairs
        .iter()
        .map(|k| {
            Value::Array(vec![
                Value::String(k.id.clone()),
                Value::String(k.name.clone()),
            ])
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::emulator::{Instance, KeyPair};
    use serde_json::json;

    fn effect(v: Value) -> Effect {
        serde_json::from_value(v).unwrap()
    }

    fn state() -> ServiceState {
        ServiceState {
            instances: vec![
                Instance {
                    id: "ins-1".into(),
                    os: "linux".into(),
                    state: "RUNNING".into(),
                    region: "ap-guangzhou".into(),
                    keys: vec!["skey-1".into()],
                },
                Instance {
                    id: "ins-2".into(),
                    os: "linux".into(),
                    state: "STOPPED".into(),
                    region: "ap-guangzhou".into(),
                    keys: vec!["skey-2".into()],
                },
            ],
            key_pairs: vec![KeyPair {
                id: "skey-1".into(),
                name: "one".into(),
                region: "ap-beijing".into(),
            }],
            ..ServiceState::default()
        }
    }

    #[test]
    fn instance_effects_see_only_their_instances() {
        let unbind = effect(json!({"id": "u", "op": "unbind",
            "keys": {"parameter": "KeyIds"}, "instances": {"parameter": "InstanceIds"},
            "description": "d", "source": "s"}));
        let got = selected_in_state(&state(), &unbind, &["ins-2".into()]);
        assert_eq!(got, vec![json!(["skey-2"])]);
        // A key the service holds is seen by its name too (ECS describes bindings by name).
        let got = selected_in_state(&state(), &unbind, &["ins-1".into()]);
        assert_eq!(got, vec![json!(["skey-1", "one"])]);
        let started = effect(json!({"id": "s", "op": "set_state", "state": "RUNNING",
            "instances": {"parameter": "InstanceIds"}, "description": "d", "source": "s"}));
        let got = selected_in_state(&state(), &started, &["ins-1".into(), "ins-2".into()]);
        assert_eq!(got, vec![json!("RUNNING"), json!("STOPPED")]);
        // A state effect that did not happen fails, as through the describe call.
        let keys: &[Bound] = &[];
        assert!(crate::check::effects::evaluate(
            &started,
            &|| "r".into(),
            &|| "l".into(),
            &got,
            keys,
            keys,
            &[]
        )
        .is_some());
    }

    /// A deleted key still held, in any region, is seen (its id and its name).
    #[test]
    fn key_effects_see_every_key_pair() {
        let deleted = effect(json!({"id": "d", "op": "delete", "resource": "key_pair",
            "keys": {"parameter": "KeyIds"}, "description": "d", "source": "s"}));
        let got = selected_in_state(&state(), &deleted, &[]);
        assert_eq!(got, vec![json!(["skey-1", "one"])]);
        let by_name = Bound {
            id: "unknown".into(),
            name: "one".into(),
        };
        let f = crate::check::effects::evaluate(
            &deleted,
            &|| "r".into(),
            &|| "l".into(),
            &got,
            &[by_name],
            &[],
            &[],
        );
        assert!(f.is_some_and(|f| f.message.contains("still listed")));
    }
}
