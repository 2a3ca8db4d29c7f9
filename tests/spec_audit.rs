//! The spec audit (issue 10): where the sources allow several answers, the generated
//! expectation accepts all of them, each with its evidence; where no source says anything, the
//! expectation is `inferred` and a departure is a divergence, not a failure. Judged through the
//! real checker with answers an independent service could give.
use cloudconform::check::{Checker, Verdict};
use cloudconform::generate::bind::Bindings;
use cloudconform::generate::{self, Case, Expect, GenOptions};
use cloudconform::http::RawResponse;
use cloudconform::spec::{ActionKey, Evidence, SpecSet};
use serde_json::json;
use std::path::PathBuf;
use std::sync::{Arc, OnceLock};

fn specs() -> Arc<SpecSet> {
    static S: OnceLock<Arc<SpecSet>> = OnceLock::new();
    S.get_or_init(|| {
        Arc::new(SpecSet::load(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("specs")).unwrap())
    })
    .clone()
}

fn cases() -> &'static Vec<Case> {
    static C: OnceLock<Vec<Case>> = OnceLock::new();
    C.get_or_init(|| generate::all_cases(&specs(), &GenOptions::default(), None).unwrap())
}

fn case(id: &str) -> &'static Case {
    cases()
        .iter()
        .find(|c| c.id == id)
        .unwrap_or_else(|| panic!("no case {id}"))
}

fn tencent_error(code: &str) -> RawResponse {
    RawResponse {
        status: 200,
        headers: vec![("content-type".into(), "application/json".into())],
        body: json!({"Response": {
            "Error": {"Code": code, "Message": "m"},
            "RequestId": "6ef60bec-0242-43af-bb20-270359fb54a7"
        }})
        .to_string()
        .into_bytes(),
    }
}

fn tencent_success() -> RawResponse {
    RawResponse {
        status: 200,
        headers: vec![("content-type".into(), "application/json".into())],
        body: json!({"Response": {"RequestId": "6ef60bec-0242-43af-bb20-270359fb54a7"}})
            .to_string()
            .into_bytes(),
    }
}

/// The verdict of the case's (only) step for this answer.
fn judge(c: &Case, resp: &RawResponse) -> Verdict {
    let specs = specs();
    let key: &ActionKey = &c.action;
    let action = specs.action(key).expect("action spec");
    let checker = Checker::new(specs.clone()).unwrap();
    let bindings = Bindings {
        region: "ap-guangzhou".into(),
        ..Default::default()
    };
    Verdict::from_findings(checker.check(action, &c.steps[0].expect, resp, &bindings))
}

#[test]
fn a_duplicate_id_expects_success_as_an_inferred_reading() {
    let c = case("tencent/cvm/DeleteKeyPairs/boundary/KeyIds-duplicate");
    let Expect::Success {
        evidence, source, ..
    } = &c.steps[0].expect
    else {
        panic!("expected a success expectation: {:?}", c.steps[0].expect);
    };
    assert_eq!(*evidence, Evidence::Inferred);
    assert!(source.starts_with("inferred:"), "{source}");
    // A service that refuses repeated ids diverges from the harness's reading; it does not fail.
    assert!(matches!(
        judge(c, &tencent_error("InvalidParameterValue")),
        Verdict::Divergence { .. }
    ));
    // The spec records the choice.
    let spec = specs()
        .action(&c.action)
        .unwrap()
        .discrepancies
        .iter()
        .any(|d| d.id == "cvm-delete-duplicate-ids");
    assert!(spec, "discrepancy cvm-delete-duplicate-ids");
}

#[test]
fn a_batch_of_free_and_bound_keys_accepts_the_in_use_error_or_a_success() {
    let c = case("tencent/cvm/DeleteKeyPairs/state/key-not-in-use/mixed");
    // One free key, one bound to an instance.
    assert_eq!(c.world.key_pairs.len(), 2, "{:?}", c.world);
    assert!(c.world.instances.iter().any(|i| i.keys.len() == 1));
    assert_eq!(judge(c, &tencent_success()), Verdict::Pass);
    assert_eq!(
        judge(
            c,
            &tencent_error("InvalidParameterValue.KeyPairNotSupported")
        ),
        Verdict::Pass
    );
    assert_eq!(
        judge(c, &tencent_error("InvalidKeyPair.NotSupported")),
        Verdict::Pass
    );
    // Any other error breaks the documented rule.
    assert!(matches!(
        judge(c, &tencent_error("InvalidKeyPairId.NotFound")),
        Verdict::Fail { .. }
    ));
    // Which keys went is what the docs leave open: no effect is checked.
    let Expect::Success { effects, .. } = &c.steps[0].expect else {
        panic!()
    };
    assert!(effects.is_empty());
}

#[test]
fn an_ecs_batch_of_linux_and_windows_accepts_both_readings() {
    let c = case("alibaba/ecs/DetachKeyPair/state/instance-is-linux/mixed");
    let Expect::Success {
        batch, or_error, ..
    } = &c.steps[0].expect
    else {
        panic!()
    };
    assert_eq!(batch.as_ref().unwrap().open.len(), 1, "the Windows item");
    assert_eq!(or_error[0].code, "DependencyViolation.WindowsInstance");
    assert!(c
        .world
        .instances
        .iter()
        .any(|i| i.os == "windows" && i.keys.is_empty()));
}

#[test]
fn an_unknown_ecm_instance_accepts_the_sibling_apis_code() {
    let c = case("tencent/ecm/DisassociateInstancesKeyPairs/state/instance-exists/not-found");
    let codes: Vec<&str> = c.steps[0].expect.codes().collect();
    assert_eq!(
        codes,
        [
            "InvalidParameterValue.InstanceIdNotSupported",
            "ResourceNotFound.InstanceNotExist"
        ]
    );
    assert_eq!(
        judge(c, &tencent_error("ResourceNotFound.InstanceNotExist")),
        Verdict::Pass
    );
    assert!(matches!(
        judge(c, &tencent_error("InvalidParameterValue")),
        Verdict::Divergence { .. }
    ));
}

#[test]
fn a_missing_cvm_region_also_accepts_a_service_that_treats_it_as_optional() {
    let c = case("tencent/cvm/DeleteKeyPairs/negative/missing-region");
    assert!(
        c.world.made_up,
        "made-up ids: existence is checked after the region"
    );
    assert_eq!(
        judge(c, &tencent_error("InvalidKeyPairId.NotFound")),
        Verdict::Pass
    );
    assert_eq!(judge(c, &tencent_error("MissingParameter")), Verdict::Pass);
    let Expect::Error { one_of, .. } = &c.steps[0].expect else {
        panic!()
    };
    assert!(one_of.iter().all(|e| e.evidence == Evidence::Inferred));
}

#[test]
fn ecs_effects_visible_only_after_a_restart_are_inferred() {
    let specs = specs();
    let ecs = specs
        .find(
            cloudconform::spec::Provider::Alibaba,
            "ecs",
            "DetachKeyPair",
        )
        .into_iter()
        .next()
        .unwrap();
    assert_eq!(ecs.effects[0].evidence, Some(Evidence::Inferred));
    assert!(ecs
        .discrepancies
        .iter()
        .any(|d| d.id == "ecs-effect-visibility"));
    // Hidden owner parameters are recorded and never sent.
    let hidden: Vec<&str> = ecs
        .hidden_parameters
        .iter()
        .map(|p| p.name.as_str())
        .collect();
    assert_eq!(
        hidden,
        ["OwnerId", "ResourceOwnerAccount", "ResourceOwnerId"]
    );
    for c in cases().iter().filter(|c| c.action == ecs.key()) {
        for s in &c.steps {
            assert!(
                hidden.iter().all(|h| !s.params.contains_key(*h)),
                "{} sends a hidden parameter",
                c.id
            );
        }
    }
}

#[test]
fn messages_are_the_cited_sources_text() {
    let specs = specs();
    let alibaba = specs
        .provider(cloudconform::spec::Provider::Alibaba)
        .unwrap();
    let invalid = alibaba
        .errors
        .iter()
        .find(|e| e.code == "InvalidParameter")
        .unwrap();
    // protocol/errors/alibaba-ens-DetachKeyPair.json (ENS sibling pages).
    assert_eq!(
        invalid.message.as_deref(),
        Some("The errorMessage is %s. Please check it again.")
    );
    let ecs = specs
        .find(
            cloudconform::spec::Provider::Alibaba,
            "ecs",
            "DetachKeyPair",
        )
        .into_iter()
        .next()
        .unwrap();
    let missing = ecs
        .errors
        .iter()
        .find(|e| e.code == "MissingParameter")
        .unwrap();
    let m = missing.message.as_deref().unwrap();
    assert!(
        m.contains("\"<Name>\""),
        "a template, not fixed to RegionId: {m}"
    );
}

#[test]
fn the_cvm_delete_region_list_is_recorded_as_incomplete() {
    let specs = specs();
    let del = specs
        .find(
            cloudconform::spec::Provider::Tencent,
            "cvm",
            "DeleteKeyPairs",
        )
        .into_iter()
        .next()
        .unwrap();
    let listed = del.region.listed_regions.as_ref().unwrap();
    assert!(!listed.complete);
    assert!(listed.regions.iter().any(|r| r == "ap-guangzhou"));
    assert!(del
        .discrepancies
        .iter()
        .any(|d| d.id == "cvm-delete-intl-regions"));
}

#[test]
fn describe_paging_comes_from_the_spec() {
    let specs = specs();
    let find = |p, svc: &str, a: &str| specs.find(p, svc, a).into_iter().next().unwrap().clone();
    let cvm = find(
        cloudconform::spec::Provider::Tencent,
        "cvm",
        "DescribeKeyPairs",
    );
    let pg = cvm.paging.as_ref().unwrap();
    assert_eq!(
        pg.params(&cvm, 2),
        [
            ("Offset".to_string(), json!(200)),
            ("Limit".to_string(), json!(100))
        ]
    );
    let full = json!({"Response": {"KeyPairSet": vec![json!({}); 100], "TotalCount": 250}});
    assert!(!pg.is_last(&cvm, &full, 1), "a full page below the total");
    assert!(pg.is_last(&cvm, &full, 2), "the total reached");
    let short = json!({"Response": {"KeyPairSet": vec![json!({}); 7]}});
    assert!(pg.is_last(&cvm, &short, 0));
    let ecs = find(
        cloudconform::spec::Provider::Alibaba,
        "ecs",
        "DescribeKeyPairs",
    );
    let pg = ecs.paging.as_ref().unwrap();
    // 1-based page numbers and the documented maximum page size (50).
    assert_eq!(
        pg.params(&ecs, 0),
        [
            ("PageNumber".to_string(), json!(1)),
            ("PageSize".to_string(), json!(50))
        ]
    );
    // Alibaba counts may be strings.
    let page = json!({"KeyPairs": {"KeyPair": vec![json!({}); 50]}, "TotalCount": "100"});
    assert!(pg.is_last(&ecs, &page, 1));
    assert!(!pg.is_last(&ecs, &page, 0));
    // Fixture describe requests ask for that page size.
    let given = std::collections::BTreeMap::new();
    let params =
        generate::fixture_params(&specs, &generate::Derived::new(&specs), &ecs, &given).unwrap();
    assert_eq!(params.get("PageSize"), Some(&json!(50)));
}

/// The specs with CVM `DescribeInstances` pages of one instance, so a case's own instances
/// span several pages; without its `paging` entry when `paging` is false (a reader of one
/// page).
fn specs_with_one_instance_pages(paging: bool) -> Arc<SpecSet> {
    let src = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("specs");
    let dir =
        PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("spec_audit_paging_{paging}"));
    let _ = std::fs::remove_dir_all(&dir);
    copy_dir(&src, &dir);
    let file = dir.join("tencent/cvm/2017-03-12/DescribeInstances.json");
    let mut spec: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
    for p in spec["parameters"].as_array_mut().unwrap() {
        if p["name"] == "Limit" {
            p["maximum"] = json!(1);
            p["default"] = json!(1);
        }
    }
    if !paging {
        spec.as_object_mut().unwrap().remove("paging");
    }
    std::fs::write(&file, spec.to_string()).unwrap();
    Arc::new(SpecSet::load(&dir).unwrap())
}

fn copy_dir(from: &std::path::Path, to: &std::path::Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap().flatten() {
        let p = e.path();
        if p.is_dir() {
            copy_dir(&p, &to.join(e.file_name()));
        } else {
            std::fs::copy(&p, to.join(e.file_name())).unwrap();
        }
    }
}

/// Two running instances holding the key, unbound with ForceStop: both must be RUNNING again
/// afterwards, which only the second page shows for the second instance.
fn paged_case() -> Case {
    serde_json::from_value(json!({
        "id": "tencent/cvm/DisassociateInstancesKeyPairs/scenario/paged-observation",
        "action": "tencent/cvm/2017-03-12/DisassociateInstancesKeyPairs",
        "kind": "scenario",
        "title": "effects over two describe pages",
        "world": {
            "instances": [
                {"sym": "i1", "os": "linux", "state": "RUNNING", "keys": ["k1"]},
                {"sym": "i2", "os": "linux", "state": "RUNNING", "keys": ["k1"]}
            ],
            "key_pairs": [{"sym": "k1"}]
        },
        "steps": [{
            "action": "DisassociateInstancesKeyPairs",
            "params": {"InstanceIds": ["${i1}", "${i2}"], "KeyIds": ["${k1}"], "ForceStop": true},
            "expect": {"outcome": "success", "effects": ["keys-unbound", "running-instances-restarted"]}
        }],
        "destructive": true
    }))
    .unwrap()
}

/// Effects observed through the describe calls, as on a URL or live target (in process they are
/// read from the emulator's state, where no paging applies).
fn through_api(specs: Arc<SpecSet>) -> cloudconform::run::harness::Harness {
    let opts = cloudconform::run::RunOptions {
        observe_through_api: true,
        ..Default::default()
    };
    cloudconform::run::harness::Harness::start_with(specs, 1, opts).unwrap()
}

#[test]
fn effects_are_observed_over_every_page_of_the_describe_call() {
    let harness = through_api(specs_with_one_instance_pages(true));
    let r = harness.run_case(&paged_case());
    assert_eq!(r.verdict, Verdict::Pass, "{:?}", r.verdict);
    // The same observation reading one page sees one of the two instances: the check above
    // is what paging decides.
    let harness = through_api(specs_with_one_instance_pages(false));
    let r = harness.run_case(&paged_case());
    let Verdict::Fail { findings } = &r.verdict else {
        panic!("one page read: {:?}", r.verdict);
    };
    assert!(
        findings[0].message.contains("running-instances-restarted"),
        "{findings:?}"
    );
}
