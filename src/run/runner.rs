//! The runner itself: one per target, holding what every case shares (specs, checker, HTTP
//! client, pacer). It hands cases to workers, realises each case's world (emulator control API
//! or live fixture actions), runs the steps in order and turns their findings into a verdict.
//! How a step is run lives in `steps`, how its request is sent in `send`.
use super::exec::Endpoint;
use super::{
    built_world, control_world, pace, profile, CaseResult, RunError, RunOptions, Target, TargetKind,
};
use crate::check::{Checker, Finding, Verdict};
use crate::generate::{Case, Step, Tamper};
use crate::sign::Credentials;
use crate::spec::{ActionSpec, Provider, SpecSet};
use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Instant;

/// Transport failures, before the target ever answered, after which a run stops early: the
/// target is unreachable, and hundreds of identical inconclusive cases would say nothing more.
const UNREACHABLE_AFTER: usize = 5;

/// Whether the target has answered at all, and the transport failures seen until it did.
#[derive(Default)]
pub(super) struct Reach {
    answered: AtomicBool,
    failures: AtomicUsize,
    first_failure: OnceLock<String>,
}

impl Reach {
    pub(super) fn answered(&self) {
        self.answered.store(true, Ordering::SeqCst);
    }

    pub(super) fn failed(&self, why: &str) {
        let _ = self.first_failure.set(why.to_string());
        self.failures.fetch_add(1, Ordering::SeqCst);
    }

    fn unreachable(&self) -> Option<String> {
        (!self.answered.load(Ordering::SeqCst)
            && self.failures.load(Ordering::SeqCst) >= UNREACHABLE_AFTER)
            .then(|| self.first_failure.get().cloned().unwrap_or_default())
    }
}

/// Runs cases against one target.
pub struct Runner {
    pub(super) specs: Arc<SpecSet>,
    /// What is derived from the specs (compiled formats), computed once for the run.
    pub(super) derived: Arc<crate::generate::Derived>,
    pub(super) checker: Arc<Checker>,
    pub(super) target: Target,
    pub(super) opts: RunOptions,
    pub(super) client: reqwest::Client,
    pub(super) pacer: pace::Pacer,
    /// Requests and throttled answers, for the run's pacing summary.
    pub(super) stats: pace::Stats,
    /// Live: what the run created or changed and has not put back.
    pub(super) ledger: std::sync::Mutex<super::ledger::Ledger>,
    /// Set on the first Ctrl-C: no new case starts.
    stopping: std::sync::atomic::AtomicBool,
    /// Live runs: which profile instances running cases hold.
    pub(super) claims: profile::Claims,
    /// Live runs: whether the target offers the emulator's control API (probed once), and the
    /// gate that makes its world edits atomic (requests hold it shared, edits exclusively).
    pub(super) control: control_world::Control,
    /// The emulator's default world (accounts, regions), fetched once.
    pub(super) default_world: tokio::sync::OnceCell<crate::emulator::World>,
    pub(super) reach: Reach,
    /// Each action's documented throttling codes, by the address of its spec in `specs` (every
    /// answer is screened for them).
    pub(super) throttles: std::collections::HashMap<usize, super::send::Throttles>,
}

impl Runner {
    pub fn new(specs: Arc<SpecSet>, target: Target, opts: RunOptions) -> Result<Runner, RunError> {
        let checker = Checker::new(specs.clone()).map_err(RunError::Checker)?;
        let mut builder =
            reqwest::Client::builder().pool_max_idle_per_host(super::send::BURST_WAVE);
        // Proxies (HTTP_PROXY, HTTPS_PROXY, NO_PROXY) are for reaching remote endpoints: the
        // embedded emulators and any loopback target are always spoken to directly.
        if target.is_loopback() {
            builder = builder.no_proxy();
        }
        if let Some(pem) = &opts.ca_cert_pem {
            let certs = reqwest::Certificate::from_pem_bundle(pem)
                .map_err(|e| RunError::CaCert(e.to_string()))?;
            if certs.is_empty() {
                return Err(RunError::CaCert("no PEM certificate in the file".into()));
            }
            for cert in certs {
                builder = builder.add_root_certificate(cert);
            }
        }
        let client = builder
            .build()
            .map_err(|e| RunError::Client(super::exec::error_chain(&e)))?;
        let throttles = specs
            .actions()
            .map(|a| {
                let codes = super::send::Throttles::of(&specs, a);
                (Arc::as_ptr(a) as usize, codes)
            })
            .collect();
        Ok(Runner {
            throttles,
            derived: Arc::new(crate::generate::Derived::new(&specs)),
            specs,
            checker: Arc::new(checker),
            target,
            opts,
            client,
            pacer: pace::Pacer::default(),
            stats: pace::Stats::default(),
            ledger: Default::default(),
            stopping: Default::default(),
            claims: profile::Claims::default(),
            control: control_world::Control::default(),
            default_world: tokio::sync::OnceCell::new(),
            reach: Reach::default(),
        })
    }

    pub fn target(&self) -> &Target {
        &self.target
    }

    pub fn specs(&self) -> &Arc<SpecSet> {
        &self.specs
    }

    /// Stop starting cases (the first Ctrl-C); cases in flight finish and tear down.
    pub fn stop(&self) {
        self.stopping
            .store(true, std::sync::atomic::Ordering::SeqCst);
    }

    pub fn is_stopping(&self) -> bool {
        self.stopping.load(std::sync::atomic::Ordering::SeqCst)
    }

    /// What the run has not put back: (leaks, kept on purpose).
    pub fn leftovers(&self) -> (Vec<super::ledger::Leftover>, Vec<super::ledger::Leftover>) {
        self.ledger
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .leftovers()
    }

    /// Throttled answers seen so far (each retried or, past the retries, judged).
    pub fn throttled_count(&self) -> u64 {
        self.stats.throttled_count()
    }

    /// Requests sent so far, per action name.
    pub fn requests_per_action(&self) -> std::collections::HashMap<String, u64> {
        self.stats.sent_per_action()
    }

    /// `Some(first failure)` when the run stopped early because the target never answered
    /// ([`UNREACHABLE_AFTER`] transport failures and not one response).
    pub fn unreachable(&self) -> Option<String> {
        self.reach.unreachable()
    }

    /// Run every case, `on_done` called as each finishes; results in id order. Stops taking
    /// cases once the target proves unreachable (see [`Runner::unreachable`]): the cases not
    /// run have no result.
    pub async fn run_all(
        self: &Arc<Self>,
        cases: Vec<Case>,
        on_done: Arc<dyn Fn(&CaseResult) + Send + Sync>,
    ) -> Vec<CaseResult> {
        // Live throttling probes go last, alone, so their burst disturbs no other case.
        if !self.target.is_emulator() && cases.iter().any(is_throttling_probe) {
            let (probes, rest): (Vec<Case>, Vec<Case>) =
                cases.into_iter().partition(is_throttling_probe);
            let mut results = Box::pin(self.run_all(rest, on_done.clone())).await;
            for case in probes {
                if self.is_stopping() || self.reach.unreachable().is_some() {
                    break;
                }
                let endpoint = match &self.target.kind {
                    TargetKind::Live { endpoints, .. } => endpoints.any(),
                    TargetKind::Emulator { endpoints } => endpoints[0].clone(),
                };
                let r = self.run_case_on(&case, &endpoint).await;
                on_done(&r);
                results.push(r);
            }
            results.sort_by(|a, b| a.id.cmp(&b.id));
            return results;
        }
        let queue = Arc::new(std::sync::Mutex::new(
            cases.into_iter().collect::<VecDeque<_>>(),
        ));
        let endpoints: Vec<Endpoint> = match &self.target.kind {
            TargetKind::Emulator { endpoints } => endpoints.clone(),
            TargetKind::Live { endpoints, .. } => {
                vec![endpoints.any(); self.opts.concurrency.max(1)]
            }
        };
        let mut handles = Vec::new();
        for endpoint in endpoints {
            let me = self.clone();
            let queue = queue.clone();
            let on_done = on_done.clone();
            handles.push(tokio::spawn(async move {
                let mut out = Vec::new();
                loop {
                    if me.is_stopping() || me.reach.unreachable().is_some() {
                        break;
                    }
                    let next = queue.lock().unwrap_or_else(|e| e.into_inner()).pop_front();
                    let Some(case) = next else { break };
                    let mut r = me.run_case_on(&case, &endpoint).await;
                    on_done(&r);
                    if me.opts.slim_passing && r.verdict == Verdict::Pass {
                        r.slim();
                    }
                    out.push(r);
                }
                out
            }));
        }
        let mut results = Vec::new();
        for h in handles {
            if let Ok(mut r) = h.await {
                results.append(&mut r);
            }
        }
        if !self.target.is_emulator() {
            // The leak check: a key pair counts as deleted once a Describe no longer lists
            // it, not because its delete call was answered.
            super::cleanup::confirm_deleted(self).await;
        }
        results.sort_by(|a, b| a.id.cmp(&b.id));
        results
    }

    /// Run one case on one endpoint (live targets: the endpoint of the case's action).
    pub async fn run_case_on(&self, case: &Case, endpoint: &Endpoint) -> CaseResult {
        let started = Instant::now();
        let mut result = CaseResult::new(case);
        let live = !self.target.is_emulator();
        let resolved;
        let endpoint = match self.live_endpoint(case) {
            None => endpoint,
            Some(Ok(e)) => {
                resolved = e;
                &resolved
            }
            Some(Err(reason)) => {
                result.verdict = Verdict::Inconclusive { reason };
                return result;
            }
        };
        if live && case.destructive && !self.opts.allow_destructive {
            result.verdict = Verdict::Inconclusive {
                reason: "destructive case skipped (pass --allow-destructive to run it)".into(),
            };
            return result;
        }
        if live
            && self.opts.denied_credentials.is_none()
            && case
                .steps
                .iter()
                .any(|s| s.caller == crate::generate::Caller::Denied)
        {
            result.verdict = Verdict::Inconclusive {
                reason: "needs the credentials of a sub-user without permission \
                         (CLOUDCONFORM_DENIED_ACCESS_KEY_ID / CLOUDCONFORM_DENIED_SECRET_ACCESS_KEY)"
                    .into(),
            };
            return result;
        }
        if live
            && case
                .steps
                .iter()
                .any(|s| s.caller == crate::generate::Caller::Temporary)
            && self
                .temporary_live_credentials(case.action.provider)
                .is_none()
        {
            result.verdict = Verdict::Inconclusive {
                reason: "needs temporary credentials: an access key issued with a session token \
                         (CLOUDCONFORM_TEMPORARY_ACCESS_KEY_ID / \
                         CLOUDCONFORM_TEMPORARY_SECRET_ACCESS_KEY / \
                         CLOUDCONFORM_TEMPORARY_SECURITY_TOKEN, or CLOUDCONFORM_SECURITY_TOKEN \
                         with the run's own key)"
                    .into(),
            };
            return result;
        }
        if live && is_throttling_probe(case) && !self.opts.probe_throttling {
            result.verdict = Verdict::Inconclusive {
                reason: "throttling probe not requested (--probe-throttling sends a burst over \
                         the documented rate at the end of the run)"
                    .into(),
            };
            return result;
        }
        let realised = match &self.target.kind {
            TargetKind::Emulator { .. } => {
                control_world::realise_on_emulator(self, case, endpoint).await
            }
            TargetKind::Live { profile, .. } => {
                let mut r = control_world::Realised::default();
                let profile = profile.for_provider(case.action.provider);
                match built_world::realise(self, case, endpoint, profile, &mut r).await {
                    Ok(()) => Ok(r),
                    Err(reason) => {
                        // Remove whatever was created before the failure.
                        let _ = built_world::teardown(self, case, endpoint, &r).await;
                        Err(reason)
                    }
                }
            }
        };
        let mut world = match realised {
            Ok(w) => w,
            Err(reason) => {
                result.verdict = Verdict::Inconclusive { reason };
                result.duration_ms = started.elapsed().as_millis() as u64;
                return result;
            }
        };
        let mut findings: Vec<Finding> = Vec::new();
        let mut inconclusive: Option<String> = None;
        for (n, step) in case.steps.iter().enumerate() {
            match self
                .run_step(case, n, step, endpoint, &mut world.bindings, &mut result)
                .await
            {
                Ok(mut f) => findings.append(&mut f),
                Err(reason) => {
                    inconclusive = Some(reason);
                    break;
                }
            }
            if !findings.is_empty() {
                break;
            }
        }
        if let TargetKind::Live { .. } = &self.target.kind {
            // The answers were judged before teardown; what teardown could not undo is in the
            // ledger, and the end-of-run leak check reports it (exit 4). It does not make an
            // already decided case undecided.
            let _ = built_world::teardown(self, case, endpoint, &world).await;
        }
        result.verdict = match (findings.is_empty(), inconclusive) {
            (false, _) => Verdict::from_findings(findings),
            (true, Some(reason)) => Verdict::Inconclusive { reason },
            (true, None) => Verdict::Pass,
        };
        result.bindings = world.bindings;
        result.duration_ms = started.elapsed().as_millis() as u64;
        result
    }

    pub(super) fn step_action(&self, case: &Case, step: &Step) -> Option<Arc<ActionSpec>> {
        // Most steps call the case's own action: one map lookup, no scan.
        if step.action == case.action.action {
            return self.specs.action(&case.action).cloned();
        }
        self.specs
            .find(case.action.provider, &case.action.service, &step.action)
            .into_iter()
            .find(|a| a.version == case.action.version)
            .cloned()
    }

    pub(crate) fn credentials_for(
        &self,
        provider: Provider,
        caller: crate::generate::Caller,
        world: &control_world::Accounts<'_>,
    ) -> Credentials {
        match &self.target.kind {
            TargetKind::Live { .. } => match (caller, &self.opts.denied_credentials) {
                (crate::generate::Caller::Denied, Some(denied)) => denied.clone(),
                (crate::generate::Caller::Temporary, _) => self
                    .temporary_live_credentials(provider)
                    // Never reached: such cases are inconclusive without them.
                    .unwrap_or_else(|| Credentials::new("", "")),
                _ => self.live_credentials(provider).unwrap_or_else(|| {
                    // Never reached: cases of a provider without credentials are not run.
                    Credentials::new("", "")
                }),
            },
            TargetKind::Emulator { .. } => world.for_caller(provider, caller),
        }
    }

    /// Live targets: credentials with a session token, the lent temporary ones first.
    fn temporary_live_credentials(&self, provider: Provider) -> Option<Credentials> {
        self.opts.temporary_credentials.clone().or_else(|| {
            self.live_credentials(provider)
                .filter(|c| c.session_token.is_some())
        })
    }

    /// Live targets: the provider's credentials.
    pub(crate) fn live_credentials(&self, provider: Provider) -> Option<Credentials> {
        match &self.target.kind {
            TargetKind::Live { credentials, .. } => credentials.get(&provider).cloned(),
            TargetKind::Emulator { .. } => None,
        }
    }

    /// Live targets: where the case's action is sent (`None` on the emulator).
    fn live_endpoint(&self, case: &Case) -> Option<Result<Endpoint, String>> {
        let TargetKind::Live {
            endpoints,
            credentials,
            ..
        } = &self.target.kind
        else {
            return None;
        };
        if !credentials.contains_key(&case.action.provider) {
            return Some(Err(format!(
                "no {} credentials were loaded",
                case.action.provider
            )));
        }
        let action = self
            .specs
            .find(
                case.action.provider,
                &case.action.service,
                &case.action.action,
            )
            .into_iter()
            .find(|a| a.version == case.action.version)?;
        Some(endpoints.for_action(action))
    }
}

/// A case that sends a burst over the documented rate.
pub(super) fn is_throttling_probe(case: &Case) -> bool {
    case.steps
        .iter()
        .any(|s| matches!(s.wire.tamper, Some(Tamper::Burst { .. })))
}
