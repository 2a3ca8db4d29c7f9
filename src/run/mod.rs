//! The runner: realise each case's world, send its requests (encoded, signed, tampered as the
//! case asks), check the answers and the declared effects, and give each case a verdict.
//!
//! Cases run concurrently across independent worlds: against the embedded emulator each worker
//! owns one emulator instance (isolated worlds, reset per case through the control API);
//! against any other endpoint the worlds are built with the spec's fixture actions, cases that
//! use the target profile's instances are serialised, and each action is paced at its spec
//! `rate_limit.per_second`. Throttling answers are retried with backoff; transport failures
//! make a case inconclusive, never failed. Depends on `spec`, `generate`, `wire`, `sign`,
//! `check` and `http`; never on the emulator's internals (only its public control API).
pub mod bench;
pub mod bind;
pub mod exec;
pub mod expected;
mod fixtures;
pub mod harness;
pub mod live;
pub mod local;
mod pace;

use crate::check::{Checker, Finding, Verdict};
use crate::generate::{Case, CaseKind, Expect, Step, Tamper};
use crate::http::{RawRequest, RawResponse};
use crate::sign::Credentials;
use crate::spec::{ActionSpec, Observe, Provider, SpecSet, Trigger};
use crate::wire::encode::Booleans;
use bind::{Bindings, Bound};
use exec::{Call, Endpoint, TransportError};
use serde::Serialize;
use serde_json::{Map, Value};
use std::collections::{BTreeMap, VecDeque};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// What the runner talks to.
#[derive(Debug, Clone)]
pub enum TargetKind {
    /// Emulator instances with the control API, one per worker.
    Emulator { endpoints: Vec<Endpoint> },
    /// Anything else: worlds are built with fixture actions, within the profile.
    Live {
        endpoint: Endpoint,
        credentials: Credentials,
        profile: live::Profile,
    },
}

#[derive(Debug, Clone)]
pub struct Target {
    /// `emulator`, or the endpoint's host: names snapshots and expected-failure lists.
    pub name: String,
    pub kind: TargetKind,
}

impl Target {
    pub fn is_emulator(&self) -> bool {
        matches!(self.kind, TargetKind::Emulator { .. })
    }
}

#[derive(Debug, Clone)]
pub struct RunOptions {
    /// Workers for live targets (emulator targets use one per endpoint).
    pub concurrency: usize,
    pub timeout: Duration,
    /// Retries of a throttled request.
    pub retries: u32,
    /// Live runs: allow cases that change or remove something.
    pub allow_destructive: bool,
}

impl Default for RunOptions {
    fn default() -> Self {
        RunOptions {
            concurrency: 4,
            timeout: Duration::from_secs(15),
            retries: 3,
            allow_destructive: false,
        }
    }
}

/// The request and response of one step, as recorded (credentials never included).
#[derive(Debug, Clone, Serialize)]
pub struct Exchange {
    pub step: usize,
    pub action: String,
    pub request: RequestRecord,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub response: Option<ResponseRecord>,
}

#[derive(Debug, Clone, Serialize)]
pub struct RequestRecord {
    pub method: String,
    pub query: String,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct ResponseRecord {
    pub status: u16,
    pub content_type: String,
    pub body: String,
}

/// Headers whose values carry credentials or signatures.
const SECRET_HEADERS: [&str; 4] = [
    "authorization",
    "x-tc-token",
    "x-acs-security-token",
    "x-acs-signature-nonce",
];
const SECRET_PARAMS: [&str; 6] = [
    "Signature",
    "SecretId",
    "AccessKeyId",
    "Token",
    "SecurityToken",
    "SignatureNonce",
];

fn scrub_pairs(s: &str) -> String {
    s.split('&')
        .map(|kv| match kv.split_once('=') {
            Some((k, _)) if SECRET_PARAMS.contains(&k) => format!("{k}=[redacted]"),
            _ => kv.to_string(),
        })
        .collect::<Vec<_>>()
        .join("&")
}

impl RequestRecord {
    /// The request with credentials and signatures removed.
    pub fn scrubbed(req: &RawRequest) -> RequestRecord {
        let form = req
            .header("content-type")
            .is_some_and(|c| c.starts_with("application/x-www-form-urlencoded"));
        let body = String::from_utf8_lossy(&req.body);
        let body = if body.len() > 4096 {
            format!("[{} bytes]", req.body.len())
        } else if form {
            scrub_pairs(&body)
        } else {
            body.to_string()
        };
        let query = if req.raw_query.len() > 4096 {
            format!("[{} bytes]", req.raw_query.len())
        } else {
            scrub_pairs(&req.raw_query)
        };
        RequestRecord {
            method: req.method.clone(),
            query,
            headers: req
                .headers
                .iter()
                .map(|(k, v)| {
                    if SECRET_HEADERS.iter().any(|s| k.eq_ignore_ascii_case(s)) {
                        (k.clone(), "[redacted]".into())
                    } else {
                        (k.clone(), v.clone())
                    }
                })
                .collect(),
            body,
        }
    }
}

/// Replace secret response values (private keys of created key pairs) with `[redacted]`.
fn scrub_json(v: &mut Value) {
    match v {
        Value::Object(o) => {
            for (k, x) in o.iter_mut() {
                if k.to_ascii_lowercase().contains("private") && x.is_string() {
                    *x = Value::String("[redacted]".into());
                } else {
                    scrub_json(x);
                }
            }
        }
        Value::Array(a) => a.iter_mut().for_each(scrub_json),
        _ => {}
    }
}

impl ResponseRecord {
    /// The response with secrets (private keys) removed.
    pub fn of(resp: &RawResponse) -> ResponseRecord {
        let body = match serde_json::from_slice::<Value>(&resp.body) {
            Ok(mut v) => {
                scrub_json(&mut v);
                v.to_string()
            }
            Err(_) => String::from_utf8_lossy(&resp.body).to_string(),
        };
        ResponseRecord {
            status: resp.status,
            content_type: resp.header("content-type").unwrap_or_default().to_string(),
            body,
        }
    }
}

/// One case's outcome.
#[derive(Debug, Clone, Serialize)]
pub struct CaseResult {
    pub id: String,
    pub action: String,
    pub kind: CaseKind,
    pub title: String,
    pub verdict: Verdict,
    /// Set when the case is on the target's expected-failure list.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expected_failure: Option<String>,
    pub exchanges: Vec<Exchange>,
    pub duration_ms: u64,
    /// Bound placeholders (for snapshots); not serialized.
    #[serde(skip)]
    pub bindings: Bindings,
    #[serde(skip)]
    pub last_response: Option<RawResponse>,
}

impl CaseResult {
    fn new(case: &Case) -> CaseResult {
        CaseResult {
            id: case.id.clone(),
            action: case.action.to_string(),
            kind: case.kind,
            title: case.title.clone(),
            verdict: Verdict::Pass,
            expected_failure: None,
            exchanges: Vec::new(),
            duration_ms: 0,
            bindings: Bindings::default(),
            last_response: None,
        }
    }
}

/// Why a run could not start.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error("checks: {0}")]
    Checker(String),
    #[error("http client: {0}")]
    Client(String),
}

/// Runs cases against one target.
pub struct Runner {
    specs: Arc<SpecSet>,
    checker: Arc<Checker>,
    target: Target,
    opts: RunOptions,
    client: reqwest::Client,
    pacer: pace::Pacer,
    /// Live runs: cases that use profile instances take turns.
    instance_lane: tokio::sync::Mutex<()>,
    /// The emulator's default world (accounts, regions), fetched once.
    default_world: tokio::sync::OnceCell<Value>,
}

/// Outcome of one step before checking.
enum Sent {
    Ok(RawRequest, RawResponse),
    Transport(String),
    Build(String),
}

impl Runner {
    pub fn new(specs: Arc<SpecSet>, target: Target, opts: RunOptions) -> Result<Runner, RunError> {
        let checker = Checker::new(specs.clone()).map_err(RunError::Checker)?;
        let client = reqwest::Client::builder()
            .pool_max_idle_per_host(8)
            .build()
            .map_err(|e| RunError::Client(e.to_string()))?;
        Ok(Runner {
            specs,
            checker: Arc::new(checker),
            target,
            opts,
            client,
            pacer: pace::Pacer::default(),
            instance_lane: tokio::sync::Mutex::new(()),
            default_world: tokio::sync::OnceCell::new(),
        })
    }

    pub fn target(&self) -> &Target {
        &self.target
    }

    pub fn specs(&self) -> &Arc<SpecSet> {
        &self.specs
    }

    /// Run every case, `on_done` called as each finishes; results in id order.
    pub async fn run_all(
        self: &Arc<Self>,
        cases: Vec<Case>,
        on_done: Arc<dyn Fn(&CaseResult) + Send + Sync>,
    ) -> Vec<CaseResult> {
        let queue = Arc::new(std::sync::Mutex::new(
            cases.into_iter().collect::<VecDeque<_>>(),
        ));
        let endpoints: Vec<Endpoint> = match &self.target.kind {
            TargetKind::Emulator { endpoints } => endpoints.clone(),
            TargetKind::Live { endpoint, .. } => {
                vec![endpoint.clone(); self.opts.concurrency.max(1)]
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
                    let next = queue.lock().unwrap_or_else(|e| e.into_inner()).pop_front();
                    let Some(case) = next else { break };
                    let r = me.run_case_on(&case, &endpoint).await;
                    on_done(&r);
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
        results.sort_by(|a, b| a.id.cmp(&b.id));
        results
    }

    /// Run one case on one endpoint.
    pub async fn run_case_on(&self, case: &Case, endpoint: &Endpoint) -> CaseResult {
        let started = Instant::now();
        let mut result = CaseResult::new(case);
        let live = !self.target.is_emulator();
        if live && case.destructive && !self.opts.allow_destructive {
            result.verdict = Verdict::Inconclusive {
                reason: "destructive case skipped (pass --allow-destructive to run it)".into(),
            };
            return result;
        }
        if live
            && case
                .steps
                .iter()
                .any(|s| s.caller == crate::generate::Caller::Denied)
        {
            result.verdict = Verdict::Inconclusive {
                reason: "needs the credentials of a sub-user without permission".into(),
            };
            return result;
        }
        if live && steps_need_emulator(case) {
            result.verdict = Verdict::Inconclusive {
                reason: "needs the emulator's control API (rate-limit burst)".into(),
            };
            return result;
        }
        let _lane = if live && !case.world.instances.is_empty() {
            Some(self.instance_lane.lock().await)
        } else {
            None
        };
        let realised = match &self.target.kind {
            TargetKind::Emulator { .. } => {
                fixtures::realise_on_emulator(self, case, endpoint).await
            }
            TargetKind::Live { profile, .. } => {
                let mut r = fixtures::Realised::default();
                match live::realise(self, case, endpoint, profile, &mut r).await {
                    Ok(()) => Ok(r),
                    Err(reason) => {
                        // Remove whatever was created before the failure.
                        let _ = live::teardown(self, case, endpoint, &r).await;
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
            if let Err(e) = live::teardown(self, case, endpoint, &world).await {
                inconclusive.get_or_insert(format!("teardown: {e}"));
            }
        }
        result.verdict = match (findings.is_empty(), inconclusive) {
            (false, _) => Verdict::Fail { findings },
            (true, Some(reason)) => Verdict::Inconclusive { reason },
            (true, None) => Verdict::Pass,
        };
        result.bindings = world.bindings;
        result.duration_ms = started.elapsed().as_millis() as u64;
        result
    }

    fn step_action(&self, case: &Case, step: &Step) -> Option<Arc<ActionSpec>> {
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
        world: &fixtures::Accounts,
    ) -> Credentials {
        match &self.target.kind {
            TargetKind::Live { credentials, .. } => credentials.clone(),
            TargetKind::Emulator { .. } => world.for_caller(provider, caller),
        }
    }

    /// Send one step (with its fault, retries and replay), check it and its effects.
    async fn run_step(
        &self,
        case: &Case,
        n: usize,
        step: &Step,
        endpoint: &Endpoint,
        bindings: &mut Bindings,
        result: &mut CaseResult,
    ) -> Result<Vec<Finding>, String> {
        let action = self
            .step_action(case, step)
            .ok_or_else(|| format!("no spec for step action {}", step.action))?;
        let accounts = fixtures::accounts(self, endpoint, case.action.provider).await;
        let creds = self.credentials_for(case.action.provider, step.caller, &accounts);
        let sent = self
            .send_step(&action, step, endpoint, bindings, &creds)
            .await;
        let (req, resp) = match sent {
            Sent::Ok(req, resp) => (req, resp),
            Sent::Transport(e) => return Err(e),
            Sent::Build(e) => return Err(format!("could not build the request: {e}")),
        };
        result.exchanges.push(Exchange {
            step: n,
            action: step.action.clone(),
            request: RequestRecord::scrubbed(&req),
            response: Some(ResponseRecord::of(&resp)),
        });
        result.last_response = Some(resp.clone());
        let mut findings = self.checker.check(&action, &step.expect, &resp, bindings);
        if findings.is_empty() {
            if let Expect::Success {
                effects, capture, ..
            } = &step.expect
            {
                let body: Value = serde_json::from_slice(&resp.body).unwrap_or(Value::Null);
                // `k1` captures an id, `k1.name` a name: both bind the symbol for later steps
                // (and for effect checks), like a world object.
                for (sym, pointer) in capture {
                    let Some(v) = pointer.as_str().and_then(|p| body.pointer(p)) else {
                        return Ok(vec![Finding {
                            rule: format!("{}#{}", case.id, "/steps"),
                            location: pointer.as_str().unwrap_or_default().to_string(),
                            message: format!("nothing to capture as {sym}"),
                        }]);
                    };
                    let v = crate::check::loose(v);
                    let (base, is_name) = match sym.strip_suffix(".name") {
                        Some(b) => (b.to_string(), true),
                        None => (sym.clone(), false),
                    };
                    let slot = bindings.objects.entry(base).or_insert_with(|| Bound {
                        id: v.clone(),
                        name: v.clone(),
                    });
                    if is_name {
                        slot.name = v;
                    } else {
                        slot.id = v;
                    }
                }
                for id in effects {
                    if let Some(f) = self
                        .observe_effect(case, &action, step, id, endpoint, bindings, &creds)
                        .await?
                    {
                        findings.push(f);
                    }
                }
            }
        }
        Ok(findings)
    }

    fn style_and_signing<'a>(
        &self,
        provider: &'a crate::spec::ProviderSpec,
        step: &Step,
    ) -> Option<(&'a crate::spec::RequestStyle, String)> {
        let style = match &step.wire.style {
            Some(id) => provider.request_styles.iter().find(|s| &s.id == id)?,
            None => provider
                .request_styles
                .iter()
                .find(|s| s.default)
                .or(provider.request_styles.first())?,
        };
        let signing = step.wire.signing.clone().unwrap_or_else(|| {
            provider
                .signing
                .iter()
                .find(|m| m.default && style.signing.contains(&m.id))
                .map(|m| m.id.clone())
                .unwrap_or_else(|| style.signing[0].clone())
        });
        Some((style, signing))
    }

    fn throttle_codes(&self, action: &ActionSpec) -> Vec<String> {
        let t = Trigger::Protocol {
            condition: crate::spec::ProtocolCondition::Throttled,
            note: None,
        };
        self.specs
            .errors_for_trigger(action, &t)
            .into_iter()
            .map(|e| e.code.clone())
            .collect()
    }

    /// Build and send a step's request (paced, retried when throttled).
    async fn send_step(
        &self,
        action: &ActionSpec,
        step: &Step,
        endpoint: &Endpoint,
        bindings: &Bindings,
        creds: &Credentials,
    ) -> Sent {
        let Some(provider) = self.specs.provider(action.provider) else {
            return Sent::Build("no provider spec".into());
        };
        let Some((style, signing)) = self.style_and_signing(provider, step) else {
            return Sent::Build("unknown request style".into());
        };
        let params: Map<String, Value> = step
            .params
            .iter()
            .map(|(k, v)| (k.clone(), bindings.substitute(v)))
            .collect();
        let booleans = step
            .wire
            .boolean
            .as_ref()
            .map(|b| Booleans {
                truthy: b.truthy.clone(),
                falsy: b.falsy.clone(),
            })
            .unwrap_or_default();
        let region_common = action.region.parameter.as_deref().is_some_and(|n| {
            action.parameter(n).is_none() && provider.common_parameters.iter().any(|c| c.name == n)
        });
        let region = (region_common && action.region.required).then(|| bindings.region.clone());
        let build = |now: i64| {
            exec::build(&Call {
                provider,
                action,
                style,
                signing: &signing,
                params: &params,
                booleans: booleans.clone(),
                tamper: step.wire.tamper.as_ref(),
                region: region.clone(),
                credentials: creds,
                endpoint,
                now,
            })
        };
        let throttles = self.throttle_codes(action);
        let expects_throttle = step
            .expect
            .codes()
            .any(|c| throttles.iter().any(|t| t == c));
        if let Some(Tamper::Burst { requests }) = &step.wire.tamper {
            return self.burst(endpoint, *requests, &build, &step.expect).await;
        }
        let mut attempt = 0;
        loop {
            if !self.target.is_emulator() {
                self.pacer
                    .wait(
                        &action.action,
                        action.rate_limit.as_ref().map(|r| r.per_second),
                    )
                    .await;
            }
            let req = match build(crate::sign::clock::unix_now()) {
                Ok(r) => r,
                Err(e) => return Sent::Build(e.to_string()),
            };
            let mut resp = exec::send(&self.client, endpoint, &req, self.opts.timeout).await;
            // A pooled connection the server closed: try once more on a fresh one.
            if matches!(resp, Err(TransportError::Other(_))) {
                resp = exec::send(&self.client, endpoint, &req, self.opts.timeout).await;
            }
            if matches!(step.wire.tamper, Some(Tamper::Replay)) && resp.is_ok() {
                resp = exec::send(&self.client, endpoint, &req, self.opts.timeout).await;
            }
            let resp = match resp {
                Ok(r) => r,
                Err(TransportError::Timeout(d)) => {
                    return Sent::Transport(format!("timed out after {d:?}"))
                }
                Err(e) => return Sent::Transport(e.to_string()),
            };
            let throttled = !expects_throttle
                && serde_json::from_slice::<Value>(&resp.body)
                    .ok()
                    .and_then(|b| Checker::error_code(&b).map(|(_, c)| c))
                    .is_some_and(|c| throttles.contains(&c));
            if throttled && attempt < self.opts.retries {
                attempt += 1;
                tokio::time::sleep(Duration::from_millis(250 << attempt)).await;
                continue;
            }
            return Sent::Ok(req, resp);
        }
    }

    /// Emulator only: turn rate limits on, send a burst, keep the first answer that is the
    /// throttling error (else the last), turn them off.
    async fn burst(
        &self,
        endpoint: &Endpoint,
        requests: usize,
        build: &(dyn Fn(i64) -> Result<RawRequest, exec::BuildError> + Sync),
        expect: &Expect,
    ) -> Sent {
        if let Err(e) = fixtures::control(
            self,
            endpoint,
            "config",
            &serde_json::json!({"rate_limits": true}),
        )
        .await
        {
            return Sent::Transport(e);
        }
        let mut reqs = Vec::new();
        for _ in 0..requests {
            match build(crate::sign::clock::unix_now()) {
                Ok(r) => reqs.push(r),
                Err(e) => return Sent::Build(e.to_string()),
            }
        }
        let sends = reqs.iter().cloned().map(|r| {
            let client = self.client.clone();
            let endpoint = endpoint.clone();
            let timeout = self.opts.timeout;
            async move { exec::send(&client, &endpoint, &r, timeout).await }
        });
        let answers = futures_join_all(sends).await;
        let _ = fixtures::control(
            self,
            endpoint,
            "config",
            &serde_json::json!({"rate_limits": false}),
        )
        .await;
        let wanted: Vec<&str> = expect.codes().collect();
        let mut last = None;
        for (req, a) in reqs.into_iter().zip(answers) {
            let Ok(resp) = a else { continue };
            let code = serde_json::from_slice::<Value>(&resp.body)
                .ok()
                .and_then(|b| Checker::error_code(&b).map(|(_, c)| c));
            if code.is_some_and(|c| wanted.iter().any(|w| crate::check::code_matches(w, &c))) {
                return Sent::Ok(req, resp);
            }
            last = Some((req, resp));
        }
        match last {
            Some((req, resp)) => Sent::Ok(req, resp),
            None => Sent::Transport("every request of the burst failed".into()),
        }
    }

    /// Check one declared effect through its fixture describe call (or, on the emulator, the
    /// world when no API shows it).
    #[allow(clippy::too_many_arguments)]
    async fn observe_effect(
        &self,
        case: &Case,
        action: &ActionSpec,
        step: &Step,
        effect_id: &str,
        endpoint: &Endpoint,
        bindings: &Bindings,
        creds: &Credentials,
    ) -> Result<Option<Finding>, String> {
        let Some((idx, effect)) = action
            .effects
            .iter()
            .enumerate()
            .find(|(_, e)| e.id == effect_id)
        else {
            return Ok(None);
        };
        let file = self.specs.file_of(&action.key()).unwrap_or_default();
        let rule = format!("{file}#/effects/{idx}");
        let syms_of = |s: &Option<crate::spec::Subject>| -> Vec<String> {
            s.as_ref()
                .and_then(|s| s.parameter())
                .and_then(|p| step.params.get(p))
                .map(placeholder_syms)
                .unwrap_or_default()
                .into_iter()
                .filter(|s| bindings.objects.contains_key(s))
                .collect()
        };
        let key_syms = syms_of(&effect.keys);
        let inst_syms = syms_of(&effect.instances);
        let keys: Vec<Bound> = key_syms
            .iter()
            .filter_map(|s| bindings.objects.get(s).cloned())
            .collect();
        let before: Vec<String> = inst_syms
            .iter()
            .filter_map(|s| case.world.instances.iter().find(|i| &i.sym == s))
            .map(|i| i.state.clone())
            .collect();
        match &effect.observe {
            None => Ok(None),
            Some(Observe::Unobservable { .. }) => {
                if !self.target.is_emulator() {
                    return Ok(None);
                }
                // The emulator's world shows what no API does.
                let world = fixtures::get_world(self, endpoint).await?;
                let svc = format!("{}/{}", case.action.provider, case.action.service);
                let ids: Vec<String> = inst_syms
                    .iter()
                    .filter_map(|s| bindings.objects.get(s).map(|b| b.id.clone()))
                    .collect();
                let selected: Vec<Value> = world
                    .pointer(&format!("/services/{}/instances", svc.replace('/', "~1")))
                    .and_then(Value::as_array)
                    .map(|a| {
                        a.iter()
                            .filter(|i| {
                                i.get("id")
                                    .and_then(Value::as_str)
                                    .is_some_and(|id| ids.iter().any(|x| x == id))
                            })
                            .filter_map(|i| match effect.op {
                                crate::spec::EffectOp::SetState
                                | crate::spec::EffectOp::RestoreState => i.get("state").cloned(),
                                _ => i.get("keys").cloned(),
                            })
                            .collect()
                    })
                    .unwrap_or_default();
                Ok(crate::check::effects::evaluate(
                    effect,
                    &rule,
                    "emulator world",
                    &selected,
                    &keys,
                    &before,
                ))
            }
            Some(Observe::Action {
                action: describe,
                select,
            }) => {
                let Some(fixture) = self
                    .specs
                    .find(case.action.provider, &case.action.service, describe)
                    .into_iter()
                    .find(|a| a.version == case.action.version)
                    .cloned()
                else {
                    return Err(format!("no fixture spec for {describe}"));
                };
                let mut given = BTreeMap::new();
                given.insert("instance".to_string(), inst_syms.clone());
                given.insert("key_pair".to_string(), key_syms.clone());
                let params = crate::generate::fixture_params(&self.specs, &fixture, &given)
                    .ok_or_else(|| format!("cannot build a {describe} request"))?;
                let observe_step = Step {
                    action: describe.clone(),
                    params,
                    wire: Default::default(),
                    caller: Default::default(),
                    expect: Expect::Any,
                };
                let (_, resp) = match self
                    .send_step(&fixture, &observe_step, endpoint, bindings, creds)
                    .await
                {
                    Sent::Ok(req, resp) => (req, resp),
                    Sent::Transport(e) => return Err(format!("observing {effect_id}: {e}")),
                    Sent::Build(e) => return Err(format!("observing {effect_id}: {e}")),
                };
                let body: Value = serde_json::from_slice(&resp.body).unwrap_or(Value::Null);
                let selected = if self.checker.is_error(case.action.provider, &body) {
                    match effect.op {
                        // Describing deleted keys may fail with "not found": nothing listed.
                        crate::spec::EffectOp::Delete => vec![],
                        _ => {
                            let code = Checker::error_code(&body).map(|c| c.1).unwrap_or_default();
                            return Ok(Some(Finding {
                                rule,
                                location: format!("{describe} response"),
                                message: format!(
                                    "observing effect {effect_id}: {describe} failed with {code}"
                                ),
                            }));
                        }
                    }
                } else {
                    crate::check::effects::select(&body, select, &BTreeMap::new())
                };
                Ok(crate::check::effects::evaluate(
                    effect,
                    &rule,
                    &format!("{describe} {select}"),
                    &selected,
                    &keys,
                    &before,
                ))
            }
        }
    }
}

/// Symbols named by placeholders in a parameter value (`${i1}`, `${k1.name}`).
pub fn placeholder_syms(v: &Value) -> Vec<String> {
    let mut out = Vec::new();
    let mut visit = |s: &str| {
        let mut rest = s;
        while let Some(i) = rest.find("${") {
            let after = &rest[i + 2..];
            let Some(end) = after.find('}') else { break };
            let key = &after[..end];
            let sym = key.split('.').next().unwrap_or(key);
            if sym != "region" && !out.contains(&sym.to_string()) {
                out.push(sym.to_string());
            }
            rest = &after[end + 1..];
        }
    };
    match v {
        Value::String(s) => visit(s),
        Value::Array(a) => {
            for x in a {
                if let Value::String(s) = x {
                    visit(s)
                }
            }
        }
        _ => {}
    }
    out
}

fn steps_need_emulator(case: &Case) -> bool {
    case.steps
        .iter()
        .any(|s| matches!(s.wire.tamper, Some(Tamper::Burst { .. })))
}

/// Await every future, in order (a small join_all without the futures crate).
async fn futures_join_all<F>(futs: impl Iterator<Item = F>) -> Vec<F::Output>
where
    F: std::future::Future + Send + 'static,
    F::Output: Send + 'static,
{
    let handles: Vec<_> = futs.map(tokio::spawn).collect();
    let mut out = Vec::new();
    for h in handles {
        if let Ok(v) = h.await {
            out.push(v);
        }
    }
    out
}

/// Counts per verdict.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Summary {
    pub total: usize,
    pub passed: usize,
    pub failed: usize,
    pub inconclusive: usize,
    pub expected_failures: usize,
    /// Listed as expected failures but passed.
    pub stale: usize,
}

impl Summary {
    pub fn of(results: &[CaseResult]) -> Summary {
        let mut s = Summary::default();
        for r in results {
            s.add(r);
        }
        s
    }

    /// Count one result: a listed case that passes is stale, a listed failure is expected.
    pub fn add(&mut self, r: &CaseResult) {
        self.total += 1;
        match (&r.verdict, r.expected_failure.is_some()) {
            (Verdict::Pass, false) => self.passed += 1,
            (Verdict::Pass, true) => self.stale += 1,
            (Verdict::Fail { .. }, true) => self.expected_failures += 1,
            (Verdict::Fail { .. }, false) => self.failed += 1,
            (Verdict::Inconclusive { .. }, _) => self.inconclusive += 1,
        }
    }

    /// 0 pass, 1 nonconformance (failures or stale expected failures), 3 inconclusive.
    pub fn exit_code(&self) -> u8 {
        if self.failed > 0 || self.stale > 0 {
            1
        } else if self.inconclusive > 0 {
            3
        } else {
            0
        }
    }
}

/// Mark listed cases; returns the results with `expected_failure` set.
pub fn apply_expected(results: &mut [CaseResult], list: &expected::ExpectedFailures) {
    for r in results.iter_mut() {
        r.expected_failure = list.reason(&r.id).map(str::to_string);
    }
}
