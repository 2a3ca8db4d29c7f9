//! The emulator's own HTTP/1.1 front: it reads request heads and bodies itself so that every
//! answer — including those to bytes that are not a well-formed request — is the provider's
//! envelope (docs/emulator.md "What the HTTP front answers"). A generic HTTP server answers
//! framing errors, oversize heads and odd methods with bare status lines before the
//! application sees anything; cloud SDKs then fail with parse errors instead of error codes.
//!
//! This file only frames bytes: [`read_request`] turns a connection's bytes into a
//! [`RawRequest`] or a [`ReadProblem`] (with whatever of the request arrived, so the provider
//! can still be recognised), and [`encode_response`] writes an answer. Answering is
//! `dispatch`'s job.
use super::dispatch::ReadProblem;
use crate::http::{RawRequest, RawResponse};
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

/// Where the head ends (index after its blank line), scanning from `from`. Lines may end with
/// CRLF or a bare LF.
fn head_end(buf: &[u8], from: usize) -> Option<usize> {
    let mut i = from;
    while i < buf.len() {
        if buf[i] == b'\n' {
            if buf.get(i + 1) == Some(&b'\n') {
                return Some(i + 2);
            }
            if buf.get(i + 1) == Some(&b'\r') && buf.get(i + 2) == Some(&b'\n') {
                return Some(i + 3);
            }
        }
        i += 1;
    }
    None
}

fn lossy(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn lines(head: &[u8]) -> impl Iterator<Item = &[u8]> {
    head.split(|b| *b == b'\n')
        .map(|l| l.strip_suffix(b"\r").unwrap_or(l))
}

/// Path and raw query of a request target (origin form, or the absolute form proxies send).
fn split_target(target: &str) -> (String, String) {
    let rest = match target.split_once("://") {
        Some((scheme, rest)) if !scheme.contains('/') => match rest.find('/') {
            Some(i) => &rest[i..],
            None => rest.find('?').map(|i| &rest[i..]).unwrap_or("/"),
        },
        _ => target,
    };
    let (path, query) = rest.split_once('?').unwrap_or((rest, ""));
    let path = if path.is_empty() { "/" } else { path };
    (path.to_string(), query.to_string())
}

/// Whatever can be read out of a head that failed to frame, for recognising the provider:
/// the first line's method and target, and every later line that looks like a header.
pub(crate) fn partial(head: &[u8]) -> RawRequest {
    let mut it = lines(head).skip_while(|l| l.is_empty());
    let mut request = RawRequest::default();
    if let Some(first) = it.next() {
        let mut words = first.split(|b| *b == b' ').filter(|w| !w.is_empty());
        request.method = lossy(words.next().unwrap_or_default()).to_ascii_uppercase();
        let (path, query) = split_target(&lossy(words.next().unwrap_or_default()));
        request.path = path;
        request.raw_query = query;
    }
    for line in it.take_while(|l| !l.is_empty()) {
        if let Some(colon) = line.iter().position(|b| *b == b':') {
            request.headers.push((
                lossy(&line[..colon]).trim().to_string(),
                lossy(&line[colon + 1..]).trim().to_string(),
            ));
        }
    }
    request
}

fn is_token(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

fn malformed(detail: impl Into<String>) -> ReadProblem {
    ReadProblem::Malformed {
        detail: detail.into(),
    }
}

/// A parsed head: the request without its body, and its HTTP minor version.
struct Head {
    request: RawRequest,
    minor: u8,
}

fn parse_head(head: &[u8], limits: &Limits) -> Result<Head, ReadProblem> {
    let mut it = lines(head).skip_while(|l| l.is_empty());
    let first = it.next().unwrap_or_default();
    let parts: Vec<&[u8]> = first.split(|b| *b == b' ').collect();
    let [method, target, version] = parts.as_slice() else {
        return Err(malformed(
            "The request line is not `METHOD target HTTP/1.1`.",
        ));
    };
    if method.is_empty() || !method.iter().all(|b| is_token(*b)) {
        return Err(malformed("The request method is not an HTTP token."));
    }
    if target.len() > limits.target_bytes {
        return Err(ReadProblem::HeadTooLarge {
            detail: format!(
                "The request target is {} bytes; at most {} are accepted.",
                target.len(),
                limits.target_bytes
            ),
        });
    }
    if target.is_empty() || target.iter().any(|b| *b <= b' ' || *b == 0x7f) {
        return Err(malformed(
            "The request target is empty or holds control characters.",
        ));
    }
    let minor = match *version {
        b"HTTP/1.1" => 1,
        b"HTTP/1.0" => 0,
        _ => {
            return Err(malformed(format!(
                "HTTP version `{}` is not supported (HTTP/1.0 and HTTP/1.1 are).",
                lossy(&version[..version.len().min(16)])
            )))
        }
    };
    let mut request = RawRequest {
        method: lossy(method).to_ascii_uppercase(),
        ..RawRequest::default()
    };
    (request.path, request.raw_query) = split_target(&lossy(target));
    for line in it.take_while(|l| !l.is_empty()) {
        if request.headers.len() == limits.headers {
            return Err(ReadProblem::HeadTooLarge {
                detail: format!("The request has more than {} headers.", limits.headers),
            });
        }
        if line[0] == b' ' || line[0] == b'\t' {
            return Err(malformed("Folded header lines are not accepted."));
        }
        let Some(colon) = line.iter().position(|b| *b == b':') else {
            return Err(malformed("A header line has no `:`."));
        };
        let (name, value) = (&line[..colon], &line[colon + 1..]);
        if name.is_empty() || !name.iter().all(|b| is_token(*b)) {
            return Err(malformed(format!(
                "The header name `{}` is not an HTTP token.",
                lossy(&name[..name.len().min(64)])
            )));
        }
        if value
            .iter()
            .any(|b| (*b < b' ' && *b != b'\t') || *b == 0x7f)
        {
            return Err(malformed(format!(
                "The value of header `{}` holds control characters.",
                lossy(name)
            )));
        }
        request
            .headers
            .push((lossy(name), lossy(value).trim().to_string()));
    }
    Ok(Head { request, minor })
}

/// How the body is delimited.
enum Framing {
    Length(u64),
    Chunked,
}

fn framing(request: &RawRequest, minor: u8, limits: &Limits) -> Result<Framing, ReadProblem> {
    let values = |name: &str| -> Vec<&str> {
        request
            .headers
            .iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case(name))
            .flat_map(|(_, v)| v.split(','))
            .map(str::trim)
            .collect()
    };
    let te = values("transfer-encoding");
    let cl = values("content-length");
    if !te.is_empty() {
        if minor == 0 {
            return Err(malformed("Transfer-Encoding is not defined for HTTP/1.0."));
        }
        if !cl.is_empty() {
            return Err(malformed(
                "The request carries both Content-Length and Transfer-Encoding.",
            ));
        }
        if te.len() != 1 || !te[0].eq_ignore_ascii_case("chunked") {
            return Err(malformed(format!(
                "Transfer-Encoding `{}` is not supported (only `chunked` is).",
                te.join(", ")
            )));
        }
        return Ok(Framing::Chunked);
    }
    let Some(first) = cl.first() else {
        return Ok(Framing::Length(0));
    };
    let valid = |v: &str| !v.is_empty() && v.len() <= 19 && v.bytes().all(|b| b.is_ascii_digit());
    if !cl.iter().all(|v| valid(v) && v == first) {
        return Err(malformed(format!(
            "Content-Length `{}` is not one decimal number.",
            cl.join(", ")
        )));
    }
    let length: u64 = first
        .parse()
        .map_err(|_| malformed("Content-Length overflows."))?;
    if length > limits.body_bytes {
        return Err(ReadProblem::TooLarge {
            limit: limits.body_bytes,
        });
    }
    Ok(Framing::Length(length))
}

fn keep_alive(request: &RawRequest, minor: u8) -> bool {
    let tokens: Vec<String> = request
        .headers
        .iter()
        .filter(|(n, _)| n.eq_ignore_ascii_case("connection"))
        .flat_map(|(_, v)| v.split(','))
        .map(|t| t.trim().to_ascii_lowercase())
        .collect();
    if tokens.iter().any(|t| t == "close") {
        return false;
    }
    minor == 1 || tokens.iter().any(|t| t == "keep-alive")
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

async fn read_length<I: AsyncRead + Unpin>(
    io: &mut I,
    buf: &mut Vec<u8>,
    n: usize,
    limits: &Limits,
    deadline: Instant,
) -> Result<Vec<u8>, ReadProblem> {
    while buf.len() < n {
        match fill(io, buf, deadline).await {
            Ok(()) => {}
            Err(Stop::Timeout) => return Err(too_slow(limits)),
            Err(Stop::Eof) => {
                return Err(malformed(format!(
                    "The body ended after {} of the {n} bytes Content-Length announced.",
                    buf.len()
                )))
            }
        }
    }
    let rest = buf.split_off(n);
    Ok(std::mem::replace(buf, rest))
}

/// The next line of a chunked body starting at `pos` (without its line end) and the index
/// after it, reading more as needed. Lines are bounded: a size line or trailer is short.
async fn chunk_line<I: AsyncRead + Unpin>(
    io: &mut I,
    buf: &mut Vec<u8>,
    pos: usize,
    max: usize,
    limits: &Limits,
    deadline: Instant,
) -> Result<(Vec<u8>, usize), ReadProblem> {
    loop {
        if let Some(i) = buf[pos..].iter().position(|b| *b == b'\n') {
            let line = &buf[pos..pos + i];
            let line = line.strip_suffix(b"\r").unwrap_or(line);
            return Ok((line.to_vec(), pos + i + 1));
        }
        if buf.len() - pos > max {
            return Err(malformed("A chunk-size or trailer line is too long."));
        }
        match fill(io, buf, deadline).await {
            Ok(()) => {}
            Err(Stop::Timeout) => return Err(too_slow(limits)),
            Err(Stop::Eof) => {
                return Err(malformed("The chunked body ended before its last chunk."))
            }
        }
    }
}

async fn read_chunked<I: AsyncRead + Unpin>(
    io: &mut I,
    buf: &mut Vec<u8>,
    limits: &Limits,
    deadline: Instant,
) -> Result<Vec<u8>, ReadProblem> {
    let mut body = Vec::new();
    let mut pos = 0;
    loop {
        let (line, next) = chunk_line(io, buf, pos, 4096, limits, deadline).await?;
        let size_text = line.split(|b| *b == b';').next().unwrap_or_default();
        let size_text = size_text.trim_ascii();
        if size_text.is_empty()
            || size_text.len() > 15
            || !size_text.iter().all(|b| b.is_ascii_hexdigit())
        {
            return Err(malformed(format!(
                "The chunk size `{}` is not a hexadecimal number.",
                lossy(&size_text[..size_text.len().min(32)])
            )));
        }
        let size = u64::from_str_radix(&lossy(size_text), 16)
            .map_err(|_| malformed("The chunk size overflows."))?;
        if body.len() as u64 + size > limits.body_bytes {
            return Err(ReadProblem::TooLarge {
                limit: limits.body_bytes,
            });
        }
        pos = next;
        if size == 0 {
            break;
        }
        let size = size as usize;
        while buf.len() < pos + size + 2 {
            match fill(io, buf, deadline).await {
                Ok(()) => {}
                Err(Stop::Timeout) => return Err(too_slow(limits)),
                Err(Stop::Eof) => {
                    return Err(malformed(format!(
                        "A chunk ended after {} of its {size} bytes.",
                        buf.len().saturating_sub(pos).min(size)
                    )))
                }
            }
        }
        body.extend_from_slice(&buf[pos..pos + size]);
        pos += size;
        match &buf[pos..pos + 2] {
            b"\r\n" => pos += 2,
            [b'\n', _] => pos += 1,
            _ => return Err(malformed("A chunk is longer than its size says.")),
        }
    }
    // Trailer fields, then the blank line that ends the body.
    let mut trailer_bytes = 0;
    loop {
        let (line, next) = chunk_line(io, buf, pos, limits.head_bytes, limits, deadline).await?;
        pos = next;
        trailer_bytes += line.len();
        if line.is_empty() {
            break;
        }
        if trailer_bytes > limits.head_bytes {
            return Err(ReadProblem::HeadTooLarge {
                detail: format!("The chunked trailers exceed {} bytes.", limits.head_bytes),
            });
        }
    }
    buf.drain(..pos);
    Ok(body)
}

/// The answer on the wire. `head_only` for HEAD requests (no body, the length it would have).
pub(crate) fn encode_response(response: &RawResponse, head_only: bool, close: bool) -> Vec<u8> {
    let reason = axum::http::StatusCode::from_u16(response.status)
        .ok()
        .and_then(|s| s.canonical_reason())
        .unwrap_or("Unknown");
    let mut out = Vec::with_capacity(256 + response.body.len());
    out.extend_from_slice(format!("HTTP/1.1 {} {reason}\r\n", response.status).as_bytes());
    for (name, value) in &response.headers {
        let framing = ["content-length", "transfer-encoding", "connection"];
        if framing.iter().any(|f| name.eq_ignore_ascii_case(f)) {
            continue;
        }
        out.extend_from_slice(format!("{name}: {value}\r\n").as_bytes());
    }
    let date = chrono::Utc::now().format("%a, %d %b %Y %H:%M:%S GMT");
    out.extend_from_slice(format!("Date: {date}\r\n").as_bytes());
    out.extend_from_slice(format!("Content-Length: {}\r\n", response.body.len()).as_bytes());
    if close {
        out.extend_from_slice(b"Connection: close\r\n");
    }
    out.extend_from_slice(b"\r\n");
    if !head_only {
        out.extend_from_slice(&response.body);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_split_into_path_and_query() {
        assert_eq!(split_target("/?a=1"), ("/".into(), "a=1".into()));
        assert_eq!(
            split_target("http://h:1/p?q=1"),
            ("/p".into(), "q=1".into())
        );
        assert_eq!(split_target("http://h:1?q"), ("/".into(), "q".into()));
        assert_eq!(split_target("h:443"), ("h:443".into(), String::new()));
    }

    #[test]
    fn head_end_accepts_crlf_and_lf() {
        assert_eq!(head_end(b"GET / HTTP/1.1\r\n\r\nrest", 0), Some(18));
        assert_eq!(head_end(b"GET / HTTP/1.1\n\nrest", 0), Some(16));
        assert_eq!(head_end(b"GET / HTTP/1.1\r\nHost: x\r\n", 0), None);
    }

    #[test]
    fn partial_heads_keep_what_looks_like_headers() {
        let p = partial(b"PO\x01ST /x?Action=A HTTP/9\r\nX-TC-Action: A\r\ngarbage\r\n");
        assert_eq!(p.path, "/x");
        assert_eq!(p.header("x-tc-action"), Some("A"));
    }
}
