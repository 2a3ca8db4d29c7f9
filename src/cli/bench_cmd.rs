//! `cloudconform bench`: checked cases per second against the embedded emulator and the
//! emulator's raw requests per second, measured in one run, with their ratio; with `--explore N`,
//! N exploration cases generated and checked per second too; with `--growth`, exploration at
//! 1k, 10k and 100k cases (or the counts given), each against the first; with `--fuzz N`,
//! N abusive requests against one emulator served on loopback, with this process's RSS before,
//! after and after an idle pause (the memory bound of docs/emulator.md).
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
    #[arg(long, default_value_t = 10000)]
    pub requests: usize,
    /// Times the case set is checked (a steadier timing than a single pass over the case set).
    #[arg(long, default_value_t = 10)]
    pub rounds: usize,
    /// Only cases whose id contains this text.
    #[arg(long)]
    pub filter: Option<String>,
    /// Print the result as JSON.
    #[arg(long)]
    pub json: bool,
    /// Also generate and check N exploration cases (`--seed`), timed apart.
    #[arg(long, value_name = "N")]
    pub explore: Option<usize>,
    /// Also check exploration cases at each of these counts, to show how the cost grows.
    #[arg(long, value_name = "COUNTS", num_args = 0..=1, value_delimiter = ',',
          default_missing_value = "1000,10000,100000")]
    pub growth: Option<Vec<usize>>,
    /// Instead: send this many fuzzed requests to one emulator and print RSS before/after.
    #[arg(long, value_name = "N")]
    pub fuzz: Option<usize>,
    /// Seed of the exploration cases (`--explore`, `--growth`) or fuzzed requests (`--fuzz`).
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Concurrent client connections (`--fuzz`).
    #[arg(long, default_value_t = 16)]
    pub connections: usize,
    /// Seconds to stay idle before the last RSS reading (`--fuzz`).
    #[arg(long, default_value_t = 5)]
    pub idle: u64,
    /// Observe declared effects through their describe calls over HTTP (as on a URL target)
    /// instead of reading the emulators' state in process.
    #[arg(long)]
    pub observe_through_api: bool,
    #[arg(long)]
    pub specs: Option<PathBuf>,
    #[arg(long)]
    pub cases: Option<PathBuf>,
}

pub fn run(args: Args) -> Result<ExitCode> {
    if let Some(n) = args.fuzz {
        return fuzz(&args, n);
    }
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
    let specs = Arc::new(specs);
    let opts = cloudconform::run::RunOptions {
        observe_through_api: args.observe_through_api,
        ..Default::default()
    };
    let r = rt
        .block_on(bench::bench(
            specs.clone(),
            cases,
            args.rounds,
            args.workers,
            args.requests,
            opts.clone(),
        ))
        .map_err(|e| anyhow!(e))?;
    let mut counts: Vec<usize> = args.explore.into_iter().collect();
    counts.extend(args.growth.iter().flatten().copied());
    let mut explored = Vec::new();
    for n in counts {
        let e = rt
            .block_on(bench::explore(
                specs.clone(),
                n,
                args.seed,
                args.workers,
                opts.clone(),
            ))
            .map_err(|e| anyhow!(e))?;
        explored.push(e);
    }
    let (explore, growth) = match args.explore {
        Some(_) => (
            explored.first().cloned(),
            explored.get(1..).unwrap_or_default(),
        ),
        None => (None, &explored[..]),
    };
    if args.json {
        outln!(
            "{}",
            serde_json::to_string_pretty(&serde_json::json!({
                "bench": r,
                "explore": explore,
                "growth": growth,
            }))?
        );
    } else {
        outln!(
            "checked cases: {} ({} rounds) in {:.2} s = {:.1} cases/s ({} passed, {} workers)",
            r.cases,
            r.rounds,
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
        if let Some(e) = &explore {
            outln!(
                "exploration: {} cases (seed {}) generated in {:.2} s = {:.1} cases/s; \
                 checked in {:.2} s = {:.1} cases/s ({} passed); RSS {}, peak {}",
                e.cases,
                e.seed,
                e.generate_seconds,
                e.generated_per_second,
                e.run_seconds,
                e.cases_per_second,
                e.passed,
                mb(e.rss_bytes),
                mb(e.peak_rss_bytes)
            );
        }
        if let Some(first) = growth.first() {
            for g in growth {
                outln!(
                    "growth: {:>7} exploration cases checked in {:.2} s = {:.1} cases/s \
                     ({:.2}× the {}-case rate; generated at {:.1} cases/s, {:.2}×; RSS {}, \
                     peak {})",
                    g.cases,
                    g.run_seconds,
                    g.cases_per_second,
                    g.cases_per_second / first.cases_per_second,
                    first.cases,
                    g.generated_per_second,
                    g.generated_per_second / first.generated_per_second,
                    mb(g.rss_bytes),
                    mb(g.peak_rss_bytes)
                );
            }
        }
    }
    Ok(ExitCode::from(exit::OK))
}

fn mb(bytes: Option<u64>) -> String {
    bytes
        .map(|b| format!("{:.1} MB", b as f64 / 1e6))
        .unwrap_or_else(|| "unknown".into())
}

/// `bench --fuzz N`: the emulator's memory and answers under N abusive requests.
fn fuzz(args: &Args, n: usize) -> Result<ExitCode> {
    use cloudconform::emulator::{fuzz, Emulator, EmulatorConfig};
    use cloudconform::sign::Credentials;
    let specs = match &args.specs {
        Some(dir) => cloudconform::spec::SpecSet::load(dir)
            .with_context(|| format!("loading specs from {}", dir.display()))?,
        None => cloudconform::spec::SpecSet::load_default().context("loading the specs")?,
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("tokio runtime")?;
    let report = rt.block_on(async {
        let config = EmulatorConfig {
            specs: Some(Arc::new(specs)),
            rate_limits: false,
            ..EmulatorConfig::default()
        };
        let handle = Emulator::start(config).await.map_err(|e| anyhow!(e))?;
        let world = handle.world();
        let root = |p: cloudconform::spec::Provider| {
            world
                .accounts
                .iter()
                .find(|a| a.provider == p && a.role == cloudconform::emulator::AccountRole::Root)
                .map(|a| Credentials::new(&a.access_key_id, &a.secret))
                .ok_or_else(|| anyhow!("the default world has no {p} root account"))
        };
        let inputs = fuzz::Inputs::new(
            args.seed,
            &handle.host(),
            root(cloudconform::spec::Provider::Tencent)?,
            root(cloudconform::spec::Provider::Alibaba)?,
        );
        let before = fuzz::rss_bytes();
        let report = fuzz::drive(handle.addr, inputs, n, args.connections).await;
        let after = fuzz::rss_bytes();
        tokio::time::sleep(std::time::Duration::from_secs(args.idle)).await;
        let idle = fuzz::rss_bytes();
        Ok::<_, anyhow::Error>((report, before, after, idle))
    })?;
    let (report, before, after, idle) = report;
    outln!(
        "fuzzed requests: {} over {} connections in {:.1} s = {:.0} requests/s (seed {})",
        report.requests,
        report.connections,
        report.seconds,
        report.requests as f64 / report.seconds.max(1e-9),
        args.seed
    );
    outln!(
        "RSS before: {}, after: {}, after {} s idle: {}",
        mb(before),
        mb(after),
        args.idle,
        mb(idle)
    );
    let failed = report.failures.len() + report.more_failures;
    outln!("answers that were not a provider envelope, a 5xx or missing: {failed}");
    for f in &report.failures {
        outln!("  [{}] {}: {}", f.mutation, f.problem, f.input);
    }
    Ok(ExitCode::from(if failed == 0 {
        exit::OK
    } else {
        exit::NONCONFORMANCE
    }))
}
