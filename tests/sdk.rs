//! `cloudconform sdk` end to end, without network or real SDKs: `tests/sdk_adapters/tiny.py`
//! (python3 stdlib) is a small client that signs and sends its own requests, correct or with
//! one deliberate fault, and the harness must name each divergence — or report the adapter's
//! own misbehaviour as the adapter's fault and go on.
use cloudconform::emulator::{Emulator, EmulatorConfig};
use cloudconform::generate::{self, GenOptions};
use cloudconform::sdk::{self, AdapterReport, AdapterStatus, Layer, SdkOptions, Verdict};
use cloudconform::spec::SpecSet;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Options running `adapter` over the cases whose id contains one of `filters`.
fn options(adapters: &[&str], filters: &[&str]) -> SdkOptions {
    let specs = SpecSet::load_default().expect("specs load");
    let cases = generate::all_cases(&specs, &GenOptions { seed: 1 }, None).expect("cases");
    let cases = cases
        .into_iter()
        .filter(|c| filters.iter().any(|f| c.id.contains(f)))
        .collect();
    SdkOptions {
        adapters: adapters.iter().map(|a| a.to_string()).collect(),
        specs: Arc::new(specs),
        cases,
        methods: Vec::new(),
        case_timeout: Duration::from_secs(10),
        hello_timeout: Duration::from_secs(20),
        expected_dir: root().join("adapters/expected-failures"),
        workdir: root(),
        complete: false,
    }
}

fn tiny(args: &str) -> String {
    format!("python3 tests/sdk_adapters/tiny.py {args}")
}

fn run_one(adapter: &str, filters: &[&str]) -> AdapterReport {
    let report = sdk::run(&options(&[adapter], filters)).expect("sdk run");
    report.adapters.into_iter().next().expect("one adapter")
}

/// Every finding message of every failed call.
fn messages(a: &AdapterReport, layer: Layer) -> Vec<String> {
    a.results
        .iter()
        .flat_map(|r| match &r.verdict {
            Verdict::Fail { findings } => findings.clone(),
            _ => Vec::new(),
        })
        .filter(|f| f.layer == layer)
        .map(|f| f.message)
        .collect()
}

#[test]
fn a_correct_client_passes_every_call_on_both_clouds() {
    let a = run_one(&tiny(""), &["DeleteKeyPairs/", "ecs/DetachKeyPair/"]);
    assert_eq!(a.status, AdapterStatus::Ran);
    assert!(a.results.len() > 50, "{} calls", a.results.len());
    for r in &a.results {
        assert_eq!(r.verdict, Verdict::Pass, "{} [{}]", r.case, r.method);
        assert_eq!(r.requests, 1, "{}: one request recorded", r.case);
    }
    // Both TC3 styles and the RPC style ran.
    for m in [
        "json-post/tc3-hmac-sha256",
        "get/tc3-hmac-sha256",
        "rpc-query/rpc-hmac-sha1",
    ] {
        assert!(a.results.iter().any(|r| r.method == m), "{m} ran");
    }
}

#[test]
fn keyids_flattened_from_one_is_caught_on_the_wire() {
    let a = run_one(&tiny("keyids-1"), &["DeleteKeyPairs/valid/minimal"]);
    let wire = messages(&a, Layer::Wire);
    assert!(
        wire.iter().any(|m| m.contains("parameter KeyIds")
            && m.contains("KeyIds.0 first")
            && m.contains("KeyIds.1=")),
        "{wire:?}"
    );
}

#[test]
fn a_swallowed_error_code_is_caught_on_the_surface() {
    let a = run_one(
        &tiny("swallow-code"),
        &[
            "DeleteKeyPairs/negative/missing-KeyIds",
            "ecs/DetachKeyPair/negative/missing-KeyPairName",
        ],
    );
    let surface = messages(&a, Layer::Surface);
    assert!(
        surface.iter().any(
            |m| m.contains("error code: the endpoint answered MissingParameter")
                && m.contains("the SDK returned success")
        ),
        "{surface:?}"
    );
    assert!(a.results.iter().all(|r| r.verdict.label() == "fail"));
}

#[test]
fn a_dropped_request_id_is_caught_on_the_surface() {
    let a = run_one(
        &tiny("drop-request-id"),
        &[
            "DeleteKeyPairs/negative/missing-KeyIds",
            "ecs/DetachKeyPair/negative/missing-KeyPairName",
        ],
    );
    let surface = messages(&a, Layer::Surface);
    assert!(!surface.is_empty());
    for m in &surface {
        assert!(
            m.starts_with("request id: the endpoint answered ")
                && m.ends_with("the SDK surfaced none"),
            "{m}"
        );
    }
}

#[test]
fn instance_ids_as_repeated_parameters_are_caught_on_the_wire() {
    let a = run_one(
        &tiny("repeated-instanceids"),
        &["ecs/DetachKeyPair/valid/minimal"],
    );
    let wire = messages(&a, Layer::Wire);
    assert!(
        wire.iter().any(|m| m.contains("parameter InstanceIds")
            && m.contains("one parameter holding JSON array text")
            && m.contains("InstanceIds.1=")),
        "{wire:?}"
    );
}

/// The call marked for misbehaviour is the adapter's fault; every other call still passes.
fn assert_fault_then_continues(a: &AdapterReport, mark: &str, expect: &[&str]) {
    let mut faults = 0;
    for r in &a.results {
        if r.case.contains(mark) {
            let Verdict::AdapterFault { fault } = &r.verdict else {
                panic!("{} should be the adapter's fault: {:?}", r.case, r.verdict)
            };
            for e in expect {
                assert!(fault.contains(e), "{fault} lacks {e}");
            }
            faults += 1;
        } else {
            assert_eq!(r.verdict, Verdict::Pass, "{} after the fault", r.case);
        }
    }
    assert!(faults > 0 && a.results.len() > faults);
}

#[test]
fn a_crashing_adapter_is_reported_with_its_exit_status_and_the_run_continues() {
    let a = run_one(&tiny("crash valid/minimal"), &["DeleteKeyPairs/valid/"]);
    assert_fault_then_continues(
        &a,
        "valid/minimal",
        &["exit status: 3", "crashing on purpose"],
    );
}

#[test]
fn a_hanging_adapter_is_killed_and_the_run_continues() {
    let mut opts = options(&[&tiny("hang valid/minimal")], &["DeleteKeyPairs/valid/"]);
    opts.case_timeout = Duration::from_secs(2);
    let a = sdk::run(&opts).expect("run").adapters.remove(0);
    assert_fault_then_continues(&a, "valid/minimal", &["sent nothing for 2 s"]);
}

#[test]
fn garbage_from_an_adapter_is_reported_with_the_bytes_and_the_run_continues() {
    let a = run_one(&tiny("garbage valid/minimal"), &["DeleteKeyPairs/valid/"]);
    assert_fault_then_continues(&a, "valid/minimal", &["garbage", "this is not JSON"]);
}

#[test]
fn an_adapter_that_never_says_hello_is_a_fault_not_a_failure() {
    let report = sdk::run(&options(
        &["read hello; echo nonsense", "read hello; exit 4"],
        &["DeleteKeyPairs/valid/minimal"],
    ))
    .expect("run");
    let AdapterStatus::Fault { fault } = &report.adapters[0].status else {
        panic!()
    };
    assert!(fault.contains("nonsense"), "{fault}");
    let AdapterStatus::Fault { fault } = &report.adapters[1].status else {
        panic!()
    };
    assert!(fault.contains("exit status: 4"), "{fault}");
    assert!(!report.has_failures() && report.has_faults());
}

#[test]
fn an_unavailable_sdk_is_reported_as_such() {
    let a = run_one(
        "python3 adapters/common/unavailable.py 'no registry here'",
        &["DeleteKeyPairs/valid/minimal"],
    );
    assert_eq!(
        a.status,
        AdapterStatus::Unavailable {
            reason: "no registry here".into()
        }
    );
    assert!(a.results.is_empty());
}

#[test]
fn expected_failures_are_strict() {
    let dir = tempfile::tempdir().expect("tempdir");
    let write = |sdk: &str, case: &str| {
        let list = serde_json::json!({"sdk": sdk, "failures": [{
            "case": case, "layer": "wire",
            "behaviour": "flattens Tencent arrays from 1 on purpose", "evidence": "tests/sdk_adapters/tiny.py"
        }]});
        std::fs::write(dir.path().join(format!("{sdk}.json")), list.to_string()).expect("write");
    };
    write("tiny-keyids-1", "tencent/cvm/DeleteKeyPairs/valid/*");
    write("tiny-correct", "tencent/cvm/DeleteKeyPairs/valid/minimal");
    let mut opts = options(&[&tiny("keyids-1"), &tiny("")], &["DeleteKeyPairs/valid/"]);
    opts.expected_dir = dir.path().to_path_buf();
    let report = sdk::run(&opts).expect("run");
    let listed = &report.adapters[0];
    assert!(
        listed
            .results
            .iter()
            .all(|r| r.verdict.label() == "xfail" || r.case.contains("example-1")),
        "{:?}",
        listed.results
    );
    let stale = &report.adapters[1];
    for r in &stale.results {
        let want = if r.case.ends_with("valid/minimal") {
            "stale"
        } else {
            "pass"
        };
        assert_eq!(r.verdict.label(), want, "{}", r.case);
    }
    assert!(report.has_failures(), "a stale entry fails the run");
    // In a complete run, an entry that matches no call at all is stale as well.
    write(
        "tiny-correct",
        "tencent/cvm/DeleteKeyPairs/valid/no-such-case",
    );
    opts.adapters = vec![tiny("")];
    opts.complete = true;
    let report = sdk::run(&opts).expect("run");
    let r = report.adapters[0].results.last().expect("a row");
    assert_eq!(
        (r.case.as_str(), r.verdict.label()),
        ("tencent/cvm/DeleteKeyPairs/valid/no-such-case", "stale")
    );
}

#[test]
fn harness_messages_follow_the_published_schemas() {
    let dir = sdk::protocol::schema_dir();
    let schema = |name: &str| {
        let v: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(dir.join(name)).expect("read"))
                .expect("json");
        jsonschema::validator_for(&v).expect("schema compiles")
    };
    let hello = sdk::protocol::Hello {
        kind: Default::default(),
        protocol: sdk::protocol::VERSION,
        endpoint: sdk::protocol::Endpoint {
            url: "http://127.0.0.1:1".into(),
            host: "127.0.0.1:1".into(),
            scheme: "http".into(),
        },
        credentials: sdk::protocol::Credentials {
            access_key_id: "AKIDEXAMPLE".into(),
            secret: "SECRETEXAMPLE".into(),
        },
        regions: serde_json::from_value(serde_json::json!({"tencent": "ap-guangzhou"}))
            .expect("map"),
    };
    let v = serde_json::to_value(&hello).expect("serialize");
    assert!(schema("hello.schema.json").is_valid(&v), "{v}");
    let case = sdk::protocol::CaseMsg {
        kind: Default::default(),
        id: "tencent/cvm/DeleteKeyPairs/valid/minimal#json-post/tc3-hmac-sha256".into(),
        provider: "tencent".into(),
        service: "cvm".into(),
        version: "2017-03-12".into(),
        action: "DeleteKeyPairs".into(),
        region: "ap-guangzhou".into(),
        params: serde_json::from_value(serde_json::json!({"KeyIds": ["skey-aaaa1111"]}))
            .expect("map"),
        encodings: serde_json::from_value(serde_json::json!({"InstanceIds": "json-string"}))
            .expect("map"),
        method: "json-post/tc3-hmac-sha256".into(),
    };
    let v = serde_json::to_value(&case).expect("serialize");
    assert!(schema("case.schema.json").is_valid(&v), "{v}");
    assert!(schema("bye.schema.json").is_valid(&sdk::protocol::bye()));
    // And adapter messages that break them are refused with the reason.
    let schemas = sdk::protocol::Schemas::load(&dir).expect("schemas");
    let err = schemas
        .result(r#"{"type":"result","id":"x","outcome":"error"}"#)
        .unwrap_err();
    assert!(err.contains("result.schema.json"), "{err}");
    assert!(schemas.hello_reply(r#"{"type":"identity","protocol":2,"sdk":"x","version":"1","language":"py","actions":[],"methods":["a/b"]}"#).is_err());
}

#[tokio::test]
async fn recording_mode_keeps_cloud_requests_only_and_only_when_on() {
    let handle = Emulator::start(EmulatorConfig::default())
        .await
        .expect("start");
    let client = reqwest::Client::new();
    let cloud = |body: &'static str| {
        client
            .post(handle.url())
            .header("Content-Type", "application/json")
            .header("X-TC-Action", "DeleteKeyPairs")
            .body(body)
            .send()
    };
    cloud("{}").await.expect("send");
    assert!(handle.take_recording().is_empty(), "off by default");
    handle.set_recording(true);
    cloud(r#"{"KeyIds":["skey-x"]}"#).await.expect("send");
    client
        .get(format!("{}/_cloudconform/health", handle.url()))
        .send()
        .await
        .expect("control");
    let recorded = handle.take_recording();
    assert_eq!(recorded.len(), 1, "the control call is not recorded");
    assert_eq!(recorded[0].request.body, br#"{"KeyIds":["skey-x"]}"#);
    assert_eq!(
        recorded[0].request.header("x-tc-action"),
        Some("DeleteKeyPairs")
    );
    let answer: serde_json::Value =
        serde_json::from_slice(&recorded[0].response.body).expect("json");
    assert!(answer.pointer("/Response/Error/Code").is_some(), "{answer}");
    assert!(handle.take_recording().is_empty(), "taking empties the log");
    let _ = Path::new("");
}

/// `cloudconform sdk` from the command line: the report on stdout, the exit code.
fn cli(args: &[&str], ci: Option<&str>) -> (i32, String, String) {
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_cloudconform"));
    cmd.arg("sdk").args(args).current_dir(root());
    match ci {
        Some(v) => cmd.env("CI", v),
        None => cmd.env_remove("CI"),
    };
    let out = cmd.output().expect("run cloudconform");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn the_markdown_matrix_names_each_failure_and_the_exit_code_says_nonconformance() {
    let (code, stdout, _) = cli(
        &[
            "--adapter",
            &tiny("keyids-1"),
            "--adapter",
            &tiny(""),
            "--filter",
            "DeleteKeyPairs/valid/minimal",
            "--report",
            "markdown",
        ],
        None,
    );
    assert_eq!(code, 1, "{stdout}");
    assert!(
        stdout.contains("| tiny-keyids-1 1.0 | python |"),
        "{stdout}"
    );
    assert!(stdout.contains("### Matrix: tencent"), "{stdout}");
    assert!(
        stdout.contains("| `tencent/cvm/DeleteKeyPairs/valid/minimal` | **FAIL** | pass | pass |"),
        "{stdout}"
    );
    assert!(stdout.contains("KeyIds.0 first"), "{stdout}");
}

#[test]
fn an_unavailable_sdk_is_a_skip_locally_and_a_failure_in_ci() {
    let args = [
        "--adapter",
        "python3 adapters/common/unavailable.py 'no registry'",
        "--filter",
        "DeleteKeyPairs/valid/minimal",
    ];
    let (code, _, stderr) = cli(&args, None);
    assert_eq!(code, 0);
    assert!(stderr.contains("skipped: the SDK of"), "{stderr}");
    let (code, _, stderr) = cli(&args, Some("true"));
    assert_eq!(code, 1);
    assert!(
        stderr.contains("FAIL (CI=true)") && stderr.contains("no registry"),
        "{stderr}"
    );
}

#[test]
fn an_unknown_method_on_the_command_line_is_a_usage_error() {
    let (code, _, stderr) = cli(&["--adapter", &tiny(""), "--method", "json-post/md5"], None);
    assert_eq!(code, 2);
    assert!(stderr.contains("json-post/md5"), "{stderr}");
}

#[test]
fn an_adapter_whose_sdk_cannot_be_installed_answers_unavailable() {
    // A copy of a real adapter with a package index nobody listens on (loopback port 9): the
    // bootstrap's pip fails without touching any network, and the adapter says why.
    let dir = tempfile::tempdir().expect("tempdir");
    let adapters = dir.path().join("adapters");
    std::fs::create_dir_all(adapters.join("python-core")).expect("mkdir");
    std::fs::create_dir_all(adapters.join("common")).expect("mkdir");
    for f in ["bootstrap.sh", "testee.py", "unavailable.py"] {
        std::fs::copy(
            root().join("adapters/common").join(f),
            adapters.join("common").join(f),
        )
        .expect("copy");
    }
    for f in ["run", "adapter.py", "requirements.txt"] {
        std::fs::copy(
            root().join("adapters/python-core").join(f),
            adapters.join("python-core").join(f),
        )
        .expect("copy");
    }
    let mut opts = options(
        &["PIP_INDEX_URL=http://127.0.0.1:9/simple PIP_RETRIES=0 PIP_TIMEOUT=1 adapters/python-core/run"],
        &["ecs/DetachKeyPair/valid/minimal"],
    );
    opts.workdir = dir.path().to_path_buf();
    opts.hello_timeout = Duration::from_secs(120);
    let a = sdk::run(&opts).expect("run").adapters.remove(0);
    let AdapterStatus::Unavailable { reason } = &a.status else {
        panic!("{:?}", a.status)
    };
    assert!(
        reason.contains("could not install python-core/requirements.txt"),
        "{reason}"
    );
}
