//! One request: encode the business parameters, sign them, apply the case's protocol fault,
//! send, and capture the answer exactly as received.
use crate::generate::Tamper;
use crate::http::{RawRequest, RawResponse};
use crate::sign::{self, Credentials, Scheme, SignInput};
use crate::spec::{ActionSpec, ParametersIn, Provider, ProviderSpec, RequestStyle};
use crate::wire::encode::{self, Booleans};
use serde_json::{Map, Value};
use std::time::Duration;

/// Where requests go: a base URL and the Host header value signed for it; for an emulator the
/// run started itself, how its worlds are placed in process.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    pub base: String,
    pub host: String,
    pub placement: Option<super::placement::Placement>,
    /// An emulator this process started: its kept-alive connections (reqwest otherwise).
    pub connections: Option<std::sync::Arc<super::direct::Connections>>,
}

impl Endpoint {
    /// `http://127.0.0.1:8080` (a trailing slash is dropped).
    pub fn parse(url: &str) -> Option<Endpoint> {
        let base = url.trim_end_matches('/').to_string();
        let rest = base
            .strip_prefix("http://")
            .or_else(|| base.strip_prefix("https://"))?;
        let host = rest.split('/').next()?.to_string();
        if host.is_empty() {
            return None;
        }
        Some(Endpoint {
            base,
            host,
            placement: None,
            connections: None,
        })
    }

    /// Whether the host is a loopback address or `localhost`.
    pub fn is_loopback(&self) -> bool {
        let host = match self.host.strip_prefix('[') {
            // `[::1]:8080`
            Some(v6) => v6.split(']').next().unwrap_or_default(),
            None => self.host.rsplit_once(':').map_or(&*self.host, |(h, _)| h),
        };
        host.eq_ignore_ascii_case("localhost")
            || host
                .parse::<std::net::IpAddr>()
                .is_ok_and(|ip| ip.is_loopback())
    }

    pub fn from_addr(addr: std::net::SocketAddr) -> Endpoint {
        Endpoint {
            base: format!("http://{addr}"),
            host: addr.to_string(),
            placement: None,
            connections: None,
        }
    }

    /// The same endpoint, its worlds placed in process by `placement`.
    pub fn with_placement(
        mut self,
        placement: std::sync::Arc<dyn super::placement::WorldPlacement>,
    ) -> Endpoint {
        self.placement = Some(super::placement::Placement(placement));
        self
    }

    /// The same endpoint, sent to through direct connections (an emulator of this process).
    pub fn with_direct_connections(mut self, addr: std::net::SocketAddr) -> Endpoint {
        self.connections = Some(std::sync::Arc::new(super::direct::Connections::new(addr)));
        self
    }
}

/// Why a request could not be built (a harness or spec problem, not the target's).
#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    #[error("unknown signing method `{0}`")]
    UnknownSigning(String),
    #[error("encoding: {0}")]
    Encode(#[from] encode::EncodeError),
    #[error("signing: {0}")]
    Sign(#[from] sign::SignError),
}

/// Transport failures: never a nonconformance of the target.
#[derive(Debug, thiserror::Error)]
pub enum TransportError {
    #[error("request timed out after {0:?}")]
    Timeout(Duration),
    #[error("cannot connect: {0}")]
    Connect(String),
    #[error("transport error: {0}")]
    Other(String),
}

/// An error and its causes, `outer: inner: innermost` (reqwest's own message is only the outer
/// layer, e.g. `error sending request`, which alone says nothing). Repeated layers are dropped.
pub fn error_chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut parts: Vec<String> = vec![e.to_string()];
    let mut source = e.source();
    while let Some(s) = source {
        let text = s.to_string();
        if !parts.iter().any(|p| p.contains(&text)) {
            parts.push(text);
        }
        source = s.source();
    }
    parts.join(": ")
}

/// The spec's signing method id → the signer's scheme.
pub fn scheme_of(signing: &str) -> Option<Scheme> {
    Some(match signing {
        "tc3-hmac-sha256" => Scheme::Tc3HmacSha256,
        "tc-hmac-sha1" => Scheme::TencentHmacSha1,
        "tc-hmac-sha256" => Scheme::TencentHmacSha256,
        "acs3-hmac-sha256" => Scheme::Acs3HmacSha256,
        "acs3-hmac-sm3" => Scheme::Acs3HmacSm3,
        "rpc-hmac-sha1" => Scheme::RpcHmacSha1,
        _ => return None,
    })
}

fn sign_provider(p: Provider) -> sign::Provider {
    match p {
        Provider::Tencent => sign::Provider::Tencent,
        Provider::Alibaba => sign::Provider::Alibaba,
    }
}

/// Everything one call needs.
pub struct Call<'a> {
    pub provider: &'a ProviderSpec,
    pub action: &'a ActionSpec,
    pub style: &'a RequestStyle,
    pub signing: &'a str,
    /// Business parameters, placeholders already bound.
    pub params: &'a Map<String, Value>,
    pub booleans: Booleans,
    pub tamper: Option<&'a Tamper>,
    /// The common region (Tencent), when the call sends one.
    pub region: Option<String>,
    pub credentials: &'a Credentials,
    pub endpoint: &'a Endpoint,
    /// Unix seconds to sign with.
    pub now: i64,
}

/// Encode, sign and tamper: the request as it will be sent.
pub fn build(call: &Call) -> Result<RawRequest, BuildError> {
    let scheme =
        scheme_of(call.signing).ok_or_else(|| BuildError::UnknownSigning(call.signing.into()))?;
    let mut action = call.action.action.clone();
    let mut version = call.action.version.clone();
    let mut region = call.region.clone();
    let mut timestamp = call.now;
    let mut credentials = call.credentials.clone();
    let mut params = call.params.clone();
    match call.tamper {
        Some(Tamper::Version { version: v }) => version = v.clone(),
        Some(Tamper::Action { action: a }) => action = a.clone(),
        Some(Tamper::Region { region: r }) => region = r.clone(),
        Some(Tamper::ExpiredTimestamp { seconds }) => timestamp -= seconds,
        Some(Tamper::UnknownAccessKey) => {
            credentials = Credentials::new("AKIDCCUNKNOWNKEY0000", "CcUnknownSecret")
        }
        Some(Tamper::BadToken) => {
            credentials.session_token = Some(sign::Secret::new("cc-bogus-session-token"))
        }
        Some(Tamper::DropToken) => credentials.session_token = None,
        Some(Tamper::Pad { bytes }) => {
            params.insert("CcPadding".into(), Value::String("x".repeat(*bytes)));
        }
        Some(Tamper::ExtraParam { name, value }) if header_carried(scheme) => {
            params.insert(name.clone(), Value::String(value.clone()));
        }
        _ => {}
    }
    let mut encoded = encode::encode(
        call.provider,
        Some(call.action),
        call.style,
        &params,
        &call.booleans,
    )?;
    match call.tamper {
        Some(Tamper::Body { body }) => encoded.body = Some(body.clone().into_bytes()),
        Some(Tamper::ContentType { content_type }) => {
            encoded.content_type = Some(content_type.clone())
        }
        _ => {}
    }
    let provider = sign_provider(call.provider.provider);
    let mut input = SignInput::new(
        encoded.method.clone(),
        call.endpoint.host.clone(),
        action,
        version,
        timestamp,
        sign::signer::fresh_nonce(provider),
    );
    input.region = match call.provider.provider {
        Provider::Tencent => region,
        Provider::Alibaba => None,
    };
    let form_body = encoded.parameters_in == ParametersIn::FormBody;
    match (&encoded.body, scheme) {
        (Some(body), _) => {
            input.body = Some(body.clone());
            input.content_type = encoded.content_type.clone();
        }
        (None, Scheme::Acs3HmacSha256 | Scheme::Acs3HmacSm3) if form_body => {
            input.body = Some(encode::encode_pairs(&encoded.params).into_bytes());
            input.content_type = Some("application/x-www-form-urlencoded".into());
        }
        _ => input.params = encoded.params.clone(),
    }
    // A common parameter with a value the provider does not accept (RPC `Format=YAML`) is
    // signed like a real client would sign it, so the answer is about the value, not the
    // signature.
    let pre_signed = match call.tamper {
        Some(Tamper::ExtraParam { name, value }) if scheme == Scheme::RpcHmacSha1 => {
            input.params.retain(|(k, _)| k != name);
            input.params.push((name.clone(), value.clone()));
            true
        }
        _ => false,
    };
    let mut req = sign::sign(scheme, &input, &credentials)?.request;
    // RPC signs query and form parameters alike: move them into the body for rpc-form.
    if scheme == Scheme::RpcHmacSha1 && form_body {
        req.body = std::mem::take(&mut req.raw_query).into_bytes();
        req.set_header("Content-Type", "application/x-www-form-urlencoded");
    }
    if !pre_signed {
        apply_post_sign(&mut req, call.tamper, scheme);
    }
    // One fault only: without its action (or another common parameter) a request that signs
    // it (ACS3, RPC, Tencent v1) is signed again over what remains, so the answer is about the
    // missing parameter, not a broken signature. (TC3 does not sign X-TC-Action.)
    if matches!(
        call.tamper,
        Some(Tamper::MissingAction | Tamper::OmitCommon { .. })
    ) {
        if let Some(algorithm) = acs3_algorithm(scheme) {
            resign_acs3(&mut req, algorithm, &credentials);
        } else if scheme == Scheme::RpcHmacSha1 {
            resign_rpc(&mut req, &credentials);
        } else if let Some(method) = tencent_v1_method(scheme) {
            resign_tencent_v1(&mut req, method, &credentials);
        }
    }
    Ok(req)
}

fn acs3_algorithm(scheme: Scheme) -> Option<sign::acs3::Acs3Algorithm> {
    match scheme {
        Scheme::Acs3HmacSha256 => Some(sign::acs3::Acs3Algorithm::HmacSha256),
        Scheme::Acs3HmacSm3 => Some(sign::acs3::Acs3Algorithm::HmacSm3),
        _ => None,
    }
}

fn tencent_v1_method(scheme: Scheme) -> Option<sign::tencent_v1::V1Method> {
    match scheme {
        Scheme::TencentHmacSha1 => Some(sign::tencent_v1::V1Method::HmacSha1),
        Scheme::TencentHmacSha256 => Some(sign::tencent_v1::V1Method::HmacSha256),
        _ => None,
    }
}

/// Sign a Tencent v1 request again over the parameters it still carries (method, host and
/// path as sent).
fn resign_tencent_v1(
    req: &mut RawRequest,
    method: sign::tencent_v1::V1Method,
    creds: &Credentials,
) {
    let params = sign::encoding::query_and_form_params(req);
    let Some(host) = req.host().map(str::to_string) else {
        return;
    };
    let path = if req.path.is_empty() { "/" } else { &req.path };
    let Some(string_to_sign) = sign::tencent_v1::string_to_sign(&req.method, &host, path, &params)
    else {
        return;
    };
    let sig = sign::tencent_v1::sign_string(method, &creds.secret, string_to_sign);
    in_query_and_body(req, |s| replace_param(s, "Signature", &sig.signature));
}

/// Sign an RPC request again over the parameters it still carries.
fn resign_rpc(req: &mut RawRequest, creds: &Credentials) {
    let params = sign::encoding::query_and_form_params(req);
    let canonical = sign::rpc_v1::canonicalize(&req.method, &params);
    let sig = sign::rpc_v1::sign_canonical(canonical, &creds.secret);
    in_query_and_body(req, |s| replace_param(s, "Signature", &sig.signature));
}

/// Sign an ACS3 request again as it now stands, over the headers it still carries.
fn resign_acs3(req: &mut RawRequest, algorithm: sign::acs3::Acs3Algorithm, creds: &Credentials) {
    let Some(auth) = req
        .header("authorization")
        .and_then(|a| sign::acs3::parse_authorization(a).ok())
    else {
        return;
    };
    let signed: Vec<&str> = auth
        .signed_headers
        .split(';')
        .filter(|h| req.header(h).is_some())
        .collect();
    let signed = signed.join(";");
    let payload = req
        .header("x-acs-content-sha256")
        .unwrap_or_default()
        .to_string();
    let Ok(canonical) = sign::acs3::canonicalize(algorithm, req, &signed, &payload) else {
        return;
    };
    let sig = sign::acs3::sign_canonical(algorithm, canonical, &creds.secret);
    req.set_header(
        "Authorization",
        sign::acs3::authorization(algorithm, &creds.access_key_id, &signed, &sig.signature),
    );
}

fn drop_param(encoded: &str, name: &str) -> String {
    encoded
        .split('&')
        .filter(|kv| !kv.is_empty() && kv.split('=').next() != Some(name))
        .collect::<Vec<_>>()
        .join("&")
}

fn replace_param(encoded: &str, name: &str, value: &str) -> String {
    encoded
        .split('&')
        .map(|kv| match kv.split_once('=') {
            Some((k, _)) if k == name => format!("{k}={}", encode::percent_encode(value)),
            _ => kv.to_string(),
        })
        .collect::<Vec<_>>()
        .join("&")
}

fn corrupt_param(encoded: &str, name: &str) -> String {
    encoded
        .split('&')
        .map(|kv| match kv.split_once('=') {
            Some((k, v)) if k == name && !v.is_empty() => {
                let flipped = if v.starts_with('A') { "B" } else { "A" };
                format!("{k}={flipped}{}", &v[1..])
            }
            _ => kv.to_string(),
        })
        .collect::<Vec<_>>()
        .join("&")
}

fn in_query_and_body(req: &mut RawRequest, f: impl Fn(&str) -> String) {
    req.raw_query = f(&req.raw_query);
    let form = req
        .header("content-type")
        .is_some_and(|c| c.starts_with("application/x-www-form-urlencoded"));
    if form {
        if let Ok(body) = String::from_utf8(req.body.clone()) {
            req.body = f(&body).into_bytes();
        }
    }
}

fn header_carried(scheme: Scheme) -> bool {
    matches!(
        scheme,
        Scheme::Tc3HmacSha256 | Scheme::Acs3HmacSha256 | Scheme::Acs3HmacSm3
    )
}

fn apply_post_sign(req: &mut RawRequest, tamper: Option<&Tamper>, scheme: Scheme) {
    let header_carried = header_carried(scheme);
    match tamper {
        Some(Tamper::BadSignature) => {
            if header_carried {
                if let Some(auth) = req.header("authorization").map(str::to_string) {
                    let mut chars: Vec<char> = auth.chars().collect();
                    if let Some(last) = chars.last_mut() {
                        *last = if *last == '0' { '1' } else { '0' };
                    }
                    req.set_header("Authorization", chars.into_iter().collect::<String>());
                }
            } else {
                in_query_and_body(req, |s| corrupt_param(s, "Signature"));
            }
        }
        Some(Tamper::IncompleteSignature) => {
            if header_carried {
                req.remove_header("authorization");
            } else {
                in_query_and_body(req, |s| drop_param(s, "Signature"));
            }
        }
        Some(Tamper::MissingAction) => {
            req.remove_header("x-tc-action");
            req.remove_header("x-acs-action");
            in_query_and_body(req, |s| drop_param(s, "Action"));
        }
        Some(Tamper::OmitCommon { name, header }) => {
            if let Some(h) = header {
                req.remove_header(h);
            }
            in_query_and_body(req, |s| drop_param(s, name));
        }
        Some(Tamper::Method { method }) => req.method = method.clone(),
        // A signed common parameter (RPC `Format`) with a value the signer never writes.
        Some(Tamper::ExtraParam { name, value }) if !header_carried => {
            in_query_and_body(req, |s| replace_param(s, name, value));
        }
        Some(Tamper::MalformedTimestamp) => {
            for h in ["x-tc-timestamp", "x-acs-date"] {
                if req.header(h).is_some() {
                    req.set_header(h, "not-a-time");
                }
            }
            in_query_and_body(req, |s| replace_param(s, "Timestamp", "not-a-time"));
        }
        Some(Tamper::SignatureMethod { method }) => {
            if header_carried {
                if let Some(auth) = req.header("authorization").map(str::to_string) {
                    // `TC3-HMAC-SHA256 Credential=...` → `TC3-HMAC-MD5 Credential=...`
                    let (alg, rest) = auth.split_once(' ').unwrap_or((auth.as_str(), ""));
                    let prefix = alg.split('-').next().unwrap_or(alg);
                    req.set_header("Authorization", format!("{prefix}-{method} {rest}"));
                }
            } else {
                in_query_and_body(req, |s| replace_param(s, "SignatureMethod", method));
            }
        }
        _ => {}
    }
}

/// Send one request and capture the answer.
pub async fn send(
    client: &reqwest::Client,
    endpoint: &Endpoint,
    req: &RawRequest,
    timeout: Duration,
) -> Result<RawResponse, TransportError> {
    if let Some(direct) = &endpoint.connections {
        return direct.send(req, timeout).await;
    }
    let mut url = format!("{}{}", endpoint.base, req.path);
    if !req.raw_query.is_empty() {
        url.push('?');
        url.push_str(&req.raw_query);
    }
    let method = reqwest::Method::from_bytes(req.method.as_bytes())
        .map_err(|e| TransportError::Other(e.to_string()))?;
    let mut builder = client.request(method, &url).timeout(timeout);
    for (k, v) in &req.headers {
        builder = builder.header(k.as_str(), v.as_str());
    }
    let resp = builder.body(req.body.clone()).send().await.map_err(|e| {
        // The URL can carry an access key id and a signature: never print it.
        let e = e.without_url();
        if e.is_timeout() {
            TransportError::Timeout(timeout)
        } else if e.is_connect() {
            TransportError::Connect(format!("{}: {}", endpoint.base, error_chain(&e)))
        } else {
            TransportError::Other(format!("{}: {}", endpoint.base, error_chain(&e)))
        }
    })?;
    let status = resp.status().as_u16();
    let headers = header_pairs(resp.headers());
    let body = resp
        .bytes()
        .await
        .map_err(|e| TransportError::Other(error_chain(&e.without_url())))?
        .to_vec();
    Ok(RawResponse {
        status,
        headers,
        body,
    })
}

/// An answer's headers as received (names lower-case, values decoded lossily), for the record.
pub(super) fn header_pairs(headers: &http::HeaderMap) -> Vec<(String, String)> {
    headers
        .iter()
        .map(|(k, v)| {
            (
                k.to_string(),
                String::from_utf8_lossy(v.as_bytes()).into_owned(),
            )
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_endpoints() {
        for url in [
            "http://127.0.0.1:9000",
            "http://127.0.0.2",
            "http://localhost:18765",
            "http://LOCALHOST",
            "https://[::1]:8443/",
        ] {
            assert!(Endpoint::parse(url).unwrap().is_loopback(), "{url}");
        }
        for url in [
            "https://cvm.tencentcloudapi.com",
            "http://10.0.0.1:80",
            "http://[2001:db8::1]:80",
        ] {
            assert!(!Endpoint::parse(url).unwrap().is_loopback(), "{url}");
        }
    }

    #[test]
    fn error_chain_keeps_every_cause_once() {
        #[derive(Debug, thiserror::Error)]
        #[error("error sending request")]
        struct Outer(#[source] std::io::Error);
        let e = Outer(std::io::Error::new(
            std::io::ErrorKind::ConnectionRefused,
            "Connection refused",
        ));
        assert_eq!(error_chain(&e), "error sending request: Connection refused");
        #[derive(Debug, thiserror::Error)]
        #[error("cannot listen: {0}")]
        struct Repeats(#[source] std::io::Error);
        let e = Repeats(std::io::Error::other("in use"));
        assert_eq!(error_chain(&e), "cannot listen: in use");
    }

    #[test]
    fn endpoint_parse() {
        let e = Endpoint::parse("http://127.0.0.1:9000/").unwrap();
        assert_eq!(e.host, "127.0.0.1:9000");
        assert_eq!(e.base, "http://127.0.0.1:9000");
        assert!(Endpoint::parse("ftp://x").is_none());
    }

    #[test]
    fn param_tampering() {
        assert_eq!(drop_param("a=1&Signature=x&b=2", "Signature"), "a=1&b=2");
        assert_eq!(corrupt_param("Signature=Abc", "Signature"), "Signature=Bbc");
    }
}

#[cfg(test)]
mod resign_tests {
    use super::*;
    use crate::sign::{nonce::NonceCache, verify, Provider};

    fn signed(scheme: Scheme) -> (RawRequest, Credentials) {
        let creds = Credentials::new("AKIDEXAMPLE", "SECRETEXAMPLE");
        let method = if scheme == Scheme::RpcHmacSha1 {
            "GET"
        } else {
            "POST"
        };
        let input = SignInput::fresh(
            Provider::Alibaba,
            method,
            "ecs.aliyuncs.com",
            "DetachKeyPair",
            "2014-05-26",
        )
        .with_param("RegionId", "cn-hangzhou")
        .with_param("KeyPairName", "k1");
        (sign::sign(scheme, &input, &creds).unwrap().request, creds)
    }

    /// Tencent v1 signs `Action` with every other parameter: without it, what remains is
    /// signed again and verifies, so the missing action is the only fault.
    #[test]
    fn tencent_v1_missing_action_is_signed_again() {
        for scheme in [Scheme::TencentHmacSha1, Scheme::TencentHmacSha256] {
            let creds = Credentials::new("AKIDEXAMPLE", "SECRETEXAMPLE");
            for method in ["GET", "POST"] {
                let input = SignInput::fresh(
                    Provider::Tencent,
                    method,
                    "cvm.tencentcloudapi.com",
                    "DeleteKeyPairs",
                    "2017-03-12",
                )
                .with_param("KeyIds.0", "skey-mv9yzyjj");
                let mut req = sign::sign(scheme, &input, &creds).unwrap().request;
                apply_post_sign(&mut req, Some(&Tamper::MissingAction), scheme);
                let policy = verify::VerifyPolicy::at(crate::sign::clock::unix_now());
                let broken =
                    verify::verify(Provider::Tencent, &req, &creds, &NonceCache::new(), &policy);
                assert!(
                    broken.is_err(),
                    "{scheme:?}: dropping Action breaks the signature"
                );
                resign_tencent_v1(&mut req, tencent_v1_method(scheme).unwrap(), &creds);
                let carried = format!("{}&{}", req.raw_query, String::from_utf8_lossy(&req.body));
                assert!(!carried.contains("Action="), "{carried}");
                let again =
                    verify::verify(Provider::Tencent, &req, &creds, &NonceCache::new(), &policy);
                assert!(again.is_ok(), "{scheme:?} {method}: {:?}", again.err());
            }
        }
    }

    /// A missing action is the only fault: what remains carries a valid signature (RPC), or the
    /// verifier names the missing action header itself (ACS3 requires it signed).
    #[test]
    fn missing_action_is_signed_again() {
        for scheme in [Scheme::RpcHmacSha1, Scheme::Acs3HmacSha256] {
            let (mut req, creds) = signed(scheme);
            apply_post_sign(&mut req, Some(&Tamper::MissingAction), scheme);
            let policy = verify::VerifyPolicy::at(crate::sign::clock::unix_now());
            let broken =
                verify::verify(Provider::Alibaba, &req, &creds, &NonceCache::new(), &policy);
            assert!(
                broken.is_err(),
                "{scheme:?}: dropping the action breaks the signature"
            );
            match acs3_algorithm(scheme) {
                Some(a) => resign_acs3(&mut req, a, &creds),
                None => resign_rpc(&mut req, &creds),
            }
            assert!(req.header("x-acs-action").is_none() && !req.raw_query.contains("Action="));
            let again =
                verify::verify(Provider::Alibaba, &req, &creds, &NonceCache::new(), &policy);
            match scheme {
                Scheme::RpcHmacSha1 => assert!(again.is_ok(), "{:?}", again.err()),
                // ACS3 requires the action header itself: the only fault left is its absence.
                _ => {
                    let e = format!("{:?}", again.err());
                    assert!(e.contains("MissingSignedHeader(\"x-acs-action\")"), "{e}");
                }
            }
        }
    }
}
