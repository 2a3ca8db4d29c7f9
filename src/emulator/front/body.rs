//! The request body: how it is delimited (Content-Length or chunked, RFC 9112 section 6),
//! whether the connection stays open, and reading it within the limits and the deadline. Every
//! broken framing and every truncation is `Malformed`, only a body over the limit `TooLarge`.
use super::{fill, lossy, malformed, too_slow, Limits, Stop};
use crate::emulator::dispatch::ReadProblem;
use crate::http::RawRequest;
use tokio::io::AsyncRead;
use tokio::time::Instant;

/// How the body is delimited.
pub(super) enum Framing {
    Length(u64),
    Chunked,
}

pub(super) fn framing(
    request: &RawRequest,
    minor: u8,
    limits: &Limits,
) -> Result<Framing, ReadProblem> {
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

pub(super) fn keep_alive(request: &RawRequest, minor: u8) -> bool {
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

pub(super) async fn read_length<I: AsyncRead + Unpin>(
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

pub(super) async fn read_chunked<I: AsyncRead + Unpin>(
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
