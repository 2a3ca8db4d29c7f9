//! Every request the official SDKs put on the wire (shared/captures/captures.jsonl), replayed
//! byte for byte against the in-process emulator: each gets a success envelope of the right
//! shape, and its effect shows in the world.
mod emulator_support;
mod shared_support;

use cloudconform::emulator::{route, World};
use cloudconform::http::RawRequest;
use cloudconform::sign::capture::{parse_captures, CaptureRecord};
use cloudconform::spec::Provider;
use cloudconform::wire::decode;
use emulator_support as support;
use serde_json::{json, Value};

const CAPTURES: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../shared/captures/captures.jsonl"
);

/// The business parameters a capture carries, as name → list of values.
fn params(r: &RawRequest) -> Vec<(String, Value)> {
    if r.body.first() == Some(&b'{') {
        let v: serde_json::Map<String, Value> = serde_json::from_slice(&r.body).unwrap();
        return v.into_iter().collect();
    }
    let mut pairs = decode::form_pairs(r.raw_query.as_bytes(), "query").unwrap();
    pairs.extend(decode::form_pairs(&r.body, "body").unwrap_or_default());
    let mut out: Vec<(String, Value)> = Vec::new();
    for (k, v) in pairs {
        let (name, indexed) = match k.split_once('.') {
            Some((n, _)) => (n.to_string(), true),
            None => (k, false),
        };
        match out.iter_mut().find(|(n, _)| *n == name) {
            Some((_, Value::Array(items))) if indexed => items.push(json!(v)),
            _ if indexed => out.push((name, json!([v]))),
            _ => out.push((name, json!(v))),
        }
    }
    out
}

fn strings(v: Option<&Value>) -> Vec<String> {
    match v {
        Some(Value::Array(a)) => a
            .iter()
            .filter_map(|s| s.as_str().map(String::from))
            .collect(),
        Some(Value::String(s)) if s.starts_with('[') => serde_json::from_str(s).unwrap(),
        Some(Value::String(s)) => vec![s.clone()],
        _ => Vec::new(),
    }
}

/// The default world plus the key pairs and instances the capture names: Linux, stopped,
/// bound to the named keys (unbound for a delete).
fn world_for(rec: &CaptureRecord, action: &str, service: &str) -> World {
    let mut world = World::default();
    let p = params(&rec.request);
    let get = |n: &str| p.iter().find(|(k, _)| k == n).map(|(_, v)| v);
    let svc = world.service_mut(service);
    let (region, stopped) = if service.starts_with("tencent") {
        ("ap-guangzhou", "STOPPED")
    } else {
        ("cn-hangzhou", "Stopped")
    };
    let mut key_ids = strings(get("KeyIds"));
    for (i, id) in key_ids.iter().enumerate() {
        svc.key_pairs.push(cloudconform::emulator::KeyPair {
            id: id.clone(),
            name: format!("capture_key_{i}"),
            region: region.into(),
        });
    }
    if let Some(name) = get("KeyPairName").and_then(Value::as_str) {
        let id = get("KeyPairId")
            .and_then(Value::as_str)
            .unwrap_or("ssh-capture00001")
            .to_string();
        svc.key_pairs.push(cloudconform::emulator::KeyPair {
            id: id.clone(),
            name: name.into(),
            region: region.into(),
        });
        key_ids.push(id);
    } else if let Some(id) = get("KeyPairId").and_then(Value::as_str) {
        svc.key_pairs.push(cloudconform::emulator::KeyPair {
            id: id.into(),
            name: "capture_key".into(),
            region: region.into(),
        });
        key_ids.push(id.into());
    }
    for id in strings(get("InstanceIds")) {
        svc.instances.push(cloudconform::emulator::Instance {
            id,
            os: "linux".into(),
            state: stopped.into(),
            region: region.into(),
            keys: if action == "DeleteKeyPairs" {
                vec![]
            } else {
                key_ids.clone()
            },
        });
    }
    world
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_capture_gets_a_success_envelope_of_its_actions_shape() {
    let text = shared_support::read(CAPTURES);
    let records = parse_captures(&text).expect("captures parse");
    assert_eq!(records.len(), 64);
    let emu = support::start().await;
    let specs = emu.specs().clone();
    let mut failures = Vec::new();
    for rec in &records {
        let provider = match rec.family.as_str() {
            "tencent" => Provider::Tencent,
            _ => Provider::Alibaba,
        };
        let (action, version) = (rec.action.clone().unwrap(), rec.version.clone().unwrap());
        let spec = route::find_action(&specs, provider, &action, &version)
            .unwrap_or_else(|_| panic!("#{} {action} {version} has a spec", rec.seq));
        let service = format!("{provider}/{}", spec.service);
        let world = world_for(rec, &action, &service);
        support::put_world(emu.addr, &world).await;
        let r = support::control(emu.addr, "POST", "clock", Some(&json!({"now": rec.ts}))).await;
        assert_eq!(r.status, 200);

        let answer = support::send(emu.addr, &rec.request).await;
        let body = String::from_utf8_lossy(&answer.body).into_owned();
        let v: Value = serde_json::from_slice(&answer.body).unwrap_or(Value::Null);
        let is_error = v.pointer("/Response/Error").is_some() || v.get("Code").is_some();
        if answer.status != 200 || is_error {
            failures.push(format!(
                "#{} {}: {} {body}",
                rec.seq, rec.label, answer.status
            ));
            continue;
        }
        let validator = specs.response_validator(&spec.key()).unwrap();
        let problems: Vec<String> = validator.iter_errors(&v).map(|e| e.to_string()).collect();
        if !problems.is_empty() {
            failures.push(format!(
                "#{} {}: shape {problems:?}: {body}",
                rec.seq, rec.label
            ));
        }
        // The effect: deleted keys are gone; detached keys are no longer bound.
        let after = emu.world();
        let svc = after.service(&service).unwrap();
        let p = params(&rec.request);
        let named_keys = strings(p.iter().find(|(k, _)| k == "KeyIds").map(|(_, v)| v));
        let gone = named_keys.iter().all(|k| svc.key_pair(k).is_none());
        let unbound = svc.instances.iter().all(|i| {
            !named_keys.iter().any(|k| i.keys.contains(k))
                && !i
                    .keys
                    .iter()
                    .any(|k| k.starts_with("ssh-capture") || k == "ssh-abc123")
        });
        let effect_ok = if action == "DeleteKeyPairs" {
            gone
        } else {
            unbound
        };
        if !effect_ok {
            failures.push(format!("#{} {}: effect not applied", rec.seq, rec.label));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of 64 captures failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

/// The message of a wrong signature carries what the server computed: Alibaba's documented
/// `…server string to sign is:<StringToSign>` (aliyun-python-sdk-core compares the part after
/// the `:` with its own), Tencent's documented message followed by the server's strings. And
/// an STS key used without its token gets the spec's missing-token code. Codes, statuses and
/// messages all come from the provider specs; the verifier only names the condition.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn auth_failures_are_answered_from_the_specs_with_what_the_server_computed() {
    use cloudconform::sign::{verify, Credentials, NonceCache, VerifyPolicy};
    let text = shared_support::read(CAPTURES);
    let records = parse_captures(&text).expect("captures parse");
    let emu = support::start().await;
    for rec in &records {
        let provider = rec.provider().unwrap();
        let (action, _) = (rec.action.clone().unwrap(), rec.version.clone().unwrap());
        let spec = route::find_action(
            emu.specs(),
            provider,
            &action,
            rec.version.as_deref().unwrap(),
        )
        .unwrap();
        let service = format!("{provider}/{}", spec.service);
        let mut world = world_for(rec, &action, &service);
        for account in world.accounts.iter_mut() {
            account.secret = "NOTTHESECRET".into();
        }
        support::put_world(emu.addr, &world).await;
        support::control(emu.addr, "POST", "clock", Some(&json!({"now": rec.ts}))).await;
        let answer = support::send(emu.addr, &rec.request).await;
        let v = support::json(&answer);
        let server_sts = verify(
            provider,
            &rec.request,
            &Credentials::new("AKIDEXAMPLE", "NOTTHESECRET"),
            &NonceCache::new(),
            &VerifyPolicy::at(rec.now()),
        )
        .unwrap_err()
        .debug
        .unwrap()
        .string_to_sign;
        let context = format!("#{} {}", rec.seq, rec.label);
        match provider {
            Provider::Alibaba => {
                assert_eq!(answer.status, 400, "{context}");
                assert_eq!(v["Code"], "SignatureDoesNotMatch", "{context}");
                let message = v["Message"].as_str().unwrap();
                let prefix = "Specified signature is not matched with our calculation. server string to sign is:";
                let rest = message
                    .strip_prefix(prefix)
                    .unwrap_or_else(|| panic!("{context}: {message}"));
                assert!(rest.starts_with(&server_sts), "{context}: {message}");
                if rec.request.header("authorization").is_none() {
                    // RPC: exactly the string to sign, as the SDK compares it.
                    assert_eq!(rest, server_sts, "{context}");
                }
            }
            Provider::Tencent => {
                assert_eq!(answer.status, 200, "{context}");
                let error = &v["Response"]["Error"];
                assert_eq!(error["Code"], "AuthFailure.SignatureFailure", "{context}");
                let message = error["Message"].as_str().unwrap();
                assert!(
                    message.starts_with("The provided credentials could not be validated.")
                        && message.contains(&server_sts),
                    "{context}: {message}"
                );
            }
        }
        assert!(!String::from_utf8_lossy(&answer.body).contains("NOTTHESECRET"));

        // The same key issued with a session token, used without it.
        let mut world = world_for(rec, &action, &service);
        for account in world.accounts.iter_mut() {
            account.token = Some("STS-TOKEN-1".into());
        }
        support::put_world(emu.addr, &world).await;
        let answer = support::send(emu.addr, &rec.request).await;
        let code = support::error_code(&answer);
        let want = match provider {
            Provider::Alibaba => ("MissingSecurityToken", 400),
            Provider::Tencent => ("AuthFailure.TokenFailure", 200),
        };
        assert_eq!(
            (code.as_deref(), answer.status),
            (Some(want.0), want.1),
            "{context}"
        );
    }
}
