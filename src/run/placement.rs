//! World placement in process: an emulator the run started itself takes each case's world
//! directly, without HTTP. The case's API requests still go over real HTTP (the wire is what is
//! under test); putting a world in place is not under test, and through the control API it cost
//! a PUT of the whole world per case. The code that starts the emulators (`local`) implements
//! [`WorldPlacement`] through the emulator's public API; an emulator reached by URL only (behind
//! a proxy, in another process) has none, and its worlds go through the control API.
use crate::emulator::{ServiceState, World};
use std::fmt;
use std::sync::Arc;

/// Putting worlds into one emulator without HTTP.
pub trait WorldPlacement: Send + Sync {
    /// Back to the emulator's default world; that world, account secrets included.
    fn reset(&self) -> World;
    /// Replace one service's state (`provider/service`), checked by the emulator. Every other
    /// service, the accounts and the regions stay as they are (no case touches them); nonces
    /// and rate-limit windows are forgotten, as with a new world.
    fn place_service(&self, service: &str, state: ServiceState) -> Result<(), String>;
    /// One service's state as it is now (what no API shows, for effects observed in the world).
    fn service(&self, service: &str) -> Option<ServiceState>;
    /// Turn the documented request rates on or off (the throttling cases' bursts).
    fn set_rate_limits(&self, on: bool);
}

/// An endpoint's in-process placement, if it has one (compared by identity).
#[derive(Clone)]
pub struct Placement(pub Arc<dyn WorldPlacement>);

impl fmt::Debug for Placement {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Placement(in process)")
    }
}

impl PartialEq for Placement {
    fn eq(&self, other: &Placement) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }
}

impl Eq for Placement {}
