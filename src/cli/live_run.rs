//! The safety side of `cloudconform run` on live targets: Ctrl-C/SIGTERM handling (first: stop
//! starting cases, let the ones in flight finish and tear down, write the partial report;
//! second: exit at once, listing what is left), and the leak check printed at the end.
use super::exit;
use anyhow::{anyhow, bail, Context, Result};
use cloudconform::run::endpoints::Endpoints;
use cloudconform::run::exec::Endpoint;
use cloudconform::run::ledger::Leftover;
use cloudconform::run::profile::Profile;
use cloudconform::run::{Runner, Target, TargetKind};
use cloudconform::sign::sources;
use cloudconform::spec::{Provider, SpecSet};
use std::collections::BTreeMap;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

/// Exit code of an interrupted run (128 + SIGINT, as shells report it).
pub const INTERRUPTED: u8 = 130;

/// Set once the first signal arrived.
#[derive(Clone, Default)]
pub struct Interrupt(Arc<AtomicBool>);

impl Interrupt {
    pub fn happened(&self) -> bool {
        self.0.load(Ordering::SeqCst)
    }
}

/// Listen for SIGINT/SIGTERM for the rest of the run (call inside the runtime). The listeners
/// are registered before this returns, so a signal sent once any case has started is handled,
/// never the default "die at once".
pub fn watch(runner: Arc<Runner>) -> Interrupt {
    let flag = Interrupt::default();
    let seen = flag.clone();
    let mut signals = Signals::register();
    tokio::spawn(async move {
        signals.next().await;
        seen.0.store(true, Ordering::SeqCst);
        runner.stop();
        eprintln!(
            "interrupted: no new case starts; cases in flight finish and tear down (again to exit at once)"
        );
        signals.next().await;
        let (leaks, kept) = runner.leftovers();
        eprintln!("interrupted twice: exiting now without teardown");
        print_leftovers(&leaks, &kept);
        std::process::exit(i32::from(INTERRUPTED));
    });
    flag
}

/// SIGINT and SIGTERM (Ctrl-C elsewhere), registered when made.
struct Signals {
    #[cfg(unix)]
    unix: Option<(tokio::signal::unix::Signal, tokio::signal::unix::Signal)>,
}

impl Signals {
    fn register() -> Signals {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{signal, SignalKind};
            let unix = match (
                signal(SignalKind::interrupt()),
                signal(SignalKind::terminate()),
            ) {
                (Ok(int), Ok(term)) => Some((int, term)),
                _ => None,
            };
            Signals { unix }
        }
        #[cfg(not(unix))]
        Signals {}
    }

    async fn next(&mut self) {
        #[cfg(unix)]
        if let Some((int, term)) = &mut self.unix {
            tokio::select! {
                _ = int.recv() => {}
                _ = term.recv() => {}
            }
            return;
        }
        let _ = tokio::signal::ctrl_c().await;
    }
}

/// Print what the run did not put back (stderr). Leaks first: the run's own key pairs not
/// deleted, lent instances not verified as restored, answers lost to creations.
pub fn print_leftovers(leaks: &[Leftover], kept: &[Leftover]) {
    for k in kept {
        eprintln!("kept: {} {} {} ({})", k.service, k.resource, k.id, k.note);
    }
    if leaks.is_empty() {
        return;
    }
    eprintln!(
        "LEFT BEHIND ({}): run `cloudconform cleanup --profile P` to remove the run's keys",
        leaks.len()
    );
    for l in leaks {
        eprintln!("  {} {} {}: {}", l.service, l.resource, l.id, l.note);
    }
}

/// The leak check at the end of a live run: prints, and says whether anything leaked.
pub fn leak_check(runner: &Runner) -> bool {
    let (leaks, kept) = runner.leftovers();
    print_leftovers(&leaks, &kept);
    !leaks.is_empty()
}

/// The run's exit code: interrupted beats a leak, a leak beats the verdicts.
pub fn exit_code(interrupted: bool, leaked: bool, verdicts: u8) -> u8 {
    if interrupted {
        INTERRUPTED
    } else if leaked {
        exit::LEAKED
    } else {
        verdicts
    }
}

/// The command-line pieces that make a live target (`run`, `cleanup`).
pub struct LiveArgs<'a> {
    /// `live` or a URL every service is sent to.
    pub target: &'a str,
    /// `SERVICE=URL` overrides.
    pub endpoints: &'a [String],
    pub cli_profile: Option<&'a str>,
    pub profile: Option<&'a Path>,
    pub region: Option<&'a str>,
}

/// A live target: endpoints from the specs (or overrides), one credential per provider whose
/// cases are selected, each found where that cloud's own tools look.
pub fn target(args: &LiveArgs, specs: &SpecSet, providers: &[Provider]) -> Result<Target> {
    let profile = match args.profile {
        Some(p) => {
            let problems = cloudconform::run::profile_schema::check(p);
            if !problems.is_empty() {
                let list: Vec<String> = problems.iter().map(|p| format!("  {p}")).collect();
                bail!(
                    "the profile does not match docs/profile.schema.json:\n{}",
                    list.join("\n")
                );
            }
            Profile::load(p).map_err(|e| anyhow!(e))?
        }
        None => Profile {
            region: args
                .region
                .ok_or_else(|| {
                    anyhow!("live targets need --profile FILE or --region REGION (e.g. --region ap-guangzhou)")
                })?
                .to_string(),
            ..Profile::default()
        },
    };
    // Per-provider regions: `regions`, or the region of each `providers` section.
    let regions = Provider::ALL
        .into_iter()
        .map(|p| (p, profile.region_for(p).to_string()))
        .filter(|(_, r)| !r.is_empty())
        .collect();
    let mut endpoints =
        Endpoints::new(profile.region.clone(), profile.international).with_regions(regions);
    if args.target != "live" {
        let url = Endpoint::parse(args.target).ok_or_else(|| {
            anyhow!(
                "--target `{}`: expected `emulator`, `live` or an http(s) URL",
                args.target
            )
        })?;
        endpoints = endpoints.everything_at(url);
    }
    for e in args.endpoints {
        endpoints = endpoints.with_override(e).map_err(|e| anyhow!(e))?;
    }
    let known: Vec<(String, String)> = specs
        .actions()
        .map(|a| (a.provider.to_string(), a.service.clone()))
        .collect();
    if let Some(unknown) = endpoints.unknown_overrides(&known).next() {
        bail!("--endpoint: no spec has a service `{unknown}` (cvm, ecm, ecs, ens, or provider/service)");
    }
    let env = sources::Environment::process();
    let mut credentials = BTreeMap::new();
    for &provider in providers {
        let found = sources::load(provider, args.cli_profile, &env)
            .with_context(|| format!("{provider} cases selected (narrow with --provider)"))?;
        eprintln!("credentials: {provider} from {}", found.source);
        credentials.insert(provider, found.credentials);
    }
    let name = endpoints
        .single_host()
        .unwrap_or_else(|| format!("live-{}", profile.region));
    Ok(Target {
        name,
        kind: TargetKind::Live {
            endpoints,
            credentials,
            profile: Box::new(profile),
        },
    })
}

/// `--dry-run`: the plan on stdout; nothing is sent.
pub fn print_plan(specs: &SpecSet, cases: &[cloudconform::generate::Case], live: bool) {
    use cloudconform::run::plan;
    let p = plan::plan(specs, cases, live);
    println!(
        "{:<56} {:>6} {:>9} {:>7} {:>9}",
        "action", "cases", "requests", "rate/s", "seconds"
    );
    for (action, a) in &p {
        let rate = a.rate.map_or("-".to_string(), |r| r.to_string());
        println!(
            "{action:<56} {:>6} {:>9} {rate:>7} {:>9.1}",
            a.cases,
            a.requests,
            a.seconds()
        );
    }
    let total: u64 = p.values().map(|a| a.requests).sum();
    println!(
        "{} cases, {total} requests; expected duration {:.1} s at the documented rates (the slowest action; nothing was sent)",
        cases.len(),
        plan::expected_seconds(&p)
    );
}

/// After a live run: wall time ÷ (requests ÷ documented rate) of the slowest action, and the
/// throttled answers (stderr).
pub fn print_pacing(runner: &Runner, specs: &SpecSet, wall: std::time::Duration) {
    let sent = runner.requests_per_action();
    let rate = |action: &str| {
        specs
            .actions()
            .find(|a| cloudconform::generate::Case::action_prefix(&a.key()) == action)
            .and_then(|a| a.rate_limit.as_ref().map(|r| r.per_second))
    };
    let slowest = sent
        .iter()
        .filter_map(|(a, n)| {
            rate(a)
                .filter(|r| *r > 0)
                .map(|r| (a, *n, r, *n as f64 / f64::from(r)))
        })
        .max_by(|x, y| x.3.total_cmp(&y.3));
    match slowest {
        Some((action, n, r, ideal)) if ideal > 0.0 => eprintln!(
            "pacing: wall {:.1} s / ({n} {action} requests / {r} per s = {ideal:.1} s) = {:.3}; {} throttled answers",
            wall.as_secs_f64(),
            wall.as_secs_f64() / ideal,
            runner.throttled_count()
        ),
        _ => eprintln!(
            "pacing: wall {:.1} s, no rate-limited action; {} throttled answers",
            wall.as_secs_f64(),
            runner.throttled_count()
        ),
    }
}

/// `--record`: store the live exchanges under `dir` (stderr says how many).
pub fn record(
    dir: &Path,
    target: &Target,
    results: &[cloudconform::run::CaseResult],
) -> Result<()> {
    let TargetKind::Live { profile, .. } = &target.kind else {
        bail!("--record needs a live target (the emulator's answers are not a recording)");
    };
    let region_of = |id: &str| {
        let provider = id
            .split('/')
            .next()
            .and_then(Provider::parse)
            .unwrap_or(Provider::Tencent);
        profile.region_for(provider).to_string()
    };
    let date = today();
    let n = cloudconform::run::recorded::write(dir, &target.name, &region_of, &date, results)
        .with_context(|| format!("--record: writing under {}", dir.display()))?;
    eprintln!("recorded {n} cases under {}", dir.display());
    Ok(())
}

/// Today's date (UTC) as the report module writes it.
fn today() -> String {
    cloudconform::report::RunReport::new("", 0, Vec::new()).date
}
