//! Protocol conditions the docs leave open (a `discrepancies` entry with `condition` and
//! `alternatives`): every generated case for such a condition accepts each alternative — the
//! answer the emulator gives (the first) and every other one the docs allow — and nothing else.
use cloudconform::check::Checker;
use cloudconform::generate::{self, Cover, Expect, GenOptions};
use cloudconform::http::RawResponse;
use cloudconform::run::bind::Bindings;
use cloudconform::spec::{Provider, SpecSet};
use serde_json::json;
use std::sync::Arc;

/// The provider's error envelope carrying `code`, as a live service would send it.
fn envelope(provider: Provider, code: &str, status: u16) -> RawResponse {
    let (body, content_type) = match provider {
        Provider::Tencent => (
            json!({"Response": {"Error": {"Code": code, "Message": "m"},
                   "RequestId": "6ef60bec-0242-43af-bb20-270359fb54a7"}}),
            "application/json",
        ),
        Provider::Alibaba => (
            json!({"RequestId": "6EF60BEC-0242-43AF-BB20-270359FB54A7", "HostId": "ecs.aliyuncs.com",
                   "Code": code, "Message": "m", "Recommend": "https://api.aliyun.com/troubleshoot"}),
            "application/json;charset=utf-8",
        ),
    };
    RawResponse {
        status,
        headers: vec![("Content-Type".into(), content_type.into())],
        body: serde_json::to_vec(&body).unwrap(),
    }
}

#[test]
fn every_alternative_a_discrepancy_allows_is_accepted_and_only_those() {
    let specs = Arc::new(SpecSet::load_default().unwrap());
    let cases = generate::all_cases(&specs, &GenOptions::default(), None).unwrap();
    let checker = Checker::new(Arc::clone(&specs)).unwrap();
    let mut checked = 0;
    for provider in specs.providers() {
        for d in provider
            .discrepancies
            .iter()
            .filter(|d| d.condition.is_some())
        {
            let condition = d.condition.unwrap().as_str();
            let covering: Vec<_> = cases
                .iter()
                .filter(|c| {
                    c.action.provider == provider.provider
                        && c.covers.iter().any(
                            |v| matches!(v, Cover::Protocol { condition: c } if c == condition),
                        )
                })
                .collect();
            assert!(!covering.is_empty(), "{}: no case covers {condition}", d.id);
            for case in covering {
                let action = specs.action(&case.action).unwrap();
                let expect = &case.steps[0].expect;
                let Expect::Error { one_of, .. } = expect else {
                    panic!("{}: expects no error", case.id);
                };
                assert_eq!(
                    one_of[0].code, d.alternatives[0].code,
                    "{}: the settled answer leads",
                    case.id
                );
                for alt in &d.alternatives {
                    let status = one_of
                        .iter()
                        .find(|e| e.code == alt.code)
                        .map(|e| e.http_status);
                    let status =
                        status.unwrap_or_else(|| panic!("{}: {} not expected", case.id, alt.code));
                    let resp = envelope(provider.provider, &alt.code, status);
                    let findings = checker.check(action, expect, &resp, &Bindings::default());
                    assert_eq!(findings, vec![], "{}: {} accepted", case.id, alt.code);
                    checked += 1;
                }
                let other = envelope(provider.provider, "InternalError", one_of[0].http_status);
                assert!(
                    !checker
                        .check(action, expect, &other, &Bindings::default())
                        .is_empty(),
                    "{}: a code outside the alternatives fails",
                    case.id
                );
            }
        }
    }
    // Tencent: malformed timestamp (3 alternatives) and unsupported signature method (2) on
    // three actions; Alibaba: a token of another key (2) on two.
    assert_eq!(checked, 3 * 3 + 3 * 2 + 2 * 2);
}
