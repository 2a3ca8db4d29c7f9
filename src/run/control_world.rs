//! The emulator's worlds: each case's, with concrete ids and names derived from the provider
//! formats and the case id so the same case always gets the same world, placed in process
//! ([`super::placement`]) on the emulators the run started, else through the control API
//! (`PUT /_cloudconform/world`); and, on a URL target that offers the control API, what no
//! documented call can do (`Control`).
use super::bind::{Bindings, Bound};
use super::exec::Endpoint;
use super::Runner;
use crate::emulator::{Account, AccountRole, Image, Instance, KeyPair, ServiceState, World};
use crate::generate::values::{hash_prefix, stable_hash_after, FormatInfo};
use crate::generate::{Caller, Case};
use crate::sign::Credentials;
use crate::spec::{Provider, RefBy};
use serde_json::{json, Value};

/// A realised world: the bindings, and (live runs) what to undo afterwards.
#[derive(Debug, Clone, Default)]
pub struct Realised {
    pub bindings: Bindings,
    /// Live: key pair ids the run created (deleted afterwards).
    pub created_keys: Vec<String>,
    /// Live: (instance id, key id) bindings the run made.
    pub bound: Vec<(String, String)>,
    /// Live: (instance symbol, state Describe showed before the run).
    pub restore: Vec<(String, String)>,
    /// Live: lent instances (symbol) as described before the run changed them.
    pub lent: Vec<(String, super::sandbox::InstanceRecord)>,
    /// Live: indexes of the profile instances this case holds.
    pub claimed: Vec<usize>,
    /// Live: the ids of the claimed instances (freed after teardown).
    pub claimed_ids: Vec<String>,
    /// Live, through the target's control API: instance symbols held in a transient state,
    /// (instance id, lent key ids) to rebind, image ids made to hold keys.
    pub held: Vec<String>,
    pub relend: Vec<(String, Vec<String>)>,
    pub images: Vec<String>,
}

/// The emulator's accounts (from its default world, borrowed).
#[derive(Debug, Clone, Copy, Default)]
pub struct Accounts<'a> {
    list: &'a [Account],
}

impl Accounts<'_> {
    /// The credentials for `caller`: the target emulator's account of that role, else the
    /// documented default world's (`worlds/default.json`, the one place those literals live).
    pub fn for_caller(&self, provider: Provider, caller: Caller) -> Credentials {
        let (role, temporary) = match caller {
            Caller::Root => (AccountRole::Root, false),
            Caller::Denied => (AccountRole::DeniedSubuser, false),
            Caller::Temporary => (AccountRole::Root, true),
        };
        let wanted = |a: &&Account| {
            a.provider == provider && a.role == role && a.token.is_some() == temporary
        };
        let defaults;
        let found = match self.list.iter().find(wanted) {
            Some(a) => Some(a),
            None => {
                defaults = World::default().accounts;
                defaults.iter().find(wanted)
            }
        };
        match found {
            Some(a) => {
                let mut c = Credentials::new(&a.access_key_id, &a.secret);
                if let Some(t) = &a.token {
                    c.session_token = Some(crate::sign::Secret::new(t));
                }
                c
            }
            // A default world without the account is a broken build, caught by the world tests;
            // an empty key then fails the request visibly.
            None => Credentials::new("", ""),
        }
    }
}

fn control_url(endpoint: &Endpoint, what: &str) -> String {
    format!("{}/_cloudconform/{what}", endpoint.base)
}

/// `POST /_cloudconform/<what>` with a JSON body.
pub async fn control(
    runner: &Runner,
    endpoint: &Endpoint,
    what: &str,
    body: &Value,
) -> Result<Value, String> {
    send_control(runner, reqwest::Method::POST, endpoint, what, Some(body)).await
}

async fn send_control(
    runner: &Runner,
    method: reqwest::Method,
    endpoint: &Endpoint,
    what: &str,
    body: Option<&Value>,
) -> Result<Value, String> {
    let mut req = runner
        .client
        .request(method.clone(), control_url(endpoint, what))
        .timeout(runner.opts.timeout);
    if let Some(b) = body {
        req = req
            .header("content-type", "application/json")
            .body(b.to_string());
    }
    let resp = req.send().await.map_err(|e| {
        let e = e.without_url();
        format!(
            "control API {method} {what}: {}",
            super::exec::error_chain(&e)
        )
    })?;
    let status = resp.status();
    let bytes = resp
        .bytes()
        .await
        .map_err(|e| format!("control API {what}: {e}"))?;
    if !status.is_success() {
        return Err(format!(
            "control API {method} {what}: HTTP {status}: {}",
            String::from_utf8_lossy(&bytes)
        ));
    }
    Ok(serde_json::from_slice(&bytes).unwrap_or(Value::Null))
}

/// Replace the target's world (the control API answers without echoing it back).
pub async fn put_world(runner: &Runner, endpoint: &Endpoint, world: &Value) -> Result<(), String> {
    send_control(runner, reqwest::Method::PUT, endpoint, "world", Some(world))
        .await
        .map(|_| ())
}

/// The emulator's world; with `secrets`, the accounts' secrets too (the runner signs with them;
/// the control API redacts them otherwise).
pub async fn get_world(
    runner: &Runner,
    endpoint: &Endpoint,
    secrets: bool,
) -> Result<Value, String> {
    let what = if secrets {
        "world?secrets=true"
    } else {
        "world"
    };
    send_control(runner, reqwest::Method::GET, endpoint, what, None).await
}

/// The emulator's default world (accounts, regions), read once per run after a reset.
pub async fn default_world<'r>(
    runner: &'r Runner,
    endpoint: &Endpoint,
) -> Result<&'r World, String> {
    runner
        .default_world
        .get_or_try_init(|| async {
            if let Some(p) = &endpoint.placement {
                return Ok(p.0.reset());
            }
            control(runner, endpoint, "reset", &json!({})).await?;
            let world = get_world(runner, endpoint, true).await?;
            serde_json::from_value(world).map_err(|e| format!("control API world: {e}"))
        })
        .await
}

pub async fn accounts<'r>(runner: &'r Runner, endpoint: &Endpoint) -> Accounts<'r> {
    if !runner.target.is_emulator() {
        return Accounts::default();
    }
    match default_world(runner, endpoint).await {
        Ok(w) => Accounts { list: &w.accounts },
        Err(_) => Accounts::default(),
    }
}

/// The case's region: the emulator's first for the provider, else the documented default's.
pub fn region_of(world: &World, provider: Provider) -> String {
    match world.regions(provider).first() {
        Some(r) => r.clone(),
        None => World::default()
            .regions(provider)
            .first()
            .cloned()
            .unwrap_or_default(),
    }
}

/// Concrete ids and names for a case's symbols, derived from the formats and the case id.
pub fn bind_world(runner: &Runner, case: &Case, region: &str) -> Result<Bindings, String> {
    let action = runner
        .specs
        .action(&case.action)
        .ok_or_else(|| format!("no spec for {}", case.action))?;
    let case_hash = hash_prefix(&[&case.id]);
    // Looked up once per kind, not per object (batch worlds hold 100 of a kind).
    let lookup = |resource: &str, by: RefBy| runner.derived.resource_format(action, resource, by);
    let (key_id, key_name) = (
        lookup("key_pair", RefBy::Id),
        lookup("key_pair", RefBy::Name),
    );
    let (instance_id, image_id) = (lookup("instance", RefBy::Id), lookup("image", RefBy::Id));
    let make = |info: Option<&FormatInfo>, resource: &str, sym: &str, fallback: &str| {
        let salt = stable_hash_after(case_hash, &[sym, resource]);
        info.and_then(|f| f.make(salt)).unwrap_or_else(|| {
            format!(
                "{fallback}{}",
                crate::generate::values::chars_from(
                    b"0123456789abcdefghijklmnopqrstuvwxyz",
                    10,
                    salt
                )
            )
        })
    };
    let mut b = Bindings {
        region: region.to_string(),
        ..Default::default()
    };
    for k in &case.world.key_pairs {
        let id = make(key_id, "key_pair", &k.sym, "key-");
        let name = make(key_name, "key_pair", &k.sym, "cc");
        b.objects.insert(k.sym.clone(), Bound { id, name });
    }
    for i in &case.world.instances {
        let id = make(instance_id, "instance", &i.sym, "i-");
        b.objects.insert(
            i.sym.clone(),
            Bound {
                id: id.clone(),
                name: id,
            },
        );
    }
    for m in &case.world.images {
        let id = make(image_id, "image", &m.sym, "img-");
        b.objects.insert(
            m.sym.clone(),
            Bound {
                id: id.clone(),
                name: id,
            },
        );
    }
    Ok(b)
}

/// The case's service state in the emulator's world format.
pub fn service_state(case: &Case, b: &Bindings) -> ServiceState {
    if case.world.made_up {
        return ServiceState::default();
    }
    let id = |s: &str| b.objects.get(s).map(|x| x.id.clone()).unwrap_or_default();
    ServiceState {
        instances: case
            .world
            .instances
            .iter()
            .map(|i| Instance {
                id: id(&i.sym),
                os: i.os.clone(),
                state: i.state.clone(),
                region: b.region.clone(),
                keys: i.keys.iter().map(|k| id(k)).collect(),
            })
            .collect(),
        images: case
            .world
            .images
            .iter()
            .map(|m| Image {
                id: id(&m.sym),
                keys: m.keys.iter().map(|k| id(k)).collect(),
            })
            .collect(),
        key_pairs: case
            .world
            .key_pairs
            .iter()
            .map(|k| {
                let bound = &b.objects[&k.sym];
                KeyPair {
                    id: bound.id.clone(),
                    name: bound.name.clone(),
                    region: b.region.clone(),
                }
            })
            .collect(),
        ..ServiceState::default()
    }
}

/// Put the case's world in place: the default world with the case's service state, in process
/// where the endpoint allows it, else through the control API.
pub async fn realise_on_emulator(
    runner: &Runner,
    case: &Case,
    endpoint: &Endpoint,
) -> Result<Realised, String> {
    let default = default_world(runner, endpoint).await?;
    let region = region_of(default, case.action.provider);
    let bindings = bind_world(runner, case, &region)?;
    let svc = format!("{}/{}", case.action.provider, case.action.service);
    let state = service_state(case, &bindings);
    place(runner, endpoint, vec![(svc, state)]).await?;
    Ok(Realised {
        bindings,
        ..Default::default()
    })
}

/// Put service states (`provider/service`) in place, every other service as in the default
/// world: in process where the endpoint allows it, else through the control API.
pub async fn place(
    runner: &Runner,
    endpoint: &Endpoint,
    services: Vec<(String, ServiceState)>,
) -> Result<(), String> {
    if let Some(p) = &endpoint.placement {
        for (svc, state) in services {
            p.0.place_service(&svc, state)?;
        }
        return Ok(());
    }
    let mut world = default_world(runner, endpoint).await?.clone();
    world.services.extend(services);
    let world = serde_json::to_value(&world).map_err(|e| e.to_string())?;
    put_world(runner, endpoint, &world).await
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
    pub(super) async fn offered(&self, runner: &Runner, endpoint: &Endpoint) -> bool {
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
    pub(super) async fn edit(
        &self,
        runner: &Runner,
        endpoint: &Endpoint,
        service: &str,
        f: impl FnOnce(&mut Value),
    ) -> Result<(), String> {
        let _alone = self.gate.write().await;
        let mut world = get_world(runner, endpoint, true).await?;
        let svc = world
            .pointer_mut(&format!("/services/{}", service.replace('/', "~1")))
            .ok_or_else(|| format!("control API: the world has no service {service}"))?;
        f(svc);
        put_world(runner, endpoint, &world).await
    }
}

pub(super) fn instance_mut<'a>(svc: &'a mut Value, id: &str) -> Option<&'a mut Value> {
    svc.get_mut("instances")?
        .as_array_mut()?
        .iter_mut()
        .find(|i| i.get("id").and_then(Value::as_str) == Some(id))
}
