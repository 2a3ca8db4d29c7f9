//! Rendering an [`SdkReport`]: a text summary, JSON, and the markdown matrix (cases × SDK and
//! method, pass / fail / skip, the first divergence per failure).
use super::{AdapterReport, AdapterStatus, SdkReport, Verdict};
use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write;

/// Report formats of `cloudconform sdk --report`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    Text,
    Json,
    Markdown,
}

pub fn render(report: &SdkReport, format: Format) -> String {
    match format {
        Format::Text => text(report),
        Format::Json => serde_json::to_string_pretty(report).unwrap_or_default() + "\n",
        Format::Markdown => markdown(report),
    }
}

const LABELS: [&str; 6] = ["pass", "fail", "xfail", "stale", "skip", "adapter-fault"];

fn status_line(a: &AdapterReport) -> String {
    match &a.status {
        AdapterStatus::Unavailable { reason } => format!("unavailable: {reason}"),
        AdapterStatus::Fault { fault } => format!("adapter fault: {fault}"),
        AdapterStatus::Ran => LABELS
            .iter()
            .map(|l| format!("{l} {}", a.count(l)))
            .collect::<Vec<_>>()
            .join(", "),
    }
}

fn noteworthy(v: &Verdict) -> bool {
    matches!(
        v,
        Verdict::Fail { .. } | Verdict::Stale { .. } | Verdict::AdapterFault { .. }
    )
}

fn text(report: &SdkReport) -> String {
    let mut out = String::new();
    for a in &report.adapters {
        let _ = writeln!(out, "{}: {}", a.name(), status_line(a));
        for r in a.results.iter().filter(|r| noteworthy(&r.verdict)) {
            let _ = writeln!(
                out,
                "  {} {} [{}]: {}",
                r.verdict.label(),
                r.case,
                r.method,
                r.verdict.first_divergence()
            );
        }
    }
    out
}

fn cell(v: &Verdict) -> &'static str {
    match v {
        Verdict::Pass => "pass",
        Verdict::Fail { .. } => "**FAIL**",
        Verdict::ExpectedFailure { .. } => "xfail",
        Verdict::Stale { .. } => "**STALE**",
        Verdict::Skip { .. } => "skip",
        Verdict::AdapterFault { .. } => "**FAULT**",
    }
}

fn escape(s: &str) -> String {
    s.replace('|', "\\|").replace('\n', " ")
}

fn markdown(report: &SdkReport) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "### SDKs\n");
    let _ = writeln!(out, "| SDK | language | methods | {} |", LABELS.join(" | "));
    let _ = writeln!(out, "|---|---|---|{}", "---|".repeat(LABELS.len()));
    for a in &report.adapters {
        let (lang, methods) = match &a.identity {
            Some(i) => (i.language.clone(), i.methods.join(", ")),
            None => ("?".into(), String::new()),
        };
        match &a.status {
            AdapterStatus::Ran => {
                let counts: Vec<String> = LABELS.iter().map(|l| a.count(l).to_string()).collect();
                let _ = writeln!(
                    out,
                    "| {} | {lang} | {methods} | {} |",
                    escape(&a.name()),
                    counts.join(" | ")
                );
            }
            _ => {
                let _ = writeln!(
                    out,
                    "| {} | {lang} | | {} |",
                    escape(&a.name()),
                    escape(&status_line(a))
                );
            }
        }
    }
    // Columns: one per adapter and method, in the order they ran.
    let mut columns: Vec<(usize, String)> = Vec::new();
    let mut cells: BTreeMap<String, BTreeMap<(usize, String), &Verdict>> = BTreeMap::new();
    for (i, a) in report.adapters.iter().enumerate() {
        let mut seen = BTreeSet::new();
        for r in &a.results {
            if seen.insert(r.method.clone()) {
                columns.push((i, r.method.clone()));
            }
            cells
                .entry(r.case.clone())
                .or_default()
                .insert((i, r.method.clone()), &r.verdict);
        }
    }
    // One table per provider (the first segment of the case id): SDKs of one cloud only.
    let mut groups: BTreeMap<&str, Vec<&String>> = BTreeMap::new();
    for case in cells.keys() {
        groups
            .entry(case.split('/').next().unwrap_or_default())
            .or_default()
            .push(case);
    }
    for (group, cases) in &groups {
        let cols: Vec<&(usize, String)> = columns
            .iter()
            .filter(|c| cases.iter().any(|case| cells[*case].contains_key(*c)))
            .collect();
        let _ = writeln!(out, "\n### Matrix: {group}\n");
        let heads: Vec<String> = cols
            .iter()
            .map(|(i, m)| {
                let sdk = report.adapters[*i]
                    .identity
                    .as_ref()
                    .map(|id| id.sdk.clone())
                    .unwrap_or_default();
                format!("{} `{m}`", escape(&sdk))
            })
            .collect();
        let _ = writeln!(out, "| case | {} |", heads.join(" | "));
        let _ = writeln!(out, "|---|{}", "---|".repeat(cols.len()));
        for case in cases {
            let row = &cells[*case];
            let line: Vec<&str> = cols
                .iter()
                .map(|c| row.get(*c).map(|v| cell(v)).unwrap_or(""))
                .collect();
            let _ = writeln!(out, "| `{case}` | {} |", line.join(" | "));
        }
    }
    let mut divergences = String::new();
    for a in &report.adapters {
        for r in &a.results {
            if matches!(r.verdict, Verdict::Pass | Verdict::Skip { .. }) {
                continue;
            }
            let extra = match &r.verdict {
                Verdict::ExpectedFailure { behaviour, .. } => format!(" — expected: {behaviour}"),
                _ => String::new(),
            };
            let _ = writeln!(
                divergences,
                "- {} `{}` `{}` ({}): {}{}",
                escape(&a.name()),
                r.case,
                r.method,
                r.verdict.label(),
                escape(&r.verdict.first_divergence()),
                escape(&extra)
            );
        }
    }
    if !divergences.is_empty() {
        let _ = writeln!(out, "\n### First divergence per failure\n\n{divergences}");
    }
    out
}
