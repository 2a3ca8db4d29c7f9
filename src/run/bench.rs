//! Throughput in one run: checked cases per second (world, requests, checks, effects) and the
//! emulator's raw requests per second (the minimal valid request of every seed action, signed
//! and sent as fast as the same number of workers can, no checks), and their ratio; exploration
//! cases generated and checked per second, for several case counts so growth is shown.
use super::bind::Bindings;
use super::exec::Endpoint;
use super::{control_world, local, CaseResult, RunOptions, Runner, Sent};
use crate::emulator::ServiceState;
use crate::generate::{Case, CaseKind};
use crate::sign::Credentials;
use crate::spec::SpecSet;
use serde::Serialize;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Instant;

#[derive(Debug, Clone, Serialize)]
pub struct BenchResult {
    pub workers: usize,
    /// Cases checked: every case of the set, `rounds` times.
    pub cases: usize,
    pub rounds: usize,
    pub passed: usize,
    pub case_seconds: f64,
    pub cases_per_second: f64,
    pub requests: usize,
    pub raw_seconds: f64,
    pub requests_per_second: f64,
    /// Checked cases per raw request: how much a case costs in emulator requests' time.
    pub ratio: f64,
}

/// Rounds alternate: the whole case set checked, then a share of the raw requests sent, so a
/// change in the machine's load in the middle of the run touches both sides alike.
pub async fn bench(
    specs: Arc<SpecSet>,
    cases: Vec<Case>,
    rounds: usize,
    workers: usize,
    raw_requests: usize,
    opts: RunOptions,
) -> Result<BenchResult, String> {
    let (handles, target) = local::start_emulators(specs.clone(), workers).await?;
    let runner =
        Arc::new(Runner::new(specs.clone(), target.clone(), opts).map_err(|e| e.to_string())?);
    let super::TargetKind::Emulator { endpoints } = &target.kind else {
        return Err("bench needs emulator endpoints".into());
    };
    let minimal: Vec<Case> = cases
        .iter()
        .filter(|c| c.kind == CaseKind::Valid && c.id.ends_with("/valid/minimal"))
        .cloned()
        .collect();
    // Raw: each emulator holds one merged world with every minimal case's objects, and its
    // worker replays their requests.
    let mut raw = Vec::new();
    for endpoint in endpoints {
        raw.push(Arc::new(prepare_raw(&runner, endpoint, &minimal).await?));
    }
    let rounds = rounds.max(1);
    let (mut n, mut passed, mut sent) = (0, 0, 0);
    let (mut case_seconds, mut raw_seconds) = (0.0, 0.0);
    for round in 0..rounds {
        // A run is handed its cases; copying the set for the next round is the bench's own
        // work, so it happens before the clock starts.
        let round_cases = cases.clone();
        let t0 = Instant::now();
        let results = runner
            .run_all(round_cases, Arc::new(|_: &CaseResult| {}))
            .await;
        case_seconds += t0.elapsed().as_secs_f64();
        n += results.len();
        passed += results
            .iter()
            .filter(|r| r.verdict == crate::check::Verdict::Pass)
            .count();
        drop(results);
        // The cases replaced the worlds: put the raw world back (not timed).
        for (endpoint, r) in endpoints.iter().zip(&raw) {
            control_world::place(&runner, endpoint, r.services.clone()).await?;
        }
        let share = raw_requests / rounds + usize::from(round < raw_requests % rounds);
        let counter = Arc::new(AtomicUsize::new(0));
        let t1 = Instant::now();
        let mut tasks = Vec::new();
        for (endpoint, r) in endpoints.iter().zip(&raw) {
            let (runner, r, counter) = (runner.clone(), r.clone(), counter.clone());
            let endpoint = endpoint.clone();
            tasks.push(tokio::spawn(async move {
                raw_worker(&runner, &endpoint, &r, &counter, share).await
            }));
        }
        for t in tasks {
            sent += t.await.map_err(|e| e.to_string())??;
        }
        raw_seconds += t1.elapsed().as_secs_f64();
    }
    drop(handles);
    let cases_per_second = n as f64 / case_seconds.max(1e-9);
    let requests_per_second = sent as f64 / raw_seconds.max(1e-9);
    Ok(BenchResult {
        workers,
        cases: n,
        rounds,
        passed,
        case_seconds,
        cases_per_second,
        requests: sent,
        raw_seconds,
        requests_per_second,
        ratio: cases_per_second / requests_per_second,
    })
}

/// Exploration throughput for one case count: generation and checking timed apart.
#[derive(Debug, Clone, Serialize)]
pub struct ExploreResult {
    pub cases: usize,
    pub seed: u64,
    pub generate_seconds: f64,
    pub generated_per_second: f64,
    pub passed: usize,
    pub run_seconds: f64,
    pub cases_per_second: f64,
    /// This process's resident set after the cases were checked, results still held, and its
    /// peak since the count started (Linux; `None` elsewhere).
    pub rss_bytes: Option<u64>,
    pub peak_rss_bytes: Option<u64>,
}

/// Generate `n` exploration cases for `seed` and check them against `workers` fresh embedded
/// emulators (what `cloudconform run --explore N` does, without reports: passing results keep
/// their verdict, not their exchanges).
pub async fn explore(
    specs: Arc<SpecSet>,
    n: usize,
    seed: u64,
    workers: usize,
    opts: RunOptions,
) -> Result<ExploreResult, String> {
    reset_peak_rss();
    let t0 = Instant::now();
    let cases =
        crate::generate::explore::random_cases(&specs, n, seed).map_err(|e| e.to_string())?;
    let generate_seconds = t0.elapsed().as_secs_f64();
    let (handles, target) = local::start_emulators(specs.clone(), workers).await?;
    let opts = RunOptions {
        slim_passing: true,
        ..opts
    };
    let runner = Arc::new(Runner::new(specs.clone(), target, opts).map_err(|e| e.to_string())?);
    let count = cases.len();
    let t1 = Instant::now();
    let results = runner.run_all(cases, Arc::new(|_: &CaseResult| {})).await;
    let run_seconds = t1.elapsed().as_secs_f64();
    let passed = results
        .iter()
        .filter(|r| r.verdict == crate::check::Verdict::Pass)
        .count();
    let rss_bytes = status_bytes("VmRSS:");
    let peak_rss_bytes = status_bytes("VmHWM:");
    drop(results);
    drop(handles);
    Ok(ExploreResult {
        cases: count,
        seed,
        generate_seconds,
        generated_per_second: count as f64 / generate_seconds.max(1e-9),
        passed,
        run_seconds,
        cases_per_second: count as f64 / run_seconds.max(1e-9),
        rss_bytes,
        peak_rss_bytes,
    })
}

/// A `/proc/self/status` field in bytes (`VmRSS:`, `VmHWM:`).
fn status_bytes(field: &str) -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with(field))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}

/// Start a new peak-RSS reading (`VmHWM`): Linux resets it on `5` in `/proc/self/clear_refs`.
/// Elsewhere, or without permission, the peak is the process's so far.
fn reset_peak_rss() {
    let _ = std::fs::write("/proc/self/clear_refs", "5");
}

/// One emulator's raw workload: the minimal cases with their bindings and credentials, and the
/// merged world holding all their objects.
struct Raw {
    prepared: Vec<(Case, Bindings, Credentials)>,
    services: Vec<(String, ServiceState)>,
}

async fn prepare_raw(
    runner: &Runner,
    endpoint: &Endpoint,
    minimal: &[Case],
) -> Result<Raw, String> {
    let default = control_world::default_world(runner, endpoint).await?;
    let accounts = control_world::accounts(runner, endpoint).await;
    let mut services: std::collections::BTreeMap<String, ServiceState> = Default::default();
    let mut prepared = Vec::new();
    for case in minimal {
        let region = control_world::region_of(default, case.action.provider);
        let bindings = control_world::bind_world(runner, case, &region)?;
        let svc = format!("{}/{}", case.action.provider, case.action.service);
        let add = control_world::service_state(case, &bindings);
        let slot = services.entry(svc).or_default();
        slot.instances.extend(add.instances);
        slot.images.extend(add.images);
        slot.key_pairs.extend(add.key_pairs);
        let creds = runner.credentials_for(case.action.provider, case.steps[0].caller, &accounts);
        prepared.push((case.clone(), bindings, creds));
    }
    if prepared.is_empty() {
        return Err("no minimal valid case to send raw".into());
    }
    Ok(Raw {
        prepared,
        services: services.into_iter().collect(),
    })
}

/// Send the raw requests until `counter` reaches `total` (shared by every worker).
async fn raw_worker(
    runner: &Runner,
    endpoint: &Endpoint,
    raw: &Raw,
    counter: &AtomicUsize,
    total: usize,
) -> Result<usize, String> {
    let mut sent = 0;
    let mut i = 0;
    while counter.fetch_add(1, Ordering::Relaxed) < total {
        let (case, bindings, creds) = &raw.prepared[i % raw.prepared.len()];
        i += 1;
        let step = &case.steps[0];
        let action = runner
            .step_action(case, step)
            .ok_or("no spec for the step action")?;
        match runner
            .send_step(&action, step, endpoint, bindings, creds)
            .await
        {
            Sent::Ok(..) => sent += 1,
            Sent::Transport(e) | Sent::Build(e) => return Err(e),
        }
    }
    Ok(sent)
}
