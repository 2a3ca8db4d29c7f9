//! Serving emulators for one run of cases: in-process mode reaches them as emulator targets,
//! url mode as a live target with the lending profile.
use super::lend::Lending;
use super::SelfTestError;
use crate::deviate::Deviation;
use crate::emulator::{Emulator, EmulatorConfig};
use crate::generate::Case;
use crate::run::endpoints::Endpoints;
use crate::run::exec::Endpoint;
use crate::run::{CaseResult, RunOptions, Runner, Target, TargetKind};
use crate::spec::SpecSet;
use std::sync::Arc;

/// Run `cases` against emulators serving `deviations` (none: the conforming emulator).
pub(super) async fn run(
    specs: Arc<SpecSet>,
    cases: Vec<Case>,
    deviations: Vec<Deviation>,
    workers: usize,
    lending: Option<&Lending>,
) -> Result<Vec<CaseResult>, SelfTestError> {
    // In url mode one emulator serves the lent world and the runner's workers share it.
    let emulators = if lending.is_some() { 1 } else { workers.max(1) };
    let mut handles = Vec::new();
    for _ in 0..emulators {
        let h = Emulator::start(EmulatorConfig {
            specs: Some(specs.clone()),
            // A live target meets the documented rate limits, as a real service's would be; the
            // runner's own cases switch them on through the control API in-process.
            rate_limits: lending.is_some(),
            world: lending.map(|l| l.world.clone()),
            deviations: deviations.clone(),
            ..EmulatorConfig::default()
        })
        .await
        .map_err(|e| SelfTestError::Emulator(e.to_string()))?;
        handles.push(h);
    }
    let (target, options) = match lending {
        None => (
            Target {
                name: "emulator".into(),
                kind: TargetKind::Emulator {
                    // As `run` reaches its own emulators: worlds placed, effects read in process.
                    endpoints: handles
                        .iter()
                        .map(crate::run::local::in_process_endpoint)
                        .collect(),
                },
            },
            RunOptions::default(),
        ),
        Some(l) => (
            Target {
                name: "emulator".into(),
                kind: TargetKind::Live {
                    endpoints: Endpoints::new("", false)
                        .everything_at(Endpoint::from_addr(handles[0].addr)),
                    credentials: l.credentials.clone(),
                    profile: Box::new(l.profile.clone()),
                },
            },
            RunOptions {
                allow_destructive: true,
                concurrency: workers.max(1),
                denied_credentials: l.denied.clone(),
                temporary_credentials: l.temporary.clone(),
                probe_throttling: true,
                ..RunOptions::default()
            },
        ),
    };
    let runner = Arc::new(
        Runner::new(specs, target, options).map_err(|e| SelfTestError::Runner(e.to_string()))?,
    );
    let results = runner.run_all(cases, Arc::new(|_| {})).await;
    for h in handles {
        let _ = h.shutdown().await;
    }
    Ok(results)
}
