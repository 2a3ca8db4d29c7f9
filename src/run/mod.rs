//! The runner: realise each case's world, send its requests (encoded, signed, tampered as the
//! case asks), check the answers and the declared effects, and give each case a verdict.
//!
//! Cases run concurrently across independent worlds: against the embedded emulator each worker
//! owns one emulator instance (isolated worlds, reset per case through the control API);
//! against any other endpoint the worlds are built with the spec's fixture actions, cases that
//! use the target profile's instances are serialised, and each action is paced at its spec
//! `rate_limit.per_second`. Throttling answers are retried with backoff; transport failures
//! make a case inconclusive, never failed, and a target that never answers stops `run_all`
//! early. Emulators and loopback targets are never reached through a proxy. Depends on `spec`, `generate`, `wire`, `sign`,
//! `check` and `http`; never on the emulator's internals (only its public control API).
//!
//! Layout: `runner` drives cases (workers, world, verdict), `steps` runs one step, `observe`
//! checks its declared effects, `send` builds, paces, retries and bursts a step's request (`exec` sends it with
//! reqwest, or over `direct` connections to an emulator the run started), `control_world` places
//! worlds through the emulator's control API, `built_world` builds them on any other endpoint
//! with `fixture_calls` (documented calls chosen by purpose) on what `profile` lends (claims on
//! lent instances), `shrink` shrinks exploration failures, `record` keeps scrubbed
//! exchanges and `summary` tallies verdicts (pass, fail, divergence, inconclusive).
pub mod bench;
mod built_world;
pub mod cleanup;
mod control_world;
mod direct;
pub mod endpoints;
pub mod exec;
pub mod expected;
mod fixture_calls;
pub mod harness;
pub mod ledger;
pub mod local;
mod observe;
mod pace;
pub mod placement;
pub mod plan;
pub mod profile;
pub mod profile_schema;
mod record;
pub mod recorded;
mod runner;
pub mod sandbox;
mod send;
mod shrink;
mod steps;
mod summary;

use crate::check::Verdict;
use crate::generate::{Case, CaseKind};
use crate::http::RawResponse;
use crate::sign::Credentials;
use crate::spec::Provider;
use bind::Bindings;
use exec::Endpoint;
use serde::Serialize;
use std::collections::BTreeMap;
use std::time::Duration;

/// Bindings are case vocabulary (`generate::bind`); re-exported for the runner's modules.
pub use crate::generate::bind;
/// The service state a case's world places on an emulator (shared with `sdk`).
pub use control_world::service_state;
pub use record::{Exchange, RequestRecord, ResponseRecord};
pub use runner::Runner;
pub use shrink::shrink_failures;
// Private: `built_world`, `fixture_calls` and `bench` send fixture and raw requests through the runner.
use send::Sent;
pub use steps::placeholder_syms;
pub use summary::{apply_expected, Summary};

/// What the runner talks to.
#[derive(Debug, Clone)]
pub enum TargetKind {
    /// Emulator instances with the control API, one per worker.
    Emulator { endpoints: Vec<Endpoint> },
    /// Anything else: worlds are built with fixture actions, within the profile. Each case
    /// goes to its action's endpoint, signed with its provider's credentials.
    Live {
        endpoints: endpoints::Endpoints,
        credentials: BTreeMap<Provider, Credentials>,
        profile: Box<profile::Profile>,
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

    /// Emulators, and live endpoints on a loopback host (`127.0.0.0/8`, `::1`, `localhost`):
    /// never reached through a proxy.
    pub fn is_loopback(&self) -> bool {
        match &self.kind {
            TargetKind::Emulator { .. } => true,
            TargetKind::Live { endpoints, .. } => endpoints.all_loopback(),
        }
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
    /// Extra trusted root certificates (PEM, read by the CLI from `--ca-cert`), for HTTPS
    /// endpoints behind a private CA or with a self-signed certificate.
    pub ca_cert_pem: Option<Vec<u8>>,
    /// Live runs: credentials of a sub-user whose policy allows nothing (denied-caller cases).
    pub denied_credentials: Option<Credentials>,
    /// Live runs: temporary credentials (an access key with its session token) for the
    /// missing-token cases; without them the run's own serve if they carry a token.
    pub temporary_credentials: Option<Credentials>,
    /// Live runs: run the throttling cases (a burst over the documented rate) at the end.
    pub probe_throttling: bool,
    /// Emulators this run started: observe effects through their documented describe calls
    /// over HTTP, as on a URL, instead of reading the state in process (`observe`).
    pub observe_through_api: bool,
    /// Exploration: a passing result keeps its verdict, not its exchanges, answer or bindings
    /// (memory flat in the number of cases; failures keep everything for reports and shrinking).
    pub slim_passing: bool,
}

impl Default for RunOptions {
    fn default() -> Self {
        RunOptions {
            concurrency: 4,
            timeout: Duration::from_secs(15),
            retries: 3,
            allow_destructive: false,
            ca_cert_pem: None,
            denied_credentials: None,
            temporary_credentials: None,
            probe_throttling: false,
            observe_through_api: false,
            slim_passing: false,
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
    /// Drop what only a failure's report needs (exchanges, the last answer, the bindings).
    fn slim(&mut self) {
        self.exchanges = Vec::new();
        self.last_response = None;
        self.bindings = Bindings::default();
    }

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
    #[error("--ca-cert: {0}")]
    CaCert(String),
}
