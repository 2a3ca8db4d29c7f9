//! Alibaba Cloud ACS3-HMAC-SHA256 and ACS3-HMAC-SM3 (signature V3), alibaba.md §2.
//!
//! The query is decoded with form semantics (`+` is a space: Python tea sends `+` but signs
//! `%20`), sorted and re-encoded RFC 3986; never reused raw. Exactly the headers listed in
//! SignedHeaders are canonicalised with their received values (Python tea signs `accept` and
//! `user-agent` too). Under SM3 the body digest still travels in `x-acs-content-sha256`.
use super::credentials::Secret;
use super::crypto::{hmac_sha256, hmac_sm3, sha256_hex, sm3_hex};
use super::encoding::{
    canonical_header_block, canonical_query, merged_header_value, parse_form, percent_encode_path,
    signed_header_names, AuthorizationItems,
};
use crate::http::RawRequest;

/// The minimum a SignedHeaders list must contain (alibaba.md §2.4).
pub const REQUIRED_SIGNED_HEADERS: [&str; 6] = [
    "host",
    "x-acs-action",
    "x-acs-content-sha256",
    "x-acs-date",
    "x-acs-signature-nonce",
    "x-acs-version",
];

/// The hash family; the header names stay the same for both.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Acs3Algorithm {
    HmacSha256,
    HmacSm3,
}

impl Acs3Algorithm {
    pub fn name(self) -> &'static str {
        match self {
            Acs3Algorithm::HmacSha256 => "ACS3-HMAC-SHA256",
            Acs3Algorithm::HmacSm3 => "ACS3-HMAC-SM3",
        }
    }

    pub fn from_name(name: &str) -> Option<Self> {
        match name {
            "ACS3-HMAC-SHA256" => Some(Acs3Algorithm::HmacSha256),
            "ACS3-HMAC-SM3" => Some(Acs3Algorithm::HmacSm3),
            _ => None,
        }
    }

    /// Lower-case hex digest (SHA-256 or SM3).
    pub fn hash_hex(self, data: &[u8]) -> String {
        match self {
            Acs3Algorithm::HmacSha256 => sha256_hex(data),
            Acs3Algorithm::HmacSm3 => sm3_hex(data),
        }
    }

    /// HMAC keyed with the secret as is (no `&` suffix, unlike RPC).
    pub fn mac(self, secret: &Secret, data: &[u8]) -> [u8; 32] {
        let key = secret.expose().as_bytes();
        match self {
            Acs3Algorithm::HmacSha256 => hmac_sha256(key, data),
            Acs3Algorithm::HmacSm3 => hmac_sm3(key, data),
        }
    }
}

/// Everything up to the string to sign; no secret material.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Acs3Canonical {
    pub canonical_uri: String,
    pub canonical_query_string: String,
    pub canonical_headers: String,
    pub hashed_request_payload: String,
    pub canonical_request: String,
    pub hashed_canonical_request: String,
    pub string_to_sign: String,
}

/// All intermediates of one ACS3 signature (no derived key: the secret is the key).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Acs3Signature {
    pub algorithm: Acs3Algorithm,
    pub canonical: Acs3Canonical,
    /// Lower-case hex.
    pub signature: String,
}

/// A parsed `Authorization: ACS3-… Credential=ID,SignedHeaders=…,Signature=…`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Acs3Authorization {
    pub algorithm: Acs3Algorithm,
    pub access_key_id: String,
    pub signed_headers: String,
    pub signature: Vec<u8>,
    pub signature_hex: String,
}

/// `/` for RPC; ROA paths re-encoded segment-wise with `/` kept.
pub fn canonical_uri(path: &str) -> String {
    if path.is_empty() {
        return "/".to_string();
    }
    let decoded: Vec<u8> = percent_encoding::percent_decode(path.as_bytes()).collect();
    percent_encode_path(&decoded)
}

/// Canonicalise a received (or about-to-be-sent) request. `payload_hash` is the hex digest that
/// enters the canonical request (the verifier passes the digest it computed from the body).
/// Fails with the name of a signed header the request does not carry.
pub fn canonicalize(
    algorithm: Acs3Algorithm,
    request: &RawRequest,
    signed_headers: &str,
    payload_hash: &str,
) -> Result<Acs3Canonical, String> {
    let names = signed_header_names(signed_headers);
    let canonical_headers =
        canonical_header_block(&names, |name| merged_header_value(&request.headers, name))?;
    let canonical_uri = canonical_uri(&request.path);
    let canonical_query_string = canonical_query(&parse_form(request.raw_query.as_bytes()));
    let canonical_request = format!(
        "{}\n{}\n{}\n{}\n{}\n{}",
        request.method,
        canonical_uri,
        canonical_query_string,
        canonical_headers,
        names.join(";"),
        payload_hash
    );
    let hashed_canonical_request = algorithm.hash_hex(canonical_request.as_bytes());
    let string_to_sign = format!("{}\n{}", algorithm.name(), hashed_canonical_request);
    Ok(Acs3Canonical {
        canonical_uri,
        canonical_query_string,
        canonical_headers,
        hashed_request_payload: payload_hash.to_string(),
        canonical_request,
        hashed_canonical_request,
        string_to_sign,
    })
}

/// Sign a canonical form.
pub fn sign_canonical(
    algorithm: Acs3Algorithm,
    canonical: Acs3Canonical,
    secret: &Secret,
) -> Acs3Signature {
    let signature = hex::encode(algorithm.mac(secret, canonical.string_to_sign.as_bytes()));
    Acs3Signature {
        algorithm,
        canonical,
        signature,
    }
}

/// The `Authorization` header value: commas without spaces, bare access key id.
pub fn authorization(
    algorithm: Acs3Algorithm,
    access_key_id: &str,
    signed_headers: &str,
    signature: &str,
) -> String {
    format!(
        "{} Credential={access_key_id},SignedHeaders={signed_headers},Signature={signature}",
        algorithm.name()
    )
}

/// Parse an Authorization value. Tolerates spaces after the commas; the items must be present
/// exactly once.
pub fn parse_authorization(value: &str) -> Result<Acs3Authorization, String> {
    let (name, rest) = value
        .trim()
        .split_once(' ')
        .ok_or("no space after the algorithm")?;
    let algorithm = Acs3Algorithm::from_name(name).ok_or("unknown ACS3 algorithm")?;
    let AuthorizationItems {
        credential,
        signed_headers,
        signature,
    } = AuthorizationItems::parse(rest)?;
    let access_key_id = credential
        .filter(|c| !c.is_empty())
        .ok_or("missing Credential")?;
    let signed_headers = signed_headers
        .filter(|s| !s.is_empty())
        .ok_or("missing SignedHeaders")?;
    let signature_hex = signature.ok_or("missing Signature")?;
    let signature = super::tc3::decode_hex_signature(signature_hex)?;
    Ok(Acs3Authorization {
        algorithm,
        access_key_id: access_key_id.to_string(),
        signed_headers: signed_headers.to_string(),
        signature,
        signature_hex: signature_hex.to_string(),
    })
}

/// Decoded value of the first query parameter called `name` (the business parameters of an
/// ACS3 request, e.g. `RegionId`).
pub fn query_param(request: &RawRequest, name: &str) -> Option<Vec<u8>> {
    parse_form(request.raw_query.as_bytes())
        .into_iter()
        .find(|(n, _)| n == name.as_bytes())
        .map(|(_, v)| v)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_rejects_authorization() {
        let auth = parse_authorization(
            "ACS3-HMAC-SM3 Credential=AKIDEXAMPLE,SignedHeaders=host;x-acs-date,Signature=ff2c6fc1f706ad0741580cca979022ebb5e3ec79eab1b294ede982e97c85a5f9",
        )
        .unwrap();
        assert_eq!(auth.algorithm, Acs3Algorithm::HmacSm3);
        assert_eq!(auth.access_key_id, "AKIDEXAMPLE");
        assert_eq!(auth.signed_headers, "host;x-acs-date");
        for bad in [
            "",
            "ACS3-HMAC-SHA256",
            "ACS3-HMAC-MD5 Credential=a,SignedHeaders=host,Signature=00",
            "ACS3-HMAC-SHA256 Credential=,SignedHeaders=host,Signature=00",
            "ACS3-HMAC-SHA256 Credential=a,SignedHeaders=host",
            "ACS3-HMAC-SHA256 Credential=a,SignedHeaders=host,Signature=xyz",
            "ACS3-HMAC-SHA256 Credential=a,Credential=b,Signature=00",
            "ACS3-HMAC-SHA256 a,b,c",
        ] {
            assert!(parse_authorization(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn canonical_uri_rules() {
        assert_eq!(canonical_uri(""), "/");
        assert_eq!(canonical_uri("/"), "/");
        assert_eq!(canonical_uri("/path/ test"), "/path/%20test");
        assert_eq!(canonical_uri("/path/%20test"), "/path/%20test");
    }
}
