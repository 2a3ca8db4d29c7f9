//! Alibaba ACS3 (SHA-256 and SM3) and RPC HMAC-SHA1 verification (alibaba.md §2.5, §3, §6).
use super::{
    check_nonce, check_skew, check_token, param, param_unless_omitted, required_param,
    signed_param, HostReading, RoutedValue, Verified, VerifyPolicy,
};
use crate::http::RawRequest;
use crate::sign::acs3::{self, Acs3Algorithm};
use crate::sign::credentials::CredentialLookup;
use crate::sign::crypto::constant_time_eq;
use crate::sign::encoding::signed_header_names;
use crate::sign::error::{SignatureDebug, VerifyError, VerifyErrorKind as K};
use crate::sign::nonce::NonceCache;
use crate::sign::rpc_v1;
use crate::sign::{clock, Provider, Scheme};
use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine;

const PROVIDER: Provider = Provider::Alibaba;

fn fail(kind: K) -> VerifyError {
    VerifyError::new(PROVIDER, kind)
}

fn scheme_of(algorithm: Acs3Algorithm) -> Scheme {
    match algorithm {
        Acs3Algorithm::HmacSha256 => Scheme::Acs3HmacSha256,
        Acs3Algorithm::HmacSm3 => Scheme::Acs3HmacSm3,
    }
}

/// A signed header's trimmed value; its absence makes the signature incomplete.
fn signed_header<'a>(request: &'a RawRequest, name: &str) -> Result<&'a str, VerifyError> {
    request
        .header(name)
        .map(str::trim)
        .ok_or_else(|| fail(K::SignedHeaderAbsent(name.to_string())))
}

fn parse_timestamp(text: &str) -> Result<i64, VerifyError> {
    clock::parse_iso8601(text).ok_or_else(|| fail(K::InvalidTimestamp(text.to_string())))
}

pub(super) fn verify_acs3(
    request: &RawRequest,
    credentials: &dyn CredentialLookup,
    nonces: &NonceCache,
    policy: &VerifyPolicy,
) -> Result<Verified, VerifyError> {
    let authorization = request.header("authorization").unwrap_or_default();
    // An ACS3 algorithm the gateway does not know is its own documented fault
    // (InvalidSignatureMethod), not a malformed header.
    let algorithm = authorization.trim().split(' ').next().unwrap_or_default();
    if acs3::Acs3Algorithm::from_name(algorithm).is_none() {
        return Err(fail(K::UnsupportedSignatureMethod(algorithm.to_string())));
    }
    let auth = acs3::parse_authorization(authorization)
        .map_err(|why| fail(K::MalformedAuthorization(why)))?;
    let names = signed_header_names(&auth.signed_headers);
    let lists = |name: &str| names.iter().any(|n| n == name);
    // A header the policy lets be left out need not be signed when it is not sent.
    let omitted = |r: &str| policy.omits(r) && request.header(r).is_none();
    if let Some(missing) = acs3::REQUIRED_SIGNED_HEADERS
        .iter()
        .find(|r| !lists(r) && !omitted(r))
    {
        return Err(fail(K::MissingSignedHeader(missing.to_string())));
    }
    if !request.body.is_empty()
        && request.header("content-type").is_some()
        && !lists("content-type")
    {
        return Err(fail(K::MissingSignedHeader("content-type".into())));
    }
    let key = credentials
        .lookup(&auth.access_key_id)
        .ok_or_else(|| fail(K::UnknownAccessKey(auth.access_key_id.clone())))?;
    let timestamp = if omitted("x-acs-date") {
        policy.now
    } else {
        parse_timestamp(signed_header(request, "x-acs-date")?)?
    };
    check_skew(PROVIDER, timestamp, policy)?;
    let session_token = check_token(
        PROVIDER,
        &key,
        request
            .header("x-acs-security-token")
            .map(|t| t.trim().as_bytes()),
    )?;

    let algorithm = auth.algorithm;
    let body_hash = algorithm.hash_hex(&request.body);
    let declared_hash = signed_header(request, "x-acs-content-sha256")?;
    let canonicalize = |payload_hash: &str| {
        acs3::canonicalize(algorithm, request, &auth.signed_headers, payload_hash)
            .map_err(|absent| fail(K::SignedHeaderAbsent(absent)))
    };
    let debug_for = |canonical: &acs3::Acs3Canonical| SignatureDebug {
        scheme: scheme_of(algorithm),
        canonical_request: Some(canonical.canonical_request.clone()),
        string_to_sign: canonical.string_to_sign.clone(),
        received_signature: auth.signature_hex.clone(),
        other_readings: Vec::new(),
    };
    if !declared_hash.eq_ignore_ascii_case(&body_hash) {
        // Show what the server would have signed: the digest of the body it received.
        let canonical = canonicalize(&body_hash)?;
        return Err(fail(K::ContentHashMismatch).with_debug(debug_for(&canonical)));
    }
    let canonical = canonicalize(declared_hash)?;
    let computed = algorithm.mac(&key.secret, canonical.string_to_sign.as_bytes());
    if !constant_time_eq(&computed, &auth.signature) {
        return Err(fail(K::SignatureMismatch).with_debug(debug_for(&canonical)));
    }
    if !omitted("x-acs-signature-nonce") {
        let nonce = signed_header(request, "x-acs-signature-nonce")?;
        check_nonce(
            PROVIDER,
            nonces,
            policy,
            &auth.access_key_id,
            nonce,
            timestamp,
        )?;
    }

    let routed = |name: &str| {
        request.header(name).map(|value| RoutedValue {
            value: value.trim().to_string(),
            authenticated: lists(name),
        })
    };
    Ok(Verified {
        access_key_id: auth.access_key_id.clone(),
        scheme: scheme_of(algorithm),
        action: routed("x-acs-action"),
        version: routed("x-acs-version"),
        region: acs3::query_param(request, "RegionId").map(|v| RoutedValue {
            value: String::from_utf8_lossy(&v).into_owned(),
            authenticated: true,
        }),
        timestamp,
        host_reading: HostReading::AsReceived,
        session_token,
    })
}

pub(super) fn verify_rpc(
    request: &RawRequest,
    params: &[(Vec<u8>, Vec<u8>)],
    credentials: &dyn CredentialLookup,
    nonces: &NonceCache,
    policy: &VerifyPolicy,
) -> Result<Verified, VerifyError> {
    let signature = required_param(PROVIDER, params, rpc_v1::SIGNATURE_PARAM)?;
    // Where the policy lets one be left out: the one method and version RPC has, no nonce,
    // the server's clock.
    let method = param_unless_omitted(PROVIDER, params, "SignatureMethod", policy)?
        .unwrap_or_else(|| rpc_v1::SIGNATURE_METHOD.to_string());
    if method != rpc_v1::SIGNATURE_METHOD {
        return Err(fail(K::UnsupportedSignatureMethod(method)));
    }
    let version = param_unless_omitted(PROVIDER, params, "SignatureVersion", policy)?
        .unwrap_or_else(|| rpc_v1::SIGNATURE_VERSION.to_string());
    if version != rpc_v1::SIGNATURE_VERSION {
        return Err(fail(K::UnsupportedSignatureMethod(format!(
            "SignatureVersion={version}"
        ))));
    }
    let access_key_id = required_param(PROVIDER, params, "AccessKeyId")?;
    let nonce = param_unless_omitted(PROVIDER, params, "SignatureNonce", policy)?;
    let timestamp_text = param_unless_omitted(PROVIDER, params, "Timestamp", policy)?;
    let key = credentials
        .lookup(&access_key_id)
        .ok_or_else(|| fail(K::UnknownAccessKey(access_key_id.clone())))?;
    let timestamp = match &timestamp_text {
        Some(t) => parse_timestamp(t)?,
        None => policy.now,
    };
    check_skew(PROVIDER, timestamp, policy)?;
    let session_token = check_token(PROVIDER, &key, param(params, "SecurityToken"))?;

    let canonical = rpc_v1::canonicalize(&request.method, params);
    let computed = rpc_v1::signature_bytes(&key.secret, &canonical.string_to_sign);
    let received = BASE64.decode(signature.as_bytes()).unwrap_or_default();
    if !constant_time_eq(&computed, &received) {
        return Err(fail(K::SignatureMismatch).with_debug(SignatureDebug {
            scheme: Scheme::RpcHmacSha1,
            canonical_request: Some(canonical.canonicalized_query_string),
            string_to_sign: canonical.string_to_sign,
            received_signature: signature,
            other_readings: Vec::new(),
        }));
    }
    if let Some(nonce) = &nonce {
        check_nonce(PROVIDER, nonces, policy, &access_key_id, nonce, timestamp)?;
    }
    Ok(Verified {
        access_key_id,
        scheme: Scheme::RpcHmacSha1,
        action: signed_param(params, "Action"),
        version: signed_param(params, "Version"),
        region: signed_param(params, "RegionId"),
        timestamp,
        host_reading: HostReading::AsReceived,
        session_token,
    })
}
