//! The 64 wire captures of the official SDKs (`shared/captures/`): each verifies with the test
//! secret, our intermediates equal the independent reference (`verification.jsonl`), and a single
//! changed byte in any signed component, a timestamp outside the window, or a replayed Alibaba
//! nonce is rejected with the provider's code.
mod shared_support;
mod verify_support;
use cloudconform::http::RawRequest;
use cloudconform::sign::capture::{
    parse_captures, parse_references, CaptureRecord, ReferenceRecord,
};
use cloudconform::sign::encoding::{host_without_port, parse_form, query_and_form_params};
use cloudconform::sign::tc3::{self, HeaderReading};
use cloudconform::sign::tencent_v1;
use cloudconform::sign::{
    acs3, rpc_v1, verify, Credentials, HostReading, NonceCache, Provider, Scheme, VerifyError,
    VerifyPolicy,
};
use verify_support::answer;

const CAPTURES: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../shared/captures/captures.jsonl"
);
const REFERENCES: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../shared/captures/verification.jsonl"
);

fn captures() -> Vec<CaptureRecord> {
    let records = parse_captures(&shared_support::read(CAPTURES)).unwrap();
    assert_eq!(records.len(), 64);
    records
}

fn references() -> Vec<ReferenceRecord> {
    parse_references(&shared_support::read(REFERENCES)).unwrap()
}

fn key() -> Credentials {
    Credentials::new("AKIDEXAMPLE", "SECRETEXAMPLE")
}

fn provider(record: &CaptureRecord) -> Provider {
    record.provider().expect("known family")
}

fn check(
    record: &CaptureRecord,
    request: &RawRequest,
    policy: &VerifyPolicy,
) -> Result<cloudconform::sign::Verified, VerifyError> {
    verify(
        provider(record),
        request,
        &key(),
        &NonceCache::new(),
        policy,
    )
}

fn scheme_of(record: &CaptureRecord) -> Scheme {
    let policy = VerifyPolicy::at(record.now());
    check(record, &record.request, &policy)
        .unwrap_or_else(|e| panic!("seq {}: {} {e}", record.seq, answer(&e).0))
        .scheme
}

/// The provider's code for a wrong signature.
fn mismatch_code(provider: Provider) -> &'static str {
    match provider {
        Provider::Tencent => "AuthFailure.SignatureFailure",
        Provider::Alibaba => "SignatureDoesNotMatch",
    }
}

fn expired_code(provider: Provider) -> &'static str {
    match provider {
        Provider::Tencent => "AuthFailure.SignatureExpire",
        Provider::Alibaba => "InvalidTimeStamp.Expired",
    }
}

/// Change one ASCII letter or digit to a different one that is not merely its other case.
fn bump(byte: u8) -> u8 {
    match byte {
        b'z' => b'a',
        b'Z' => b'A',
        b'9' => b'0',
        b if b.is_ascii_alphanumeric() => b + 1,
        b => b,
    }
}

/// Index of the first letter/digit of the value of the first parameter that is not a common
/// (pre-signature-checked) parameter, outside any `%XY` escape.
fn business_value_byte(raw: &[u8]) -> Option<usize> {
    const COMMON: [&str; 17] = [
        "Action",
        "Version",
        "Timestamp",
        "Nonce",
        "SecretId",
        "SignatureMethod",
        "Signature",
        "Region",
        "Language",
        "RequestClient",
        "Format",
        "AccessKeyId",
        "SignatureVersion",
        "SignatureNonce",
        "SignatureType",
        "Token",
        "SecurityToken",
    ];
    let mut offset = 0;
    for segment in raw.split(|&b| b == b'&') {
        let start = offset;
        offset += segment.len() + 1;
        let Some(eq) = segment.iter().position(|&b| b == b'=') else {
            continue;
        };
        if COMMON.iter().any(|c| c.as_bytes() == &segment[..eq]) {
            continue;
        }
        let mut i = eq + 1;
        while i < segment.len() {
            if segment[i] == b'%' {
                i += 3;
                continue;
            }
            if segment[i].is_ascii_alphanumeric() {
                return Some(start + i);
            }
            i += 1;
        }
    }
    None
}

fn mutate_at(bytes: &mut [u8], index: usize) {
    bytes[index] = bump(bytes[index]);
}

fn set_header(request: &mut RawRequest, name: &str, value: String) {
    assert!(request.header(name).is_some(), "{name} present");
    request.set_header(name, value);
}

#[test]
fn all_64_captures_verify_and_report_routing() {
    let references = references();
    let mut by_scheme = std::collections::BTreeMap::new();
    for record in captures() {
        let policy = VerifyPolicy::at(record.now());
        let verified = check(&record, &record.request, &policy).unwrap_or_else(|e| {
            panic!(
                "seq {} {}: {} {e} {:?}",
                record.seq,
                record.label,
                answer(&e).0,
                e.debug
            )
        });
        assert_eq!(verified.access_key_id, "AKIDEXAMPLE");
        let reference = references.iter().find(|r| r.seq == record.seq).unwrap();
        let scheme_text = verified.scheme.wire_name();
        assert!(
            reference.scheme.contains(scheme_text),
            "seq {}: {} vs {}",
            record.seq,
            scheme_text,
            reference.scheme
        );
        let action = verified.action.expect("action reported");
        assert_eq!(
            Some(&action.value),
            record.action.as_ref(),
            "seq {}",
            record.seq
        );
        // Tencent's default SignedHeaders leave X-TC-Action unauthenticated; everything else signs it.
        assert_eq!(
            action.authenticated,
            verified.scheme != Scheme::Tc3HmacSha256,
            "seq {}",
            record.seq
        );
        if verified.scheme == Scheme::Tc3HmacSha256 {
            let node = record.label.starts_with("node-tencent");
            let want = if node {
                HostReading::WithoutPort
            } else {
                HostReading::AsReceived
            };
            assert_eq!(verified.host_reading, want, "seq {}", record.seq);
        }
        *by_scheme.entry(scheme_text).or_insert(0) += 1;
    }
    let counts: Vec<_> = by_scheme.into_iter().collect();
    assert_eq!(
        counts,
        vec![
            ("ACS3-HMAC-SHA256", 14),
            ("ACS3-HMAC-SM3", 2),
            ("HMAC-SHA1", 12),
            ("HmacSHA1", 3),
            ("HmacSHA256", 7),
            ("TC3-HMAC-SHA256", 26),
        ]
    );
}

#[test]
fn intermediates_equal_the_independent_reference() {
    let references = references();
    for record in captures() {
        let reference = references.iter().find(|r| r.seq == record.seq).unwrap();
        let request = &record.request;
        let seq = record.seq;
        match scheme_of(&record) {
            Scheme::Tc3HmacSha256 => {
                let auth =
                    tc3::parse_authorization(request.header("authorization").unwrap()).unwrap();
                let reading = HeaderReading {
                    host_without_port: reference.canonical_request.as_deref().unwrap().contains(
                        &format!(
                            "host:{}\n",
                            host_without_port(request.host().unwrap()).unwrap_or("-")
                        ),
                    ),
                    ..HeaderReading::AS_SENT
                };
                let ts = request.header("x-tc-timestamp").unwrap();
                let canonical = tc3::canonicalize(
                    request,
                    &auth.signed_headers,
                    reading,
                    ts,
                    &auth.date,
                    &auth.service,
                )
                .unwrap();
                assert_eq!(
                    Some(&canonical.canonical_request),
                    reference.canonical_request.as_ref(),
                    "seq {seq}"
                );
                assert_eq!(
                    Some(&canonical.string_to_sign),
                    reference.string_to_sign.as_ref(),
                    "seq {seq}"
                );
            }
            Scheme::TencentHmacSha1 | Scheme::TencentHmacSha256 => {
                let params = query_and_form_params(request);
                let sts = tencent_v1::string_to_sign(
                    &request.method,
                    request.host().unwrap(),
                    "/",
                    &params,
                );
                assert_eq!(sts.as_ref(), reference.string_to_sign.as_ref(), "seq {seq}");
            }
            scheme @ (Scheme::Acs3HmacSha256 | Scheme::Acs3HmacSm3) => {
                let auth =
                    acs3::parse_authorization(request.header("authorization").unwrap()).unwrap();
                let algorithm = if scheme == Scheme::Acs3HmacSm3 {
                    acs3::Acs3Algorithm::HmacSm3
                } else {
                    acs3::Acs3Algorithm::HmacSha256
                };
                let hash = algorithm.hash_hex(&request.body);
                let canonical =
                    acs3::canonicalize(algorithm, request, &auth.signed_headers, &hash).unwrap();
                assert_eq!(
                    Some(&canonical.canonical_request),
                    reference.canonical_request.as_ref(),
                    "seq {seq}"
                );
                assert_eq!(
                    Some(&canonical.string_to_sign),
                    reference.string_to_sign.as_ref(),
                    "seq {seq}"
                );
            }
            Scheme::RpcHmacSha1 => {
                let canonical =
                    rpc_v1::canonicalize(&request.method, &query_and_form_params(request));
                assert_eq!(
                    Some(&canonical.canonicalized_query_string),
                    reference.canonicalized_query_string.as_ref(),
                    "seq {seq}"
                );
                assert_eq!(
                    Some(&canonical.string_to_sign),
                    reference.string_to_sign.as_ref(),
                    "seq {seq}"
                );
            }
        }
    }
}

/// One changed component and the outcome it must have.
struct Mutation {
    what: &'static str,
    request: RawRequest,
    expect: Result<(), &'static str>,
}

fn mutations(record: &CaptureRecord, scheme: Scheme) -> Vec<Mutation> {
    let provider = provider(record);
    let mismatch = Err(mismatch_code(provider));
    let original = &record.request;
    let mut out = Vec::new();

    let mut m = original.clone();
    let last = m.method.len() - 1;
    bump_method_byte(&mut m.method, last);
    out.push(Mutation {
        what: "method",
        request: m,
        expect: mismatch,
    });

    let mut m = original.clone();
    let host = m.host().unwrap().to_string();
    let start = host.find("://").map_or(0, |i| i + 3);
    let mut bytes = host.into_bytes();
    mutate_at(&mut bytes, start);
    set_header(&mut m, "host", String::from_utf8(bytes).unwrap());
    // The RPC string to sign does not contain the host (alibaba.md §3.2).
    let host_expect = if scheme == Scheme::RpcHmacSha1 {
        Ok(())
    } else {
        mismatch
    };
    out.push(Mutation {
        what: "host",
        request: m,
        expect: host_expect,
    });

    let query_is_signed = !(scheme == Scheme::Tc3HmacSha256 && original.method != "GET");
    if query_is_signed {
        if let Some(index) = business_value_byte(original.raw_query.as_bytes()) {
            let mut bytes = original.raw_query.clone().into_bytes();
            mutate_at(&mut bytes, index);
            let mut m = original.clone();
            m.raw_query = String::from_utf8(bytes).unwrap();
            out.push(Mutation {
                what: "query value",
                request: m,
                expect: mismatch,
            });
        }
    }

    let signed_header = match scheme {
        Scheme::Tc3HmacSha256 => Some("content-type"),
        Scheme::Acs3HmacSha256 | Scheme::Acs3HmacSm3 => Some("x-acs-version"),
        _ => None,
    };
    if let Some(name) = signed_header {
        let mut m = original.clone();
        let mut value = m.header(name).unwrap().as_bytes().to_vec();
        mutate_at(&mut value, 0);
        set_header(&mut m, name, String::from_utf8(value).unwrap());
        out.push(Mutation {
            what: "signed header",
            request: m,
            expect: mismatch,
        });
    }
    // Unsigned routing header under TC3: accepted, and reported as unauthenticated.
    if scheme == Scheme::Tc3HmacSha256 {
        let mut m = original.clone();
        set_header(&mut m, "x-tc-action", "DescribeInstances".into());
        out.push(Mutation {
            what: "unsigned X-TC-Action",
            request: m,
            expect: Ok(()),
        });
    }

    if !original.body.is_empty() {
        let mut m = original.clone();
        let index = if parse_form(&original.body).len() > 1 && scheme != Scheme::Tc3HmacSha256 {
            business_value_byte(&original.body).unwrap()
        } else {
            original
                .body
                .iter()
                .position(u8::is_ascii_alphanumeric)
                .unwrap()
        };
        mutate_at(&mut m.body, index);
        out.push(Mutation {
            what: "body byte",
            request: m,
            expect: mismatch,
        });
    } else if matches!(
        scheme,
        Scheme::Tc3HmacSha256 | Scheme::Acs3HmacSha256 | Scheme::Acs3HmacSm3
    ) {
        let mut m = original.clone();
        m.body.push(b'x');
        out.push(Mutation {
            what: "body appended",
            request: m,
            expect: mismatch,
        });
    }

    let window = VerifyPolicy::at(0).skew_window(provider);
    let mut m = original.clone();
    match scheme {
        Scheme::Tc3HmacSha256 => {
            let ts: i64 = m.header("x-tc-timestamp").unwrap().parse().unwrap();
            set_header(&mut m, "x-tc-timestamp", (ts + window + 5).to_string());
        }
        Scheme::Acs3HmacSha256 | Scheme::Acs3HmacSm3 => {
            let date =
                cloudconform::sign::clock::parse_iso8601(m.header("x-acs-date").unwrap()).unwrap();
            set_header(
                &mut m,
                "x-acs-date",
                cloudconform::sign::clock::iso8601(date - window - 5).unwrap(),
            );
        }
        Scheme::TencentHmacSha1 | Scheme::TencentHmacSha256 | Scheme::RpcHmacSha1 => {
            replace_timestamp_param(&mut m, scheme, window);
        }
    }
    out.push(Mutation {
        what: "timestamp moved",
        request: m,
        expect: Err(expired_code(provider)),
    });
    out
}

/// Method names are ASCII upper case: bump the last letter (`POST` ⇒ `POSU`).
fn bump_method_byte(method: &mut String, index: usize) {
    let mut bytes = std::mem::take(method).into_bytes();
    mutate_at(&mut bytes, index);
    *method = String::from_utf8(bytes).unwrap();
}

/// Move the `Timestamp` parameter outside the window, wherever it travels (query or form body).
fn replace_timestamp_param(request: &mut RawRequest, scheme: Scheme, window: i64) {
    let rewrite = |raw: &str| -> String {
        raw.split('&')
            .map(|segment| match segment.split_once('=') {
                Some(("Timestamp", value)) if scheme == Scheme::RpcHmacSha1 => {
                    let decoded = String::from_utf8(cloudconform::sign::encoding::form_decode(
                        value.as_bytes(),
                    ))
                    .unwrap();
                    let t =
                        cloudconform::sign::clock::parse_iso8601(&decoded).unwrap() + window + 5;
                    format!(
                        "Timestamp={}",
                        cloudconform::sign::clock::iso8601(t)
                            .unwrap()
                            .replace(':', "%3A")
                    )
                }
                Some(("Timestamp", value)) => {
                    format!("Timestamp={}", value.parse::<i64>().unwrap() - window - 5)
                }
                _ => segment.to_string(),
            })
            .collect::<Vec<_>>()
            .join("&")
    };
    let query = rewrite(&request.raw_query);
    let body = rewrite(std::str::from_utf8(&request.body).unwrap());
    assert!(
        query != request.raw_query || body.as_bytes() != request.body,
        "Timestamp found"
    );
    request.raw_query = query;
    request.body = body.into_bytes();
}

#[test]
fn single_byte_changes_to_signed_components_are_rejected() {
    let mut checked = 0;
    for record in captures() {
        let scheme = scheme_of(&record);
        let policy = VerifyPolicy::at(record.now());
        let list = mutations(&record, scheme);
        let kinds: Vec<_> = list.iter().map(|m| m.what).collect();
        assert!(
            kinds.contains(&"method")
                && kinds.contains(&"host")
                && kinds.contains(&"timestamp moved")
        );
        assert!(
            kinds
                .iter()
                .any(|k| k.starts_with("body") || *k == "query value"),
            "seq {}: no parameter-carrying component mutated ({kinds:?})",
            record.seq
        );
        for mutation in list {
            let outcome = check(&record, &mutation.request, &policy);
            let context = format!("seq {} {} [{}]", record.seq, record.label, mutation.what);
            match (mutation.expect, outcome) {
                (Ok(()), Ok(verified)) => {
                    if mutation.what == "unsigned X-TC-Action" {
                        assert!(!verified.action.unwrap().authenticated, "{context}");
                    }
                }
                (Err(code), Err(error)) => {
                    assert_eq!(answer(&error).0, code, "{context}: {error}");
                    assert_eq!(
                        answer(&error).1,
                        if provider(&record) == Provider::Tencent {
                            200
                        } else {
                            400
                        }
                    );
                    if code == mismatch_code(provider(&record)) {
                        let debug = error
                            .debug
                            .as_ref()
                            .unwrap_or_else(|| panic!("{context}: no debug"));
                        assert!(!debug.string_to_sign.is_empty(), "{context}");
                        assert!(!format!("{error:?}").contains("SECRETEXAMPLE"), "{context}");
                    }
                }
                (expect, outcome) => panic!(
                    "{context}: expected {expect:?}, got {:?}",
                    outcome.map_err(|e| answer(&e).0)
                ),
            }
            checked += 1;
        }
    }
    assert!(checked >= 64 * 4, "{checked}");
}

#[test]
fn server_time_outside_the_window_expires_every_capture() {
    for record in captures() {
        let provider = provider(&record);
        let window = VerifyPolicy::at(0).skew_window(provider);
        for now in [record.now() + window + 2, record.now() - window - 2] {
            let error = check(&record, &record.request, &VerifyPolicy::at(now)).unwrap_err();
            assert_eq!(
                answer(&error).0,
                expired_code(provider),
                "seq {}",
                record.seq
            );
        }
        // Inside the window (a few seconds of capture latency) it still verifies.
        assert!(check(
            &record,
            &record.request,
            &VerifyPolicy::at(record.now() + window - 5)
        )
        .is_ok());
    }
}

#[test]
fn replayed_alibaba_nonces_are_rejected() {
    let nonces = NonceCache::new();
    let mut replayed = 0;
    for record in captures()
        .into_iter()
        .filter(|r| provider(r) == Provider::Alibaba)
    {
        let policy = VerifyPolicy::at(record.now());
        verify(Provider::Alibaba, &record.request, &key(), &nonces, &policy).unwrap();
        let error =
            verify(Provider::Alibaba, &record.request, &key(), &nonces, &policy).unwrap_err();
        assert_eq!(
            answer(&error),
            ("SignatureNonceUsed".to_string(), 400),
            "seq {}",
            record.seq
        );
        replayed += 1;
    }
    assert_eq!(replayed, 28);
}

#[test]
fn wrong_secret_and_unknown_key_map_to_provider_codes() {
    for record in captures() {
        let provider = provider(&record);
        let policy = VerifyPolicy::at(record.now());
        let wrong = Credentials::new("AKIDEXAMPLE", "NOTTHESECRET");
        let error = verify(
            provider,
            &record.request,
            &wrong,
            &NonceCache::new(),
            &policy,
        )
        .unwrap_err();
        assert_eq!(
            answer(&error).0,
            mismatch_code(provider),
            "seq {}",
            record.seq
        );
        // What the emulator puts into the message (tests/emulator_captures.rs checks it).
        assert!(!error.debug.as_ref().unwrap().string_to_sign.is_empty());
        let other = Credentials::new("SOMEONEELSE", "SECRETEXAMPLE");
        let error = verify(
            provider,
            &record.request,
            &other,
            &NonceCache::new(),
            &policy,
        )
        .unwrap_err();
        let (code, status) = match provider {
            Provider::Tencent => ("AuthFailure.SecretIdNotFound", 200),
            Provider::Alibaba => ("InvalidAccessKeyId.NotFound", 404),
        };
        assert_eq!(
            answer(&error),
            (code.to_string(), status),
            "seq {}",
            record.seq
        );
    }
}
