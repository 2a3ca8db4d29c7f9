//! Which provider, request style, action and version a received request is for.
//!
//! SDKs aimed at a local endpoint all send the same Host, so routing reads what the request
//! carries: the signature scheme and `X-TC-*` / `x-acs-*` headers or the v1/RPC parameters pick
//! the provider; `X-TC-Action`/`x-acs-action` or `Action` (and the version) pick the action,
//! looked up in the [`SpecSet`] — the version decides the service (CVM 2017-03-12 vs ECM
//! 2019-07-19, ECS 2014-05-26 vs ENS 2017-11-10).
use crate::http::RawRequest;
use crate::spec::{ActionSpec, ParametersIn, ProtocolCondition, Provider, ProviderSpec, SpecSet};
use crate::wire::decode::{self, DecodeError, WireParams};
use std::sync::Arc;

/// Which provider's rules apply. Strong signals first (signature scheme, provider headers, the
/// v1/RPC credential parameters), then a version only one provider uses, then the Host's domain,
/// then `default`.
pub fn detect_provider(request: &RawRequest, specs: &SpecSet, default: Provider) -> Provider {
    let auth = request
        .header("authorization")
        .unwrap_or_default()
        .trim_start();
    if auth.starts_with("TC3-") {
        return Provider::Tencent;
    }
    if auth.starts_with("ACS3-") {
        return Provider::Alibaba;
    }
    let has_prefix = |prefix: &str| {
        request.headers.iter().any(|(n, _)| {
            // Bytes, not chars: a header name from a malformed head may hold any UTF-8.
            n.len() >= prefix.len()
                && n.as_bytes()[..prefix.len()].eq_ignore_ascii_case(prefix.as_bytes())
        })
    };
    if has_prefix("x-tc-") {
        return Provider::Tencent;
    }
    if has_prefix("x-acs-") {
        return Provider::Alibaba;
    }
    let mut pairs = decode::form_pairs_lossy(request.raw_query.as_bytes());
    if is_form(request) {
        pairs.extend(decode::form_pairs_lossy(&request.body));
    }
    let has = |name: &str| pairs.iter().any(|(n, _)| n == name);
    if has("SecretId") {
        return Provider::Tencent;
    }
    if has("AccessKeyId") || has("SignatureVersion") || has("SignatureNonce") {
        return Provider::Alibaba;
    }
    if let Some((_, version)) = pairs.iter().find(|(n, _)| n == "Version") {
        let users: Vec<Provider> = Provider::ALL
            .into_iter()
            .filter(|p| {
                specs
                    .actions()
                    .any(|a| a.provider == *p && &a.version == version)
            })
            .collect();
        if let [only] = users.as_slice() {
            return *only;
        }
    }
    let host = request.host().unwrap_or_default().to_ascii_lowercase();
    let host = host.split(':').next().unwrap_or_default();
    if host.ends_with("tencentcloudapi.com") {
        return Provider::Tencent;
    }
    if host.ends_with("aliyuncs.com") {
        return Provider::Alibaba;
    }
    default
}

fn is_form(request: &RawRequest) -> bool {
    request
        .header("content-type")
        .map(decode::media_type)
        .is_some_and(|m| m == "application/x-www-form-urlencoded")
}

/// Why a request cannot be routed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RouteProblem {
    /// The HTTP method is not one the provider accepts.
    UnsupportedMethod(String),
    /// A body whose Content-Type no request style of the provider accepts.
    UnsupportedContentType(String),
    /// Bytes that do not decode.
    Malformed(DecodeError),
    /// More bytes than the style's documented limit.
    TooLarge {
        limit: u64,
        size: u64,
        style: String,
    },
}

impl RouteProblem {
    pub fn condition(&self) -> ProtocolCondition {
        match self {
            RouteProblem::UnsupportedMethod(_) => ProtocolCondition::UnsupportedMethod,
            RouteProblem::UnsupportedContentType(_) => ProtocolCondition::UnsupportedContentType,
            RouteProblem::Malformed(_) => ProtocolCondition::MalformedBody,
            RouteProblem::TooLarge { .. } => ProtocolCondition::RequestTooLarge,
        }
    }

    pub fn detail(&self) -> String {
        match self {
            RouteProblem::UnsupportedMethod(m) => format!("HTTP method {m} is not supported."),
            RouteProblem::UnsupportedContentType(c) => {
                format!("Content-Type `{c}` is not supported.")
            }
            RouteProblem::Malformed(e) => e.to_string(),
            RouteProblem::TooLarge { limit, size, style } => format!(
                "The request is {size} bytes; requests of style {style} may carry at most {limit}."
            ),
        }
    }
}

/// A request split into routing values and parameters.
#[derive(Debug, Clone)]
pub struct Routed {
    /// Id of the provider request style it matched (`json-post`, `get`, `rpc-query`…).
    pub style: String,
    pub action: Option<String>,
    pub version: Option<String>,
    /// Tencent's common `X-TC-Region` / `Region` (Alibaba carries the region as a parameter).
    pub region: Option<String>,
    /// Business parameters plus, for v1/RPC, the common ones (stripped once the action is known).
    pub params: WireParams,
}

/// The largest body any request style of these providers may carry (the read limit).
pub fn max_body_bytes(specs: &SpecSet) -> u64 {
    specs
        .providers()
        .flat_map(|p| p.size_limits.iter().map(|l| l.max_bytes))
        .max()
        .unwrap_or(10 * 1024 * 1024)
}

/// Pick the request style, check its size limit, decode the parameters and read the routing
/// values.
pub fn route(request: &RawRequest, spec: &ProviderSpec) -> Result<Routed, RouteProblem> {
    let method = request.method.as_str();
    let candidates: Vec<_> = spec
        .request_styles
        .iter()
        .filter(|s| s.method == method || s.other_methods.iter().any(|m| m == method))
        .collect();
    let media = request.header("content-type").map(decode::media_type);
    let style = if method == "GET" {
        // GET carries everything in the query whatever its (often absent) Content-Type
        // (Alibaba rpc-query lists GET among its `other_methods`).
        candidates
            .iter()
            .copied()
            .find(|s| s.parameters_in == ParametersIn::Query)
    } else if method == "POST" {
        let by_type = candidates
            .iter()
            .copied()
            .find(|s| match (&s.content_type, &media) {
                (Some(want), Some(got)) => decode::media_type(want) == *got,
                _ => false,
            });
        let empty_body = request.body.is_empty();
        by_type.or_else(|| {
            if empty_body || media.is_none() {
                candidates
                    .iter()
                    .copied()
                    .find(|s| s.parameters_in == ParametersIn::Query)
                    .or_else(|| {
                        if empty_body {
                            candidates.first().copied()
                        } else {
                            None
                        }
                    })
            } else {
                None
            }
        })
    } else {
        return Err(RouteProblem::UnsupportedMethod(method.to_string()));
    };
    let Some(style) = style else {
        return Err(match media {
            Some(m) if method == "POST" => RouteProblem::UnsupportedContentType(m),
            _ if method == "POST" => RouteProblem::UnsupportedContentType("(none)".into()),
            _ => RouteProblem::UnsupportedMethod(method.to_string()),
        });
    };

    let size = if method == "GET" {
        request.raw_query.len() as u64
    } else {
        request.body.len() as u64
    };
    if let Some(limit) = spec
        .size_limits
        .iter()
        .find(|l| l.request_style == style.id)
    {
        if size > limit.max_bytes {
            return Err(RouteProblem::TooLarge {
                limit: limit.max_bytes,
                size,
                style: style.id.clone(),
            });
        }
    }

    let mut params = match style.parameters_in {
        ParametersIn::JsonBody if method == "POST" => {
            let body: &[u8] = if request.body.is_empty() {
                b"{}"
            } else {
                &request.body
            };
            WireParams::Json(decode::json_members(body).map_err(RouteProblem::Malformed)?)
        }
        _ => {
            let mut pairs = decode::form_pairs(request.raw_query.as_bytes(), "query string")
                .map_err(RouteProblem::Malformed)?;
            if method == "POST" && !request.body.is_empty() {
                if media.as_deref() == Some("application/x-www-form-urlencoded") {
                    pairs.extend(
                        decode::form_pairs(&request.body, "form body")
                            .map_err(RouteProblem::Malformed)?,
                    );
                } else {
                    return Err(RouteProblem::UnsupportedContentType(
                        media.unwrap_or_else(|| "(none)".into()),
                    ));
                }
            }
            WireParams::Text(pairs)
        }
    };

    let (action, version, region) = match spec.provider {
        Provider::Tencent => {
            let action = header(request, "x-tc-action").or_else(|| params.take_text("Action"));
            let version = header(request, "x-tc-version").or_else(|| params.take_text("Version"));
            let region = header(request, "x-tc-region").or_else(|| params.take_text("Region"));
            (action, version, region)
        }
        Provider::Alibaba => {
            // V3 routes by the signed x-acs-* headers; RPC by its signed parameters (tea `v2`
            // sends unsigned x-acs-* headers too).
            let v3 = request
                .header("authorization")
                .is_some_and(|a| a.trim_start().starts_with("ACS3-"));
            let p_action = params.take_text("Action");
            let p_version = params.take_text("Version");
            let h_action = header(request, "x-acs-action");
            let h_version = header(request, "x-acs-version");
            if v3 {
                (h_action.or(p_action), h_version.or(p_version), None)
            } else {
                (p_action.or(h_action), p_version.or(h_version), None)
            }
        }
    };
    Ok(Routed {
        style: style.id.clone(),
        action: action.filter(|a| !a.is_empty()),
        version: version.filter(|v| !v.is_empty()),
        region: region.filter(|r| !r.is_empty()),
        params,
    })
}

fn header(request: &RawRequest, name: &str) -> Option<String> {
    request.header(name).map(|v| v.trim().to_string())
}

/// The action spec for `action` at `version`: the version picks the service. An unknown version
/// is `unsupported_version`; a known version without that action is `unknown_action`.
pub fn find_action<'a>(
    specs: &'a SpecSet,
    provider: Provider,
    action: &str,
    version: &str,
) -> Result<&'a Arc<ActionSpec>, ProtocolCondition> {
    let mut in_version = specs
        .actions()
        .filter(|a| a.provider == provider && a.version == version)
        .peekable();
    if in_version.peek().is_none() {
        return Err(ProtocolCondition::UnsupportedVersion);
    }
    in_version
        .find(|a| a.action == action)
        .ok_or(ProtocolCondition::UnknownAction)
}

/// Remove the provider's common parameters (v1/RPC carry them beside the business ones), except
/// names the action itself declares.
pub fn strip_common(params: &mut WireParams, provider: &ProviderSpec, action: &ActionSpec) {
    if let WireParams::Text(pairs) = params {
        pairs.retain(|(name, _)| {
            action.parameter(name).is_some()
                || !provider.common_parameters.iter().any(|c| &c.name == name)
        });
    }
}
