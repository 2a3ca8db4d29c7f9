//! The harness self-test: serve each deviation (`crate::deviate`) from its own emulator, run the
//! cases about the deviating action against it, and report which deviations the suite kills
//! (by which cases, with the first finding) and which survive. A survivor is either listed as
//! equivalent (no documented API can observe it) in `cases/selftest-equivalent.json`, or a gap
//! in the suite that fails the self-test.
//!
//! Two target modes: `in-process` runs the cases against emulators as an emulator target
//! (the runner builds each case's world through the control API); `url` reaches each deviant
//! emulator as a live target, with a profile lending the instances of its world
//! ([`lend`]), so what live runs notice is measured too.
//!
//! Sits downstream of `run` and `check`: it is a client of the runner like `cloudconform run`.
mod equivalent;
pub mod lend;
pub mod render;
mod target;

pub use equivalent::{Equivalent, Equivalents};

use crate::check::Verdict;
use crate::deviate::{Deviation, Family};
use crate::generate::Case;
use crate::spec::SpecSet;
use serde::Serialize;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Instant;

/// What the suite made of one deviation.
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum Outcome {
    /// Some cases failed against it.
    Killed {
        cases: Vec<String>,
        first_finding: String,
    },
    /// Every case passed, and the equivalence list says why that is right.
    Equivalent { reason: String },
    /// Every case passed: a gap in the suite.
    Survived,
}

#[derive(Debug, Clone, Serialize)]
pub struct Row {
    pub deviation: Deviation,
    /// How many cases ran against it.
    pub cases_run: usize,
    pub outcome: Outcome,
}

/// Per-family counts and the mutation score killed ÷ (total − equivalent).
#[derive(Debug, Clone, Default, Serialize)]
pub struct Score {
    pub total: usize,
    pub killed: usize,
    pub equivalent: usize,
    pub survived: usize,
}

impl Score {
    /// In percent; `None` when every deviation is equivalent (or none ran).
    pub fn percent(&self) -> Option<f64> {
        let denominator = self.total - self.equivalent;
        (denominator > 0).then(|| 100.0 * self.killed as f64 / denominator as f64)
    }

    fn add(&mut self, outcome: &Outcome) {
        self.total += 1;
        match outcome {
            Outcome::Killed { .. } => self.killed += 1,
            Outcome::Equivalent { .. } => self.equivalent += 1,
            Outcome::Survived => self.survived += 1,
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub mode: TargetMode,
    /// Cases the conforming emulator does not pass in this mode (with their verdict): left
    /// out, since they cannot tell a deviation from the norm.
    pub baseline_excluded: Vec<String>,
    pub rows: Vec<Row>,
    pub overall: Score,
    pub families: BTreeMap<Family, Score>,
    /// Equivalence entries that no longer hold: the deviation was killed, or does not exist.
    pub stale_equivalents: Vec<String>,
    pub wall_ms: u64,
}

impl Report {
    /// The self-test passes when nothing survives unexplained and no equivalence is stale.
    pub fn passed(&self) -> bool {
        self.overall.survived == 0 && self.stale_equivalents.is_empty()
    }

    pub fn survivors(&self) -> Vec<&str> {
        self.rows
            .iter()
            .filter(|r| matches!(r.outcome, Outcome::Survived))
            .map(|r| r.deviation.id.as_str())
            .collect()
    }
}

/// How the suite reaches each deviant emulator.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum TargetMode {
    /// As an emulator target: each case's world is set through the control API.
    #[default]
    InProcess,
    /// As a live target at the emulator's URL, with a profile lending the instances of its
    /// world: the path `cloudconform run --target URL --profile FILE` takes.
    Url,
}

impl TargetMode {
    pub fn as_str(self) -> &'static str {
        match self {
            TargetMode::InProcess => "in-process",
            TargetMode::Url => "url",
        }
    }
}

/// Called after each deviation: (done, total, killed so far).
pub type Progress = Arc<dyn Fn(usize, usize, usize) + Send + Sync>;

#[derive(Clone)]
pub struct Options {
    /// Deviations run at the same time (each with its own emulators).
    pub parallel: usize,
    /// Emulators (runner workers) per deviation; in url mode, concurrent cases on one.
    pub workers: usize,
    /// Only deviations whose id contains one of these (all when empty).
    pub filter: Vec<String>,
    pub mode: TargetMode,
    pub progress: Option<Progress>,
    /// Run the cases against the conforming emulator first and leave out those it does not
    /// pass (off only where the caller already knows they pass: the quick test sample).
    pub baseline: bool,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            parallel: 4,
            workers: 2,
            filter: Vec::new(),
            mode: TargetMode::InProcess,
            progress: None,
            baseline: true,
        }
    }
}

/// Why the self-test could not run.
#[derive(Debug, thiserror::Error)]
pub enum SelfTestError {
    #[error("emulator: {0}")]
    Emulator(String),
    #[error("runner: {0}")]
    Runner(String),
}

/// Run `cases` (those the conforming emulator passes) against every deviation of `deviations`
/// that `opts.filter` selects.
pub async fn run(
    specs: Arc<SpecSet>,
    cases: Vec<Case>,
    deviations: Vec<Deviation>,
    equivalents: &Equivalents,
    opts: &Options,
) -> Result<Report, SelfTestError> {
    let started = Instant::now();
    let selected: Vec<Deviation> = deviations
        .iter()
        .filter(|d| opts.filter.is_empty() || opts.filter.iter().any(|f| d.id.contains(f)))
        .cloned()
        .collect();
    let gate = Arc::new(tokio::sync::Semaphore::new(opts.parallel.max(1)));
    let lending = match opts.mode {
        TargetMode::InProcess => None,
        TargetMode::Url => Some(Arc::new(lend::lending(&specs))),
    };
    // Only cases the conforming emulator passes in this mode can witness a deviation.
    let about_selected: Vec<Case> = cases
        .into_iter()
        .filter(|c| selected.iter().any(|d| c.id.starts_with(&d.case_prefix())))
        .collect();
    let baseline = if opts.baseline {
        target::run(
            specs.clone(),
            about_selected.clone(),
            Vec::new(),
            opts.workers,
            lending.as_deref(),
        )
        .await?
    } else {
        Vec::new()
    };
    let passed = |id: &str| {
        !opts.baseline
            || baseline
                .iter()
                .any(|r| r.id == id && matches!(r.verdict, Verdict::Pass))
    };
    let baseline_excluded: Vec<String> = baseline
        .iter()
        .filter(|r| !matches!(r.verdict, Verdict::Pass))
        .map(|r| format!("{}: {}", r.id, r.verdict.label()))
        .collect();
    let cases: Arc<Vec<Case>> = Arc::new(
        about_selected
            .iter()
            .filter(|c| passed(&c.id))
            .cloned()
            .collect(),
    );
    let total = selected.len();
    let counts = Arc::new((AtomicUsize::new(0), AtomicUsize::new(0)));
    let mut tasks = Vec::new();
    for d in selected {
        let (specs, cases, gate) = (specs.clone(), cases.clone(), gate.clone());
        let (lending, counts, progress) = (lending.clone(), counts.clone(), opts.progress.clone());
        let workers = opts.workers;
        tasks.push(tokio::spawn(async move {
            let _permit = gate
                .acquire_owned()
                .await
                .expect("the gate is never closed");
            let result = against(specs, &cases, d, workers, lending.as_deref()).await;
            let done = counts.0.fetch_add(1, Ordering::SeqCst) + 1;
            if matches!(&result, Ok((_, _, Some(_)))) {
                counts.1.fetch_add(1, Ordering::SeqCst);
            }
            if let Some(p) = progress {
                p(done, total, counts.1.load(Ordering::SeqCst));
            }
            result
        }));
    }
    let mut rows = Vec::new();
    for t in tasks {
        let (d, cases_run, killed) = t
            .await
            .map_err(|e| SelfTestError::Runner(e.to_string()))??;
        let outcome = match (killed, equivalents.reason(&d.id, opts.mode)) {
            (Some((cases, first_finding)), _) => Outcome::Killed {
                cases,
                first_finding,
            },
            (None, Some(reason)) => Outcome::Equivalent {
                reason: reason.to_string(),
            },
            (None, None) => Outcome::Survived,
        };
        rows.push(Row {
            deviation: d,
            cases_run,
            outcome,
        });
    }
    let mut stale = Vec::new();
    for e in equivalents.in_mode(opts.mode) {
        let selected = opts.filter.is_empty() || opts.filter.iter().any(|f| e.id.contains(f));
        if !selected {
            continue;
        }
        match rows.iter().find(|r| r.deviation.id == e.id) {
            None if !deviations.iter().any(|d| d.id == e.id) => {
                stale.push(format!("{}: no such deviation", e.id))
            }
            Some(r) if matches!(r.outcome, Outcome::Killed { .. }) => {
                stale.push(format!("{}: listed as equivalent but killed", e.id))
            }
            _ => {}
        }
    }
    let mut overall = Score::default();
    let mut families: BTreeMap<Family, Score> = BTreeMap::new();
    for r in &rows {
        overall.add(&r.outcome);
        families
            .entry(r.deviation.family)
            .or_default()
            .add(&r.outcome);
    }
    Ok(Report {
        mode: opts.mode,
        baseline_excluded,
        rows,
        overall,
        families,
        stale_equivalents: stale,
        wall_ms: started.elapsed().as_millis() as u64,
    })
}

type Against = (Deviation, usize, Option<(Vec<String>, String)>);

/// Run the cases about `d`'s action against emulators serving `d`: the failing case ids and the
/// first finding, or `None` when every case passed.
async fn against(
    specs: Arc<SpecSet>,
    cases: &[Case],
    d: Deviation,
    workers: usize,
    lending: Option<&lend::Lending>,
) -> Result<Against, SelfTestError> {
    let prefix = d.case_prefix();
    let mine: Vec<Case> = cases
        .iter()
        .filter(|c| c.id.starts_with(&prefix))
        .cloned()
        .collect();
    let n = mine.len();
    let results = target::run(specs, mine, vec![d.clone()], workers, lending).await?;
    let mut killing = Vec::new();
    let mut first = None;
    for r in results {
        match &r.verdict {
            // A departure only from inferred expectations is reported as a divergence (its own
            // table in every report): the suite noticed the deviation, though the docs alone do
            // not make it a failure. It counts as a kill, marked so the reader can tell.
            Verdict::Divergence { findings } | Verdict::Fail { findings } => {
                let kind = if matches!(r.verdict, Verdict::Divergence { .. }) {
                    "divergence: "
                } else {
                    ""
                };
                first.get_or_insert_with(|| {
                    format!(
                        "{}: {kind}{}",
                        r.id,
                        findings.first().map(|f| f.to_string()).unwrap_or_default()
                    )
                });
                killing.push(r.id);
            }
            // Undecided is not noticed: a deviation only ever met by inconclusive cases survives.
            Verdict::Pass | Verdict::Inconclusive { .. } => {}
        }
    }
    let killed = first.map(|f| (killing, f));
    Ok((d, n, killed))
}
