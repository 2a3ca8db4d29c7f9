//! Worlds placed in process (the embedded emulators) and through the control API (the same
//! emulators reached by URL only) give every case the same verdict; and the control API's
//! `PUT /_cloudconform/world` answers without the world unless asked (`?echo=true`).
use cloudconform::emulator::World;
use cloudconform::generate::{self, GenOptions};
use cloudconform::run::exec::Endpoint;
use cloudconform::run::expected::ExpectedFailures;
use cloudconform::run::{local, CaseResult, RunOptions, Runner, Target, TargetKind};
use cloudconform::spec::SpecSet;
use serde_json::{json, Value};
use std::path::PathBuf;
use std::sync::Arc;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime")
}

/// Every verdict, by case id, of `cases` run against `target`.
async fn verdicts(
    specs: &Arc<SpecSet>,
    target: Target,
    cases: Vec<generate::Case>,
) -> Vec<(String, String)> {
    let runner =
        Arc::new(Runner::new(specs.clone(), target, RunOptions::default()).expect("runner"));
    runner
        .run_all(cases, Arc::new(|_: &CaseResult| {}))
        .await
        .into_iter()
        .map(|r| (r.id, format!("{:?}", r.verdict)))
        .collect()
}

#[test]
fn in_process_and_control_api_placement_agree() {
    let specs = Arc::new(SpecSet::load(root().join("specs")).expect("specs"));
    let expected = ExpectedFailures::load(&root().join("cases/expected-failures"), "emulator")
        .expect("expected failures");
    // Every family of two services of both providers: worlds with instances, images and keys.
    let cases: Vec<_> = generate::generate(&specs, &GenOptions::default())
        .expect("cases")
        .into_iter()
        .filter(|c| c.id.starts_with("tencent/cvm/") || c.id.starts_with("alibaba/ens/"))
        .collect();
    assert!(cases.len() > 100, "{} cases", cases.len());
    let rt = runtime();
    let (in_process, by_url) = rt.block_on(async {
        let (handles, target) = local::start_emulators(specs.clone(), 2)
            .await
            .expect("emulators");
        let TargetKind::Emulator { endpoints } = &target.kind else {
            unreachable!()
        };
        assert!(endpoints.iter().all(|e| e.placement.is_some()));
        let in_process = verdicts(&specs, target.clone(), cases.clone()).await;
        // The same emulators, known by URL only: worlds go through `PUT /_cloudconform/world`.
        let urls: Vec<Endpoint> = endpoints
            .iter()
            .map(|e| Endpoint::parse(&e.base).expect("url"))
            .collect();
        assert!(urls.iter().all(|e| e.placement.is_none()));
        let by_url = Target {
            name: "emulator".into(),
            kind: TargetKind::Emulator { endpoints: urls },
        };
        let by_url = verdicts(&specs, by_url, cases.clone()).await;
        drop(handles);
        (in_process, by_url)
    });
    assert_eq!(in_process.len(), cases.len());
    assert_eq!(in_process, by_url);
    let passed = in_process
        .iter()
        .filter(|(id, v)| v == "Pass" || expected.reason(id).is_some())
        .count();
    assert_eq!(passed, cases.len(), "{in_process:#?}");
}

#[test]
fn control_api_put_echoes_only_when_asked() {
    let rt = runtime();
    rt.block_on(async {
        let emu = cloudconform::emulator::Emulator::start(Default::default())
            .await
            .expect("emulator");
        let http = reqwest::Client::builder().no_proxy().build().unwrap();
        let control = format!("{}/_cloudconform/world", emu.url());
        let body = |r: reqwest::Response| async move {
            assert!(r.status().is_success(), "{}", r.status());
            r.bytes().await.unwrap()
        };
        let mut world: Value = serde_json::from_slice(
            &body(
                http.get(format!("{control}?secrets=true"))
                    .send()
                    .await
                    .unwrap(),
            )
            .await,
        )
        .unwrap();
        world["regions"]["tencent"]
            .as_array_mut()
            .unwrap()
            .push(json!("ap-tokyo"));
        let put = |query: &'static str| {
            http.put(format!("{control}{query}"))
                .header("content-type", "application/json")
                .body(world.to_string())
                .send()
        };
        let plain: Value = serde_json::from_slice(&body(put("").await.unwrap()).await).unwrap();
        assert_eq!(plain, json!({"status": "ok"}));
        assert!(emu
            .world()
            .regions(cloudconform::spec::Provider::Tencent)
            .contains(&"ap-tokyo".to_string()));
        let echoed: Value =
            serde_json::from_slice(&body(put("?echo=true").await.unwrap()).await).unwrap();
        assert_eq!(echoed["regions"], world["regions"]);
        assert_eq!(echoed["accounts"][0]["secret"], json!("<redacted>"));
        let with_secrets: World =
            serde_json::from_slice(&body(put("?echo=true&secrets=true").await.unwrap()).await)
                .unwrap();
        assert_eq!(with_secrets, emu.world());
    });
}
