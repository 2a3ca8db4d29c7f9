//! Every case against `cloudconform emulate` served as a URL (plain HTTP and HTTPS), with a
//! profile per provider lending the run its instances — the way a user runs the harness against
//! an endpoint it did not write. Nothing may fail or diverge, inconclusive cases are few and each
//! names a documented reason, and the world afterwards equals the world before.
mod url_support;

use cloudconform::generate::{self, GenOptions};
use cloudconform::run::exec::Endpoint;
use cloudconform::run::{CaseResult, Runner, Target};
use cloudconform::spec::SpecSet;
use serde_json::Value;
use std::sync::Arc;
use url_support::root;

/// One run over both providers: one profile with a section per provider.
fn run_against(url: &str) -> Vec<CaseResult> {
    let specs = Arc::new(SpecSet::load(root().join("specs")).expect("specs"));
    let cases = generate::generate(&specs, &GenOptions::default()).expect("cases");
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let target = Target {
        name: "url".into(),
        kind: url_support::live_kind(Endpoint::parse(url).unwrap()),
    };
    let plan = cloudconform::run::plan::plan(&specs, &cases, true);
    let runner = Arc::new(Runner::new(specs.clone(), target, url_support::options()).unwrap());
    let results = rt.block_on(runner.run_all(cases, Arc::new(|_: &CaseResult| {})));
    // World set-up binds keys in batches as the bind action allows, and `--dry-run`'s plan
    // counts them the same way: for the bind actions (no step calls them) plan = sent.
    let sent = runner.requests_per_action();
    for bind in [
        "tencent/cvm/AssociateInstancesKeyPairs",
        "alibaba/ecs/AttachKeyPair",
        "alibaba/ens/AttachKeyPair",
    ] {
        let planned = plan.get(bind).map_or(0, |p| p.requests);
        assert!(planned > 0, "{bind} planned");
        assert_eq!(
            sent.get(bind).copied(),
            Some(planned),
            "{bind}: sent vs plan"
        );
    }
    results
}

/// The world afterwards equals the world before; differences named item by item.
fn assert_same_world(before: &Value, after: &Value) {
    let mut diffs = Vec::new();
    let services = before["services"].as_object().expect("services");
    for (svc, b) in services {
        let a = &after["services"][svc];
        for what in ["instances", "images", "key_pairs"] {
            let items =
                |v: &Value| -> Vec<Value> { v[what].as_array().cloned().unwrap_or_default() };
            let (bi, ai) = (items(b), items(a));
            for x in &bi {
                if !ai.contains(x) {
                    diffs.push(format!(
                        "{svc} {what}: before {x}, now {}",
                        ai.iter()
                            .find(|y| y["id"] == x["id"])
                            .map_or("gone".into(), |y| y.to_string())
                    ));
                }
            }
            for y in &ai {
                if !bi.iter().any(|x| x["id"] == y["id"]) {
                    diffs.push(format!("{svc} {what}: left behind {y}"));
                }
            }
        }
    }
    assert!(
        diffs.is_empty(),
        "the world afterwards differs:\n{}",
        diffs.join("\n")
    );
}

fn every_case(tls: bool) {
    let (served, before) = url_support::serve_lent(tls, &[]);
    let results = run_against(&served.url);
    let after = url_support::control(&served.url, "GET", "world", None);
    url_support::assert_decided(&results, 3);
    assert_same_world(&before, &after);
}

#[test]
fn every_case_against_emulate_served_over_http() {
    every_case(false);
}

#[test]
fn every_case_against_emulate_served_over_https() {
    every_case(true);
}
