//! Sending a step's request: pick its request style and signing method, build and sign it with
//! the step's wire tampering, pace it on live targets, resend once on a stale pooled connection,
//! retry throttled answers with backoff, and (emulator only) send rate-limit bursts.
use super::bind::Bindings;
use super::exec::{self, Call, Endpoint, TransportError};
use super::{fixtures, Runner};
use crate::check::Checker;
use crate::generate::{Expect, Step, Tamper};
use crate::http::{RawRequest, RawResponse};
use crate::sign::Credentials;
use crate::spec::{ActionSpec, Trigger};
use crate::wire::encode::Booleans;
use serde_json::{Map, Value};
use std::time::Duration;

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

    fn throttle_codes(&self, action: &ActionSpec) -> Vec<String> {
        let t = Trigger::Protocol {
            condition: crate::spec::ProtocolCondition::Throttled,
            note: None,
            evidence: None,
        };
        self.specs
            .errors_for_trigger(action, &t)
            .into_iter()
            .map(|e| e.code.clone())
            .collect()
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
                Ok(r) => {
                    self.reach.answered();
                    r
                }
                Err(e) => {
                    let why = match e {
                        TransportError::Timeout(d) => {
                            format!("{}: no answer within {d:?}", endpoint.base)
                        }
                        e => e.to_string(),
                    };
                    self.reach.failed(&why);
                    return Sent::Transport(why);
                }
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
        // The embedded emulator throttles only when asked; any other target is probed as is.
        let emulator = self.target.is_emulator();
        if emulator {
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
        if emulator {
            let _ = fixtures::control(
                self,
                endpoint,
                "config",
                &serde_json::json!({"rate_limits": false}),
            )
            .await;
        }
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
