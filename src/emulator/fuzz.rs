//! Abuse for the emulator's own robustness checks: raw HTTP requests, mostly freshly signed
//! calls of the modelled actions with one thing broken (a value, a header, the method, the
//! framing, the bytes), and a driver that sends them over TCP and fails on any answer that is
//! not one of the providers' envelopes, any 5xx and any request left unanswered.
//!
//! Used by `cloudconform bench --fuzz N` (the long run, with RSS before and after) and by the
//! bounded smoke run in `tests/emulator_fuzz.rs`. The control API (`/_cloudconform/`) is never
//! a target: its answers are plain JSON by design.
use crate::http::{RawRequest, RawResponse};
use crate::sign::{self, Credentials, Provider, Scheme, SignInput};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::Value;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};

/// One fuzzed request.
#[derive(Debug, Clone)]
pub struct Input {
    pub bytes: Vec<u8>,
    /// Framing is broken or cut short: send it on its own connection and half-close after it,
    /// so the server sees the end instead of waiting for bytes that never come.
    pub alone: bool,
    /// What was done to it, for failure reports.
    pub mutation: &'static str,
}

/// A deterministic stream of fuzzed requests for `host`, signed with `credentials`
/// (one Tencent and one Alibaba account of the world).
pub struct Inputs {
    rng: StdRng,
    host: String,
    tencent: Credentials,
    alibaba: Credentials,
}

const METHODS: &[&str] = &[
    "GET", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "TRACE", "CONNECT", "PROPFIND", "X",
];

impl Inputs {
    pub fn new(seed: u64, host: &str, tencent: Credentials, alibaba: Credentials) -> Inputs {
        Inputs {
            rng: StdRng::seed_from_u64(seed),
            host: host.to_string(),
            tencent,
            alibaba,
        }
    }

    fn text(&mut self, max: usize) -> String {
        let len = self.rng.random_range(0..=max);
        let pick: u8 = self.rng.random_range(0..4);
        (0..len)
            .map(|_| match pick {
                0 => self.rng.random_range(b'a'..=b'z') as char,
                1 => self.rng.random_range(0x20u8..0x7f) as char,
                2 => ['中', 'é', '"', '\\', '%', '&', '=', '+', ' '][self.rng.random_range(0..9)],
                _ => char::from_u32(self.rng.random_range(0x20..0x3000)).unwrap_or('?'),
            })
            .collect()
    }

    /// A freshly signed call of a modelled action (nothing that creates resources, so the
    /// world stays the size it is).
    fn base(&mut self) -> RawRequest {
        let id = |rng: &mut StdRng, prefix: &str| format!("{prefix}{:08x}", rng.random::<u32>());
        let host = self.host.clone();
        let (scheme, input, key) = match self.rng.random_range(0..7) {
            0 => {
                let body = serde_json::json!({"KeyIds": [id(&mut self.rng, "skey-")]});
                let input = SignInput::fresh(
                    Provider::Tencent,
                    "POST",
                    host,
                    "DeleteKeyPairs",
                    "2017-03-12",
                )
                .with_region("ap-guangzhou")
                .with_body(body.to_string(), "application/json");
                (Scheme::Tc3HmacSha256, input, &self.tencent)
            }
            1 => {
                let input = SignInput::fresh(
                    Provider::Tencent,
                    "POST",
                    host,
                    "DescribeKeyPairs",
                    "2017-03-12",
                )
                .with_region("ap-guangzhou")
                .with_body("{\"Limit\": 5}", "application/json");
                (Scheme::Tc3HmacSha256, input, &self.tencent)
            }
            2 => {
                let input = SignInput::fresh(
                    Provider::Tencent,
                    "POST",
                    host,
                    "DisassociateInstancesKeyPairs",
                    "2017-03-12",
                )
                .with_region("ap-guangzhou")
                .with_param("InstanceIds.0", id(&mut self.rng, "ins-"))
                .with_param("KeyIds.0", id(&mut self.rng, "skey-"));
                (Scheme::TencentHmacSha256, input, &self.tencent)
            }
            3 => {
                let input = SignInput::fresh(
                    Provider::Tencent,
                    "POST",
                    host,
                    "DisassociateInstancesKeyPairs",
                    "2019-07-19",
                )
                .with_param("InstanceIds.0", id(&mut self.rng, "ein-"))
                .with_param("KeyIds.0", id(&mut self.rng, "skey-"));
                (Scheme::TencentHmacSha1, input, &self.tencent)
            }
            4 => {
                let input = SignInput::fresh(
                    Provider::Alibaba,
                    "POST",
                    host,
                    "DetachKeyPair",
                    "2014-05-26",
                )
                .with_param("RegionId", "cn-hangzhou")
                .with_param("KeyPairName", id(&mut self.rng, "k"))
                .with_param("InstanceIds", format!("[\"{}\"]", id(&mut self.rng, "i-")));
                (Scheme::RpcHmacSha1, input, &self.alibaba)
            }
            5 => {
                let input = SignInput::fresh(
                    Provider::Alibaba,
                    "POST",
                    host,
                    "DescribeKeyPairs",
                    "2014-05-26",
                )
                .with_param("RegionId", "cn-hangzhou");
                (Scheme::Acs3HmacSha256, input, &self.alibaba)
            }
            _ => {
                let input = SignInput::fresh(
                    Provider::Alibaba,
                    "POST",
                    host,
                    "DetachKeyPair",
                    "2017-11-10",
                )
                .with_param("KeyPairId", id(&mut self.rng, "ssh-"))
                .with_param("InstanceIds", format!("[\"{}\"]", id(&mut self.rng, "i-")));
                (Scheme::Acs3HmacSm3, input, &self.alibaba)
            }
        };
        let mut input = input;
        if self.rng.random_bool(0.01) {
            // Long nonces: refused by length, never remembered.
            input.nonce = "n".repeat(self.rng.random_range(200..50_000));
        }
        match sign::sign(scheme, &input, key) {
            Ok(signed) => signed.request,
            Err(_) => RawRequest {
                method: "POST".into(),
                path: "/".into(),
                ..RawRequest::default()
            },
        }
    }

    /// The next request: ~94 % well framed (the answer keeps the connection), the rest with
    /// broken framing, sent alone.
    pub fn next_input(&mut self) -> Input {
        let mut request = self.base();
        let roll: u32 = self.rng.random_range(0..1000);
        let mutation = match roll {
            0..100 => "none",
            100..250 => {
                // A parameter or the body replaced by something else.
                if !request.body.is_empty() && self.rng.random_bool(0.5) {
                    let at = self.rng.random_range(0..request.body.len());
                    let junk = self.text(64);
                    request.body.splice(at..at, junk.bytes());
                } else {
                    let extra = format!("{}={}", self.text(12), self.text(2048));
                    request.raw_query = if request.raw_query.is_empty() {
                        extra
                    } else {
                        format!("{}&{extra}", request.raw_query)
                    };
                }
                "value"
            }
            250..400 => {
                for _ in 0..self.rng.random_range(1..8) {
                    let name = format!("X-{}", self.token(16));
                    let value = self.text(256).replace(['\r', '\n'], " ");
                    request.headers.push((name, value));
                }
                "headers"
            }
            400..500 => {
                if !request.headers.is_empty() {
                    let i = self.rng.random_range(0..request.headers.len());
                    if self.rng.random_bool(0.5) {
                        request.headers.remove(i);
                    } else {
                        let value = self.text(64).replace(['\r', '\n'], " ");
                        request.headers[i].1 = value;
                    }
                }
                "header-value"
            }
            500..600 => {
                request.method = METHODS[self.rng.random_range(0..METHODS.len())].to_string();
                "method"
            }
            600..700 => {
                let path = self.token(40);
                request.path = format!("/{path}");
                request.raw_query = self.text(300).replace(['#', ' ', '\r', '\n'], "%20");
                "target"
            }
            700..800 => {
                for _ in 0..self.rng.random_range(1..16) {
                    if request.body.is_empty() {
                        break;
                    }
                    let at = self.rng.random_range(0..request.body.len());
                    request.body[at] = self.rng.random();
                }
                "body-bytes"
            }
            800..880 => {
                // Same content under another Content-Type, or none.
                request.remove_header("content-type");
                let types = [
                    "application/xml",
                    "text/plain",
                    "application/json; charset=gbk",
                    "multipart/form-data",
                ];
                if self.rng.random_bool(0.7) {
                    request.headers.push((
                        "Content-Type".into(),
                        types[self.rng.random_range(0..types.len())].into(),
                    ));
                }
                "content-type"
            }
            880..940 => {
                let mut bytes = serialize(&request);
                return self.chunked_or_garbled(&mut bytes, &request);
            }
            _ => return self.framing(request),
        };
        if is_control(&request.path) {
            request.path = "/".into();
        }
        Input {
            bytes: serialize(&request),
            alone: false,
            mutation,
        }
    }

    fn token(&mut self, max: usize) -> String {
        let len = self.rng.random_range(1..=max);
        (0..len)
            .map(|_| {
                let chars = b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_";
                chars[self.rng.random_range(0..chars.len())] as char
            })
            .collect()
    }

    /// Well-framed chunked bodies (kept on the connection) or byte flips anywhere (alone).
    fn chunked_or_garbled(&mut self, bytes: &mut Vec<u8>, request: &RawRequest) -> Input {
        if self.rng.random_bool(0.5) {
            let mut head = format!("{} {} HTTP/1.1\r\n", request.method, target(request));
            for (n, v) in &request.headers {
                if !n.eq_ignore_ascii_case("content-length") {
                    head.push_str(&format!("{n}: {v}\r\n"));
                }
            }
            head.push_str("Transfer-Encoding: chunked\r\n\r\n");
            let mut out = head.into_bytes();
            for chunk in request.body.chunks(self.rng.random_range(1..64)) {
                out.extend_from_slice(format!("{:x}\r\n", chunk.len()).as_bytes());
                out.extend_from_slice(chunk);
                out.extend_from_slice(b"\r\n");
            }
            out.extend_from_slice(b"0\r\n\r\n");
            return Input {
                bytes: out,
                alone: false,
                mutation: "chunked",
            };
        }
        for _ in 0..self.rng.random_range(1..6) {
            let at = self.rng.random_range(0..bytes.len());
            bytes[at] = self.rng.random();
        }
        Input {
            bytes: std::mem::take(bytes),
            alone: true,
            mutation: "flipped-bytes",
        }
    }

    /// Broken framing: sent alone and half-closed.
    fn framing(&mut self, request: RawRequest) -> Input {
        let mut bytes = serialize(&request);
        let mutation = match self.rng.random_range(0..8) {
            0 => {
                // At least one byte: a connection closed with nothing sent is no request.
                let at = self.rng.random_range(1..bytes.len());
                bytes.truncate(at);
                "truncated"
            }
            1 => {
                let text = String::from_utf8_lossy(&bytes).replacen(
                    "Content-Length: ",
                    [
                        "Content-Length: x",
                        "Content-Length: -",
                        "Content-Length: 99999999999999999999",
                    ][self.rng.random_range(0..3)],
                    1,
                );
                bytes = text.into_bytes();
                "content-length"
            }
            2 => {
                let text = String::from_utf8_lossy(&bytes).replacen(
                    "\r\n\r\n",
                    "\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
                    1,
                );
                bytes = text.into_bytes();
                "transfer-encoding"
            }
            3 => {
                bytes = (0..self.rng.random_range(1..4096))
                    .map(|_| self.rng.random())
                    .collect();
                "random-bytes"
            }
            4 => {
                let n = self.rng.random_range(90..140);
                let many: String = (0..n).map(|i| format!("X-H{i}: v\r\n")).collect();
                let text =
                    String::from_utf8_lossy(&bytes).replacen("\r\n", &format!("\r\n{many}"), 1);
                bytes = text.into_bytes();
                "many-headers"
            }
            5 => {
                let big = format!(
                    "\r\nX-Big: {}",
                    "v".repeat(self.rng.random_range(1..300_000))
                );
                let text =
                    String::from_utf8_lossy(&bytes).replacen("\r\n", &format!("{big}\r\n"), 1);
                bytes = text.into_bytes();
                "big-head"
            }
            6 => {
                let line = [
                    "GET / HTTP/2.0",
                    "GET /",
                    "GET  / HTTP/1.1",
                    "G\x01T / HTTP/1.1",
                    "\x16\x03\x01",
                ][self.rng.random_range(0..5)];
                let text = String::from_utf8_lossy(&bytes);
                let rest = text.split_once("\r\n").map(|(_, r)| r).unwrap_or("");
                bytes = format!("{line}\r\n{rest}").into_bytes();
                "request-line"
            }
            _ => {
                let text =
                    String::from_utf8_lossy(&bytes).replacen("\r\n", "\r\nX-Ctl: a\x00b\r\n", 1);
                bytes = text.into_bytes();
                "header-bytes"
            }
        };
        Input {
            bytes,
            alone: true,
            mutation,
        }
    }
}

fn is_control(path: &str) -> bool {
    path.starts_with("/_cloudconform")
}

fn target(request: &RawRequest) -> String {
    if request.raw_query.is_empty() {
        request.path.clone()
    } else {
        format!("{}?{}", request.path, request.raw_query)
    }
}

/// A request as HTTP/1.1 bytes, with a Content-Length matching its body.
pub fn serialize(request: &RawRequest) -> Vec<u8> {
    let mut head = format!("{} {} HTTP/1.1\r\n", request.method, target(request));
    for (n, v) in &request.headers {
        if !n.eq_ignore_ascii_case("content-length") {
            head.push_str(&format!("{n}: {v}\r\n"));
        }
    }
    head.push_str(&format!("Content-Length: {}\r\n\r\n", request.body.len()));
    let mut out = head.into_bytes();
    out.extend_from_slice(&request.body);
    out
}

/// Why `response` is not an answer a provider documents (`None` when it is): a 5xx, a body
/// that is neither provider's success or error envelope, or a status that contradicts it.
pub fn envelope_problem(response: &RawResponse) -> Option<String> {
    if response.status >= 500 {
        return Some(format!("status {}", response.status));
    }
    let Ok(v) = serde_json::from_slice::<Value>(&response.body) else {
        return Some(format!(
            "status {} with a non-JSON body {:?}",
            response.status,
            String::from_utf8_lossy(&response.body[..response.body.len().min(120)])
        ));
    };
    let text = |p: &str| v.pointer(p).and_then(Value::as_str).is_some();
    if let Some(inner) = v.get("Response") {
        if response.status != 200 {
            return Some(format!(
                "a Tencent envelope with status {}",
                response.status
            ));
        }
        if !text("/Response/RequestId") {
            return Some("a Tencent envelope without RequestId".into());
        }
        if inner.get("Error").is_some()
            && !(text("/Response/Error/Code") && text("/Response/Error/Message"))
        {
            return Some("a Tencent error without Code and Message".into());
        }
        return None;
    }
    if !text("/RequestId") {
        return Some(format!("no envelope: {}", truncate(&v.to_string(), 160)));
    }
    let is_error = v.get("Code").is_some();
    if is_error {
        for field in ["/Code", "/Message", "/HostId", "/Recommend"] {
            if !text(field) {
                return Some(format!("an Alibaba error without {}", &field[1..]));
            }
        }
        if !(400..500).contains(&response.status) {
            return Some(format!("an Alibaba error with status {}", response.status));
        }
    } else if response.status != 200 {
        return Some(format!(
            "an Alibaba success with status {}",
            response.status
        ));
    }
    None
}

fn truncate(s: &str, max: usize) -> String {
    s.chars().take(max).collect()
}

/// One failing input.
#[derive(Debug, Clone)]
pub struct Failure {
    pub mutation: &'static str,
    /// The first bytes of the input, escaped.
    pub input: String,
    pub problem: String,
}

/// What a fuzz run did.
#[derive(Debug, Clone, Default)]
pub struct Report {
    pub requests: usize,
    pub connections: usize,
    pub seconds: f64,
    pub failures: Vec<Failure>,
    /// Failures beyond the ones kept.
    pub more_failures: usize,
}

/// Read one response (Content-Length framed; 100 Continue skipped) within `wait`.
async fn read_answer(
    stream: &mut TcpStream,
    buf: &mut Vec<u8>,
    wait: Duration,
) -> Result<(RawResponse, bool), String> {
    let deadline = tokio::time::Instant::now() + wait;
    let mut chunk = [0u8; 16 * 1024];
    loop {
        if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&buf[..end]).into_owned();
            let mut lines = head.split("\r\n");
            let status: u16 = lines
                .next()
                .and_then(|l| l.split(' ').nth(1))
                .and_then(|s| s.parse().ok())
                .ok_or_else(|| format!("bad status line in {:?}", truncate(&head, 80)))?;
            let headers: Vec<(String, String)> = lines
                .filter_map(|l| l.split_once(':'))
                .map(|(n, v)| (n.trim().to_string(), v.trim().to_string()))
                .collect();
            let length: usize = headers
                .iter()
                .find(|(n, _)| n.eq_ignore_ascii_case("content-length"))
                .and_then(|(_, v)| v.parse().ok())
                .ok_or("an answer without Content-Length")?;
            while buf.len() < end + 4 + length {
                match tokio::time::timeout_at(deadline, stream.read(&mut chunk)).await {
                    Ok(Ok(n)) if n > 0 => buf.extend_from_slice(&chunk[..n]),
                    _ => return Err("the answer's body was cut short".into()),
                }
            }
            let body = buf[end + 4..end + 4 + length].to_vec();
            buf.drain(..end + 4 + length);
            if status == 100 {
                continue;
            }
            let close = headers.iter().any(|(n, v)| {
                n.eq_ignore_ascii_case("connection") && v.eq_ignore_ascii_case("close")
            });
            return Ok((
                RawResponse {
                    status,
                    headers,
                    body,
                },
                close,
            ));
        }
        match tokio::time::timeout_at(deadline, stream.read(&mut chunk)).await {
            Ok(Ok(n)) if n > 0 => buf.extend_from_slice(&chunk[..n]),
            Ok(_) => return Err("the connection closed without an answer".into()),
            Err(_) => return Err(format!("no answer within {} s", wait.as_secs())),
        }
    }
}

/// Connect from a loopback source address that spreads connections over many source ports'
/// worth of address space (inputs sent alone open one connection each).
async fn connect(addr: SocketAddr, n: usize) -> std::io::Result<TcpStream> {
    if let SocketAddr::V4(v4) = addr {
        if v4.ip().is_loopback() {
            let socket = TcpSocket::new_v4()?;
            let source = Ipv4Addr::new(127, 0, 0, 1 + (n % 200) as u8);
            if socket.bind(SocketAddr::from((source, 0))).is_ok() {
                if let Ok(s) = socket.connect(addr).await {
                    return Ok(s);
                }
            }
        }
    }
    TcpStream::connect(addr).await
}

/// Send `n` inputs from `inputs` to the emulator at `addr` over `workers` connections.
pub async fn drive(addr: SocketAddr, inputs: Inputs, n: usize, workers: usize) -> Report {
    let inputs = Arc::new(Mutex::new(inputs));
    let next = Arc::new(AtomicUsize::new(0));
    let connections = Arc::new(AtomicUsize::new(0));
    let report = Arc::new(Mutex::new(Report::default()));
    let wait = Duration::from_secs(20);
    let started = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..workers.max(1) {
        let (inputs, next, connections, report) = (
            inputs.clone(),
            next.clone(),
            connections.clone(),
            report.clone(),
        );
        tasks.push(tokio::spawn(async move {
            let mut kept: Option<(TcpStream, Vec<u8>)> = None;
            let fail = |input: &Input, problem: String| {
                let mut r = report.lock().unwrap_or_else(|p| p.into_inner());
                if r.failures.len() < 20 {
                    let shown = &input.bytes[..input.bytes.len().min(300)];
                    r.failures.push(Failure {
                        mutation: input.mutation,
                        input: shown.escape_ascii().to_string(),
                        problem,
                    });
                } else {
                    r.more_failures += 1;
                }
            };
            while next.fetch_add(1, Ordering::Relaxed) < n {
                let input = inputs
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .next_input();
                let conn = connections.fetch_add(1, Ordering::Relaxed);
                if input.alone {
                    let Ok(mut stream) = connect(addr, conn).await else {
                        fail(&input, "cannot connect".into());
                        continue;
                    };
                    // The server may answer and close before taking every byte (a head too
                    // large): a failed write is not a failure, a missing answer is.
                    let _ = stream.write_all(&input.bytes).await;
                    let _ = stream.shutdown().await;
                    let mut buf = Vec::new();
                    match read_answer(&mut stream, &mut buf, wait).await {
                        Ok((r, _)) => {
                            if let Some(p) = envelope_problem(&r) {
                                fail(&input, p);
                            }
                        }
                        Err(e) => fail(&input, e),
                    }
                    continue;
                }
                connections.fetch_sub(1, Ordering::Relaxed);
                let (mut stream, mut buf) = match kept.take() {
                    Some(k) => k,
                    None => {
                        connections.fetch_add(1, Ordering::Relaxed);
                        match connect(addr, conn).await {
                            Ok(s) => (s, Vec::new()),
                            Err(e) => {
                                fail(&input, format!("cannot connect: {e}"));
                                continue;
                            }
                        }
                    }
                };
                if let Err(e) = stream.write_all(&input.bytes).await {
                    fail(&input, format!("write failed: {e}"));
                    continue;
                }
                match read_answer(&mut stream, &mut buf, wait).await {
                    Ok((r, close)) => {
                        if let Some(p) = envelope_problem(&r) {
                            fail(&input, p);
                        }
                        if !close {
                            kept = Some((stream, buf));
                        }
                    }
                    Err(e) => fail(&input, e),
                }
            }
        }));
    }
    for t in tasks {
        let _ = t.await;
    }
    let mut report = report.lock().unwrap_or_else(|p| p.into_inner()).clone();
    report.requests = n;
    report.connections = connections.load(Ordering::Relaxed);
    report.seconds = started.elapsed().as_secs_f64();
    report
}

/// This process's resident set size in bytes (Linux `/proc/self/status`), if known.
pub fn rss_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}
