//! Shared glue for running cases as test trials (`tests/conformance.rs`, `tests/mutants.rs`):
//! one runtime and one pool of in-process emulators for the whole test binary, created on first
//! use outside any runtime, and checked out by each trial for the length of one case.
use super::exec::Endpoint;
use super::expected::ExpectedFailures;
use super::{local, CaseResult, RunOptions, Runner, Target, TargetKind};
use crate::check::redact::Redactor;
use crate::check::snapshot::{self, Provenance};
use crate::check::Verdict;
use crate::emulator::EmulatorHandle;
use crate::generate::Case;
use crate::spec::SpecSet;
use serde_json::{json, Value};
use std::path::Path;
use std::sync::{Arc, Condvar, Mutex};

/// A runtime, emulators and a runner, shared by every trial of a test binary.
pub struct Harness {
    pub rt: tokio::runtime::Runtime,
    pub runner: Arc<Runner>,
    free: Mutex<Vec<Endpoint>>,
    ready: Condvar,
    _emulators: Vec<EmulatorHandle>,
}

impl Harness {
    /// Start `n` emulators serving `specs`.
    pub fn start(specs: Arc<SpecSet>, n: usize) -> Result<Harness, String> {
        Self::start_with(specs, n, RunOptions::default())
    }

    /// Start `n` emulators serving `specs`, run with `opts` (`observe_through_api`: effects
    /// observed by describe calls over HTTP, as on a URL).
    pub fn start_with(specs: Arc<SpecSet>, n: usize, opts: RunOptions) -> Result<Harness, String> {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .map_err(|e| e.to_string())?;
        let (handles, target) = rt.block_on(local::start_emulators(specs.clone(), n))?;
        Self::build(rt, specs, target, handles, opts)
    }

    /// Run against endpoints someone else started (a proxy in front of an emulator).
    pub fn with_target(
        rt: tokio::runtime::Runtime,
        specs: Arc<SpecSet>,
        target: Target,
        handles: Vec<EmulatorHandle>,
    ) -> Result<Harness, String> {
        Self::build(rt, specs, target, handles, RunOptions::default())
    }

    fn build(
        rt: tokio::runtime::Runtime,
        specs: Arc<SpecSet>,
        target: Target,
        handles: Vec<EmulatorHandle>,
        opts: RunOptions,
    ) -> Result<Harness, String> {
        let endpoints = match &target.kind {
            TargetKind::Emulator { endpoints } => endpoints.clone(),
            TargetKind::Live { endpoints, .. } => vec![endpoints.any()],
        };
        let runner = Runner::new(specs, target, opts).map_err(|e| e.to_string())?;
        Ok(Harness {
            rt,
            runner: Arc::new(runner),
            free: Mutex::new(endpoints),
            ready: Condvar::new(),
            _emulators: handles,
        })
    }

    /// Run one case on a free emulator (blocking the calling thread).
    pub fn run_case(&self, case: &Case) -> CaseResult {
        let endpoint = {
            let mut free = self.free.lock().unwrap_or_else(|e| e.into_inner());
            loop {
                if let Some(e) = free.pop() {
                    break e;
                }
                free = self.ready.wait(free).unwrap_or_else(|e| e.into_inner());
            }
        };
        let result = self.rt.block_on(self.runner.run_case_on(case, &endpoint));
        self.free
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(endpoint);
        self.ready.notify_one();
        result
    }
}

/// The redacted, stable record of a case's last exchange, for snapshots.
pub fn snapshot_value(case: &Case, result: &CaseResult) -> Value {
    let mut r = Redactor::new(&result.bindings, None);
    let response = result.last_response.as_ref().map(|resp| {
        let body: Value = serde_json::from_slice(&resp.body)
            .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&resp.body).into()));
        json!({
            "status": resp.status,
            "content_type": resp.header("content-type").unwrap_or_default(),
            "body": r.value(None, &body),
        })
    });
    let last = case.steps.last();
    json!({
        "case": case.id,
        "request": last.map(|s| json!({
            "action": s.action,
            "wire": s.wire,
            "caller": s.caller,
            "params": s.params,
        })),
        "expect": last.map(|s| s.expect.summary()),
        "response": response,
    })
}

/// Decide a trial: the verdict, the target's expected-failure list, and the snapshot.
pub fn judge(
    root: &Path,
    target: &str,
    expected: &ExpectedFailures,
    case: &Case,
    result: &CaseResult,
) -> Result<(), String> {
    let listed = expected.reason(&case.id);
    match (&result.verdict, listed) {
        (Verdict::Pass, Some(reason)) => {
            return Err(format!(
                "stale expected failure: the case passes but is listed ({reason})"
            ))
        }
        (Verdict::Fail { .. }, Some(_)) => return Ok(()),
        (Verdict::Fail { findings }, None) => {
            return Err(findings
                .iter()
                .map(|f| f.to_string())
                .collect::<Vec<_>>()
                .join("\n"))
        }
        (Verdict::Inconclusive { reason }, _) => return Err(format!("inconclusive: {reason}")),
        // Against the emulator, the specs' own implementation, nothing may diverge.
        (Verdict::Divergence { findings }, _) => {
            return Err(format!(
                "divergence from inferred expectations: {}",
                findings
                    .iter()
                    .map(|f| f.to_string())
                    .collect::<Vec<_>>()
                    .join("\n")
            ))
        }
        (Verdict::Pass, None) => {}
    }
    let provenance = Provenance {
        target: target.to_string(),
        spec_version: format!(
            "{}/{}/{}",
            case.action.provider, case.action.service, case.action.version
        ),
    };
    snapshot::assert_snapshot(root, &provenance, &case.id, &snapshot_value(case, result));
    Ok(())
}
