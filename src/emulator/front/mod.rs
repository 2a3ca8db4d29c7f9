//! The emulator's own HTTP/1.1 front: it reads request heads and bodies itself so that every
//! answer — including those to bytes that are not a well-formed request — is the provider's
//! envelope (docs/emulator.md "What the HTTP front answers"). A generic HTTP server answers
//! framing errors, oversize heads and odd methods with bare status lines before the
//! application sees anything; cloud SDKs then fail with parse errors instead of error codes.
//!
//! This module only frames bytes: [`read_request`] turns a connection's bytes into a
//! [`RawRequest`] or a [`ReadProblem`] (with whatever of the request arrived, so the provider
//! can still be recognised), and [`encode_head`] and [`write_head_body`] write an answer. Answering is
//! `dispatch`'s job. `head.rs` parses the request line and headers, `body.rs` reads a body by
//! its framing (Content-Length or chunked); this file holds the limits, the read loop that
//! ties them together, and the answer's bytes.
mod body;
mod head;

pub(crate) use head::partial;

use super::dispatch::ReadProblem;
use crate::http::{RawRequest, RawResponse};
use body::{framing, keep_alive, read_chunked, read_length, Framing};
use head::{head_end, parse_head, Head};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::time::Instant;

/// How much a request may carry before the front stops reading.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Limits {
    /// Request line plus headers (and chunked trailers).
    pub head_bytes: usize,
    /// Header fields.
    pub headers: usize,
    /// The request target (path and query).
    pub target_bytes: usize,
    /// Decoded body bytes (the largest size limit any request style documents).
    pub body_bytes: u64,
    /// For the head, and again for the body.
    pub timeout: Duration,
}

impl Limits {
    pub fn new(body_bytes: u64, timeout: Duration) -> Limits {
        Limits {
            head_bytes: 256 * 1024,
            headers: 100,
            target_bytes: 64 * 1024,
            body_bytes,
            timeout,
        }
    }
}

/// One request read off a connection.
pub(crate) enum Read {
    /// The connection closed (or stayed idle past the timeout) between requests.
    Closed,
    /// A complete request, and whether the connection may carry another one.
    Request {
        request: RawRequest,
        keep_alive: bool,
    },
    /// What arrived is not a request the front can frame. The connection cannot be resynced:
    /// answer and close.
    Problem {
        partial: RawRequest,
        problem: ReadProblem,
    },
}

/// What stopped a read.
enum Stop {
    Eof,
    Timeout,
}

/// Read at least one more byte into `buf` before `deadline`.
async fn fill<I: AsyncRead + Unpin>(
    io: &mut I,
    buf: &mut Vec<u8>,
    deadline: Instant,
) -> Result<(), Stop> {
    buf.reserve(8 * 1024);
    match tokio::time::timeout_at(deadline, io.read_buf(buf)).await {
        Err(_) => Err(Stop::Timeout),
        Ok(Ok(0)) | Ok(Err(_)) => Err(Stop::Eof),
        Ok(Ok(_)) => Ok(()),
    }
}

fn lossy(bytes: &[u8]) -> String {
    // The validating fast path first: heads are almost always ASCII.
    match std::str::from_utf8(bytes) {
        Ok(s) => s.to_owned(),
        Err(_) => String::from_utf8_lossy(bytes).into_owned(),
    }
}
fn malformed(detail: impl Into<String>) -> ReadProblem {
    ReadProblem::Malformed {
        detail: detail.into(),
    }
}

fn too_slow(limits: &Limits) -> ReadProblem {
    ReadProblem::TooSlow {
        seconds: limits.timeout.as_secs(),
    }
}

/// Read one request from `io`. `buf` carries bytes already read past the previous request
/// (pipelining); on return it holds the bytes past this one. `wait_first` bounds the wait for
/// the first byte (idle keep-alive, shutdown); it resolves to `true` to give up.
pub(crate) async fn read_request<I, W>(
    io: &mut I,
    buf: &mut Vec<u8>,
    limits: &Limits,
    wait_first: W,
) -> Read
where
    I: AsyncRead + AsyncWrite + Unpin,
    W: std::future::Future<Output = ()>,
{
    // Blank lines before a request line are ignored (RFC 9112 section 2.2).
    let skip = |buf: &mut Vec<u8>| {
        let n = buf
            .iter()
            .take_while(|b| **b == b'\r' || **b == b'\n')
            .count();
        buf.drain(..n);
    };
    skip(buf);
    let deadline = Instant::now() + limits.timeout;
    if buf.is_empty() {
        tokio::select! {
            r = fill(io, buf, deadline) => if r.is_err() { return Read::Closed },
            _ = wait_first => return Read::Closed,
        }
        skip(buf);
    }
    let mut scanned: usize = 0;
    let end = loop {
        if let Some(end) = head_end(buf, scanned.saturating_sub(2)) {
            break end;
        }
        scanned = buf.len();
        let problem = if buf.len() > limits.head_bytes {
            ReadProblem::HeadTooLarge {
                detail: format!("The request head exceeds {} bytes.", limits.head_bytes),
            }
        } else {
            match fill(io, buf, deadline).await {
                Ok(()) => continue,
                Err(Stop::Timeout) => too_slow(limits),
                Err(Stop::Eof) if buf.iter().all(|b| b.is_ascii_whitespace()) => {
                    return Read::Closed
                }
                Err(Stop::Eof) => {
                    malformed("The connection was closed before the request head was complete.")
                }
            }
        };
        return Read::Problem {
            partial: partial(&buf[..buf.len().min(limits.head_bytes)]),
            problem,
        };
    };
    if end > limits.head_bytes + 3 {
        return Read::Problem {
            partial: partial(&buf[..limits.head_bytes]),
            problem: ReadProblem::HeadTooLarge {
                detail: format!("The request head exceeds {} bytes.", limits.head_bytes),
            },
        };
    }
    let head = match parse_head(&buf[..end], limits) {
        Ok(h) => h,
        Err(problem) => {
            return Read::Problem {
                partial: partial(&buf[..end]),
                problem,
            }
        }
    };
    let Head { mut request, minor } = head;
    let problem = |request: RawRequest, problem| Read::Problem {
        partial: request,
        problem,
    };
    let framing = match framing(&request, minor, limits) {
        Ok(f) => f,
        Err(p) => return problem(request, p),
    };
    buf.drain(..end);
    let wants_continue = minor == 1
        && request
            .header("expect")
            .is_some_and(|v| v.eq_ignore_ascii_case("100-continue"));
    let needs_body = match framing {
        Framing::Length(n) => (buf.len() as u64) < n,
        Framing::Chunked => true,
    };
    if wants_continue && needs_body && buf.is_empty() {
        // curl and some SDKs wait for this before sending a body.
        let _ = io.write_all(b"HTTP/1.1 100 Continue\r\n\r\n").await;
    }
    let deadline = Instant::now() + limits.timeout;
    let body = match framing {
        Framing::Length(n) => read_length(io, buf, n as usize, limits, deadline).await,
        Framing::Chunked => read_chunked(io, buf, limits, deadline).await,
    };
    match body {
        Ok(body) => {
            request.body = body;
            let keep_alive = keep_alive(&request, minor);
            Read::Request {
                request,
                keep_alive,
            }
        }
        Err(p) => problem(request, p),
    }
}
/// The answer on the wire. `head_only` for HEAD requests (no body, the length it would have).
/// The status line and headers of `response` (framing headers of its own replaced by ours),
/// ending with the blank line; the body is written after it.
pub(crate) fn encode_head(response: &RawResponse, close: bool) -> Vec<u8> {
    let reason = axum::http::StatusCode::from_u16(response.status)
        .ok()
        .and_then(|s| s.canonical_reason())
        .unwrap_or("Unknown");
    let mut out = Vec::with_capacity(256);
    out.extend_from_slice(b"HTTP/1.1 ");
    out.extend_from_slice(response.status.to_string().as_bytes());
    out.push(b' ');
    out.extend_from_slice(reason.as_bytes());
    out.extend_from_slice(b"\r\n");
    for (name, value) in &response.headers {
        let framing = ["content-length", "transfer-encoding", "connection"];
        if framing.iter().any(|f| name.eq_ignore_ascii_case(f)) {
            continue;
        }
        out.extend_from_slice(name.as_bytes());
        out.extend_from_slice(b": ");
        out.extend_from_slice(value.as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b"Date: ");
    http_date(&mut out);
    out.extend_from_slice(b"\r\nContent-Length: ");
    out.extend_from_slice(response.body.len().to_string().as_bytes());
    out.extend_from_slice(b"\r\n");
    if close {
        out.extend_from_slice(b"Connection: close\r\n");
    }
    out.extend_from_slice(b"\r\n");
    out
}

/// The IMF-fixdate of now, formatted once per second per thread.
fn http_date(out: &mut Vec<u8>) {
    use std::cell::RefCell;
    thread_local! {
        static CACHED: RefCell<(i64, String)> = const { RefCell::new((i64::MIN, String::new())) };
    }
    let now = chrono::Utc::now();
    CACHED.with(|c| {
        let mut c = c.borrow_mut();
        if c.0 != now.timestamp() {
            *c = (
                now.timestamp(),
                now.format("%a, %d %b %Y %H:%M:%S GMT").to_string(),
            );
        }
        out.extend_from_slice(c.1.as_bytes());
    });
}

/// Write `head` then `body` with as few writes as the stream allows (vectored).
pub(crate) async fn write_head_body<W: AsyncWrite + Unpin>(
    io: &mut W,
    head: &[u8],
    body: &[u8],
) -> std::io::Result<()> {
    let (mut head, mut body) = (head, body);
    while !head.is_empty() || !body.is_empty() {
        let bufs = [std::io::IoSlice::new(head), std::io::IoSlice::new(body)];
        let n = io.write_vectored(&bufs).await?;
        if n == 0 {
            return Err(std::io::ErrorKind::WriteZero.into());
        }
        let from_head = n.min(head.len());
        head = &head[from_head..];
        body = &body[n - from_head..];
    }
    Ok(())
}
