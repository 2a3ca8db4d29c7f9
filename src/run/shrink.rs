//! Shrinking exploration failures: the generator's value trees propose smaller cases
//! (`generate::explore::shrink`), the runner runs them; the smallest failing version replaces
//! the explored case's result and is saved as a regression.
use super::{CaseResult, Runner, TargetKind};
use crate::check::Verdict;
use crate::generate::{explore, Case};
use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

fn failed(r: &CaseResult) -> bool {
    matches!(r.verdict, Verdict::Fail { .. })
}

/// Shrink every failing explored case and save the smallest failing version under
/// `cases_dir/regressions/`. Returns the results with the shrunk verdicts.
pub async fn shrink_failures(
    runner: &Arc<Runner>,
    cases: &[Case],
    mut results: Vec<CaseResult>,
    cases_dir: &Path,
) -> Vec<CaseResult> {
    let endpoint = match &runner.target().kind {
        TargetKind::Emulator { endpoints } => endpoints[0].clone(),
        TargetKind::Live { endpoints, .. } => endpoints.any(),
    };
    let failing: Vec<String> = results
        .iter()
        .filter(|r| failed(r))
        .map(|r| r.id.clone())
        .collect();
    // The last failing result of each shrunk case, by id.
    let mut latest: BTreeMap<String, CaseResult> = BTreeMap::new();
    let shrunk = explore::shrink(
        runner.specs(),
        cases,
        &failing,
        cases_dir,
        async |c: &Case| {
            let r = runner.run_case_on(c, &endpoint).await;
            let f = failed(&r);
            if f {
                latest.insert(c.id.clone(), r);
            }
            f
        },
    )
    .await;
    for (original, case) in shrunk {
        if let (Some(pos), Some(r)) = (
            results.iter().position(|r| r.id == original),
            latest.get(&case.id),
        ) {
            results[pos] = r.clone();
        }
    }
    results
}
