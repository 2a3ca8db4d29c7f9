//! Every case against `cloudconform emulate` served as a URL behind a proxy that refuses the
//! emulator's control API (`/_cloudconform/…` answers 404), as any endpoint the harness did not
//! write would: worlds come from documented calls and the profile alone. Nothing may fail or
//! diverge, each inconclusive case names its reason, and the count per reason and per action is
//! printed (`cargo test --test url_no_control -- --nocapture`); the world afterwards equals the
//! world before.
mod url_support;

use cloudconform::check::Verdict;
use cloudconform::generate::{self, GenOptions};
use cloudconform::run::exec::Endpoint;
use cloudconform::run::{CaseResult, Runner, Target};
use cloudconform::spec::SpecSet;
use serde_json::Value;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use url_support::root;

/// Inconclusive cases allowed without a control API, of all cases (issue 10's goal is 3 %;
/// what is left needs what no documented call can make — see docs/running.md).
const MAX_INCONCLUSIVE_PERCENT: usize = 4;

#[test]
fn every_case_against_a_url_without_the_control_api() {
    let (served, before) = url_support::serve_lent(false, &[]);
    let upstream: SocketAddr = served
        .url
        .trim_start_matches("http://")
        .parse()
        .expect("emulator address");
    let specs = Arc::new(SpecSet::load(root().join("specs")).expect("specs"));
    let cases = generate::generate(&specs, &GenOptions::default()).expect("cases");
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let refused = Arc::new(AtomicUsize::new(0));
    let counter = refused.clone();
    let addr = rt.block_on(url_support::proxy(
        upstream,
        Arc::new(move |path: &str, _action: &str| {
            if path.starts_with("/_cloudconform") {
                counter.fetch_add(1, Ordering::Relaxed);
                url_support::Answer::Refuse
            } else {
                url_support::Answer::Forward
            }
        }),
    ));
    let target = Target {
        name: "url-no-control".into(),
        kind: url_support::live_kind(Endpoint::parse(&format!("http://{addr}")).unwrap()),
    };
    let runner = Arc::new(Runner::new(specs, target, url_support::options()).unwrap());
    let results: Vec<CaseResult> =
        rt.block_on(runner.run_all(cases, Arc::new(|_: &CaseResult| {})));
    let after = url_support::control(&served.url, "GET", "world", None);
    let (leaks, kept) = runner.leftovers();
    assert!(leaks.is_empty(), "leaks: {leaks:?}");

    assert!(
        refused.load(Ordering::Relaxed) > 0,
        "the runner never asked for the control API"
    );
    url_support::assert_decided(&results, MAX_INCONCLUSIVE_PERCENT);
    // ECM keys, which no API deletes, are the only thing left: created once, reused, and
    // listed at the end with their ids — exactly the ones the world still holds.
    let mut listed: Vec<String> = kept
        .iter()
        .map(|k| {
            assert_eq!(k.service, "tencent/ecm", "{k:?}");
            k.id.clone()
        })
        .collect();
    listed.sort();
    let mut left: Vec<String> = left_behind(&before, &after, "tencent/ecm")
        .iter()
        .map(|k| k["id"].as_str().unwrap().to_string())
        .collect();
    left.sort();
    assert!(!listed.is_empty(), "ECM cases create their keys");
    assert_eq!(listed, left, "kept keys listed = ECM keys left");
    let mut without_kept = after.clone();
    if let Some(keys) = without_kept["services"]["tencent/ecm"]["key_pairs"].as_array_mut() {
        keys.retain(|k| !listed.iter().any(|id| k["id"] == id.as_str()));
    }
    assert_same_world(&before, &without_kept);
}

/// Key pairs of `service` present after the run and not before.
fn left_behind(before: &Value, after: &Value, service: &str) -> Vec<Value> {
    let items = |w: &Value| -> Vec<Value> {
        w["services"][service]["key_pairs"]
            .as_array()
            .cloned()
            .unwrap_or_default()
    };
    let b = items(before);
    items(after)
        .into_iter()
        .filter(|k| !b.iter().any(|x| x["id"] == k["id"]))
        .collect()
}

/// The lent world is as it was: every instance and key pair there before, unchanged, and
/// nothing left behind.
fn assert_same_world(before: &Value, after: &Value) {
    let mut diffs = Vec::new();
    for (svc, b) in before["services"].as_object().expect("services") {
        let a = &after["services"][svc];
        for what in ["instances", "images", "key_pairs"] {
            let items =
                |v: &Value| -> Vec<Value> { v[what].as_array().cloned().unwrap_or_default() };
            let (bi, ai) = (items(b), items(a));
            for x in bi.iter().filter(|x| !ai.contains(x)) {
                diffs.push(format!("{svc} {what}: before {x}"));
            }
            for y in ai.iter().filter(|y| !bi.iter().any(|x| x["id"] == y["id"])) {
                diffs.push(format!("{svc} {what}: left behind {y}"));
            }
        }
    }
    assert!(diffs.is_empty(), "the world differs:\n{}", diffs.join("\n"));
}

/// One case on a URL behind `rule` (control API refused too); the results, what the run lists
/// as left behind (leaks, kept) and the served world before and after.
fn one_case_behind(
    filter: &str,
    rule: impl Fn(&str, &str) -> url_support::Answer + Send + Sync + 'static,
) -> (
    Vec<CaseResult>,
    Vec<cloudconform::run::ledger::Leftover>,
    Value,
    Value,
) {
    let (served, before) = url_support::serve_lent(false, &[]);
    let specs = Arc::new(SpecSet::load(root().join("specs")).expect("specs"));
    let cases: Vec<_> = generate::generate(&specs, &GenOptions::default())
        .expect("cases")
        .into_iter()
        .filter(|c| c.id == filter)
        .collect();
    assert_eq!(cases.len(), 1, "{filter}");
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let addr = rt.block_on(url_support::proxy(
        url_support::addr_of(&served),
        Arc::new(move |path: &str, action: &str| {
            if path.starts_with("/_cloudconform") {
                url_support::Answer::Refuse
            } else {
                rule(path, action)
            }
        }),
    ));
    let target = Target {
        name: "url-rule".into(),
        kind: url_support::live_kind(Endpoint::parse(&format!("http://{addr}")).unwrap()),
    };
    let runner = Arc::new(Runner::new(specs, target, url_support::options()).unwrap());
    let results = rt.block_on(runner.run_all(cases, Arc::new(|_: &CaseResult| {})));
    let (leaks, _) = runner.leftovers();
    let after = url_support::control(&served.url, "GET", "world", None);
    (results, leaks, before, after)
}

/// A CVM case that creates a key pair, binds it and deletes it in teardown.
const CREATES_A_KEY: &str = "tencent/cvm/DisassociateInstancesKeyPairs/valid/minimal";

#[test]
fn a_key_whose_delete_was_answered_but_not_done_is_a_leak() {
    // DeleteKeyPairs answered as a success without reaching the target.
    let fake = br#"{"Response": {"RequestId": "6ef60bec-0242-43af-bb20-270359fb54a7"}}"#;
    let answer = format!(
        "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{}",
        fake.len(),
        String::from_utf8_lossy(fake)
    )
    .into_bytes();
    let (results, leaks, before, after) = one_case_behind(CREATES_A_KEY, move |_, action| {
        if action == "DeleteKeyPairs" {
            url_support::Answer::Fake(answer.clone())
        } else {
            url_support::Answer::Forward
        }
    });
    assert_eq!(
        results[0].verdict,
        Verdict::Pass,
        "{:?}",
        results[0].verdict
    );
    let left = left_behind(&before, &after, "tencent/cvm");
    assert_eq!(left.len(), 1, "the key is still there: {left:?}");
    // The final Describe shows it: a leak, named, although the delete call was answered.
    assert_eq!(leaks.len(), 1, "{leaks:?}");
    assert_eq!(leaks[0].id, left[0]["id"].as_str().unwrap());
    assert!(leaks[0].note.contains("still lists"), "{leaks:?}");
}

#[test]
fn a_key_whose_create_answer_was_lost_is_found_by_name_and_deleted() {
    let lost = Arc::new(AtomicUsize::new(0));
    let seen = lost.clone();
    let (results, leaks, before, after) = one_case_behind(CREATES_A_KEY, move |_, action| {
        // The first CreateKeyPair reaches the target; its answer never comes back.
        if action == "CreateKeyPair" && seen.fetch_add(1, Ordering::Relaxed) == 0 {
            url_support::Answer::ForwardThenDrop
        } else {
            url_support::Answer::Forward
        }
    });
    assert_eq!(
        lost.load(Ordering::Relaxed),
        1,
        "CreateKeyPair sent once, never again"
    );
    let Verdict::Inconclusive { reason } = &results[0].verdict else {
        panic!("{:?}", results[0].verdict);
    };
    assert!(reason.contains("CreateKeyPair"), "{reason}");
    // Described by the name the run chose, then deleted: nothing left, nothing "may exist".
    assert!(leaks.is_empty(), "{leaks:?}");
    assert!(
        left_behind(&before, &after, "tencent/cvm").is_empty(),
        "the key created without an answer is gone"
    );
}
