//! Live targets: worlds are built with the spec's fixture actions (create key pairs, bind them,
//! stop or start instances) on resources the run creates itself or that the target profile
//! lists, and everything the run did is undone afterwards. Nothing else is ever touched.
use super::bind::{Bindings, Bound};
use super::exec::Endpoint;
use super::fixtures::Realised;
use super::{Runner, Sent};
use crate::generate::{fixture_params, values::stable_hash, Case, Expect, Step};
use crate::spec::{ActionSpec, Provider};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

/// What the harness may use on a live target (a JSON file given with `--profile`).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Profile {
    #[serde(default, rename = "$schema", skip_serializing_if = "Option::is_none")]
    pub schema: Option<String>,
    #[serde(default)]
    pub provider: Option<Provider>,
    /// Region every case runs in.
    pub region: String,
    /// Use the spec's international domains (`cvm.intl.tencentcloudapi.com`) where it lists one.
    #[serde(default)]
    pub international: bool,
    /// Per-provider regions, for runs covering both clouds (else `region`).
    #[serde(default)]
    pub regions: BTreeMap<Provider, String>,
    /// Instances the harness may stop, start, bind and unbind keys on.
    #[serde(default)]
    pub instances: Vec<ProfileInstance>,
    /// Names of key pairs the run creates start with this (and `cleanup` removes only those).
    #[serde(default = "default_key_prefix")]
    pub key_prefix: String,
}

fn default_key_prefix() -> String {
    "ccrun_".into()
}

/// What a lent instance may be used for (`allow` in the profile).
pub const OPERATIONS: [&str; 4] = ["stop", "start", "bind", "unbind"];

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProfileInstance {
    /// `cvm`, `ecm`, `ecs`, `ens`.
    pub service: String,
    pub id: String,
    /// `linux` or `windows`.
    pub os: String,
    /// The state it is lent in (provider spelling); informative: the run records the real
    /// state through Describe before changing anything and restores that.
    #[serde(default)]
    pub state: String,
    /// What the run may do to it (default: everything in [`OPERATIONS`]).
    #[serde(default)]
    pub allow: Option<Vec<String>>,
}

impl ProfileInstance {
    pub fn allows(&self, op: &str) -> bool {
        self.allow
            .as_ref()
            .is_none_or(|a| a.iter().any(|x| x == op))
    }
}

impl Profile {
    pub fn load(path: &Path) -> Result<Profile, String> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("cannot read profile {}: {e}", path.display()))?;
        let p: Profile =
            serde_json::from_str(&text).map_err(|e| format!("profile {}: {e}", path.display()))?;
        for (n, i) in p.instances.iter().enumerate() {
            for op in i.allow.iter().flatten() {
                if !OPERATIONS.contains(&op.as_str()) {
                    return Err(format!(
                        "profile {}: /instances/{n}/allow: unknown operation `{op}` (one of {})",
                        path.display(),
                        OPERATIONS.join(", ")
                    ));
                }
            }
        }
        if p.key_prefix.is_empty() {
            return Err(format!(
                "profile {}: /key_prefix is empty; cleanup needs a prefix to recognise the run's keys",
                path.display()
            ));
        }
        Ok(p)
    }

    /// The region for a provider's cases.
    pub fn region_for(&self, provider: Provider) -> &str {
        self.regions.get(&provider).unwrap_or(&self.region)
    }
}

impl Default for Profile {
    fn default() -> Self {
        Profile {
            schema: None,
            provider: None,
            region: String::new(),
            international: false,
            regions: BTreeMap::new(),
            instances: Vec::new(),
            key_prefix: default_key_prefix(),
        }
    }
}

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
    let mut params = fixture_params(&runner.specs, spec, given)
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
    match runner
        .send_step(spec, &step, endpoint, bindings, &creds)
        .await
    {
        Sent::Ok(_, resp) => {
            let body: Value = serde_json::from_slice(&resp.body).unwrap_or(Value::Null);
            if !body.is_object() {
                return Err(format!(
                    "{}: HTTP {} is not the provider's envelope; setup aborted",
                    spec.action, resp.status
                ));
            }
            if runner.checker.is_error(spec.provider, &body) {
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

fn output<'a>(spec: &ActionSpec, body: &'a Value, hint: &str) -> Option<&'a Value> {
    spec.response
        .outputs
        .iter()
        .find(|(name, _)| name.to_ascii_lowercase().contains(hint))
        .and_then(|(_, ptr)| body.pointer(ptr))
}

fn name_param(spec: &ActionSpec) -> Option<String> {
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

/// Build the case's world; on failure, whatever was already created stays recorded in `r` so
/// the caller can tear it down.
pub async fn realise(
    runner: &Runner,
    case: &Case,
    endpoint: &Endpoint,
    profile: &Profile,
    r: &mut Realised,
) -> Result<(), String> {
    r.bindings = Bindings {
        region: profile.region_for(case.action.provider).to_string(),
        ..Default::default()
    };
    if !case.world.images.is_empty() {
        return Err(
            "needs an image that references a key pair; fixtures cannot create images".into(),
        );
    }
    let mut pool: Vec<&ProfileInstance> = profile
        .instances
        .iter()
        .filter(|i| i.service == case.action.service)
        .collect();
    for inst in &case.world.instances {
        let Some(pos) = pool.iter().position(|p| p.os == inst.os) else {
            return Err(format!(
                "needs {} {} instance(s) of {}; the profile lists fewer",
                case.world.instances.len(),
                inst.os,
                case.action.service
            ));
        };
        let p = pool.remove(pos);
        // Everything the case may do to it: the seed actions unbind; the world may stop,
        // start or bind.
        let state = inst.state.to_ascii_lowercase();
        let mut needs = vec!["unbind"];
        if !inst.keys.is_empty() {
            needs.push("bind");
        }
        if state == "stopped" {
            needs.push("stop");
        } else if state == "running" {
            needs.push("start");
        }
        if let Some(op) = needs.iter().find(|op| !p.allows(op)) {
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
    }
    // Record every lent instance before anything changes it.
    for inst in &case.world.instances {
        let record =
            super::sandbox::describe(runner, case, endpoint, &r.bindings, &inst.sym).await?;
        r.lent.push((inst.sym.clone(), record));
    }
    // Key pairs: created by the run, deleted afterwards.
    if !case.world.key_pairs.is_empty() {
        let create = fixture(runner, case, "create", "key_pair")
            .ok_or("no fixture spec creates key pairs for this service")?;
        let pname = name_param(&create);
        let service = format!("{}/{}", case.action.provider, case.action.service);
        let deletable = fixture(runner, case, "delete", "key_pair").is_some();
        for (n, k) in case.world.key_pairs.iter().enumerate() {
            // No API deletes this service's keys (ECM): one set per run, reused by every case.
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
                profile.key_prefix,
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
                        // Maybe created: the leak check lists it, `cleanup` finds it by prefix.
                        runner
                            .ledger
                            .lock()
                            .unwrap_or_else(|e| e.into_inner())
                            .problem(
                                &service,
                                "key_pair",
                                &name,
                                "CreateKeyPair answer lost; may exist",
                            );
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
    // Instance states and bindings.
    for inst in &case.world.instances {
        let state = inst.state.to_ascii_lowercase();
        // Only settled states: a transitional one (STOPPING, Starting) lasts an unknown time
        // on a real instance, so a case needing it cannot be set up reliably.
        let purpose = if state == "stopped" {
            "stop"
        } else if state == "running" {
            "start"
        } else {
            return Err(format!(
                "cannot put a live instance into state {}",
                inst.state
            ));
        };
        if let Some(spec) = fixture(runner, case, purpose, "instance") {
            let given = BTreeMap::from([("instance".to_string(), vec![inst.sym.clone()])]);
            // Already in that state is fine (the target's error is ignored); a lost answer
            // aborts the setup: the world is not known.
            if let Err(e) = call(runner, endpoint, &spec, &given, &[], &r.bindings).await {
                if !rejected(&e) {
                    return Err(e);
                }
            }
        }
        for k in &inst.keys {
            let spec = fixture(runner, case, "bind", "key_pair")
                .or_else(|| fixture(runner, case, "bind", "instance"))
                .ok_or("no fixture spec binds key pairs for this service")?;
            let given = BTreeMap::from([
                ("instance".to_string(), vec![inst.sym.clone()]),
                ("key_pair".to_string(), vec![k.clone()]),
            ]);
            call(runner, endpoint, &spec, &given, &[], &r.bindings).await?;
            r.bound.push((inst.sym.clone(), k.clone()));
        }
    }
    Ok(())
}

/// Undo what `realise` did: unbind, delete created keys, restore instance states.
pub async fn teardown(
    runner: &Runner,
    case: &Case,
    endpoint: &Endpoint,
    r: &Realised,
) -> Result<(), String> {
    let mut problems = Vec::new();
    if let Some(spec) = fixture(runner, case, "unbind", "key_pair") {
        let describe = fixture(runner, case, "describe", "instance");
        for (i, k) in &r.bound {
            // Reconcile first: the case's own unbind may have been executed even if its answer
            // was lost, and unbinding again would be a second execution.
            if let Some(d) = &describe {
                let given = BTreeMap::from([("instance".to_string(), vec![i.clone()])]);
                let key_id = r.bindings.objects.get(k).map(|b| b.id.clone());
                if let (Ok(body), Some(key_id)) = (
                    call(runner, endpoint, d, &given, &[], &r.bindings).await,
                    key_id,
                ) {
                    if !body.to_string().contains(&key_id) {
                        continue;
                    }
                }
            }
            let given = BTreeMap::from([
                ("instance".to_string(), vec![i.clone()]),
                ("key_pair".to_string(), vec![k.clone()]),
            ]);
            // Already unbound (the case did it) is fine.
            let _ = call(runner, endpoint, &spec, &given, &[], &r.bindings).await;
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
            let batch = spec
                .parameters
                .iter()
                .find(|p| {
                    p.references
                        .as_ref()
                        .is_some_and(|x| x.resource == "key_pair")
                })
                .and_then(|p| p.max_items)
                .unwrap_or(1)
                .max(1);
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
    for (sym, before) in &r.lent {
        if let Err(e) =
            super::sandbox::restore(runner, case, endpoint, &r.bindings, sym, before).await
        {
            runner
                .ledger
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .problem(
                    &format!("{}/{}", case.action.provider, case.action.service),
                    "instance",
                    &before.id,
                    &e,
                );
            problems.push(e);
        }
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(problems.join("; "))
    }
}
