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
    /// Region every case runs in (of this provider, in a section).
    #[serde(default)]
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
    /// The top-level prefix is the one used, also for cases of a `providers` section.
    #[serde(default = "default_key_prefix")]
    pub key_prefix: String,
    /// One section per provider (`tencent`, `alibaba`), each with its region and instances,
    /// for a URL that serves both.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub providers: BTreeMap<String, Profile>,
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
    /// Key pair ids bound to it that the run may use where no documented API binds keys
    /// (ECM binds them only at RunInstances). Such a binding is never consumed: cases that
    /// would remove it are inconclusive, since nothing could restore it.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub keys: Vec<String>,
}

impl ProfileInstance {
    pub fn allows(&self, op: &str) -> bool {
        self.allow
            .as_ref()
            .is_none_or(|a| a.iter().any(|x| x == op))
    }
}

/// Which profile instances are in use by a running case: cases that need instances run
/// concurrently as long as they need different ones.
#[derive(Default)]
pub struct Claims {
    busy: tokio::sync::Mutex<std::collections::BTreeSet<String>>,
    freed: tokio::sync::Notify,
}

impl Claims {
    /// Claim one profile instance per need (service, os, lent keys), waiting while others hold
    /// them; an error when the profile could never satisfy the needs.
    async fn claim(
        &self,
        profile: &Profile,
        needs: &[(&str, &str, usize)],
    ) -> Result<Vec<usize>, String> {
        let fits = |i: &ProfileInstance, (svc, os, keys): &(&str, &str, usize)| {
            i.service == *svc && i.os == *os && i.keys.len() >= *keys
        };
        let assign = |taken: &std::collections::BTreeSet<String>| -> Option<Vec<usize>> {
            let mut picked: Vec<usize> = Vec::new();
            for need in needs {
                let pos = profile.instances.iter().enumerate().position(|(n, i)| {
                    !taken.contains(&i.id) && !picked.contains(&n) && fits(i, need)
                })?;
                picked.push(pos);
            }
            Some(picked)
        };
        if assign(&Default::default()).is_none() {
            let (svc, os, keys) = needs
                .iter()
                .find(|n| {
                    profile.instances.iter().filter(|i| fits(i, n)).count()
                        < needs.iter().filter(|m| *m == *n).count()
                })
                .copied()
                .unwrap_or(("", "", 0));
            let with_keys = if keys > 0 {
                format!(" lending {keys} bound key(s)")
            } else {
                String::new()
            };
            return Err(format!(
                "needs {} {os} instance(s) of {svc}{with_keys}; the profile lends fewer",
                needs.iter().filter(|n| n.0 == svc && n.1 == os).count()
            ));
        }
        loop {
            let notified = self.freed.notified();
            {
                let mut busy = self.busy.lock().await;
                if let Some(picked) = assign(&busy) {
                    busy.extend(picked.iter().map(|n| profile.instances[*n].id.clone()));
                    return Ok(picked);
                }
            }
            notified.await;
        }
    }

    async fn release(&self, claimed: &[String]) {
        if claimed.is_empty() {
            return;
        }
        let mut busy = self.busy.lock().await;
        for n in claimed {
            busy.remove(n);
        }
        drop(busy);
        self.freed.notify_waiters();
    }
}

impl Profile {
    pub fn load(path: &Path) -> Result<Profile, String> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("cannot read profile {}: {e}", path.display()))?;
        let p: Profile =
            serde_json::from_str(&text).map_err(|e| format!("profile {}: {e}", path.display()))?;
        let sections = std::iter::once(("".to_string(), &p)).chain(
            p.providers
                .iter()
                .map(|(k, v)| (format!("/providers/{k}"), v)),
        );
        for (at, section) in sections {
            for (n, i) in section.instances.iter().enumerate() {
                for op in i.allow.iter().flatten() {
                    if !OPERATIONS.contains(&op.as_str()) {
                        return Err(format!(
                            "profile {}: {at}/instances/{n}/allow: unknown operation `{op}` (one of {})",
                            path.display(),
                            OPERATIONS.join(", ")
                        ));
                    }
                }
            }
        }
        if p.key_prefix.is_empty() {
            return Err(format!(
                "profile {}: /key_prefix is empty; cleanup needs a prefix to recognise the run's keys",
                path.display()
            ));
        }
        if p.region.is_empty() && p.regions.is_empty() && p.providers.is_empty() {
            return Err(format!(
                "profile {}: no region; give `region`, `regions`, or a section per provider under `providers`",
                path.display()
            ));
        }
        Ok(p)
    }

    /// The region for a provider's cases: its `providers` section's, else `regions`', else
    /// `region`.
    pub fn region_for(&self, provider: Provider) -> &str {
        if let Some(s) = self.providers.get(provider.as_str()) {
            if !s.region.is_empty() || !s.regions.is_empty() {
                return s.region_for(provider);
            }
        }
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
            providers: BTreeMap::new(),
        }
    }
}

impl Profile {
    /// The section for a provider's cases: its entry under `providers`, else the profile itself.
    pub fn for_provider(&self, provider: Provider) -> &Profile {
        self.providers.get(provider.as_str()).unwrap_or(self)
    }
}

/// The emulator's control API on a target that offers it: what no documented call can do
/// (hold an instance in a transient state, restore a lent ECM binding, an image holding a key)
/// is done through it there, and is inconclusive elsewhere.
#[derive(Default)]
pub struct Control {
    offered: tokio::sync::OnceCell<bool>,
    /// Requests hold it shared; a world edit holds it alone, so no request changes the world
    /// between the edit's read and write.
    pub(super) gate: tokio::sync::RwLock<()>,
}

impl Control {
    async fn offered(&self, runner: &Runner, endpoint: &Endpoint) -> bool {
        *self
            .offered
            .get_or_init(|| async {
                runner
                    .client
                    .get(format!("{}/_cloudconform/health", endpoint.base))
                    .timeout(runner.opts.timeout)
                    .send()
                    .await
                    .is_ok_and(|r| r.status().is_success())
            })
            .await
    }

    /// Change the target's world in one step (read, edit, write) with no request in between.
    async fn edit(
        &self,
        runner: &Runner,
        endpoint: &Endpoint,
        service: &str,
        f: impl FnOnce(&mut Value),
    ) -> Result<(), String> {
        let _alone = self.gate.write().await;
        let mut world = super::fixtures::get_world(runner, endpoint, true).await?;
        let svc = world
            .pointer_mut(&format!("/services/{}", service.replace('/', "~1")))
            .ok_or_else(|| format!("control API: the world has no service {service}"))?;
        f(svc);
        super::fixtures::put_world(runner, endpoint, &world).await
    }
}

fn instance_mut<'a>(svc: &'a mut Value, id: &str) -> Option<&'a mut Value> {
    svc.get_mut("instances")?
        .as_array_mut()?
        .iter_mut()
        .find(|i| i.get("id").and_then(Value::as_str) == Some(id))
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
        r.bindings =
            super::fixtures::bind_world(runner, case, profile.region_for(case.action.provider))?;
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
    let lends_keys = bind.is_none() && case.world.instances.iter().any(|i| !i.keys.is_empty());
    if lends_keys && !control && case.steps.iter().any(|s| s.expect.is_success()) {
        return Err(format!(
            "would remove a key binding of {} that no documented call can restore (keys are bound only at RunInstances)",
            case.action.service
        ));
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
            for k in &inst.keys {
                let given = BTreeMap::from([
                    ("instance".to_string(), vec![inst.sym.clone()]),
                    ("key_pair".to_string(), vec![k.clone()]),
                ]);
                // Recorded first: a lost answer may still have bound it.
                r.bound.push((inst.sym.clone(), k.clone()));
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
        let made =
            super::fixtures::bind_world(runner, case, profile.region_for(case.action.provider))?;
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
                for id in created {
                    ledger.deleted(id);
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
