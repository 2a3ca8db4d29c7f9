//! Alibaba Cloud RPC signature HMAC-SHA1 (`SignatureVersion=1.0`), alibaba.md §3.
//!
//! Every parameter except `Signature` — query plus form body, empty values included
//! (`SignatureType=`) — is decoded, sorted and RFC 3986-encoded; the whole canonical string is
//! encoded once more into `METHOD&%2F&…`. The host is not signed. Key = secret + `&`.
use super::credentials::Secret;
use super::crypto::hmac_sha1;
use super::encoding::{canonical_query, percent_encode_rfc3986};
use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine;

/// The parameter that carries the signature (excluded from the string to sign).
pub const SIGNATURE_PARAM: &str = "Signature";
pub const SIGNATURE_METHOD: &str = "HMAC-SHA1";
pub const SIGNATURE_VERSION: &str = "1.0";

/// Everything up to the string to sign; no secret material.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RpcCanonical {
    pub canonicalized_query_string: String,
    pub string_to_sign: String,
}

/// All intermediates of one RPC signature.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RpcSignature {
    pub canonical: RpcCanonical,
    /// Base64, as the `Signature` parameter value before URL-encoding.
    pub signature: String,
}

/// Canonicalise decoded parameters (a `Signature` among them is ignored).
pub fn canonicalize(method: &str, params: &[(Vec<u8>, Vec<u8>)]) -> RpcCanonical {
    let unsigned = params
        .iter()
        .filter(|(name, _)| name != SIGNATURE_PARAM.as_bytes());
    let canonicalized_query_string = canonical_query(unsigned);
    let string_to_sign = format!(
        "{method}&{}&{}",
        percent_encode_rfc3986(b"/"),
        percent_encode_rfc3986(canonicalized_query_string.as_bytes())
    );
    RpcCanonical {
        canonicalized_query_string,
        string_to_sign,
    }
}

/// The HMAC key is the secret followed by `&` (the empty token-secret slot of OAuth 1 heritage).
pub fn signature_bytes(secret: &Secret, string_to_sign: &str) -> [u8; 20] {
    let mut key = Vec::with_capacity(secret.expose().len() + 1);
    key.extend_from_slice(secret.expose().as_bytes());
    key.push(b'&');
    hmac_sha1(&key, string_to_sign.as_bytes())
}

/// Sign a canonical form.
pub fn sign_canonical(canonical: RpcCanonical, secret: &Secret) -> RpcSignature {
    let signature = BASE64.encode(signature_bytes(secret, &canonical.string_to_sign));
    RpcSignature {
        canonical,
        signature,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn double_encoding_and_empty_values() {
        let params = vec![
            (b"q".to_vec(), b"http://domain/?q=value&q2=value2".to_vec()),
            (b"key".to_vec(), b"value".to_vec()),
            (b"SignatureType".to_vec(), Vec::new()),
            (b"Signature".to_vec(), b"ignored".to_vec()),
        ];
        let canonical = canonicalize("GET", &params);
        assert_eq!(
            canonical.canonicalized_query_string,
            "SignatureType=&key=value&q=http%3A%2F%2Fdomain%2F%3Fq%3Dvalue%26q2%3Dvalue2"
        );
        assert!(canonical
            .string_to_sign
            .starts_with("GET&%2F&SignatureType%3D%26key%3Dvalue%26q%3Dhttp%253A"));
    }
}
