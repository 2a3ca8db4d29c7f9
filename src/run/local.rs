//! The embedded emulator as a run target: a pool of in-process emulators (one per worker, each
//! with its own world), started through the emulator's public API only.
use super::exec::Endpoint;
use super::{Target, TargetKind};
use crate::emulator::{Emulator, EmulatorConfig, EmulatorHandle};
use crate::spec::SpecSet;
use std::sync::Arc;

/// Start `n` emulators serving `specs` with rate limits off (cases that test throttling turn
/// them on for themselves through the control API).
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
    let endpoints = handles
        .iter()
        .map(|h| Endpoint::from_addr(h.addr))
        .collect();
    Ok((
        handles,
        Target {
            name: "emulator".into(),
            kind: TargetKind::Emulator { endpoints },
        },
    ))
}
