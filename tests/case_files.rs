//! The files people write under `cases/` follow their schemas, and generation is deterministic.
use cloudconform::generate::{self, GenOptions};
use cloudconform::spec::SpecSet;
use serde_json::Value;
use std::path::{Path, PathBuf};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn validator(schema: &Path) -> jsonschema::Validator {
    let s: Value = serde_json::from_str(&std::fs::read_to_string(schema).unwrap()).unwrap();
    jsonschema::options()
        .with_draft(jsonschema::Draft::Draft202012)
        .build(&s)
        .expect("schema compiles")
}

fn json_files(dir: &Path) -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|d| d.filter_map(|e| e.ok().map(|e| e.path())).collect())
        .unwrap_or_default();
    out.retain(|p| p.extension().is_some_and(|x| x == "json") && !p.ends_with("schema.json"));
    out.sort();
    out
}

#[test]
fn scenarios_and_regressions_match_the_case_schema() {
    let v = validator(&root().join("cases/case.schema.json"));
    let mut n = 0;
    for dir in ["cases/scenarios", "cases/regressions"] {
        for f in json_files(&root().join(dir)) {
            let doc: Value = serde_json::from_str(&std::fs::read_to_string(&f).unwrap()).unwrap();
            let items = match doc {
                Value::Array(a) => a,
                other => vec![other],
            };
            for item in items {
                let errors: Vec<String> = v
                    .iter_errors(&item)
                    .map(|e| format!("{} at {}", e, e.instance_path()))
                    .collect();
                assert!(errors.is_empty(), "{}: {errors:?}", f.display());
                n += 1;
            }
        }
    }
    assert!(n >= 2, "the scenarios are there");
}

#[test]
fn expected_failure_lists_match_their_schema() {
    let dir = root().join("cases/expected-failures");
    let v = validator(&dir.join("schema.json"));
    for f in json_files(&dir) {
        let doc: Value = serde_json::from_str(&std::fs::read_to_string(&f).unwrap()).unwrap();
        let errors: Vec<String> = v.iter_errors(&doc).map(|e| e.to_string()).collect();
        assert!(errors.is_empty(), "{}: {errors:?}", f.display());
    }
}

#[test]
fn generated_cases_match_the_case_schema_and_are_deterministic() {
    let specs = SpecSet::load(root().join("specs")).unwrap();
    let a = generate::generate(&specs, &GenOptions { seed: 7 }).unwrap();
    let b = generate::generate(&specs, &GenOptions { seed: 7 }).unwrap();
    assert_eq!(a, b, "same seed, same cases");
    let c = generate::generate(&specs, &GenOptions { seed: 8 }).unwrap();
    let ids = |v: &[generate::Case]| v.iter().map(|c| c.id.clone()).collect::<Vec<_>>();
    assert_eq!(ids(&a), ids(&c), "ids do not depend on the seed");
    let v = validator(&root().join("cases/case.schema.json"));
    for case in &a {
        let doc = serde_json::to_value(case).unwrap();
        let errors: Vec<String> = v
            .iter_errors(&doc)
            .map(|e| format!("{} at {}", e, e.instance_path()))
            .collect();
        assert!(errors.is_empty(), "{}: {errors:?}", case.id);
    }
    assert!(a.len() >= 400, "{} cases", a.len());
    for action in specs.seeds() {
        let n = a.iter().filter(|c| c.action == action.key()).count();
        assert!(n >= 40, "{}: only {n} cases", action.key());
    }
}

#[test]
fn every_provokable_code_is_expected_by_some_case() {
    let specs = SpecSet::load(root().join("specs")).unwrap();
    let cases =
        generate::all_cases(&specs, &GenOptions::default(), Some(&root().join("cases"))).unwrap();
    let mut untested = Vec::new();
    for action in specs.seeds() {
        for e in action.errors.iter().filter(|e| e.provokable) {
            let hit = cases.iter().any(|c| {
                c.action == action.key()
                    && c.covers
                        .iter()
                        .any(|cv| matches!(cv, generate::Cover::Error { code } if code == &e.code))
            });
            if !hit {
                untested.push(format!("{} {}", action.key(), e.code));
            }
        }
    }
    assert!(untested.is_empty(), "untested action codes: {untested:?}");
}

fn case(cases: &[generate::Case], id: &str) -> generate::Case {
    cases
        .iter()
        .find(|c| c.id == id)
        .unwrap_or_else(|| panic!("no case {id}"))
        .clone()
}

#[test]
fn expectations_come_from_the_specs() {
    use generate::Expect;
    let specs = SpecSet::load(root().join("specs")).unwrap();
    let cases = generate::generate(&specs, &GenOptions::default()).unwrap();
    // 51 ids for a 50-id limit: the documented code and its own status.
    let c = case(&cases, "alibaba/ecs/DetachKeyPair/boundary/InstanceIds-51");
    match &c.steps[0].expect {
        Expect::Error { one_of, rule } => {
            assert_eq!(one_of[0].code, "InstanceKeyPairLimitExceeded");
            assert_eq!(one_of[0].http_status, 403);
            assert!(rule.starts_with("alibaba/ecs/2014-05-26/DetachKeyPair.json#/errors/"));
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(c.world.instances.len(), 51);
    // At the limit: success with a batch of 50.
    let c = case(&cases, "alibaba/ecs/DetachKeyPair/boundary/InstanceIds-50");
    assert!(matches!(&c.steps[0].expect, Expect::Success { batch: Some(b), .. } if b.total == 50));
    // Tencent errors travel with HTTP 200.
    let c = case(&cases, "tencent/cvm/DeleteKeyPairs/boundary/KeyIds-101");
    assert!(
        matches!(&c.steps[0].expect, Expect::Error { one_of, .. } if one_of.iter().all(|e| e.http_status == 200))
    );
    // A running instance fails without ForceStop and succeeds (and is restarted) with it.
    let c = case(&cases, "tencent/cvm/DisassociateInstancesKeyPairs/state/instance-stopped-unless-forced/state-running");
    assert!(c.steps[0]
        .expect
        .codes()
        .any(|x| x == "UnsupportedOperation.InstanceStateRunning"));
    assert_eq!(c.world.instances[0].state, "RUNNING");
    let c = case(&cases, "tencent/cvm/DisassociateInstancesKeyPairs/state/instance-stopped-unless-forced/state-running-ForceStop");
    assert!(
        matches!(&c.steps[0].expect, Expect::Success { effects, .. } if effects.contains(&"running-instances-restarted".to_string()))
    );
    assert_eq!(c.steps[0].params["ForceStop"], serde_json::json!(true));
    // A key in use by an image cannot be deleted.
    let c = case(
        &cases,
        "tencent/cvm/DeleteKeyPairs/state/key-not-in-use/in-use-by-image",
    );
    assert_eq!(c.world.images.len(), 1);
    assert!(!c.steps[0].expect.is_success());
    // A per-item precondition: HTTP 200 with one failed entry; its code is not documented
    // (the precondition's source is `inferred:`), so only "failed" is checked.
    let c = case(
        &cases,
        "alibaba/ecs/DetachKeyPair/state/instance-exists/not-found",
    );
    assert!(
        matches!(&c.steps[0].expect, Expect::Success { batch: Some(b), .. } if b.total == 2 && b.failed.len() == 1 && b.failed[0].code.is_empty())
    );
    // A limit case at N+1 needs no real resources: its answer precedes existence.
    assert!(
        case(&cases, "alibaba/ecs/DetachKeyPair/boundary/InstanceIds-51")
            .world
            .made_up
    );
    assert!(
        !case(&cases, "alibaba/ecs/DetachKeyPair/boundary/InstanceIds-50")
            .world
            .made_up
    );
    // ...unless an existence check answers with the expected code too (ENS: an unknown
    // KeyPairId is `InvalidParameter.%s` as well), so only the count is wrong.
    assert!(
        !case(&cases, "alibaba/ens/DetachKeyPair/boundary/InstanceIds-31")
            .world
            .made_up
    );
    // The denied sub-user.
    let c = case(
        &cases,
        "alibaba/ens/DetachKeyPair/state/caller-allowed/denied",
    );
    assert_eq!(c.steps[0].caller, generate::Caller::Denied);
}
