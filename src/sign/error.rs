//! Signing and verification errors. A verification error says what is wrong with a request
//! in protocol terms: [`VerifyErrorKind`] for the detail, [`VerifyErrorKind::trigger`] for the
//! protocol condition (or common-parameter fault) the specs name. No provider code, status or
//! message lives here: which code answers a condition is the provider spec's `errors`
//! ([`crate::spec::ProviderSpec::codes_for`]; where the docs allow several, its
//! `discrepancies`). On a signature mismatch the error carries what the verifier computed —
//! never the secret, a derived key or the expected signature (that would make the emulator a
//! signing oracle).
use super::{Provider, Scheme};
use crate::spec::{ProtocolCondition, Trigger, Violation};
use thiserror::Error;

/// Why a request could not be signed.
#[derive(Debug, Error, PartialEq, Eq)]
pub enum SignError {
    #[error("invalid sign input: {0}")]
    InvalidInput(String),
    #[error("timestamp {0} is outside the representable date range")]
    TimestampOutOfRange(i64),
}

/// What the verifier found wrong, independent of provider; [`VerifyErrorKind::trigger`] names
/// it in spec terms. The text (Display) is a diagnostic, never a provider's message.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum VerifyErrorKind {
    #[error("request carries neither an Authorization header nor a Signature parameter")]
    MissingAuthentication,
    #[error("malformed Authorization header: {0}")]
    MalformedAuthorization(String),
    #[error("SignedHeaders lacks required header `{0}`")]
    MissingSignedHeader(String),
    #[error("signed header `{0}` is not present in the request")]
    SignedHeaderAbsent(String),
    #[error("missing required parameter `{0}`")]
    MissingParameter(String),
    #[error("unknown access key id `{0}`")]
    UnknownAccessKey(String),
    #[error("timestamp `{0}` is not well formed")]
    InvalidTimestamp(String),
    #[error("timestamp {timestamp} is {skew} s away from server time {now} (window {window} s)")]
    TimestampExpired {
        timestamp: i64,
        now: i64,
        skew: i64,
        window: i64,
    },
    #[error("credential scope date `{scope}` is not the UTC date `{expected}` of the timestamp")]
    CredentialScopeDate { scope: String, expected: String },
    #[error("x-acs-content-sha256 does not match the body digest")]
    ContentHashMismatch,
    #[error("signature does not match")]
    SignatureMismatch,
    #[error("signature nonce was already used")]
    NonceReused,
    #[error("SignatureNonce is {length} bytes long; at most {max} are accepted")]
    NonceTooLong { length: usize, max: usize },
    #[error("the access key requires a security token and none was sent")]
    SecurityTokenMissing,
    #[error("the security token does not belong to the access key")]
    SecurityTokenMismatch,
    #[error("unsupported signature method or version `{0}`")]
    UnsupportedSignatureMethod(String),
    #[error("parameters are not valid UTF-8 after decoding")]
    InvalidEncoding,
}

impl VerifyErrorKind {
    /// The protocol condition (or common-parameter fault) this failure is in spec terms: the
    /// provider spec's errors say which code and status answer it. Several kinds share one
    /// condition (a missing Authorization and one without the required signed headers are both
    /// an incomplete signature).
    pub fn trigger(&self) -> Trigger {
        use ProtocolCondition as C;
        use VerifyErrorKind as K;
        let condition = match self {
            K::MissingAuthentication
            | K::MalformedAuthorization(_)
            | K::MissingSignedHeader(_)
            | K::SignedHeaderAbsent(_) => C::IncompleteSignature,
            K::UnknownAccessKey(_) => C::UnknownAccessKey,
            K::InvalidTimestamp(_) => C::MalformedTimestamp,
            K::TimestampExpired { .. } => C::ExpiredTimestamp,
            K::CredentialScopeDate { .. } | K::ContentHashMismatch | K::SignatureMismatch => {
                C::BadSignature
            }
            K::NonceReused => C::ReplayedNonce,
            K::SecurityTokenMissing => C::MissingToken,
            K::SecurityTokenMismatch => C::TokenMismatch,
            K::InvalidEncoding => C::MalformedBody,
            K::UnsupportedSignatureMethod(_) => C::UnsupportedSignatureMethod,
            // An over-long nonce: the emulator's own bound, a too-long common parameter.
            K::NonceTooLong { .. } => {
                return Trigger::Parameter {
                    parameter: "SignatureNonce".into(),
                    violation: Violation::TooLong,
                    note: None,
                    evidence: None,
                }
            }
            // A common parameter the scheme needs (Timestamp, Nonce…): a missing parameter.
            K::MissingParameter(name) => {
                return Trigger::Parameter {
                    parameter: name.clone(),
                    violation: Violation::Missing,
                    note: None,
                    evidence: None,
                }
            }
        };
        Trigger::Protocol {
            condition,
            note: None,
            evidence: None,
        }
    }
}

/// What the verifier computed when the signature did not match: enough to find the differing
/// line against a client's own canonical request. No secret material.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignatureDebug {
    pub scheme: Scheme,
    /// TC3/ACS3 canonical request; Alibaba RPC canonicalized query string; `None` for Tencent v1.
    pub canonical_request: Option<String>,
    pub string_to_sign: String,
    /// The signature the request carried (public: it travelled on the wire).
    pub received_signature: String,
    /// Further readings the verifier tried and rejected (TC3: host without its port,
    /// lower-cased header values), so a debugger can match the one the client used.
    pub other_readings: Vec<ComputedReading>,
}

/// One alternative canonicalisation the verifier tried.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ComputedReading {
    pub canonical_request: String,
    pub string_to_sign: String,
}

/// A failed verification: the provider whose rules it broke, what broke, and (on a mismatch)
/// what the verifier computed.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
#[error("{kind}")]
pub struct VerifyError {
    pub provider: Provider,
    pub kind: VerifyErrorKind,
    pub debug: Option<Box<SignatureDebug>>,
}

impl VerifyError {
    pub fn new(provider: Provider, kind: VerifyErrorKind) -> Self {
        Self {
            provider,
            kind,
            debug: None,
        }
    }

    pub fn with_debug(mut self, debug: SignatureDebug) -> Self {
        self.debug = Some(Box::new(debug));
        self
    }

    /// The failure in spec terms ([`VerifyErrorKind::trigger`]).
    pub fn trigger(&self) -> Trigger {
        self.kind.trigger()
    }
}
