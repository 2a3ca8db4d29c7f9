//! Percent-encoding, form decoding and header canonicalisation shared by the schemes.
//!
//! Everything works on bytes: a decoded parameter need not be UTF-8 for Alibaba canonicalisation
//! (decode then re-encode is byte-exact), so a malformed request yields a signature mismatch, not
//! a panic or a lossy guess.
use crate::http::RawRequest;
use percent_encoding::percent_decode;

/// RFC 3986 unreserved characters, which stay literal.
fn is_unreserved(byte: u8) -> bool {
    byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'_' | b'.' | b'~')
}

/// Append the encoding of `input` to `out`. Hand-rolled: the encoders run several times per
/// signature over every parameter, and writing bytes directly is several times faster than
/// going through `Display` chunk by chunk.
fn encode_into(out: &mut String, input: &[u8], keep_slash: bool) {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    out.reserve(input.len());
    for &byte in input {
        if is_unreserved(byte) || (keep_slash && byte == b'/') {
            out.push(char::from(byte));
        } else {
            out.push('%');
            out.push(char::from(HEX[usize::from(byte >> 4)]));
            out.push(char::from(HEX[usize::from(byte & 0x0f)]));
        }
    }
}

/// RFC 3986 percent-encoding of arbitrary bytes (`%20` for space, `%2A` for `*`, `~` literal,
/// upper-case hex).
pub fn percent_encode_rfc3986(input: &[u8]) -> String {
    let mut out = String::new();
    encode_into(&mut out, input, false);
    out
}

/// RFC 3986 encoding of a path, keeping `/` separators (`/path/ test` ⇒ `/path/%20test`).
pub fn percent_encode_path(input: &[u8]) -> String {
    let mut out = String::new();
    encode_into(&mut out, input, true);
    out
}

/// Decode with `application/x-www-form-urlencoded` semantics: `+` is a space, `%XY` a byte.
/// Malformed escapes (`%ZZ`, a trailing `%`) stay literal, as in Python's and WHATWG decoders.
pub fn form_decode(input: &[u8]) -> Vec<u8> {
    let plus_as_space: Vec<u8> = input
        .iter()
        .map(|&b| if b == b'+' { b' ' } else { b })
        .collect();
    percent_decode(&plus_as_space).collect()
}

/// Split a query string or form body into decoded `(name, value)` pairs, in order.
/// Empty segments (`a=1&&b=2`) are skipped; a segment without `=` is a name with an empty value.
pub fn parse_form(raw: &[u8]) -> Vec<(Vec<u8>, Vec<u8>)> {
    raw.split(|&b| b == b'&')
        .filter(|segment| !segment.is_empty())
        .map(|segment| match segment.iter().position(|&b| b == b'=') {
            Some(eq) => (form_decode(&segment[..eq]), form_decode(&segment[eq + 1..])),
            None => (form_decode(segment), Vec::new()),
        })
        .collect()
}

/// Whether the body is `application/x-www-form-urlencoded` (and so carries parameters).
pub fn has_form_body(request: &RawRequest) -> bool {
    request.header("content-type").is_some_and(|ct| {
        ct.trim()
            .to_ascii_lowercase()
            .starts_with("application/x-www-form-urlencoded")
    })
}

/// Parameters of a request that carries them as a query and/or a form body (Tencent v1, Alibaba
/// RPC): the decoded query pairs, then the form-body pairs when the body is form-encoded.
pub fn query_and_form_params(request: &RawRequest) -> Vec<(Vec<u8>, Vec<u8>)> {
    let mut pairs = parse_form(request.raw_query.as_bytes());
    if has_form_body(request) {
        pairs.extend(parse_form(&request.body));
    }
    pairs
}

/// Sort pairs by name, then value (byte order), so duplicate names canonicalise deterministically.
pub fn sorted_pairs<'a>(
    pairs: impl IntoIterator<Item = &'a (Vec<u8>, Vec<u8>)>,
) -> Vec<&'a (Vec<u8>, Vec<u8>)> {
    let mut sorted: Vec<_> = pairs.into_iter().collect();
    sorted.sort();
    sorted
}

/// Alibaba canonical query: sort decoded pairs, RFC 3986-encode names and values, join with `&`.
pub fn canonical_query<'a>(pairs: impl IntoIterator<Item = &'a (Vec<u8>, Vec<u8>)>) -> String {
    let mut out = String::new();
    for (i, (name, value)) in sorted_pairs(pairs).into_iter().enumerate() {
        if i > 0 {
            out.push('&');
        }
        encode_into(&mut out, name, false);
        out.push('=');
        encode_into(&mut out, value, false);
    }
    out
}

/// Wire form of parameters for a query string or form body: RFC 3986, insertion order.
pub fn encode_pairs<K: AsRef<str>, V: AsRef<str>>(pairs: &[(K, V)]) -> String {
    let mut out = String::new();
    for (i, (name, value)) in pairs.iter().enumerate() {
        if i > 0 {
            out.push('&');
        }
        encode_into(&mut out, name.as_ref().as_bytes(), false);
        out.push('=');
        encode_into(&mut out, value.as_ref().as_bytes(), false);
    }
    out
}

/// The value of every header named `name` (case-insensitive), trimmed, sorted and joined with
/// `,`; `None` when the request has no such header. Duplicates are merged the way the Alibaba
/// signers do (`x-acs-test:http,https`); a single header is just its trimmed value.
pub fn merged_header_value(headers: &[(String, String)], name: &str) -> Option<String> {
    let mut values: Vec<&str> = headers
        .iter()
        .filter(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.trim())
        .collect();
    if values.is_empty() {
        return None;
    }
    values.sort_unstable();
    Some(values.join(","))
}

/// Split `SignedHeaders` (`a;b;c`) into lower-case names, dropping empty entries.
pub fn signed_header_names(signed_headers: &str) -> Vec<String> {
    signed_headers
        .split(';')
        .map(|name| name.trim().to_ascii_lowercase())
        .filter(|name| !name.is_empty())
        .collect()
}

/// `name:value\n` for each signed header, in the order listed. `value_of` supplies the value that
/// enters the signature (received, lower-cased, host without port…). The first name without a
/// value is returned as the error: a header cannot be signed if it was not sent.
pub fn canonical_header_block(
    names: &[String],
    mut value_of: impl FnMut(&str) -> Option<String>,
) -> Result<String, String> {
    let mut block = String::new();
    for name in names {
        let value = value_of(name).ok_or_else(|| name.clone())?;
        block.push_str(name);
        block.push(':');
        block.push_str(&value);
        block.push('\n');
    }
    Ok(block)
}

/// Host without a trailing `:port` (`127.0.0.1:8080` ⇒ `127.0.0.1`, `http://h:1` ⇒ `http://h`);
/// `None` when there is no numeric port to strip (so `[::1]` and `http://h` stay as they are).
pub fn host_without_port(host: &str) -> Option<&str> {
    let (head, port) = host.rsplit_once(':')?;
    let is_port = !port.is_empty() && port.bytes().all(|b| b.is_ascii_digit());
    (is_port && !head.is_empty() && !head.ends_with(':')).then_some(head)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3986_table() {
        assert_eq!(percent_encode_rfc3986(b" ~/*-+"), "%20~%2F%2A-%2B");
        assert_eq!(percent_encode_rfc3986(b"!'()"), "%21%27%28%29");
        assert_eq!(percent_encode_rfc3986("你".as_bytes()), "%E4%BD%A0");
        assert_eq!(percent_encode_path(b"/path/ test"), "/path/%20test");
    }

    #[test]
    fn form_decoding_treats_plus_as_space_and_keeps_bad_escapes() {
        assert_eq!(form_decode(b"a+b%2Bc"), b"a b+c");
        assert_eq!(form_decode(b"%ZZ%"), b"%ZZ%");
        assert_eq!(form_decode(b"%ff"), vec![0xff]);
    }

    #[test]
    fn parse_form_keeps_empty_values_and_order() {
        let pairs = parse_form(b"b=2&&SignatureType=&a");
        assert_eq!(
            pairs,
            vec![
                (b"b".to_vec(), b"2".to_vec()),
                (b"SignatureType".to_vec(), Vec::new()),
                (b"a".to_vec(), Vec::new()),
            ]
        );
    }

    #[test]
    fn canonical_query_sorts_and_reencodes() {
        let pairs = parse_form(b"test=ok&empty=&k=a+b*");
        assert_eq!(canonical_query(&pairs), "empty=&k=a%20b%2A&test=ok");
    }

    #[test]
    fn merged_headers_sort_values() {
        let headers = vec![
            ("x-acs-test".to_string(), "https".to_string()),
            ("X-ACS-TEST".to_string(), " http ".to_string()),
        ];
        assert_eq!(
            merged_header_value(&headers, "x-acs-test").as_deref(),
            Some("http,https")
        );
        assert_eq!(merged_header_value(&headers, "host"), None);
    }

    #[test]
    fn port_stripping() {
        assert_eq!(host_without_port("127.0.0.1:8080"), Some("127.0.0.1"));
        assert_eq!(
            host_without_port("http://127.0.0.1:40711"),
            Some("http://127.0.0.1")
        );
        assert_eq!(host_without_port("http://127.0.0.1"), None);
        assert_eq!(host_without_port("[::1]"), None);
        assert_eq!(host_without_port("[::1]:80"), Some("[::1]"));
        assert_eq!(host_without_port("cvm.tencentcloudapi.com"), None);
        assert_eq!(host_without_port(":80"), None);
    }
}

/// The `Credential=…, SignedHeaders=…, Signature=…` items after the algorithm name of a TC3 or
/// ACS3 `Authorization` header (TC3 separates them with ", ", ACS3 with ","); each at most once.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct AuthorizationItems<'a> {
    pub credential: Option<&'a str>,
    pub signed_headers: Option<&'a str>,
    pub signature: Option<&'a str>,
}

impl<'a> AuthorizationItems<'a> {
    pub fn parse(rest: &'a str) -> Result<Self, String> {
        let mut items = AuthorizationItems::default();
        for item in rest.split(',') {
            let (key, val) = item
                .trim()
                .split_once('=')
                .ok_or_else(|| format!("item `{}` is not key=value", item.trim()))?;
            let slot = match key {
                "Credential" => &mut items.credential,
                "SignedHeaders" => &mut items.signed_headers,
                "Signature" => &mut items.signature,
                other => return Err(format!("unknown item `{other}`")),
            };
            if slot.replace(val.trim()).is_some() {
                return Err(format!("duplicate item `{key}`"));
            }
        }
        Ok(items)
    }
}
