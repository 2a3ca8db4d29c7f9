//! Many parallel detach/delete/describe calls on shared key pairs leave the world consistent:
//! no key is both deleted and bound, every successful delete removed exactly one key, and the
//! world still passes its own consistency check.
mod emulator_support;

use cloudconform::emulator::{Instance, KeyPair, World};
use cloudconform::http::RawRequest;
use cloudconform::sign::Scheme;
use emulator_support::{self as support, ROOT_ID, ROOT_SECRET};
use serde_json::{json, Value};
use std::collections::BTreeSet;

const KEYS: usize = 20;
const INSTANCES: usize = 10;

fn key_id(i: usize) -> String {
    format!("skey-conc{i:04}")
}

fn instance_id(i: usize) -> String {
    format!("ins-conc{i:04}")
}

fn ecs_instance(i: usize) -> String {
    format!("i-bp1concurrent{i:06}")
}

/// CVM: 20 keys, each bound to some of 10 stopped Linux instances; ECS: one key bound to 10.
fn world() -> World {
    let mut w = World::default();
    let cvm = w.service_mut("tencent/cvm");
    for k in 0..KEYS {
        cvm.key_pairs.push(KeyPair {
            id: key_id(k),
            name: format!("conc_{k}"),
            region: "ap-guangzhou".into(),
        });
    }
    for i in 0..INSTANCES {
        cvm.instances.push(Instance {
            id: instance_id(i),
            os: "linux".into(),
            state: "STOPPED".into(),
            region: "ap-guangzhou".into(),
            keys: (0..KEYS)
                .filter(|k| k % INSTANCES == i || k % 3 == 0)
                .map(key_id)
                .collect(),
        });
    }
    let ecs = w.service_mut("alibaba/ecs");
    for i in 0..INSTANCES {
        ecs.instances.push(Instance {
            id: ecs_instance(i),
            os: "linux".into(),
            state: "Stopped".into(),
            region: "cn-hangzhou".into(),
            keys: vec!["ssh-ecsbound0001".into()],
        });
    }
    w
}

enum Call {
    Delete(String),
    Detach(String, String),
    Describe,
    DescribeInstances,
    EcsDetach(String),
}

fn request(host: &str, call: &Call) -> RawRequest {
    let tc = |action: &str, body: Value| {
        support::signed(
            Scheme::Tc3HmacSha256,
            host,
            action,
            "2017-03-12",
            Some("ap-guangzhou"),
            &[],
            Some(&body),
            (ROOT_ID, ROOT_SECRET),
        )
    };
    match call {
        Call::Delete(k) => tc("DeleteKeyPairs", json!({"KeyIds": [k]})),
        Call::Detach(i, k) => tc(
            "DisassociateInstancesKeyPairs",
            json!({"InstanceIds": [i], "KeyIds": [k]}),
        ),
        Call::Describe => tc("DescribeKeyPairs", json!({"Limit": 100})),
        Call::DescribeInstances => tc("DescribeInstances", json!({"Limit": 100})),
        Call::EcsDetach(i) => support::signed(
            Scheme::Acs3HmacSha256,
            host,
            "DetachKeyPair",
            "2014-05-26",
            None,
            &[
                ("RegionId", "cn-hangzhou"),
                ("KeyPairName", "cc_ecs_bound"),
                ("InstanceIds", &format!("[\"{i}\"]")),
            ],
            None,
            (ROOT_ID, ROOT_SECRET),
        ),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn parallel_calls_keep_the_world_consistent() {
    let emu = support::start().await;
    let initial = world();
    support::put_world(emu.addr, &initial).await;
    let host = emu.host();

    // Every (instance, key) pair detached, every key deleted twice, describes in between: 200
    // detaches + 40 deletes + 40 describes + 10 ECS detaches, all at once, in a scrambled order.
    let mut calls = Vec::new();
    for k in 0..KEYS {
        calls.push(Call::Delete(key_id(k)));
        for i in 0..INSTANCES {
            calls.push(Call::Detach(instance_id(i), key_id(k)));
        }
        calls.push(Call::Describe);
        calls.push(Call::Delete(key_id(k)));
        calls.push(Call::DescribeInstances);
    }
    for i in 0..INSTANCES {
        calls.push(Call::EcsDetach(ecs_instance(i)));
    }
    let n = calls.len();
    for i in 0..n {
        calls.swap(i, (i * 7919 + 13) % n);
    }
    let tasks: Vec<_> = calls
        .into_iter()
        .map(|call| {
            let request = request(&host, &call);
            let addr = emu.addr;
            tokio::spawn(async move { (call, support::send(addr, &request).await) })
        })
        .collect();

    let mut deleted = Vec::new();
    let mut statuses = BTreeSet::new();
    for t in tasks {
        let (call, r) = t.await.unwrap();
        assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
        let code = support::error_code(&r);
        statuses.insert(code.clone().unwrap_or_else(|| "ok".into()));
        match (&call, code.as_deref()) {
            (Call::Delete(k), None) => deleted.push(k.clone()),
            (Call::Delete(_), Some(c)) => assert!(
                matches!(
                    c,
                    "InvalidKeyPairId.NotFound" | "InvalidParameterValue.KeyPairNotSupported"
                ),
                "delete: {c}"
            ),
            (Call::Detach(_, _), Some(c)) => {
                assert_eq!(
                    c, "InvalidKeyPairId.NotFound",
                    "detach fails only for a deleted key"
                )
            }
            (Call::Describe | Call::DescribeInstances | Call::EcsDetach(_), Some(c)) => {
                panic!("describe/ECS detach failed: {c}")
            }
            _ => {}
        }
    }

    let after = emu.world();
    after
        .check()
        .expect("no instance or image refers to a deleted key");
    let cvm = after.service("tencent/cvm").unwrap();
    // Each key was deleted at most once, and exactly the deleted ones are gone.
    let unique: BTreeSet<&String> = deleted.iter().collect();
    assert_eq!(
        unique.len(),
        deleted.len(),
        "a key deleted twice: {deleted:?}"
    );
    let initial_cvm = initial.service("tencent/cvm").unwrap();
    assert_eq!(
        initial_cvm.key_pairs.len() - cvm.key_pairs.len(),
        deleted.len(),
        "key count matches the successful deletes"
    );
    for k in &deleted {
        assert!(cvm.key_pair(k).is_none());
        assert!(
            cvm.instances.iter().all(|i| !i.keys.contains(k)),
            "{k} deleted yet bound"
        );
    }
    // Every (instance, key) detach ran, so nothing the deletes left is bound any more.
    assert!(
        cvm.instances
            .iter()
            .filter(|i| i.id.starts_with("ins-conc"))
            .all(|i| i.keys.is_empty()),
        "all detaches applied"
    );
    let ecs = after.service("alibaba/ecs").unwrap();
    assert!(ecs
        .instances
        .iter()
        .filter(|i| i.id.starts_with("i-bp1concurrent"))
        .all(|i| i.keys.is_empty()));
    assert!(statuses.contains("ok"));
}
