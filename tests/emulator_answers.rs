//! The emulator writes success answers straight from a compiled plan of the response schema
//! (`src/emulator/actions/write.rs`); the reference filler builds the same answer as a
//! `serde_json::Value` tree (`actions/value.rs`). This property test sends the same requests —
//! every action of every spec, with parameters drawn from the world or made up, so successes
//! and errors both occur — to two emulators over the same generated world, one answering with
//! each filler, and requires byte-identical answers (status, headers, body; the RequestIds
//! aside, which are random).
mod emulator_support;

use cloudconform::emulator::{Emulator, EmulatorConfig, ServiceState, World};
use cloudconform::http::RawRequest;
use cloudconform::sign::Scheme;
use cloudconform::spec::{ActionSpec, ParamType, Provider, RefBy, SpecSet};
use emulator_support::{signed, ROOT_ID, ROOT_SECRET};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestRng, TestRunner};
use serde_json::{json, Value};
use std::sync::Arc;

const HOST: &str = "127.0.0.1:18765";

/// Strings that test escaping and wildcards.
const ODD: &[&str] = &[
    "cc_*",
    "*",
    "skey-a b*~'()!/中+&=",
    "quote\"back\\slash",
    "tab\there\nnewline\u{1}",
    "",
    "true",
    "12",
];

/// The default world, changed at random: resources dropped, states flipped, key pairs with odd
/// names and instances added (some bound to them, some in other regions).
fn world(rng: &mut TestRng) -> World {
    let mut w = World::default();
    let regions: Vec<(Provider, Vec<String>)> =
        w.regions.iter().map(|(p, r)| (*p, r.clone())).collect();
    let keys: Vec<String> = w.services.keys().cloned().collect();
    for key in keys {
        let provider = if key.starts_with("tencent") {
            Provider::Tencent
        } else {
            Provider::Alibaba
        };
        let regions = &regions.iter().find(|(p, _)| *p == provider).unwrap().1;
        let svc = w.service_mut(&key);
        let keep = rng.random_range(2..=10);
        svc.instances.retain(|_| rng.random_range(0..10) < keep);
        svc.key_pairs.retain(|_| rng.random_range(0..10) < keep);
        let known: Vec<String> = svc.key_pairs.iter().map(|k| k.id.clone()).collect();
        for i in svc.instances.iter_mut() {
            i.keys.retain(|k| known.contains(k));
        }
        for i in svc.images.iter_mut() {
            i.keys.retain(|k| known.contains(k));
        }
        for i in svc.instances.iter_mut() {
            if rng.random_bool(0.3) {
                i.state = if i.state.chars().any(|c| c.is_lowercase()) {
                    if i.state == "Running" {
                        "Stopped".into()
                    } else {
                        "Running".into()
                    }
                } else if i.state == "RUNNING" {
                    "STOPPED".into()
                } else {
                    "RUNNING".into()
                };
            }
        }
        for n in 0..rng.random_range(0..4) {
            let mut k = svc.key_pairs.first().cloned();
            if let Some(k) = k.as_mut() {
                // Some ids need escaping too (they appear inside longer strings: PublicKey).
                k.id = if n % 2 == 1 {
                    format!("{}\"x\\\t{n}", k.id)
                } else {
                    format!("{}x{n}", k.id)
                };
                k.name = format!("{}{n}", ODD[rng.random_range(0..ODD.len())]);
                k.region = regions[rng.random_range(0..regions.len())].clone();
                svc.key_pairs.push(k.clone());
                if let Some(mut i) = svc.instances.first().cloned() {
                    i.id = format!("{}x{n}", i.id);
                    i.region = k.region.clone();
                    i.keys = if rng.random_bool(0.5) {
                        vec![k.id.clone()]
                    } else {
                        Vec::new()
                    };
                    svc.instances.push(i);
                }
            }
        }
    }
    w
}

/// A value for one parameter: from the world where it names a resource, else made up.
fn value(rng: &mut TestRng, w: &World, service: &str, p: &cloudconform::spec::Parameter) -> Value {
    let svc = w.service(service);
    let named = |rng: &mut TestRng| -> Value {
        let r = p.references.as_ref();
        let pick = |rng: &mut TestRng, all: Vec<String>| -> Value {
            if all.is_empty() || rng.random_bool(0.15) {
                json!(ODD[rng.random_range(0..ODD.len())])
            } else {
                json!(all[rng.random_range(0..all.len())])
            }
        };
        match (r.map(|r| (r.resource.as_str(), r.by)), svc) {
            (Some(("instance", _)), Some(s)) => {
                pick(rng, s.instances.iter().map(|i| i.id.clone()).collect())
            }
            (Some(("key_pair", RefBy::Id)), Some(s)) => {
                pick(rng, s.key_pairs.iter().map(|k| k.id.clone()).collect())
            }
            (Some(("key_pair", RefBy::Name)), Some(s)) => {
                pick(rng, s.key_pairs.iter().map(|k| k.name.clone()).collect())
            }
            _ => match rng.random_range(0..4) {
                0 if !p.allowed.is_empty() => {
                    p.allowed[rng.random_range(0..p.allowed.len())].clone()
                }
                1 => p.example.clone().unwrap_or(json!("x")),
                _ => json!(ODD[rng.random_range(0..ODD.len())]),
            },
        }
    };
    match p.ty {
        ParamType::Integer => match rng.random_range(0..5) {
            0 => json!("7"),
            1 => json!(-1),
            _ => json!(rng.random_range(0..120)),
        },
        ParamType::Boolean => json!(rng.random_bool(0.5)),
        ParamType::Array if p.name == "Filters" => {
            let names = [
                "key-name",
                "key-id",
                "instance-id",
                "instance-state",
                "zone",
            ];
            json!([{
                "Name": names[rng.random_range(0..names.len())],
                "Values": [named(rng)],
            }])
        }
        ParamType::Array => {
            let n = rng.random_range(0..4);
            Value::Array((0..n).map(|_| named(rng)).collect())
        }
        _ => named(rng),
    }
}

/// One signed request for `action` with random parameters (sometimes a required one left out).
fn request(rng: &mut TestRng, w: &World, action: &ActionSpec) -> RawRequest {
    let service = format!("{}/{}", action.provider, action.service);
    let mut params: Vec<(String, Value)> = Vec::new();
    for p in &action.parameters {
        if rng.random_bool(if p.required { 0.92 } else { 0.5 }) {
            params.push((p.name.clone(), value(rng, w, &service, p)));
        }
    }
    let regions = w.regions(action.provider);
    let region = (!regions.is_empty() && rng.random_bool(0.9))
        .then(|| regions[rng.random_range(0..regions.len())].clone());
    let key = (ROOT_ID, ROOT_SECRET);
    match action.provider {
        Provider::Tencent => {
            let body: serde_json::Map<String, Value> = params.into_iter().collect();
            signed(
                Scheme::Tc3HmacSha256,
                HOST,
                &action.action,
                &action.version,
                region.as_deref(),
                &[],
                Some(&Value::Object(body)),
                key,
            )
        }
        Provider::Alibaba => {
            let mut flat: Vec<(String, String)> = Vec::new();
            for (name, v) in params {
                let v = if name == "RegionId" {
                    region.clone().map(Value::from).unwrap_or(v)
                } else {
                    v
                };
                match v {
                    Value::String(s) => flat.push((name, s)),
                    Value::Array(items) if rng.random_bool(0.3) => {
                        for (n, item) in items.iter().enumerate() {
                            let text = item.as_str().map_or(item.to_string(), str::to_string);
                            flat.push((format!("{name}.{}", n + 1), text));
                        }
                    }
                    other => flat.push((name, other.to_string())),
                }
            }
            let flat: Vec<(&str, &str)> =
                flat.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
            signed(
                Scheme::Acs3HmacSha256,
                HOST,
                &action.action,
                &action.version,
                None,
                &flat,
                None,
                key,
            )
        }
    }
}

/// The ids of resources in `after` that `before` did not have, in world order.
fn created(before: &World, after: &World) -> Vec<String> {
    let ids = |w: &World| -> Vec<String> {
        w.services
            .values()
            .flat_map(|s| {
                s.key_pairs
                    .iter()
                    .map(|k| k.id.clone())
                    .chain(s.instances.iter().map(|i| i.id.clone()))
            })
            .collect()
    };
    let old = ids(before);
    ids(after)
        .into_iter()
        .filter(|id| !old.contains(id))
        .collect()
}

/// The answer with its RequestId and the ids it created replaced by fixed ones.
fn normalised(
    r: &cloudconform::http::RawResponse,
    created: &[String],
) -> (u16, Vec<(String, String)>, String) {
    let body = String::from_utf8_lossy(&r.body).to_string();
    let parsed: Value = serde_json::from_str(&body).unwrap_or(Value::Null);
    let id = parsed
        .pointer("/Response/RequestId")
        .or_else(|| parsed.get("RequestId"))
        .and_then(Value::as_str)
        .unwrap_or("no request id")
        .to_string();
    let mut body = body.replace(&id, "REQUEST-ID");
    for (n, c) in created.iter().enumerate() {
        body = body.replace(c, &format!("CREATED-{n}"));
    }
    // A created key pair's fingerprint is derived from its random id.
    if !created.is_empty() {
        let mark = "\"KeyPairFingerPrint\":\"";
        if let Some(at) = body.find(mark) {
            let start = at + mark.len();
            if let Some(len) = body[start..].find('"') {
                body.replace_range(start..start + len, "FINGERPRINT");
            }
        }
    }
    (r.status, r.headers.clone(), body)
}

#[test]
fn direct_answers_equal_the_reference_filler_byte_for_byte() {
    let specs = Arc::new(SpecSet::load_default().expect("specs load"));
    let actions: Vec<Arc<ActionSpec>> = specs.actions().cloned().collect();
    let mut runner = TestRunner::new(Config {
        cases: 48,
        failure_persistence: None,
        ..Config::default()
    });
    let (mut successes, mut errors) = (0usize, 0usize);
    for _ in 0..48 {
        let rng = runner.rng();
        let w = world(rng);
        let config = || EmulatorConfig {
            specs: Some(specs.clone()),
            world: Some(w.clone()),
            ..EmulatorConfig::default()
        };
        let direct = Emulator::new(config()).expect("emulator");
        let reference = Emulator::new(config()).expect("emulator");
        for round in 0..2 {
            for action in &actions {
                // Created ids are random: each request starts from the same world, and ids
                // created by it are named by their order in both answers.
                let before = direct.world();
                reference.set_world(before.clone()).expect("same world");
                let req = request(rng, &before, action);
                let a = direct.handle_raw(req.clone());
                let b = reference.handle_raw_reference(req.clone());
                let a = normalised(&a, &created(&before, &direct.world()));
                let b = normalised(&b, &created(&before, &reference.world()));
                assert_eq!(
                    a,
                    b,
                    "round {round}, {} {}: the direct writer (left) differs from the reference \
                     filler (right) for {:?}",
                    action.service,
                    action.action,
                    String::from_utf8_lossy(&req.body)
                );
                if a.2.contains("\"Error\"") || a.0 != 200 {
                    errors += 1;
                } else {
                    successes += 1;
                }
            }
        }
    }
    // Both kinds of answers were compared, many times.
    assert!(
        successes > 500 && errors > 500,
        "{successes} successes, {errors} errors"
    );
}

/// The default world with 250 more CVM resources, made by `add` (its number and the region it
/// goes in: the first three regions in turn, so a page that ignored the region would differ).
fn cvm_world_with_250(add: impl Fn(&mut ServiceState, usize, &str)) -> World {
    let mut w = World::default();
    let regions = w.regions(Provider::Tencent).to_vec();
    let svc = w.service_mut("tencent/cvm");
    for n in 0..250 {
        add(svc, n, &regions[n % regions.len().min(3)]);
    }
    w
}

/// What a paged CVM describe lists, unfiltered (from the region index) and with a filter that
/// keeps everything (a walk of the world): the two must give the same total and ids on every
/// page, past the end too. Returns how many ids the pages listed.
fn indexed_and_walked_pages_agree(
    world: World,
    action: &str,
    list: &str,
    id_field: &str,
    keep_all: Value,
    pages: &[(usize, usize)],
) -> usize {
    let e = Emulator::new(EmulatorConfig {
        world: Some(world),
        ..EmulatorConfig::default()
    })
    .expect("emulator");
    let page = |offset: usize, limit: usize, filtered: bool| -> (Value, Value) {
        let mut body = json!({"Offset": offset, "Limit": limit});
        if filtered {
            body["Filters"] = keep_all.clone();
        }
        let r = e.handle_raw(emulator_support::cvm_call(HOST, action, body));
        let v = emulator_support::ok_json(&r);
        (
            v["Response"]["TotalCount"].clone(),
            v["Response"][list]
                .as_array()
                .expect("a list")
                .iter()
                .map(|item| item[id_field].clone())
                .collect(),
        )
    };
    let mut listed = 0;
    for &(offset, limit) in pages {
        let (total, ids) = page(offset, limit, false);
        assert_eq!(
            (total.clone(), ids.clone()),
            page(offset, limit, true),
            "{action} page at {offset}, limit {limit}: index (left) vs walk (right)"
        );
        assert!(total.as_u64().unwrap() > 80, "{total}");
        listed += ids.as_array().unwrap().len();
    }
    listed
}

/// Pages of `DescribeInstances`, in a world whose instances alternate between regions.
#[test]
fn indexed_pages_equal_walked_pages() {
    let w = cvm_world_with_250(|svc, n, region| {
        let mut i = svc.instances[0].clone();
        i.id = format!("ins-page{n:04}");
        i.region = region.to_string();
        i.keys.clear();
        svc.instances.push(i);
    });
    let listed = indexed_and_walked_pages_agree(
        w,
        "DescribeInstances",
        "InstanceSet",
        "InstanceId",
        json!([{"Name": "instance-state", "Values": ["RUNNING", "STOPPED"]}]),
        &[
            (0, 100),
            (100, 100),
            (37, 13),
            (0, 1),
            (240, 100),
            (5000, 100),
        ],
    );
    assert!(listed > 150, "{listed}");
}

/// Pages of `DescribeKeyPairs` (key pairs have a region index too), key pairs alternating
/// between regions; `project-id` 0 is answered by every key pair.
#[test]
fn indexed_key_pair_pages_equal_walked_pages() {
    let w = cvm_world_with_250(|svc, n, region| {
        let mut k = svc.key_pairs[0].clone();
        k.id = format!("skey-page{n:04}");
        k.name = format!("cc_page_{n}");
        k.region = region.to_string();
        svc.key_pairs.push(k);
    });
    let listed = indexed_and_walked_pages_agree(
        w,
        "DescribeKeyPairs",
        "KeyPairSet",
        "KeyId",
        json!([{"Name": "project-id", "Values": ["0"]}]),
        &[(0, 100), (37, 13), (0, 1), (80, 100), (5000, 100)],
    );
    assert!(listed > 100, "{listed}");
}
