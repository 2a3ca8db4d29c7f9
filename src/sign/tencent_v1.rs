//! Tencent Cloud legacy signature v1 (`HmacSHA1` / `HmacSHA256`), tencent.md §3.
//!
//! The string to sign carries the decoded raw values — literal `&`, `=`, spaces and CJK inside a
//! value — so parameters are decoded from whatever encoding the client chose (Python `quote_plus`,
//! Node querystring) and never re-encoded. The host keeps its port for every SDK.
use super::credentials::Secret;
use super::crypto::{hmac_sha1, hmac_sha256};
use super::encoding::sorted_pairs;
use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine;
use serde_json::Value;

/// The parameter that carries the signature (excluded from the string to sign).
pub const SIGNATURE_PARAM: &str = "Signature";

/// The HMAC used: SHA-256 only when `SignatureMethod=HmacSHA256`, otherwise SHA-1.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum V1Method {
    HmacSha1,
    HmacSha256,
}

impl V1Method {
    /// The doc: "HmacSHA256 when SignatureMethod=HmacSHA256, HmacSHA1 in every other case".
    pub fn from_param(value: Option<&[u8]>) -> Self {
        match value {
            Some(b"HmacSHA256") => V1Method::HmacSha256,
            _ => V1Method::HmacSha1,
        }
    }

    pub fn wire_name(self) -> &'static str {
        match self {
            V1Method::HmacSha1 => "HmacSHA1",
            V1Method::HmacSha256 => "HmacSHA256",
        }
    }
}

/// All intermediates of one v1 signature.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct V1Signature {
    pub method: V1Method,
    pub string_to_sign: String,
    /// Base64, as the `Signature` parameter value before URL-encoding.
    pub signature: String,
}

/// `METHOD + host + path + "?" + sorted name=value` over decoded parameters, `Signature`
/// excluded. `None` when a decoded name or value is not UTF-8 (no SDK can produce that).
pub fn string_to_sign(
    method: &str,
    host: &str,
    path: &str,
    params: &[(Vec<u8>, Vec<u8>)],
) -> Option<String> {
    let unsigned = params
        .iter()
        .filter(|(name, _)| name != SIGNATURE_PARAM.as_bytes());
    let mut joined = Vec::new();
    for (i, (name, value)) in sorted_pairs(unsigned).into_iter().enumerate() {
        if i > 0 {
            joined.push(b'&');
        }
        joined.extend_from_slice(name);
        joined.push(b'=');
        joined.extend_from_slice(value);
    }
    let joined = String::from_utf8(joined).ok()?;
    Some(format!("{method}{host}{path}?{joined}"))
}

/// Raw HMAC bytes of a string to sign.
pub fn signature_bytes(method: V1Method, secret: &Secret, string_to_sign: &str) -> Vec<u8> {
    let key = secret.expose().as_bytes();
    match method {
        V1Method::HmacSha1 => hmac_sha1(key, string_to_sign.as_bytes()).to_vec(),
        V1Method::HmacSha256 => hmac_sha256(key, string_to_sign.as_bytes()).to_vec(),
    }
}

/// Sign a string to sign.
pub fn sign_string(method: V1Method, secret: &Secret, string_to_sign: String) -> V1Signature {
    let signature = BASE64.encode(signature_bytes(method, secret, &string_to_sign));
    V1Signature {
        method,
        string_to_sign,
        signature,
    }
}

/// Flatten a JSON object into v1/GET parameters the way the SDKs do: arrays as 0-based
/// `Name.N`, objects as `Name.Field`, booleans `true`/`false`, strings unquoted.
pub fn flatten_json(value: &Value) -> Vec<(String, String)> {
    let mut out = Vec::new();
    flatten_into(&mut out, None, value);
    out
}

fn flatten_into(out: &mut Vec<(String, String)>, prefix: Option<&str>, value: &Value) {
    let join = |key: &str| match prefix {
        Some(prefix) => format!("{prefix}.{key}"),
        None => key.to_string(),
    };
    match value {
        Value::Object(map) => {
            for (key, item) in map {
                flatten_into(out, Some(&join(key)), item);
            }
        }
        Value::Array(items) => {
            for (index, item) in items.iter().enumerate() {
                flatten_into(out, Some(&join(&index.to_string())), item);
            }
        }
        Value::Null => {}
        Value::String(s) => out.push((prefix.unwrap_or_default().to_string(), s.clone())),
        Value::Bool(_) | Value::Number(_) => {
            out.push((prefix.unwrap_or_default().to_string(), value.to_string()))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn method_choice() {
        assert_eq!(V1Method::from_param(None), V1Method::HmacSha1);
        assert_eq!(V1Method::from_param(Some(b"HmacSHA1")), V1Method::HmacSha1);
        assert_eq!(
            V1Method::from_param(Some(b"hmacsha256")),
            V1Method::HmacSha1
        );
        assert_eq!(
            V1Method::from_param(Some(b"HmacSHA256")),
            V1Method::HmacSha256
        );
    }

    #[test]
    fn string_to_sign_uses_raw_values_and_sorts() {
        let params = vec![
            (b"KeyIds.0".to_vec(), "a b&=中".as_bytes().to_vec()),
            (b"Action".to_vec(), b"DeleteKeyPairs".to_vec()),
            (b"Signature".to_vec(), b"x".to_vec()),
        ];
        assert_eq!(
            string_to_sign("GET", "h:1", "/", &params).as_deref(),
            Some("GETh:1/?Action=DeleteKeyPairs&KeyIds.0=a b&=中")
        );
        assert_eq!(
            string_to_sign("GET", "h", "/", &[(b"k".to_vec(), vec![0xff])]),
            None
        );
    }

    #[test]
    fn flattens_like_the_sdks() {
        let value: Value = serde_json::from_str(
            r#"{"KeyIds":["a","b"],"ForceStop":true,"Filters":[{"Name":"n","Values":["v"]}],"Limit":1}"#,
        )
        .unwrap();
        assert_eq!(
            flatten_json(&value),
            vec![
                ("KeyIds.0".to_string(), "a".to_string()),
                ("KeyIds.1".to_string(), "b".to_string()),
                ("ForceStop".to_string(), "true".to_string()),
                ("Filters.0.Name".to_string(), "n".to_string()),
                ("Filters.0.Values.0".to_string(), "v".to_string()),
                ("Limit".to_string(), "1".to_string()),
            ]
        );
    }
}
