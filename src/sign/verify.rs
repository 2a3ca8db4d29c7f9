//! Server-side verification, as the emulator needs it: detect the scheme from the request,
//! check it the way the provider does (rules 3–15 of the protocol README), and say which
//! protocol condition a request fails on (the provider spec names the code). Time comes from
//! [`VerifyPolicy::now`] so recorded traffic replays.
//!
//! Order of checks: authentication syntax, access key, timestamp format and skew, session token,
//! signature, then the nonce — a nonce is consumed only by a request that verified, so a forged
//! request cannot burn a legitimate client's nonce.
mod alibaba;
mod tencent;

use super::credentials::{CredentialLookup, Credentials};
use super::crypto::constant_time_eq;
use super::encoding::query_and_form_params;
use super::error::{VerifyError, VerifyErrorKind};
use super::nonce::NonceCache;
use super::{clock, Provider, Scheme};
use crate::http::RawRequest;

/// Tencent: `|now − X-TC-Timestamp| > 300 s` is an expired timestamp.
pub const TENCENT_SKEW_SECS: i64 = 300;
/// Alibaba: 15 minutes (the RPC doc alone says 31; configurable).
pub const ALIBABA_SKEW_SECS: i64 = 900;

/// What "now" is and how tolerant the verifier is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifyPolicy {
    /// Server time, Unix seconds (a capture's own `ts` when replaying).
    pub now: i64,
    pub tencent_skew_secs: i64,
    pub alibaba_skew_secs: i64,
    /// TC3: also accept the host signed without its port (the Node SDK).
    pub tc3_host_without_port: bool,
    /// TC3: also accept header values lower-cased (the doc's canonicalisation).
    pub tc3_lowercase_values: bool,
    /// TC3: reject a credential-scope date that is not the UTC date of `X-TC-Timestamp`.
    pub tc3_require_scope_date: bool,
    /// TC3: honour `X-TC-Content-SHA256: UNSIGNED-PAYLOAD`; when off, such requests must sign
    /// the body hash and fail otherwise.
    pub tc3_allow_unsigned_payload: bool,
    /// Alibaba: reject a reused `SignatureNonce` / `x-acs-signature-nonce`.
    pub check_nonces: bool,
    /// Common parameters (names or header names, any case) a request may leave out, read as
    /// their default instead: the timestamp as `now`, no nonce, the default signature method.
    /// Empty for every real service; a served deviation fills it.
    pub may_omit: Vec<String>,
}

impl VerifyPolicy {
    /// Provider defaults with server time `now`.
    pub fn at(now: i64) -> Self {
        Self {
            now,
            tencent_skew_secs: TENCENT_SKEW_SECS,
            alibaba_skew_secs: ALIBABA_SKEW_SECS,
            tc3_host_without_port: true,
            tc3_lowercase_values: true,
            tc3_require_scope_date: true,
            tc3_allow_unsigned_payload: true,
            check_nonces: true,
            may_omit: Vec::new(),
        }
    }

    /// Whether `name` (a parameter or header name) may be left out.
    pub fn omits(&self, name: &str) -> bool {
        self.may_omit.iter().any(|n| n.eq_ignore_ascii_case(name))
    }

    /// Provider defaults with the wall clock.
    pub fn current() -> Self {
        Self::at(clock::unix_now())
    }

    pub fn skew_window(&self, provider: Provider) -> i64 {
        match provider {
            Provider::Tencent => self.tencent_skew_secs,
            Provider::Alibaba => self.alibaba_skew_secs,
        }
    }
}

/// Which host value the signature covered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HostReading {
    /// The Host header as received (port, and for tccli the scheme, included) — or the host is
    /// not signed at all (Alibaba RPC).
    AsReceived,
    /// The Host header without `:port` (Tencent Node SDK, TC3).
    WithoutPort,
}

/// A routing value and whether the signature covers it. Under TC3's default
/// `SignedHeaders=content-type;host`, `X-TC-Action`/`Version`/`Region` are *not* authenticated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoutedValue {
    pub value: String,
    pub authenticated: bool,
}

/// A request that verified.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verified {
    pub access_key_id: String,
    pub scheme: Scheme,
    pub action: Option<RoutedValue>,
    pub version: Option<RoutedValue>,
    pub region: Option<RoutedValue>,
    /// The request's own timestamp, Unix seconds.
    pub timestamp: i64,
    pub host_reading: HostReading,
    /// Whether a session token was presented (and matched).
    pub session_token: bool,
}

/// Verify `request` under `provider`'s rules.
pub fn verify(
    provider: Provider,
    request: &RawRequest,
    credentials: &dyn CredentialLookup,
    nonces: &NonceCache,
    policy: &VerifyPolicy,
) -> Result<Verified, VerifyError> {
    let fail = |kind| VerifyError::new(provider, kind);
    let authorization = request.header("authorization").map(str::trim_start);
    match (provider, authorization) {
        (Provider::Tencent, Some(a)) if a.starts_with(super::tc3::ALGORITHM) => {
            return tencent::verify_tc3(request, credentials, policy);
        }
        (Provider::Alibaba, Some(a)) if a.starts_with("ACS3-") => {
            return alibaba::verify_acs3(request, credentials, nonces, policy);
        }
        _ => {}
    }
    let params = query_and_form_params(request);
    if params.iter().any(|(name, _)| name == b"Signature") {
        return match provider {
            Provider::Tencent => tencent::verify_v1(request, &params, credentials, policy),
            Provider::Alibaba => alibaba::verify_rpc(request, &params, credentials, nonces, policy),
        };
    }
    Err(match authorization {
        Some(a) => match other_tc3_algorithm(provider, a) {
            Some(algorithm) => fail(VerifyErrorKind::UnsupportedSignatureMethod(algorithm)),
            None => fail(VerifyErrorKind::MalformedAuthorization(format!(
                "unsupported algorithm for {provider}"
            ))),
        },
        None => fail(VerifyErrorKind::MissingAuthentication),
    })
}

/// A Tencent Authorization of the TC3 form naming another algorithm (`TC3-HMAC-MD5
/// Credential=…`): an unsupported signature method rather than a header of no known form.
fn other_tc3_algorithm(provider: Provider, authorization: &str) -> Option<String> {
    let (algorithm, rest) = authorization.split_once(' ')?;
    let tc3_family = provider == Provider::Tencent && algorithm.starts_with("TC3-");
    (tc3_family && rest.trim_start().starts_with("Credential="))
        .then(|| algorithm.chars().take(64).collect())
}

/// `|now − timestamp| ≤ window`, else an expired timestamp.
fn check_skew(
    provider: Provider,
    timestamp: i64,
    policy: &VerifyPolicy,
) -> Result<(), VerifyError> {
    let window = policy.skew_window(provider);
    let skew = policy.now.saturating_sub(timestamp).saturating_abs();
    if skew > window {
        return Err(VerifyError::new(
            provider,
            VerifyErrorKind::TimestampExpired {
                timestamp,
                now: policy.now,
                skew,
                window,
            },
        ));
    }
    Ok(())
}

/// A key issued with a session token requires that token; a permanent key accepts none.
fn check_token(
    provider: Provider,
    key: &Credentials,
    sent: Option<&[u8]>,
) -> Result<bool, VerifyError> {
    let fail = |kind| Err(VerifyError::new(provider, kind));
    match (&key.session_token, sent) {
        (None, None) => Ok(false),
        (Some(_), None) => fail(VerifyErrorKind::SecurityTokenMissing),
        (None, Some(_)) => fail(VerifyErrorKind::SecurityTokenMismatch),
        (Some(expected), Some(sent)) => {
            if constant_time_eq(expected.expose().as_bytes(), sent) {
                Ok(true)
            } else {
                fail(VerifyErrorKind::SecurityTokenMismatch)
            }
        }
    }
}

/// Record the nonce of a verified request; a replay within the window fails.
fn check_nonce(
    provider: Provider,
    nonces: &NonceCache,
    policy: &VerifyPolicy,
    access_key_id: &str,
    nonce: &str,
    timestamp: i64,
) -> Result<(), VerifyError> {
    if nonce.len() > super::nonce::MAX_NONCE_BYTES {
        return Err(VerifyError::new(
            provider,
            VerifyErrorKind::NonceTooLong {
                length: nonce.len(),
                max: super::nonce::MAX_NONCE_BYTES,
            },
        ));
    }
    if !policy.check_nonces {
        return Ok(());
    }
    let expires_at = timestamp.saturating_add(policy.skew_window(provider));
    if nonces.check_and_insert(access_key_id, nonce, expires_at, policy.now) {
        Ok(())
    } else {
        Err(VerifyError::new(provider, VerifyErrorKind::NonceReused))
    }
}

/// First decoded parameter called `name`.
fn param<'a>(params: &'a [(Vec<u8>, Vec<u8>)], name: &str) -> Option<&'a [u8]> {
    params
        .iter()
        .find(|(n, _)| n == name.as_bytes())
        .map(|(_, v)| v.as_slice())
}

/// A required parameter as UTF-8.
fn required_param(
    provider: Provider,
    params: &[(Vec<u8>, Vec<u8>)],
    name: &str,
) -> Result<String, VerifyError> {
    let value = param(params, name).ok_or_else(|| {
        VerifyError::new(provider, VerifyErrorKind::MissingParameter(name.into()))
    })?;
    String::from_utf8(value.to_vec())
        .map_err(|_| VerifyError::new(provider, VerifyErrorKind::InvalidEncoding))
}

/// A parameter the scheme requires unless the policy lets it be left out (`None` then).
fn param_unless_omitted(
    provider: Provider,
    params: &[(Vec<u8>, Vec<u8>)],
    name: &str,
    policy: &VerifyPolicy,
) -> Result<Option<String>, VerifyError> {
    if param(params, name).is_none() && policy.omits(name) {
        return Ok(None);
    }
    required_param(provider, params, name).map(Some)
}

/// An optional routing parameter, reported as authenticated (every parameter is signed).
fn signed_param(params: &[(Vec<u8>, Vec<u8>)], name: &str) -> Option<RoutedValue> {
    param(params, name).map(|v| RoutedValue {
        value: String::from_utf8_lossy(v).into_owned(),
        authenticated: true,
    })
}
