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
