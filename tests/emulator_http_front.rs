//! What the HTTP front answers to bytes that are not a well-formed request (docs/emulator.md
//! "What the HTTP front answers"): one test per class, each answered with the envelope of the
//! provider the bytes point to (Tencent, the default, when nothing does) and the code the
//! provider spec gives the class — never a bare status line, an empty 200 or silence.
mod emulator_support;

use cloudconform::http::RawResponse;
use emulator_support as support;
use serde_json::Value;
use std::net::SocketAddr;
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;

/// Which envelope an answer is, and its code: `("tencent", code)` or `("alibaba", code)`.
/// Panics (failing the test) when the answer is neither provider's documented error envelope.
fn envelope(r: &RawResponse) -> (&'static str, String) {
    let v: Value = serde_json::from_slice(&r.body).unwrap_or_else(|e| {
        panic!(
            "status {} with a non-JSON body ({e}): {:?}",
            r.status,
            String::from_utf8_lossy(&r.body)
        )
    });
    if let Some(code) = v.pointer("/Response/Error/Code").and_then(Value::as_str) {
        assert_eq!(r.status, 200, "Tencent answers errors with HTTP 200");
        assert_eq!(r.header("content-type"), Some("application/json"));
        let id = v.pointer("/Response/RequestId").and_then(Value::as_str);
        assert!(id.is_some_and(|id| id.len() == 36), "RequestId {id:?}");
        return ("tencent", code.to_string());
    }
    for field in ["RequestId", "HostId", "Code", "Message", "Recommend"] {
        assert!(
            v.get(field).is_some_and(Value::is_string),
            "no {field}: {v}"
        );
    }
    assert!((400..500).contains(&r.status), "status {}", r.status);
    ("alibaba", v["Code"].as_str().unwrap().to_string())
}

/// Send `bytes`, optionally half-close the write side, and read one answer.
async fn exchange(addr: SocketAddr, bytes: &[u8], half_close: bool) -> RawResponse {
    let mut stream = TcpStream::connect(addr).await.expect("connect");
    stream.write_all(bytes).await.expect("write");
    if half_close {
        stream.shutdown().await.expect("half-close");
    }
    support::read_response(&mut stream).await
}

const TENCENT: &str = "X-TC-Action: DeleteKeyPairs\r\nX-TC-Version: 2017-03-12\r\n";
const ALIBABA: &str = "x-acs-action: DetachKeyPair\r\nx-acs-version: 2014-05-26\r\n";

/// A POST head with the provider's marker headers and `extra` header lines.
fn post(marker: &str, extra: &str) -> String {
    format!("POST / HTTP/1.1\r\nHost: x\r\n{marker}Content-Type: application/json\r\n{extra}\r\n")
}

/// Malformed framing is `malformed_body`: Tencent `InvalidParameter`, Alibaba `InvalidParameter`
/// (400).
async fn assert_malformed(addr: SocketAddr, marker: &str, bytes: &[u8], half_close: bool) {
    let r = exchange(addr, bytes, half_close).await;
    let want = if marker == ALIBABA {
        ("alibaba", "InvalidParameter".to_string())
    } else {
        ("tencent", "InvalidParameter".to_string())
    };
    assert_eq!(
        envelope(&r),
        want,
        "for {:?}",
        String::from_utf8_lossy(&bytes[..bytes.len().min(200)])
    );
    if marker == ALIBABA {
        assert_eq!(r.status, 400);
    }
}

/// Oversize is `request_too_large`: Tencent `RequestSizeLimitExceeded`, Alibaba
/// `InvalidParameter` (400).
fn assert_too_large(r: &RawResponse, marker: &str) {
    let want = if marker == ALIBABA {
        ("alibaba", "InvalidParameter".to_string())
    } else {
        ("tencent", "RequestSizeLimitExceeded".to_string())
    };
    assert_eq!(envelope(r), want);
}

#[tokio::test]
async fn bad_content_length_is_malformed() {
    let emu = support::start().await;
    for marker in [TENCENT, ALIBABA] {
        for cl in [
            "Content-Length: abc\r\n",
            "Content-Length: -1\r\n",
            "Content-Length: 2\r\nContent-Length: 3\r\n",
            "Content-Length: 99999999999999999999999\r\n",
        ] {
            let bytes = format!("{}{{}}", post(marker, cl));
            assert_malformed(emu.addr, marker, bytes.as_bytes(), false).await;
        }
    }
}

#[tokio::test]
async fn bad_transfer_encoding_is_malformed() {
    let emu = support::start().await;
    for marker in [TENCENT, ALIBABA] {
        for te in [
            "Transfer-Encoding: gzip\r\n",
            "Transfer-Encoding: chunked\r\nContent-Length: 2\r\n",
            "Transfer-Encoding: chunked, chunked\r\n",
        ] {
            let bytes = format!("{}2\r\n{{}}\r\n0\r\n\r\n", post(marker, te));
            assert_malformed(emu.addr, marker, bytes.as_bytes(), false).await;
        }
    }
}

#[tokio::test]
async fn invalid_header_bytes_are_malformed() {
    let emu = support::start().await;
    for marker in [TENCENT, ALIBABA] {
        for bad in [
            &b"X-Bad: a\x00b\r\n"[..],
            b"X-Bad: a\x07b\r\n",
            b"Bad Name: v\r\n",
            b"X-No-Colon\r\n",
            b" folded: line\r\n",
        ] {
            let mut bytes = post(marker, "Content-Length: 2\r\n").into_bytes();
            bytes.truncate(bytes.len() - 2);
            bytes.extend_from_slice(bad);
            bytes.extend_from_slice(b"\r\n{}");
            assert_malformed(emu.addr, marker, &bytes, false).await;
        }
    }
}

#[tokio::test]
async fn bad_request_lines_are_malformed() {
    let emu = support::start().await;
    for marker in [TENCENT, ALIBABA] {
        for line in [
            "GET /\r\n",
            "GET / HTTP/2.0\r\n",
            "GET  / HTTP/1.1\r\n",
            "G\x01T / HTTP/1.1\r\n",
            "GET /a\x7fb HTTP/1.1\r\n",
            "\u{fffd}\u{fffd}\r\n",
        ] {
            let bytes = format!("{line}Host: x\r\n{marker}\r\n");
            assert_malformed(emu.addr, marker, bytes.as_bytes(), false).await;
        }
    }
    // Nothing names a provider: the default provider's (Tencent's) envelope.
    let r = exchange(
        emu.addr,
        b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03\r\n\r\n",
        false,
    )
    .await;
    assert_eq!(envelope(&r), ("tencent", "InvalidParameter".to_string()));
}

#[tokio::test]
async fn oversize_queries_are_too_large() {
    let emu = support::start().await;
    let query = "a=".to_string() + &"b".repeat(70 * 1024);
    for marker in [TENCENT, ALIBABA] {
        let bytes = format!("GET /?{query} HTTP/1.1\r\nHost: x\r\n{marker}\r\n");
        assert_too_large(&exchange(emu.addr, bytes.as_bytes(), false).await, marker);
    }
}

#[tokio::test]
async fn too_many_headers_are_too_large() {
    let emu = support::start().await;
    let many: String = (0..101).map(|i| format!("X-Many-{i}: v\r\n")).collect();
    for marker in [TENCENT, ALIBABA] {
        let bytes = post(marker, &format!("{many}Content-Length: 2\r\n")) + "{}";
        assert_too_large(&exchange(emu.addr, bytes.as_bytes(), false).await, marker);
    }
    // 100 header lines in all are fine (the answer is about the signature, not the head).
    let some: String = (0..94).map(|i| format!("X-Many-{i}: v\r\n")).collect();
    let bytes = post(TENCENT, &format!("{some}Content-Length: 2\r\n")) + "{}";
    let r = exchange(emu.addr, bytes.as_bytes(), false).await;
    assert_eq!(envelope(&r).1, "AuthFailure.InvalidAuthorization");
}

#[tokio::test]
async fn oversize_heads_are_too_large() {
    let emu = support::start().await;
    let big = format!("X-Big: {}\r\n", "v".repeat(400 * 1024));
    for marker in [TENCENT, ALIBABA] {
        let bytes = post(marker, &big) + "{}";
        assert_too_large(&exchange(emu.addr, bytes.as_bytes(), false).await, marker);
    }
}

#[tokio::test]
async fn oversize_bodies_are_too_large_without_being_read() {
    let emu = support::start().await;
    for marker in [TENCENT, ALIBABA] {
        let bytes = post(marker, "Content-Length: 20000000\r\n") + "{";
        assert_too_large(&exchange(emu.addr, bytes.as_bytes(), false).await, marker);
    }
}

#[tokio::test]
async fn unknown_methods_are_unsupported() {
    let emu = support::start().await;
    for method in [
        "CONNECT", "TRACE", "OPTIONS", "PATCH", "PUT", "DELETE", "BREW",
    ] {
        let target = if method == "CONNECT" { "x:443" } else { "/" };
        let bytes = format!("{method} {target} HTTP/1.1\r\nHost: x\r\n{TENCENT}\r\n");
        let r = exchange(emu.addr, bytes.as_bytes(), false).await;
        assert_eq!(
            envelope(&r),
            ("tencent", "UnsupportedProtocol".to_string()),
            "{method}"
        );
        let bytes = format!("{method} {target} HTTP/1.1\r\nHost: x\r\n{ALIBABA}\r\n");
        let r = exchange(emu.addr, bytes.as_bytes(), false).await;
        assert_eq!(
            envelope(&r),
            ("alibaba", "UnsupportedHTTPMethod".to_string()),
            "{method}"
        );
        assert_eq!(r.status, 403);
    }
    // HEAD: the envelope's head with its length, and no body.
    let mut stream = TcpStream::connect(emu.addr).await.unwrap();
    let head = format!("HEAD / HTTP/1.1\r\nHost: x\r\n{TENCENT}Connection: close\r\n\r\n");
    stream.write_all(head.as_bytes()).await.unwrap();
    let mut all = Vec::new();
    tokio::io::AsyncReadExt::read_to_end(&mut stream, &mut all)
        .await
        .unwrap();
    let text = String::from_utf8_lossy(&all);
    assert!(text.starts_with("HTTP/1.1 200 OK\r\n"), "{text}");
    assert!(
        text.ends_with("\r\n\r\n"),
        "a HEAD answer has no body: {text}"
    );
    assert!(!text.contains("Content-Length: 0\r\n"), "{text}");
}

#[tokio::test]
async fn half_closed_connections_are_answered() {
    let emu = support::start().await;
    for i in 0..200 {
        let marker = if i % 2 == 0 { TENCENT } else { ALIBABA };
        let bytes = format!("GET / HTTP/1.1\r\nHost: x\r\n{marker}\r\n");
        let r = exchange(emu.addr, bytes.as_bytes(), true).await;
        let (_, code) = envelope(&r);
        assert!(
            code == "AuthFailure.InvalidAuthorization" || code == "IncompleteSignature",
            "{code}"
        );
    }
}

#[tokio::test]
async fn truncated_bodies_are_malformed_not_too_large() {
    let emu = support::start().await;
    for marker in [TENCENT, ALIBABA] {
        let bytes = post(marker, "Content-Length: 100\r\n") + "{\"a\":";
        assert_malformed(emu.addr, marker, bytes.as_bytes(), true).await;
        let chunked = post(marker, "Transfer-Encoding: chunked\r\n") + "10\r\n{\"a\"";
        assert_malformed(emu.addr, marker, chunked.as_bytes(), true).await;
        let head_only = format!("POST / HTTP/1.1\r\nHost: x\r\n{marker}Content-Le");
        assert_malformed(emu.addr, marker, head_only.as_bytes(), true).await;
    }
}

#[tokio::test]
async fn malformed_chunks_are_malformed() {
    let emu = support::start().await;
    for marker in [TENCENT, ALIBABA] {
        for body in [
            "zz\r\n{}\r\n0\r\n\r\n",
            "2\r\n{}}}\r\n0\r\n\r\n",
            "ffffffffffffffffffff\r\n{}\r\n0\r\n\r\n",
            "-2\r\n{}\r\n0\r\n\r\n",
        ] {
            let bytes = post(marker, "Transfer-Encoding: chunked\r\n") + body;
            assert_malformed(emu.addr, marker, bytes.as_bytes(), false).await;
        }
    }
}

#[tokio::test]
async fn chunked_bodies_expect_continue_and_pipelining_work() {
    let emu = support::start().await;
    let request = support::signed(
        cloudconform::sign::Scheme::Tc3HmacSha256,
        &emu.host(),
        "DescribeKeyPairs",
        "2017-03-12",
        Some("ap-guangzhou"),
        &[],
        Some(&serde_json::json!({"Limit": 10})),
        (support::ROOT_ID, support::ROOT_SECRET),
    );
    let mut head = "POST / HTTP/1.1\r\n".to_string();
    for (n, v) in &request.headers {
        if !n.eq_ignore_ascii_case("content-length") {
            head.push_str(&format!("{n}: {v}\r\n"));
        }
    }
    let body = String::from_utf8(request.body.clone()).unwrap();
    // Chunked, in two chunks with an extension and a trailer.
    let (a, b) = body.split_at(body.len() / 2);
    let chunked = format!(
        "{head}Transfer-Encoding: chunked\r\n\r\n{:x};ext=1\r\n{a}\r\n{:x}\r\n{b}\r\n0\r\nX-T: 1\r\n\r\n",
        a.len(),
        b.len()
    );
    let r = exchange(emu.addr, chunked.as_bytes(), false).await;
    let v = support::json(&r);
    assert!(v.pointer("/Response/KeyPairSet").is_some(), "{v}");
    // Expect: 100-continue: the interim answer comes before the body is sent.
    let mut stream = TcpStream::connect(emu.addr).await.unwrap();
    let expect = format!(
        "{head}Content-Length: {}\r\nExpect: 100-continue\r\n\r\n",
        body.len()
    );
    stream.write_all(expect.as_bytes()).await.unwrap();
    let interim = support::read_response(&mut stream).await;
    assert_eq!(interim.status, 100);
    stream.write_all(body.as_bytes()).await.unwrap();
    let r = support::read_response(&mut stream).await;
    assert!(support::json(&r).pointer("/Response/KeyPairSet").is_some());
    // Two requests in one write: two answers, in order, on one connection.
    let plain = format!("{head}Content-Length: {}\r\n\r\n{body}", body.len());
    let mut stream = TcpStream::connect(emu.addr).await.unwrap();
    let bad = post(TENCENT, "Connection: close\r\nContent-Length: 2\r\n") + "{}";
    stream
        .write_all(format!("{plain}{bad}").as_bytes())
        .await
        .unwrap();
    let mut all = Vec::new();
    tokio::io::AsyncReadExt::read_to_end(&mut stream, &mut all)
        .await
        .unwrap();
    let text = String::from_utf8_lossy(&all);
    assert_eq!(text.matches("HTTP/1.1 200 OK\r\n").count(), 2, "{text}");
    let first = text.find("KeyPairSet").expect("the first answer");
    let second = text
        .find("AuthFailure.InvalidAuthorization")
        .expect("the second");
    assert!(first < second, "{text}");
}
