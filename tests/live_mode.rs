//! Live mode against an emulator treated as a plain URL: worlds are built with fixture actions
//! within a profile, nothing outside it is touched, everything created is removed, and
//! destructive cases only run with the opt-in.
use cloudconform::check::Verdict;
use cloudconform::emulator::{Emulator, EmulatorConfig};
use cloudconform::generate::{self, GenOptions};
use cloudconform::provider::Provider;
use cloudconform::run::endpoints::Endpoints;
use cloudconform::run::exec::Endpoint;
use cloudconform::run::profile::{Profile, ProfileInstance};
use cloudconform::run::{CaseResult, RunOptions, Runner, Target, TargetKind};
use cloudconform::sign::Credentials;
use cloudconform::spec::SpecSet;
use serde_json::{json, Value};
use std::path::PathBuf;
use std::sync::Arc;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

const IDS: [&str; 3] = ["ins-live0001", "ins-live0002", "ins-live0003"];

fn world(base: &Value) -> Value {
    let mut w = base.clone();
    w["services"]["tencent/cvm"] = json!({
        "instances": [
            {"id": IDS[0], "os": "linux", "state": "STOPPED", "region": "ap-guangzhou", "keys": []},
            {"id": IDS[1], "os": "linux", "state": "STOPPED", "region": "ap-guangzhou", "keys": []},
            {"id": IDS[2], "os": "windows", "state": "STOPPED", "region": "ap-guangzhou", "keys": []}
        ],
        "images": [],
        "key_pairs": [{"id": "skey-notmine1", "name": "someone_elses", "region": "ap-guangzhou"}]
    });
    w
}

fn run(allow_destructive: bool, credentials: Credentials) -> (Vec<CaseResult>, Value) {
    let specs = Arc::new(SpecSet::load(root().join("specs")).expect("specs"));
    let wanted = [
        "tencent/cvm/DisassociateInstancesKeyPairs/valid/minimal",
        "tencent/cvm/DisassociateInstancesKeyPairs/state/instance-is-linux/windows",
        "tencent/cvm/DisassociateInstancesKeyPairs/state/key-exists/not-found",
        "tencent/cvm/DisassociateInstancesKeyPairs/negative/missing-KeyIds",
        "tencent/cvm/DeleteKeyPairs/valid/minimal",
        "tencent/cvm/DeleteKeyPairs/state/key-not-in-use/in-use-by-instance",
        "tencent/cvm/DeleteKeyPairs/state/key-not-in-use/in-use-by-image",
        "tencent/cvm/DeleteKeyPairs/negative/missing-token",
    ];
    let cases: Vec<_> = generate::generate(&specs, &GenOptions::default())
        .expect("cases")
        .into_iter()
        .filter(|c| wanted.contains(&c.id.as_str()))
        .collect();
    assert_eq!(cases.len(), wanted.len());
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    rt.block_on(async {
        let emu = Emulator::start(EmulatorConfig {
            specs: Some(specs.clone()),
            rate_limits: false,
            ..EmulatorConfig::default()
        })
        .await
        .expect("emulator");
        // Loopback: never through a proxy the environment may name.
        let http = reqwest::Client::builder().no_proxy().build().unwrap();
        let control = format!("{}/_cloudconform/world", emu.url());
        let base: Value = serde_json::from_slice(
            &http
                .get(format!("{control}?secrets=true"))
                .send()
                .await
                .unwrap()
                .bytes()
                .await
                .unwrap(),
        )
        .unwrap();
        let put = http
            .put(&control)
            .header("content-type", "application/json")
            .body(world(&base).to_string())
            .send()
            .await
            .unwrap();
        assert!(put.status().is_success());
        let profile = Profile {
            region: "ap-guangzhou".into(),
            instances: IDS
                .iter()
                .zip(["linux", "linux", "windows"])
                .map(|(id, os)| ProfileInstance {
                    service: "cvm".into(),
                    id: id.to_string(),
                    os: os.into(),
                    state: "STOPPED".into(),
                    allow: None,
                    keys: vec![],
                })
                .collect(),
            ..Profile::default()
        };
        let target = Target {
            name: emu.host(),
            kind: TargetKind::Live {
                endpoints: Endpoints::new("ap-guangzhou", false)
                    .everything_at(Endpoint::parse(&emu.url()).unwrap()),
                credentials: [(Provider::Tencent, credentials)].into(),
                profile: Box::new(profile),
            },
        };
        let runner = Arc::new(
            Runner::new(
                specs.clone(),
                target,
                RunOptions {
                    allow_destructive,
                    concurrency: 2,
                    ..RunOptions::default()
                },
            )
            .unwrap(),
        );
        let results = runner.run_all(cases, Arc::new(|_: &CaseResult| {})).await;
        let after: Value = serde_json::from_slice(
            &http
                .get(&control)
                .send()
                .await
                .unwrap()
                .bytes()
                .await
                .unwrap(),
        )
        .unwrap();
        (results, after)
    })
}

#[test]
fn live_runs_build_worlds_with_fixtures_and_clean_up() {
    let (results, after) = run(true, root_key());
    for r in &results {
        match &r.verdict {
            Verdict::Pass => {}
            // Images cannot be created by fixtures: honest, not a failure.
            Verdict::Inconclusive { reason } if r.id.ends_with("in-use-by-image") => {
                assert!(reason.contains("image"), "{reason}")
            }
            // A permanent key cannot be sent "without its token".
            Verdict::Inconclusive { reason } if r.id.ends_with("missing-token") => {
                assert!(
                    reason.contains("CLOUDCONFORM_TEMPORARY_SECURITY_TOKEN"),
                    "{reason}"
                )
            }
            other => panic!("{}: {other:?}", r.id),
        }
    }
    let cvm = &after["services"]["tencent/cvm"];
    let keys: Vec<&str> = cvm["key_pairs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["id"].as_str().unwrap())
        .collect();
    assert_eq!(
        keys,
        vec!["skey-notmine1"],
        "only the key the run did not create is left"
    );
    for i in cvm["instances"].as_array().unwrap() {
        assert_eq!(i["state"], "STOPPED", "{i}");
        assert_eq!(i["keys"], json!([]), "{i}");
    }
}

#[test]
fn destructive_cases_need_the_opt_in() {
    let (results, after) = run(false, root_key());
    for r in &results {
        let destructive = r.id.ends_with("/valid/minimal");
        if destructive {
            assert!(
                matches!(&r.verdict, Verdict::Inconclusive { reason } if reason.contains("--allow-destructive")),
                "{}: {:?}",
                r.id,
                r.verdict
            );
        }
    }
    assert_eq!(
        after["services"]["tencent/cvm"]["key_pairs"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
}

fn root_key() -> Credentials {
    Credentials::new("AKIDEXAMPLE", "SECRETEXAMPLE")
}

#[test]
fn a_run_with_temporary_credentials_sends_a_request_without_the_token() {
    let temporary =
        Credentials::new("AKIDTEMPORARY", "TEMPORARYSECRET").with_session_token("TOKENEXAMPLE");
    let (results, _) = run(true, temporary);
    let missing = results
        .iter()
        .find(|r| r.id.ends_with("missing-token"))
        .expect("the missing-token case ran");
    assert_eq!(missing.verdict, Verdict::Pass, "{missing:?}");
    // Every other case signed with the token was answered as with a permanent key.
    for r in results
        .iter()
        .filter(|r| !r.id.ends_with("in-use-by-image"))
    {
        assert_eq!(r.verdict, Verdict::Pass, "{}: {:?}", r.id, r.verdict);
    }
}
