//! The self-test on a small sample of deviations (a few per operator family), and proof that a
//! weakened suite makes it fail by naming the deviations that now survive.
use cloudconform::deviate::{self, Family};
use cloudconform::generate::{self, Case, GenOptions};
use cloudconform::run::expected::ExpectedFailures;
use cloudconform::selftest::{self, Equivalents, Options, Outcome, TargetMode};
use cloudconform::spec::SpecSet;
use std::path::PathBuf;
use std::sync::Arc;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn setup() -> (Arc<SpecSet>, Vec<Case>) {
    let specs = SpecSet::load(root().join("specs")).expect("specs");
    let cases_dir = root().join("cases");
    let expected =
        ExpectedFailures::load(&cases_dir.join("expected-failures"), "emulator").expect("list");
    let cases = generate::all_cases(&specs, &GenOptions::default(), Some(&cases_dir))
        .expect("cases")
        .into_iter()
        .filter(|c| expected.reason(&c.id).is_none())
        .collect();
    (Arc::new(specs), cases)
}

fn run(specs: &Arc<SpecSet>, cases: Vec<Case>, ids: &[&str]) -> selftest::Report {
    run_in(specs, cases, ids, TargetMode::InProcess)
}

fn run_in(
    specs: &Arc<SpecSet>,
    cases: Vec<Case>,
    ids: &[&str],
    mode: TargetMode,
) -> selftest::Report {
    let all = deviate::catalogue(specs);
    for id in ids {
        assert!(
            all.iter().any(|d| d.id == *id),
            "{id} is not in the catalogue"
        );
    }
    // The conforming emulator passes every case left after the expected failures (the
    // conformance tests show it), so the quick sample skips the baseline run.
    let opts = Options {
        parallel: 4,
        workers: 2,
        mode,
        baseline: false,
        ..Options::default()
    };
    let chosen: Vec<_> = all
        .into_iter()
        .filter(|d| ids.contains(&d.id.as_str()))
        .collect();
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime")
        .block_on(selftest::run(
            specs.clone(),
            cases,
            chosen,
            &Equivalents::default(),
            &opts,
        ))
        .expect("selftest runs")
}

#[test]
fn catalogue_ids_are_unique_and_cover_every_family() {
    let specs = SpecSet::load(root().join("specs")).expect("specs");
    let all = deviate::catalogue(&specs);
    let mut ids: Vec<&str> = all.iter().map(|d| d.id.as_str()).collect();
    ids.sort_unstable();
    let n = ids.len();
    ids.dedup();
    assert_eq!(n, ids.len(), "duplicate deviation ids");
    for f in Family::ALL {
        assert!(all.iter().any(|d| d.family == f), "no {f} deviation");
    }
    // Every documented maximum of a seed action gets both limit deviations.
    for d in all.iter().filter(|d| d.family == Family::Limits) {
        assert!(
            d.rule.ends_with("/max_items") || d.rule.ends_with("/min_items"),
            "{}: {}",
            d.id,
            d.rule
        );
    }
    assert!(ids.contains(&"tencent/cvm/DeleteKeyPairs/limit/KeyIds/accept-101"));
    assert!(deviate::select(&specs, &["no/such/id".into()]).is_err());
}

#[test]
fn a_sample_of_every_family_is_killed() {
    let (specs, cases) = setup();
    // One per family, on the smaller actions: `cloudconform selftest` runs them all.
    let sample = [
        "alibaba/ens/DetachKeyPair/limit/InstanceIds/accept-31",
        "alibaba/ens/DetachKeyPair/format/InstanceIds/reject-well-formed",
        "tencent/cvm/DeleteKeyPairs/code/InvalidKeyPairId.Malformed/sibling",
        "alibaba/ens/DetachKeyPair/shape/FailCount/always-zero",
        "alibaba/ecs/DetachKeyPair/envelope/host-id/missing",
        "tencent/cvm/DeleteKeyPairs/precondition/key-not-in-use/skipped",
        "alibaba/ecs/DetachKeyPair/effect/key-unbound/partly",
        "alibaba/ens/DetachKeyPair/protocol/region/required",
        "alibaba/ens/DetachKeyPair/one-of/key-pair/several-accepted",
        // Common parameters: required ones made optional (routing, verification), an
        // optional one demanded.
        "tencent/cvm/DeleteKeyPairs/protocol/common/Version/optional",
        "alibaba/ecs/DetachKeyPair/protocol/common/SignatureNonce/optional",
        "tencent/cvm/DeleteKeyPairs/protocol/common/SignatureMethod/required",
    ];
    let report = run(&specs, cases, &sample);
    assert_eq!(report.rows.len(), sample.len());
    for r in &report.rows {
        match &r.outcome {
            Outcome::Killed {
                cases,
                first_finding,
            } => {
                assert!(
                    !cases.is_empty() && !first_finding.is_empty(),
                    "{}",
                    r.deviation.id
                )
            }
            other => panic!("{} not killed: {other:?}", r.deviation.id),
        }
    }
    assert!(report.passed());
    assert_eq!(report.overall.percent(), Some(100.0));
    // The JSON report names families as the ids and the text report do.
    let json: serde_json::Value =
        serde_json::from_str(&selftest::render::json(&report)).expect("json");
    let families = json["families"].as_object().expect("families");
    for key in ["limit", "format", "one-of", "protocol"] {
        assert!(families.contains_key(key), "no `{key}` in {families:?}");
    }
    for row in json["rows"].as_array().expect("rows") {
        let family = row["deviation"]["family"].as_str().expect("family");
        let id = row["deviation"]["id"].as_str().expect("id");
        assert!(id.contains(&format!("/{family}/")), "{id} vs {family}");
    }
}

#[test]
fn a_weakened_suite_fails_naming_the_survivors() {
    let (specs, cases) = setup();
    // Drop the cases that send one item past the documented maximum of KeyIds.
    let weakened: Vec<Case> = cases
        .into_iter()
        .filter(|c| {
            !c.id
                .starts_with("tencent/cvm/DeleteKeyPairs/boundary/KeyIds-101")
        })
        .collect();
    let report = run(
        &specs,
        weakened,
        &[
            "tencent/cvm/DeleteKeyPairs/limit/KeyIds/accept-101",
            "tencent/cvm/DeleteKeyPairs/limit/KeyIds/reject-100",
        ],
    );
    assert!(!report.passed());
    assert_eq!(
        report.survivors(),
        vec!["tencent/cvm/DeleteKeyPairs/limit/KeyIds/accept-101"]
    );
    let text = selftest::render::text(&report);
    assert!(
        text.contains("SURVIVED   tencent/cvm/DeleteKeyPairs/limit/KeyIds/accept-101"),
        "{text}"
    );
    assert!(text.contains("mutation score 50.0 %"), "{text}");
}

#[test]
fn a_killed_equivalence_is_stale() {
    let (specs, cases) = setup();
    let id = "tencent/cvm/DeleteKeyPairs/envelope/content-type/charset";
    let equivalents: Equivalents = serde_json::from_value(serde_json::json!({
        "equivalent": [
            {"id": id, "reason": "wrongly claimed to be unobservable"},
            {"id": "tencent/cvm/Nothing/limit/X/accept-2", "reason": "names no deviation at all"}
        ]
    }))
    .expect("list");
    let all: Vec<_> = deviate::catalogue(&specs);
    let report = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime")
        .block_on(selftest::run(
            specs.clone(),
            cases,
            all,
            &equivalents,
            &Options {
                filter: vec![id.into(), "tencent/cvm/Nothing/".into()],
                baseline: false,
                ..Options::default()
            },
        ))
        .expect("runs");
    assert!(!report.passed());
    assert_eq!(
        report.stale_equivalents.len(),
        2,
        "{:?}",
        report.stale_equivalents
    );
}

#[test]
fn url_mode_kills_a_sample_through_the_lending_profile() {
    let (specs, cases) = setup();
    let sample = [
        "alibaba/ens/DetachKeyPair/precondition/instances-stopped/skipped",
        "alibaba/ecs/DetachKeyPair/effect/key-unbound/wrong-resource",
    ];
    let report = run_in(&specs, cases, &sample, TargetMode::Url);
    assert_eq!(report.rows.len(), sample.len());
    for r in &report.rows {
        assert!(
            matches!(r.outcome, Outcome::Killed { .. }),
            "{} not killed in url mode: {:?}",
            r.deviation.id,
            r.outcome
        );
    }
    let text = selftest::render::text(&report);
    assert!(text.contains("(url mode,"), "{text}");
}
