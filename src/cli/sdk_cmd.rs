//! `cloudconform sdk`: validate SDKs through adapters speaking the testee protocol, against the
//! embedded emulator in recording mode (docs/testee-protocol.md).
use super::cases_cmd::load_cases;
use super::exit;
use anyhow::{bail, Context, Result};
use clap::Args as ClapArgs;
use cloudconform::sdk::matrix::{self, Format};
use cloudconform::sdk::{self, SdkOptions};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

#[derive(ClapArgs)]
pub struct Args {
    /// The adapter command, run with `sh -c` (repeatable: one matrix column group each), e.g.
    /// `adapters/python-tencent/run`.
    #[arg(long, required = true)]
    pub adapter: Vec<String>,
    /// Only this provider's cases (`tencent`, `alibaba`).
    #[arg(long)]
    pub provider: Option<String>,
    /// Only cases whose id contains this text (repeatable: any of them).
    #[arg(long)]
    pub filter: Vec<String>,
    /// Only this `style/signing` method (repeatable), e.g. `json-post/tc3-hmac-sha256`.
    #[arg(long)]
    pub method: Vec<String>,
    /// Report format on stdout (or --out).
    #[arg(long, value_enum, default_value = "text")]
    pub report: Format,
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Seconds an adapter may take for one case.
    #[arg(long, default_value_t = 30)]
    pub timeout: u64,
    /// Seconds an adapter may take to answer the hello (it may be creating its environment).
    #[arg(long, default_value_t = 900)]
    pub hello_timeout: u64,
    /// Directory of the SDK expected-failure lists (default: adapters/expected-failures).
    #[arg(long)]
    pub expected_failures: Option<PathBuf>,
    /// Generation seed.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    #[arg(long)]
    pub specs: Option<PathBuf>,
    #[arg(long)]
    pub cases: Option<PathBuf>,
}

/// `CI=true` (or `1`): an SDK that cannot run is a failure, not a skip.
fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v.eq_ignore_ascii_case("true") || v == "1")
}

fn default_expected() -> PathBuf {
    let local = Path::new("adapters/expected-failures");
    if local.is_dir() {
        local.to_path_buf()
    } else {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("adapters/expected-failures")
    }
}

pub fn run(args: Args) -> Result<ExitCode> {
    if let Some(p) = &args.provider {
        if cloudconform::spec::Provider::parse(p).is_none() {
            bail!("unknown provider `{p}` (tencent, alibaba)");
        }
    }
    let (specs, cases) = load_cases(args.specs.clone(), args.cases.clone(), args.seed)?;
    let complete = args.provider.is_none() && args.filter.is_empty() && args.method.is_empty();
    let cases: Vec<_> = cases
        .into_iter()
        .filter(|c| {
            args.provider
                .as_deref()
                .is_none_or(|p| c.action.provider.as_str() == p)
        })
        .filter(|c| args.filter.is_empty() || args.filter.iter().any(|f| c.id.contains(f)))
        .collect();
    if cases.is_empty() {
        bail!("no case matches the filters");
    }
    for m in &args.method {
        let known = sdk::Method::parse(m)
            .is_some_and(|method| specs.providers().any(|p| method.offered_by(p)));
        if !known {
            bail!(
                "--method {m}: not a style/signing pair any provider spec defines \
                 (e.g. json-post/tc3-hmac-sha256, get/tc-hmac-sha1, rpc-query/acs3-hmac-sm3)"
            );
        }
    }
    let opts = SdkOptions {
        adapters: args.adapter.clone(),
        specs: Arc::new(specs),
        cases,
        methods: args.method.clone(),
        case_timeout: Duration::from_secs(args.timeout.max(1)),
        hello_timeout: Duration::from_secs(args.hello_timeout.max(1)),
        expected_dir: args
            .expected_failures
            .clone()
            .unwrap_or_else(default_expected),
        workdir: std::env::current_dir().context("current directory")?,
        complete,
    };
    let report = sdk::run(&opts)?;
    let rendered = matrix::render(&report, args.report);
    match &args.out {
        Some(path) => std::fs::write(path, &rendered)
            .with_context(|| format!("cannot write the report to {}", path.display()))?,
        None => out!("{rendered}"),
    }
    let ci = in_ci();
    for (command, reason) in report.unavailable() {
        if ci {
            eprintln!("FAIL (CI=true): the SDK of `{command}` is unavailable: {reason}");
        } else {
            eprintln!("skipped: the SDK of `{command}` is unavailable: {reason}");
        }
    }
    let code = if report.has_failures() || (ci && !report.unavailable().is_empty()) {
        exit::NONCONFORMANCE
    } else if report.has_faults() {
        exit::INCONCLUSIVE
    } else {
        exit::OK
    };
    Ok(ExitCode::from(code))
}
