//! Throughput in one run: checked cases per second (world, requests, checks, effects) and the
//! emulator's raw requests per second (the minimal valid request of every seed action, signed
//! and sent as fast as the same number of workers can, no checks), and their ratio; exploration
//! cases generated and checked per second, for several case counts so growth is shown.
use super::exec::{self, Call, Endpoint};
use super::{control_world, local, CaseResult, RunOptions, Runner, Sent};
use crate::emulator::ServiceState;
use crate::generate::{Case, CaseKind};
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

pub async fn bench(
    specs: Arc<SpecSet>,
    cases: Vec<Case>,
    rounds: usize,
    workers: usize,
    raw_requests: usize,
) -> Result<BenchResult, String> {
    let (handles, target) = local::start_emulators(specs.clone(), workers).await?;
    let runner = Arc::new(
        Runner::new(specs.clone(), target.clone(), RunOptions::default())
            .map_err(|e| e.to_string())?,
    );
    let minimal: Vec<Case> = cases
        .iter()
        .filter(|c| c.kind == CaseKind::Valid && c.id.ends_with("/valid/minimal"))
        .cloned()
        .collect();
    // Every round runs the whole set again (each case in its own freshly placed world), so
    // the timing covers enough cases to be steady.
    let rounds = rounds.max(1);
    let cases: Vec<Case> = (0..rounds).flat_map(|_| cases.iter().cloned()).collect();
    let n = cases.len();
    let t0 = Instant::now();
    let results = runner.run_all(cases, Arc::new(|_: &CaseResult| {})).await;
    let case_seconds = t0.elapsed().as_secs_f64();
    let passed = results
        .iter()
        .filter(|r| r.verdict == crate::check::Verdict::Pass)
        .count();

    // Raw: each worker realises the minimal cases' worlds once, then replays their requests.
    let super::TargetKind::Emulator { endpoints } = &target.kind else {
        return Err("bench needs emulator endpoints".into());
    };
    let counter = Arc::new(AtomicUsize::new(0));
    let t1 = Instant::now();
    let mut tasks = Vec::new();
    for endpoint in endpoints.clone() {
        let runner = runner.clone();
        let minimal = minimal.clone();
        let counter = counter.clone();
        tasks.push(tokio::spawn(async move {
            raw_worker(&runner, &endpoint, &minimal, &counter, raw_requests).await
        }));
    }
    let mut sent = 0;
    for t in tasks {
        sent += t.await.map_err(|e| e.to_string())??;
    }
    let raw_seconds = t1.elapsed().as_secs_f64();
    drop(handles);
    let cases_per_second = n as f64 / case_seconds;
    let requests_per_second = sent as f64 / raw_seconds;
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
}

/// Generate `n` exploration cases for `seed` and check them against `workers` fresh embedded
/// emulators (what `cloudconform run --explore N` does, without reports).
pub async fn explore(
    specs: Arc<SpecSet>,
    n: usize,
    seed: u64,
    workers: usize,
) -> Result<ExploreResult, String> {
    let t0 = Instant::now();
    let cases =
        crate::generate::explore::random_cases(&specs, n, seed).map_err(|e| e.to_string())?;
    let generate_seconds = t0.elapsed().as_secs_f64();
    let (handles, target) = local::start_emulators(specs.clone(), workers).await?;
    let runner = Arc::new(
        Runner::new(specs.clone(), target, RunOptions::default()).map_err(|e| e.to_string())?,
    );
    let count = cases.len();
    let t1 = Instant::now();
    let results = runner.run_all(cases, Arc::new(|_: &CaseResult| {})).await;
    let run_seconds = t1.elapsed().as_secs_f64();
    let passed = results
        .iter()
        .filter(|r| r.verdict == crate::check::Verdict::Pass)
        .count();
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
    })
}

async fn raw_worker(
    runner: &Runner,
    endpoint: &Endpoint,
    minimal: &[Case],
    counter: &AtomicUsize,
    total: usize,
) -> Result<usize, String> {
    // One merged world holding every minimal case's objects.
    let default = control_world::default_world(runner, endpoint).await?;
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
        prepared.push((case.clone(), bindings));
    }
    control_world::place(runner, endpoint, services.into_iter().collect()).await?;
    let mut sent = 0;
    let mut i = 0;
    while counter.fetch_add(1, Ordering::Relaxed) < total {
        let (case, bindings) = &prepared[i % prepared.len()];
        i += 1;
        let step = &case.steps[0];
        let action = runner
            .step_action(case, step)
            .ok_or("no spec for the step action")?;
        let accounts = control_world::accounts(runner, endpoint).await;
        let creds = runner.credentials_for(case.action.provider, step.caller, &accounts);
        match runner
            .send_step(&action, step, endpoint, bindings, &creds)
            .await
        {
            Sent::Ok(..) => sent += 1,
            Sent::Transport(e) | Sent::Build(e) => return Err(e),
        }
    }
    let _ = (exec::scheme_of, std::marker::PhantomData::<Call>);
    Ok(sent)
}
