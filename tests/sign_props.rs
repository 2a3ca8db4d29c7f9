//! Property tests: for every scheme, signing then verifying round-trips for arbitrary parameter
//! sets (unicode, reserved characters, empty values, arrays), any single change to a signed
//! component is rejected with the provider's mismatch code, arbitrary garbage never panics the
//! verifier, and no error ever shows the secret.
use cloudconform::http::RawRequest;
use cloudconform::sign::encoding::{encode_pairs, has_form_body, parse_form};
use cloudconform::sign::{
    sign, verify, Credentials, NonceCache, Provider, Scheme, SignInput, Signed, VerifyError,
    VerifyPolicy,
};
use cloudconform::spec::{ProtocolCondition, Trigger};
use proptest::prelude::*;

/// Names the signers add themselves; a user parameter with one of these names would collide.
const RESERVED: [&str; 18] = [
    "Action",
    "Version",
    "Region",
    "RegionId",
    "Timestamp",
    "Nonce",
    "SecretId",
    "SignatureMethod",
    "Signature",
    "Token",
    "Format",
    "AccessKeyId",
    "SignatureVersion",
    "SignatureNonce",
    "SecurityToken",
    "Language",
    "RequestClient",
    "SignatureType",
];

fn param_name() -> impl Strategy<Value = String> {
    "[A-Z][A-Za-z0-9_]{0,8}".prop_filter("reserved", |n| !RESERVED.contains(&n.as_str()))
}

fn param_value() -> impl Strategy<Value = String> {
    prop_oneof![
        Just(String::new()),
        "[ -~]{0,16}",
        "[a-z中文字 ~!*'()&=+/%?#;:,\\[\\]\"]{0,10}",
        any::<String>(),
    ]
}

/// Flat parameters; an "array" expands to `Name.0`, `Name.1`… the way the Tencent SDKs send it.
fn params() -> impl Strategy<Value = Vec<(String, String)>> {
    let scalar = (param_name(), param_value()).prop_map(|(n, v)| vec![(n, v)]);
    let array =
        (param_name(), prop::collection::vec(param_value(), 1..4)).prop_map(|(n, values)| {
            values
                .into_iter()
                .enumerate()
                .map(|(i, v)| (format!("{n}.{i}"), v))
                .collect()
        });
    prop::collection::vec(prop_oneof![scalar, array], 0..5)
        .prop_map(|groups| groups.into_iter().flatten().collect())
}

#[derive(Debug, Clone)]
struct Call {
    scheme: Scheme,
    input: SignInput,
    token: Option<String>,
}

fn call() -> impl Strategy<Value = Call> {
    (
        prop::sample::select(Scheme::ALL.to_vec()),
        prop::bool::ANY,
        "[a-z]{1,10}(\\.[a-z]{1,6}){0,2}(:[1-9][0-9]{1,4})?",
        params(),
        1_000_000_000i64..2_000_000_000,
        any::<u64>(),
        prop::option::of("[A-Za-z0-9]{8,24}"),
        prop::option::of("[a-z-]{3,12}"),
        prop::option::of(prop::collection::vec(any::<u8>(), 0..64)),
        prop::bool::ANY,
        prop::bool::ANY,
    )
        .prop_map(
            |(
                scheme,
                get,
                host,
                params,
                timestamp,
                nonce,
                token,
                region,
                body,
                unsigned,
                sign_action,
            )| {
                let method = if get { "GET" } else { "POST" };
                let nonce = (nonce >> 1).to_string();
                let mut input = SignInput::new(
                    method,
                    host,
                    "DescribeThings",
                    "2020-01-01",
                    timestamp,
                    nonce,
                );
                input.params = params;
                input.region = region;
                // Only ACS3 POST takes an arbitrary explicit body; TC3 POST sends params as JSON.
                if let (Some(body), false, Scheme::Acs3HmacSha256 | Scheme::Acs3HmacSm3) =
                    (body, get, scheme)
                {
                    input.body = Some(body);
                    input.content_type = Some("application/octet-stream".into());
                }
                if scheme == Scheme::Tc3HmacSha256 {
                    input.unsigned_payload = unsigned;
                    if sign_action {
                        input.extra_signed_headers.push("x-tc-action".into());
                    }
                }
                Call {
                    scheme,
                    input,
                    token,
                }
            },
        )
}

fn credentials(call: &Call) -> Credentials {
    let key = Credentials::new("AKIDPROP", "SECRETPROPERTY0123456789");
    match &call.token {
        Some(token) => key.with_session_token(token.clone()),
        None => key,
    }
}

fn signed(call: &Call) -> Signed {
    sign(call.scheme, &call.input, &credentials(call)).expect("valid input signs")
}

fn verify_as(
    call: &Call,
    request: &RawRequest,
) -> Result<cloudconform::sign::Verified, cloudconform::sign::VerifyError> {
    let policy = VerifyPolicy::at(call.input.timestamp);
    verify(
        call.scheme.provider(),
        request,
        &credentials(call),
        &NonceCache::new(),
        &policy,
    )
}

/// Whether a failure is the bad-signature condition (the provider spec names its code).
fn is_bad_signature(error: &VerifyError) -> bool {
    matches!(
        error.trigger(),
        Trigger::Protocol {
            condition: ProtocolCondition::BadSignature,
            ..
        }
    )
}

/// Change one user parameter's value inside a query string or form body, keeping the rest.
fn change_param(raw: &[u8], user_names: &[String], pick: usize) -> Option<String> {
    let mut pairs: Vec<(String, String)> = parse_form(raw)
        .into_iter()
        .map(|(k, v)| {
            (
                String::from_utf8_lossy(&k).into_owned(),
                String::from_utf8_lossy(&v).into_owned(),
            )
        })
        .collect();
    let candidates: Vec<usize> = (0..pairs.len())
        .filter(|&i| user_names.contains(&pairs[i].0))
        .collect();
    let index = *candidates.get(pick % candidates.len().max(1))?;
    let value = &mut pairs[index].1;
    match value.chars().next() {
        None => value.push('x'),
        Some(first) => {
            let replacement = if first == 'a' { "b" } else { "a" };
            value.replace_range(..first.len_utf8(), replacement);
        }
    }
    Some(encode_pairs(&pairs))
}

/// Every single-component mutation that the scheme signs, applied to `signed`.
fn mutations(call: &Call, signed: &Signed, pick: usize) -> Vec<(&'static str, RawRequest)> {
    let original = &signed.request;
    let scheme = call.scheme;
    let tc3 = scheme == Scheme::Tc3HmacSha256;
    let acs3 = matches!(scheme, Scheme::Acs3HmacSha256 | Scheme::Acs3HmacSm3);
    let mut out = Vec::new();

    let mut m = original.clone();
    m.method = if m.method == "GET" {
        "POST".into()
    } else {
        "GET".into()
    };
    out.push(("method", m));

    if scheme != Scheme::RpcHmacSha1 {
        let mut m = original.clone();
        let host = format!("x{}", m.host().unwrap());
        m.set_header("host", host);
        out.push(("host", m));
    }

    let user_names: Vec<String> = call.input.params.iter().map(|(k, _)| k.clone()).collect();
    let params_in_query = !(tc3 && original.method != "GET");
    if params_in_query {
        if let Some(query) = change_param(original.raw_query.as_bytes(), &user_names, pick) {
            let mut m = original.clone();
            m.raw_query = query;
            out.push(("parameter value", m));
        }
    } else if has_form_body(original) {
        if let Some(body) = change_param(&original.body, &user_names, pick) {
            let mut m = original.clone();
            m.body = body.into_bytes();
            out.push(("form parameter value", m));
        }
    }

    let signed_headers: &[&str] = if tc3 {
        &["content-type"]
    } else if acs3 {
        &[
            "x-acs-action",
            "x-acs-version",
            "x-acs-signature-nonce",
            "x-acs-content-sha256",
        ]
    } else {
        &[]
    };
    if !signed_headers.is_empty() {
        let name = signed_headers[pick % signed_headers.len()];
        let mut m = original.clone();
        let value = format!("{}x", m.header(name).unwrap());
        m.set_header(name, value);
        out.push(("signed header", m));
    }

    let v1 = matches!(scheme, Scheme::TencentHmacSha1 | Scheme::TencentHmacSha256);
    let body_signed =
        (tc3 && !call.input.unsigned_payload) || acs3 || (v1 && has_form_body(original));
    if body_signed {
        let mut m = original.clone();
        m.body.extend_from_slice(if has_form_body(original) {
            b"&Zz=1"
        } else {
            b"x"
        });
        out.push(("body", m));
    }
    out
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 384, ..ProptestConfig::default() })]

    #[test]
    fn sign_then_verify_round_trips(call in call()) {
        let signed = signed(&call);
        let verified = verify_as(&call, &signed.request);
        prop_assert!(verified.is_ok(), "{:?}: {:?}", call.scheme, verified.map_err(|e| (e.trigger(), e.to_string())));
        let verified = verified.unwrap();
        prop_assert_eq!(verified.scheme, call.scheme);
        prop_assert_eq!(verified.access_key_id, "AKIDPROP");
        prop_assert_eq!(verified.timestamp, call.input.timestamp);
        prop_assert_eq!(verified.session_token, call.token.is_some());
        let action = verified.action.unwrap();
        prop_assert_eq!(action.value, "DescribeThings");
        let action_signed = call.input.extra_signed_headers.iter().any(|h| h == "x-tc-action");
        prop_assert_eq!(action.authenticated, call.scheme != Scheme::Tc3HmacSha256 || action_signed);
    }

    #[test]
    fn any_single_mutation_of_a_signed_component_is_rejected(call in call(), pick in 0usize..64) {
        let signed = signed(&call);
        let all = mutations(&call, &signed, pick);
        prop_assert!(!all.is_empty());
        let (what, request) = &all[pick % all.len()];
        let error = verify_as(&call, request);
        prop_assert!(error.is_err(), "{:?} {} accepted", call.scheme, what);
        let error = error.unwrap_err();
        prop_assert!(is_bad_signature(&error), "{:?} {}: {}", call.scheme, what, error);
        prop_assert!(error.debug.is_some());
    }

    #[test]
    fn wrong_secret_errors_never_show_either_secret(call in call(), other in "[A-Za-z0-9]{20,32}") {
        let signed = signed(&call);
        let mut wrong = credentials(&call);
        wrong.secret = cloudconform::sign::Secret::new(format!("OTHER{other}"));
        let policy = VerifyPolicy::at(call.input.timestamp);
        let error = verify(call.scheme.provider(), &signed.request, &wrong, &NonceCache::new(), &policy).unwrap_err();
        let shown = format!("{error} {error:?} {:?}", error.trigger());
        prop_assert!(!shown.contains("SECRETPROPERTY0123456789"));
        let other_secret = format!("OTHER{other}");
        let intermediates = format!("{:?}", signed.intermediates);
        prop_assert!(!shown.contains(&other_secret));
        prop_assert!(!intermediates.contains("SECRETPROPERTY0123456789"));
    }

    #[test]
    fn garbage_requests_never_panic(
        method in "[A-Z]{0,6}",
        query in any::<String>(),
        auth_prefix in prop::sample::select(vec!["TC3-HMAC-SHA256 ", "ACS3-HMAC-SHA256 ", "ACS3-HMAC-SM3 ", ""]),
        auth_rest in any::<String>(),
        headers in prop::collection::vec(("[a-zA-Z-]{1,20}", any::<String>()), 0..6),
        body in prop::collection::vec(any::<u8>(), 0..128),
        now in any::<i64>(),
    ) {
        let mut request = RawRequest { method, path: "/".into(), raw_query: query, headers, body };
        request.set_header("Authorization", format!("{auth_prefix}{auth_rest}"));
        let key = Credentials::new("AKIDEXAMPLE", "SECRETEXAMPLE");
        for provider in [Provider::Tencent, Provider::Alibaba] {
            let _ = verify(provider, &request, &key, &NonceCache::new(), &VerifyPolicy::at(now));
            request.remove_header("authorization");
            request.raw_query.push_str("&Signature=x&Timestamp=9223372036854775807&SecretId=AKIDEXAMPLE&Nonce=1");
            let _ = verify(provider, &request, &key, &NonceCache::new(), &VerifyPolicy::at(now));
        }
    }
}
