//! The five seed actions over real HTTP with requests signed by `cloudconform::sign`: success
//! (and its effect on the world), every documented error code a client can provoke (checked
//! against the spec: each provokable code of each seed is produced by some case), batch and
//! partial-failure shapes, and the provider-wide protocol codes.
mod emulator_support;

use cloudconform::emulator::{EmulatorConfig, EmulatorHandle, World};
use cloudconform::http::{RawRequest, RawResponse};
use cloudconform::sign::Scheme;
use cloudconform::spec::{code_matches, ActionKey, ErrorStatusRule, Provider};
use emulator_support::{self as support, DENIED_ID, DENIED_SECRET, ROOT_ID, ROOT_SECRET};
use serde_json::{json, Value};
use std::collections::BTreeSet;

const ROOT: (&str, &str) = (ROOT_ID, ROOT_SECRET);
const DENIED: (&str, &str) = (DENIED_ID, DENIED_SECRET);

type Check = Box<dyn Fn(&World, &Value) -> Result<(), String> + Send>;

enum Expect {
    Ok(Option<Check>),
    Code(&'static str),
}

struct Case {
    name: String,
    world: World,
    preferred: Vec<&'static str>,
    request: RawRequest,
    expect: Expect,
}

fn case(name: &str, request: RawRequest, expect: Expect) -> Case {
    Case {
        name: name.into(),
        world: World::default(),
        preferred: vec![],
        request,
        expect,
    }
}

impl Case {
    fn world(mut self, f: impl FnOnce(&mut World)) -> Self {
        f(&mut self.world);
        self
    }
    fn prefer(mut self, code: &'static str) -> Self {
        self.preferred.push(code);
        self
    }
}

fn code(c: &'static str) -> Expect {
    Expect::Code(c)
}

fn ok() -> Expect {
    Expect::Ok(None)
}

fn ok_then(f: impl Fn(&World, &Value) -> Result<(), String> + Send + 'static) -> Expect {
    Expect::Ok(Some(Box::new(f)))
}

fn tencent(
    emu: &EmulatorHandle,
    action: &str,
    version: &str,
    region: Option<&str>,
    body: Value,
) -> RawRequest {
    support::signed(
        Scheme::Tc3HmacSha256,
        &emu.host(),
        action,
        version,
        region,
        &[],
        Some(&body),
        ROOT,
    )
}

fn alibaba(emu: &EmulatorHandle, version: &str, params: &[(&str, &str)]) -> RawRequest {
    alibaba_as(emu, version, params, ROOT)
}

fn alibaba_as(
    emu: &EmulatorHandle,
    version: &str,
    params: &[(&str, &str)],
    key: (&str, &str),
) -> RawRequest {
    support::signed(
        Scheme::Acs3HmacSha256,
        &emu.host(),
        "DetachKeyPair",
        version,
        None,
        params,
        None,
        key,
    )
}

fn set_state(w: &mut World, service: &str, id: &str, state: &str) {
    let svc = w.service_mut(service);
    svc.instances.iter_mut().find(|i| i.id == id).unwrap().state = state.into();
}

/// Run the cases; return the codes they produced. Failures are collected, not fatal, so one run
/// shows every problem.
async fn run(emu: &EmulatorHandle, key: &ActionKey, cases: Vec<Case>) -> BTreeSet<String> {
    let specs = emu.specs().clone();
    let provider = specs.provider(key.provider).unwrap().clone();
    let action = specs.action(key).unwrap().clone();
    let validator = specs.response_validator(key).unwrap();
    let mut produced = BTreeSet::new();
    let mut failures = Vec::new();
    for c in cases {
        support::put_world(emu.addr, &c.world).await;
        support::control(
            emu.addr,
            "POST",
            "config",
            Some(&json!({"preferred_codes": c.preferred})),
        )
        .await;
        let r: RawResponse = support::send(emu.addr, &c.request).await;
        let body = String::from_utf8_lossy(&r.body).into_owned();
        let v = support::json(&r);
        let got = support::error_code(&r);
        let mut problem = None;
        match (&c.expect, &got) {
            (Expect::Ok(check), None) => {
                let errors: Vec<String> =
                    validator.iter_errors(&v).map(|e| e.to_string()).collect();
                if r.status != 200 || !errors.is_empty() {
                    problem = Some(format!("status {} shape {errors:?}", r.status));
                } else if let Some(check) = check {
                    if let Err(e) = check(&emu.world(), &v) {
                        problem = Some(e);
                    }
                }
            }
            (Expect::Code(want), Some(got)) if want == got => {
                produced.insert(got.clone());
                let status = match provider.http_status.errors {
                    ErrorStatusRule::Always200 => 200,
                    // Templated codes (InvalidParameter.%s) resolve to their template.
                    ErrorStatusRule::PerCode => specs
                        .error_code(&action, want)
                        .map(|e| e.http_status)
                        .unwrap_or(400),
                };
                if r.status != status {
                    problem = Some(format!("status {} (want {status})", r.status));
                }
                if key.provider == Provider::Tencent
                    && r.header("content-type") != Some("application/json")
                {
                    problem = Some(format!("content-type {:?}", r.header("content-type")));
                }
            }
            _ => {
                problem = Some(format!(
                    "want {}, got {}",
                    match &c.expect {
                        Expect::Ok(_) => "success".to_string(),
                        Expect::Code(c) => c.to_string(),
                    },
                    got.clone().unwrap_or_else(|| "success".into())
                ))
            }
        }
        if let Some(p) = problem {
            failures.push(format!("{key} / {}: {p}\n    {body}", c.name));
        }
    }
    support::control(
        emu.addr,
        "POST",
        "config",
        Some(&json!({"preferred_codes": []})),
    )
    .await;
    assert!(
        failures.is_empty(),
        "{} case(s) failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
    produced
}

/// Every provokable code of the action's own list was produced (templated codes match their
/// filled spelling).
fn assert_covers(emu: &EmulatorHandle, key: &ActionKey, produced: &BTreeSet<String>) {
    let action = emu.specs().action(key).unwrap().clone();
    let missing: Vec<&str> = action
        .errors
        .iter()
        .filter(|e| e.provokable)
        .map(|e| e.code.as_str())
        .filter(|c| !produced.iter().any(|p| code_matches(c, p)))
        .collect();
    assert!(missing.is_empty(), "{key}: no case provokes {missing:?}");
}

fn keys(n: usize) -> Vec<String> {
    (0..n).map(|i| format!("skey-{i:08}")).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cvm_delete_key_pairs() {
    let emu = support::start().await;
    let key = ActionKey::new(Provider::Tencent, "cvm", "2017-03-12", "DeleteKeyPairs");
    let gz = Some("ap-guangzhou");
    let req = |body: Value| tencent(&emu, "DeleteKeyPairs", "2017-03-12", gz, body);
    let cases = vec![
        case(
            "deletes free keys",
            req(json!({"KeyIds": ["skey-free0001", "skey-free0002"]})),
            ok_then(|w, _| {
                let cvm = w.service("tencent/cvm").unwrap();
                match (cvm.key_pair("skey-free0001"), cvm.key_pair("skey-free0002")) {
                    (None, None) => Ok(()),
                    _ => Err("keys still exist".into()),
                }
            }),
        ),
        case(
            "v1 HmacSHA256 form POST",
            support::signed(
                Scheme::TencentHmacSha256,
                &emu.host(),
                "DeleteKeyPairs",
                "2017-03-12",
                gz,
                &[("KeyIds.0", "skey-free0001")],
                None,
                ROOT,
            ),
            ok(),
        ),
        case(
            "TC3 GET with flattened KeyIds.0",
            support::signed(
                Scheme::Tc3HmacSha256,
                &emu.host(),
                "DeleteKeyPairs",
                "2017-03-12",
                gz,
                &[("KeyIds.0", "skey-free0001"), ("KeyIds.1", "skey-free0002")],
                None,
                ROOT,
            ),
            ok(),
        ),
        case(
            "malformed id",
            req(json!({"KeyIds": ["skey-1122"]})),
            code("InvalidKeyPairId.Malformed"),
        ),
        case(
            "unknown id",
            req(json!({"KeyIds": ["skey-zzzzzzzz"]})),
            code("InvalidKeyPairId.NotFound"),
        ),
        case(
            "101 ids",
            req(json!({"KeyIds": keys(101)})),
            code("InvalidParameterValue.LimitExceeded"),
        ),
        case(
            "101 ids, alternative code",
            req(json!({"KeyIds": keys(101)})),
            code("InvalidKeyPair.LimitExceeded"),
        )
        .prefer("InvalidKeyPair.LimitExceeded"),
        case(
            "key bound to an instance",
            req(json!({"KeyIds": ["skey-boundins"]})),
            code("InvalidParameterValue.KeyPairNotSupported"),
        ),
        case(
            "key bound to an image",
            req(json!({"KeyIds": ["skey-boundimg"]})),
            code("InvalidParameterValue.KeyPairNotSupported"),
        ),
        case(
            "key bound to an image, live-observed code",
            req(json!({"KeyIds": ["skey-boundimg"]})),
            code("InvalidKeyPair.NotSupported"),
        )
        .prefer("InvalidKeyPair.NotSupported"),
        case(
            "empty id",
            req(json!({"KeyIds": [""]})),
            code("InvalidParameterValue"),
        )
        // Either code is allowed (discrepancy cvm-delete-empty-id).
        .prefer("InvalidParameterValue"),
        case("no KeyIds", req(json!({})), code("MissingParameter")),
        case(
            "empty KeyIds",
            req(json!({"KeyIds": []})),
            code("MissingParameter"),
        ),
        case(
            "one bad key fails the whole call and deletes nothing",
            req(json!({"KeyIds": ["skey-free0001", "skey-zzzzzzzz"]})),
            code("InvalidKeyPairId.NotFound"),
        ),
    ];
    let produced = run(&emu, &key, cases).await;
    assert_covers(&emu, &key, &produced);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cvm_disassociate_instances_key_pairs() {
    let emu = support::start().await;
    let key = ActionKey::new(
        Provider::Tencent,
        "cvm",
        "2017-03-12",
        "DisassociateInstancesKeyPairs",
    );
    let gz = Some("ap-guangzhou");
    let req = |body: Value| {
        tencent(
            &emu,
            "DisassociateInstancesKeyPairs",
            "2017-03-12",
            gz,
            body,
        )
    };
    let body = |instance: &str| json!({"InstanceIds": [instance], "KeyIds": ["skey-boundins"]});
    let in_state = |state: &'static str, expect: &'static str| {
        case(
            &format!("instance {state}"),
            req(body("ins-linstop1")),
            code(expect),
        )
        .world(move |w| set_state(w, "tencent/cvm", "ins-linstop1", state))
    };
    let cases = vec![
        case(
            "unbinds from a stopped Linux instance",
            req(body("ins-linstop1")),
            ok_then(|w, _| {
                let i = w
                    .service("tencent/cvm")
                    .unwrap()
                    .instance("ins-linstop1")
                    .unwrap();
                if i.keys.is_empty() && i.state == "STOPPED" {
                    Ok(())
                } else {
                    Err(format!("{i:?}"))
                }
            }),
        ),
        case(
            "ForceStop on a running instance: unbound, running again",
            req(
                json!({"InstanceIds": ["ins-linrun01"], "KeyIds": ["skey-boundins"], "ForceStop": true}),
            ),
            ok_then(|w, _| {
                let i = w
                    .service("tencent/cvm")
                    .unwrap()
                    .instance("ins-linrun01")
                    .unwrap();
                if i.keys.is_empty() && i.state == "RUNNING" {
                    Ok(())
                } else {
                    Err(format!("{i:?}"))
                }
            }),
        ),
        case(
            "v1 HmacSHA1 with ForceStop=TRUE",
            support::signed(
                Scheme::TencentHmacSha1,
                &emu.host(),
                "DisassociateInstancesKeyPairs",
                "2017-03-12",
                gz,
                &[
                    ("InstanceIds.0", "ins-linrun01"),
                    ("KeyIds.0", "skey-boundins"),
                    ("ForceStop", "TRUE"),
                ],
                None,
                ROOT,
            ),
            ok(),
        ),
        case(
            "running without ForceStop",
            req(body("ins-linrun01")),
            code("UnsupportedOperation.InstanceStateRunning"),
        ),
        case(
            "Windows",
            req(body("ins-winstop1")),
            code("UnsupportedOperation.InstanceOsWindows"),
        )
        // Either code is allowed (discrepancy cvm-windows-code).
        .prefer("UnsupportedOperation.InstanceOsWindows"),
        case(
            "malformed instance id",
            req(body("ins-1122")),
            code("InvalidInstanceId.Malformed"),
        ),
        case(
            "malformed instance id, alternative code",
            req(body("ins-1122")),
            code("InvalidParameterValue.InstanceIdMalformed"),
        )
        .prefer("InvalidParameterValue.InstanceIdMalformed"),
        case(
            "unknown instance",
            req(body("ins-zzzzzzzz")),
            code("InvalidInstanceId.NotFound"),
        ),
        case(
            "malformed key id",
            req(json!({"InstanceIds": ["ins-linstop1"], "KeyIds": ["skey-12"]})),
            code("InvalidKeyPairId.Malformed"),
        ),
        case(
            "unknown key id",
            req(json!({"InstanceIds": ["ins-linstop1"], "KeyIds": ["skey-zzzzzzzz"]})),
            code("InvalidKeyPairId.NotFound"),
        ),
        case(
            "ForceStop not a boolean",
            req(
                json!({"InstanceIds": ["ins-linstop1"], "KeyIds": ["skey-boundins"], "ForceStop": "yes"}),
            ),
            code("InvalidParameterValue"),
        ),
        case(
            "ForceStop not a boolean, the common code",
            req(
                json!({"InstanceIds": ["ins-linstop1"], "KeyIds": ["skey-boundins"], "ForceStop": "yes"}),
            ),
            code("InvalidParameter"),
        )
        // Either code is allowed (discrepancy cvm-forcestop-type).
        .prefer("InvalidParameter"),
        case(
            "101 instances",
            req(
                json!({"InstanceIds": (0..101).map(|i| format!("ins-{i:08}")).collect::<Vec<_>>(), "KeyIds": ["skey-boundins"]}),
            ),
            code("InvalidParameterValue.LimitExceeded"),
        ),
        case(
            "no KeyIds",
            req(json!({"InstanceIds": ["ins-linstop1"]})),
            code("MissingParameter"),
        ),
        in_state("PENDING", "UnsupportedOperation.InstanceStatePending"),
        in_state("LAUNCH_FAILED", "InvalidInstance.NotSupported"),
        in_state("STARTING", "UnsupportedOperation.InstanceStateStarting"),
        in_state("STOPPING", "UnsupportedOperation.InstanceStateStopping"),
        in_state("REBOOTING", "UnsupportedOperation.InstanceStateRebooting"),
        in_state(
            "TERMINATING",
            "UnsupportedOperation.InstanceStateTerminating",
        ),
        in_state("SHUTDOWN", "UnsupportedOperation.InstanceStateShutdown"),
        in_state(
            "ENTER_RESCUE_MODE",
            "UnsupportedOperation.InstanceStateEnterRescueMode",
        ),
        in_state(
            "RESCUE_MODE",
            "UnsupportedOperation.InstanceStateRescueMode",
        ),
        in_state(
            "EXIT_RESCUE_MODE",
            "OperationDenied.InstanceOperationInProgress",
        ),
    ];
    let produced = run(&emu, &key, cases).await;
    assert_covers(&emu, &key, &produced);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ecm_disassociate_instances_key_pairs() {
    let emu = support::start().await;
    let key = ActionKey::new(
        Provider::Tencent,
        "ecm",
        "2019-07-19",
        "DisassociateInstancesKeyPairs",
    );
    let req = |body: Value| {
        tencent(
            &emu,
            "DisassociateInstancesKeyPairs",
            "2019-07-19",
            None,
            body,
        )
    };
    let cases = vec![
        case(
            "unbinds without a Region",
            req(json!({"InstanceIds": ["ein-linstop1"], "KeyIds": ["skey-ecmbound"]})),
            ok_then(|w, _| {
                let i = w
                    .service("tencent/ecm")
                    .unwrap()
                    .instance("ein-linstop1")
                    .unwrap();
                i.keys.is_empty().then_some(()).ok_or(format!("{i:?}"))
            }),
        ),
        case(
            "malformed instance id",
            req(json!({"InstanceIds": ["ein-1"], "KeyIds": ["skey-ecmbound"]})),
            code("InvalidParameterValue"),
        ),
        case(
            "unknown instance",
            req(json!({"InstanceIds": ["ein-zzzzzzzz"], "KeyIds": ["skey-ecmbound"]})),
            code("InvalidParameterValue.InstanceIdNotSupported"),
        ),
        // The sibling ECM APIs' code, the other accepted answer (ecm-instance-code-choices).
        case(
            "unknown instance, sibling code",
            req(json!({"InstanceIds": ["ein-zzzzzzzz"], "KeyIds": ["skey-ecmbound"]})),
            code("ResourceNotFound.InstanceNotExist"),
        )
        .prefer("ResourceNotFound.InstanceNotExist"),
        case(
            "unknown key",
            req(json!({"InstanceIds": ["ein-linstop1"], "KeyIds": ["skey-zzzzzzzz"]})),
            code("InvalidParameterValue.InvalidKeyPairId"),
        ),
        case(
            "malformed key",
            req(json!({"InstanceIds": ["ein-linstop1"], "KeyIds": ["key-1"]})),
            code("InvalidParameterValue.InvalidKeyPairId"),
        ),
        case(
            "101 keys",
            req(json!({"InstanceIds": ["ein-linstop1"], "KeyIds": keys(101)})),
            code("InvalidParameterValue.LimitExceeded"),
        ),
        case(
            "no InstanceIds",
            req(json!({"KeyIds": ["skey-ecmbound"]})),
            code("MissingParameter"),
        ),
    ];
    let produced = run(&emu, &key, cases).await;
    assert_covers(&emu, &key, &produced);
}

fn ids_json(ids: &[&str]) -> String {
    serde_json::to_string(ids).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ecs_detach_key_pair() {
    let emu = support::start().await;
    let key = ActionKey::new(Provider::Alibaba, "ecs", "2014-05-26", "DetachKeyPair");
    let v = "2014-05-26";
    let stopped = "i-bp1linuxstopped0001";
    let fifty_one: Vec<String> = (0..51).map(|i| format!("i-bp1unknown{i:09}")).collect();
    let fifty_one = serde_json::to_string(&fifty_one).unwrap();
    let ok_ids = ids_json(&[stopped, "i-bp1linuxrunning0001"]);
    let partial_ids = ids_json(&[stopped, "i-bp1doesnotexist0001"]);
    let cases = vec![
        case(
            "detaches from a stopped and a running instance",
            alibaba(
                &emu,
                v,
                &[
                    ("RegionId", "cn-hangzhou"),
                    ("KeyPairName", "cc_ecs_bound"),
                    ("InstanceIds", &ok_ids),
                ],
            ),
            ok_then(|w, body| {
                let ecs = w.service("alibaba/ecs").unwrap();
                if ecs
                    .instances
                    .iter()
                    .any(|i| i.keys.contains(&"ssh-ecsbound0001".to_string()))
                {
                    return Err("still bound".into());
                }
                (body["TotalCount"] == json!("2")
                    && body["FailCount"] == json!("0")
                    && body["Results"]["Result"][0]["Success"] == json!("true"))
                .then_some(())
                .ok_or_else(|| "batch shape".to_string())
            }),
        ),
        case(
            "RPC HMAC-SHA1, JSON with spaces",
            support::signed(
                Scheme::RpcHmacSha1,
                &emu.host(),
                "DetachKeyPair",
                v,
                Some("cn-hangzhou"),
                &[
                    ("KeyPairName", "cc_ecs_bound"),
                    (
                        "InstanceIds",
                        &format!("[\"{stopped}\", \"i-bp1linuxnokey00001\"]"),
                    ),
                ],
                None,
                ROOT,
            ),
            ok(),
        ),
        case(
            "RPC HMAC-SHA1 over GET",
            {
                let input = cloudconform::sign::SignInput::fresh(
                    cloudconform::sign::Provider::Alibaba,
                    "GET",
                    emu.host(),
                    "DetachKeyPair",
                    v,
                )
                .with_region("cn-hangzhou")
                .with_param("KeyPairName", "cc_ecs_bound")
                .with_param("InstanceIds", ids_json(&[stopped]));
                cloudconform::sign::sign(
                    Scheme::RpcHmacSha1,
                    &input,
                    &cloudconform::sign::Credentials::new(ROOT_ID, ROOT_SECRET),
                )
                .unwrap()
                .request
            },
            ok(),
        ),
        case(
            "one unknown instance fails only its entry",
            alibaba(
                &emu,
                v,
                &[
                    ("RegionId", "cn-hangzhou"),
                    ("KeyPairName", "cc_ecs_bound"),
                    ("InstanceIds", &partial_ids),
                ],
            ),
            ok_then(|w, body| {
                let results = &body["Results"]["Result"];
                let bad = &results[1];
                let ecs = w.service("alibaba/ecs").unwrap();
                let detached = ecs
                    .instance("i-bp1linuxstopped0001")
                    .unwrap()
                    .keys
                    .is_empty();
                (body["TotalCount"] == json!("2")
                    && body["FailCount"] == json!("1")
                    && results[0]["Success"] == json!("true")
                    && bad["Success"] == json!("false")
                    && bad["Code"] == json!("InvalidInstanceId.NotFound")
                    && bad["InstanceId"] == json!("i-bp1doesnotexist0001")
                    && detached)
                    .then_some(())
                    .ok_or_else(|| "partial-failure shape or effect".to_string())
            }),
        ),
        case(
            "unknown key pair name",
            alibaba(
                &emu,
                v,
                &[
                    ("RegionId", "cn-hangzhou"),
                    ("KeyPairName", "nosuchkey"),
                    ("InstanceIds", &ids_json(&[stopped])),
                ],
            ),
            code("InvalidKeyPairName.NotFound"),
        ),
        case(
            "InstanceIds not JSON",
            alibaba(
                &emu,
                v,
                &[
                    ("RegionId", "cn-hangzhou"),
                    ("KeyPairName", "cc_ecs_bound"),
                    ("InstanceIds", "i-bp1linuxstopped0001,i-x"),
                ],
            ),
            code("InvalidInstanceIds.ValueNotSupported"),
        ),
        case(
            "InstanceIds empty array",
            alibaba(
                &emu,
                v,
                &[
                    ("RegionId", "cn-hangzhou"),
                    ("KeyPairName", "cc_ecs_bound"),
                    ("InstanceIds", "[]"),
                ],
            ),
            code("InvalidInstanceIds.ValueNotSupported"),
        ),
        case(
            "Windows instance",
            alibaba(
                &emu,
                v,
                &[
                    ("RegionId", "cn-hangzhou"),
                    ("KeyPairName", "cc_ecs_bound"),
                    ("InstanceIds", &ids_json(&["i-bp1windowsstopped01"])),
                ],
            ),
            code("DependencyViolation.WindowsInstance"),
        ),
        case(
            "51 instances",
            alibaba(
                &emu,
                v,
                &[
                    ("RegionId", "cn-hangzhou"),
                    ("KeyPairName", "cc_ecs_bound"),
                    ("InstanceIds", &fifty_one),
                ],
            ),
            code("InstanceKeyPairLimitExceeded"),
        ),
        case(
            "no RegionId",
            alibaba(
                &emu,
                v,
                &[
                    ("KeyPairName", "cc_ecs_bound"),
                    ("InstanceIds", &ids_json(&[stopped])),
                ],
            ),
            code("MissingParameter"),
        ),
        case(
            "unknown region",
            alibaba(
                &emu,
                v,
                &[
                    ("RegionId", "cn-nowhere"),
                    ("KeyPairName", "cc_ecs_bound"),
                    ("InstanceIds", &ids_json(&[stopped])),
                ],
            ),
            code("InvalidRegionId.NotFound"),
        ),
    ];
    let produced = run(&emu, &key, cases).await;
    assert_covers(&emu, &key, &produced);

    // The MissingParameter message names the parameter that is missing.
    let r = support::send(
        emu.addr,
        &alibaba(
            &emu,
            v,
            &[
                ("RegionId", "cn-hangzhou"),
                ("InstanceIds", &ids_json(&[stopped])),
            ],
        ),
    )
    .await;
    let body = support::json(&r);
    assert!(
        body["Message"]
            .as_str()
            .unwrap()
            .contains("\"KeyPairName\""),
        "{body}"
    );
    assert_eq!(body["HostId"], json!("ecs.aliyuncs.com"));
    assert!(
        body["Recommend"].as_str().unwrap().contains("product=Ecs"),
        "{body}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ens_detach_key_pair() {
    let emu = support::start().await;
    let key = ActionKey::new(Provider::Alibaba, "ens", "2017-11-10", "DetachKeyPair");
    let v = "2017-11-10";
    let stopped = "i-enslinuxstopped00000001";
    let one = ids_json(&[stopped]);
    let partial = ids_json(&[stopped, "i-ensdoesnotexist00000001"]);
    let thirty_one: Vec<String> = (0..31).map(|i| format!("i-ensunknown{i:013}")).collect();
    let thirty_one = serde_json::to_string(&thirty_one).unwrap();
    let cases = vec![
        case(
            "detaches by KeyPairId, native batch types",
            alibaba(
                &emu,
                v,
                &[("KeyPairId", "ssh-ensbound0001"), ("InstanceIds", &one)],
            ),
            ok_then(|w, body| {
                let unbound = w
                    .service("alibaba/ens")
                    .unwrap()
                    .instance("i-enslinuxstopped00000001")
                    .unwrap()
                    .keys
                    .is_empty();
                (unbound
                    && body["TotalCount"] == json!(1)
                    && body["FailCount"] == json!(0)
                    && body["Results"][0]["Code"] == json!(200)
                    && body["Results"][0]["Success"] == json!(true)
                    && body["KeyPairId"] == json!("ssh-ensbound0001"))
                .then_some(())
                .ok_or_else(|| "ENS batch shape or effect".into())
            }),
        ),
        case(
            "detaches by KeyPairName with the RegionId aliyun-python-sdk-core adds",
            alibaba(
                &emu,
                v,
                &[
                    ("KeyPairName", "cc_ens_bound"),
                    ("InstanceIds", &one),
                    ("RegionId", "cn-hangzhou"),
                ],
            ),
            ok(),
        ),
        case(
            "one unknown instance fails only its entry",
            alibaba(
                &emu,
                v,
                &[("KeyPairId", "ssh-ensbound0001"), ("InstanceIds", &partial)],
            ),
            ok_then(|_, body| {
                (body["TotalCount"] == json!(2)
                    && body["FailCount"] == json!(1)
                    && body["Results"][1]["Success"] == json!(false)
                    && body["Results"][1]["Code"] == json!(400))
                .then_some(())
                .ok_or_else(|| "partial-failure shape".into())
            }),
        ),
        case(
            "running instance",
            alibaba(
                &emu,
                v,
                &[
                    ("KeyPairId", "ssh-ensbound0001"),
                    ("InstanceIds", &ids_json(&["i-enslinuxrunning00000001"])),
                ],
            ),
            code("InvalidOperation.InvalidEnsStatus"),
        ),
        case(
            "named key not bound to the instance",
            alibaba(
                &emu,
                v,
                &[
                    ("KeyPairName", "cc_ens_bound"),
                    ("InstanceIds", &ids_json(&["i-enslinuxnokey0000000001"])),
                ],
            ),
            code("PublicKeyNotAttachWithInstance"),
        ),
        case(
            "denied sub-user",
            alibaba_as(
                &emu,
                v,
                &[("KeyPairId", "ssh-ensbound0001"), ("InstanceIds", &one)],
                DENIED,
            ),
            code("NoPermission"),
        ),
        case(
            "neither KeyPairId nor KeyPairName",
            alibaba(&emu, v, &[("InstanceIds", &one)]),
            code("InvalidParameter.KeyPairId"),
        ),
        case(
            "both KeyPairId and KeyPairName",
            alibaba(
                &emu,
                v,
                &[
                    ("KeyPairId", "ssh-ensbound0001"),
                    ("KeyPairName", "cc_ens_bound"),
                    ("InstanceIds", &one),
                ],
            ),
            code("InvalidParameter.KeyPairId"),
        ),
        case(
            "unknown KeyPairId",
            alibaba(
                &emu,
                v,
                &[("KeyPairId", "ssh-nosuchkey"), ("InstanceIds", &one)],
            ),
            code("InvalidParameter.KeyPairId"),
        ),
        case(
            "InstanceIds not JSON",
            alibaba(
                &emu,
                v,
                &[
                    ("KeyPairId", "ssh-ensbound0001"),
                    ("InstanceIds", "[\"i-x\""),
                ],
            ),
            code("InvalidParameter.InstanceIds"),
        ),
        case(
            "31 instances, the generic spelling",
            alibaba(
                &emu,
                v,
                &[
                    ("KeyPairId", "ssh-ensbound0001"),
                    ("InstanceIds", &thirty_one),
                ],
            ),
            code("InvalidParameter"),
        )
        .prefer("InvalidParameter"),
        case(
            "no InstanceIds",
            alibaba(&emu, v, &[("KeyPairId", "ssh-ensbound0001")]),
            code("MissingParameter"),
        ),
    ];
    let produced = run(&emu, &key, cases).await;
    assert_covers(&emu, &key, &produced);
}

/// Provider-wide codes: authentication, routing, permissions, unknown parameters, regions,
/// methods.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn protocol_errors() {
    let emu = support::start().await;
    let host = emu.host();
    let gz = Some("ap-guangzhou");
    let body = json!({"KeyIds": ["skey-free0001"]});
    let tc =
        |action: &str, version: &str, region: Option<&str>, body: &Value, key: (&str, &str)| {
            support::signed(
                Scheme::Tc3HmacSha256,
                &host,
                action,
                version,
                region,
                &[],
                Some(body),
                key,
            )
        };
    let ecs_params: Vec<(&str, &str)> = vec![
        ("RegionId", "cn-hangzhou"),
        ("KeyPairName", "cc_ecs_bound"),
        ("InstanceIds", "[\"i-bp1linuxstopped0001\"]"),
    ];
    let ali = |action: &str, version: &str, key: (&str, &str)| {
        support::signed(
            Scheme::Acs3HmacSha256,
            &host,
            action,
            version,
            None,
            &ecs_params,
            None,
            key,
        )
    };
    let mut tampered = tc("DeleteKeyPairs", "2017-03-12", gz, &body, ROOT);
    tampered.body = serde_json::to_vec(&json!({"KeyIds": ["skey-free0002"]})).unwrap();
    let yaml = support::signed(
        Scheme::Acs3HmacSha256,
        &host,
        "DetachKeyPair",
        "2014-05-26",
        None,
        &[
            ("RegionId", "cn-hangzhou"),
            ("KeyPairName", "cc_ecs_bound"),
            ("InstanceIds", "[\"i-bp1linuxstopped0001\"]"),
            ("Format", "YAML"),
        ],
        None,
        ROOT,
    );
    let mut ali_tampered = ali("DetachKeyPair", "2014-05-26", ROOT);
    ali_tampered.raw_query = ali_tampered
        .raw_query
        .replace("cc_ecs_bound", "cc_ecs_free_1");
    let mut garbage_auth = tc("DeleteKeyPairs", "2017-03-12", gz, &body, ROOT);
    garbage_auth.set_header("Authorization", "TC3-HMAC-SHA256 nonsense");
    let mut put = tc("DeleteKeyPairs", "2017-03-12", gz, &body, ROOT);
    put.method = "PUT".into();
    let mut ali_put = ali("DetachKeyPair", "2014-05-26", ROOT);
    ali_put.method = "DELETE".into();
    let replay = ali("DetachKeyPair", "2014-05-26", ROOT);
    let mut unsigned_ali = ali("DetachKeyPair", "2014-05-26", ROOT);
    unsigned_ali.remove_header("authorization");
    let expired = tc("DeleteKeyPairs", "2017-03-12", gz, &body, ROOT);

    let cases: Vec<(&str, RawRequest, &str, u16)> = vec![
        (
            "TC3 signature over another body",
            tampered,
            "AuthFailure.SignatureFailure",
            200,
        ),
        (
            "unknown SecretId",
            tc(
                "DeleteKeyPairs",
                "2017-03-12",
                gz,
                &body,
                ("AKIDNOBODY", "x"),
            ),
            "AuthFailure.SecretIdNotFound",
            200,
        ),
        (
            "malformed Authorization",
            garbage_auth,
            "AuthFailure.InvalidAuthorization",
            200,
        ),
        (
            "denied sub-user",
            tc("DeleteKeyPairs", "2017-03-12", gz, &body, DENIED),
            "AuthFailure.UnauthorizedOperation",
            200,
        ),
        (
            "unknown action",
            tc("DeleteKeyPair", "2017-03-12", gz, &body, ROOT),
            "InvalidAction",
            200,
        ),
        (
            "unknown version",
            tc("DeleteKeyPairs", "2017-03-13", gz, &body, ROOT),
            "NoSuchVersion",
            200,
        ),
        (
            "ECM has no DeleteKeyPairs",
            tc("DeleteKeyPairs", "2019-07-19", gz, &body, ROOT),
            "InvalidAction",
            200,
        ),
        (
            "unknown parameter",
            tc(
                "DeleteKeyPairs",
                "2017-03-12",
                gz,
                &json!({"KeyIds": ["skey-free0001"], "Foo": 1}),
                ROOT,
            ),
            "UnknownParameter",
            200,
        ),
        (
            "CVM without Region",
            tc("DeleteKeyPairs", "2017-03-12", None, &body, ROOT),
            "MissingParameter",
            200,
        ),
        (
            "unknown Region",
            tc(
                "DeleteKeyPairs",
                "2017-03-12",
                Some("ap-nowhere"),
                &body,
                ROOT,
            ),
            "UnsupportedRegion",
            200,
        ),
        ("PUT", put, "UnsupportedProtocol", 200),
        (
            "ACS3 signature over another query",
            ali_tampered,
            "SignatureDoesNotMatch",
            400,
        ),
        (
            "unknown AccessKeyId",
            ali("DetachKeyPair", "2014-05-26", ("LTAINOBODY", "x")),
            "InvalidAccessKeyId.NotFound",
            404,
        ),
        ("no signature", unsigned_ali, "IncompleteSignature", 400),
        (
            "ECS denied sub-user",
            ali("DetachKeyPair", "2014-05-26", DENIED),
            "Forbidden.RAM",
            403,
        ),
        (
            "unknown Alibaba action",
            ali("DetachKeyPairs", "2014-05-26", ROOT),
            "InvalidAction.NotFound",
            404,
        ),
        (
            "unknown Alibaba version",
            ali("DetachKeyPair", "2014-05-27", ROOT),
            "InvalidVersion",
            400,
        ),
        ("DELETE", ali_put, "UnsupportedHTTPMethod", 403),
        ("Format=YAML", yaml, "InvalidParameter.Format", 400),
        ("replayed nonce", replay, "SignatureNonceUsed", 400),
    ];
    let mut failures = Vec::new();
    for (name, request, want, status) in cases {
        support::control(emu.addr, "POST", "reset", None).await;
        if name == "replayed nonce" {
            // Reset forgot every nonce: the first use succeeds, the second is a replay.
            let _ = support::send(emu.addr, &request).await;
        }
        let r = support::send(emu.addr, &request).await;
        let got = support::error_code(&r).unwrap_or_default();
        if got != want || r.status != status {
            failures.push(format!(
                "{name}: want {want:?} {status}, got {got:?} {}: {}",
                r.status,
                String::from_utf8_lossy(&r.body)
            ));
        }
    }
    // Clock skew: the request was signed with the wall clock; the emulator's clock is an hour on.
    let now = emu.now();
    support::control(emu.addr, "POST", "clock", Some(&json!({"now": now + 3600}))).await;
    let r = support::send(emu.addr, &expired).await;
    if support::error_code(&r).as_deref() != Some("AuthFailure.SignatureExpire") {
        failures.push(format!("expired: {}", String::from_utf8_lossy(&r.body)));
    }
    let r = support::send(emu.addr, &ali("DetachKeyPair", "2014-05-26", ROOT)).await;
    if support::error_code(&r).as_deref() != Some("InvalidTimeStamp.Expired") || r.status != 400 {
        failures.push(format!(
            "ali expired: {} {}",
            r.status,
            String::from_utf8_lossy(&r.body)
        ));
    }
    support::control(emu.addr, "POST", "clock", Some(&json!({"now": null}))).await;
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// Documented rate limits per account and action, switchable at run time.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rate_limits() {
    let emu = support::start_with(EmulatorConfig::default()).await;
    let host = emu.host();
    let req = || {
        support::signed(
            Scheme::Tc3HmacSha256,
            &host,
            "DeleteKeyPairs",
            "2017-03-12",
            Some("ap-guangzhou"),
            &[],
            Some(&json!({"KeyIds": ["skey-zzzzzzzz"]})),
            ROOT,
        )
    };
    let requests: Vec<RawRequest> = (0..30).map(|_| req()).collect();
    let answers = futures_join(emu.addr, requests).await;
    let throttled = answers
        .iter()
        .filter(|r| support::error_code(r).as_deref() == Some("RequestLimitExceeded"))
        .count();
    assert!(
        throttled >= 10,
        "30 calls at once to a 10/s action: {throttled} throttled"
    );
    // Another action has its own window; the denied sub-user its own too.
    support::control(
        emu.addr,
        "POST",
        "config",
        Some(&json!({"rate_limits": false})),
    )
    .await;
    let answers = futures_join(emu.addr, (0..30).map(|_| req()).collect()).await;
    assert!(answers
        .iter()
        .all(|r| support::error_code(r).as_deref() == Some("InvalidKeyPairId.NotFound")));
}

async fn futures_join(addr: std::net::SocketAddr, requests: Vec<RawRequest>) -> Vec<RawResponse> {
    let tasks: Vec<_> = requests
        .into_iter()
        .map(|r| tokio::spawn(async move { support::send(addr, &r).await }))
        .collect();
    let mut out = Vec::new();
    for t in tasks {
        out.push(t.await.unwrap());
    }
    out
}

/// Every fixture action the specs declare answers a valid call with a success of its response
/// schema, and its effect shows in the world.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fixture_actions() {
    let emu = support::start().await;
    let host = emu.host();
    let gz = Some("ap-guangzhou");
    let pubkey = "ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAABAQDcloudconformtestkey cc@test";
    let tc = |action: &str, version: &str, region: Option<&str>, body: Value| {
        support::signed(
            Scheme::Tc3HmacSha256,
            &host,
            action,
            version,
            region,
            &[],
            Some(&body),
            ROOT,
        )
    };
    let ali = |action: &str, version: &str, params: &[(&str, &str)]| {
        support::signed(
            Scheme::Acs3HmacSha256,
            &host,
            action,
            version,
            None,
            params,
            None,
            ROOT,
        )
    };
    type WorldCheck = fn(&World, &Value) -> bool;
    let cvm = "2017-03-12";
    let ecm = "2019-07-19";
    let ecs = "2014-05-26";
    let ens = "2017-11-10";
    let cases: Vec<(&str, &str, &str, RawRequest, WorldCheck)> = vec![
        (
            "tencent",
            "cvm",
            "CreateKeyPair",
            tc(
                "CreateKeyPair",
                cvm,
                gz,
                json!({"KeyName": "cc_new", "ProjectId": 0}),
            ),
            |w, b| {
                let id = b["Response"]["KeyPair"]["KeyId"]
                    .as_str()
                    .unwrap_or_default();
                id.len() == 13
                    && w.service("tencent/cvm")
                        .unwrap()
                        .key_pair(id)
                        .is_some_and(|k| k.name == "cc_new")
            },
        ),
        (
            "tencent",
            "cvm",
            "ImportKeyPair",
            tc(
                "ImportKeyPair",
                cvm,
                gz,
                json!({"KeyName": "cc_imported", "ProjectId": 0, "PublicKey": pubkey}),
            ),
            |w, b| {
                w.service("tencent/cvm")
                    .unwrap()
                    .key_pair(b["Response"]["KeyId"].as_str().unwrap_or_default())
                    .is_some()
            },
        ),
        (
            "tencent",
            "cvm",
            "DescribeKeyPairs",
            tc(
                "DescribeKeyPairs",
                cvm,
                gz,
                json!({"KeyIds": ["skey-boundins"]}),
            ),
            |_, b| {
                b["Response"]["TotalCount"] == json!(1)
                    && b["Response"]["KeyPairSet"][0]["AssociatedInstanceIds"]
                        == json!(["ins-linstop1", "ins-linrun01"])
            },
        ),
        (
            "tencent",
            "cvm",
            "AssociateInstancesKeyPairs",
            tc(
                "AssociateInstancesKeyPairs",
                cvm,
                gz,
                json!({"InstanceIds": ["ins-linnokey"], "KeyIds": ["skey-free0001"]}),
            ),
            |w, _| {
                w.service("tencent/cvm")
                    .unwrap()
                    .instance("ins-linnokey")
                    .unwrap()
                    .keys
                    == ["skey-free0001"]
            },
        ),
        (
            "tencent",
            "cvm",
            "DescribeInstances",
            tc(
                "DescribeInstances",
                cvm,
                gz,
                json!({"Filters": [{"Name": "instance-state", "Values": ["RUNNING"]}]}),
            ),
            |_, b| {
                b["Response"]["TotalCount"] == json!(1)
                    && b["Response"]["InstanceSet"][0]["LoginSettings"]["KeyIds"]
                        == json!(["skey-boundins"])
            },
        ),
        (
            "tencent",
            "cvm",
            "StopInstances",
            tc(
                "StopInstances",
                cvm,
                gz,
                json!({"InstanceIds": ["ins-linrun01"]}),
            ),
            |w, _| {
                w.service("tencent/cvm")
                    .unwrap()
                    .instance("ins-linrun01")
                    .unwrap()
                    .state
                    == "STOPPED"
            },
        ),
        (
            "tencent",
            "cvm",
            "StartInstances",
            tc(
                "StartInstances",
                cvm,
                gz,
                json!({"InstanceIds": ["ins-linstop1"]}),
            ),
            |w, _| {
                w.service("tencent/cvm")
                    .unwrap()
                    .instance("ins-linstop1")
                    .unwrap()
                    .state
                    == "RUNNING"
            },
        ),
        (
            "tencent",
            "cvm",
            "DescribeRegions",
            tc("DescribeRegions", cvm, None, json!({})),
            |_, b| b["Response"]["RegionSet"][0]["Region"] == json!("ap-guangzhou"),
        ),
        (
            "tencent",
            "ecm",
            "CreateKeyPair",
            tc("CreateKeyPair", ecm, None, json!({"KeyName": "cc_ecm_new"})),
            |w, b| {
                w.service("tencent/ecm")
                    .unwrap()
                    .key_pair(
                        b["Response"]["KeyPair"]["KeyId"]
                            .as_str()
                            .unwrap_or_default(),
                    )
                    .is_some()
            },
        ),
        (
            "tencent",
            "ecm",
            "DescribeInstances",
            tc("DescribeInstances", ecm, None, json!({"Limit": 2})),
            |_, b| {
                b["Response"]["TotalCount"] == json!(4)
                    && b["Response"]["InstanceSet"].as_array().map(Vec::len) == Some(2)
            },
        ),
        (
            "tencent",
            "ecm",
            "StopInstances",
            tc(
                "StopInstances",
                ecm,
                None,
                json!({"InstanceIdSet": ["ein-linrun01"]}),
            ),
            |w, _| {
                w.service("tencent/ecm")
                    .unwrap()
                    .instance("ein-linrun01")
                    .unwrap()
                    .state
                    == "STOPPED"
            },
        ),
        (
            "tencent",
            "ecm",
            "StartInstances",
            tc(
                "StartInstances",
                ecm,
                None,
                json!({"InstanceIdSet": ["ein-linstop1"]}),
            ),
            |w, _| {
                w.service("tencent/ecm")
                    .unwrap()
                    .instance("ein-linstop1")
                    .unwrap()
                    .state
                    == "RUNNING"
            },
        ),
        (
            "alibaba",
            "ecs",
            "CreateKeyPair",
            ali(
                "CreateKeyPair",
                ecs,
                &[("RegionId", "cn-hangzhou"), ("KeyPairName", "cc-new")],
            ),
            |w, b| {
                b["KeyPairId"]
                    .as_str()
                    .is_some_and(|id| id.starts_with("ssh-"))
                    && w.service("alibaba/ecs")
                        .unwrap()
                        .key_pairs
                        .iter()
                        .any(|k| k.name == "cc-new")
            },
        ),
        (
            "alibaba",
            "ecs",
            "ImportKeyPair",
            ali(
                "ImportKeyPair",
                ecs,
                &[
                    ("RegionId", "cn-hangzhou"),
                    ("KeyPairName", "cc-imported"),
                    ("PublicKeyBody", pubkey),
                ],
            ),
            |w, _| {
                w.service("alibaba/ecs")
                    .unwrap()
                    .key_pairs
                    .iter()
                    .any(|k| k.name == "cc-imported")
            },
        ),
        (
            "alibaba",
            "ecs",
            "DescribeKeyPairs",
            ali(
                "DescribeKeyPairs",
                ecs,
                &[("RegionId", "cn-hangzhou"), ("KeyPairName", "cc_ecs_*_1")],
            ),
            |_, b| {
                b["TotalCount"] == json!(1)
                    && b["KeyPairs"]["KeyPair"][0]["KeyPairName"] == json!("cc_ecs_free_1")
            },
        ),
        (
            "alibaba",
            "ecs",
            "AttachKeyPair",
            ali(
                "AttachKeyPair",
                ecs,
                &[
                    ("RegionId", "cn-hangzhou"),
                    ("KeyPairName", "cc_ecs_free_1"),
                    ("InstanceIds", "[\"i-bp1linuxnokey00001\"]"),
                ],
            ),
            |w, b| {
                b["TotalCount"] == json!("1")
                    && w.service("alibaba/ecs")
                        .unwrap()
                        .instance("i-bp1linuxnokey00001")
                        .unwrap()
                        .keys
                        == ["ssh-ecsfree00001"]
            },
        ),
        (
            "alibaba",
            "ecs",
            "DeleteKeyPairs",
            ali(
                "DeleteKeyPairs",
                ecs,
                &[
                    ("RegionId", "cn-hangzhou"),
                    ("KeyPairNames", "[\"cc_ecs_free_1\"]"),
                ],
            ),
            |w, _| {
                w.service("alibaba/ecs")
                    .unwrap()
                    .key_pair("ssh-ecsfree00001")
                    .is_none()
            },
        ),
        (
            "alibaba",
            "ecs",
            "DescribeInstances",
            ali(
                "DescribeInstances",
                ecs,
                &[
                    ("RegionId", "cn-hangzhou"),
                    ("InstanceIds", "[\"i-bp1linuxrunning0001\"]"),
                ],
            ),
            |_, b| {
                b["Instances"]["Instance"][0]["Status"] == json!("Running")
                    && b["Instances"]["Instance"][0]["KeyPairName"] == json!("cc_ecs_bound")
            },
        ),
        (
            "alibaba",
            "ecs",
            "StopInstance",
            ali(
                "StopInstance",
                ecs,
                &[("InstanceId", "i-bp1linuxrunning0001")],
            ),
            |w, _| {
                w.service("alibaba/ecs")
                    .unwrap()
                    .instance("i-bp1linuxrunning0001")
                    .unwrap()
                    .state
                    == "Stopped"
            },
        ),
        (
            "alibaba",
            "ecs",
            "StartInstance",
            ali(
                "StartInstance",
                ecs,
                &[("InstanceId", "i-bp1linuxstopped0001")],
            ),
            |w, _| {
                w.service("alibaba/ecs")
                    .unwrap()
                    .instance("i-bp1linuxstopped0001")
                    .unwrap()
                    .state
                    == "Running"
            },
        ),
        (
            "alibaba",
            "ens",
            "CreateKeyPair",
            ali("CreateKeyPair", ens, &[("KeyPairName", "cc-ens-new")]),
            |w, b| {
                w.service("alibaba/ens")
                    .unwrap()
                    .key_pair(b["KeyPairId"].as_str().unwrap_or_default())
                    .is_some()
            },
        ),
        (
            "alibaba",
            "ens",
            "DescribeKeyPairs",
            ali(
                "DescribeKeyPairs",
                ens,
                &[("KeyPairId", "ssh-ensbound0001")],
            ),
            |_, b| {
                b["TotalCount"] == json!(1)
                    && b["KeyPairs"]["KeyPair"][0]["KeyPairName"] == json!("cc_ens_bound")
            },
        ),
        (
            "alibaba",
            "ens",
            "AttachKeyPair",
            ali(
                "AttachKeyPair",
                ens,
                &[
                    ("KeyPairId", "ssh-ensfree00001"),
                    ("InstanceIds", "[\"i-enslinuxnokey0000000001\"]"),
                ],
            ),
            |w, b| {
                b["TotalCount"] == json!(1)
                    && w.service("alibaba/ens")
                        .unwrap()
                        .instance("i-enslinuxnokey0000000001")
                        .unwrap()
                        .keys
                        == ["ssh-ensfree00001"]
            },
        ),
        (
            "alibaba",
            "ens",
            "DeleteKeyPairs",
            ali("DeleteKeyPairs", ens, &[("KeyPairName", "cc_ens_free_1")]),
            |w, _| {
                w.service("alibaba/ens")
                    .unwrap()
                    .key_pair("ssh-ensfree00001")
                    .is_none()
            },
        ),
        (
            "alibaba",
            "ens",
            "DescribeInstances",
            ali("DescribeInstances", ens, &[("Status", "Running")]),
            |_, b| {
                b["TotalCount"] == json!(1)
                    && b["Instances"]["Instance"][0]["InstanceId"]
                        == json!("i-enslinuxrunning00000001")
            },
        ),
        (
            "alibaba",
            "ens",
            "StopInstance",
            ali(
                "StopInstance",
                ens,
                &[("InstanceId", "i-enslinuxrunning00000001")],
            ),
            |w, _| {
                w.service("alibaba/ens")
                    .unwrap()
                    .instance("i-enslinuxrunning00000001")
                    .unwrap()
                    .state
                    == "Stopped"
            },
        ),
        (
            "alibaba",
            "ens",
            "StartInstance",
            ali(
                "StartInstance",
                ens,
                &[("InstanceId", "i-enslinuxstopped00000001")],
            ),
            |w, _| {
                w.service("alibaba/ens")
                    .unwrap()
                    .instance("i-enslinuxstopped00000001")
                    .unwrap()
                    .state
                    == "Running"
            },
        ),
    ];
    let fixtures = emu
        .specs()
        .actions()
        .filter(|a| a.role == cloudconform::spec::Role::Fixture)
        .count();
    assert_eq!(cases.len(), fixtures, "one case per fixture spec");
    let mut failures = Vec::new();
    for (provider, service, action, request, check) in cases {
        support::control(emu.addr, "POST", "reset", None).await;
        let r = support::send(emu.addr, &request).await;
        let body = support::json(&r);
        let spec = emu
            .specs()
            .actions()
            .find(|a| a.provider.as_str() == provider && a.service == service && a.action == action)
            .unwrap()
            .clone();
        let shape: Vec<String> = emu
            .specs()
            .response_validator(&spec.key())
            .unwrap()
            .iter_errors(&body)
            .map(|e| format!("{} at {}", e, e.instance_path()))
            .collect();
        if r.status != 200 || support::error_code(&r).is_some() || !shape.is_empty() {
            failures.push(format!(
                "{provider}/{service}/{action}: {} {shape:?} {body}",
                r.status
            ));
        } else if !check(&emu.world(), &body) {
            failures.push(format!(
                "{provider}/{service}/{action}: effect or content: {body}"
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));

    // Fixture preconditions answer with their codes too.
    support::control(emu.addr, "POST", "reset", None).await;
    for (request, want) in [
        (
            tc(
                "CreateKeyPair",
                cvm,
                gz,
                json!({"KeyName": "cc_free_1", "ProjectId": 0}),
            ),
            "InvalidKeyPairName.Duplicate",
        ),
        (
            tc(
                "CreateKeyPair",
                cvm,
                gz,
                json!({"KeyName": "bad name!", "ProjectId": 0}),
            ),
            "InvalidKeyPairNameIncludeIllegalChar",
        ),
        (
            tc(
                "StopInstances",
                cvm,
                gz,
                json!({"InstanceIds": ["ins-linstop1"]}),
            ),
            "UnsupportedOperation.InstanceStateStopped",
        ),
        (
            tc(
                "StopInstances",
                cvm,
                gz,
                json!({"InstanceIds": ["ins-linrun01"], "ForceStop": true, "StopType": "HARD"}),
            ),
            "InvalidParameterCombination",
        ),
        (
            tc("DescribeKeyPairs", cvm, gz, json!({"Limit": 101})),
            "InvalidParameterValueLimit",
        ),
        (
            ali(
                "CreateKeyPair",
                ecs,
                &[("RegionId", "cn-hangzhou"), ("KeyPairName", "cc_ecs_bound")],
            ),
            "KeyPair.AlreadyExist",
        ),
        (
            ali("DeleteKeyPairs", ens, &[("KeyPairId", "ssh-ensbound0001")]),
            "PubKeyAttachedWithInstance",
        ),
    ] {
        let r = support::send(emu.addr, &request).await;
        assert_eq!(
            support::error_code(&r).as_deref(),
            Some(want),
            "{}",
            String::from_utf8_lossy(&r.body)
        );
    }
}
