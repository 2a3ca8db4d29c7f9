//! cloudconform: a protocol conformance harness for cloud APIs.
//!
//! Data flows one way: [`spec`] → [`generate`] (cases) → [`run`] (requests, responses) →
//! [`check`] (verdicts) → [`report`]. The [`emulator`] and the runner share the spec model, the
//! wire encodings ([`wire`]) and the signers ([`sign`]), never each other's internals.
//! [`sdk`] sits beside [`run`]: it validates third-party SDKs through adapters against the
//! emulator in recording mode.
#![forbid(unsafe_code)]

pub mod check;
pub mod emulator;
pub mod generate;
pub mod http;
pub mod provider;
pub mod report;
pub mod run;
pub mod sdk;
pub mod sign;
pub mod spec;
pub mod wire;
