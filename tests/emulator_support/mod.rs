//! Helpers shared by the emulator tests: start an in-process emulator, send exact bytes over
//! TCP, sign requests with `cloudconform::sign`, drive the control API.
#![allow(dead_code)]
use cloudconform::emulator::{Emulator, EmulatorConfig, EmulatorHandle, World};
use cloudconform::http::{RawRequest, RawResponse};
use cloudconform::sign::{self, Credentials, Scheme, SignInput};
use serde_json::Value;
use std::net::SocketAddr;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

pub const ROOT_ID: &str = "AKIDEXAMPLE";
pub const ROOT_SECRET: &str = "SECRETEXAMPLE";
pub const DENIED_ID: &str = "AKIDSUBUSERDENY";
pub const DENIED_SECRET: &str = "SUBUSERSECRET";

/// An emulator on a free port with rate limits off.
pub async fn start() -> EmulatorHandle {
    start_with(EmulatorConfig {
        rate_limits: false,
        ..EmulatorConfig::default()
    })
    .await
}

pub async fn start_with(config: EmulatorConfig) -> EmulatorHandle {
    Emulator::start(config).await.expect("emulator starts")
}

/// Serialize `request` byte for byte (headers as given, a Content-Length added when absent and
/// there is a body) and read one response.
pub async fn send(addr: SocketAddr, request: &RawRequest) -> RawResponse {
    let mut head = format!(
        "{} {}{} HTTP/1.1\r\n",
        request.method,
        request.path,
        if request.raw_query.is_empty() {
            String::new()
        } else {
            format!("?{}", request.raw_query)
        }
    );
    let mut has_length = false;
    for (n, v) in &request.headers {
        if n.eq_ignore_ascii_case("content-length") {
            has_length = true;
        }
        head.push_str(&format!("{n}: {v}\r\n"));
    }
    if !has_length && (!request.body.is_empty() || request.method == "POST") {
        head.push_str(&format!("Content-Length: {}\r\n", request.body.len()));
    }
    head.push_str("\r\n");
    let mut bytes = head.into_bytes();
    bytes.extend_from_slice(&request.body);
    send_bytes(addr, &bytes).await
}

/// Write raw bytes and read one HTTP/1.1 response (Content-Length framed).
pub async fn send_bytes(addr: SocketAddr, bytes: &[u8]) -> RawResponse {
    let mut stream = TcpStream::connect(addr).await.expect("connect");
    stream.write_all(bytes).await.expect("write");
    read_response(&mut stream).await
}

pub async fn read_response(stream: &mut TcpStream) -> RawResponse {
    let mut buf = Vec::new();
    let mut chunk = vec![0u8; 65536];
    let head_end = loop {
        if let Some(pos) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break pos;
        }
        let n = stream.read(&mut chunk).await.expect("read");
        assert!(
            n > 0,
            "connection closed before a response head: {:?}",
            String::from_utf8_lossy(&buf)
        );
        buf.extend_from_slice(&chunk[..n]);
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).into_owned();
    let mut lines = head.split("\r\n");
    let status: u16 = lines
        .next()
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|s| s.parse().ok())
        .expect("status line");
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_string(), v.trim().to_string()))
        .collect();
    let length: usize = headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case("content-length"))
        .and_then(|(_, v)| v.parse().ok())
        .unwrap_or(0);
    let mut body = buf[head_end + 4..].to_vec();
    while body.len() < length {
        let n = stream.read(&mut chunk).await.expect("read body");
        if n == 0 {
            break;
        }
        body.extend_from_slice(&chunk[..n]);
    }
    body.truncate(length);
    RawResponse {
        status,
        headers,
        body,
    }
}

pub fn json(r: &RawResponse) -> Value {
    serde_json::from_slice(&r.body)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&r.body)))
}

/// The error code of a provider error envelope, if the answer is one.
pub fn error_code(r: &RawResponse) -> Option<String> {
    let v = json(r);
    v.pointer("/Response/Error/Code")
        .or_else(|| v.get("Code").filter(|_| v.get("HostId").is_some()))
        .and_then(Value::as_str)
        .map(str::to_string)
}

/// A control-API call.
pub async fn control(
    addr: SocketAddr,
    method: &str,
    path: &str,
    body: Option<&Value>,
) -> RawResponse {
    let body = body
        .map(|b| serde_json::to_vec(b).unwrap())
        .unwrap_or_default();
    let request = RawRequest {
        method: method.into(),
        path: format!("/_cloudconform/{path}"),
        raw_query: String::new(),
        headers: vec![
            ("Host".into(), addr.to_string()),
            ("Content-Type".into(), "application/json".into()),
        ],
        body,
    };
    send(addr, &request).await
}

pub async fn put_world(addr: SocketAddr, world: &World) {
    let r = control(
        addr,
        "PUT",
        "world",
        Some(&serde_json::to_value(world).unwrap()),
    )
    .await;
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
}

/// Sign a call. Tencent TC3 POST sends `body` (JSON) when given; everything else sends `params`.
/// (One flat call per case reads best in the case tables, hence the argument count.)
#[allow(clippy::too_many_arguments)]
pub fn signed(
    scheme: Scheme,
    host: &str,
    action: &str,
    version: &str,
    region: Option<&str>,
    params: &[(&str, &str)],
    body: Option<&Value>,
    key: (&str, &str),
) -> RawRequest {
    let provider = scheme.provider();
    let method = match scheme {
        Scheme::Tc3HmacSha256 if body.is_none() && !params.is_empty() => "GET",
        Scheme::TencentHmacSha1 | Scheme::TencentHmacSha256 => "POST",
        _ => "POST",
    };
    let mut input = SignInput::fresh(provider, method, host, action, version);
    if let Some(r) = region {
        input = input.with_region(r);
    }
    for (k, v) in params {
        input = input.with_param(*k, *v);
    }
    if let Some(b) = body {
        input = input.with_body(serde_json::to_vec(b).unwrap(), "application/json");
    } else if scheme == Scheme::Tc3HmacSha256 && params.is_empty() {
        input = input.with_body(b"{}".to_vec(), "application/json");
    }
    sign::sign(scheme, &input, &Credentials::new(key.0, key.1))
        .expect("signs")
        .request
}

/// A TC3 JSON POST by the root account (CVM 2017-03-12, `ap-guangzhou`).
pub fn cvm_call(host: &str, action: &str, body: Value) -> RawRequest {
    signed(
        Scheme::Tc3HmacSha256,
        host,
        action,
        "2017-03-12",
        Some("ap-guangzhou"),
        &[],
        Some(&body),
        (ROOT_ID, ROOT_SECRET),
    )
}

/// An ACS3 call by the root account with owned parameter values.
pub fn alibaba_call(
    host: &str,
    version: &str,
    action: &str,
    params: &[(&str, String)],
) -> RawRequest {
    let params: Vec<(&str, &str)> = params.iter().map(|(k, v)| (*k, v.as_str())).collect();
    signed(
        Scheme::Acs3HmacSha256,
        host,
        action,
        version,
        None,
        &params,
        None,
        (ROOT_ID, ROOT_SECRET),
    )
}

/// A JSON array of ids, the way Alibaba list parameters travel.
pub fn json_list(list: &[&str]) -> String {
    serde_json::to_string(list).expect("strings serialize")
}

/// The body of a success; panics with the body when it is an error envelope.
pub fn ok_json(r: &RawResponse) -> Value {
    assert_eq!(error_code(r), None, "{}", String::from_utf8_lossy(&r.body));
    json(r)
}
