//! `cloudconform bench`: checked cases per second against the embedded emulator and the
//! emulator's raw requests per second, measured in one run, with their ratio.
use super::cases_cmd::load_cases;
use super::exit;
use anyhow::{anyhow, Context, Result};
use clap::Args as ClapArgs;
use cloudconform::run::bench;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

#[derive(ClapArgs)]
pub struct Args {
    /// Workers (one emulator each).
    #[arg(long, default_value_t = 4)]
    pub workers: usize,
    /// Raw requests to send for the emulator measurement.
    #[arg(long, default_value_t = 5000)]
    pub requests: usize,
    /// Only cases whose id contains this text.
    #[arg(long)]
    pub filter: Option<String>,
    /// Print the result as JSON.
    #[arg(long)]
    pub json: bool,
    #[arg(long)]
    pub specs: Option<PathBuf>,
    #[arg(long)]
    pub cases: Option<PathBuf>,
}

pub fn run(args: Args) -> Result<ExitCode> {
    let (specs, cases) = load_cases(args.specs, args.cases, 1)?;
    let cases: Vec<_> = cases
        .into_iter()
        .filter(|c| {
            args.filter
                .as_ref()
                .is_none_or(|f| c.id.contains(f.as_str()))
        })
        .collect();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("tokio runtime")?;
    let r = rt
        .block_on(bench::bench(
            Arc::new(specs),
            cases,
            args.workers,
            args.requests,
        ))
        .map_err(|e| anyhow!(e))?;
    if args.json {
        outln!("{}", serde_json::to_string_pretty(&r)?);
    } else {
        outln!(
            "checked cases: {} in {:.2} s = {:.1} cases/s ({} passed, {} workers)",
            r.cases,
            r.case_seconds,
            r.cases_per_second,
            r.passed,
            r.workers
        );
        outln!(
            "raw emulator requests: {} in {:.2} s = {:.1} requests/s",
            r.requests,
            r.raw_seconds,
            r.requests_per_second
        );
        outln!(
            "ratio: {:.3} checked cases per raw request ({:.1} requests' time per case)",
            r.ratio,
            1.0 / r.ratio
        );
    }
    Ok(ExitCode::from(exit::OK))
}
