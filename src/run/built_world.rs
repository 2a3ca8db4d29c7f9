//! Worlds built through documented calls, on targets the run did not write: key pairs the run
//! creates, bound, instances stopped or started — on resources the run creates itself or the
//! profile lends — and everything undone afterwards. Nothing else is ever touched. What no
//! documented call can do is done through the target's control API when it offers one
//! (`control_world::Control`), else the case is inconclusive with the reason.
use super::bind::{Bindings, Bound};
use super::control_world::{instance_mut, Realised};
use super::exec::Endpoint;
use super::fixture_calls::{call, fixture, name_param, output};
use super::profile::Profile;
use super::Runner;
use crate::generate::{values::stable_hash, Case};
use serde_json::{json, Value};
use std::collections::BTreeMap;

/// The fixture purpose that puts an instance into `state`, when a documented call does: only
/// the stable states. Transient ones (STOPPING, STARTING, PENDING) and provider-driven ones
/// (Expired) no call holds an instance in.
fn purpose_for(state: &str) -> Option<&'static str> {
    if state.eq_ignore_ascii_case("stopped") {
        Some("stop")
    } else if state.eq_ignore_ascii_case("running") {
        Some("start")
    } else {
        None
    }
}

/// Move a profile instance from one stable state to another with the spec's fixture action.
async fn set_state(
    runner: &Runner,
    case: &Case,
    endpoint: &Endpoint,
    r: &Realised,
    sym: &str,
    from: &str,
    to: &str,
) -> Result<(), String> {
    if from.eq_ignore_ascii_case(to) {
        return Ok(());
    }
    let purpose = purpose_for(to)
        .ok_or_else(|| format!("no documented call puts an instance into state {to}"))?;
    let spec = fixture(runner, case, purpose, "instance")
        .ok_or_else(|| format!("no fixture spec can {purpose} an instance of this service"))?;
    let given = BTreeMap::from([("instance".to_string(), vec![sym.to_string()])]);
    call(runner, endpoint, &spec, &given, &[], &r.bindings)
        .await
        .map(|_| ())
}

/// Build the case's world; on failure, whatever was already created or claimed stays recorded
/// in `r` so the caller's teardown undoes it.
pub async fn realise(
    runner: &Runner,
    case: &Case,
    endpoint: &Endpoint,
    profile: &Profile,
    r: &mut Realised,
) -> Result<(), String> {
    if case.world.made_up {
        // The answer precedes existence: made-up ids, nothing created, nothing claimed.
        r.bindings = super::control_world::bind_world(
            runner,
            case,
            profile.region_for(case.action.provider),
        )?;
        return Ok(());
    }
    r.bindings = Bindings {
        region: profile.region_for(case.action.provider).to_string(),
        ..Default::default()
    };
    let control = runner.control.offered(runner, endpoint).await;
    if !case.world.images.is_empty() && !control {
        return Err(
            "needs an image that references a key pair; no documented call creates one (a target with the emulator's control API can hold one)".into(),
        );
    }
    for inst in &case.world.instances {
        if purpose_for(&inst.state).is_none() && !control {
            return Err(format!(
                "transient state {}: no documented call holds an instance in it (a target with the emulator's control API can)",
                inst.state
            ));
        }
    }
    let bind = fixture(runner, case, "bind", "key_pair")
        .or_else(|| fixture(runner, case, "bind", "instance"));
    let mut lends_keys = bind.is_none() && case.world.instances.iter().any(|i| !i.keys.is_empty());
    let unbound;
    let mut case = case;
    if lends_keys && !control && case.steps.iter().any(|s| s.expect.is_success()) {
        if binding_matters(runner, case) {
            return Err(format!(
                "would remove a key binding of {} that no documented call can restore (keys are bound only at RunInstances)",
                case.action.service
            ));
        }
        // Nothing the run can judge here depends on the binding (no precondition asks for
        // it, no call shows it): the run's own keys, unbound, on lent instances decide the
        // case without touching what no call restores.
        unbound = without_bindings(case);
        case = &unbound;
        lends_keys = false;
    }
    let needs: Vec<(&str, &str, usize)> = case
        .world
        .instances
        .iter()
        .map(|i| {
            let lent = if lends_keys { i.keys.len() } else { 0 };
            (case.action.service.as_str(), i.os.as_str(), lent)
        })
        .collect();
    r.claimed = runner.claims.claim(profile, &needs).await?;
    r.claimed_ids = r
        .claimed
        .iter()
        .map(|n| profile.instances[*n].id.clone())
        .collect();
    let mut lent_keys: BTreeMap<String, String> = BTreeMap::new();
    for (inst, &n) in case.world.instances.iter().zip(&r.claimed) {
        let p = &profile.instances[n];
        // Everything the case may do to it: the seed actions unbind; the world may stop,
        // start or bind (binding happens while stopped).
        let mut ops = vec!["unbind"];
        if !inst.keys.is_empty() && !lends_keys {
            ops.extend(["bind", "stop"]);
        }
        if inst.state.eq_ignore_ascii_case("stopped") {
            ops.push("stop");
        } else if inst.state.eq_ignore_ascii_case("running") {
            ops.push("start");
        }
        if let Some(op) = ops.iter().find(|op| !p.allows(op)) {
            return Err(format!(
                "needs to {op} instance {} and the profile does not allow it",
                p.id
            ));
        }
        r.bindings.objects.insert(
            inst.sym.clone(),
            Bound {
                id: p.id.clone(),
                name: p.id.clone(),
            },
        );
        if lends_keys {
            for (k, id) in inst.keys.iter().zip(&p.keys) {
                lent_keys.insert(k.clone(), id.clone());
            }
            if control {
                r.relend.push((p.id.clone(), p.keys.clone()));
            }
        }
    }
    // Record every lent instance before anything changes it: its real state (not the
    // profile's, which is informative) is what setup starts from and teardown restores.
    for inst in &case.world.instances {
        let record =
            super::sandbox::describe(runner, case, endpoint, &r.bindings, &inst.sym).await?;
        r.restore.push((inst.sym.clone(), record.state.clone()));
        r.lent.push((inst.sym.clone(), record));
    }
    // Key pairs: lent bindings as they are, the rest created by the run and deleted afterwards.
    let to_create: Vec<_> = case
        .world
        .key_pairs
        .iter()
        .filter(|k| !lent_keys.contains_key(&k.sym))
        .collect();
    for (sym, id) in &lent_keys {
        r.bindings.objects.insert(
            sym.clone(),
            Bound {
                id: id.clone(),
                name: id.clone(),
            },
        );
    }
    if !to_create.is_empty() {
        let create = fixture(runner, case, "create", "key_pair")
            .ok_or("no fixture spec creates key pairs for this service")?;
        let pname = name_param(&create);
        let service = service_path(case);
        // Deleted afterwards by the documented call, else through the control API.
        let deletable = fixture(runner, case, "delete", "key_pair").is_some() || control;
        for (n, k) in to_create.into_iter().enumerate() {
            // No API deletes this service's keys (ECM) and no control API: one set per run,
            // reused by every case and listed at the end.
            if !deletable {
                let kept = runner
                    .ledger
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .reusable(&service, n);
                if let Some((id, name)) = kept {
                    r.bindings.objects.insert(k.sym.clone(), Bound { id, name });
                    continue;
                }
            }
            let name = format!(
                "{}{}",
                key_prefix(runner, profile),
                crate::generate::values::chars_from(
                    b"abcdefghijklmnopqrstuvwxyz0123456789",
                    10,
                    stable_hash(&[
                        &case.id,
                        &k.sym,
                        &crate::sign::clock::unix_now().to_string()
                    ])
                )
            );
            let extra: Vec<(String, Value)> =
                pname.iter().map(|p| (p.clone(), json!(name))).collect();
            let body = match call(
                runner,
                endpoint,
                &create,
                &BTreeMap::new(),
                &extra,
                &r.bindings,
            )
            .await
            {
                Ok(b) => b,
                Err(e) => {
                    if e.contains(super::send::MAY_HAVE_RUN) {
                        // Maybe created: described by the name the run chose, so teardown
                        // deletes it if it exists; listed as "may exist" only where no call
                        // can tell.
                        let region = r.bindings.region.clone();
                        let found =
                            super::cleanup::find_named(runner, &case.action, &region, &name).await;
                        let mut ledger = runner.ledger.lock().unwrap_or_else(|e| e.into_inner());
                        match found {
                            Ok(Some(f)) if deletable => {
                                ledger.created(&service, &f.id, &f.name);
                                r.created_keys.push(f.id.clone());
                                r.bindings.objects.insert(
                                    k.sym.clone(),
                                    Bound {
                                        id: f.id,
                                        name: f.name,
                                    },
                                );
                            }
                            Ok(Some(f)) => ledger.add_reusable(&service, &f.id, &f.name),
                            Ok(None) => {}
                            Err(why) => ledger.problem(
                                &service,
                                "key_pair",
                                &name,
                                &format!("CreateKeyPair answer lost; may exist ({why})"),
                            ),
                        }
                    }
                    return Err(e);
                }
            };
            let id = output(&create, &body, "id")
                .map(crate::check::loose)
                .unwrap_or_else(|| name.clone());
            {
                let mut ledger = runner.ledger.lock().unwrap_or_else(|e| e.into_inner());
                if deletable {
                    ledger.created(&service, &id, &name);
                } else {
                    ledger.add_reusable(&service, &id, &name);
                }
            }
            if deletable {
                r.created_keys.push(id.clone());
            }
            r.bindings.objects.insert(k.sym.clone(), Bound { id, name });
        }
    }
    // Bindings are made while the instance is stopped (what every spec allows), then the
    // instance is put into the case's state. Each starts from the state Describe showed.
    for (inst, (_, before)) in case.world.instances.iter().zip(r.lent.clone()) {
        let listed = before.state.clone();
        let mut now = listed.clone();
        if !inst.keys.is_empty() && !lends_keys {
            let stopped = stopped_spelling(&inst.state, &listed);
            set_state(runner, case, endpoint, r, &inst.sym, &now, &stopped).await?;
            now = stopped;
            let spec = bind
                .clone()
                .ok_or("no fixture spec binds key pairs for this service")?;
            // As many keys per call as the bind action takes (CVM: 100 `KeyIds`; Alibaba's
            // attach: one key name): fewer requests on someone's account, at its rate limit.
            for keys in inst.keys.chunks(spec.batch_limit("key_pair")) {
                let given = BTreeMap::from([
                    ("instance".to_string(), vec![inst.sym.clone()]),
                    ("key_pair".to_string(), keys.to_vec()),
                ]);
                // Recorded first: a lost answer may still have bound them.
                for k in keys {
                    r.bound.push((inst.sym.clone(), k.clone()));
                }
                call(runner, endpoint, &spec, &given, &[], &r.bindings).await?;
            }
        }
        if purpose_for(&inst.state).is_some() {
            set_state(runner, case, endpoint, r, &inst.sym, &now, &inst.state).await?;
        } else {
            // Transient: built stopped, then held in the state through the control API.
            let stopped = stopped_spelling(&inst.state, &listed);
            set_state(runner, case, endpoint, r, &inst.sym, &now, &stopped).await?;
            let id = r.bindings.objects[&inst.sym].id.clone();
            r.held.push(inst.sym.clone());
            let state = inst.state.clone();
            runner
                .control
                .edit(runner, endpoint, &service_path(case), |svc| {
                    if let Some(i) = instance_mut(svc, &id) {
                        i["state"] = json!(state);
                    }
                })
                .await?;
        }
    }
    // Images holding keys: only through the control API.
    if !case.world.images.is_empty() {
        let made = super::control_world::bind_world(
            runner,
            case,
            profile.region_for(case.action.provider),
        )?;
        let mut images = Vec::new();
        for m in &case.world.images {
            let id = made.objects[&m.sym].id.clone();
            let keys: Vec<String> = m
                .keys
                .iter()
                .filter_map(|k| r.bindings.objects.get(k).map(|b| b.id.clone()))
                .collect();
            r.bindings
                .objects
                .insert(m.sym.clone(), made.objects[&m.sym].clone());
            r.images.push(id.clone());
            images.push(json!({"id": id, "keys": keys}));
        }
        runner
            .control
            .edit(runner, endpoint, &service_path(case), |svc| {
                if let Some(list) = svc.get_mut("images").and_then(Value::as_array_mut) {
                    list.extend(images);
                }
            })
            .await?;
    }
    Ok(())
}

/// Whether the case's outcome on this target depends on which keys its instances hold: a
/// precondition asks for a binding, or a declared effect is observed through a describe call.
fn binding_matters(runner: &Runner, case: &Case) -> bool {
    let Some(action) = runner.specs.action(&case.action) else {
        return true;
    };
    let precondition = action
        .preconditions
        .iter()
        .any(|p| matches!(p.require, crate::spec::Requirement::BoundTo { .. }));
    let observed = case.steps.iter().any(|s| match &s.expect {
        crate::generate::Expect::Success { effects, .. } => effects.iter().any(|id| {
            action.effects.iter().any(|e| {
                &e.id == id && matches!(e.observe, Some(crate::spec::Observe::Action { .. }))
            })
        }),
        _ => false,
    });
    precondition || observed
}

/// The case with no key bound to its instances (its key pairs are still created).
fn without_bindings(case: &Case) -> Case {
    let mut c = case.clone();
    for i in &mut c.world.instances {
        i.keys.clear();
    }
    c
}

/// Names of the run's key pairs start with the profile's top-level `key_prefix` (what
/// `cleanup` looks for), also for cases of a `providers` section.
fn key_prefix(runner: &Runner, section: &Profile) -> String {
    match &runner.target.kind {
        super::TargetKind::Live { profile, .. } => profile.key_prefix.clone(),
        super::TargetKind::Emulator { .. } => section.key_prefix.clone(),
    }
}

fn service_path(case: &Case) -> String {
    format!("{}/{}", case.action.provider, case.action.service)
}

/// The provider's spelling of "stopped", from a state it spells (`RUNNING` -> `STOPPED`).
fn stopped_spelling(a: &str, b: &str) -> String {
    if a.chars()
        .chain(b.chars())
        .filter(|c| c.is_alphabetic())
        .all(|c| c.is_ascii_uppercase())
    {
        "STOPPED".into()
    } else {
        "Stopped".into()
    }
}

/// Undo what `realise` did: undo the control API's edits, unbind what the run bound (with the
/// instance stopped, unless Describe shows it already unbound), delete the created keys in
/// batches within the documented limit (off the ledger), put every lent instance back as
/// Describe showed it before the run, and free the claims.
pub async fn teardown(
    runner: &Runner,
    case: &Case,
    endpoint: &Endpoint,
    r: &Realised,
) -> Result<(), String> {
    let mut problems = Vec::new();
    // What the control API made: back to stable states, lent bindings back, images gone.
    if !r.held.is_empty() || !r.relend.is_empty() || !r.images.is_empty() {
        let held: Vec<(String, String)> = r
            .held
            .iter()
            .filter_map(|s| {
                let id = r.bindings.objects.get(s)?.id.clone();
                let before = r.restore.iter().find(|(x, _)| x == s)?.1.clone();
                Some((id, stopped_spelling(&before, &before)))
            })
            .collect();
        let edit = runner
            .control
            .edit(runner, endpoint, &service_path(case), |svc| {
                for (id, state) in &held {
                    if let Some(i) = instance_mut(svc, id) {
                        i["state"] = json!(state);
                    }
                }
                for (id, keys) in &r.relend {
                    if let Some(i) = instance_mut(svc, id) {
                        i["keys"] = json!(keys);
                    }
                }
                if let Some(list) = svc.get_mut("images").and_then(Value::as_array_mut) {
                    list.retain(|m| {
                        !m.get("id")
                            .and_then(Value::as_str)
                            .is_some_and(|id| r.images.iter().any(|x| x == id))
                    });
                }
            })
            .await;
        if let Err(e) = edit {
            problems.push(e);
        }
    }
    if !r.bound.is_empty() {
        if let Some(spec) = fixture(runner, case, "unbind", "key_pair") {
            let describe = fixture(runner, case, "describe", "instance");
            for (i, k) in &r.bound {
                // Reconcile first: the case's own unbind may have been executed even if its
                // answer was lost, and unbinding again would be a second execution.
                if let Some(d) = &describe {
                    let given = BTreeMap::from([("instance".to_string(), vec![i.clone()])]);
                    // Listed by id (Tencent) or by name (Alibaba `KeyPairName`).
                    let key = r.bindings.objects.get(k).cloned();
                    if let (Ok(body), Some(key)) = (
                        call(runner, endpoint, d, &given, &[], &r.bindings).await,
                        key,
                    ) {
                        let listed = body.to_string();
                        if !listed.contains(&key.id) && !listed.contains(&key.name) {
                            continue;
                        }
                    }
                }
                // The case may have left it running; unbinding needs it stopped (an error
                // when it already is).
                if let Some(stop) = fixture(runner, case, "stop", "instance") {
                    let given = BTreeMap::from([("instance".to_string(), vec![i.clone()])]);
                    let _ = call(runner, endpoint, &stop, &given, &[], &r.bindings).await;
                }
                let given = BTreeMap::from([
                    ("instance".to_string(), vec![i.clone()]),
                    ("key_pair".to_string(), vec![k.clone()]),
                ]);
                // Already unbound (the case did it) is fine.
                let _ = call(runner, endpoint, &spec, &given, &[], &r.bindings).await;
            }
        }
    }
    if !r.created_keys.is_empty() && fixture(runner, case, "delete", "key_pair").is_none() {
        // No documented call deletes them: created only on a target with the control API.
        let created = &r.created_keys;
        let edit = runner
            .control
            .edit(runner, endpoint, &service_path(case), |svc| {
                if let Some(list) = svc.get_mut("key_pairs").and_then(Value::as_array_mut) {
                    list.retain(|k| {
                        !k.get("id")
                            .and_then(Value::as_str)
                            .is_some_and(|id| created.iter().any(|x| x == id))
                    });
                }
            })
            .await;
        match edit {
            Ok(()) => {
                let mut ledger = runner.ledger.lock().unwrap_or_else(|e| e.into_inner());
                // The control API's world is what it edits: gone, no Describe needed.
                for id in created {
                    ledger.deleted(id);
                    ledger.confirmed_gone(id);
                }
            }
            Err(e) => problems.push(e),
        }
    }
    if !r.created_keys.is_empty() {
        if let Some(spec) = fixture(runner, case, "delete", "key_pair") {
            let syms: Vec<String> = r
                .bindings
                .objects
                .iter()
                .filter(|(_, b)| r.created_keys.contains(&b.id))
                .map(|(s, _)| s.clone())
                .collect();
            // Within the action's documented batch limit.
            let batch = spec.batch_limit("key_pair");
            for chunk in syms.chunks(batch) {
                let given = BTreeMap::from([("key_pair".to_string(), chunk.to_vec())]);
                let result = call(runner, endpoint, &spec, &given, &[], &r.bindings).await;
                // Deleted now, or already gone (the case deleted it): off the ledger.
                if result.is_ok() || result.as_ref().is_err_and(|e| e.contains("NotFound")) {
                    let mut ledger = runner.ledger.lock().unwrap_or_else(|e| e.into_inner());
                    for sym in chunk {
                        if let Some(b) = r.bindings.objects.get(sym) {
                            ledger.deleted(&b.id);
                        }
                    }
                } else if let Err(e) = result {
                    problems.push(e);
                }
            }
        }
    }
    // Every lent instance back as Describe showed it before the run (state and keys),
    // verified by describing again.
    for (sym, before) in &r.lent {
        if let Err(e) =
            super::sandbox::restore(runner, case, endpoint, &r.bindings, sym, before).await
        {
            runner
                .ledger
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .problem(&service_path(case), "instance", &before.id, &e);
            problems.push(e);
        }
    }
    runner.claims.release(&r.claimed_ids).await;
    if problems.is_empty() {
        Ok(())
    } else {
        Err(problems.join("; "))
    }
}
