//! `cloudconform selftest`: how much of the specs the suite pins down — every spec-derived
//! deviation served by its own emulator, the cases about its action run against it, a mutation
//! score per operator family (docs/selftest.md).
use super::exit;
use anyhow::{anyhow, Context, Result};
use clap::{Args as ClapArgs, ValueEnum};
use cloudconform::deviate;
use cloudconform::generate;
use cloudconform::run::expected::ExpectedFailures;
use cloudconform::selftest::{self, render, Equivalents, Options, TargetMode};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

#[derive(Clone, Copy, ValueEnum)]
pub enum Format {
    Text,
    Json,
    Markdown,
}

#[derive(Clone, Copy, ValueEnum)]
pub enum Mode {
    /// Emulator targets: each case's world set through the control API.
    InProcess,
    /// Live targets at each deviant emulator's URL, with a profile lending its instances.
    Url,
}

#[derive(ClapArgs)]
pub struct Args {
    /// Spec directory (default: $CLOUDCONFORM_SPECS, ./specs, or the crate's specs/).
    #[arg(long)]
    pub specs: Option<PathBuf>,
    /// Case directory with scenarios/, regressions/, expected-failures/ and
    /// selftest-equivalent.json (default: ./cases or the crate's).
    #[arg(long)]
    pub cases: Option<PathBuf>,
    /// Generation seed.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Only deviations whose id contains this text (repeatable, or comma-separated).
    #[arg(long, value_delimiter = ',')]
    pub filter: Vec<String>,
    /// Deviations run at the same time, each with its own emulators.
    #[arg(long, default_value_t = 4)]
    pub parallel: usize,
    /// How the suite reaches each deviant emulator.
    #[arg(long, value_enum, default_value = "in-process")]
    pub target_mode: Mode,
    /// Report format on stdout.
    #[arg(long, value_enum, default_value = "text")]
    pub report: Format,
}

pub fn run(args: Args) -> Result<ExitCode> {
    if args.parallel == 0 {
        return Err(anyhow!("--parallel 0: give at least 1"));
    }
    let cases_dir = args
        .cases
        .clone()
        .unwrap_or_else(generate::default_cases_dir);
    let (specs, cases) = super::cases_cmd::load_cases(args.specs, args.cases, args.seed)?;
    // Cases the conforming emulator already fails say nothing about a deviation.
    let expected = ExpectedFailures::load(&cases_dir.join("expected-failures"), "emulator")
        .map_err(|e| anyhow!(e))?;
    let cases: Vec<_> = cases
        .into_iter()
        .filter(|c| expected.reason(&c.id).is_none())
        .collect();
    let equivalents =
        Equivalents::load(&cases_dir.join("selftest-equivalent.json")).map_err(|e| anyhow!(e))?;
    let deviations = deviate::catalogue(&specs);
    let (mode, workers) = match args.target_mode {
        Mode::InProcess => (TargetMode::InProcess, 2),
        Mode::Url => (TargetMode::Url, 4),
    };
    // Progress on stderr, one line per deviation: stdout holds only the report.
    let progress: selftest::Progress = Arc::new(|done, total, killed| {
        eprintln!("selftest: {done}/{total} deviations done, {killed} killed");
    });
    let opts = Options {
        parallel: args.parallel,
        workers,
        filter: args.filter,
        mode,
        progress: Some(progress),
        baseline: true,
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    let report = runtime.block_on(selftest::run(
        Arc::new(specs),
        cases,
        deviations,
        &equivalents,
        &opts,
    ))?;
    if report.rows.is_empty() {
        return Err(anyhow!(
            "--filter {:?} selects no deviation (see `cloudconform emulate --list-deviations`)",
            opts.filter
        ));
    }
    let out = match args.report {
        Format::Text => render::text(&report),
        Format::Json => render::json(&report),
        Format::Markdown => render::markdown(&report),
    };
    print!("{out}");
    if !report.passed() {
        eprintln!(
            "selftest failed: {} deviation(s) survived ({}); {} stale equivalence(s)",
            report.overall.survived,
            report.survivors().join(", "),
            report.stale_equivalents.len()
        );
        return Ok(ExitCode::from(exit::NONCONFORMANCE));
    }
    Ok(ExitCode::from(exit::OK))
}
