//! Mutation tests for the checks: run the generated cases against an emulator behind a small
//! response-rewriting proxy that changes one behaviour, and assert that the run fails on
//! exactly the cases that see that change (and on no other) — on both paths: in-process
//! emulators reset per case, and `cloudconform emulate` served as a URL with a lending profile
//! (worlds built with fixture actions, as against any endpoint).
mod url_support;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::response::Response;
use cloudconform::check::Verdict;
use cloudconform::emulator::EmulatorHandle;
use cloudconform::generate::{self, Case, Expect, GenOptions};
use cloudconform::http::{RawRequest, RawResponse};
use cloudconform::run::exec::Endpoint;
use cloudconform::run::expected::ExpectedFailures;
use cloudconform::run::{local, CaseResult, RunOptions, Runner, Target, TargetKind};
use cloudconform::spec::SpecSet;
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::sync::Arc;

/// Rewrites one answer: the request as received, its action, the upstream answer.
type Rewrite = fn(&RawRequest, &str, &mut RawResponse);

struct Proxy {
    upstream: Endpoint,
    client: reqwest::Client,
    rewrite: Rewrite,
}

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn param(encoded: &str, name: &str) -> Option<String> {
    encoded.split('&').find_map(|kv| {
        let (k, v) = kv.split_once('=')?;
        (k == name).then(|| v.to_string())
    })
}

/// The action a request calls: a header (TC3, ACS3) or the Action parameter (v1, RPC).
fn action_of(req: &RawRequest) -> String {
    req.header("x-tc-action")
        .or(req.header("x-acs-action"))
        .map(str::to_string)
        .or_else(|| param(&req.raw_query, "Action"))
        .or_else(|| param(&String::from_utf8_lossy(&req.body), "Action"))
        .unwrap_or_default()
}

fn version_of(req: &RawRequest) -> String {
    req.header("x-tc-version")
        .or(req.header("x-acs-version"))
        .map(str::to_string)
        .or_else(|| param(&req.raw_query, "Version"))
        .or_else(|| param(&String::from_utf8_lossy(&req.body), "Version"))
        .unwrap_or_default()
}

async fn forward(State(p): State<Arc<Proxy>>, req: Request) -> Response {
    let (parts, body) = req.into_parts();
    let bytes = axum::body::to_bytes(body, usize::MAX)
        .await
        .unwrap_or_default();
    let raw = RawRequest {
        method: parts.method.to_string(),
        path: parts.uri.path().to_string(),
        raw_query: parts.uri.query().unwrap_or_default().to_string(),
        headers: parts
            .headers
            .iter()
            .map(|(k, v)| (k.to_string(), String::from_utf8_lossy(v.as_bytes()).into()))
            .collect(),
        body: bytes.to_vec(),
    };
    let mut url = format!("{}{}", p.upstream.base, raw.path);
    if !raw.raw_query.is_empty() {
        url = format!("{url}?{}", raw.raw_query);
    }
    let mut out = p.client.request(parts.method.clone(), url);
    for (k, v) in &raw.headers {
        if !k.eq_ignore_ascii_case("content-length") {
            out = out.header(k.as_str(), v.as_str());
        }
    }
    let answer = out
        .body(raw.body.clone())
        .send()
        .await
        .expect("upstream answers");
    let mut resp = RawResponse {
        status: answer.status().as_u16(),
        headers: answer
            .headers()
            .iter()
            .map(|(k, v)| (k.to_string(), String::from_utf8_lossy(v.as_bytes()).into()))
            .collect(),
        body: answer.bytes().await.unwrap_or_default().to_vec(),
    };
    if !raw.path.starts_with("/_cloudconform") {
        let action = format!("{}@{}", action_of(&raw), version_of(&raw));
        (p.rewrite)(&raw, &action, &mut resp);
    }
    let mut builder = Response::builder().status(resp.status);
    for (k, v) in &resp.headers {
        let k = k.to_ascii_lowercase();
        if k != "content-length" && k != "transfer-encoding" {
            builder = builder.header(k, v);
        }
    }
    builder
        .body(Body::from(resp.body))
        .expect("response builds")
}

async fn start_proxy(upstream: Endpoint, rewrite: Rewrite) -> Endpoint {
    let state = Arc::new(Proxy {
        upstream,
        client: reqwest::Client::builder().no_proxy().build().unwrap(),
        rewrite,
    });
    let app = axum::Router::new().fallback(forward).with_state(state);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    Endpoint::from_addr(addr)
}

fn json_body(resp: &RawResponse) -> Option<Value> {
    serde_json::from_slice(&resp.body).ok()
}

fn set_body(resp: &mut RawResponse, v: &Value) {
    resp.body = serde_json::to_vec(v).expect("serializes");
}

/// Run `cases` against `cloudconform emulate` served as a URL behind a proxy applying `rewrite`,
/// with the lending profile; the ids of the cases that did not pass.
fn failing_ids_on_url(
    specs: &Arc<SpecSet>,
    cases: Vec<Case>,
    rewrite: Rewrite,
    serve_args: &[&str],
) -> BTreeSet<String> {
    let (served, _) = url_support::serve_lent(false, serve_args);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async {
        let proxy = start_proxy(Endpoint::parse(&served.url).expect("url"), rewrite).await;
        let target = Target {
            name: "url".into(),
            kind: url_support::live_kind(proxy),
        };
        let runner =
            Arc::new(Runner::new(specs.clone(), target, url_support::options()).expect("runner"));
        let results = runner.run_all(cases, Arc::new(|_: &CaseResult| {})).await;
        judged(results)
    })
}

/// No case may be inconclusive, every finding names its rule and location; the ids of the
/// cases that did not pass.
fn judged(results: Vec<CaseResult>) -> BTreeSet<String> {
    for r in &results {
        assert!(
            !matches!(r.verdict, Verdict::Inconclusive { .. }),
            "{} inconclusive: {:?}",
            r.id,
            r.verdict
        );
    }
    for r in &results {
        if let Verdict::Fail { findings } = &r.verdict {
            for f in findings {
                assert!(f.rule.contains(".json#/"), "{}: rule {:?}", r.id, f.rule);
                assert!(!f.location.is_empty(), "{}: no location in {f}", r.id);
            }
        }
    }
    results
        .into_iter()
        .filter(|r| r.verdict != Verdict::Pass)
        .map(|r| r.id)
        .collect()
}

/// Run `cases` through proxies applying `rewrite`; the ids of the cases that did not pass.
fn failing_ids(specs: &Arc<SpecSet>, cases: Vec<Case>, rewrite: Rewrite) -> BTreeSet<String> {
    judged(results_in_process(specs, cases, rewrite))
}

/// Every result of `cases` run in process through proxies applying `rewrite`.
fn results_in_process(specs: &Arc<SpecSet>, cases: Vec<Case>, rewrite: Rewrite) -> Vec<CaseResult> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async {
        let (handles, target): (Vec<EmulatorHandle>, Target) =
            local::start_emulators(specs.clone(), 2)
                .await
                .expect("emulators");
        let TargetKind::Emulator { endpoints } = target.kind else {
            unreachable!()
        };
        let mut proxied = Vec::new();
        for e in endpoints {
            proxied.push(start_proxy(e, rewrite).await);
        }
        let target = Target {
            name: "emulator".into(),
            kind: TargetKind::Emulator { endpoints: proxied },
        };
        let runner =
            Arc::new(Runner::new(specs.clone(), target, RunOptions::default()).expect("runner"));
        let results: Vec<CaseResult> = runner.run_all(cases, Arc::new(|_: &CaseResult| {})).await;
        drop(handles);
        results
    })
}

struct Setup {
    specs: Arc<SpecSet>,
    cases: Vec<Case>,
}

fn setup(prefix: &str) -> Setup {
    let specs = Arc::new(SpecSet::load(root().join("specs")).expect("specs"));
    let expected = ExpectedFailures::load(&root().join("cases/expected-failures"), "emulator")
        .expect("expected failures");
    let cases = generate::generate(&specs, &GenOptions::default())
        .expect("cases")
        .into_iter()
        .filter(|c| c.id.starts_with(prefix))
        // Cases the emulator already fails are not evidence either way.
        .filter(|c| expected.reason(&c.id).is_none())
        .collect();
    Setup { specs, cases }
}

fn predicted(cases: &[Case], sees: impl Fn(&Case) -> bool) -> BTreeSet<String> {
    cases
        .iter()
        .filter(|c| sees(c))
        .map(|c| c.id.clone())
        .collect()
}

/// The case expects a success and allows no error instead: a mutation of success bodies is
/// seen. (A case that also allows errors — a mixed batch — gets the emulator's error.)
fn expects_success(c: &Case) -> bool {
    c.steps.last().is_some_and(
        |s| matches!(&s.expect, Expect::Success { or_error, .. } if or_error.is_empty()),
    )
}

fn expects_code(c: &Case, code: &str) -> bool {
    c.steps
        .last()
        .is_some_and(|s| s.expect.codes().any(|x| x == code))
}

fn check(name: &str, prefix: &str, rewrite: Rewrite, sees: impl Fn(&Case) -> bool) {
    let s = setup(prefix);
    let want = predicted(&s.cases, sees);
    assert!(
        !want.is_empty(),
        "{name}: the mutation should matter to some case"
    );
    for (path, got) in [
        (
            "in process",
            failing_ids(&s.specs, s.cases.clone(), rewrite),
        ),
        (
            "URL",
            failing_ids_on_url(&s.specs, s.cases.clone(), rewrite, &[]),
        ),
    ] {
        let missed: Vec<_> = want.difference(&got).collect();
        let extra: Vec<_> = got.difference(&want).collect();
        assert!(
            missed.is_empty() && extra.is_empty(),
            "{name} ({path}): {} case(s) ran; not caught: {missed:?}; failed without seeing the change: {extra:?}",
            s.cases.len()
        );
    }
}

/// Only on the URL path (what a URL run must decide by itself).
fn check_on_url(
    name: &str,
    prefix: &str,
    rewrite: Rewrite,
    serve_args: &[&str],
    sees: impl Fn(&Case) -> bool,
) {
    let s = setup(prefix);
    let want = predicted(&s.cases, sees);
    assert!(
        !want.is_empty(),
        "{name}: the mutation should matter to some case"
    );
    let got = failing_ids_on_url(&s.specs, s.cases.clone(), rewrite, serve_args);
    let missed: Vec<_> = want.difference(&got).collect();
    let extra: Vec<_> = got.difference(&want).collect();
    assert!(
        missed.is_empty() && extra.is_empty(),
        "{name} (URL): {} case(s) ran; not caught: {missed:?}; failed without seeing the change: {extra:?}",
        s.cases.len()
    );
}

/// An error answer turned into a bare success of the same provider.
fn to_success(resp: &mut RawResponse) {
    let Some(v) = json_body(resp) else { return };
    let body = match v.pointer("/Response/RequestId") {
        Some(id) => serde_json::json!({"Response": {"RequestId": id}}),
        None => serde_json::json!({"RequestId": v.get("RequestId").cloned().unwrap_or_default()}),
    };
    resp.status = 200;
    set_body(resp, &body);
}

fn error_code(resp: &RawResponse) -> Option<String> {
    let v = json_body(resp)?;
    v.pointer("/Response/Error/Code")
        .or(v.pointer("/Code"))
        .and_then(Value::as_str)
        .map(str::to_string)
}

/// ECM and CVM DeleteKeyPairs accept 101 KeyIds: the limit error becomes a success.
#[test]
fn key_limit_101_accepted_on_url() {
    fn rewrite(req: &RawRequest, action: &str, resp: &mut RawResponse) {
        if !action.starts_with("DisassociateInstancesKeyPairs@2019-07-19") {
            return;
        }
        let body = String::from_utf8_lossy(&req.body);
        let many = req.raw_query.contains("KeyIds.100=")
            || body.contains("KeyIds.100=")
            || serde_json::from_str::<Value>(&body)
                .ok()
                .and_then(|v| {
                    v.get("KeyIds")
                        .and_then(Value::as_array)
                        .map(|a| a.len() > 100)
                })
                .unwrap_or(false);
        if many && error_code(resp).is_some_and(|c| c.ends_with("LimitExceeded")) {
            to_success(resp);
        }
    }
    check_on_url(
        "key_limit_101_accepted",
        "tencent/ecm/DisassociateInstancesKeyPairs/",
        rewrite,
        &[],
        |c| c.id.contains("/KeyIds-101"),
    );
}

/// A service that never throttles: `cloudconform emulate --no-rate-limits`, unchanged answers.
#[test]
fn never_throttles_on_url() {
    fn unchanged(_: &RawRequest, _: &str, _: &mut RawResponse) {}
    check_on_url(
        "never_throttles",
        "tencent/cvm/DeleteKeyPairs/",
        unchanged,
        &["--no-rate-limits"],
        |c| {
            c.steps.iter().any(|s| {
                matches!(
                    s.wire.tamper,
                    Some(cloudconform::generate::Tamper::Burst { .. })
                )
            })
        },
    );
}

/// CVM unbinds from a RUNNING instance without ForceStop.
#[test]
fn cvm_unbinds_running_without_forcestop_on_url() {
    fn rewrite(_: &RawRequest, action: &str, resp: &mut RawResponse) {
        if action == "DisassociateInstancesKeyPairs@2017-03-12"
            && error_code(resp).as_deref() == Some("UnsupportedOperation.InstanceStateRunning")
        {
            to_success(resp);
        }
    }
    check_on_url(
        "cvm_unbinds_running_without_forcestop",
        "tencent/cvm/DisassociateInstancesKeyPairs/",
        rewrite,
        &[],
        |c| expects_code(c, "UnsupportedOperation.InstanceStateRunning"),
    );
}

/// ECS batch counts as JSON integers instead of strings (the older doc sample).
#[test]
fn ecs_counts_as_integers() {
    fn rewrite(_: &RawRequest, action: &str, resp: &mut RawResponse) {
        if action != "DetachKeyPair@2014-05-26" {
            return;
        }
        let Some(mut v) = json_body(resp) else { return };
        for k in ["TotalCount", "FailCount"] {
            if let Some(n) = v
                .get(k)
                .and_then(Value::as_str)
                .and_then(|s| s.parse::<u64>().ok())
            {
                v[k] = Value::from(n);
            }
        }
        set_body(resp, &v);
    }
    check(
        "ecs_counts_as_integers",
        "alibaba/ecs/DetachKeyPair/",
        rewrite,
        expects_success,
    );
}

/// CVM accepts 101 instance or key ids: the limit error becomes a success.
#[test]
fn cvm_limit_101_accepted() {
    fn rewrite(_: &RawRequest, action: &str, resp: &mut RawResponse) {
        if action != "DisassociateInstancesKeyPairs@2017-03-12" {
            return;
        }
        let Some(v) = json_body(resp) else { return };
        if v.pointer("/Response/Error/Code").and_then(Value::as_str)
            == Some("InvalidParameterValue.LimitExceeded")
        {
            let id = v["Response"]["RequestId"].clone();
            set_body(resp, &serde_json::json!({"Response": {"RequestId": id}}));
        }
    }
    check(
        "cvm_limit_101_accepted",
        "tencent/cvm/DisassociateInstancesKeyPairs/",
        rewrite,
        |c| expects_code(c, "InvalidParameterValue.LimitExceeded"),
    );
}

/// A malformed key id answered with the not-found code.
#[test]
fn cvm_wrong_code_for_malformed_key() {
    fn rewrite(_: &RawRequest, action: &str, resp: &mut RawResponse) {
        if action != "DeleteKeyPairs@2017-03-12" {
            return;
        }
        let Some(mut v) = json_body(resp) else { return };
        if v.pointer("/Response/Error/Code").and_then(Value::as_str)
            == Some("InvalidKeyPairId.Malformed")
        {
            v["Response"]["Error"]["Code"] = Value::from("InvalidKeyPairId.NotFound");
            set_body(resp, &v);
        }
    }
    check(
        "cvm_wrong_code_for_malformed_key",
        "tencent/cvm/DeleteKeyPairs/",
        rewrite,
        |c| {
            expects_code(c, "InvalidKeyPairId.Malformed")
                && !expects_code(c, "InvalidKeyPairId.NotFound")
        },
    );
}

/// Tencent answers with a charset suffix (the Python SDK then misreads errors).
#[test]
fn ecm_content_type_with_charset() {
    fn rewrite(_: &RawRequest, action: &str, resp: &mut RawResponse) {
        // Every answer of this run (only ECM cases run through it, whatever action they name).
        let _ = action;
        for (k, v) in resp.headers.iter_mut() {
            if k.eq_ignore_ascii_case("content-type") {
                *v = "application/json; charset=utf-8".into();
            }
        }
    }
    check(
        "ecm_content_type_with_charset",
        "tencent/ecm/DisassociateInstancesKeyPairs/",
        rewrite,
        |_| true,
    );
}

/// ENS errors sent with HTTP 200 (every Alibaba SDK then takes them for successes).
#[test]
fn ens_errors_with_status_200() {
    fn rewrite(_: &RawRequest, action: &str, resp: &mut RawResponse) {
        // Every error of this run (only ENS cases run through it, whatever action they name).
        let _ = action;
        if resp.status >= 400 {
            resp.status = 200;
        }
    }
    check(
        "ens_errors_with_status_200",
        "alibaba/ens/DetachKeyPair/",
        rewrite,
        |c| {
            c.steps
                .last()
                .is_some_and(|s| matches!(s.expect, Expect::Error { .. } | Expect::Rejected { .. }))
        },
    );
}

/// Every instance of a successful ECS detach reported as failed (per-item results).
#[test]
fn ecs_items_reported_failed() {
    fn rewrite(_: &RawRequest, action: &str, resp: &mut RawResponse) {
        if action != "DetachKeyPair@2014-05-26" || resp.status != 200 {
            return;
        }
        let Some(mut v) = json_body(resp) else { return };
        if let Some(list) = v
            .pointer_mut("/Results/Result")
            .and_then(Value::as_array_mut)
        {
            for r in list {
                r["Code"] = Value::from("InvalidInstanceId.NotFound");
                r["Success"] = Value::from("false");
            }
        }
        set_body(resp, &v);
    }
    check(
        "ecs_items_reported_failed",
        "alibaba/ecs/DetachKeyPair/",
        rewrite,
        expects_success,
    );
}

static DETACHED: std::sync::Mutex<BTreeMap<String, String>> =
    std::sync::Mutex::new(BTreeMap::new());

fn decoded(s: &str) -> String {
    percent_encoding::percent_decode_str(&s.replace('+', " "))
        .decode_utf8_lossy()
        .into_owned()
}

/// The declared effect does not show: after a detach, DescribeInstances still lists the key.
#[test]
fn ecs_detach_effect_not_visible() {
    fn rewrite(req: &RawRequest, action: &str, resp: &mut RawResponse) {
        let body = String::from_utf8_lossy(&req.body).to_string();
        let get = |name: &str| {
            param(&req.raw_query, name)
                .or(param(&body, name))
                .map(|v| decoded(&v))
        };
        if action == "DetachKeyPair@2014-05-26" {
            let (Some(name), Some(ids)) = (get("KeyPairName"), get("InstanceIds")) else {
                return;
            };
            let ids: Vec<String> = serde_json::from_str(&ids).unwrap_or_default();
            let mut map = DETACHED.lock().unwrap();
            for id in ids {
                map.insert(id, name.clone());
            }
            return;
        }
        if action != "DescribeInstances@2014-05-26" {
            return;
        }
        let map = DETACHED.lock().unwrap().clone();
        let Some(mut v) = json_body(resp) else { return };
        if let Some(list) = v
            .pointer_mut("/Instances/Instance")
            .and_then(Value::as_array_mut)
        {
            for i in list {
                let id = i["InstanceId"].as_str().unwrap_or_default().to_string();
                if let Some(name) = map.get(&id) {
                    i["KeyPairName"] = Value::from(name.clone());
                }
            }
        }
        set_body(resp, &v);
    }
    check(
        "ecs_detach_effect_not_visible",
        "alibaba/ecs/DetachKeyPair/",
        rewrite,
        expects_success,
    );
}

/// Exploration against the 101-accepting CVM: the failures are shrunk and saved as regressions.
#[test]
fn explore_shrinks_failures_into_regressions() {
    fn rewrite(_: &RawRequest, action: &str, resp: &mut RawResponse) {
        if !action.starts_with("DisassociateInstancesKeyPairs@2017-03-12") {
            return;
        }
        let Some(v) = json_body(resp) else { return };
        if v.pointer("/Response/Error/Code").and_then(Value::as_str)
            == Some("InvalidParameterValue.LimitExceeded")
        {
            let id = v["Response"]["RequestId"].clone();
            set_body(resp, &serde_json::json!({"Response": {"RequestId": id}}));
        }
    }
    let specs = Arc::new(SpecSet::load(root().join("specs")).expect("specs"));
    let cases: Vec<Case> = generate::explore::random_cases(&specs, 250, 11)
        .expect("explore")
        .into_iter()
        .filter(|c| {
            c.id.starts_with("tencent/cvm/DisassociateInstancesKeyPairs/")
        })
        .collect();
    let dir = std::env::temp_dir().join(format!("cloudconform-explore-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let saved = rt.block_on(async {
        let (handles, target) = local::start_emulators(specs.clone(), 1)
            .await
            .expect("emulator");
        let TargetKind::Emulator { endpoints } = target.kind else {
            unreachable!()
        };
        let proxy = start_proxy(endpoints[0].clone(), rewrite).await;
        let target = Target {
            name: "emulator".into(),
            kind: TargetKind::Emulator {
                endpoints: vec![proxy],
            },
        };
        let runner =
            Arc::new(Runner::new(specs.clone(), target, RunOptions::default()).expect("runner"));
        let results = runner
            .run_all(cases.clone(), Arc::new(|_: &CaseResult| {}))
            .await;
        let failing = results
            .iter()
            .filter(|r| r.verdict != Verdict::Pass)
            .count();
        assert!(failing > 0, "the mutation is found by exploration");
        let shrunk = cloudconform::run::shrink_failures(&runner, &cases, results, &dir).await;
        drop(handles);
        assert!(shrunk.iter().any(|r| r.verdict != Verdict::Pass));
        generate::load_case_dir(&dir.join("regressions")).expect("regressions load")
    });
    assert!(!saved.is_empty(), "regressions saved");
    for case in &saved {
        assert_eq!(case.kind, generate::CaseKind::Regression);
        assert!(
            case.title.contains("past its limit"),
            "{}: {}",
            case.id,
            case.title
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// ENS answers an unbound instance with another code: the spec's code for it is inferred (the
/// ENS error list leaves it open), so the case diverges, fails nothing, and shows in the
/// divergences table of every report format; `--strict` turns it into a failing exit code.
#[test]
fn inferred_code_changed_is_a_divergence() {
    fn rewrite(_: &RawRequest, _: &str, resp: &mut RawResponse) {
        let Some(mut v) = json_body(resp) else { return };
        if v.get("Code").and_then(Value::as_str) == Some("PublicKeyNotAttachWithInstance") {
            v["Code"] = Value::from("InvalidKeyPair.NotAttached");
            set_body(resp, &v);
        }
    }
    let s = setup("alibaba/ens/DetachKeyPair/state/");
    let results = results_in_process(&s.specs, s.cases.clone(), rewrite);
    let id = "alibaba/ens/DetachKeyPair/state/instances-bound-to-named-key/not-bound";
    for r in &results {
        match &r.verdict {
            Verdict::Divergence { findings } => {
                assert_eq!(r.id, id);
                let f = &findings[0];
                assert_eq!(f.evidence, cloudconform::spec::Evidence::Inferred);
                assert!(f.message.contains("InvalidKeyPair.NotAttached"), "{f}");
                assert!(f.message.contains("PublicKeyNotAttachWithInstance"), "{f}");
                assert!(f.source.starts_with("seed:"), "{f}");
            }
            Verdict::Pass => assert_ne!(r.id, id),
            other => panic!("{}: {other:?}", r.id),
        }
    }
    let report = cloudconform::report::RunReport::new("emulator", 1, results);
    assert_eq!((report.summary.divergences, report.summary.failed), (1, 0));
    assert_eq!(report.summary.exit_code(), 0);
    assert_eq!(report.summary.exit_code_with(true), 1);
    use cloudconform::report::{render, Format};
    let md = render(&report, Format::Markdown).unwrap();
    assert!(md.contains("## Divergences") && md.contains(id), "{md}");
    let json: Value = serde_json::from_str(&render(&report, Format::Json).unwrap()).unwrap();
    assert_eq!(json["divergences"][0]["case"], id);
    assert_eq!(json["divergences"][0]["evidence"], "inferred");
    let xml = render(&report, Format::Junit).unwrap();
    assert!(
        xml.contains("name=\"divergences\"") && xml.contains("InvalidKeyPair.NotAttached"),
        "{xml}"
    );
}
