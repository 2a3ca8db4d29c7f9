//! `cloudconform run`: run the conformance cases against the embedded emulator or a URL.
//!
//! Everything a user can get wrong is checked before the first case runs (values, option
//! combinations, the profile, the output file). Streams: a report goes where `--out` says
//! (stdout when `-` or absent); the human summary (table and verdict line) goes to stdout only
//! when no report does, else to stderr; progress, findings and reproductions always go to
//! stderr.
use super::cases_cmd::load_cases;
use super::exit;
use super::live_run;
use anyhow::{anyhow, bail, Context, Result};
use clap::{Args as ClapArgs, ValueEnum};
use cloudconform::check::Verdict;
use cloudconform::generate::{self, Case};
use cloudconform::report::{self, Format, RunReport};
use cloudconform::run::exec::Endpoint;
use cloudconform::run::expected::ExpectedFailures;
use cloudconform::run::{self, local, CaseResult, RunOptions, Runner};
use cloudconform::run::{Target, TargetKind};
use cloudconform::sign::Credentials;
use cloudconform::spec::Provider;
use indicatif::{ProgressBar, ProgressStyle};
use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Where `cloudconform emulate` listens by default: the base of reproduction curl lines for
/// cases run against the embedded emulator.
const EMULATE_DEFAULT_URL: &str = "http://127.0.0.1:18765";

#[derive(Clone, Copy, ValueEnum)]
pub enum ReportFormat {
    Json,
    Junit,
    #[value(alias = "md")]
    Markdown,
}

impl From<ReportFormat> for Format {
    fn from(f: ReportFormat) -> Format {
        match f {
            ReportFormat::Json => Format::Json,
            ReportFormat::Junit => Format::Junit,
            ReportFormat::Markdown => Format::Markdown,
        }
    }
}

#[derive(Clone, Copy, ValueEnum)]
pub enum ProviderArg {
    Tencent,
    Alibaba,
}

impl ProviderArg {
    fn as_str(self) -> &'static str {
        match self {
            ProviderArg::Tencent => "tencent",
            ProviderArg::Alibaba => "alibaba",
        }
    }
}

#[derive(ClapArgs)]
pub struct Args {
    /// `emulator` (in-process), `live` (each action's endpoint from its spec, for the profile's
    /// region), or one base URL every service is sent to (`http://127.0.0.1:8080`).
    #[arg(long, env = "CLOUDCONFORM_TARGET", default_value = "emulator", value_parser = parse_target)]
    pub target: String,
    /// Live targets: send SERVICE's actions to URL instead (`cvm=https://127.0.0.1:8443`;
    /// repeatable).
    #[arg(long = "endpoint", value_name = "SERVICE=URL")]
    pub endpoints: Vec<String>,
    /// Live targets: also trust the CA certificate(s) in this PEM file (a private CA or a
    /// self-signed endpoint).
    #[arg(long, value_name = "FILE")]
    pub ca_cert: Option<PathBuf>,
    /// Live targets: the tccli / aliyun CLI profile to read credentials from.
    #[arg(long, value_name = "NAME")]
    pub cli_profile: Option<String>,
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
    /// Only this provider's cases.
    #[arg(long, env = "CLOUDCONFORM_PROVIDER")]
    pub provider: Option<ProviderArg>,
    /// Only these cases (repeatable: any of them): an exact id, a glob (`*`, `?`), or text the
    /// id contains.
    #[arg(long)]
    pub filter: Vec<String>,
    /// Only the case with exactly this id (repeatable). Failures print it in their `rerun:` line.
    #[arg(long = "case", value_name = "ID")]
    pub case_ids: Vec<String>,
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
    /// The embedded emulator: observe declared effects through their documented describe calls
    /// over HTTP, as on a URL or live target (where it is always done), instead of reading the
    /// emulator's state in process.
    #[arg(long)]
    pub observe_through_api: bool,
    /// Generation seed.
    #[arg(long, env = "CLOUDCONFORM_SEED", default_value_t = 1)]
    pub seed: u64,
    /// Write a report in this format to --out (stdout when --out is absent or `-`; the summary
    /// table then goes to stderr so stdout holds the report alone).
    #[arg(long, env = "CLOUDCONFORM_REPORT")]
    pub report: Option<ReportFormat>,
    /// The report file (`-`: stdout). Checked writable before any case runs.
    #[arg(long, env = "CLOUDCONFORM_OUT", requires = "report")]
    pub out: Option<PathBuf>,
    /// Workers (emulator: one emulator each).
    #[arg(long, env = "CLOUDCONFORM_WORKERS", default_value_t = 4,
          value_parser = clap::value_parser!(u16).range(1..=256))]
    pub workers: u16,
    /// Live targets: the profile listing the region and the instances the run may use
    /// (format: docs/profile.schema.json).
    #[arg(long, env = "CLOUDCONFORM_PROFILE")]
    pub profile: Option<PathBuf>,
    /// Live targets: the region when no profile is given.
    #[arg(long, env = "CLOUDCONFORM_REGION")]
    pub region: Option<String>,
    /// Live targets: also run cases that change or remove resources (only ever ones the run
    /// created or the profile lists).
    #[arg(long)]
    pub allow_destructive: bool,
    /// Directory of expected-failure lists (default: <cases>/expected-failures).
    #[arg(long)]
    pub expected_failures: Option<PathBuf>,
    /// Exploration: this many random requests from the spec constraints instead of the cases.
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..))]
    pub explore: Option<u32>,
    /// Per-request timeout in seconds.
    #[arg(long, env = "CLOUDCONFORM_TIMEOUT", default_value_t = 15,
          value_parser = clap::value_parser!(u64).range(1..=3600))]
    pub timeout: u64,
    /// Spec directory (default: $CLOUDCONFORM_SPECS, ./specs, or the crate's specs/).
    #[arg(long)]
    pub specs: Option<PathBuf>,
    /// Case directory with scenarios/, regressions/ and expected-failures/ (default: ./cases or
    /// the crate's).
    #[arg(long)]
    pub cases: Option<PathBuf>,
    /// With each failure, also print its request as a curl command (credentials as
    /// environment variable references).
    #[arg(long, short)]
    pub verbose: bool,
}

fn parse_target(value: &str) -> Result<String, String> {
    if value == "emulator" || value == "live" || Endpoint::parse(value).is_some() {
        Ok(value.to_string())
    } else {
        Err(format!(
            "`{value}` is neither `emulator`, `live` nor an http(s) URL \
             (e.g. http://127.0.0.1:18765)"
        ))
    }
}

fn select(cases: Vec<Case>, args: &Args) -> Vec<Case> {
    let provider = args.provider.map(ProviderArg::as_str);
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
        .filter(|c| args.filter.is_empty() || args.filter.iter().any(|f| hit(f, &c.id)))
        .filter(|c| args.case_ids.is_empty() || args.case_ids.contains(&c.id))
        .filter(|c| !args.skip.iter().any(|f| hit(f, &c.id)))
        .collect()
}

/// `*` matches any run of characters, `?` one character; everything else itself. Iterative,
/// backtracking only to the last `*`, so no pattern can make it take more than
/// pattern × text steps.
fn glob(pattern: &[u8], text: &[u8]) -> bool {
    let (mut p, mut t) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while t < text.len() {
        match pattern.get(p) {
            Some(b'*') => {
                star = Some((p, t));
                p += 1;
            }
            Some(&c) if c == b'?' || c == text[t] => {
                p += 1;
                t += 1;
            }
            _ => match star {
                Some((sp, st)) => {
                    p = sp + 1;
                    t = st + 1;
                    star = Some((sp, st + 1));
                }
                None => return false,
            },
        }
    }
    pattern[p..].iter().all(|&c| c == b'*')
}

/// What to say when the selection is empty: the options as given, and how to list the ids.
fn nothing_selected(args: &Args) -> String {
    let mut given = Vec::new();
    for f in &args.filter {
        given.push(format!("--filter {f}"));
    }
    for c in &args.case_ids {
        given.push(format!("--case {c}"));
    }
    for k in &args.skip {
        given.push(format!("--skip {k}"));
    }
    if let Some(p) = args.provider {
        given.push(format!("--provider {}", p.as_str()));
    }
    let hint = args
        .filter
        .first()
        .or(args.case_ids.first())
        .map(|f| format!(" --filter {}", shell_quote(f)))
        .unwrap_or_default();
    format!(
        "no case matches {}; list the case ids with `cloudconform cases list{hint}`",
        given.join(" ")
    )
}

/// The report's destination, opened before any case runs so a bad path fails early.
enum Sink {
    Stdout,
    File(PathBuf, std::fs::File),
}

fn open_sink(out: Option<&Path>) -> Result<Sink> {
    let Some(path) = out.filter(|p| p.as_os_str() != "-") else {
        return Ok(Sink::Stdout);
    };
    let parent = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    if !parent.is_dir() {
        bail!(
            "--out {}: the directory {} does not exist; create it or choose another path",
            path.display(),
            parent.display()
        );
    }
    let file = std::fs::File::create(path).with_context(|| {
        format!(
            "--out {}: cannot write the report there; choose a writable path or `-` for stdout",
            path.display()
        )
    })?;
    Ok(Sink::File(path.to_path_buf(), file))
}

/// Pass/fail/divergence/inconclusive counts as cases finish, for the progress bar.
#[derive(Default)]
struct Tally([AtomicUsize; 4]);

impl Tally {
    fn add(&self, r: &CaseResult) -> String {
        let i = match r.verdict {
            Verdict::Pass => 0,
            Verdict::Fail { .. } => 1,
            Verdict::Inconclusive { .. } => 2,
            Verdict::Divergence { .. } => 3,
        };
        self.0[i].fetch_add(1, Ordering::Relaxed);
        let n = |i: usize| self.0[i].load(Ordering::Relaxed);
        format!(
            "pass {} fail {} diverg {} incon {}  {}",
            n(0),
            n(1),
            n(3),
            n(2),
            r.id
        )
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
        ProgressStyle::with_template("{bar:30} {pos}/{len} {elapsed} (eta {eta}) {wide_msg}")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    pb
}

/// Checks that need no case: option combinations the parser cannot express.
fn check_combinations(args: &Args) -> Result<()> {
    if args.target == "emulator" {
        let live_only: Vec<&str> = [
            (args.profile.is_some(), "--profile"),
            (args.region.is_some(), "--region"),
            (args.allow_destructive, "--allow-destructive"),
            (!args.endpoints.is_empty(), "--endpoint"),
            (args.ca_cert.is_some(), "--ca-cert"),
            (args.cli_profile.is_some(), "--cli-profile"),
            (args.record.is_some(), "--record"),
            (args.probe_throttling, "--probe-throttling"),
        ]
        .into_iter()
        .filter_map(|(given, name)| given.then_some(name))
        .collect();
        if !live_only.is_empty() {
            let verb = if live_only.len() == 1 {
                "applies"
            } else {
                "apply"
            };
            bail!(
                "{} {verb} only to a live target, and the target is the embedded emulator; \
                 give --target live or a URL, or drop {}",
                live_only.join(", "),
                live_only.join(" and ")
            );
        }
    }
    Ok(())
}

pub fn run(args: Args) -> Result<ExitCode> {
    let started = Instant::now();
    check_combinations(&args)?;
    let mut sink = match args.report {
        Some(_) => Some(open_sink(args.out.as_deref())?),
        None => None,
    };
    let cases_dir = args
        .cases
        .clone()
        .unwrap_or_else(generate::default_cases_dir);
    let (specs, cases) = load_cases(args.specs.clone(), Some(cases_dir.clone()), args.seed)?;
    let specs = Arc::new(specs);
    let cases = match args.explore {
        Some(n) => generate::explore::random_cases(&specs, n as usize, args.seed)?,
        None => cases,
    };
    let cases = select(cases, &args);
    let cases = match &args.shard {
        Some(s) => shard(cases, s)?,
        None => cases,
    };
    if cases.is_empty() {
        bail!(nothing_selected(&args));
    }
    if args.dry_run {
        live_run::print_plan(&specs, &cases, args.target != "emulator");
        return Ok(ExitCode::from(exit::OK));
    }
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
    let target_name = args.target_name.clone().unwrap_or_else(|| {
        live.as_ref()
            .map_or("emulator".to_string(), |t| default_target_name(&t.name))
    });
    let ef_dir = args
        .expected_failures
        .clone()
        .unwrap_or_else(|| cases_dir.join("expected-failures"));
    let expected = ExpectedFailures::load(&ef_dir, &target_name).map_err(|e| anyhow!(e))?;
    let ca_cert_pem = match &args.ca_cert {
        Some(path) => Some(
            std::fs::read(path)
                .with_context(|| format!("--ca-cert: cannot read {}", path.display()))?,
        ),
        None => None,
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    let opts = RunOptions {
        concurrency: usize::from(args.workers),
        timeout: Duration::from_secs(args.timeout),
        allow_destructive: args.allow_destructive,
        ca_cert_pem,
        denied_credentials: denied_credentials(),
        temporary_credentials: temporary_credentials(),
        probe_throttling: args.probe_throttling,
        observe_through_api: args.observe_through_api,
        // Exploration: passing cases keep their verdict only (memory flat in N); `--record`
        // stores every exchange, so it keeps them.
        slim_passing: args.explore.is_some() && args.record.is_none(),
        ..RunOptions::default()
    };
    let total = cases.len();
    let (mut results, target, unreachable, interrupted, leaked) = rt.block_on(async {
        let (handles, target) = match live {
            None => local::start_emulators(specs.clone(), usize::from(args.workers))
                .await
                .map_err(|e| anyhow!(e))
                .context("starting the embedded emulators")?,
            Some(t) => (Vec::new(), t),
        };
        let runner = Arc::new(Runner::new(specs.clone(), target.clone(), opts)?);
        let interrupt = live_run::watch(runner.clone());
        let pb = progress(total);
        let pb2 = pb.clone();
        let tally = Arc::new(Tally::default());
        let on_done: Arc<dyn Fn(&CaseResult) + Send + Sync> = Arc::new(move |r: &CaseResult| {
            pb2.set_message(tally.add(r));
            pb2.inc(1);
        });
        let run_started = Instant::now();
        let mut results = runner.run_all(cases.clone(), on_done).await;
        pb.finish_and_clear();
        if !target.is_emulator() {
            live_run::print_pacing(&runner, &specs, run_started.elapsed());
        }
        if args.explore.is_some() {
            results =
                cloudconform::run::shrink_failures(&runner, &cases, results, &cases_dir).await;
        }
        drop(handles);
        let leaked = !target.is_emulator() && live_run::leak_check(&runner);
        if let Some(dir) = &args.record {
            live_run::record(dir, &target, &results)?;
        }
        Ok::<_, anyhow::Error>((
            results,
            target,
            runner.unreachable(),
            interrupt.happened(),
            leaked,
        ))
    })?;
    run::apply_expected(&mut results, &expected);
    let report = RunReport::new(&target_name, args.seed, results);
    print_findings(&report, &args, &target);
    let human_on_stdout = !matches!(sink, Some(Sink::Stdout));
    let mut summary = summary_table(&report);
    summary.push_str(&verdict_line(&report, started.elapsed()));
    if human_on_stdout {
        outln!("{summary}");
    } else {
        eprintln!("{summary}");
    }
    if let (Some(format), Some(sink)) = (args.report, sink.as_mut()) {
        let text = report::render(&report, format.into()).map_err(|e| anyhow!(e))?;
        match sink {
            Sink::Stdout => super::stdout::text(&(text + "\n")),
            Sink::File(path, file) => file
                .write_all(text.as_bytes())
                .and_then(|()| file.flush())
                .with_context(|| format!("writing the report to {}", path.display()))?,
        }
    }
    if let Some(why) = unreachable {
        eprintln!(
            "error: stopped after {} of {total} cases: {} never answered ({why}); check \
             --target, that the endpoint is up, and HTTPS_PROXY/NO_PROXY",
            report.results.len(),
            target_base(&target)
        );
        return Ok(ExitCode::from(live_run::exit_code(
            interrupted,
            leaked,
            exit::INCONCLUSIVE,
        )));
    }
    Ok(ExitCode::from(live_run::exit_code(
        interrupted,
        leaked,
        report.summary.exit_code_with(args.strict),
    )))
}

fn target_base(target: &Target) -> String {
    match &target.kind {
        TargetKind::Live { endpoints, .. } => endpoints.single_host().map_or_else(
            || "the live endpoints".to_string(),
            |_| endpoints.any().base,
        ),
        TargetKind::Emulator { .. } => "the embedded emulator".to_string(),
    }
}

/// Sub-user credentials for denied-caller cases, from the environment (never printed).
fn denied_credentials() -> Option<Credentials> {
    let id = std::env::var("CLOUDCONFORM_DENIED_ACCESS_KEY_ID").ok()?;
    let secret = std::env::var("CLOUDCONFORM_DENIED_SECRET_ACCESS_KEY").ok()?;
    Some(Credentials::new(id, secret))
}

/// Temporary credentials for missing-token cases, from the environment (never printed).
fn temporary_credentials() -> Option<Credentials> {
    let id = std::env::var("CLOUDCONFORM_TEMPORARY_ACCESS_KEY_ID").ok()?;
    let secret = std::env::var("CLOUDCONFORM_TEMPORARY_SECRET_ACCESS_KEY").ok()?;
    let token = std::env::var("CLOUDCONFORM_TEMPORARY_SECURITY_TOKEN").ok()?;
    Some(Credentials::new(id, secret).with_session_token(token))
}

fn summary_table(report: &RunReport) -> String {
    let row = |name: &str, r: &run::Summary| {
        format!(
            "{:<56} {:>6} {:>6} {:>6} {:>6} {:>6} {:>6} {:>6}\n",
            name,
            r.total,
            r.passed,
            r.failed,
            r.divergences,
            r.inconclusive,
            r.expected_failures,
            r.stale
        )
    };
    let mut out = format!(
        "{:<56} {:>6} {:>6} {:>6} {:>6} {:>6} {:>6} {:>6}\n",
        "action", "cases", "pass", "fail", "diverg", "incon", "xfail", "stale"
    );
    for (action, r) in report.per_action() {
        out.push_str(&row(&action, &r));
    }
    out.push_str(&row("total", &report.summary));
    out
}

/// `569 passed, 0 failed, 0 inconclusive in 0.4 s` (expected failures and stale ones only
/// when there are some): the one line a CI log grep or a human looks for.
fn verdict_line(report: &RunReport, elapsed: Duration) -> String {
    let t = &report.summary;
    let mut line = format!(
        "{} passed, {} failed, {} inconclusive",
        t.passed, t.failed, t.inconclusive
    );
    if t.divergences > 0 {
        line.push_str(&format!(", {} divergences", t.divergences));
    }
    if t.expected_failures > 0 {
        line.push_str(&format!(", {} expected failures", t.expected_failures));
    }
    if t.stale > 0 {
        line.push_str(&format!(", {} stale", t.stale));
    }
    line.push_str(&format!(" in {:.1} s", elapsed.as_secs_f64()));
    line
}

/// Single-quote for a POSIX shell when needed.
fn shell_quote(s: &str) -> String {
    if !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./:@=,+".contains(c))
    {
        s.to_string()
    } else {
        format!("'{}'", s.replace('\'', r"'\''"))
    }
}

/// The command that reruns exactly this case with the options that shaped it.
fn rerun_command(args: &Args, id: &str) -> String {
    let mut cmd = format!("cloudconform run --case {}", shell_quote(id));
    let mut opt = |name: &str, value: String| {
        cmd.push_str(&format!(" {name} {}", shell_quote(&value)));
    };
    if args.target != "emulator" {
        opt("--target", args.target.clone());
    }
    if let Some(p) = &args.profile {
        opt("--profile", p.display().to_string());
    }
    if let Some(r) = &args.region {
        opt("--region", r.clone());
    }
    for e in &args.endpoints {
        opt("--endpoint", e.clone());
    }
    if let Some(c) = &args.ca_cert {
        opt("--ca-cert", c.display().to_string());
    }
    if let Some(p) = &args.cli_profile {
        opt("--cli-profile", p.clone());
    }
    if args.seed != 1 {
        opt("--seed", args.seed.to_string());
    }
    if let Some(n) = args.explore {
        opt("--explore", n.to_string());
    }
    for (name, dir) in [
        ("--specs", &args.specs),
        ("--cases", &args.cases),
        ("--expected-failures", &args.expected_failures),
    ] {
        if let Some(d) = dir {
            opt(name, d.display().to_string());
        }
    }
    if let Some(name) = &args.target_name {
        opt("--target-name", name.clone());
    }
    for (given, flag) in [
        (args.allow_destructive, " --allow-destructive"),
        (args.strict, " --strict"),
        (args.probe_throttling, " --probe-throttling"),
        (args.observe_through_api, " --observe-through-api"),
    ] {
        if given {
            cmd.push_str(flag);
        }
    }
    cmd
}

/// The part of an inconclusive reason that groups cases: a transport failure is one cause
/// whichever step met it (`CreateKeyPair: cannot connect: URL: ...` and `cannot connect: URL:
/// ...` are the same unreachable target).
fn grouping_reason(reason: &str) -> &str {
    reason
        .find("cannot connect: ")
        .map_or(reason, |at| &reason[at..])
}

/// Failures, stale expected failures and inconclusive cases on stderr. Failures come with the
/// command that reruns them (and with --verbose their request as curl); inconclusive cases with
/// the same reason (a target that refuses every connection) are one line with a count.
fn print_findings(report: &RunReport, args: &Args, target: &Target) {
    let mut inconclusive: Vec<(&str, Vec<&str>)> = Vec::new();
    for r in &report.results {
        let text = match (&r.verdict, &r.expected_failure) {
            (Verdict::Fail { .. }, None) => format!(
                "FAIL {}: {}",
                r.id,
                report::failure_text(r).replace('\n', "\n    ")
            ),
            (Verdict::Divergence { .. }, None) => format!(
                "DIVERGENCE {} (an inferred expectation; fails only with --strict): {}",
                r.id,
                report::failure_text(r).replace('\n', "\n    ")
            ),
            (Verdict::Pass, Some(reason)) => format!(
                "STALE {}: passes, but the expected-failure list for {} says it fails ({reason}); \
                 remove it from the list",
                r.id, report.target
            ),
            (Verdict::Inconclusive { reason }, _) => {
                let reason = grouping_reason(reason);
                match inconclusive.iter_mut().find(|(why, _)| *why == reason) {
                    Some((_, ids)) => ids.push(&r.id),
                    None => inconclusive.push((reason, vec![&r.id])),
                }
                continue;
            }
            _ => continue,
        };
        eprintln!("{text}\n    rerun: {}", rerun_command(args, &r.id));
        if args.verbose {
            if let Some(x) = r.exchanges.last() {
                let (base, note) = match &target.kind {
                    TargetKind::Live { endpoints, .. } => (endpoints.any().base, ""),
                    TargetKind::Emulator { .. } => (
                        EMULATE_DEFAULT_URL.to_string(),
                        "  # served by `cloudconform emulate`",
                    ),
                };
                eprintln!("    request: {}{note}", x.request.curl(&base));
            }
        }
    }
    for (reason, ids) in inconclusive {
        match ids.as_slice() {
            [one] => eprintln!("INCONCLUSIVE {one}: {reason}"),
            many => eprintln!(
                "INCONCLUSIVE {} cases: {reason}\n    first: {} (--report json lists them all)",
                many.len(),
                many[0]
            ),
        }
    }
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
