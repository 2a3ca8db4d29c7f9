//! The request head: where it ends, the request line, the header fields — and, for a head
//! that does not parse, whatever can still be read out of it to recognise the provider.
use super::{lossy, malformed, Limits};
use crate::emulator::dispatch::ReadProblem;
use crate::http::RawRequest;

/// Where the head ends (index after its blank line), scanning from `from`. Lines may end with
/// CRLF or a bare LF.
pub(super) fn head_end(buf: &[u8], from: usize) -> Option<usize> {
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

/// A parsed head: the request without its body, and its HTTP minor version.
pub(super) struct Head {
    pub request: RawRequest,
    pub minor: u8,
}

pub(super) fn parse_head(head: &[u8], limits: &Limits) -> Result<Head, ReadProblem> {
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
        request.headers.push((lossy(name), trimmed(lossy(value))));
    }
    Ok(Head { request, minor })
}

/// `s` without surrounding whitespace, reusing its allocation when there is none.
fn trimmed(s: String) -> String {
    let t = s.trim();
    if t.len() == s.len() {
        s
    } else {
        t.to_string()
    }
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
