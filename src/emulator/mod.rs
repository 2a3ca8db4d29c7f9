//! The embedded emulator: one HTTP(S) port answering Tencent Cloud CVM/ECM and Alibaba Cloud
//! ECS/ENS key-pair APIs the way the providers document them, from the specs, plus a control API
//! under `/_cloudconform/` (docs/emulator.md).
//!
//! Depends on `spec` (what every action accepts and answers), `sign` (signature verification),
//! `wire` (request decoding) and `http`; never on the runner. Use it over HTTP with
//! [`Emulator::start`], embed its [`Emulator::router`] in another axum app, or call
//! [`Emulator::handle_raw`] in-process.
mod actions;
pub mod auth;
mod codes;
mod control;
mod deviate;
mod dispatch;
pub mod envelope;
mod front;
pub mod fuzz;
mod ratelimit;
mod recording;
pub mod route;
pub mod semantics;
mod server;
pub mod validate;
pub mod world;

pub use auth::AuthSettings;
pub use dispatch::ReadProblem;
pub use recording::Exchange;
pub use server::{EmulatorHandle, TlsFiles};
pub use world::{Account, AccountRole, Image, Instance, KeyPair, ServiceState, World, WorldError};

use crate::http::{RawRequest, RawResponse};
use crate::sign::NonceCache;
use crate::spec::{Provider, SpecError, SpecSet};
use parking_lot::RwLock;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// How to run an emulator.
#[derive(Debug, Clone)]
pub struct EmulatorConfig {
    /// Where to listen (`127.0.0.1:0` picks a free port).
    pub addr: SocketAddr,
    /// The specs to serve (default: [`SpecSet::load_default`]).
    pub specs: Option<Arc<SpecSet>>,
    /// The initial world (default: the state file if it exists, else [`World::default`]).
    pub world: Option<World>,
    /// Load the world from here on start if the file exists; save it after every change and on
    /// shutdown.
    pub state_file: Option<PathBuf>,
    /// Serve HTTPS with this certificate chain and key (PEM).
    pub tls: Option<TlsFiles>,
    /// Enforce the specs' `rate_limit.per_second` (off for fast test runs).
    pub rate_limits: bool,
    /// A fixed "now" (Unix seconds) for signature skew checks; `None` is the system clock.
    pub now: Option<i64>,
    /// How long a client may take to send its request head and body.
    pub request_timeout: Duration,
    /// The envelope for requests that carry no sign of either provider.
    pub default_provider: Provider,
    pub auth: AuthSettings,
    /// When a spec lists several codes for one fault (a documented and a live-observed
    /// spelling), answer with the first of these that applies; else the first listed.
    pub preferred_codes: Vec<String>,
    /// Deviations from the specs to serve (`crate::deviate`); empty for a conforming emulator.
    pub deviations: Vec<crate::deviate::Deviation>,
}

impl Default for EmulatorConfig {
    fn default() -> Self {
        EmulatorConfig {
            addr: SocketAddr::from(([127, 0, 0, 1], 0)),
            specs: None,
            world: None,
            state_file: None,
            tls: None,
            rate_limits: true,
            now: None,
            request_timeout: Duration::from_secs(30),
            default_provider: Provider::Tencent,
            auth: AuthSettings::default(),
            preferred_codes: Vec::new(),
            deviations: Vec::new(),
        }
    }
}

/// Why an emulator could not start.
#[derive(Debug, thiserror::Error)]
pub enum EmulatorError {
    #[error(transparent)]
    Specs(#[from] SpecError),
    #[error("the specs have no provider spec for {0}")]
    MissingProvider(Provider),
    #[error(transparent)]
    World(#[from] WorldError),
    // The cause is the `source`, printed by whoever prints the chain (not twice).
    #[error("cannot listen on {addr}")]
    Bind {
        addr: SocketAddr,
        #[source]
        source: std::io::Error,
    },
    #[error("TLS: {0}")]
    Tls(String),
}

/// Settings the control API may change at run time.
#[derive(Debug, Clone)]
pub(crate) struct Settings {
    pub rate_limits: bool,
    pub now: Option<i64>,
    pub auth: AuthSettings,
    pub preferred_codes: Vec<String>,
}

/// State shared by every request.
pub(crate) struct Shared {
    pub specs: Arc<SpecSet>,
    pub config: EmulatorConfig,
    pub settings: RwLock<Settings>,
    /// Read-locked by actions without effects (they answer side by side), write-locked by the
    /// rest and by the control API.
    pub world: RwLock<World>,
    pub nonces: NonceCache,
    pub limiter: ratelimit::RateLimiter,
    pub formats: validate::Formats,
    /// Every action's compiled answer plan.
    pub(crate) plans: actions::write::Plans,
    /// Bumped on every world change; the state-file saver watches it.
    pub generation: AtomicU64,
    pub changed: tokio::sync::Notify,
    pub recorder: recording::Recorder,
    /// The generation the state file holds (loaded or last saved). Kept here, not in the saver
    /// task, so a change made before the saver first runs still differs from it.
    pub saved: tokio::sync::watch::Sender<u64>,
}

impl Shared {
    pub fn world_changed(&self) {
        self.generation.fetch_add(1, Ordering::SeqCst);
        self.changed.notify_one();
    }

    /// A fresh id for a created resource, in the format the specs give ids of that kind in this
    /// service (e.g. `skey-` + 8 lower-case alphanumerics).
    pub fn new_id(&self, provider: Provider, service: &str, kind: &str, world: &World) -> String {
        let pspec = self.specs.provider(provider);
        // The format of a parameter naming such a resource by id: in this service, else in
        // another service of the provider (ECS has none for key pairs; ENS's `ssh-` applies).
        let id_format = |same_service: bool| {
            self.specs
                .actions()
                .filter(|a| a.provider == provider)
                .filter(|a| format!("{provider}/{}", a.service) == service || !same_service)
                .flat_map(|a| a.parameters.iter())
                .find(|p| {
                    p.references
                        .as_ref()
                        .is_some_and(|r| r.resource == kind && r.by == crate::spec::RefBy::Id)
                })
                .and_then(|p| p.value_format().map(str::to_string))
        };
        let format = id_format(true)
            .or_else(|| id_format(false))
            .and_then(|f| pspec.and_then(|ps| ps.formats.get(&f)).cloned());
        let (prefix, len) = match &format {
            Some(f) => (
                f.prefix.clone().unwrap_or_default(),
                f.body_length.unwrap_or(16),
            ),
            None => (format!("{}-", kind.replace('_', "")), 8),
        };
        let taken = |id: &str| {
            world.services.values().any(|s| {
                s.key_pairs.iter().any(|k| k.id == id)
                    || s.instances.iter().any(|i| i.id == id)
                    || s.images.iter().any(|i| i.id == id)
            })
        };
        const ALPHABET: &[u8] = b"0123456789abcdefghijklmnopqrstuvwxyz";
        loop {
            let body: String = (0..len)
                .map(|_| ALPHABET[rand::random_range(0..ALPHABET.len())] as char)
                .collect();
            let id = format!("{prefix}{body}");
            if !taken(&id) {
                return id;
            }
        }
    }
}

/// An emulator: the specs, the world and the settings, ready to answer requests. Cheap to
/// clone (shared state).
#[derive(Clone)]
pub struct Emulator {
    pub(crate) shared: Arc<Shared>,
}

impl Emulator {
    /// Build an emulator without listening anywhere.
    pub fn new(config: EmulatorConfig) -> Result<Emulator, EmulatorError> {
        let specs = match &config.specs {
            Some(s) => s.clone(),
            None => Arc::new(SpecSet::load_default()?),
        };
        for p in Provider::ALL {
            if specs.provider(p).is_none() {
                return Err(EmulatorError::MissingProvider(p));
            }
        }
        let world = match (&config.world, &config.state_file) {
            (Some(w), _) => {
                w.check()?;
                w.clone()
            }
            (None, Some(path)) if path.exists() => World::load(path)?,
            _ => World::default(),
        };
        let settings = Settings {
            rate_limits: config.rate_limits,
            now: config.now,
            auth: config.auth.clone(),
            preferred_codes: config.preferred_codes.clone(),
        };
        let formats = validate::Formats::compile(&specs);
        let plans = actions::write::Plans::compile(&specs);
        Ok(Emulator {
            shared: Arc::new(Shared {
                specs,
                settings: RwLock::new(settings),
                world: RwLock::new(world),
                nonces: NonceCache::new(),
                limiter: ratelimit::RateLimiter::new(),
                formats,
                plans,
                generation: AtomicU64::new(0),
                changed: tokio::sync::Notify::new(),
                recorder: recording::Recorder::default(),
                saved: tokio::sync::watch::Sender::new(0),
                config,
            }),
        })
    }

    /// Build and serve on `config.addr` (port 0 picks one); see [`EmulatorHandle`].
    pub async fn start(config: EmulatorConfig) -> Result<EmulatorHandle, EmulatorError> {
        let emulator = Emulator::new(config)?;
        server::serve(emulator).await
    }

    /// The axum router (cloud APIs on every path, control API under `/_cloudconform/`) for
    /// embedding. Request-head timeouts and TLS are the embedding server's business; body reads
    /// are bounded by the size limits and `request_timeout` here.
    pub fn router(&self) -> axum::Router {
        server::router(self.clone())
    }

    /// Answer one cloud request in-process (no HTTP), exactly as the server would.
    pub fn handle_raw(&self, request: RawRequest) -> RawResponse {
        dispatch::handle(&self.shared, request, None)
    }

    /// [`Emulator::handle_raw`] with success bodies built by the reference filler (a `Value`
    /// tree, serialised): the oracle the direct writer is tested against.
    #[doc(hidden)]
    pub fn handle_raw_reference(&self, request: RawRequest) -> RawResponse {
        dispatch::handle_with(&self.shared, request, None, dispatch::Filler::Reference)
    }

    pub fn specs(&self) -> &Arc<SpecSet> {
        &self.shared.specs
    }

    /// A copy of the current world.
    pub fn world(&self) -> World {
        self.shared.world.read().clone()
    }

    /// Replace the world (checked first). Forgets nonces and rate-limit windows.
    pub fn set_world(&self, world: World) -> Result<(), WorldError> {
        world.check()?;
        *self.shared.world.write() = world;
        self.shared.nonces.clear();
        self.shared.limiter.clear();
        self.shared.world_changed();
        Ok(())
    }

    /// Replace one service's state (`provider/service`, checked first), keeping the accounts,
    /// regions and other services: what an in-process runner places per case instead of a whole
    /// world. Forgets nonces and rate-limit windows, like [`Emulator::set_world`].
    pub fn set_service(&self, service: &str, state: ServiceState) -> Result<(), WorldError> {
        let mut problems = Vec::new();
        world::check_service(service, &state, &mut problems);
        if !problems.is_empty() {
            return Err(WorldError::Invalid(problems));
        }
        let mut guard = self.shared.world.write();
        let old = match guard.services.get_mut(service) {
            Some(slot) => std::mem::replace(slot, state),
            None => {
                guard.services.insert(service.to_string(), state);
                ServiceState::default()
            }
        };
        drop(guard);
        // The replaced state is freed outside the lock.
        drop(old);
        self.shared.nonces.clear();
        self.shared.limiter.clear();
        self.shared.world_changed();
        Ok(())
    }

    /// A copy of one service's current state.
    pub fn service(&self, service: &str) -> Option<ServiceState> {
        self.shared.world.read().services.get(service).cloned()
    }

    /// Back to the default world.
    pub fn reset(&self) {
        self.set_world(World::default())
            .expect("the default world is consistent");
    }

    /// Fix "now" (Unix seconds) for skew checks, or follow the system clock again.
    pub fn set_clock(&self, now: Option<i64>) {
        self.shared.settings.write().now = now;
    }

    pub fn set_rate_limits(&self, on: bool) {
        self.shared.settings.write().rate_limits = on;
    }

    /// Current "now" as the emulator sees it.
    pub fn now(&self) -> i64 {
        self.shared
            .settings
            .read()
            .now
            .unwrap_or_else(crate::sign::clock::unix_now)
    }

    /// Save the world to the state file, if one is configured.
    pub fn save(&self) -> Result<(), WorldError> {
        if let Some(path) = &self.shared.config.state_file {
            // Read the generation before copying the world: a change bumps it only after its
            // mutation, so the copy holds at least every change up to this generation.
            let generation = self.shared.generation.load(Ordering::SeqCst);
            let snapshot = self.world();
            snapshot.save(path)?;
            self.shared.saved.send_modify(|s| *s = (*s).max(generation));
        }
        Ok(())
    }

    /// Wait until the state file holds every change made before this call (returns at once
    /// without a state file). The saver writes asynchronously; tests and embedders that read
    /// the file wait here instead of polling it.
    pub async fn wait_saved(&self) {
        if self.shared.config.state_file.is_none() {
            return;
        }
        let wanted = self.shared.generation.load(Ordering::SeqCst);
        let mut saved = self.shared.saved.subscribe();
        let _ = saved.wait_for(|s| *s >= wanted).await;
    }
}
