//! JUnit XML: one test suite per action, one test case per conformance case. Failures carry the
//! findings (rule and location); inconclusive cases are skipped with their reason; expected
//! failures pass with a property naming the reason; stale expected failures fail. Suites carry
//! their time (the sum of their cases') and the run's timestamp; each case its time and, in
//! `system-out`, its exchanges as recorded (already scrubbed of credentials). Findings
//! carry their evidence level and source; divergences pass with a `divergence` property each and
//! are listed again in a `divergences` suite (one entry per finding).
use super::{failure_text, RunReport};
use crate::check::Verdict;
use crate::run::Exchange;
use quick_junit::{NonSuccessKind, Property, Report, TestCase, TestCaseStatus, TestSuite};
use std::collections::BTreeMap;
use std::time::Duration;

pub fn render(report: &RunReport) -> Result<String, String> {
    let mut junit = Report::new(format!("cloudconform {}", report.target));
    let mut suites: BTreeMap<&str, TestSuite> = BTreeMap::new();
    for r in &report.results {
        let status = match (&r.verdict, &r.expected_failure) {
            (Verdict::Pass, None) => TestCaseStatus::success(),
            (Verdict::Pass, Some(reason)) => {
                let mut s = TestCaseStatus::non_success(NonSuccessKind::Failure);
                s.set_message(format!(
                    "stale expected failure (listed: {reason}) now passes"
                ));
                s.set_type("stale-expected-failure");
                s
            }
            (Verdict::Fail { .. }, Some(_)) => TestCaseStatus::success(),
            (Verdict::Fail { findings }, None) => {
                let mut s = TestCaseStatus::non_success(NonSuccessKind::Failure);
                s.set_message(findings.first().map(|f| f.to_string()).unwrap_or_default());
                s.set_type("nonconformance");
                s.set_description(failure_text(r));
                s
            }
            // Not a failure: a departure from what the harness inferred; the findings (both
            // answers, rule, evidence, source) are properties of the test case below.
            (Verdict::Divergence { .. }, _) => TestCaseStatus::success(),
            (Verdict::Inconclusive { reason }, _) => {
                let mut s = TestCaseStatus::skipped();
                s.set_message(format!("inconclusive: {reason}"));
                s
            }
        };
        let mut tc = TestCase::new(r.id.clone(), status);
        tc.set_classname(r.action.clone());
        tc.set_time(Duration::from_millis(r.duration_ms));
        if !r.exchanges.is_empty() {
            tc.set_system_out(exchanges_text(&r.exchanges));
        }
        if let Some(reason) = &r.expected_failure {
            tc.add_property(Property::new("expected-failure", reason.clone()));
        }
        if let Verdict::Divergence { findings } = &r.verdict {
            for f in findings {
                tc.add_property(Property::new("divergence", f.to_string()));
            }
        }
        suites
            .entry(r.action.as_str())
            .or_insert_with(|| TestSuite::new(r.action.clone()))
            .add_test_case(tc);
    }
    let timestamp = chrono::DateTime::parse_from_rfc3339(&report.date).ok();
    let mut total = Duration::ZERO;
    for suite in suites.values_mut() {
        let time = suite.test_cases.iter().filter_map(|c| c.time).sum();
        suite.set_time(time);
        total += time;
        if let Some(t) = timestamp {
            suite.set_timestamp(t);
        }
    }
    junit.set_time(total);
    if let Some(t) = timestamp {
        junit.set_timestamp(t);
    }
    junit.add_test_suites(suites.into_values());
    // The divergences table: one entry per departure from an inferred expectation.
    let mut table = TestSuite::new("divergences");
    for d in &report.divergences {
        let mut tc = TestCase::new(
            format!("{} {}", d.case, d.location),
            TestCaseStatus::success(),
        );
        tc.set_classname("divergences");
        tc.add_property(Property::new("answer", d.message.clone()));
        tc.add_property(Property::new("rule", d.rule.clone()));
        tc.add_property(Property::new("evidence", d.evidence));
        tc.add_property(Property::new("source", d.source.clone()));
        table.add_test_case(tc);
    }
    junit.add_test_suite(table);
    junit.to_string().map_err(|e| e.to_string())
}

/// The exchanges of a case as an HTTP-like transcript (`>` sent, `<` received).
fn exchanges_text(exchanges: &[Exchange]) -> String {
    let mut out = String::new();
    for x in exchanges {
        let q = &x.request;
        let query = if q.query.is_empty() {
            String::new()
        } else {
            format!("?{}", q.query)
        };
        out.push_str(&format!(
            "step {} {}\n> {} {}{query}\n",
            x.step, x.action, q.method, q.path
        ));
        for (k, v) in &q.headers {
            out.push_str(&format!("> {k}: {v}\n"));
        }
        if !q.body.is_empty() {
            out.push_str(&format!(">\n> {}\n", q.body));
        }
        match &x.response {
            Some(r) => out.push_str(&format!(
                "< {} {}\n< {}\n",
                r.status, r.content_type, r.body
            )),
            None => out.push_str("< (no response)\n"),
        }
    }
    out
}
