//! Bad input gets the provider's error envelope — never a panic, a 500 or a hang: malformed and
//! non-object JSON, wrong content types, invalid UTF-8, oversized requests (the provider spec's
//! size limits), 100 000-item arrays, repeated parameters, slow clients, unsupported methods.
mod emulator_support;

use cloudconform::emulator::EmulatorConfig;
use cloudconform::http::{RawRequest, RawResponse};
use cloudconform::sign::{self, Credentials, Scheme, SignInput};
use emulator_support::{self as support, ROOT_ID, ROOT_SECRET};
use serde_json::{json, Value};
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const ROOT: (&str, &str) = (ROOT_ID, ROOT_SECRET);

/// The answer is a Tencent error envelope: HTTP 200, `Content-Type: application/json` exactly,
/// `Response.Error.Code`, a lower-case UUID RequestId.
fn tencent_envelope(r: &RawResponse) -> Result<String, String> {
    let v: Value = serde_json::from_slice(&r.body).map_err(|e| format!("not JSON: {e}"))?;
    let code = v
        .pointer("/Response/Error/Code")
        .and_then(Value::as_str)
        .ok_or("no Response.Error.Code")?;
    let id = v
        .pointer("/Response/RequestId")
        .and_then(Value::as_str)
        .unwrap_or_default();
    if r.status != 200 {
        return Err(format!("status {}", r.status));
    }
    if r.header("content-type") != Some("application/json") {
        return Err(format!("content-type {:?}", r.header("content-type")));
    }
    if id.len() != 36 || id.chars().any(|c| c.is_ascii_uppercase()) {
        return Err(format!("RequestId {id}"));
    }
    Ok(code.to_string())
}

/// The answer is an Alibaba error envelope: 4xx/5xx, RequestId (upper-case UUID), HostId, Code,
/// Message, Recommend.
fn alibaba_envelope(r: &RawResponse) -> Result<String, String> {
    let v: Value = serde_json::from_slice(&r.body).map_err(|e| format!("not JSON: {e}"))?;
    if !(400..=599).contains(&r.status) || r.status == 500 {
        return Err(format!("status {}", r.status));
    }
    for field in ["RequestId", "HostId", "Code", "Message", "Recommend"] {
        if !v.get(field).is_some_and(Value::is_string) {
            return Err(format!("no {field}"));
        }
    }
    let id = v["RequestId"].as_str().unwrap();
    if id.len() != 36 || id.chars().any(|c| c.is_ascii_lowercase()) {
        return Err(format!("RequestId {id}"));
    }
    Ok(v["Code"].as_str().unwrap().to_string())
}

fn tc3(host: &str, action: &str, body: Vec<u8>, content_type: &str) -> RawRequest {
    let input = SignInput::fresh(sign::Provider::Tencent, "POST", host, action, "2017-03-12")
        .with_region("ap-guangzhou")
        .with_body(body, content_type);
    sign::sign(
        Scheme::Tc3HmacSha256,
        &input,
        &Credentials::new(ROOT.0, ROOT.1),
    )
    .unwrap()
    .request
}

fn v1(host: &str, params: &[(&str, &str)]) -> RawRequest {
    support::signed(
        Scheme::TencentHmacSha256,
        host,
        "DeleteKeyPairs",
        "2017-03-12",
        Some("ap-guangzhou"),
        params,
        None,
        ROOT,
    )
}

fn unsigned(
    method: &str,
    host: &str,
    query: &str,
    headers: &[(&str, &str)],
    body: Vec<u8>,
) -> RawRequest {
    let mut h: Vec<(String, String)> = vec![("Host".into(), host.into())];
    h.extend(headers.iter().map(|(n, v)| (n.to_string(), v.to_string())));
    RawRequest {
        method: method.into(),
        path: "/".into(),
        raw_query: query.into(),
        headers: h,
        body,
    }
}

struct Check {
    name: &'static str,
    request: RawRequest,
    alibaba: bool,
    /// The code expected, when one is documented for the fault.
    code: Option<&'static str>,
}

fn tencent_case(name: &'static str, request: RawRequest, code: Option<&'static str>) -> Check {
    Check {
        name,
        request,
        alibaba: false,
        code,
    }
}

fn alibaba_case(name: &'static str, request: RawRequest, code: Option<&'static str>) -> Check {
    Check {
        name,
        request,
        alibaba: true,
        code,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_kind_of_bad_input_gets_the_provider_envelope() {
    let emu = support::start().await;
    let host = emu.host();
    let h = host.as_str();
    let tc_headers = [
        ("X-TC-Action", "DeleteKeyPairs"),
        ("X-TC-Version", "2017-03-12"),
        ("X-TC-Region", "ap-guangzhou"),
    ];
    let ali_query =
        "Action=DetachKeyPair&Version=2014-05-26&AccessKeyId=AKIDEXAMPLE&SignatureVersion=1.0";

    let hundred_k: Vec<String> = (0..100_000).map(|i| format!("skey-{i:08}")).collect();
    let hundred_k_body = serde_json::to_vec(&json!({ "KeyIds": hundred_k })).unwrap();
    let ecs_ids: Vec<String> = (0..100_000).map(|i| format!("i-bp1{i:017}")).collect();
    let ecs_form = format!(
        "RegionId=cn-hangzhou&KeyPairName=cc_ecs_bound&InstanceIds={}",
        percent_encoding::utf8_percent_encode(
            &serde_json::to_string(&ecs_ids).unwrap(),
            percent_encoding::NON_ALPHANUMERIC
        )
    );
    let ecs_100k = {
        let input = SignInput::fresh(
            sign::Provider::Alibaba,
            "POST",
            h,
            "DetachKeyPair",
            "2014-05-26",
        )
        .with_body(ecs_form.into_bytes(), "application/x-www-form-urlencoded");
        sign::sign(
            Scheme::Acs3HmacSha256,
            &input,
            &Credentials::new(ROOT.0, ROOT.1),
        )
        .unwrap()
        .request
    };
    let deep = format!(
        "{{\"KeyIds\": {}{}}}",
        "[".repeat(100_000),
        "]".repeat(100_000)
    );
    let big_get_query = format!(
        "Action=DeleteKeyPairs&Version=2017-03-12&SecretId=AKIDEXAMPLE&KeyIds.0={}",
        "a".repeat(33 * 1024)
    );
    let big_form = format!(
        "Action=DeleteKeyPairs&Version=2017-03-12&SecretId=AKIDEXAMPLE&KeyIds.0={}",
        "a".repeat(1024 * 1024)
    );
    let deep_filter = format!("Filters.0{}", ".Values".repeat(100_000));
    let huge_json = {
        let mut b = b"{\"KeyIds\": [\"".to_vec();
        b.resize(10 * 1024 * 1024 - 2, b'a');
        b.extend_from_slice(b"\"]}");
        b
    };

    let checks = vec![
        tencent_case(
            "malformed JSON",
            tc3(
                h,
                "DeleteKeyPairs",
                b"{\"KeyIds\": [".to_vec(),
                "application/json",
            ),
            Some("InvalidParameter"),
        ),
        tencent_case(
            "JSON array body",
            tc3(h, "DeleteKeyPairs", b"[1, 2]".to_vec(), "application/json"),
            Some("InvalidParameter"),
        ),
        tencent_case(
            "JSON string body",
            tc3(
                h,
                "DeleteKeyPairs",
                b"\"KeyIds\"".to_vec(),
                "application/json",
            ),
            Some("InvalidParameter"),
        ),
        tencent_case(
            "JSON null body",
            tc3(h, "DeleteKeyPairs", b"null".to_vec(), "application/json"),
            Some("InvalidParameter"),
        ),
        tencent_case(
            "trailing garbage",
            tc3(h, "DeleteKeyPairs", b"{} {}".to_vec(), "application/json"),
            Some("InvalidParameter"),
        ),
        tencent_case(
            "100 000-deep nesting",
            tc3(h, "DeleteKeyPairs", deep.into_bytes(), "application/json"),
            Some("InvalidParameter"),
        ),
        tencent_case(
            "text/plain body",
            tc3(
                h,
                "DeleteKeyPairs",
                b"{\"KeyIds\": []}".to_vec(),
                "text/plain",
            ),
            Some("InvalidParameter"),
        ),
        tencent_case(
            "POST without Content-Type",
            unsigned("POST", h, "", &tc_headers, b"{\"KeyIds\": []}".to_vec()),
            Some("InvalidParameter"),
        ),
        tencent_case(
            "invalid UTF-8 in JSON",
            tc3(
                h,
                "DeleteKeyPairs",
                b"{\"KeyIds\": [\"skey-\xff\xfe\"]}".to_vec(),
                "application/json",
            ),
            Some("InvalidParameter"),
        ),
        tencent_case(
            "invalid UTF-8 in the query",
            unsigned(
                "GET",
                h,
                "Action=DeleteKeyPairs&Version=2017-03-12&SecretId=AKIDEXAMPLE&KeyIds.0=%FF%FE",
                &[],
                vec![],
            ),
            Some("InvalidParameter"),
        ),
        tencent_case(
            "GET over 32 KB",
            unsigned(
                "GET",
                h,
                &big_get_query,
                &[("X-TC-Action", "DeleteKeyPairs")],
                vec![],
            ),
            Some("RequestSizeLimitExceeded"),
        ),
        tencent_case(
            "v1 form POST over 1 MB",
            unsigned(
                "POST",
                h,
                "",
                &[("Content-Type", "application/x-www-form-urlencoded")],
                big_form.into_bytes(),
            ),
            Some("RequestSizeLimitExceeded"),
        ),
        tencent_case(
            "TC3 POST over 10 MB",
            tc3(
                h,
                "DeleteKeyPairs",
                {
                    let mut b = huge_json.clone();
                    b.extend_from_slice(b"   ");
                    b
                },
                "application/json",
            ),
            Some("RequestSizeLimitExceeded"),
        ),
        tencent_case(
            "100 000 KeyIds",
            tc3(h, "DeleteKeyPairs", hundred_k_body, "application/json"),
            Some("InvalidParameterValue.LimitExceeded"),
        ),
        tencent_case(
            "KeyIds.0 twice (signed v1)",
            v1(
                h,
                &[("KeyIds.0", "skey-free0001"), ("KeyIds.0", "skey-free0002")],
            ),
            Some("InvalidParameter"),
        ),
        tencent_case(
            "KeyIds.1 without KeyIds.0 (signed v1)",
            v1(h, &[("KeyIds.1", "skey-free0001")]),
            Some("InvalidParameter"),
        ),
        tencent_case(
            "KeyIds as a bare value (signed v1)",
            v1(h, &[("KeyIds", "skey-free0001")]),
            Some("InvalidParameter"),
        ),
        tencent_case(
            "Filters nested 100 000 levels deep (signed v1)",
            support::signed(
                Scheme::TencentHmacSha256,
                h,
                "DescribeKeyPairs",
                "2017-03-12",
                Some("ap-guangzhou"),
                &[(&deep_filter, "x")],
                None,
                ROOT,
            ),
            Some("InvalidParameter"),
        ),
        tencent_case(
            "repeated JSON member",
            tc3(
                h,
                "DeleteKeyPairs",
                b"{\"KeyIds\": [\"skey-free0001\"], \"KeyIds\": [\"skey-free0002\"]}".to_vec(),
                "application/json",
            ),
            Some("InvalidParameter"),
        ),
        tencent_case(
            "PUT",
            unsigned("PUT", h, "", &tc_headers, vec![]),
            Some("UnsupportedProtocol"),
        ),
        tencent_case(
            "DELETE",
            unsigned("DELETE", h, "", &tc_headers, vec![]),
            Some("UnsupportedProtocol"),
        ),
        tencent_case(
            "PATCH",
            unsigned("PATCH", h, "", &tc_headers, vec![]),
            Some("UnsupportedProtocol"),
        ),
        tencent_case(
            "OPTIONS",
            unsigned("OPTIONS", h, "", &tc_headers, vec![]),
            Some("UnsupportedProtocol"),
        ),
        tencent_case(
            "no Action",
            unsigned(
                "POST",
                h,
                "",
                &[
                    ("X-TC-Version", "2017-03-12"),
                    ("Content-Type", "application/json"),
                ],
                b"{}".to_vec(),
            ),
            Some("MissingParameter"),
        ),
        tencent_case(
            "an odd path",
            {
                let mut r = unsigned(
                    "GET",
                    h,
                    "Action=DeleteKeyPairs&Version=2017-03-12&SecretId=AKIDEXAMPLE",
                    &[],
                    vec![],
                );
                r.path = "/v2/index.php".into();
                r
            },
            None,
        ),
        tencent_case(
            "tccli-style Host with a scheme",
            unsigned(
                "POST",
                &format!("http://{h}"),
                "",
                &tc_headers,
                b"{}".to_vec(),
            ),
            None,
        ),
        alibaba_case(
            "JSON body",
            unsigned(
                "POST",
                h,
                ali_query,
                &[("Content-Type", "application/json")],
                b"{\"RegionId\": \"cn-hangzhou\"}".to_vec(),
            ),
            None,
        ),
        alibaba_case(
            "malformed form body",
            unsigned(
                "POST",
                h,
                ali_query,
                &[("Content-Type", "application/x-www-form-urlencoded")],
                b"RegionId=%E4%B8".to_vec(),
            ),
            None,
        ),
        alibaba_case(
            "invalid UTF-8 in the query",
            unsigned(
                "POST",
                h,
                &format!("{ali_query}&KeyPairName=%C3%28"),
                &[],
                vec![],
            ),
            None,
        ),
        alibaba_case(
            "RegionId twice (signed)",
            support::signed(
                Scheme::Acs3HmacSha256,
                h,
                "DetachKeyPair",
                "2014-05-26",
                None,
                &[
                    ("RegionId", "cn-hangzhou"),
                    ("RegionId", "cn-beijing"),
                    ("KeyPairName", "cc_ecs_bound"),
                    ("InstanceIds", "[\"i-bp1linuxstopped0001\"]"),
                ],
                None,
                ROOT,
            ),
            Some("InvalidParameter"),
        ),
        alibaba_case(
            "100 000 InstanceIds (form body, signed)",
            ecs_100k,
            Some("InstanceKeyPairLimitExceeded"),
        ),
        alibaba_case(
            "body over 10 MB",
            unsigned(
                "POST",
                h,
                ali_query,
                &[("Content-Type", "application/x-www-form-urlencoded")],
                vec![b'a'; 10 * 1024 * 1024 + 1],
            ),
            None,
        ),
        alibaba_case(
            "DELETE",
            unsigned("DELETE", h, ali_query, &[], vec![]),
            Some("UnsupportedHTTPMethod"),
        ),
        alibaba_case(
            "PUT with x-acs headers",
            unsigned(
                "PUT",
                h,
                "",
                &[
                    ("x-acs-action", "DetachKeyPair"),
                    ("x-acs-version", "2014-05-26"),
                ],
                vec![],
            ),
            Some("UnsupportedHTTPMethod"),
        ),
        alibaba_case(
            "no Action",
            unsigned(
                "POST",
                h,
                "Version=2014-05-26&AccessKeyId=AKIDEXAMPLE&SignatureVersion=1.0",
                &[],
                vec![],
            ),
            Some("InvalidAction.NotFound"),
        ),
    ];
    let mut failures = Vec::new();
    for c in checks {
        let started = Instant::now();
        let r = support::send(emu.addr, &c.request).await;
        let verdict = if c.alibaba {
            alibaba_envelope(&r)
        } else {
            tencent_envelope(&r)
        };
        match (verdict, c.code) {
            (Err(why), _) => failures.push(format!(
                "{}: {why}: {} {}",
                c.name,
                r.status,
                String::from_utf8_lossy(&r.body[..r.body.len().min(400)])
            )),
            (Ok(got), Some(want)) if got != want => {
                failures.push(format!("{}: code {got}, want {want}", c.name))
            }
            _ => {}
        }
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "{} took {:?}",
            c.name,
            started.elapsed()
        );
    }
    // The emulator still answers normally afterwards.
    let health = support::control(emu.addr, "GET", "health", None).await;
    assert_eq!(health.status, 200);
    assert!(
        failures.is_empty(),
        "{} bad-input answers wrong:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_clients_time_out() {
    let emu = support::start_with(EmulatorConfig {
        rate_limits: false,
        request_timeout: Duration::from_secs(1),
        ..EmulatorConfig::default()
    })
    .await;

    // A body that never completes: the provider's envelope once the timeout passes. The clock
    // starts before the write: the server's timeout starts only after the bytes arrive, so the
    // answer can never come sooner than 1 s after this instant, however loaded the machine (a
    // clock started after the write could lose the time this thread waited to run again).
    let started = Instant::now();
    let mut s = TcpStream::connect(emu.addr).await.unwrap();
    s.write_all(
        format!(
            "POST / HTTP/1.1\r\nHost: {}\r\nX-TC-Action: DeleteKeyPairs\r\nX-TC-Version: 2017-03-12\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{{\"KeyIds\"",
            emu.host()
        )
        .as_bytes(),
    )
    .await
    .unwrap();
    let r = tokio::time::timeout(Duration::from_secs(10), support::read_response(&mut s))
        .await
        .expect("answered within 10 s");
    assert!(
        started.elapsed() >= Duration::from_secs(1),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(
        tencent_envelope(&r).as_deref(),
        Ok("InvalidParameter"),
        "{}",
        String::from_utf8_lossy(&r.body)
    );

    // A head that never completes: the connection is closed (no provider is known yet).
    let mut s = TcpStream::connect(emu.addr).await.unwrap();
    s.write_all(b"POST / HTTP/1.1\r\nHost: x\r\nX-TC-Act")
        .await
        .unwrap();
    let mut buf = Vec::new();
    let closed = tokio::time::timeout(Duration::from_secs(10), s.read_to_end(&mut buf)).await;
    assert!(closed.is_ok(), "connection with a stalled head is closed");

    // Other clients were served meanwhile.
    assert_eq!(
        support::control(emu.addr, "GET", "health", None)
            .await
            .status,
        200
    );
}
