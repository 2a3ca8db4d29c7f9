//! Self-test reports: text (a line per deviation and the scores), JSON, and markdown (one row
//! per deviation, grouped by operator family and action, with the killing cases).
use super::{Outcome, Report, Row, Score};
use std::fmt::Write as _;

fn score_text(s: &Score) -> String {
    let pct = s
        .percent()
        .map(|p| format!("{p:.1} %"))
        .unwrap_or_else(|| "n/a".into());
    format!(
        "{} deviations, {} killed, {} equivalent, {} survived; mutation score {pct}",
        s.total, s.killed, s.equivalent, s.survived
    )
}

fn status(row: &Row) -> &'static str {
    match row.outcome {
        Outcome::Killed { .. } => "killed",
        Outcome::Equivalent { .. } => "equivalent",
        Outcome::Survived => "SURVIVED",
    }
}

fn killers(cases: &[String], max: usize) -> String {
    let mut s = cases
        .iter()
        .take(max)
        .cloned()
        .collect::<Vec<_>>()
        .join(", ");
    if cases.len() > max {
        let _ = write!(s, " and {} more", cases.len() - max);
    }
    s
}

pub fn text(report: &Report) -> String {
    let mut out = String::new();
    for r in &report.rows {
        let _ = write!(out, "{:<10} {}", status(r), r.deviation.id);
        match &r.outcome {
            Outcome::Killed { cases, .. } => {
                let _ = writeln!(out, "  ({} of {} cases)", cases.len(), r.cases_run);
            }
            Outcome::Equivalent { reason } => {
                let _ = writeln!(out, "  ({reason})");
            }
            Outcome::Survived => {
                let _ = writeln!(
                    out,
                    "  ({} cases passed; breaks {}: {})",
                    r.cases_run, r.deviation.rule, r.deviation.description
                );
            }
        }
    }
    for s in &report.stale_equivalents {
        let _ = writeln!(out, "stale equivalence: {s}");
    }
    for c in &report.baseline_excluded {
        let _ = writeln!(out, "left out (not passed by the conforming emulator): {c}");
    }
    for (family, s) in &report.families {
        let _ = writeln!(out, "{family:<9} {}", score_text(s));
    }
    let _ = writeln!(
        out,
        "total     {} ({} mode, {:.1} s)",
        score_text(&report.overall),
        report.mode.as_str(),
        report.wall_ms as f64 / 1000.0
    );
    out
}

pub fn json(report: &Report) -> String {
    let mut s = serde_json::to_string_pretty(report).expect("reports serialize");
    s.push('\n');
    s
}

fn md_cell(s: &str) -> String {
    s.replace('|', "\\|").replace('\n', " ")
}

pub fn markdown(report: &Report) -> String {
    let mut out = String::from("# cloudconform self-test\n\n");
    let _ = writeln!(
        out,
        "{} ({} mode)\n",
        score_text(&report.overall),
        report.mode.as_str()
    );
    out.push_str("| family | total | killed | equivalent | survived | score |\n");
    out.push_str("|---|---|---|---|---|---|\n");
    for (family, s) in &report.families {
        let _ = writeln!(
            out,
            "| {family} | {} | {} | {} | {} | {} |",
            s.total,
            s.killed,
            s.equivalent,
            s.survived,
            s.percent()
                .map(|p| format!("{p:.1} %"))
                .unwrap_or_else(|| "n/a".into())
        );
    }
    let mut rows: Vec<&Row> = report.rows.iter().collect();
    rows.sort_by(|a, b| {
        (a.deviation.family, &a.deviation.action, &a.deviation.id).cmp(&(
            b.deviation.family,
            &b.deviation.action,
            &b.deviation.id,
        ))
    });
    let mut heading = String::new();
    for r in rows {
        let h = format!(
            "{} — {}/{}/{}",
            r.deviation.family, r.deviation.provider, r.deviation.service, r.deviation.action
        );
        if h != heading {
            let _ = writeln!(out, "\n## {h}\n");
            out.push_str("| deviation | rule | outcome | killed by / reason |\n");
            out.push_str("|---|---|---|---|\n");
            heading = h;
        }
        let detail = match &r.outcome {
            Outcome::Killed {
                cases,
                first_finding,
            } => format!("{} — first: {}", killers(cases, 3), first_finding),
            Outcome::Equivalent { reason } => reason.clone(),
            Outcome::Survived => format!("{} cases passed", r.cases_run),
        };
        let _ = writeln!(
            out,
            "| `{}` | `{}` | {} | {} |",
            r.deviation.id,
            r.deviation.rule,
            status(r),
            md_cell(&detail)
        );
    }
    if !report.stale_equivalents.is_empty() {
        out.push_str("\n## Stale equivalences\n\n");
        for s in &report.stale_equivalents {
            let _ = writeln!(out, "- {}", md_cell(s));
        }
    }
    out
}
