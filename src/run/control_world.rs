//! Worlds placed through the emulator's control API (`PUT /_cloudconform/world`): the embedded
//! emulator's worlds, with concrete ids and names derived from the provider formats and the case
//! id so the same case always gets the same world; and, on a URL target that offers the control
//! API, what no documented call can do (`Control`).
use super::bind::{Bindings, Bound};
use super::exec::Endpoint;
use super::Runner;
use crate::emulator::{Account, AccountRole, World};
use crate::generate::{resource_format, values::stable_hash, Caller, Case};
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

/// The emulator's accounts (from its default world).
#[derive(Debug, Clone, Default)]
pub struct Accounts {
    list: Vec<Account>,
}

impl Accounts {
    /// The credentials for `caller`: the target emulator's account of that role, else the
    /// documented default world's (`worlds/default.json`, the one place those literals live).
    pub fn for_caller(&self, provider: Provider, caller: Caller) -> Credentials {
        let role = match caller {
            Caller::Root => AccountRole::Root,
            Caller::Denied => AccountRole::DeniedSubuser,
        };
        let defaults = World::default().accounts;
        let found = self
            .list
            .iter()
            .chain(defaults.iter())
            .find(|a| a.provider == provider && a.role == role);
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

/// The emulator's default world, fetched once per run (after a reset).
pub async fn default_world(runner: &Runner, endpoint: &Endpoint) -> Result<Value, String> {
    runner
        .default_world
        .get_or_try_init(|| async {
            control(runner, endpoint, "reset", &json!({})).await?;
            get_world(runner, endpoint, true).await
        })
        .await
        .cloned()
}

pub async fn accounts(runner: &Runner, endpoint: &Endpoint, _provider: Provider) -> Accounts {
    if !runner.target.is_emulator() {
        return Accounts::default();
    }
    let list = default_world(runner, endpoint)
        .await
        .ok()
        .and_then(|w| w.get("accounts").cloned())
        .and_then(|a| serde_json::from_value(a).ok())
        .unwrap_or_default();
    Accounts { list }
}

/// Concrete ids and names for a case's symbols, derived from the formats and the case id.
pub fn bind_world(runner: &Runner, case: &Case, region: &str) -> Result<Bindings, String> {
    let specs = &runner.specs;
    let action = specs
        .action(&case.action)
        .ok_or_else(|| format!("no spec for {}", case.action))?;
    let formats: Vec<((&str, RefBy), Option<crate::generate::values::FormatInfo>)> = [
        ("key_pair", RefBy::Id),
        ("key_pair", RefBy::Name),
        ("instance", RefBy::Id),
        ("image", RefBy::Id),
    ]
    .into_iter()
    .map(|(r, by)| ((r, by), resource_format(specs, action, r, by)))
    .collect();
    let make = |resource: &str, by: RefBy, sym: &str, fallback: &str| -> String {
        let salt = stable_hash(&[&case.id, sym, resource]);
        formats
            .iter()
            .find(|((r, b), _)| *r == resource && *b == by)
            .and_then(|(_, f)| f.as_ref())
            .and_then(|f| f.make(salt))
            .unwrap_or_else(|| {
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
        let id = make("key_pair", RefBy::Id, &k.sym, "key-");
        let name = make("key_pair", RefBy::Name, &k.sym, "cc");
        b.objects.insert(k.sym.clone(), Bound { id, name });
    }
    for i in &case.world.instances {
        let id = make("instance", RefBy::Id, &i.sym, "i-");
        b.objects.insert(
            i.sym.clone(),
            Bound {
                id: id.clone(),
                name: id,
            },
        );
    }
    for m in &case.world.images {
        let id = make("image", RefBy::Id, &m.sym, "img-");
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
pub fn service_json(case: &Case, b: &Bindings) -> Value {
    if case.world.made_up {
        return json!({"instances": [], "images": [], "key_pairs": []});
    }
    let id = |s: &str| b.objects.get(s).map(|x| x.id.clone()).unwrap_or_default();
    json!({
        "instances": case.world.instances.iter().map(|i| json!({
            "id": id(&i.sym), "os": i.os, "state": i.state, "region": b.region,
            "keys": i.keys.iter().map(|k| id(k)).collect::<Vec<_>>(),
        })).collect::<Vec<_>>(),
        "images": case.world.images.iter().map(|m| json!({
            "id": id(&m.sym), "keys": m.keys.iter().map(|k| id(k)).collect::<Vec<_>>(),
        })).collect::<Vec<_>>(),
        "key_pairs": case.world.key_pairs.iter().map(|k| {
            let bound = &b.objects[&k.sym];
            json!({"id": bound.id, "name": bound.name, "region": b.region})
        }).collect::<Vec<_>>(),
    })
}

pub async fn realise_on_emulator(
    runner: &Runner,
    case: &Case,
    endpoint: &Endpoint,
) -> Result<Realised, String> {
    let mut world = default_world(runner, endpoint).await?;
    let provider = case.action.provider.as_str();
    let region = world
        .pointer(&format!("/regions/{provider}/0"))
        .and_then(Value::as_str)
        .map(str::to_string)
        .or_else(|| {
            World::default()
                .regions(case.action.provider)
                .first()
                .cloned()
        })
        .unwrap_or_default();
    let bindings = bind_world(runner, case, &region)?;
    let svc = format!("{provider}/{}", case.action.service);
    if let Some(services) = world.get_mut("services").and_then(Value::as_object_mut) {
        services.insert(svc, service_json(case, &bindings));
    } else if let Some(obj) = world.as_object_mut() {
        obj.insert(
            "services".into(),
            json!({ svc: service_json(case, &bindings) }),
        );
    }
    send_control(
        runner,
        reqwest::Method::PUT,
        endpoint,
        "world",
        Some(&world),
    )
    .await?;
    Ok(Realised {
        bindings,
        ..Default::default()
    })
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
