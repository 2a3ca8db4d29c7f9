//! The embedded emulator as a run target: a pool of in-process emulators (one per worker, each
//! with its own world), started through the emulator's public API only. Their worlds are placed
//! and the effects of the cases read in process ([`WorldPlacement`]); the cases' requests reach
//! them over HTTP.
use super::exec::Endpoint;
use super::placement::WorldPlacement;
use super::{Target, TargetKind};
use crate::emulator::{Emulator, EmulatorConfig, EmulatorHandle, ServiceState, World};
use crate::spec::SpecSet;
use std::sync::Arc;

/// An emulator of this process, placed through its public API.
struct InProcess(Emulator);

impl WorldPlacement for InProcess {
    fn reset(&self) -> World {
        self.0.reset();
        self.0.world()
    }

    fn place_service(&self, service: &str, state: ServiceState) -> Result<(), String> {
        self.0
            .set_service(service, state)
            .map_err(|e| e.to_string())
    }

    fn service(&self, service: &str) -> Option<ServiceState> {
        self.0.service(service)
    }

    fn set_rate_limits(&self, on: bool) {
        self.0.set_rate_limits(on)
    }
}

/// The endpoint of an emulator this process started: requests over HTTP, worlds placed and
/// effects read in process (what `run` does; the self-test's in-process mode uses it too).
pub fn in_process_endpoint(handle: &EmulatorHandle) -> Endpoint {
    Endpoint::from_addr(handle.addr)
        .with_placement(Arc::new(InProcess(handle.emulator().clone())))
        .with_direct_connections(handle.addr)
}

/// Start `n` emulators serving `specs` with rate limits off (cases that test throttling turn
/// them on for themselves, in process).
pub async fn start_emulators(
    specs: Arc<SpecSet>,
    n: usize,
) -> Result<(Vec<EmulatorHandle>, Target), String> {
    let mut handles = Vec::new();
    for _ in 0..n.max(1) {
        let h = Emulator::start(EmulatorConfig {
            specs: Some(specs.clone()),
            rate_limits: false,
            ..EmulatorConfig::default()
        })
        .await
        .map_err(|e| format!("emulator: {}", super::exec::error_chain(&e)))?;
        handles.push(h);
    }
    let endpoints = handles.iter().map(in_process_endpoint).collect();
    Ok((
        handles,
        Target {
            name: "emulator".into(),
            kind: TargetKind::Emulator { endpoints },
        },
    ))
}
