//! Verifier rules beyond the happy path: error codes and statuses for each failure the brief
//! lists, policy switches, session tokens, nonce-memory bounds, and hostile inputs.
mod verify_support;
use cloudconform::http::RawRequest;
use cloudconform::sign::tc3::{self, HeaderReading};
use cloudconform::sign::{
    sign, verify, Credentials, NonceCache, Provider, Scheme, SignInput, VerifyErrorKind,
    VerifyPolicy,
};
use verify_support::answer;

const T: i64 = 1_795_361_616;

fn key() -> Credentials {
    Credentials::new("AKIDEXAMPLE", "SECRETEXAMPLE")
}

fn input(scheme: Scheme) -> SignInput {
    let method = if scheme == Scheme::Tc3HmacSha256 {
        "POST"
    } else {
        "GET"
    };
    let mut input = SignInput::new(
        method,
        "127.0.0.1:8080",
        "DeleteKeyPairs",
        "2017-03-12",
        T,
        "42",
    )
    .with_region("ap-guangzhou");
    if scheme == Scheme::Tc3HmacSha256 {
        input = input.with_body(r#"{"KeyIds": ["skey-1"]}"#, "application/json");
    } else {
        input = input.with_param("KeyIds.0", "skey-1");
    }
    input
}

fn signed(scheme: Scheme, credentials: &Credentials) -> RawRequest {
    sign(scheme, &input(scheme), credentials).unwrap().request
}

fn code_of(
    provider: Provider,
    request: &RawRequest,
    credentials: &Credentials,
    policy: &VerifyPolicy,
) -> (String, u16) {
    match verify(provider, request, credentials, &NonceCache::new(), policy) {
        Ok(_) => ("OK".into(), 0),
        Err(e) => answer(&e),
    }
}

fn code(scheme: Scheme, request: &RawRequest) -> (String, u16) {
    code_of(scheme.provider(), request, &key(), &VerifyPolicy::at(T))
}

#[test]
fn session_tokens_must_match_the_key() {
    let with_token = key().with_session_token("TOKEN-1");
    let other_token = key().with_session_token("TOKEN-2");
    for scheme in Scheme::ALL {
        let provider = scheme.provider();
        let policy = VerifyPolicy::at(T);
        let request = signed(scheme, &with_token);
        let verified =
            verify(provider, &request, &with_token, &NonceCache::new(), &policy).unwrap();
        assert!(verified.session_token, "{scheme}");
        let (missing, mismatch) = match provider {
            Provider::Tencent => ("AuthFailure.TokenFailure", "AuthFailure.TokenFailure"),
            Provider::Alibaba => (
                "MissingSecurityToken",
                "InvalidSecurityToken.MismatchWithAccessKey",
            ),
        };
        assert_eq!(
            code_of(provider, &signed(scheme, &key()), &with_token, &policy).0,
            missing,
            "{scheme}"
        );
        assert_eq!(
            code_of(provider, &request, &other_token, &policy).0,
            mismatch,
            "{scheme}"
        );
        assert_eq!(
            code_of(provider, &request, &key(), &policy).0,
            mismatch,
            "{scheme}"
        );
    }
}

#[test]
fn tc3_scope_date_must_be_the_utc_date_of_the_timestamp() {
    // A client that used its local (UTC+8) date: 1551113065 is 2019-02-26 there, 2019-02-25 in UTC.
    let mut request = RawRequest {
        method: "POST".into(),
        path: "/".into(),
        body: b"{}".to_vec(),
        ..Default::default()
    };
    request.set_header("Host", "cvm.tencentcloudapi.com");
    request.set_header("Content-Type", "application/json");
    request.set_header("X-TC-Timestamp", "1551113065");
    let canonical = tc3::canonicalize(
        &request,
        "content-type;host",
        HeaderReading::AS_SENT,
        "1551113065",
        "2019-02-26",
        "cvm",
    )
    .unwrap();
    let signature = tc3::sign_canonical(canonical, &key().secret);
    request.set_header(
        "Authorization",
        tc3::authorization("AKIDEXAMPLE", &signature, "content-type;host"),
    );
    let mut policy = VerifyPolicy::at(1551113065);
    let error = verify(
        Provider::Tencent,
        &request,
        &key(),
        &NonceCache::new(),
        &policy,
    )
    .unwrap_err();
    assert!(
        matches!(error.kind, VerifyErrorKind::CredentialScopeDate { .. }),
        "{error}"
    );
    assert_eq!(answer(&error).0, "AuthFailure.SignatureFailure");
    assert!(error
        .debug
        .unwrap()
        .string_to_sign
        .contains("2019-02-25/cvm/tc3_request"));
    policy.tc3_require_scope_date = false;
    assert!(verify(
        Provider::Tencent,
        &request,
        &key(),
        &NonceCache::new(),
        &policy
    )
    .is_ok());
}

#[test]
fn authorization_syntax_and_signed_header_minimums() {
    let tc3 = signed(Scheme::Tc3HmacSha256, &key());
    let acs3 = signed(Scheme::Acs3HmacSha256, &key());
    let cases: Vec<(Scheme, RawRequest, &str)> = vec![
        (
            Scheme::Tc3HmacSha256,
            with_auth(&tc3, |a| a.replace("content-type;host", "host")),
            "AuthFailure.InvalidAuthorization",
        ),
        (
            Scheme::Tc3HmacSha256,
            with_auth(&tc3, |a| a.replace(", Signature=", ", Sig=")),
            "AuthFailure.InvalidAuthorization",
        ),
        (
            Scheme::Tc3HmacSha256,
            with_auth(&tc3, |_| "TC3-HMAC-SHA256 garbage".into()),
            "AuthFailure.InvalidAuthorization",
        ),
        (
            Scheme::Tc3HmacSha256,
            with_auth(&tc3, |_| "Bearer abc".into()),
            "AuthFailure.InvalidAuthorization",
        ),
        (
            Scheme::Tc3HmacSha256,
            with_auth(&tc3, |a| a.replace("tc3_request", "tc4_request")),
            "AuthFailure.InvalidAuthorization",
        ),
        (
            Scheme::Tc3HmacSha256,
            without(&tc3, "authorization"),
            "AuthFailure.InvalidAuthorization",
        ),
        (
            Scheme::Tc3HmacSha256,
            without(&tc3, "x-tc-timestamp"),
            "MissingParameter",
        ),
        (
            Scheme::Tc3HmacSha256,
            with_header(&tc3, "X-TC-Timestamp", "soon"),
            "InvalidParameterValue",
        ),
        (
            Scheme::Acs3HmacSha256,
            with_auth(&acs3, |a| a.replace("x-acs-date;", "")),
            "IncompleteSignature",
        ),
        (
            Scheme::Acs3HmacSha256,
            with_auth(&acs3, |a| a.replace("Signature=", "Signature=zz")),
            "IncompleteSignature",
        ),
        (
            Scheme::Acs3HmacSha256,
            with_auth(&acs3, |_| "ACS3-HMAC-MD5 Credential=a".into()),
            "InvalidSignatureMethod",
        ),
        (
            Scheme::Acs3HmacSha256,
            without(&acs3, "authorization"),
            "IncompleteSignature",
        ),
        (
            Scheme::Acs3HmacSha256,
            without(&acs3, "x-acs-signature-nonce"),
            "IncompleteSignature",
        ),
        (
            Scheme::Acs3HmacSha256,
            with_header(&acs3, "x-acs-date", "2026-11-22 15:33:36"),
            "InvalidTimeStamp.Format",
        ),
    ];
    for (scheme, request, want) in cases {
        let (got, status) = code(scheme, &request);
        assert_eq!(got, want, "{scheme}: {:?}", request.header("authorization"));
        assert_eq!(
            status,
            if scheme.provider() == Provider::Tencent {
                200
            } else {
                400
            }
        );
    }
}

fn with_auth(request: &RawRequest, edit: impl Fn(&str) -> String) -> RawRequest {
    let mut request = request.clone();
    let value = edit(request.header("authorization").unwrap());
    request.set_header("Authorization", value);
    request
}

fn without(request: &RawRequest, name: &str) -> RawRequest {
    let mut request = request.clone();
    request.remove_header(name);
    request
}

fn with_header(request: &RawRequest, name: &str, value: &str) -> RawRequest {
    let mut request = request.clone();
    request.set_header(name, value);
    request
}

fn with_query(request: &RawRequest, from: &str, to: &str) -> RawRequest {
    let mut request = request.clone();
    assert!(
        request.raw_query.contains(from),
        "{from} in {}",
        request.raw_query
    );
    request.raw_query = request.raw_query.replace(from, to);
    request
}

#[test]
fn parameter_scheme_failures() {
    let v1 = signed(Scheme::TencentHmacSha256, &key());
    let rpc = signed(Scheme::RpcHmacSha1, &key());
    let cases = vec![
        (
            Scheme::TencentHmacSha256,
            with_query(&v1, "Nonce=42&", ""),
            "MissingParameter",
        ),
        (
            Scheme::TencentHmacSha256,
            with_query(&v1, "SecretId=AKIDEXAMPLE", "SecretId=AKIDOTHER"),
            "AuthFailure.SecretIdNotFound",
        ),
        (
            Scheme::TencentHmacSha256,
            with_query(&v1, "KeyIds.0=skey-1", "KeyIds.0=%FF"),
            "InvalidParameter",
        ),
        (
            Scheme::TencentHmacSha256,
            with_query(&v1, "Timestamp=", "Timestamp=x"),
            "InvalidParameterValue",
        ),
        (
            Scheme::RpcHmacSha1,
            with_query(
                &rpc,
                "SignatureMethod=HMAC-SHA1",
                "SignatureMethod=HMAC-SHA256",
            ),
            "InvalidSignatureMethod",
        ),
        (
            Scheme::RpcHmacSha1,
            with_query(&rpc, "SignatureVersion=1.0", "SignatureVersion=2.0"),
            "InvalidSignatureMethod",
        ),
        (
            Scheme::RpcHmacSha1,
            with_query(&rpc, "Timestamp=", "Timestamp=x"),
            "InvalidTimeStamp.Format",
        ),
        (
            Scheme::RpcHmacSha1,
            with_query(&rpc, "AccessKeyId=", "AccessKeyIdX="),
            "MissingParameter",
        ),
        // Alibaba canonicalises bytes: invalid UTF-8 is just a different (mismatching) value.
        (
            Scheme::RpcHmacSha1,
            with_query(&rpc, "KeyIds.0=skey-1", "KeyIds.0=%FF"),
            "SignatureDoesNotMatch",
        ),
    ];
    for (scheme, request, want) in cases {
        assert_eq!(
            code(scheme, &request).0,
            want,
            "{scheme}: {}",
            request.raw_query
        );
    }
}

#[test]
fn alibaba_skew_window_is_configurable() {
    let request = signed(Scheme::RpcHmacSha1, &key());
    let mut policy = VerifyPolicy::at(T + 20 * 60);
    assert_eq!(
        code_of(Provider::Alibaba, &request, &key(), &policy).0,
        "InvalidTimeStamp.Expired"
    );
    policy.alibaba_skew_secs = 31 * 60;
    assert_eq!(
        code_of(Provider::Alibaba, &request, &key(), &policy).0,
        "OK"
    );
    let tencent = signed(Scheme::Tc3HmacSha256, &key());
    assert_eq!(
        code_of(
            Provider::Tencent,
            &tencent,
            &key(),
            &VerifyPolicy::at(T + 300)
        )
        .0,
        "OK"
    );
    assert_eq!(
        code_of(
            Provider::Tencent,
            &tencent,
            &key(),
            &VerifyPolicy::at(T + 301)
        )
        .0,
        "AuthFailure.SignatureExpire"
    );
}

#[test]
fn unsigned_payload_can_be_refused() {
    let mut input = input(Scheme::Tc3HmacSha256);
    input.unsigned_payload = true;
    let request = sign(Scheme::Tc3HmacSha256, &input, &key()).unwrap().request;
    let mut policy = VerifyPolicy::at(T);
    assert_eq!(
        code_of(Provider::Tencent, &request, &key(), &policy).0,
        "OK"
    );
    policy.tc3_allow_unsigned_payload = false;
    assert_eq!(
        code_of(Provider::Tencent, &request, &key(), &policy).0,
        "AuthFailure.SignatureFailure"
    );
}

#[test]
fn nonce_memory_is_bounded_by_the_window() {
    let nonces = NonceCache::new();
    let policy = VerifyPolicy::at(T);
    for i in 0..200 {
        let mut input = input(Scheme::Acs3HmacSha256);
        input.nonce = format!("nonce-{i}");
        let request = sign(Scheme::Acs3HmacSha256, &input, &key())
            .unwrap()
            .request;
        verify(Provider::Alibaba, &request, &key(), &nonces, &policy).unwrap();
    }
    assert_eq!(nonces.len_at(T), 200);
    assert_eq!(nonces.len_at(T + policy.alibaba_skew_secs + 1), 0);
}

#[test]
fn nonce_is_not_burnt_by_a_forged_request() {
    let nonces = NonceCache::new();
    let policy = VerifyPolicy::at(T);
    let genuine = signed(Scheme::RpcHmacSha1, &key());
    let forged = with_query(&genuine, "KeyIds.0=skey-1", "KeyIds.0=skey-2");
    let error = verify(Provider::Alibaba, &forged, &key(), &nonces, &policy).unwrap_err();
    assert_eq!(answer(&error).0, "SignatureDoesNotMatch");
    assert!(verify(Provider::Alibaba, &genuine, &key(), &nonces, &policy).is_ok());
}

#[test]
fn huge_inputs_verify_or_fail_cleanly() {
    let big = "v".repeat(2 << 20);
    for scheme in Scheme::ALL {
        let mut input = input(scheme);
        if scheme == Scheme::Tc3HmacSha256 {
            input.body = Some(format!(r#"{{"KeyIds": ["{big}"]}}"#).into_bytes());
        } else {
            input.params.push(("Big".into(), big.clone()));
        }
        let request = sign(scheme, &input, &key()).unwrap().request;
        assert_eq!(code(scheme, &request).0, "OK", "{scheme}");
    }
    let mut garbage = signed(Scheme::Tc3HmacSha256, &key());
    garbage.set_header(
        "Authorization",
        format!("TC3-HMAC-SHA256 {}", ",".repeat(1 << 20)),
    );
    assert_eq!(
        code(Scheme::Tc3HmacSha256, &garbage).0,
        "AuthFailure.InvalidAuthorization"
    );
}

#[test]
fn routing_values_report_what_the_signature_covers() {
    let mut input = input(Scheme::Tc3HmacSha256);
    let request = sign(Scheme::Tc3HmacSha256, &input, &key()).unwrap().request;
    let verified = verify(
        Provider::Tencent,
        &request,
        &key(),
        &NonceCache::new(),
        &VerifyPolicy::at(T),
    )
    .unwrap();
    assert!(!verified.action.unwrap().authenticated);
    assert!(!verified.region.unwrap().authenticated);
    input.extra_signed_headers = vec!["x-tc-action".into(), "x-tc-region".into()];
    let request = sign(Scheme::Tc3HmacSha256, &input, &key()).unwrap().request;
    let verified = verify(
        Provider::Tencent,
        &request,
        &key(),
        &NonceCache::new(),
        &VerifyPolicy::at(T),
    )
    .unwrap();
    assert!(verified.action.unwrap().authenticated);
    assert_eq!(verified.region.unwrap().value, "ap-guangzhou");
    let rpc = signed(Scheme::RpcHmacSha1, &key());
    let verified = verify(
        Provider::Alibaba,
        &rpc,
        &key(),
        &NonceCache::new(),
        &VerifyPolicy::at(T),
    )
    .unwrap();
    let region = verified.region.unwrap();
    assert_eq!(
        (region.value.as_str(), region.authenticated),
        ("ap-guangzhou", true)
    );
}

#[test]
fn wrong_provider_for_the_scheme_is_rejected() {
    let tc3 = signed(Scheme::Tc3HmacSha256, &key());
    assert_eq!(
        code_of(Provider::Alibaba, &tc3, &key(), &VerifyPolicy::at(T)).0,
        "IncompleteSignature"
    );
    let acs3 = signed(Scheme::Acs3HmacSha256, &key());
    assert_eq!(
        code_of(Provider::Tencent, &acs3, &key(), &VerifyPolicy::at(T)).0,
        "AuthFailure.InvalidAuthorization"
    );
}

#[test]
fn sign_input_is_validated() {
    let bad = [
        SignInput {
            method: "post".into(),
            ..input(Scheme::RpcHmacSha1)
        },
        SignInput {
            host: "".into(),
            ..input(Scheme::RpcHmacSha1)
        },
        SignInput {
            nonce: "abc".into(),
            ..input(Scheme::TencentHmacSha1)
        },
        input(Scheme::RpcHmacSha1).with_header("Host", "evil"),
        input(Scheme::RpcHmacSha1).with_header("X-Bad", "a\r\nb"),
        input(Scheme::RpcHmacSha1).with_body("{}", "application/json"),
    ];
    for (i, input) in bad.iter().enumerate() {
        let scheme = if i == 2 {
            Scheme::TencentHmacSha1
        } else {
            Scheme::RpcHmacSha1
        };
        assert!(sign(scheme, input, &key()).is_err(), "case {i}");
    }
    let far_future = SignInput {
        timestamp: i64::MAX,
        ..input(Scheme::Acs3HmacSha256)
    };
    assert!(sign(Scheme::Acs3HmacSha256, &far_future, &key()).is_err());
}

/// The verifier names the protocol condition; the provider specs settle the code, including
/// where the docs allow several answers (each such discrepancy's first alternative).
#[test]
fn conditions_the_docs_leave_open_are_settled_by_the_specs() {
    use cloudconform::spec::{ProtocolCondition as C, Trigger};
    let condition = |provider, request: &RawRequest, credentials: &Credentials| {
        let e = verify(
            provider,
            request,
            credentials,
            &NonceCache::new(),
            &VerifyPolicy::at(T),
        )
        .unwrap_err();
        let Trigger::Protocol { condition, .. } = e.trigger() else {
            panic!("{e}: not a protocol condition");
        };
        (condition, answer(&e).0)
    };
    let tc3 = signed(Scheme::Tc3HmacSha256, &key());
    // Tencent: a malformed timestamp (discrepancy tencent-malformed-timestamp).
    assert_eq!(
        condition(
            Provider::Tencent,
            &with_header(&tc3, "X-TC-Timestamp", "soon"),
            &key()
        ),
        (C::MalformedTimestamp, "InvalidParameterValue".to_string())
    );
    // Tencent: a TC3 Authorization naming another algorithm
    // (discrepancy tencent-unsupported-signature-method).
    let md5 = with_auth(&tc3, |a| a.replacen("TC3-HMAC-SHA256", "TC3-HMAC-MD5", 1));
    assert_eq!(
        condition(Provider::Tencent, &md5, &key()),
        (
            C::UnsupportedSignatureMethod,
            "AuthFailure.InvalidAuthorization".to_string()
        )
    );
    for scheme in [Scheme::Acs3HmacSha256, Scheme::RpcHmacSha1] {
        let with_token = key().with_session_token("TOKEN-1");
        let request = signed(scheme, &with_token);
        // Alibaba: a token of another key (discrepancy alibaba-token-of-another-key).
        assert_eq!(
            condition(
                Provider::Alibaba,
                &request,
                &key().with_session_token("TOKEN-2")
            ),
            (
                C::TokenMismatch,
                "InvalidSecurityToken.MismatchWithAccessKey".to_string()
            ),
            "{scheme}"
        );
        // Alibaba: temporary credentials without their token (one documented answer).
        assert_eq!(
            condition(Provider::Alibaba, &signed(scheme, &key()), &with_token),
            (C::MissingToken, "MissingSecurityToken".to_string()),
            "{scheme}"
        );
    }
}
