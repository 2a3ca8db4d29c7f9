//! `cloudconform cleanup`: remove the key pairs earlier runs left behind — only those whose name
//! starts with the profile's `key_prefix` — after listing them. Without `--yes` it only lists.
use super::{exit, live_run};
use anyhow::{anyhow, Result};
use clap::Args as ClapArgs;
use cloudconform::run::{cleanup, RunOptions, Runner, TargetKind};
use cloudconform::spec::{ActionKey, Provider, SpecSet};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

#[derive(ClapArgs)]
pub struct Args {
    /// The profile of the runs to clean up after (region, key-name prefix).
    #[arg(long)]
    pub profile: PathBuf,
    /// Delete what was found (without it: only list).
    #[arg(long)]
    pub yes: bool,
    /// `live` (endpoints from the specs) or one URL for every service.
    #[arg(long, default_value = "live")]
    pub target: String,
    /// Send SERVICE's actions to URL instead (repeatable).
    #[arg(long = "endpoint", value_name = "SERVICE=URL")]
    pub endpoints: Vec<String>,
    /// Also trust the CA certificate(s) in this PEM file.
    #[arg(long, value_name = "FILE")]
    pub ca_cert: Option<PathBuf>,
    /// The tccli / aliyun CLI profile to read credentials from.
    #[arg(long, value_name = "NAME")]
    pub cli_profile: Option<String>,
    /// Only this provider (`tencent`, `alibaba`).
    #[arg(long)]
    pub provider: Option<Provider>,
    #[arg(long)]
    pub specs: Option<PathBuf>,
}

pub fn run(args: Args) -> Result<ExitCode> {
    let dir = args.specs.clone().unwrap_or_else(SpecSet::default_dir);
    let specs = Arc::new(SpecSet::load(&dir).map_err(|e| anyhow!("{e}"))?);
    let providers: Vec<Provider> = Provider::ALL
        .into_iter()
        .filter(|p| args.provider.is_none_or(|x| x == *p))
        .collect();
    let target = live_run::target(
        &live_run::LiveArgs {
            target: &args.target,
            endpoints: &args.endpoints,
            cli_profile: args.cli_profile.as_deref(),
            profile: Some(&args.profile),
            region: None,
        },
        &specs,
        &providers,
    )?;
    let TargetKind::Live { profile, .. } = &target.kind else {
        return Err(anyhow!("cleanup needs a live target"));
    };
    let profile = profile.clone();
    let ca_cert_pem = match &args.ca_cert {
        Some(p) => Some(std::fs::read(p).map_err(|e| anyhow!("--ca-cert {}: {e}", p.display()))?),
        None => None,
    };
    // One service per (provider, service, version) the specs know.
    let mut services: Vec<ActionKey> = Vec::new();
    for a in specs.actions() {
        if providers.contains(&a.provider)
            && !services
                .iter()
                .any(|k| k.provider == a.provider && k.service == a.service)
        {
            services.push(a.key());
        }
    }
    let runner = Runner::new(
        specs.clone(),
        target,
        RunOptions {
            ca_cert_pem,
            ..RunOptions::default()
        },
    )?;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let mut problems = 0;
    let mut left = 0;
    for key in &services {
        let region = profile.region_for(key.provider).to_string();
        let r = rt.block_on(cleanup::sweep(
            &runner,
            key,
            &region,
            &profile.key_prefix,
            args.yes,
        ));
        for f in &r.found {
            let done = if r.deleted.contains(f) {
                "deleted"
            } else if args.yes {
                "left"
            } else {
                "would delete"
            };
            println!("{done} {} key pair {} ({})", f.service, f.id, f.name);
        }
        left += r.found.len() - r.deleted.len();
        for p in &r.problems {
            eprintln!("{}/{}: {p}", key.provider, key.service);
            problems += 1;
        }
    }
    if !args.yes && left > 0 {
        eprintln!("{left} key pair(s) found; run again with --yes to delete them");
    }
    Ok(ExitCode::from(if problems > 0 || (args.yes && left > 0) {
        exit::LEAKED
    } else {
        exit::OK
    }))
}
