//! The run: start the emulator in recording mode, then for each adapter say hello, offer every
//! applicable case under every method it can use, judge each call, and keep going whatever the
//! adapter does (a crashed or hung adapter is restarted for the next call).
use super::adapter::{Adapter, Fault};
use super::expected::SdkExpected;
use super::judge::{self, Method, WireCall};
use super::protocol::{self, CaseMsg, Credentials, Endpoint, Hello, HelloReply, Identity, Outcome};
use super::{
    AdapterReport, AdapterStatus, CallResult, SdkOptions, SdkReport, SdkRunError, Verdict,
};
use crate::check::Checker;
use crate::emulator::{AccountRole, Emulator, EmulatorConfig, World};
use crate::generate::Case;
use crate::spec::{Provider, SpecSet};
use serde_json::{Map, Value};

/// Restarts allowed per adapter before the rest of its calls are given up.
const MAX_RESTARTS: usize = 5;

/// Run every adapter through the cases.
pub fn run(opts: &SdkOptions) -> Result<SdkReport, SdkRunError> {
    let schemas = protocol::Schemas::load(&protocol::schema_dir()).map_err(SdkRunError::Schemas)?;
    let checker = Checker::new(opts.specs.clone()).map_err(SdkRunError::Checker)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| SdkRunError::Emulator(e.to_string()))?;
    let handle = runtime
        .block_on(Emulator::start(EmulatorConfig {
            specs: Some(opts.specs.clone()),
            rate_limits: false,
            ..EmulatorConfig::default()
        }))
        .map_err(|e| SdkRunError::Emulator(e.to_string()))?;
    let emulator: Emulator = (*handle).clone();
    let root = World::default()
        .accounts
        .into_iter()
        .find(|a| a.role == AccountRole::Root && a.provider == Provider::Tencent)
        .ok_or_else(|| SdkRunError::Emulator("the default world has no root account".into()))?;
    let hello = Hello {
        kind: Default::default(),
        protocol: protocol::VERSION,
        endpoint: Endpoint {
            url: handle.url(),
            host: handle.host(),
            scheme: handle.scheme.to_string(),
        },
        credentials: Credentials {
            access_key_id: root.access_key_id.clone(),
            secret: root.secret.clone(),
        },
        regions: Provider::ALL
            .iter()
            .map(|p| (p.to_string(), Value::from(super::world::default_region(*p))))
            .collect(),
    };
    let mut ctx = Ctx {
        opts,
        schemas: &schemas,
        checker: &checker,
        emulator: &emulator,
        hello: &hello,
        credentials: crate::sign::Credentials::new(root.access_key_id, root.secret),
    };
    let mut adapters = Vec::new();
    for command in &opts.adapters {
        adapters.push(ctx.run_adapter(command)?);
    }
    emulator.set_recording(false);
    drop(handle);
    runtime.shutdown_background();
    Ok(SdkReport {
        protocol: protocol::VERSION,
        adapters,
    })
}

struct Ctx<'a> {
    opts: &'a SdkOptions,
    schemas: &'a protocol::Schemas,
    checker: &'a Checker,
    emulator: &'a Emulator,
    hello: &'a Hello,
    credentials: crate::sign::Credentials,
}

impl Ctx<'_> {
    /// Start the adapter and get through the hello.
    fn start(&self, command: &str) -> Result<(Adapter, HelloReply), Fault> {
        let mut adapter =
            Adapter::spawn(command, &self.opts.workdir, &self.hello.credentials.secret)?;
        let hello = serde_json::to_value(self.hello).unwrap_or_default();
        adapter.send(&hello)?;
        let line = adapter.receive(self.opts.hello_timeout)?;
        let reply = self
            .schemas
            .hello_reply(&line)
            .map_err(|problem| adapter.garbage(line.as_bytes(), &problem))?;
        Ok((adapter, reply))
    }

    fn run_adapter(&mut self, command: &str) -> Result<AdapterReport, SdkRunError> {
        let mut report = AdapterReport {
            command: command.to_string(),
            identity: None,
            status: AdapterStatus::Ran,
            results: Vec::new(),
        };
        let (first, identity) = match self.start(command) {
            Err(fault) => {
                report.status = AdapterStatus::Fault {
                    fault: fault.to_string(),
                };
                return Ok(report);
            }
            Ok((_, HelloReply::Unavailable { reason })) => {
                report.status = AdapterStatus::Unavailable { reason };
                return Ok(report);
            }
            Ok((adapter, HelloReply::Identity(identity))) => (adapter, identity),
        };
        report.identity = Some(identity.clone());
        let expected = SdkExpected::load(&self.opts.expected_dir, &identity.sdk)
            .map_err(SdkRunError::Expected)?;
        let mut session = Some(first);
        let mut restarts = 0;
        let calls = self.calls(&identity);
        eprintln!(
            "cloudconform sdk: {} {}: {} call(s)",
            identity.sdk,
            identity.version,
            calls.len()
        );
        for (case, method) in calls {
            if session.is_none() {
                if restarts >= MAX_RESTARTS {
                    report.results.push(CallResult {
                        case: case.id.clone(),
                        method: method.to_string(),
                        verdict: Verdict::AdapterFault {
                            fault: format!("not run: the adapter failed {MAX_RESTARTS} restarts"),
                        },
                        requests: 0,
                    });
                    continue;
                }
                restarts += 1;
                match self.start(command) {
                    Ok((adapter, HelloReply::Identity(again))) if again == identity => {
                        session = Some(adapter)
                    }
                    Ok(_) => {
                        report.results.push(CallResult {
                            case: case.id.clone(),
                            method: method.to_string(),
                            verdict: Verdict::AdapterFault {
                                fault: "after a restart the adapter answered the hello differently"
                                    .into(),
                            },
                            requests: 0,
                        });
                        continue;
                    }
                    Err(fault) => {
                        report.results.push(CallResult {
                            case: case.id.clone(),
                            method: method.to_string(),
                            verdict: Verdict::AdapterFault {
                                fault: format!("restart failed: {fault}"),
                            },
                            requests: 0,
                        });
                        continue;
                    }
                }
            }
            let adapter = session.as_mut().expect("started above");
            let (verdict, requests, alive) = self.call(adapter, case, &method);
            if !alive {
                session = None;
            }
            report.results.push(CallResult {
                case: case.id.clone(),
                method: method.to_string(),
                verdict: apply_expected(&expected, &case.id, &method, verdict),
                requests,
            });
        }
        if let Some(adapter) = session {
            adapter.finish();
        }
        if self.opts.complete {
            // An entry no call matched names a case or method that no longer exists.
            for entry in &expected.failures {
                let used = report.results.iter().any(|r| {
                    expected
                        .entry(&r.case, &r.method)
                        .is_some_and(|e| std::ptr::eq(e, entry))
                });
                if !used {
                    report.results.push(CallResult {
                        case: entry.case.clone(),
                        method: entry.method.clone().unwrap_or_else(|| "*".into()),
                        verdict: Verdict::Stale {
                            behaviour: format!("{} (no call matches this entry)", entry.behaviour),
                        },
                        requests: 0,
                    });
                }
            }
        }
        Ok(report)
    }

    /// Every (case, method) the adapter can be asked: its actions, its methods the case's
    /// provider defines (and the command line allows), applicable cases only.
    fn calls<'c>(&'c self, identity: &Identity) -> Vec<(&'c Case, Method)> {
        let mut out = Vec::new();
        for case in self
            .opts
            .cases
            .iter()
            .filter(|c| super::world::applicable(c))
        {
            if !identity.actions.contains(&case.action.to_string()) {
                continue;
            }
            let Some(pspec) = self.opts.specs.provider(case.action.provider) else {
                continue;
            };
            for m in &identity.methods {
                let Some(method) = Method::parse(m) else {
                    continue;
                };
                let allowed = self.opts.methods.is_empty() || self.opts.methods.contains(m);
                if allowed && method.offered_by(pspec) {
                    out.push((case, method));
                }
            }
        }
        out
    }

    /// One call: realise the world, send the case, judge. Returns the verdict, the number of
    /// requests the SDK sent, and whether the adapter is still usable.
    fn call(&self, adapter: &mut Adapter, case: &Case, method: &Method) -> (Verdict, usize, bool) {
        let specs: &SpecSet = &self.opts.specs;
        let (Some(action), Some(pspec)) = (
            specs.action(&case.action),
            specs.provider(case.action.provider),
        ) else {
            let fault = format!("no spec for {}", case.action);
            return (Verdict::Skip { reason: fault }, 0, true);
        };
        let bindings = match super::world::realise(self.emulator, action, case) {
            Ok(b) => b,
            Err(reason) => return (Verdict::Skip { reason }, 0, true),
        };
        let step = &case.steps[0];
        let params = match bindings.substitute(&Value::Object(step.params.clone())) {
            Value::Object(m) => m,
            _ => Map::new(),
        };
        let encodings: Map<String, Value> = action
            .parameters
            .iter()
            .filter_map(|p| {
                let e = serde_json::to_value(p.encoding?).ok()?;
                Some((p.name.clone(), e))
            })
            .collect();
        let id = format!("{}#{method}", case.id);
        let message = CaseMsg {
            kind: Default::default(),
            id: id.clone(),
            provider: case.action.provider.to_string(),
            service: case.action.service.clone(),
            version: case.action.version.clone(),
            action: case.action.action.clone(),
            region: bindings.region.clone(),
            params: params.clone(),
            encodings,
            method: method.to_string(),
        };
        self.emulator.take_recording();
        self.emulator.set_recording(true);
        let answer = adapter
            .send(&serde_json::to_value(&message).unwrap_or_default())
            .and_then(|_| adapter.receive(self.opts.case_timeout));
        self.emulator.set_recording(false);
        let exchanges = self.emulator.take_recording();
        let requests = exchanges.len();
        let fault = |f: Fault| Verdict::AdapterFault {
            fault: f.to_string(),
        };
        let line = match answer {
            Ok(line) => line,
            Err(f) => return (fault(f), requests, false),
        };
        let result = match self.schemas.result(&line) {
            Ok(r) if r.id == id => r,
            Ok(r) => {
                let problem = format!("a result for `{}` while `{id}` was asked", r.id);
                return (
                    fault(adapter.garbage(line.as_bytes(), &problem)),
                    requests,
                    false,
                );
            }
            Err(problem) => {
                return (
                    fault(adapter.garbage(line.as_bytes(), &problem)),
                    requests,
                    false,
                )
            }
        };
        match &result.outcome {
            Outcome::Skipped { reason } => {
                return (
                    Verdict::Skip {
                        reason: reason.clone(),
                    },
                    requests,
                    true,
                )
            }
            Outcome::Errored { reason } => {
                let fault = format!("the adapter failed on this case: {reason}");
                return (Verdict::AdapterFault { fault }, requests, true);
            }
            _ => {}
        }
        let action_file = specs.file_of(&case.action.clone()).unwrap_or_default();
        let wire_call = WireCall {
            provider: pspec,
            action,
            action_file,
            params: &params,
            method,
            credentials: &self.credentials,
        };
        let mut findings = judge::wire(&wire_call, exchanges.first());
        if let Some(last) = exchanges.last() {
            findings.extend(super::surface::judge(
                case.action.provider,
                action_file,
                last,
                &result.outcome,
            ));
            if findings.is_empty() {
                findings.extend(
                    self.checker
                        .check(action, &step.expect, &last.response, &bindings)
                        .into_iter()
                        .map(|f| judge::SdkFinding {
                            layer: judge::Layer::Answer,
                            rule: f.rule,
                            message: format!("{} at {}", f.message, f.location),
                        }),
                );
            }
        }
        let verdict = if findings.is_empty() {
            Verdict::Pass
        } else {
            Verdict::Fail { findings }
        };
        (verdict, requests, true)
    }
}

/// Turn a failure the SDK's list expects into an expected failure, and a listed pass into a
/// stale entry.
fn apply_expected(list: &SdkExpected, case: &str, method: &Method, verdict: Verdict) -> Verdict {
    let Some(entry) = list.entry(case, &method.to_string()) else {
        return verdict;
    };
    match verdict {
        Verdict::Fail { findings } if findings.iter().any(|f| f.layer == entry.layer) => {
            Verdict::ExpectedFailure {
                findings,
                behaviour: entry.behaviour.clone(),
            }
        }
        Verdict::Pass => Verdict::Stale {
            behaviour: entry.behaviour.clone(),
        },
        other => other,
    }
}
