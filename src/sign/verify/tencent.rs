//! Tencent TC3-HMAC-SHA256 and legacy v1 verification (tencent.md §2.6, §3).
use super::{
    check_skew, check_token, param, param_unless_omitted, required_param, signed_param,
    HostReading, RoutedValue, Verified, VerifyPolicy,
};
use crate::http::RawRequest;
use crate::sign::credentials::CredentialLookup;
use crate::sign::crypto::constant_time_eq;
use crate::sign::encoding::{host_without_port, signed_header_names};
use crate::sign::error::{ComputedReading, SignatureDebug, VerifyError, VerifyErrorKind as K};
use crate::sign::tc3::{self, HeaderReading};
use crate::sign::tencent_v1::{self, V1Method};
use crate::sign::{clock, Provider, Scheme};
use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine;

const PROVIDER: Provider = Provider::Tencent;

fn fail(kind: K) -> VerifyError {
    VerifyError::new(PROVIDER, kind)
}

/// The readings to try, most common first. Duplicates (a host without a port, values already
/// lower-case) are skipped by the caller because they produce the same canonical request.
fn readings(policy: &VerifyPolicy, host_has_port: bool) -> Vec<HeaderReading> {
    let mut out = vec![HeaderReading::AS_SENT];
    if policy.tc3_host_without_port && host_has_port {
        out.push(HeaderReading {
            host_without_port: true,
            lowercase_values: false,
        });
    }
    if policy.tc3_lowercase_values {
        out.push(HeaderReading::DOC);
        if policy.tc3_host_without_port && host_has_port {
            out.push(HeaderReading {
                host_without_port: true,
                lowercase_values: true,
            });
        }
    }
    out
}

/// A routing header, authenticated only when SignedHeaders lists it.
fn routed_header(request: &RawRequest, name: &str, signed: &[String]) -> Option<RoutedValue> {
    request.header(name).map(|value| RoutedValue {
        value: value.trim().to_string(),
        authenticated: signed.iter().any(|s| s == name),
    })
}

pub(super) fn verify_tc3(
    request: &RawRequest,
    credentials: &dyn CredentialLookup,
    policy: &VerifyPolicy,
) -> Result<Verified, VerifyError> {
    let authorization = request.header("authorization").unwrap_or_default();
    let auth = tc3::parse_authorization(authorization)
        .map_err(|why| fail(K::MalformedAuthorization(why)))?;
    let names = signed_header_names(&auth.signed_headers);
    if let Some(missing) = tc3::REQUIRED_SIGNED_HEADERS
        .iter()
        .find(|required| !names.iter().any(|n| n == *required))
    {
        return Err(fail(K::MissingSignedHeader(missing.to_string())));
    }
    let key = credentials
        .lookup(&auth.access_key_id)
        .ok_or_else(|| fail(K::UnknownAccessKey(auth.access_key_id.clone())))?;
    // Left out where the policy allows: read as sent at server time.
    let now_text: String;
    let timestamp_text = match request.header("x-tc-timestamp") {
        Some(t) => t.trim(),
        None if policy.omits("x-tc-timestamp") => {
            now_text = policy.now.to_string();
            now_text.as_str()
        }
        None => return Err(fail(K::MissingParameter("X-TC-Timestamp".into()))),
    };
    let timestamp: i64 = timestamp_text
        .parse()
        .map_err(|_| fail(K::InvalidTimestamp(timestamp_text.to_string())))?;
    check_skew(PROVIDER, timestamp, policy)?;
    let session_token = check_token(
        PROVIDER,
        &key,
        request.header("x-tc-token").map(str::as_bytes),
    )?;

    let mut request_view = std::borrow::Cow::Borrowed(request);
    if !policy.tc3_allow_unsigned_payload && request.header("x-tc-content-sha256").is_some() {
        request_view.to_mut().remove_header("x-tc-content-sha256");
    }
    let request = request_view.as_ref();
    let debug_for = |canonical: &tc3::Tc3Canonical| SignatureDebug {
        scheme: Scheme::Tc3HmacSha256,
        canonical_request: Some(canonical.canonical_request.clone()),
        string_to_sign: canonical.string_to_sign.clone(),
        received_signature: auth.signature_hex.clone(),
        other_readings: Vec::new(),
    };
    let canonicalize = |reading, date: &str| {
        tc3::canonicalize(
            request,
            &auth.signed_headers,
            reading,
            timestamp_text,
            date,
            &auth.service,
        )
        .map_err(|absent| fail(K::SignedHeaderAbsent(absent)))
    };

    let expected_date = clock::utc_date(timestamp)
        .ok_or_else(|| fail(K::InvalidTimestamp(timestamp_text.into())))?;
    if policy.tc3_require_scope_date && auth.date != expected_date {
        // What the server signs: its own date for the timestamp.
        let canonical = canonicalize(HeaderReading::AS_SENT, &expected_date)?;
        return Err(fail(K::CredentialScopeDate {
            scope: auth.date.clone(),
            expected: expected_date,
        })
        .with_debug(debug_for(&canonical)));
    }

    let keys = tc3::derive_keys_cached(&key.secret, &auth.date, &auth.service);
    let host_has_port = request.host().and_then(host_without_port).is_some();
    let mut tried: Vec<tc3::Tc3Canonical> = Vec::new();
    for reading in readings(policy, host_has_port) {
        let canonical = canonicalize(reading, &auth.date)?;
        if tried
            .iter()
            .any(|t| t.canonical_request == canonical.canonical_request)
        {
            continue;
        }
        let computed = tc3::signature_bytes(&keys, &canonical.string_to_sign);
        if constant_time_eq(&computed, &auth.signature) {
            return Ok(Verified {
                access_key_id: auth.access_key_id.clone(),
                scheme: Scheme::Tc3HmacSha256,
                action: routed_header(request, "x-tc-action", &names),
                version: routed_header(request, "x-tc-version", &names),
                region: routed_header(request, "x-tc-region", &names),
                timestamp,
                host_reading: if reading.host_without_port {
                    HostReading::WithoutPort
                } else {
                    HostReading::AsReceived
                },
                session_token,
            });
        }
        tried.push(canonical);
    }
    let mut error = fail(K::SignatureMismatch);
    if let Some((first, others)) = tried.split_first() {
        let mut debug = debug_for(first);
        debug.other_readings = others
            .iter()
            .map(|c| ComputedReading {
                canonical_request: c.canonical_request.clone(),
                string_to_sign: c.string_to_sign.clone(),
            })
            .collect();
        error = error.with_debug(debug);
    }
    Err(error)
}

pub(super) fn verify_v1(
    request: &RawRequest,
    params: &[(Vec<u8>, Vec<u8>)],
    credentials: &dyn CredentialLookup,
    policy: &VerifyPolicy,
) -> Result<Verified, VerifyError> {
    let signature = required_param(PROVIDER, params, tencent_v1::SIGNATURE_PARAM)?;
    let secret_id = required_param(PROVIDER, params, "SecretId")?;
    let timestamp_text = param_unless_omitted(PROVIDER, params, "Timestamp", policy)?
        .unwrap_or_else(|| policy.now.to_string());
    param_unless_omitted(PROVIDER, params, "Nonce", policy)?;
    let key = credentials
        .lookup(&secret_id)
        .ok_or_else(|| fail(K::UnknownAccessKey(secret_id.clone())))?;
    let timestamp: i64 = timestamp_text
        .trim()
        .parse()
        .map_err(|_| fail(K::InvalidTimestamp(timestamp_text.clone())))?;
    check_skew(PROVIDER, timestamp, policy)?;
    let session_token = check_token(PROVIDER, &key, param(params, "Token"))?;

    let host = request
        .host()
        .ok_or_else(|| fail(K::MissingParameter("Host".into())))?;
    let path = if request.path.is_empty() {
        "/"
    } else {
        &request.path
    };
    let method = V1Method::from_param(param(params, "SignatureMethod"));
    let string_to_sign = tencent_v1::string_to_sign(&request.method, host, path, params)
        .ok_or_else(|| fail(K::InvalidEncoding))?;
    let computed = tencent_v1::signature_bytes(method, &key.secret, &string_to_sign);
    let received = BASE64.decode(signature.as_bytes()).unwrap_or_default();
    if !constant_time_eq(&computed, &received) {
        return Err(fail(K::SignatureMismatch).with_debug(SignatureDebug {
            scheme: scheme_of(method),
            canonical_request: None,
            string_to_sign,
            received_signature: signature,
            other_readings: Vec::new(),
        }));
    }
    Ok(Verified {
        access_key_id: secret_id,
        scheme: scheme_of(method),
        action: signed_param(params, "Action"),
        version: signed_param(params, "Version"),
        region: signed_param(params, "Region"),
        timestamp,
        host_reading: HostReading::AsReceived,
        session_token,
    })
}

fn scheme_of(method: V1Method) -> Scheme {
    match method {
        V1Method::HmacSha1 => Scheme::TencentHmacSha1,
        V1Method::HmacSha256 => Scheme::TencentHmacSha256,
    }
}
