//! `cloudconform run`: run the conformance cases against the embedded emulator or a URL.
use super::cases_cmd::load_cases;
use super::exit;
use anyhow::{anyhow, bail, Context, Result};
use clap::Args as ClapArgs;
use cloudconform::generate::{self, Case};
use cloudconform::report::{self, Format, RunReport};
use cloudconform::run::exec::Endpoint;
use cloudconform::run::expected::ExpectedFailures;
use cloudconform::run::live::Profile;
use cloudconform::run::{self, local, CaseResult, RunOptions, Runner, Target, TargetKind};
use cloudconform::sign::credentials::{ENV_ACCESS_KEY_ID, ENV_SECRET_ACCESS_KEY};
use cloudconform::sign::Credentials;
use cloudconform::spec::SpecSet;
use indicatif::{ProgressBar, ProgressStyle};
use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

#[derive(ClapArgs)]
pub struct Args {
    /// `emulator` (in-process) or the base URL of an endpoint (`https://cvm.tencentcloudapi.com`).
    #[arg(long, default_value = "emulator")]
    pub target: String,
    /// Only this provider's cases (`tencent`, `alibaba`).
    #[arg(long)]
    pub provider: Option<String>,
    /// Only these cases (repeatable: any of them): an exact id, a glob (`*`, `?`), or text the
    /// id contains.
    #[arg(long)]
    pub filter: Vec<String>,
    /// Leave out these cases (repeatable; same forms as --filter).
    #[arg(long)]
    pub skip: Vec<String>,
    /// Name of the target for expected-failure lists and reports (default: `emulator`, or the
    /// URL's host, without the port when it is a loopback address).
    #[arg(long)]
    pub target_name: Option<String>,
    /// Divergences (departures from expectations the harness inferred) fail the run too.
    #[arg(long)]
    pub strict: bool,
    /// Live targets: run the throttling cases, a burst over the documented rate at the end of
    /// the run (they are inconclusive without it).
    #[arg(long)]
    pub probe_throttling: bool,
    /// Live targets: also trust this PEM certificate (a private CA or a self-signed endpoint).
    #[arg(long)]
    pub ca_cert: Option<PathBuf>,
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

fn select(
    cases: Vec<Case>,
    provider: Option<&str>,
    filters: &[String],
    skips: &[String],
) -> Vec<Case> {
    let ids: std::collections::HashSet<String> = cases.iter().map(|c| c.id.clone()).collect();
    let hit = |pattern: &str, id: &str| {
        if pattern.contains(['*', '?']) {
            glob(pattern.as_bytes(), id.as_bytes())
        } else if ids.contains(pattern) {
            id == pattern
        } else {
            id.contains(pattern)
        }
    };
    cases
        .into_iter()
        .filter(|c| provider.is_none_or(|p| c.action.provider.as_str() == p))
        .filter(|c| filters.is_empty() || filters.iter().any(|f| hit(f, &c.id)))
        .filter(|c| !skips.iter().any(|f| hit(f, &c.id)))
        .collect()
}

/// `*` matches any run of characters, `?` one character; everything else itself.
fn glob(pattern: &[u8], text: &[u8]) -> bool {
    match (pattern.first(), text.first()) {
        (None, None) => true,
        (Some(b'*'), _) => {
            glob(&pattern[1..], text) || (!text.is_empty() && glob(pattern, &text[1..]))
        }
        (Some(b'?'), Some(_)) => glob(&pattern[1..], &text[1..]),
        (Some(p), Some(t)) if p == t => glob(&pattern[1..], &text[1..]),
        _ => false,
    }
}

/// The default target name: the host, without the port when it is a loopback address (ports
/// change from run to run; expected-failure lists should not).
fn default_target_name(host: &str) -> String {
    let (name, port) = match host.rsplit_once(':') {
        Some((h, p)) if p.chars().all(|c| c.is_ascii_digit()) && !h.ends_with(':') => (h, true),
        _ => (host, false),
    };
    let loopback = name.starts_with("127.") || name == "localhost" || name == "[::1]";
    if port && loopback {
        name.to_string()
    } else {
        host.to_string()
    }
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
    let cases = select(cases, args.provider.as_deref(), &args.filter, &args.skip);
    if cases.is_empty() {
        bail!("no case matches the filters");
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("tokio runtime")?;
    let opts = RunOptions {
        concurrency: args.workers.max(1),
        timeout: Duration::from_secs(args.timeout),
        allow_destructive: args.allow_destructive,
        ca_cert: args.ca_cert.clone(),
        denied_credentials: denied_credentials(),
        probe_throttling: args.probe_throttling,
        ..RunOptions::default()
    };
    let (results, target_name) = rt.block_on(async {
        let (handles, target) = if args.target == "emulator" {
            let (h, t) = local::start_emulators(specs.clone(), args.workers)
                .await
                .map_err(|e| anyhow!(e))?;
            (h, t)
        } else {
            (Vec::new(), live_target(&args)?)
        };
        let runner = Arc::new(Runner::new(specs.clone(), target.clone(), opts)?);
        let pb = progress(cases.len());
        let pb2 = pb.clone();
        let on_done: Arc<dyn Fn(&CaseResult) + Send + Sync> = Arc::new(move |r: &CaseResult| {
            pb2.set_message(r.id.clone());
            pb2.inc(1);
        });
        let mut results = runner.run_all(cases.clone(), on_done).await;
        pb.finish_and_clear();
        if args.explore.is_some() {
            results =
                cloudconform::run::shrink_failures(&runner, &cases, results, &cases_dir).await;
        }
        drop(handles);
        let name = args.target_name.clone().unwrap_or(target.name);
        Ok::<_, anyhow::Error>((results, name))
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
    Ok(ExitCode::from(report.summary.exit_code_with(args.strict)))
}

fn live_target(args: &Args) -> Result<Target> {
    let endpoint = Endpoint::parse(&args.target)
        .ok_or_else(|| anyhow!("--target must be `emulator` or an http(s) URL"))?;
    let id = std::env::var(ENV_ACCESS_KEY_ID)
        .map_err(|_| anyhow!("{ENV_ACCESS_KEY_ID} is not set (live targets need credentials)"))?;
    let secret = std::env::var(ENV_SECRET_ACCESS_KEY).map_err(|_| {
        anyhow!("{ENV_SECRET_ACCESS_KEY} is not set (live targets need credentials)")
    })?;
    let profile = match &args.profile {
        Some(p) => Profile::load(p).map_err(|e| anyhow!(e))?,
        None => Profile {
            region: args
                .region
                .clone()
                .ok_or_else(|| anyhow!("live targets need --profile FILE or --region"))?,
            ..Profile::default()
        },
    };
    Ok(Target {
        name: default_target_name(&endpoint.host),
        kind: TargetKind::Live {
            endpoint,
            credentials: Credentials::new(id, secret),
            profile,
        },
    })
}

/// Sub-user credentials for denied-caller cases, from the environment (never printed).
fn denied_credentials() -> Option<Credentials> {
    let id = std::env::var("CLOUDCONFORM_DENIED_ACCESS_KEY_ID").ok()?;
    let secret = std::env::var("CLOUDCONFORM_DENIED_SECRET_ACCESS_KEY").ok()?;
    Some(Credentials::new(id, secret))
}

fn print_summary(report: &RunReport) {
    println!(
        "{:<56} {:>6} {:>6} {:>6} {:>6} {:>6} {:>6} {:>6}",
        "action", "cases", "pass", "fail", "diverg", "incon", "xfail", "stale"
    );
    for (action, r) in report.per_action() {
        println!(
            "{:<56} {:>6} {:>6} {:>6} {:>6} {:>6} {:>6} {:>6}",
            action,
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
    println!(
        "{:<56} {:>6} {:>6} {:>6} {:>6} {:>6} {:>6} {:>6}",
        "total",
        t.total,
        t.passed,
        t.failed,
        t.divergences,
        t.inconclusive,
        t.expected_failures,
        t.stale
    );
    for r in &report.results {
        let show = match (&r.verdict, &r.expected_failure) {
            (cloudconform::check::Verdict::Fail { .. }, None) => "FAIL",
            (cloudconform::check::Verdict::Pass, Some(_)) => "STALE",
            (cloudconform::check::Verdict::Inconclusive { .. }, _) => "INCONCLUSIVE",
            (cloudconform::check::Verdict::Divergence { .. }, _) => "DIVERGENCE",
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

#[cfg(test)]
mod tests {
    use super::{default_target_name, glob};

    #[test]
    fn globs_match_whole_ids() {
        let m = |p: &str, t: &str| glob(p.as_bytes(), t.as_bytes());
        assert!(m(
            "tencent/cvm/*/boundary/*",
            "tencent/cvm/DeleteKeyPairs/boundary/KeyIds-101"
        ));
        assert!(m("*KeyIds-10?", "x/KeyIds-101"));
        assert!(!m("*KeyIds-10?", "x/KeyIds-1000"));
        assert!(!m("tencent/*", "alibaba/ecs/DetachKeyPair/valid/minimal"));
    }

    #[test]
    fn loopback_ports_leave_the_target_name() {
        assert_eq!(default_target_name("127.0.0.1:18765"), "127.0.0.1");
        assert_eq!(default_target_name("localhost:8080"), "localhost");
        assert_eq!(
            default_target_name("cvm.tencentcloudapi.com"),
            "cvm.tencentcloudapi.com"
        );
        assert_eq!(default_target_name("example.com:8443"), "example.com:8443");
    }
}
