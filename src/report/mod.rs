//! Reports of a run: JSON (everything, machine-readable), JUnit XML (for CI systems, via
//! `quick-junit`) and Markdown (a per-action table and the failures). Reports carry no
//! credentials: exchanges are scrubbed by the runner before they get here.
pub mod json;
pub mod junit;
pub mod markdown;

use crate::check::Verdict;
use crate::run::{CaseResult, Summary};
use serde::Serialize;
use std::collections::BTreeMap;

/// Everything a report needs.
#[derive(Debug, Clone, Serialize)]
pub struct RunReport {
    pub target: String,
    pub date: String,
    pub seed: u64,
    pub summary: Summary,
    pub results: Vec<CaseResult>,
    /// Departures from inferred expectations (also in `results`), one row per finding.
    pub divergences: Vec<DivergenceRow>,
}

impl RunReport {
    pub fn new(target: &str, seed: u64, results: Vec<CaseResult>) -> RunReport {
        RunReport {
            target: target.to_string(),
            date: chrono::Utc::now().format("%Y-%m-%dT%H:%M:%SZ").to_string(),
            seed,
            summary: Summary::of(&results),
            results,
            divergences: Vec::new(),
        }
        .with_divergences()
    }

    fn with_divergences(mut self) -> RunReport {
        self.divergences = divergences(&self);
        self
    }

    /// Per action: total, pass, fail, inconclusive, expected failures, stale.
    pub fn per_action(&self) -> BTreeMap<String, ActionRow> {
        let mut rows: BTreeMap<String, ActionRow> = BTreeMap::new();
        for r in &self.results {
            rows.entry(r.action.clone()).or_default().add(r);
        }
        rows
    }
}

/// One action's counts.
pub type ActionRow = crate::run::Summary;

/// The report formats `--report` accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Json,
    Junit,
    Markdown,
}

impl std::str::FromStr for Format {
    type Err = String;
    fn from_str(s: &str) -> Result<Format, String> {
        match s {
            "json" => Ok(Format::Json),
            "junit" => Ok(Format::Junit),
            "markdown" | "md" => Ok(Format::Markdown),
            other => Err(format!(
                "unknown report format `{other}` (json, junit, markdown)"
            )),
        }
    }
}

/// Render a report.
pub fn render(report: &RunReport, format: Format) -> Result<String, String> {
    match format {
        Format::Json => json::render(report),
        Format::Junit => junit::render(report),
        Format::Markdown => Ok(markdown::render(report)),
    }
}

/// One departure from an inferred expectation: the case, where, both answers (in the message),
/// the rule and the source the harness read it from.
#[derive(Debug, Clone, Serialize)]
pub struct DivergenceRow {
    pub case: String,
    pub location: String,
    pub message: String,
    pub rule: String,
    pub evidence: &'static str,
    pub source: String,
}

/// Every finding of every divergent case, for the divergences table of each format.
pub fn divergences(report: &RunReport) -> Vec<DivergenceRow> {
    report
        .results
        .iter()
        .filter_map(|r| match &r.verdict {
            Verdict::Divergence { findings } => Some((r, findings)),
            _ => None,
        })
        .flat_map(|(r, findings)| {
            findings.iter().map(|f| DivergenceRow {
                case: r.id.clone(),
                location: f.location.clone(),
                message: f.message.clone(),
                rule: f.rule.clone(),
                evidence: f.evidence.as_str(),
                source: f.source.clone(),
            })
        })
        .collect()
}

/// One line per finding of a failed case.
pub fn failure_text(r: &CaseResult) -> String {
    match &r.verdict {
        Verdict::Fail { findings } | Verdict::Divergence { findings } => findings
            .iter()
            .map(|f| f.to_string())
            .collect::<Vec<_>>()
            .join("\n"),
        Verdict::Inconclusive { reason } => reason.clone(),
        Verdict::Pass => String::new(),
    }
}
