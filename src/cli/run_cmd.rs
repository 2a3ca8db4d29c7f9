//! `cloudconform run`: run the conformance cases against the embedded emulator or a URL.
use super::cases_cmd::load_cases;
use super::exit;
use super::live_run;
use anyhow::{anyhow, bail, Context, Result};
use clap::Args as ClapArgs;
use cloudconform::generate::{self, Case};
use cloudconform::report::{self, Format, RunReport};
use cloudconform::run::expected::ExpectedFailures;
use cloudconform::run::{self, local, CaseResult, RunOptions, Runner};
use cloudconform::spec::{Provider, SpecSet};
use indicatif::{ProgressBar, ProgressStyle};
use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

#[derive(ClapArgs)]
pub struct Args {
    /// `emulator` (in-process), `live` (each action's endpoint from its spec, for the profile's
    /// region), or one base URL every service is sent to (`http://127.0.0.1:8080`).
    #[arg(long, default_value = "emulator")]
    pub target: String,
    /// Live targets: send SERVICE's actions to URL instead (`cvm=https://127.0.0.1:8443`;
    /// repeatable).
    #[arg(long = "endpoint", value_name = "SERVICE=URL")]
    pub endpoints: Vec<String>,
    /// Live targets: also trust the CA certificate(s) in this PEM file.
    #[arg(long, value_name = "FILE")]
    pub ca_cert: Option<PathBuf>,
    /// Run only shard K of N (`2/4`): every case whose position in id order is K-1 modulo N,
    /// so N CI jobs together run each case exactly once.
    #[arg(long, value_name = "K/N")]
    pub shard: Option<String>,
    /// Live targets: store each case's exchanges, redacted, with provenance, under
    /// DIR/<provider>/<region>/ (default snapshots/live), for `cloudconform parity`.
    #[arg(long, value_name = "DIR", num_args = 0..=1, default_missing_value = "snapshots/live")]
    pub record: Option<PathBuf>,
    /// Print the cases, requests per action and the expected duration at the documented
    /// rates, and send nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Live targets: the tccli / aliyun CLI profile to read credentials from.
    #[arg(long, value_name = "NAME")]
    pub cli_profile: Option<String>,
    /// Only this provider's cases (`tencent`, `alibaba`).
    #[arg(long)]
    pub provider: Option<String>,
    /// Only cases whose id contains this text (repeatable: any of them).
    #[arg(long)]
    pub filter: Vec<String>,
    /// Generation seed.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Report format: json, junit or markdown (written to --out, else stdout).
    #[arg(long)]
    pub report: Option<String>,
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Workers (emulator: one emulator each).
    #[arg(long, default_value_t = 4)]
    pub workers: usize,
    /// Live targets: the profile listing the region and the instances the run may use.
    #[arg(long)]
    pub profile: Option<PathBuf>,
    /// Live targets: the region when no profile is given.
    #[arg(long)]
    pub region: Option<String>,
    /// Live targets: also run cases that change or remove resources (only ever ones the run
    /// created or the profile lists).
    #[arg(long)]
    pub allow_destructive: bool,
    /// Directory of expected-failure lists (default: <cases>/expected-failures).
    #[arg(long)]
    pub expected_failures: Option<PathBuf>,
    /// Exploration: this many random requests from the spec constraints instead of the cases.
    #[arg(long)]
    pub explore: Option<usize>,
    /// Per-request timeout in seconds.
    #[arg(long, default_value_t = 15)]
    pub timeout: u64,
    #[arg(long)]
    pub specs: Option<PathBuf>,
    #[arg(long)]
    pub cases: Option<PathBuf>,
}

fn select(cases: Vec<Case>, provider: Option<&str>, filters: &[String]) -> Vec<Case> {
    cases
        .into_iter()
        .filter(|c| provider.is_none_or(|p| c.action.provider.as_str() == p))
        .filter(|c| filters.is_empty() || filters.iter().any(|f| c.id.contains(f.as_str())))
        .collect()
}

/// `K/N`: the K-th of N disjoint slices (1-based), by position in id order.
fn shard(mut cases: Vec<Case>, spec: &str) -> Result<Vec<Case>> {
    let parsed = spec.split_once('/').and_then(|(k, n)| {
        Some((
            k.trim().parse::<usize>().ok()?,
            n.trim().parse::<usize>().ok()?,
        ))
    });
    let Some((k, n)) = parsed.filter(|(k, n)| *n > 0 && (1..=*n).contains(k)) else {
        bail!("--shard `{spec}`: expected K/N with 1 <= K <= N, e.g. 2/4");
    };
    cases.sort_by(|a, b| a.id.cmp(&b.id));
    Ok(cases
        .into_iter()
        .enumerate()
        .filter(|(i, _)| i % n == k - 1)
        .map(|(_, c)| c)
        .collect())
}

fn progress(n: usize) -> ProgressBar {
    if !std::io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let pb = ProgressBar::new(n as u64);
    pb.set_style(
        ProgressStyle::with_template("{bar:40} {pos}/{len} {elapsed} {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    pb
}

pub fn run(args: Args) -> Result<ExitCode> {
    if let Some(p) = &args.provider {
        if cloudconform::spec::Provider::parse(p).is_none() {
            bail!("unknown provider `{p}` (tencent, alibaba)");
        }
    }
    let format: Option<Format> = match &args.report {
        Some(f) => Some(f.parse().map_err(|e: String| anyhow!(e))?),
        None => None,
    };
    let cases_dir = args
        .cases
        .clone()
        .unwrap_or_else(generate::default_cases_dir);
    let (specs, cases) = load_cases(args.specs.clone(), Some(cases_dir.clone()), args.seed)?;
    let specs = Arc::new(specs);
    let cases = match args.explore {
        Some(n) => generate::explore::random_cases(&specs, n, args.seed)?,
        None => cases,
    };
    let cases = select(cases, args.provider.as_deref(), &args.filter);
    let cases = match &args.shard {
        Some(s) => shard(cases, s)?,
        None => cases,
    };
    if cases.is_empty() {
        bail!("no case matches the filters");
    }
    if args.record.is_some() && args.target == "emulator" {
        bail!("--record needs a live target (--target live or a URL): the emulator's answers are not a recording");
    }
    if args.dry_run {
        live_run::print_plan(&specs, &cases, args.target != "emulator");
        return Ok(ExitCode::from(exit::OK));
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("tokio runtime")?;
    let ca_cert_pem = match &args.ca_cert {
        Some(path) => Some(
            std::fs::read(path)
                .with_context(|| format!("--ca-cert: cannot read {}", path.display()))?,
        ),
        None => None,
    };
    let opts = RunOptions {
        concurrency: args.workers.max(1),
        timeout: Duration::from_secs(args.timeout),
        allow_destructive: args.allow_destructive,
        ca_cert_pem,
        ..RunOptions::default()
    };
    let live = if args.target == "emulator" {
        None
    } else {
        let providers: Vec<Provider> = Provider::ALL
            .into_iter()
            .filter(|p| cases.iter().any(|c| c.action.provider == *p))
            .collect();
        Some(live_run::target(
            &live_run::LiveArgs {
                target: &args.target,
                endpoints: &args.endpoints,
                cli_profile: args.cli_profile.as_deref(),
                profile: args.profile.as_deref(),
                region: args.region.as_deref(),
            },
            &specs,
            &providers,
        )?)
    };
    let (results, target_name, interrupted, leaked) = rt.block_on(async {
        let (handles, target) = match live {
            None => local::start_emulators(specs.clone(), args.workers)
                .await
                .map_err(|e| anyhow!(e))?,
            Some(target) => (Vec::new(), target),
        };
        let runner = Arc::new(Runner::new(specs.clone(), target.clone(), opts)?);
        let interrupt = live_run::watch(runner.clone());
        let pb = progress(cases.len());
        let pb2 = pb.clone();
        let on_done: Arc<dyn Fn(&CaseResult) + Send + Sync> = Arc::new(move |r: &CaseResult| {
            pb2.set_message(r.id.clone());
            pb2.inc(1);
        });
        let started = std::time::Instant::now();
        let mut results = runner.run_all(cases.clone(), on_done).await;
        pb.finish_and_clear();
        if !target.is_emulator() {
            live_run::print_pacing(&runner, &specs, started.elapsed());
        }
        if args.explore.is_some() {
            results =
                generate::explore::shrink_failures(&runner, &cases, results, &cases_dir).await;
        }
        drop(handles);
        let leaked = !target.is_emulator() && live_run::leak_check(&runner);
        if let Some(dir) = &args.record {
            live_run::record(dir, &target, &results)?;
        }
        Ok::<_, anyhow::Error>((results, target.name, interrupt.happened(), leaked))
    })?;
    let mut results = results;
    let ef_dir = args
        .expected_failures
        .clone()
        .unwrap_or_else(|| cases_dir.join("expected-failures"));
    let expected = ExpectedFailures::load(&ef_dir, &target_name).map_err(|e| anyhow!(e))?;
    run::apply_expected(&mut results, &expected);
    let report = RunReport::new(&target_name, args.seed, results);
    print_summary(&report);
    if let Some(f) = format {
        let text = report::render(&report, f).map_err(|e| anyhow!(e))?;
        match &args.out {
            Some(path) => {
                std::fs::write(path, text).with_context(|| format!("writing {}", path.display()))?
            }
            None => println!("{text}"),
        }
    }
    let _ = SpecSet::default_dir;
    Ok(ExitCode::from(live_run::exit_code(
        interrupted,
        leaked,
        report.summary.exit_code(),
    )))
}

fn print_summary(report: &RunReport) {
    println!(
        "{:<56} {:>6} {:>6} {:>6} {:>6} {:>6} {:>6}",
        "action", "cases", "pass", "fail", "incon", "xfail", "stale"
    );
    for (action, r) in report.per_action() {
        println!(
            "{:<56} {:>6} {:>6} {:>6} {:>6} {:>6} {:>6}",
            action, r.total, r.passed, r.failed, r.inconclusive, r.expected_failures, r.stale
        );
    }
    let t = &report.summary;
    println!(
        "{:<56} {:>6} {:>6} {:>6} {:>6} {:>6} {:>6}",
        "total", t.total, t.passed, t.failed, t.inconclusive, t.expected_failures, t.stale
    );
    for r in &report.results {
        let show = match (&r.verdict, &r.expected_failure) {
            (cloudconform::check::Verdict::Fail { .. }, None) => "FAIL",
            (cloudconform::check::Verdict::Pass, Some(_)) => "STALE",
            (cloudconform::check::Verdict::Inconclusive { .. }, _) => "INCONCLUSIVE",
            _ => continue,
        };
        eprintln!(
            "{show} {}: {}",
            r.id,
            report::failure_text(r).replace('\n', "\n    ")
        );
    }
    let _ = exit::OK;
}
