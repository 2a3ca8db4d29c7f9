//! Sending a step's request: pick its request style and signing method, build and sign it with
//! the step's wire tampering, pace it on live targets, and (emulator only) send rate-limit bursts.
//!
//! Retries are safe by construction: a throttling answer (documented as not executed) is retried
//! with jittered backoff honouring `Retry-After`; a refused connection (nothing sent) is retried;
//! a read whose answer was lost is retried; a mutation whose answer was lost (reset, truncated,
//! timed out, a gateway page) is never resent — the case is inconclusive. Answers that are not
//! the provider's envelope (gateway 502/503/504, HTML, empty) are transport faults, not verdicts.
use super::bind::Bindings;
use super::exec::{self, Call, Endpoint, TransportError};
use super::{control_world, Runner};
use crate::check::Checker;
use crate::generate::{Expect, Step, Tamper};
use crate::http::{RawRequest, RawResponse};
use crate::sign::Credentials;
use crate::spec::{ActionSpec, Trigger};
use crate::wire::encode::Booleans;
use serde_json::{Map, Value};
use std::time::Duration;

/// Requests of a throttling burst in flight at once. The client keeps as many idle connections
/// per host (`Runner::new`), so the waves after the first reuse them; a wave is still far
/// quicker than the one-second windows the documented rates are counted in.
pub(super) const BURST_WAVE: usize = 8;

/// Said of a mutation whose answer was lost: the target may have executed it.
pub(super) const MAY_HAVE_RUN: &str = "may have been executed";

/// Outcome of one step before checking.
pub(super) enum Sent {
    Ok(RawRequest, RawResponse),
    Transport(String),
    Build(String),
}

impl Runner {
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

    /// The action's documented throttling codes: looked up once per action of the specs
    /// (`Runner::new`), computed here only for an action from elsewhere.
    fn throttle_codes<'a>(&'a self, action: &ActionSpec) -> std::borrow::Cow<'a, Throttles> {
        match self.throttles.get(&(action as *const ActionSpec as usize)) {
            Some(t) => std::borrow::Cow::Borrowed(t),
            None => std::borrow::Cow::Owned(Throttles::of(&self.specs, action)),
        }
    }

    /// Build and send a step's request (paced, retried when throttled).
    pub(super) async fn send_step(
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
        let expects_throttle = step.expect.codes().any(|c| throttles.contains(c));
        if let Some(Tamper::Burst { requests }) = &step.wire.tamper {
            return self.burst(endpoint, *requests, &build, &step.expect).await;
        }
        // A mutation whose answer is lost may still have been executed: it is never resent.
        // Reads may be; throttling answers (documented as not executed) always may.
        let read = is_read(action);
        let mut attempt = 0;
        loop {
            if !self.target.is_emulator() {
                self.pacer.wait(action).await;
            }
            let req = match build(crate::sign::clock::unix_now()) {
                Ok(r) => r,
                Err(e) => return Sent::Build(e.to_string()),
            };
            self.stats.sent(action);
            let mut resp = exec::send(&self.client, endpoint, &req, self.opts.timeout).await;
            // The replay case sends the identical request again on purpose, but only after a
            // real answer (a lost first answer must not become a duplicate).
            let answered = resp.as_ref().is_ok_and(|r| gateway_fault(r).is_none());
            if matches!(step.wire.tamper, Some(Tamper::Replay)) && answered {
                resp = exec::send(&self.client, endpoint, &req, self.opts.timeout).await;
            }
            if resp.is_ok() {
                self.reach.answered();
            }
            let fault = match resp {
                Ok(resp) => match gateway_fault(&resp) {
                    None => {
                        let retry_in = (!expects_throttle)
                            .then(|| throttled(&resp, &throttles))
                            .flatten();
                        match retry_in {
                            Some(hint) if attempt < self.opts.retries => {
                                attempt += 1;
                                self.stats.throttled();
                                tokio::time::sleep(backoff(attempt, hint)).await;
                                continue;
                            }
                            Some(_) => self.stats.throttled(),
                            None => {}
                        }
                        return Sent::Ok(req, resp);
                    }
                    Some(fault) => fault,
                },
                // Refused before anything was sent: safe to try again for any action.
                Err(e @ TransportError::Connect(_)) => {
                    if attempt < self.opts.retries {
                        attempt += 1;
                        tokio::time::sleep(backoff(attempt, None)).await;
                        continue;
                    }
                    let why = e.to_string();
                    self.reach.failed(&why);
                    return Sent::Transport(why);
                }
                Err(TransportError::Timeout(d)) => {
                    let why = format!("{}: no answer within {d:?}", endpoint.base);
                    self.reach.failed(&why);
                    why
                }
                Err(e) => {
                    let why = format!("answer lost ({e})");
                    self.reach.failed(&why);
                    why
                }
            };
            if read && attempt < self.opts.retries {
                attempt += 1;
                tokio::time::sleep(backoff(attempt, None)).await;
                continue;
            }
            return Sent::Transport(if read {
                fault
            } else {
                format!(
                    "{fault}; {} changes state and {MAY_HAVE_RUN}, so it was not resent",
                    action.action
                )
            });
        }
    }

    /// Send up to `requests` requests in waves of [`BURST_WAVE`] at once and keep the first
    /// answer that is the throttling error the step expects (else the last). Sending stops
    /// after the wave that was throttled: what follows would only be throttled again, and on a
    /// live account every request is the owner's. The embedded emulator throttles only while
    /// the burst runs; any other target is probed as it is.
    async fn burst(
        &self,
        endpoint: &Endpoint,
        requests: usize,
        build: &(dyn Fn(i64) -> Result<RawRequest, exec::BuildError> + Sync),
        expect: &Expect,
    ) -> Sent {
        let emulator = self.target.is_emulator();
        if emulator {
            if let Err(e) = self.set_rate_limits(endpoint, true).await {
                return Sent::Transport(e);
            }
        }
        let sent = self.waves(endpoint, requests, build, expect).await;
        // Off again on every way out, a failed build included.
        if emulator {
            let _ = self.set_rate_limits(endpoint, false).await;
        }
        sent
    }

    /// The burst's requests, wave after wave, until one was throttled as `expect` says.
    async fn waves(
        &self,
        endpoint: &Endpoint,
        requests: usize,
        build: &(dyn Fn(i64) -> Result<RawRequest, exec::BuildError> + Sync),
        expect: &Expect,
    ) -> Sent {
        let wanted: Vec<&str> = expect.codes().collect();
        let mut last = None;
        let mut sent = 0;
        while sent < requests {
            let n = BURST_WAVE.min(requests - sent);
            let mut reqs = Vec::with_capacity(n);
            for _ in 0..n {
                match build(crate::sign::clock::unix_now()) {
                    Ok(r) => reqs.push(r),
                    Err(e) => return Sent::Build(e.to_string()),
                }
            }
            sent += n;
            let sends = reqs.iter().cloned().map(|r| {
                let client = self.client.clone();
                let endpoint = endpoint.clone();
                let timeout = self.opts.timeout;
                async move { exec::send(&client, &endpoint, &r, timeout).await }
            });
            let answers = futures_join_all(sends).await;
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
        }
        match last {
            Some((req, resp)) => Sent::Ok(req, resp),
            None => Sent::Transport("every request of the burst failed".into()),
        }
    }

    /// The embedded emulator's rate limits on or off: in process where the run started it,
    /// else through its control API.
    async fn set_rate_limits(&self, endpoint: &Endpoint, on: bool) -> Result<(), String> {
        if let Some(p) = &endpoint.placement {
            p.0.set_rate_limits(on);
            return Ok(());
        }
        control_world::control(
            self,
            endpoint,
            "config",
            &serde_json::json!({ "rate_limits": on }),
        )
        .await
        .map(|_| ())
    }
}

/// The codes the specs give for a throttled request of an action, each with its search
/// prepared (every answer is screened for them before it is parsed).
#[derive(Clone)]
pub(super) struct Throttles {
    codes: Vec<String>,
    finders: Vec<memchr::memmem::Finder<'static>>,
}

impl Throttles {
    pub(super) fn of(specs: &crate::spec::SpecSet, action: &ActionSpec) -> Throttles {
        let t = Trigger::Protocol {
            condition: crate::spec::ProtocolCondition::Throttled,
            note: None,
            evidence: None,
        };
        let codes: Vec<String> = specs
            .errors_for_trigger(action, &t)
            .into_iter()
            .map(|e| e.code.clone())
            .filter(|c| !c.is_empty())
            .collect();
        let finders = codes
            .iter()
            .map(|c| memchr::memmem::Finder::new(c.as_bytes()).into_owned())
            .collect();
        Throttles { codes, finders }
    }

    fn contains(&self, code: &str) -> bool {
        self.codes.iter().any(|c| c == code)
    }

    /// Whether the body mentions any of the codes (a cheap screen before parsing).
    fn mentioned_in(&self, body: &[u8]) -> bool {
        self.finders.iter().any(|f| f.find(body).is_some())
    }
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

/// Actions that only read: their fixture role is to describe or list. Anything else is treated
/// as a mutation (the safe default for an action the specs do not classify).
fn is_read(action: &ActionSpec) -> bool {
    action.fixture.as_ref().is_some_and(|f| {
        !f.destructive && (f.purpose == "describe" || f.purpose.starts_with("list"))
    })
}

/// An answer that is not the provider's: a gateway's 502/503/504 page, HTML, or nothing. The
/// target was not judged, so it is a transport fault, never a nonconformance.
fn gateway_fault(resp: &RawResponse) -> Option<String> {
    // A JSON object, checked without building it (every answer passes here).
    let object = resp.body.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'{');
    let json = object && serde_json::from_slice::<serde::de::IgnoredAny>(&resp.body).is_ok();
    if json {
        return None;
    }
    let html = resp
        .header("content-type")
        .is_some_and(|c| c.to_ascii_lowercase().contains("text/html"));
    if matches!(resp.status, 502..=504) || html || resp.body.is_empty() {
        return Some(format!(
            "HTTP {} without the provider's envelope ({} bytes{}) from something in between",
            resp.status,
            resp.body.len(),
            if html { ", HTML" } else { "" }
        ));
    }
    None
}

/// `Some(hint)` when the answer is a documented throttling error; the hint is the server's
/// `Retry-After` (seconds), if it gave one.
fn throttled(resp: &RawResponse, throttles: &Throttles) -> Option<Option<Duration>> {
    // Only a body that mentions a throttling code is parsed (every answer passes here).
    if !throttles.mentioned_in(&resp.body) {
        return None;
    }
    let code = serde_json::from_slice::<Value>(&resp.body)
        .ok()
        .and_then(|b| Checker::error_code(&b).map(|(_, c)| c))?;
    if !throttles.contains(&code) {
        return None;
    }
    let hint = resp
        .header("retry-after")
        .and_then(|v| v.trim().parse::<f64>().ok())
        .filter(|s| s.is_finite() && *s >= 0.0)
        .map(|s| Duration::from_secs_f64(s.min(60.0)));
    Some(hint)
}

/// Exponential backoff with full jitter (250 ms × 2^attempt, capped at 8 s), never shorter than
/// the server's hint.
fn backoff(attempt: u32, hint: Option<Duration>) -> Duration {
    let cap = Duration::from_millis(250u64 << attempt.min(5)).min(Duration::from_secs(8));
    let jittered = cap.mul_f64(rand::random::<f64>());
    hint.map_or(jittered, |h| h.max(jittered))
}
