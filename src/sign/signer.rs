//! Turn a provider-neutral description of a call into a signed [`RawRequest`] shaped the way the
//! official SDKs shape it (tencent.md §2.5, alibaba.md §2–3). Time and nonce are inputs so tests
//! are deterministic; [`SignInput::fresh`] fills them from the clock and a random source.
mod alibaba;
mod tencent;

use super::acs3::{Acs3Algorithm, Acs3Signature};
use super::clock;
use super::credentials::Credentials;
use super::error::SignError;
use super::rpc_v1::RpcSignature;
use super::tc3::Tc3Signature;
use super::tencent_v1::{V1Method, V1Signature};
use super::{Provider, Scheme};
use crate::http::RawRequest;

pub(crate) const FORM: &str = "application/x-www-form-urlencoded";
pub(crate) const JSON: &str = "application/json";

/// Headers the signer writes itself; a caller-supplied copy would be merged into the signature.
const SIGNER_OWNED_HEADERS: [&str; 15] = [
    "host",
    "authorization",
    "content-type",
    "x-tc-action",
    "x-tc-timestamp",
    "x-tc-version",
    "x-tc-region",
    "x-tc-token",
    "x-tc-content-sha256",
    "x-acs-action",
    "x-acs-version",
    "x-acs-date",
    "x-acs-signature-nonce",
    "x-acs-content-sha256",
    "x-acs-security-token",
];

/// One API call to sign.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignInput {
    /// `GET` or `POST`.
    pub method: String,
    /// The Host header value: the endpoint with its port when not the default.
    pub host: String,
    /// Request path; `/` for every RPC-style API.
    pub path: String,
    pub action: String,
    pub version: String,
    /// Tencent `X-TC-Region`/`Region`; Alibaba adds `RegionId` unless `params` has one.
    pub region: Option<String>,
    /// API parameters, flat and decoded (`KeyIds.0`, `InstanceIds`…), in sending order. Tencent
    /// TC3 POST without `body` sends them as a JSON object of strings.
    pub params: Vec<(String, String)>,
    /// An explicit body (TC3 POST JSON, an ACS3 form body). Not allowed for v1 and RPC, whose
    /// parameters are all in `params`.
    pub body: Option<Vec<u8>>,
    /// Content-Type of `body` (default `application/json` for TC3, form for ACS3).
    pub content_type: Option<String>,
    /// Additional headers to send (e.g. `X-TC-Language`, `user-agent`).
    pub headers: Vec<(String, String)>,
    /// Additional header names to sign under TC3/ACS3 (e.g. `x-tc-action`, `user-agent`).
    pub extra_signed_headers: Vec<String>,
    /// Unix seconds.
    pub timestamp: i64,
    /// Tencent v1 needs decimal digits; Alibaba any unique string.
    pub nonce: String,
    /// TC3 credential-scope service; default: the first label of the host (`cvm`).
    pub service: Option<String>,
    /// TC3: send `X-TC-Content-SHA256: UNSIGNED-PAYLOAD` and leave the body out of the hash.
    pub unsigned_payload: bool,
}

impl SignInput {
    pub fn new(
        method: impl Into<String>,
        host: impl Into<String>,
        action: impl Into<String>,
        version: impl Into<String>,
        timestamp: i64,
        nonce: impl Into<String>,
    ) -> Self {
        Self {
            method: method.into(),
            host: host.into(),
            path: "/".into(),
            action: action.into(),
            version: version.into(),
            region: None,
            params: Vec::new(),
            body: None,
            content_type: None,
            headers: Vec::new(),
            extra_signed_headers: Vec::new(),
            timestamp,
            nonce: nonce.into(),
            service: None,
            unsigned_payload: false,
        }
    }

    /// Like [`SignInput::new`] with the current time and a random nonce suited to the provider.
    pub fn fresh(
        provider: Provider,
        method: impl Into<String>,
        host: impl Into<String>,
        action: impl Into<String>,
        version: impl Into<String>,
    ) -> Self {
        Self::new(
            method,
            host,
            action,
            version,
            clock::unix_now(),
            fresh_nonce(provider),
        )
    }

    pub fn with_region(mut self, region: impl Into<String>) -> Self {
        self.region = Some(region.into());
        self
    }

    pub fn with_param(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.params.push((name.into(), value.into()));
        self
    }

    pub fn with_body(mut self, body: impl Into<Vec<u8>>, content_type: impl Into<String>) -> Self {
        self.body = Some(body.into());
        self.content_type = Some(content_type.into());
        self
    }

    pub fn with_header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.headers.push((name.into(), value.into()));
        self
    }

    fn validate(&self, scheme: Scheme) -> Result<(), SignError> {
        let bad = |why: &str| Err(SignError::InvalidInput(why.to_string()));
        if self.method.is_empty() || !self.method.bytes().all(|b| b.is_ascii_uppercase()) {
            return bad("method must be upper-case letters (GET, POST)");
        }
        if self.host.is_empty()
            || self
                .host
                .bytes()
                .any(|b| b.is_ascii_whitespace() || b.is_ascii_control())
        {
            return bad("host must be non-empty without whitespace");
        }
        if self.action.is_empty() || self.version.is_empty() {
            return bad("action and version are required");
        }
        if !self.path.starts_with('/') {
            return bad("path must start with `/`");
        }
        for (name, value) in &self.headers {
            if SIGNER_OWNED_HEADERS
                .iter()
                .any(|owned| name.eq_ignore_ascii_case(owned))
            {
                return bad("header is set by the signer; use the matching SignInput field");
            }
            let token = !name.is_empty()
                && name
                    .bytes()
                    .all(|b| b.is_ascii_graphic() && !b"()<>@,;:\\\"/[]?={}".contains(&b));
            if !token || value.bytes().any(|b| b == b'\r' || b == b'\n') {
                return bad("header names must be tokens and values single-line");
            }
        }
        let nonce_ok = match scheme {
            Scheme::TencentHmacSha1 | Scheme::TencentHmacSha256 => {
                !self.nonce.is_empty() && self.nonce.bytes().all(|b| b.is_ascii_digit())
            }
            _ => !self.nonce.is_empty(),
        };
        if scheme != Scheme::Tc3HmacSha256 && !nonce_ok {
            return bad("nonce must be non-empty (decimal digits for Tencent v1)");
        }
        if self.body.is_some()
            && matches!(
                scheme,
                Scheme::TencentHmacSha1 | Scheme::TencentHmacSha256 | Scheme::RpcHmacSha1
            )
        {
            return bad("this scheme carries parameters only; pass them in `params`");
        }
        if self.body.is_some() && self.method == "GET" {
            return bad("a GET request carries no body");
        }
        Ok(())
    }
}

/// A random nonce in the provider's customary shape: Tencent a 63-bit decimal (as Python draws),
/// Alibaba 32 hex characters (as Python tea draws).
pub fn fresh_nonce(provider: Provider) -> String {
    match provider {
        Provider::Tencent => (rand::random::<u64>() >> 1).to_string(),
        Provider::Alibaba => format!("{:032x}", rand::random::<u128>()),
    }
}

/// Per-scheme intermediates of a signature.
#[derive(Debug, Clone)]
pub enum Intermediates {
    Tc3(Tc3Signature),
    TencentV1(V1Signature),
    Acs3(Acs3Signature),
    Rpc(RpcSignature),
}

impl Intermediates {
    /// TC3 and ACS3 canonical request.
    pub fn canonical_request(&self) -> Option<&str> {
        match self {
            Intermediates::Tc3(s) => Some(&s.canonical.canonical_request),
            Intermediates::Acs3(s) => Some(&s.canonical.canonical_request),
            Intermediates::TencentV1(_) | Intermediates::Rpc(_) => None,
        }
    }

    /// Alibaba RPC canonicalized query string.
    pub fn canonicalized_query_string(&self) -> Option<&str> {
        match self {
            Intermediates::Rpc(s) => Some(&s.canonical.canonicalized_query_string),
            Intermediates::Acs3(s) => Some(&s.canonical.canonical_query_string),
            _ => None,
        }
    }

    pub fn string_to_sign(&self) -> &str {
        match self {
            Intermediates::Tc3(s) => &s.canonical.string_to_sign,
            Intermediates::TencentV1(s) => &s.string_to_sign,
            Intermediates::Acs3(s) => &s.canonical.string_to_sign,
            Intermediates::Rpc(s) => &s.canonical.string_to_sign,
        }
    }

    /// Hex (TC3, ACS3) or Base64 (v1, RPC), as it goes on the wire before URL-encoding.
    pub fn signature(&self) -> &str {
        match self {
            Intermediates::Tc3(s) => &s.signature,
            Intermediates::TencentV1(s) => &s.signature,
            Intermediates::Acs3(s) => &s.signature,
            Intermediates::Rpc(s) => &s.signature,
        }
    }
}

/// A signed request and how it was signed.
#[derive(Debug, Clone)]
pub struct Signed {
    pub scheme: Scheme,
    pub request: RawRequest,
    pub intermediates: Intermediates,
}

/// Sign `input` under `scheme` with `credentials`.
pub fn sign(
    scheme: Scheme,
    input: &SignInput,
    credentials: &Credentials,
) -> Result<Signed, SignError> {
    input.validate(scheme)?;
    let (request, intermediates) = match scheme {
        Scheme::Tc3HmacSha256 => tencent::sign_tc3(input, credentials)?,
        Scheme::TencentHmacSha1 => {
            tencent::sign_tencent_v1(input, credentials, V1Method::HmacSha1)?
        }
        Scheme::TencentHmacSha256 => {
            tencent::sign_tencent_v1(input, credentials, V1Method::HmacSha256)?
        }
        Scheme::Acs3HmacSha256 => {
            alibaba::sign_acs3(input, credentials, Acs3Algorithm::HmacSha256)?
        }
        Scheme::Acs3HmacSm3 => alibaba::sign_acs3(input, credentials, Acs3Algorithm::HmacSm3)?,
        Scheme::RpcHmacSha1 => alibaba::sign_rpc(input, credentials)?,
    };
    Ok(Signed {
        scheme,
        request,
        intermediates,
    })
}

pub(crate) fn base_request(input: &SignInput) -> RawRequest {
    RawRequest {
        method: input.method.clone(),
        path: input.path.clone(),
        ..Default::default()
    }
}

pub(crate) fn push_header(request: &mut RawRequest, name: &str, value: impl Into<String>) {
    request.headers.push((name.to_string(), value.into()));
}

/// Lower-case, sorted, de-duplicated `a;b;c`.
pub(crate) fn signed_header_list(names: impl IntoIterator<Item = String>) -> String {
    let mut names: Vec<String> = names.into_iter().map(|n| n.to_ascii_lowercase()).collect();
    names.sort();
    names.dedup();
    names.join(";")
}

pub(crate) fn absent_header(name: String) -> SignError {
    SignError::InvalidInput(format!("header `{name}` is to be signed but is not sent"))
}
