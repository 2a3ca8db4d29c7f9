//! Markdown: a per-action table, then every failure with the rule it broke.
use super::{failure_text, RunReport};
use crate::check::Verdict;
use std::fmt::Write as _;

pub fn render(report: &RunReport) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "# cloudconform run against `{}`\n", report.target);
    let _ = writeln!(s, "{} · seed {}\n", report.date, report.seed);
    let _ = writeln!(
        s,
        "| action | cases | pass | fail | divergence | inconclusive | expected failures | stale |"
    );
    let _ = writeln!(s, "|---|---:|---:|---:|---:|---:|---:|---:|");
    for (action, r) in report.per_action() {
        let _ = writeln!(
            s,
            "| `{action}` | {} | {} | {} | {} | {} | {} | {} |",
            r.total,
            r.passed,
            r.failed,
            r.divergences,
            r.inconclusive,
            r.expected_failures,
            r.stale
        );
    }
    let t = &report.summary;
    let _ = writeln!(
        s,
        "| **total** | {} | {} | {} | {} | {} | {} | {} |\n",
        t.total, t.passed, t.failed, t.divergences, t.inconclusive, t.expected_failures, t.stale
    );
    let failed: Vec<_> = report
        .results
        .iter()
        .filter(|r| matches!(r.verdict, Verdict::Fail { .. }) && r.expected_failure.is_none())
        .collect();
    if !failed.is_empty() {
        let _ = writeln!(s, "## Failures\n");
        for r in failed {
            let _ = writeln!(s, "- `{}`: {}", r.id, failure_text(r).replace('\n', "; "));
        }
        s.push('\n');
    }
    // Always present, so a reader sees that none diverged.
    let _ = writeln!(
        s,
        "## Divergences (departures from inferred expectations)\n"
    );
    if report.divergences.is_empty() {
        let _ = writeln!(s, "None.\n");
    } else {
        let _ = writeln!(
            s,
            "| case | where | answer vs expectation | rule | evidence | source |"
        );
        let _ = writeln!(s, "|---|---|---|---|---|---|");
        for d in &report.divergences {
            let _ = writeln!(
                s,
                "| `{}` | `{}` | {} | `{}` | {} | {} |",
                d.case,
                d.location,
                d.message.replace('|', "\\|"),
                d.rule,
                d.evidence,
                d.source
            );
        }
        s.push('\n');
    }
    let stale: Vec<_> = report
        .results
        .iter()
        .filter(|r| matches!(r.verdict, Verdict::Pass) && r.expected_failure.is_some())
        .collect();
    if !stale.is_empty() {
        let _ = writeln!(s, "## Stale expected failures (now passing)\n");
        for r in stale {
            let _ = writeln!(s, "- `{}`", r.id);
        }
        s.push('\n');
    }
    let inconclusive: Vec<_> = report
        .results
        .iter()
        .filter(|r| matches!(r.verdict, Verdict::Inconclusive { .. }))
        .collect();
    if !inconclusive.is_empty() {
        let _ = writeln!(s, "## Inconclusive\n");
        for r in inconclusive {
            let _ = writeln!(s, "- `{}`: {}", r.id, failure_text(r));
        }
    }
    s
}
