//! Signing and verification errors. A verification error is a protocol condition in spec terms
//! ([`VerifyErrorKind::trigger`]; the emulator answers it with the provider spec's code), and
//! for the standalone `verify` command and the signer tests it also names the provider's
//! documented code and HTTP status (Tencent: always 200; Alibaba:
//! `errors/alibaba-common.json`). On a signature mismatch it carries what the verifier computed
//! — never the secret, a derived key or the expected signature (that would make the emulator a
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

/// What the verifier found wrong, independent of provider. [`VerifyError::code`] maps it.
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
    #[error("signature nonce is {length} bytes long; at most {max} are accepted")]
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
    /// provider spec's errors say which code and status answer it.
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
            K::SecurityTokenMissing | K::SecurityTokenMismatch => C::BadToken,
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

/// A failed verification, ready to become a provider error envelope.
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

    /// The provider's error code.
    pub fn code(&self) -> &'static str {
        use VerifyErrorKind as K;
        match self.provider {
            Provider::Tencent => match &self.kind {
                K::MissingParameter(_) => "MissingParameter",
                // No signature at all: the provider spec's incomplete_signature trigger.
                K::MissingAuthentication
                | K::MalformedAuthorization(_)
                | K::MissingSignedHeader(_)
                | K::SignedHeaderAbsent(_) => "AuthFailure.InvalidAuthorization",
                K::UnknownAccessKey(_) => "AuthFailure.SecretIdNotFound",
                // No code is documented for a non-numeric X-TC-Timestamp.
                K::InvalidTimestamp(_) => "InvalidParameterValue",
                K::TimestampExpired { .. } => "AuthFailure.SignatureExpire",
                K::SecurityTokenMissing | K::SecurityTokenMismatch => "AuthFailure.TokenFailure",
                K::InvalidEncoding | K::NonceTooLong { .. } => "InvalidParameter",
                K::CredentialScopeDate { .. }
                | K::ContentHashMismatch
                | K::SignatureMismatch
                | K::NonceReused
                | K::UnsupportedSignatureMethod(_) => "AuthFailure.SignatureFailure",
            },
            Provider::Alibaba => match &self.kind {
                K::MissingAuthentication
                | K::MalformedAuthorization(_)
                | K::MissingSignedHeader(_)
                | K::SignedHeaderAbsent(_) => "IncompleteSignature",
                K::MissingParameter(_) => "MissingParameter",
                K::UnknownAccessKey(_) => "InvalidAccessKeyId.NotFound",
                K::InvalidTimestamp(_) => "InvalidTimeStamp.Format",
                K::TimestampExpired { .. } => "InvalidTimeStamp.Expired",
                K::NonceReused => "SignatureNonceUsed",
                K::SecurityTokenMissing => "MissingSecurityToken",
                K::SecurityTokenMismatch => "InvalidSecurityToken.MismatchWithAccessKey",
                K::UnsupportedSignatureMethod(_) => "InvalidSignatureMethod",
                K::InvalidEncoding | K::NonceTooLong { .. } => "InvalidParameter",
                K::CredentialScopeDate { .. } | K::ContentHashMismatch | K::SignatureMismatch => {
                    "SignatureDoesNotMatch"
                }
            },
        }
    }

    /// The HTTP status the provider answers with.
    pub fn http_status(&self) -> u16 {
        match (self.provider, &self.kind) {
            (Provider::Tencent, _) => 200,
            (Provider::Alibaba, VerifyErrorKind::UnknownAccessKey(_)) => 404,
            (Provider::Alibaba, _) => 400,
        }
    }

    /// The provider's message for the code. Alibaba's `SignatureDoesNotMatch` carries the
    /// server's string to sign, which aliyun-python-sdk-core parses after the first `:`.
    pub fn message(&self) -> String {
        use VerifyErrorKind as K;
        let sts = self.debug.as_ref().map(|d| d.string_to_sign.as_str());
        match self.provider {
            Provider::Tencent => match &self.kind {
                K::MissingAuthentication => {
                    "The request is missing the required Authorization or Signature.".into()
                }
                K::MissingParameter(name) => {
                    format!("The request is missing a required parameter `{name}`.")
                }
                K::MalformedAuthorization(_) | K::MissingSignedHeader(_) | K::SignedHeaderAbsent(_) => {
                    "`Authorization` in the request header is invalid.".into()
                }
                K::UnknownAccessKey(_) => "The SecretId is not found, please ensure that your SecretId is correct.".into(),
                K::InvalidTimestamp(value) => format!("The value `{value}` of Timestamp is invalid."),
                K::TimestampExpired { .. } => "Signature expired. Timestamp and server time cannot differ by more than five minutes.".into(),
                K::SecurityTokenMissing | K::SecurityTokenMismatch => "Token error.".into(),
                K::InvalidEncoding => "The request parameters are not valid UTF-8.".into(),
                K::NonceTooLong { .. } => format!("{}.", self.kind),
                _ => "The provided credentials could not be validated. Please check your signature is correct.".into(),
            },
            Provider::Alibaba => match &self.kind {
                K::MissingParameter(name) => format!(
                    "The input parameter \"{name}\" that is mandatory for processing this request is not supplied."
                ),
                K::UnknownAccessKey(_) => "Specified access key is not found.".into(),
                K::InvalidTimestamp(_) => "Specified time stamp or date value is not well formatted.".into(),
                K::TimestampExpired { .. } => "Specified time stamp or date value is expired.".into(),
                K::NonceReused => "Specified signature nonce was used already.".into(),
                K::SecurityTokenMissing => "SecurityToken is mandatory for this action.".into(),
                K::SecurityTokenMismatch => "Specified SecurityToken mismatch with the AccessKey.".into(),
                K::UnsupportedSignatureMethod(_) => "Specified signature method is not valid.".into(),
                K::InvalidEncoding => "The request parameters are not valid UTF-8.".into(),
                K::NonceTooLong { length, max } => format!(
                    "The specified parameter \"SignatureNonce\" is not valid: it is {length} bytes long; at most {max} are accepted."
                ),
                K::CredentialScopeDate { .. } | K::ContentHashMismatch | K::SignatureMismatch => format!(
                    "Specified signature is not matched with our calculation. server string to sign is:{}",
                    sts.unwrap_or_default()
                ),
                _ => "The request signature does not conform to Aliyun standards.".into(),
            },
        }
    }
}
