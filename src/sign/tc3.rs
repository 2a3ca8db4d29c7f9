//! Tencent Cloud TC3-HMAC-SHA256 (API 3.0 signature v3), tencent.md §2.
//!
//! The canonical request is built from a [`RawRequest`] exactly as received: the raw query for
//! GET (SDKs encode differently and each signs what it sent), the headers named in SignedHeaders
//! with their received values, the hash of the raw body. The signer builds the request first and
//! then canonicalises it with the same code the verifier uses, so both sides cannot drift.
use super::credentials::Secret;
use super::crypto::{hmac_sha256, sha256_hex};
use super::encoding::{
    canonical_header_block, host_without_port, merged_header_value, AuthorizationItems,
};
use crate::http::RawRequest;
use std::fmt;

pub const ALGORITHM: &str = "TC3-HMAC-SHA256";
pub const TERMINATOR: &str = "tc3_request";
/// `X-TC-Content-SHA256` value that replaces the body by this literal in the payload hash.
pub const UNSIGNED_PAYLOAD: &str = "UNSIGNED-PAYLOAD";
/// The doc minimum: a SignedHeaders list without these is rejected.
pub const REQUIRED_SIGNED_HEADERS: [&str; 2] = ["content-type", "host"];

/// How received header values enter the canonical headers. The SDKs sign values as sent; the
/// doc lower-cases them (`x-tc-action:describeinstances`); the Node SDK signs the host without
/// its port. The verifier tries each reading; the signer uses [`HeaderReading::DOC`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct HeaderReading {
    pub host_without_port: bool,
    pub lowercase_values: bool,
}

impl HeaderReading {
    pub const AS_SENT: HeaderReading = HeaderReading {
        host_without_port: false,
        lowercase_values: false,
    };
    pub const DOC: HeaderReading = HeaderReading {
        host_without_port: false,
        lowercase_values: true,
    };
}

/// Everything up to the string to sign; contains no secret material.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tc3Canonical {
    pub date: String,
    pub service: String,
    pub credential_scope: String,
    pub hashed_request_payload: String,
    pub canonical_request: String,
    pub hashed_canonical_request: String,
    pub string_to_sign: String,
}

/// The derived HMAC key chain. Secret-equivalent for one day and service, so `Debug` hides it;
/// the hex accessors exist for known-answer tests.
#[derive(Clone)]
pub struct Tc3Keys {
    secret_date: [u8; 32],
    secret_service: [u8; 32],
    secret_signing: [u8; 32],
}

impl Tc3Keys {
    pub fn secret_date_hex(&self) -> String {
        hex::encode(self.secret_date)
    }
    pub fn secret_service_hex(&self) -> String {
        hex::encode(self.secret_service)
    }
    pub fn secret_signing_hex(&self) -> String {
        hex::encode(self.secret_signing)
    }
}

impl fmt::Debug for Tc3Keys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Tc3Keys(***)")
    }
}

/// All intermediates of one TC3 signature.
#[derive(Debug, Clone)]
pub struct Tc3Signature {
    pub canonical: Tc3Canonical,
    pub keys: Tc3Keys,
    /// Lower-case hex.
    pub signature: String,
}

/// A parsed `Authorization: TC3-HMAC-SHA256 Credential=…, SignedHeaders=…, Signature=…`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tc3Authorization {
    pub access_key_id: String,
    pub date: String,
    pub service: String,
    pub signed_headers: String,
    pub signature: Vec<u8>,
    pub signature_hex: String,
}

/// Payload hash: SHA-256 of the raw body, or of the literal `UNSIGNED-PAYLOAD` when the request
/// says so in `X-TC-Content-SHA256`.
pub fn hashed_payload(request: &RawRequest) -> String {
    let unsigned = request
        .header("x-tc-content-sha256")
        .is_some_and(|v| v.trim() == UNSIGNED_PAYLOAD);
    if unsigned {
        sha256_hex(UNSIGNED_PAYLOAD.as_bytes())
    } else {
        sha256_hex(&request.body)
    }
}

/// The raw query for GET, empty for every other method (POST carries parameters in the body).
pub fn canonical_query(request: &RawRequest) -> &str {
    if request.method == "GET" {
        &request.raw_query
    } else {
        ""
    }
}

/// Build the canonical request and string to sign. `timestamp` is the `X-TC-Timestamp` text,
/// `date`/`service` the credential scope as the client stated it. Fails with the name of a signed
/// header the request does not carry.
pub fn canonicalize(
    request: &RawRequest,
    signed_headers: &str,
    reading: HeaderReading,
    timestamp: &str,
    date: &str,
    service: &str,
) -> Result<Tc3Canonical, String> {
    let names = super::encoding::signed_header_names(signed_headers);
    let headers = canonical_header_block(&names, |name| {
        let mut value = merged_header_value(&request.headers, name)?;
        if name == "host" && reading.host_without_port {
            if let Some(stripped) = host_without_port(&value) {
                value = stripped.to_string();
            }
        }
        if reading.lowercase_values {
            value = value.to_lowercase();
        }
        Some(value)
    })?;
    let hashed_request_payload = hashed_payload(request);
    // Joined piece by piece (`concat` sizes the buffer once): verification builds these for
    // every request, and `format!` costs more than the pieces.
    let canonical_request = [
        &request.method,
        "\n/\n",
        canonical_query(request),
        "\n",
        &headers,
        "\n",
        signed_headers,
        "\n",
        &hashed_request_payload,
    ]
    .concat();
    let hashed_canonical_request = sha256_hex(canonical_request.as_bytes());
    let credential_scope = [date, "/", service, "/", TERMINATOR].concat();
    let string_to_sign = [
        ALGORITHM,
        "\n",
        timestamp,
        "\n",
        &credential_scope,
        "\n",
        &hashed_canonical_request,
    ]
    .concat();
    Ok(Tc3Canonical {
        date: date.to_string(),
        service: service.to_string(),
        credential_scope,
        hashed_request_payload,
        canonical_request,
        hashed_canonical_request,
        string_to_sign,
    })
}

/// `SecretDate = HMAC("TC3" + key, date)`, then service, then `tc3_request`.
pub fn derive_keys(secret: &Secret, date: &str, service: &str) -> Tc3Keys {
    let mut tc3_key = Vec::with_capacity(3 + secret.expose().len());
    tc3_key.extend_from_slice(b"TC3");
    tc3_key.extend_from_slice(secret.expose().as_bytes());
    let secret_date = hmac_sha256(&tc3_key, date.as_bytes());
    let secret_service = hmac_sha256(&secret_date, service.as_bytes());
    let secret_signing = hmac_sha256(&secret_service, TERMINATOR.as_bytes());
    Tc3Keys {
        secret_date,
        secret_service,
        secret_signing,
    }
}

/// How many (secret, date, service) chains [`derive_keys_cached`] keeps per thread: a few
/// callers at a time, and a day boundary, without a lookup costing more than it saves.
const REMEMBERED_CHAINS: usize = 8;

/// [`derive_keys`], remembered per thread for the last [`REMEMBERED_CHAINS`] (secret, date,
/// service): a verifier sees the same caller sign for the same day and service request after
/// request, and the chain is three of the four HMACs a verification costs. The secrets stay
/// inside [`Secret`] (redacted `Debug`, constant-time equality) and the keys inside
/// [`Tc3Keys`] (redacted `Debug`).
pub fn derive_keys_cached(secret: &Secret, date: &str, service: &str) -> Tc3Keys {
    use std::cell::RefCell;
    type Chain = (Secret, String, String, Tc3Keys);
    thread_local! {
        static RECENT: RefCell<Vec<Chain>> = const { RefCell::new(Vec::new()) };
    }
    RECENT.with(|recent| {
        let mut recent = recent.borrow_mut();
        let hit = recent
            .iter()
            .find(|(s, d, v, _)| d == date && v == service && s == secret);
        if let Some((_, _, _, keys)) = hit {
            return keys.clone();
        }
        let keys = derive_keys(secret, date, service);
        if recent.len() == REMEMBERED_CHAINS {
            recent.remove(0);
        }
        recent.push((secret.clone(), date.into(), service.into(), keys.clone()));
        keys
    })
}

/// Raw signature bytes of a string to sign under derived keys.
pub fn signature_bytes(keys: &Tc3Keys, string_to_sign: &str) -> [u8; 32] {
    hmac_sha256(&keys.secret_signing, string_to_sign.as_bytes())
}

/// Sign a canonical form.
pub fn sign_canonical(canonical: Tc3Canonical, secret: &Secret) -> Tc3Signature {
    let keys = derive_keys(secret, &canonical.date, &canonical.service);
    let signature = hex::encode(signature_bytes(&keys, &canonical.string_to_sign));
    Tc3Signature {
        canonical,
        keys,
        signature,
    }
}

/// The `Authorization` header value.
pub fn authorization(
    access_key_id: &str,
    signature: &Tc3Signature,
    signed_headers: &str,
) -> String {
    format!(
        "{ALGORITHM} Credential={access_key_id}/{}, SignedHeaders={signed_headers}, Signature={}",
        signature.canonical.credential_scope, signature.signature
    )
}

/// Parse an Authorization value; the error says what is wrong (never echoes secrets: the header
/// holds none).
pub fn parse_authorization(value: &str) -> Result<Tc3Authorization, String> {
    let rest = value
        .trim()
        .strip_prefix(ALGORITHM)
        .filter(|rest| rest.starts_with(' '))
        .ok_or_else(|| format!("does not start with `{ALGORITHM} `"))?;
    let AuthorizationItems {
        credential,
        signed_headers,
        signature,
    } = AuthorizationItems::parse(rest)?;
    let credential = credential.ok_or("missing Credential")?;
    let signed_headers = signed_headers.ok_or("missing SignedHeaders")?;
    let signature_hex = signature.ok_or("missing Signature")?;
    let mut scope = credential.rsplitn(4, '/');
    let (terminator, service, date, id) = (scope.next(), scope.next(), scope.next(), scope.next());
    let (Some(TERMINATOR), Some(service), Some(date), Some(id)) = (terminator, service, date, id)
    else {
        return Err("Credential is not ID/DATE/SERVICE/tc3_request".into());
    };
    if id.is_empty() || date.is_empty() || service.is_empty() {
        return Err("Credential has an empty part".into());
    }
    let signature = decode_hex_signature(signature_hex)?;
    Ok(Tc3Authorization {
        access_key_id: id.to_string(),
        date: date.to_string(),
        service: service.to_string(),
        signed_headers: signed_headers.to_string(),
        signature,
        signature_hex: signature_hex.to_string(),
    })
}

/// A 64-character hex signature (either case) as bytes.
pub(crate) fn decode_hex_signature(value: &str) -> Result<Vec<u8>, String> {
    if value.len() != 64 {
        return Err("Signature is not 64 hex characters".into());
    }
    hex::decode(value).map_err(|_| "Signature is not hex".to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_sdk_authorization() {
        let auth = parse_authorization(
            "TC3-HMAC-SHA256 Credential=AKIDEXAMPLE/2026-11-22/localhost:40711/tc3_request, \
             SignedHeaders=content-type;host, Signature=ba9919f9d8c79fa076205e8f852851098c76380b441cd0594b9a543fc6f06e9f",
        )
        .unwrap();
        assert_eq!(auth.access_key_id, "AKIDEXAMPLE");
        assert_eq!(auth.date, "2026-11-22");
        assert_eq!(auth.service, "localhost:40711");
        assert_eq!(auth.signed_headers, "content-type;host");
        assert_eq!(auth.signature.len(), 32);
    }

    #[test]
    fn rejects_malformed_authorization_without_panicking() {
        for bad in [
            "",
            "TC3-HMAC-SHA256",
            "TC3-HMAC-SHA256Credential=a/b/c/tc3_request",
            "TC3-HMAC-SHA256 Credential=a/b/c/tc3_request, SignedHeaders=host",
            "TC3-HMAC-SHA256 Credential=a/b/tc3_request, SignedHeaders=host, Signature=00",
            "TC3-HMAC-SHA256 Credential=a/b/c/d, SignedHeaders=host, Signature=00",
            "TC3-HMAC-SHA256 Credential=//c/tc3_request, SignedHeaders=h, Signature=00",
            "TC3-HMAC-SHA256 Credential=a/b/c/tc3_request, SignedHeaders=h, Signature=zz",
            "TC3-HMAC-SHA256 Credential=a/b/c/tc3_request, Credential=a, Signature=00",
            "TC3-HMAC-SHA256 Credential=a/b/c/tc3_request, Bogus=1",
            "TC3-HMAC-SHA256 ,,,",
            "ACS3-HMAC-SHA256 Credential=a,SignedHeaders=host,Signature=00",
        ] {
            assert!(parse_authorization(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn unsigned_payload_hashes_the_literal() {
        let mut request = RawRequest {
            method: "POST".into(),
            body: b"{}".to_vec(),
            ..Default::default()
        };
        request.set_header("X-TC-Content-SHA256", UNSIGNED_PAYLOAD);
        assert_eq!(
            hashed_payload(&request),
            "438d4109ef0d676b8c2c7ed13cdfcb418e494d53b843d4634ce3b1085f07bb96"
        );
    }

    #[test]
    fn cached_chains_match_derived_ones_past_the_cache_size() {
        // More (secret, date, service) triples than the cache holds, each asked twice and in
        // an order that evicts: every answer must be the uncached derivation of its own triple.
        let triples: Vec<(Secret, &str, &str)> = (0..REMEMBERED_CHAINS + 3)
            .flat_map(|n| {
                let secret = Secret::new(format!("secret-{n}"));
                [
                    (secret.clone(), "2019-02-25", "cvm"),
                    (secret.clone(), "2019-02-26", "cvm"),
                    (secret, "2019-02-25", "ecm"),
                ]
            })
            .collect();
        for round in 0..2 {
            for (secret, date, service) in &triples {
                let cached = derive_keys_cached(secret, date, service);
                let derived = derive_keys(secret, date, service);
                assert_eq!(
                    cached.secret_signing_hex(),
                    derived.secret_signing_hex(),
                    "round {round}: {date} {service}"
                );
            }
        }
        // Same date and service, another secret: not the first secret's chain.
        let a = derive_keys_cached(&Secret::new("a"), "2019-02-25", "cvm");
        let b = derive_keys_cached(&Secret::new("b"), "2019-02-25", "cvm");
        assert_ne!(a.secret_signing_hex(), b.secret_signing_hex());
    }

    #[test]
    fn keys_do_not_print() {
        let keys = derive_keys(&Secret::new("s"), "2019-02-25", "cvm");
        assert_eq!(format!("{keys:?}"), "Tc3Keys(***)");
    }
}
