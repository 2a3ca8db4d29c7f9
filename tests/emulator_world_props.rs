//! A stateful property test of the emulator: random sequences of fixture and seed actions
//! (attach/associate, detach/disassociate, create, delete, stop, start on CVM, ECS and ENS) from
//! the default world; each success's declared effect is checked through the Describe calls
//! afterwards, and the world's invariants after every step (no binding to a deleted key, at most
//! one key per ECS/ENS instance, states the provider spec lists).
mod emulator_support;

use cloudconform::emulator::{Emulator, EmulatorConfig, World};
use cloudconform::http::RawRequest;
use cloudconform::spec::Provider;
use emulator_support::{self as support, alibaba_call as alibaba, json_list as ids, ok_json};
use proptest::prelude::*;
use serde_json::{json, Value};

const ECS: &str = "2014-05-26";
const ENS: &str = "2017-11-10";
const HZ: &str = "cn-hangzhou";

fn tencent(host: &str, action: &str, body: Value) -> RawRequest {
    support::cvm_call(host, action, body)
}
// ---------------------------------------------------------------- stateful property test

#[derive(Debug, Clone, Copy)]
enum Service {
    Cvm,
    Ecs,
    Ens,
}

impl Service {
    fn key(self) -> &'static str {
        match self {
            Service::Cvm => "tencent/cvm",
            Service::Ecs => "alibaba/ecs",
            Service::Ens => "alibaba/ens",
        }
    }
}

/// One random step: which service, which action, and picks into the current pools.
#[derive(Debug, Clone)]
struct Op {
    service: Service,
    action: u8,
    instances: Vec<u8>,
    keys: Vec<u8>,
    fresh: u16,
}

fn op() -> impl Strategy<Value = Op> {
    (
        prop_oneof![Just(Service::Cvm), Just(Service::Ecs), Just(Service::Ens)],
        0u8..6,
        proptest::collection::vec(any::<u8>(), 1..4),
        proptest::collection::vec(any::<u8>(), 1..3),
        any::<u16>(),
    )
        .prop_map(|(service, action, instances, keys, fresh)| Op {
            service,
            action,
            instances,
            keys,
            fresh,
        })
}

const HOST: &str = "127.0.0.1:18765";

/// What a success must show afterwards. Keys are ids on CVM (LoginSettings.KeyIds) and names on
/// ECS/ENS (DescribeInstances shows KeyPairName).
enum Effect {
    /// These instances hold exactly these keys, in any order.
    Holds(Vec<String>, Vec<String>),
    /// These instances do not hold this key.
    NotHolding(Vec<String>, String),
    /// A key pair with this name is listed (or not).
    KeyListed(String, bool),
    /// These instances are in this state.
    State(Vec<String>, String),
}

struct Step {
    request: RawRequest,
    /// Given the answer (a success), the effect to check.
    effect: Box<dyn Fn(&Value) -> Effect>,
}

fn pick<T: Clone>(pool: &[T], i: u8) -> T {
    pool[i as usize % pool.len()].clone()
}

/// Instances named by the step: the service's named fixtures, two of the bulk, and one that
/// does not exist.
fn instance_pool(world: &World, service: Service) -> Vec<String> {
    let svc = &world.services[service.key()];
    let mut pool: Vec<String> = svc.instances.iter().take(6).map(|i| i.id.clone()).collect();
    pool.push(match service {
        Service::Cvm => "ins-zzzzzzzz".into(),
        _ => "i-zzzzzzzzzzzzzzzz".into(),
    });
    pool
}

/// Key pairs (id, name): named fixtures, keys the sequence created, one that does not exist.
fn key_pool(world: &World, service: Service) -> Vec<(String, String)> {
    let svc = &world.services[service.key()];
    let mut pool: Vec<(String, String)> = svc
        .key_pairs
        .iter()
        .filter(|k| !k.name.contains("_bulk_") || k.name.ends_with("_0001"))
        .map(|k| (k.id.clone(), k.name.clone()))
        .collect();
    pool.push(match service {
        Service::Cvm => ("skey-zzzzzzzz".into(), "cc_missing".into()),
        _ => ("ssh-zzzzzzzz".into(), "cc_missing".into()),
    });
    pool
}

/// Instances whose per-item result says success (every named one when the action reports no
/// per-item results).
fn succeeded(body: &Value, named: &[String]) -> Vec<String> {
    let mut failed = Vec::new();
    collect_failed(body, &mut failed);
    named
        .iter()
        .filter(|i| !failed.contains(i))
        .cloned()
        .collect()
}

fn collect_failed(v: &Value, out: &mut Vec<String>) {
    match v {
        Value::Object(m) => {
            if let (Some(Value::String(id)), Some(s)) = (m.get("InstanceId"), m.get("Success")) {
                if s == &json!(false) || s == &json!("false") {
                    out.push(id.clone());
                }
            }
            m.values().for_each(|x| collect_failed(x, out));
        }
        Value::Array(a) => a.iter().for_each(|x| collect_failed(x, out)),
        _ => {}
    }
}

fn step(world: &World, op: &Op) -> Step {
    let instances: Vec<String> = {
        let pool = instance_pool(world, op.service);
        let mut v: Vec<String> = op.instances.iter().map(|i| pick(&pool, *i)).collect();
        v.dedup();
        v
    };
    let key = pick(&key_pool(world, op.service), op.keys[0]);
    let fresh_name = format!("ccprop{}", op.fresh);
    let one = instances[0].clone();
    let id_list: Vec<&str> = instances.iter().map(String::as_str).collect();
    match (op.service, op.action) {
        (Service::Cvm, 0) => {
            let keys: Vec<String> = {
                let pool = key_pool(world, op.service);
                let mut v: Vec<String> = op.keys.iter().map(|k| pick(&pool, *k).0).collect();
                v.dedup();
                v
            };
            let named = instances.clone();
            let bound = keys.clone();
            Step {
                request: tencent(
                    HOST,
                    "AssociateInstancesKeyPairs",
                    json!({"InstanceIds": instances, "KeyIds": keys, "ForceStop": op.fresh % 2 == 0}),
                ),
                effect: Box::new(move |_| Effect::Holds(named.clone(), bound.clone())),
            }
        }
        (Service::Cvm, 1) => {
            let named = instances.clone();
            let k = key.0.clone();
            Step {
                request: tencent(
                    HOST,
                    "DisassociateInstancesKeyPairs",
                    json!({"InstanceIds": instances, "KeyIds": [key.0], "ForceStop": op.fresh % 2 == 0}),
                ),
                effect: Box::new(move |_| Effect::NotHolding(named.clone(), k.clone())),
            }
        }
        (Service::Cvm, 2) => Step {
            request: tencent(HOST, "CreateKeyPair", json!({"KeyName": fresh_name})),
            effect: Box::new(move |_| Effect::KeyListed(fresh_name.clone(), true)),
        },
        (Service::Cvm, 3) => Step {
            request: tencent(HOST, "DeleteKeyPairs", json!({"KeyIds": [key.0]})),
            effect: Box::new(move |_| Effect::KeyListed(key.1.clone(), false)),
        },
        (Service::Cvm, 4) => Step {
            request: tencent(HOST, "StopInstances", json!({"InstanceIds": [one]})),
            effect: Box::new(move |_| Effect::State(vec![one.clone()], "STOPPED".into())),
        },
        (Service::Cvm, _) => Step {
            request: tencent(HOST, "StartInstances", json!({"InstanceIds": [one]})),
            effect: Box::new(move |_| Effect::State(vec![one.clone()], "RUNNING".into())),
        },
        (ali, action) => {
            let (version, ecs) = match ali {
                Service::Ecs => (ECS, true),
                _ => (ENS, false),
            };
            let region = |mut p: Vec<(&'static str, String)>| {
                if ecs {
                    p.push(("RegionId", HZ.into()));
                }
                p
            };
            // ECS names a key by name, ENS (recommended) by id.
            let key_param = if ecs {
                ("KeyPairName", key.1.clone())
            } else {
                ("KeyPairId", key.0.clone())
            };
            let named = instances.clone();
            let request =
                |a: &str, p: Vec<(&'static str, String)>| alibaba(HOST, version, a, &region(p));
            match action {
                0 => {
                    let kid = key.1.clone();
                    Step {
                        request: request(
                            "AttachKeyPair",
                            vec![key_param, ("InstanceIds", ids(&id_list))],
                        ),
                        effect: Box::new(move |body| {
                            Effect::Holds(succeeded(body, &named), vec![kid.clone()])
                        }),
                    }
                }
                1 => {
                    let kid = key.1.clone();
                    Step {
                        request: request(
                            "DetachKeyPair",
                            vec![key_param, ("InstanceIds", ids(&id_list))],
                        ),
                        effect: Box::new(move |body| {
                            Effect::NotHolding(succeeded(body, &named), kid.clone())
                        }),
                    }
                }
                2 => Step {
                    request: request("CreateKeyPair", vec![("KeyPairName", fresh_name.clone())]),
                    effect: Box::new(move |_| Effect::KeyListed(fresh_name.clone(), true)),
                },
                3 => {
                    let p = if ecs {
                        vec![("KeyPairNames", ids(&[key.1.as_str()]))]
                    } else {
                        vec![("KeyPairId", key.0.clone())]
                    };
                    Step {
                        request: request("DeleteKeyPairs", p),
                        effect: Box::new(move |_| Effect::KeyListed(key.1.clone(), false)),
                    }
                }
                4 => Step {
                    request: request("StopInstance", vec![("InstanceId", one.clone())]),
                    effect: Box::new(move |_| Effect::State(vec![one.clone()], "Stopped".into())),
                },
                _ => Step {
                    request: request("StartInstance", vec![("InstanceId", one.clone())]),
                    effect: Box::new(move |_| Effect::State(vec![one.clone()], "Running".into())),
                },
            }
        }
    }
}

/// DescribeInstances for `instances`: (id, bound keys, state); keys as ids on CVM, names on
/// ECS/ENS.
fn describe_instances(
    emu: &Emulator,
    service: Service,
    instances: &[String],
) -> Vec<(String, Vec<String>, String)> {
    if instances.is_empty() {
        return Vec::new(); // an empty filter would list every instance
    }
    let list: Vec<&str> = instances.iter().map(String::as_str).collect();
    let r = match service {
        Service::Cvm => emu.handle_raw(tencent(
            HOST,
            "DescribeInstances",
            json!({"InstanceIds": list, "Limit": 100}),
        )),
        Service::Ecs => emu.handle_raw(alibaba(
            HOST,
            ECS,
            "DescribeInstances",
            &[("RegionId", HZ.into()), ("InstanceIds", ids(&list))],
        )),
        Service::Ens => emu.handle_raw(alibaba(
            HOST,
            ENS,
            "DescribeInstances",
            &[("InstanceIds", ids(&list)), ("PageSize", "100".into())],
        )),
    };
    let body = ok_json(&r);
    let rows = match service {
        Service::Cvm => body["Response"]["InstanceSet"].clone(),
        _ => body["Instances"]["Instance"].clone(),
    };
    rows.as_array()
        .cloned()
        .unwrap_or_default()
        .iter()
        .map(|row| {
            let id = row["InstanceId"].as_str().unwrap_or_default().to_string();
            let (keys, state) = match service {
                Service::Cvm => (
                    row["LoginSettings"]["KeyIds"]
                        .as_array()
                        .map(|a| {
                            a.iter()
                                .filter_map(|k| k.as_str().map(str::to_string))
                                .collect()
                        })
                        .unwrap_or_default(),
                    row["InstanceState"].as_str().unwrap_or_default(),
                ),
                _ => {
                    let keys = match row["KeyPairName"].as_str() {
                        Some(name) if !name.is_empty() => vec![name.to_string()],
                        _ => Vec::new(),
                    };
                    (keys, row["Status"].as_str().unwrap_or_default())
                }
            };
            (id, keys, state.to_string())
        })
        .collect()
}

/// Every key pair DescribeKeyPairs lists: (id, name). Pages until the total is seen.
fn describe_key_names(emu: &Emulator, service: Service) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for page in 1.. {
        let r = match service {
            Service::Cvm => emu.handle_raw(tencent(
                HOST,
                "DescribeKeyPairs",
                json!({"Offset": (page - 1) * 100, "Limit": 100}),
            )),
            Service::Ecs => emu.handle_raw(alibaba(
                HOST,
                ECS,
                "DescribeKeyPairs",
                &[
                    ("RegionId", HZ.into()),
                    ("PageNumber", page.to_string()),
                    ("PageSize", "50".into()),
                ],
            )),
            Service::Ens => emu.handle_raw(alibaba(
                HOST,
                ENS,
                "DescribeKeyPairs",
                &[("PageNumber", page.to_string()), ("PageSize", "50".into())],
            )),
        };
        let body = ok_json(&r);
        let (rows, total) = match service {
            Service::Cvm => (
                body["Response"]["KeyPairSet"].clone(),
                body["Response"]["TotalCount"].as_u64(),
            ),
            _ => (
                body["KeyPairs"]["KeyPair"].clone(),
                body["TotalCount"].as_u64(),
            ),
        };
        let rows = rows.as_array().cloned().unwrap_or_default();
        for row in &rows {
            let id = row["KeyId"]
                .as_str()
                .or(row["KeyPairId"].as_str())
                .unwrap_or_default();
            let name = row["KeyName"]
                .as_str()
                .or(row["KeyPairName"].as_str())
                .unwrap_or_default();
            out.push((id.to_string(), name.to_string()));
        }
        if rows.is_empty() || out.len() as u64 >= total.unwrap_or(0) {
            break;
        }
    }
    out
}

fn check_effect(emu: &Emulator, service: Service, effect: Effect) -> Result<(), String> {
    match effect {
        Effect::Holds(instances, keys) => {
            for (id, held, _) in describe_instances(emu, service, &instances) {
                let mut want = keys.clone();
                let mut got = held.clone();
                want.sort();
                got.sort();
                if want != got {
                    return Err(format!("{id} shows keys {held:?} after binding {keys:?}"));
                }
            }
        }
        Effect::NotHolding(instances, key) => {
            for (id, held, _) in describe_instances(emu, service, &instances) {
                if held.contains(&key) {
                    return Err(format!("{id} still shows {key} after the unbind"));
                }
            }
        }
        Effect::KeyListed(name, listed) => {
            let names = describe_key_names(emu, service);
            if names.iter().any(|(_, n)| *n == name) != listed {
                return Err(format!(
                    "DescribeKeyPairs {} {name}",
                    if listed {
                        "does not list"
                    } else {
                        "still lists"
                    }
                ));
            }
        }
        Effect::State(instances, state) => {
            for (id, _, got) in describe_instances(emu, service, &instances) {
                if got != state {
                    return Err(format!("{id} is {got}, expected {state}"));
                }
            }
        }
    }
    Ok(())
}

/// No binding to a deleted key; at most one key per ECS/ENS instance; every state one the
/// provider spec lists; the world's own consistency rules.
fn invariants(emu: &Emulator) -> Result<(), String> {
    let world = emu.world();
    world.check().map_err(|e| e.to_string())?;
    for (name, svc) in &world.services {
        let provider = if name.starts_with("tencent/") {
            Provider::Tencent
        } else {
            Provider::Alibaba
        };
        let states = &emu.specs().provider(provider).unwrap().resources["instance"].states;
        for i in &svc.instances {
            if i.keys.iter().any(|k| svc.key_pair(k).is_none()) {
                return Err(format!("{name}: {} bound to a deleted key", i.id));
            }
            if name.starts_with("alibaba/") && i.keys.len() > 1 {
                return Err(format!("{name}: {} holds {:?}", i.id, i.keys));
            }
            if !states.contains(&i.state) {
                return Err(format!("{name}: {} in state {}", i.id, i.state));
            }
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn random_sequences_keep_effects_visible_and_the_world_valid(ops in proptest::collection::vec(op(), 1..30)) {
        let emu = Emulator::new(EmulatorConfig { rate_limits: false, ..EmulatorConfig::default() })
            .expect("emulator builds");
        for (n, op) in ops.iter().enumerate() {
            let before = emu.world();
            let step = step(&before, op);
            let r = emu.handle_raw(step.request);
            prop_assert!(r.status < 500, "step {n} {op:?}: HTTP {}", r.status);
            if support::error_code(&r).is_none() {
                let effect = (step.effect)(&support::json(&r));
                if let Err(e) = check_effect(&emu, op.service, effect) {
                    prop_assert!(false, "step {n} {op:?}: {e}\n{}", String::from_utf8_lossy(&r.body));
                }
            }
            if let Err(e) = invariants(&emu) {
                prop_assert!(false, "after step {n} {op:?}: {e}");
            }
        }
    }
}
