//! Tallying a run: counts per verdict, the exit code they imply, and marking cases that are on
//! the target's expected-failure list (which turns their failures into expected ones).
use super::expected;
use super::CaseResult;
use crate::check::Verdict;
use serde::Serialize;

/// Counts per verdict.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Summary {
    pub total: usize,
    pub passed: usize,
    pub failed: usize,
    pub inconclusive: usize,
    /// Departures from inferred expectations only (fail the run only with `--strict`).
    pub divergences: usize,
    pub expected_failures: usize,
    /// Listed as expected failures but passed.
    pub stale: usize,
}

impl Summary {
    pub fn of(results: &[CaseResult]) -> Summary {
        let mut s = Summary::default();
        for r in results {
            s.add(r);
        }
        s
    }

    /// Count one result: a listed case that passes is stale, a listed failure is expected.
    pub fn add(&mut self, r: &CaseResult) {
        self.total += 1;
        match (&r.verdict, r.expected_failure.is_some()) {
            (Verdict::Pass, false) => self.passed += 1,
            (Verdict::Pass, true) => self.stale += 1,
            (Verdict::Fail { .. }, true) => self.expected_failures += 1,
            (Verdict::Fail { .. }, false) => self.failed += 1,
            (Verdict::Divergence { .. }, _) => self.divergences += 1,
            (Verdict::Inconclusive { .. }, _) => self.inconclusive += 1,
        }
    }

    /// 0 pass, 1 nonconformance (failures or stale expected failures), 3 inconclusive.
    pub fn exit_code(&self) -> u8 {
        self.exit_code_with(false)
    }

    /// As [`Summary::exit_code`]; with `strict`, divergences are nonconformance too.
    pub fn exit_code_with(&self, strict: bool) -> u8 {
        if self.failed > 0 || self.stale > 0 || (strict && self.divergences > 0) {
            1
        } else if self.inconclusive > 0 {
            3
        } else {
            0
        }
    }
}

/// Mark listed cases; returns the results with `expected_failure` set.
pub fn apply_expected(results: &mut [CaseResult], list: &expected::ExpectedFailures) {
    for r in results.iter_mut() {
        r.expected_failure = list.reason(&r.id).map(str::to_string);
    }
}
