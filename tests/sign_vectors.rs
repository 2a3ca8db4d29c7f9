//! Known-answer tests: every vector in `shared/protocol/vectors/*.json`, intermediates included.
//!
//! Each test walks one file; every vector is checked field by field and every difference is
//! collected with the vector id, so one run lists all failures. The expected vector counts are
//! asserted so a vector that is skipped or not recognised fails the test instead of vanishing.
mod shared_support;
use cloudconform::http::RawRequest;
use cloudconform::sign::acs3::{self, Acs3Algorithm};
use cloudconform::sign::encoding::{
    encode_pairs, host_without_port, parse_form, percent_encode_path, percent_encode_rfc3986,
    query_and_form_params,
};
use cloudconform::sign::tc3::{self, HeaderReading};
use cloudconform::sign::tencent_v1::{self, V1Method};
use cloudconform::sign::VerifyPolicy;
use cloudconform::sign::{
    clock, crypto, rpc_v1, verify, Credentials, NonceCache, Provider, Secret,
};
use serde_json::Value;

const VECTORS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../shared/protocol/vectors/");

fn load(file: &str) -> Value {
    let path = format!("{VECTORS}{file}");
    let text = shared_support::read(&path);
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{file}: {e}"))
}

fn s<'a>(v: &'a Value, key: &str) -> &'a str {
    v[key]
        .as_str()
        .unwrap_or_else(|| panic!("field `{key}` is not a string in {v}"))
}

fn pairs(v: &Value) -> Vec<(String, String)> {
    v.as_array()
        .map(|items| {
            items
                .iter()
                .map(|p| {
                    (
                        p[0].as_str().unwrap().to_string(),
                        p[1].as_str().unwrap().to_string(),
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

fn byte_pairs(v: &Value) -> Vec<(Vec<u8>, Vec<u8>)> {
    pairs(v)
        .into_iter()
        .map(|(k, v)| (k.into_bytes(), v.into_bytes()))
        .collect()
}

/// Collects mismatches as `id: field: got … want …`.
#[derive(Default)]
struct Check(Vec<String>);

impl Check {
    fn eq(&mut self, id: &str, field: &str, got: &str, want: &str) {
        if got != want {
            self.0
                .push(format!("{id}: {field}:\n  got  {got:?}\n  want {want:?}"));
        }
    }
    fn fail(&mut self, id: &str, why: String) {
        self.0.push(format!("{id}: {why}"));
    }
    fn finish(self, checked: usize, expected: usize) {
        assert!(
            self.0.is_empty(),
            "{} problem(s):\n{}",
            self.0.len(),
            self.0.join("\n")
        );
        assert_eq!(checked, expected, "every vector must be checked");
    }
}

#[test]
fn tc3_hmac_sha256_vectors() {
    let file = load("tc3-hmac-sha256.json");
    let mut check = Check::default();
    let mut checked = 0;
    for vector in file["vectors"].as_array().unwrap() {
        let id = s(vector, "id");
        let input = &vector["input"];
        let inter = &vector["intermediate"];
        let mut request = RawRequest {
            method: s(input, "method").into(),
            path: s(input, "path").into(),
            raw_query: s(input, "query").into(),
            headers: pairs(&input["headers"]),
            body: s(input, "body").as_bytes().to_vec(),
        };
        let host = s(input, "host");
        let host_signed = input["host_signed"].as_str().unwrap_or(host);
        let without_port = host_signed != host;
        if without_port && host_without_port(host) != Some(host_signed) {
            check.fail(
                id,
                format!("host_signed {host_signed} is not {host} without its port"),
            );
        }
        let timestamp = input["timestamp"].as_i64().unwrap();
        let date = clock::utc_date(timestamp).unwrap();
        check.eq(id, "date", &date, s(inter, "date"));
        let reading = HeaderReading {
            host_without_port: without_port,
            ..HeaderReading::DOC
        };
        let canonical = match tc3::canonicalize(
            &request,
            s(input, "signed_headers"),
            reading,
            &timestamp.to_string(),
            &date,
            s(input, "service"),
        ) {
            Ok(c) => c,
            Err(absent) => {
                check.fail(id, format!("signed header {absent} absent"));
                continue;
            }
        };
        check.eq(
            id,
            "credential_scope",
            &canonical.credential_scope,
            s(inter, "credential_scope"),
        );
        check.eq(
            id,
            "hashed_request_payload",
            &canonical.hashed_request_payload,
            s(inter, "hashed_request_payload"),
        );
        check.eq(
            id,
            "canonical_request",
            &canonical.canonical_request,
            s(inter, "canonical_request"),
        );
        check.eq(
            id,
            "hashed_canonical_request",
            &canonical.hashed_canonical_request,
            s(inter, "hashed_canonical_request"),
        );
        check.eq(
            id,
            "string_to_sign",
            &canonical.string_to_sign,
            s(inter, "string_to_sign"),
        );
        let secret = Secret::new(s(input, "secret_key"));
        let signed = tc3::sign_canonical(canonical, &secret);
        check.eq(
            id,
            "secret_date_hex",
            &signed.keys.secret_date_hex(),
            s(inter, "secret_date_hex"),
        );
        check.eq(
            id,
            "secret_service_hex",
            &signed.keys.secret_service_hex(),
            s(inter, "secret_service_hex"),
        );
        check.eq(
            id,
            "secret_signing_hex",
            &signed.keys.secret_signing_hex(),
            s(inter, "secret_signing_hex"),
        );
        check.eq(
            id,
            "signature",
            &signed.signature,
            s(&vector["expected"], "signature"),
        );
        let authorization =
            tc3::authorization(s(input, "secret_id"), &signed, s(input, "signed_headers"));
        check.eq(
            id,
            "authorization",
            &authorization,
            s(&vector["expected"], "authorization"),
        );

        // The verifier must accept the request as the client sent it.
        request.set_header("Authorization", s(&vector["expected"], "authorization"));
        let key = Credentials::new(s(input, "secret_id"), s(input, "secret_key"));
        if let Err(e) = verify(
            Provider::Tencent,
            &request,
            &key,
            &NonceCache::new(),
            &VerifyPolicy::at(timestamp),
        ) {
            check.fail(id, format!("verify: {:?} {e}", e.trigger()));
        }
        checked += 1;
    }
    check.finish(checked, 19);
}

#[test]
fn tencent_v1_vectors() {
    let file = load("tencent-v1-hmac.json");
    let mut check = Check::default();
    let mut checked = 0;
    for vector in file["vectors"].as_array().unwrap() {
        let id = s(vector, "id");
        let input = &vector["input"];
        let params = byte_pairs(&input["params"]);
        let method_param = params
            .iter()
            .find(|(k, _)| k == b"SignatureMethod")
            .map(|(_, v)| v.as_slice());
        let method = V1Method::from_param(method_param);
        let host = s(input, "host");
        let Some(sts) =
            tencent_v1::string_to_sign(s(input, "method"), host, s(input, "path"), &params)
        else {
            check.fail(id, "parameters not UTF-8".into());
            continue;
        };
        check.eq(
            id,
            "string_to_sign",
            &sts,
            s(&vector["intermediate"], "string_to_sign"),
        );
        let secret = Secret::new(s(input, "secret_key"));
        let signed = tencent_v1::sign_string(method, &secret, sts);
        check.eq(
            id,
            "signature",
            &signed.signature,
            s(&vector["expected"], "signature"),
        );
        check.eq(
            id,
            "signature_urlencoded",
            &percent_encode_rfc3986(signed.signature.as_bytes()),
            s(&vector["expected"], "signature_urlencoded"),
        );

        // Wire vectors: the request as sent must decode to the same parameters and verify.
        if input.get("raw_query").is_some() || input.get("raw_body").is_some() {
            let mut headers = pairs(&input["headers"]);
            if headers.is_empty() {
                headers.push(("Host".into(), host.into()));
                if let Some(ct) = input["content_type"].as_str() {
                    headers.push(("Content-Type".into(), ct.into()));
                }
            }
            let request = RawRequest {
                method: s(input, "method").into(),
                path: s(input, "path").into(),
                raw_query: input["raw_query"].as_str().unwrap_or_default().into(),
                headers,
                body: input["raw_body"]
                    .as_str()
                    .unwrap_or_default()
                    .as_bytes()
                    .to_vec(),
            };
            let mut decoded = query_and_form_params(&request);
            decoded.retain(|(k, _)| k != b"Signature");
            let mut want = params.clone();
            decoded.sort();
            want.sort();
            if decoded != want {
                check.fail(id, "raw request decodes to different parameters".into());
            }
            let key = Credentials::new(s(input, "secret_id"), s(input, "secret_key"));
            let policy = VerifyPolicy::at(input["timestamp"].as_i64().unwrap());
            if let Err(e) = verify(
                Provider::Tencent,
                &request,
                &key,
                &NonceCache::new(),
                &policy,
            ) {
                check.fail(id, format!("verify: {:?} {e}", e.trigger()));
            }
        }
        checked += 1;
    }
    check.finish(checked, 12);
}

fn acs3_vector(check: &mut Check, vector: &Value, default_algorithm: Acs3Algorithm) {
    let id = s(vector, "id");
    let input = &vector["input"];
    let inter = &vector["intermediate"];
    let algorithm = input["algorithm"]
        .as_str()
        .map(|name| Acs3Algorithm::from_name(name).expect("known algorithm"))
        .unwrap_or(default_algorithm);
    let query_pairs = pairs(&input["query_pairs"]);
    let raw_query = input["query"]
        .as_str()
        .map(str::to_string)
        .unwrap_or_else(|| encode_pairs(&query_pairs));
    let mut request = RawRequest {
        method: s(input, "method").into(),
        path: s(input, "path").into(),
        raw_query,
        headers: pairs(&input["headers"]),
        body: input["body"]
            .as_str()
            .unwrap_or_default()
            .as_bytes()
            .to_vec(),
    };
    let decoded: Vec<(String, String)> = parse_form(request.raw_query.as_bytes())
        .into_iter()
        .map(|(k, v)| (String::from_utf8(k).unwrap(), String::from_utf8(v).unwrap()))
        .collect();
    if decoded != query_pairs {
        check.fail(id, format!("query decodes to {decoded:?}"));
    }
    let payload_hash = input["hashed_request_payload_given"]
        .as_str()
        .map(str::to_string)
        .unwrap_or_else(|| algorithm.hash_hex(&request.body));
    let canonical = match acs3::canonicalize(
        algorithm,
        &request,
        s(input, "signed_headers"),
        &payload_hash,
    ) {
        Ok(c) => c,
        Err(absent) => return check.fail(id, format!("signed header {absent} absent")),
    };
    check.eq(
        id,
        "canonical_query_string",
        &canonical.canonical_query_string,
        s(inter, "canonical_query_string"),
    );
    check.eq(
        id,
        "canonical_headers",
        &canonical.canonical_headers,
        s(inter, "canonical_headers"),
    );
    if let Some(want) = inter["hashed_request_payload"].as_str() {
        check.eq(
            id,
            "hashed_request_payload",
            &canonical.hashed_request_payload,
            want,
        );
    }
    check.eq(
        id,
        "canonical_request",
        &canonical.canonical_request,
        s(inter, "canonical_request"),
    );
    check.eq(
        id,
        "hashed_canonical_request",
        &canonical.hashed_canonical_request,
        s(inter, "hashed_canonical_request"),
    );
    check.eq(
        id,
        "string_to_sign",
        &canonical.string_to_sign,
        s(inter, "string_to_sign"),
    );
    let secret = Secret::new(s(input, "access_key_secret"));
    let signed = acs3::sign_canonical(algorithm, canonical, &secret);
    check.eq(
        id,
        "signature",
        &signed.signature,
        s(&vector["expected"], "signature"),
    );
    let authorization = acs3::authorization(
        algorithm,
        s(input, "access_key_id"),
        s(input, "signed_headers"),
        &signed.signature,
    );
    check.eq(
        id,
        "authorization",
        &authorization,
        s(&vector["expected"], "authorization"),
    );

    // Complete requests (all but the unit-test fragments) must pass the verifier.
    if let Some(date) = input["x_acs_date"].as_str() {
        request.set_header("Authorization", authorization);
        let key = Credentials::new(s(input, "access_key_id"), s(input, "access_key_secret"));
        let policy = VerifyPolicy::at(clock::parse_iso8601(date).unwrap());
        if let Err(e) = verify(
            Provider::Alibaba,
            &request,
            &key,
            &NonceCache::new(),
            &policy,
        ) {
            check.fail(id, format!("verify: {:?} {e}", e.trigger()));
        }
    }
}

#[test]
fn acs3_vectors_sha256_sm3_encoding_and_primitives() {
    let file = load("acs3-hmac-sha256.json");
    let mut check = Check::default();
    let mut checked = 0;
    for vector in file["vectors"].as_array().unwrap() {
        acs3_vector(&mut check, vector, Acs3Algorithm::HmacSha256);
        checked += 1;
    }
    for vector in file["acs3_hmac_sm3_vectors"].as_array().unwrap() {
        acs3_vector(&mut check, vector, Acs3Algorithm::HmacSm3);
        checked += 1;
    }
    for case in file["percent_encoding_cases"]["cases"].as_array().unwrap() {
        let input = s(case, "input").as_bytes();
        let got = if s(case, "rule").contains("path") {
            percent_encode_path(input)
        } else {
            percent_encode_rfc3986(input)
        };
        check.eq(s(case, "rule"), "output", &got, s(case, "output"));
        checked += 1;
    }
    for case in file["primitive_cases"]["cases"].as_array().unwrap() {
        let name = s(case, "case");
        let got = match name {
            "ACS3-HMAC-SHA256 hash (SHA-256 hex) of 'test'" => crypto::sha256_hex(b"test"),
            "SHA-256 hex of empty body" => crypto::sha256_hex(b""),
            "ACS3-HMAC-SM3 hash of 'test'" => crypto::sm3_hex(b"test"),
            "HMAC-SM3(key='secret', 'source')" => {
                hex::encode(crypto::hmac_sm3(b"secret", b"source"))
            }
            other => {
                check.fail(other, "primitive case not understood".into());
                continue;
            }
        };
        check.eq(name, "output", &got, s(case, "output"));
        checked += 1;
    }
    check.finish(checked, 13 + 2 + 5 + 4);
}

#[test]
fn alibaba_rpc_vectors() {
    let file = load("alibaba-rpc-v1-hmac-sha1.json");
    let mut check = Check::default();
    let mut checked = 0;
    for vector in file["vectors"].as_array().unwrap() {
        let id = s(vector, "id");
        let input = &vector["input"];
        let inter = &vector["intermediate"];
        let params = byte_pairs(&input["params"]);
        let canonical = rpc_v1::canonicalize(s(input, "method"), &params);
        check.eq(
            id,
            "canonicalized_query_string",
            &canonical.canonicalized_query_string,
            s(inter, "canonicalized_query_string"),
        );
        check.eq(
            id,
            "string_to_sign",
            &canonical.string_to_sign,
            s(inter, "string_to_sign"),
        );
        let secret_text = s(input, "access_key_secret");
        check.eq(
            id,
            "hmac_key",
            &format!("{secret_text}&"),
            s(inter, "hmac_key"),
        );
        let signed = rpc_v1::sign_canonical(canonical, &Secret::new(secret_text));
        check.eq(
            id,
            "signature",
            &signed.signature,
            s(&vector["expected"], "signature"),
        );
        check.eq(
            id,
            "signature_urlencoded",
            &percent_encode_rfc3986(signed.signature.as_bytes()),
            s(&vector["expected"], "signature_urlencoded"),
        );
        if let Some(query) = input["query"].as_str() {
            let request = RawRequest {
                method: s(input, "method").into(),
                path: s(input, "path").into(),
                raw_query: query.into(),
                headers: vec![("Host".into(), input["host"].as_str().unwrap_or("h").into())],
                body: input["body"]
                    .as_str()
                    .unwrap_or_default()
                    .as_bytes()
                    .to_vec(),
            };
            let from_wire = rpc_v1::canonicalize(&request.method, &query_and_form_params(&request));
            check.eq(
                id,
                "wire canonicalized_query_string",
                &from_wire.canonicalized_query_string,
                s(inter, "canonicalized_query_string"),
            );
            let key = Credentials::new(s(input, "access_key_id"), secret_text);
            let policy = VerifyPolicy::at(clock::parse_iso8601(s(input, "timestamp")).unwrap());
            if let Err(e) = verify(
                Provider::Alibaba,
                &request,
                &key,
                &NonceCache::new(),
                &policy,
            ) {
                check.fail(id, format!("verify: {:?} {e}", e.trigger()));
            }
        }
        checked += 1;
    }
    for vector in file["string_to_sign_only"].as_array().unwrap() {
        let id = s(vector, "id");
        let input = &vector["input"];
        let canonical = rpc_v1::canonicalize(s(input, "method"), &byte_pairs(&input["params"]));
        check.eq(
            id,
            "canonicalized_query_string",
            &canonical.canonicalized_query_string,
            s(&vector["intermediate"], "canonicalized_query_string"),
        );
        check.eq(
            id,
            "string_to_sign",
            &canonical.string_to_sign,
            s(&vector["expected"], "string_to_sign"),
        );
        checked += 1;
    }
    check.finish(checked, 15 + 1);
}
