//! Throughput in one run: checked cases per second (world, requests, checks, effects) and the
//! emulator's raw requests per second (the minimal valid request of every seed action, signed
//! and sent as fast as the same number of workers can, no checks), and their ratio.
use super::exec::{self, Call, Endpoint};
use super::{control_world, local, CaseResult, RunOptions, Runner, Sent};
use crate::generate::{Case, CaseKind};
use crate::spec::SpecSet;
use serde::Serialize;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Instant;

#[derive(Debug, Clone, Serialize)]
pub struct BenchResult {
    pub workers: usize,
    pub cases: usize,
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
    workers: usize,
    raw_requests: usize,
) -> Result<BenchResult, String> {
    let (handles, target) = local::start_emulators(specs.clone(), workers).await?;
    let runner = Arc::new(
        Runner::new(specs.clone(), target.clone(), RunOptions::default())
            .map_err(|e| e.to_string())?,
    );
    let n = cases.len();
    let minimal: Vec<Case> = cases
        .iter()
        .filter(|c| c.kind == CaseKind::Valid && c.id.ends_with("/valid/minimal"))
        .cloned()
        .collect();
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
        passed,
        case_seconds,
        cases_per_second,
        requests: sent,
        raw_seconds,
        requests_per_second,
        ratio: cases_per_second / requests_per_second,
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
    let mut world = control_world::default_world(runner, endpoint).await?;
    let mut prepared = Vec::new();
    for case in minimal {
        let region = world
            .pointer(&format!("/regions/{}/0", case.action.provider))
            .and_then(serde_json::Value::as_str)
            .unwrap_or_default()
            .to_string();
        let bindings = control_world::bind_world(runner, case, &region)?;
        let svc = format!("{}/{}", case.action.provider, case.action.service);
        let add = control_world::service_json(case, &bindings);
        let slot = &mut world["services"][svc.as_str()];
        for kind in ["instances", "images", "key_pairs"] {
            let mut list = slot[kind].as_array().cloned().unwrap_or_default();
            list.extend(add[kind].as_array().cloned().unwrap_or_default());
            slot[kind] = serde_json::Value::Array(list);
        }
        prepared.push((case.clone(), bindings));
    }
    control_world::put_world(runner, endpoint, &world).await?;
    let mut sent = 0;
    let mut i = 0;
    while counter.fetch_add(1, Ordering::Relaxed) < total {
        let (case, bindings) = &prepared[i % prepared.len()];
        i += 1;
        let step = &case.steps[0];
        let action = runner
            .step_action(case, step)
            .ok_or("no spec for the step action")?;
        let accounts = control_world::accounts(runner, endpoint, case.action.provider).await;
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
