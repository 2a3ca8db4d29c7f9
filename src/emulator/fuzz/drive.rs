//! Sending fuzzed inputs over TCP and judging every answer (see the parent module).
use super::{Input, Inputs};
use crate::http::RawResponse;
use serde_json::Value;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};

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
