//! Validating third-party SDKs: `cloudconform sdk`. An adapter program per SDK is driven over
//! the versioned JSON-lines testee protocol (docs/testee-protocol.md) while the embedded
//! emulator, in recording mode, keeps what the SDK put on the wire. Each call is judged on two
//! layers: the wire request against the spec and the case ([`judge`]), and the SDK's view of
//! the answer against what the endpoint sent ([`surface`]).
//!
//! Sits beside `run` in the data flow: uses `spec`, `generate` (cases), `sign`, `wire`, `check`
//! and the emulator's public API; nothing depends on it.
pub mod adapter;
pub mod expected;
pub mod judge;
pub mod matrix;
pub mod protocol;
mod session;
pub mod surface;
pub mod world;

pub use judge::{Layer, Method, SdkFinding};
pub use session::run;

use protocol::Identity;
use serde::Serialize;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

/// What `cloudconform sdk` runs.
#[derive(Clone)]
pub struct SdkOptions {
    /// Adapter commands (`sh -c`), one matrix column group each.
    pub adapters: Vec<String>,
    pub specs: Arc<crate::spec::SpecSet>,
    /// The cases to offer (already filtered); those an SDK cannot express are left out.
    pub cases: Vec<crate::generate::Case>,
    /// Only these `style/signing` methods (empty: every method the adapter offers).
    pub methods: Vec<String>,
    pub case_timeout: Duration,
    /// The first answer may take long: adapters create their environment on first use.
    pub hello_timeout: Duration,
    /// Where the expected-failure lists are (`adapters/expected-failures`).
    pub expected_dir: PathBuf,
    /// The adapters' working directory.
    pub workdir: PathBuf,
    /// Every case was offered (no filter): an expected-failure entry that matches no call at
    /// all is then stale too.
    pub complete: bool,
}

/// The verdict on one call (a case under one method).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "verdict", rename_all = "snake_case")]
pub enum Verdict {
    Pass,
    Fail {
        findings: Vec<SdkFinding>,
    },
    /// Fails as the SDK's expected-failure list says.
    ExpectedFailure {
        findings: Vec<SdkFinding>,
        behaviour: String,
    },
    /// Listed as an expected failure but passed: fails the run.
    Stale {
        behaviour: String,
    },
    /// The adapter cannot express the case with this SDK.
    Skip {
        reason: String,
    },
    /// The adapter broke the protocol or failed by itself: not a judgement of the SDK.
    AdapterFault {
        fault: String,
    },
}

impl Verdict {
    pub fn label(&self) -> &'static str {
        match self {
            Verdict::Pass => "pass",
            Verdict::Fail { .. } => "fail",
            Verdict::ExpectedFailure { .. } => "xfail",
            Verdict::Stale { .. } => "stale",
            Verdict::Skip { .. } => "skip",
            Verdict::AdapterFault { .. } => "adapter-fault",
        }
    }

    /// One line: the first divergence, the reason, or the fault.
    pub fn first_divergence(&self) -> String {
        match self {
            Verdict::Pass => String::new(),
            Verdict::Fail { findings } | Verdict::ExpectedFailure { findings, .. } => findings
                .first()
                .map(ToString::to_string)
                .unwrap_or_default(),
            Verdict::Stale { behaviour } => {
                format!("listed as an expected failure ({behaviour}) but passed: remove the entry")
            }
            Verdict::Skip { reason } => reason.clone(),
            Verdict::AdapterFault { fault } => fault.clone(),
        }
    }
}

/// One call's result.
#[derive(Debug, Clone, Serialize)]
pub struct CallResult {
    pub case: String,
    pub method: String,
    #[serde(flatten)]
    pub verdict: Verdict,
    /// Requests the SDK sent for this call (more than one: it retried).
    pub requests: usize,
}

/// How an adapter session as a whole went.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum AdapterStatus {
    Ran,
    /// The adapter said its SDK cannot run here.
    Unavailable {
        reason: String,
    },
    /// The adapter never got through the hello.
    Fault {
        fault: String,
    },
}

/// Everything about one adapter.
#[derive(Debug, Clone, Serialize)]
pub struct AdapterReport {
    pub command: String,
    pub identity: Option<Identity>,
    #[serde(flatten)]
    pub status: AdapterStatus,
    pub results: Vec<CallResult>,
}

impl AdapterReport {
    /// `sdk version`, or the command when the adapter never said who it is.
    pub fn name(&self) -> String {
        match &self.identity {
            Some(i) => format!("{} {}", i.sdk, i.version),
            None => self.command.clone(),
        }
    }

    pub fn count(&self, label: &str) -> usize {
        self.results
            .iter()
            .filter(|r| r.verdict.label() == label)
            .count()
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct SdkReport {
    pub protocol: u32,
    pub adapters: Vec<AdapterReport>,
}

impl SdkReport {
    /// Whether any call failed or went stale (nonconformance).
    pub fn has_failures(&self) -> bool {
        self.adapters
            .iter()
            .any(|a| a.count("fail") + a.count("stale") > 0)
    }

    /// Adapter faults and adapters that never ran (could not be judged).
    pub fn has_faults(&self) -> bool {
        self.adapters.iter().any(|a| {
            matches!(a.status, AdapterStatus::Fault { .. }) || a.count("adapter-fault") > 0
        })
    }

    pub fn unavailable(&self) -> Vec<(&str, &str)> {
        self.adapters
            .iter()
            .filter_map(|a| match &a.status {
                AdapterStatus::Unavailable { reason } => {
                    Some((a.command.as_str(), reason.as_str()))
                }
                _ => None,
            })
            .collect()
    }
}

/// Why `cloudconform sdk` could not run at all.
#[derive(Debug, thiserror::Error)]
pub enum SdkRunError {
    #[error("the emulator could not start: {0}")]
    Emulator(String),
    #[error("the testee protocol schemas: {0}")]
    Schemas(String),
    #[error("response checks: {0}")]
    Checker(String),
    #[error("expected failures: {0}")]
    Expected(String),
}
