//! Encoding business parameters into a provider request style.
//!
//! [`encode`] turns decoded parameters (JSON values, as a case or an SDK caller holds them) into
//! what travels: a JSON body with native arrays (Tencent `json-post`), or flat `name=value`
//! pairs (Tencent `Name.N` 0-based flattening with a chosen boolean spelling; Alibaba's
//! per-parameter encodings: `json-string` arrays as JSON text, `repeat-list` `Name.1..`,
//! `comma-joined`). [`unsigned_request`] lays an [`Encoded`] out as an unsigned
//! [`RawRequest`] (common parameters as headers, RFC 3986 percent-encoding); the signers in
//! `sign` take the same [`Encoded`] parts and add the common parameters their scheme wants.
use crate::http::RawRequest;
use crate::spec::{
    ActionSpec, ArrayEncoding, ParamEncoding, ParametersIn, Provider, ProviderSpec, RequestStyle,
};
use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};
use serde_json::{Map, Value};

/// RFC 3986 unreserved characters stay literal; everything else is `%XY`.
const RFC3986: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');

/// RFC 3986 percent-encoding of one name or value.
pub fn percent_encode(s: &str) -> String {
    utf8_percent_encode(s, RFC3986).to_string()
}

/// `a=1&b=2` with both sides percent-encoded.
pub fn encode_pairs(pairs: &[(String, String)]) -> String {
    pairs
        .iter()
        .map(|(k, v)| format!("{}={}", percent_encode(k), percent_encode(v)))
        .collect::<Vec<_>>()
        .join("&")
}

/// How booleans are spelled outside JSON.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Booleans {
    pub truthy: String,
    pub falsy: String,
}

impl Default for Booleans {
    fn default() -> Self {
        Booleans {
            truthy: "true".into(),
            falsy: "false".into(),
        }
    }
}

/// Business parameters in their wire form, before signing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Encoded {
    pub method: String,
    /// Flat, decoded `name=value` pairs in sending order (query or form body).
    pub params: Vec<(String, String)>,
    /// An explicit body (Tencent JSON).
    pub body: Option<Vec<u8>>,
    pub content_type: Option<String>,
    /// Where the flat pairs travel.
    pub parameters_in: ParametersIn,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum EncodeError {
    #[error("request style `{0}` is not defined by the provider spec")]
    UnknownStyle(String),
    #[error("parameter {0}: nested arrays cannot be encoded as {1}")]
    Unsupported(String, &'static str),
}

/// Encode `params` for `action` in `style`.
pub fn encode(
    provider: &ProviderSpec,
    action: Option<&ActionSpec>,
    style: &RequestStyle,
    params: &Map<String, Value>,
    booleans: &Booleans,
) -> Result<Encoded, EncodeError> {
    let mut out = Encoded {
        method: style.method.clone(),
        params: Vec::new(),
        body: None,
        content_type: style.content_type.clone(),
        parameters_in: style.parameters_in,
    };
    if style.parameters_in == ParametersIn::JsonBody {
        out.body = Some(
            serde_json::to_vec(&Value::Object(params.clone())).unwrap_or_else(|_| b"{}".to_vec()),
        );
        return Ok(out);
    }
    for (name, value) in params {
        let encoding = action
            .and_then(|a| a.parameter(name))
            .and_then(|p| p.encoding)
            .unwrap_or(match (provider.provider, style.array_encoding) {
                (_, ArrayEncoding::Flat0) | (_, ArrayEncoding::Json) => ParamEncoding::Native,
                (Provider::Alibaba, _) => ParamEncoding::RepeatList,
                (Provider::Tencent, _) => ParamEncoding::Native,
            });
        flatten(name, value, encoding, booleans, &mut out.params)?;
    }
    Ok(out)
}

fn scalar(value: &Value, booleans: &Booleans) -> String {
    match value {
        Value::String(s) => s.clone(),
        Value::Bool(true) => booleans.truthy.clone(),
        Value::Bool(false) => booleans.falsy.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

fn flatten(
    name: &str,
    value: &Value,
    encoding: ParamEncoding,
    booleans: &Booleans,
    out: &mut Vec<(String, String)>,
) -> Result<(), EncodeError> {
    match (value, encoding) {
        (Value::Array(items), ParamEncoding::JsonString) => {
            out.push((name.to_string(), Value::Array(items.clone()).to_string()))
        }
        (Value::Array(items), ParamEncoding::CommaJoined) => out.push((
            name.to_string(),
            items
                .iter()
                .map(|v| scalar(v, booleans))
                .collect::<Vec<_>>()
                .join(","),
        )),
        (Value::Array(items), ParamEncoding::RepeatList) => {
            for (i, v) in items.iter().enumerate() {
                flatten(&format!("{name}.{}", i + 1), v, encoding, booleans, out)?;
            }
        }
        (Value::Array(items), ParamEncoding::Native) => {
            for (i, v) in items.iter().enumerate() {
                flatten(&format!("{name}.{i}"), v, encoding, booleans, out)?;
            }
        }
        (Value::Object(fields), _) => {
            for (k, v) in fields {
                flatten(&format!("{name}.{k}"), v, encoding, booleans, out)?;
            }
        }
        (v, _) => out.push((name.to_string(), scalar(v, booleans))),
    }
    Ok(())
}

/// Common parameters that ride alongside the business parameters.
#[derive(Debug, Clone, Default)]
pub struct Common<'a> {
    pub host: &'a str,
    pub action: &'a str,
    pub version: &'a str,
    pub region: Option<&'a str>,
}

/// The encoded call as an unsigned request: common parameters as the provider's header-carried
/// scheme wants them (Tencent `X-TC-*`, Alibaba `x-acs-*`), business parameters in the query,
/// the form body or the JSON body.
pub fn unsigned_request(provider: Provider, encoded: &Encoded, common: &Common) -> RawRequest {
    let mut req = RawRequest {
        method: encoded.method.clone(),
        path: "/".into(),
        ..RawRequest::default()
    };
    req.headers.push(("Host".into(), common.host.to_string()));
    match provider {
        Provider::Tencent => {
            req.headers
                .push(("X-TC-Action".into(), common.action.to_string()));
            req.headers
                .push(("X-TC-Version".into(), common.version.to_string()));
            if let Some(r) = common.region {
                req.headers.push(("X-TC-Region".into(), r.to_string()));
            }
        }
        Provider::Alibaba => {
            req.headers
                .push(("x-acs-action".into(), common.action.to_string()));
            req.headers
                .push(("x-acs-version".into(), common.version.to_string()));
        }
    }
    if let Some(ct) = &encoded.content_type {
        req.headers.push(("Content-Type".into(), ct.clone()));
    }
    match (&encoded.body, encoded.parameters_in) {
        (Some(body), _) => req.body = body.clone(),
        (None, ParametersIn::FormBody) => req.body = encode_pairs(&encoded.params).into_bytes(),
        (None, _) => req.raw_query = encode_pairs(&encoded.params),
    }
    req
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn style(id: &str, method: &str, pin: &str, arrays: &str) -> RequestStyle {
        serde_json::from_value(json!({
            "id": id, "method": method, "parameters_in": pin, "array_encoding": arrays,
            "signing": ["x"], "source": "inferred: test"
        }))
        .unwrap()
    }

    fn provider(p: &str) -> ProviderSpec {
        let v = json!({
            "provider": p, "name": "t", "sources": [], "signing": [], "request_styles": [],
            "common_parameters": [], "envelopes": {"success": true, "error": true},
            "http_status": {"success": 200, "errors": "always_200", "source": "x"},
            "response_content_type": {"value": "application/json", "exact": true, "source": "x"},
            "request_id": {"pattern": ".", "example": "x", "source": "x"},
            "skew_seconds": {"default": 300, "source": "x"}, "size_limits": [],
            "boolean_spellings": {"true": ["true"], "false": ["false"], "source": "x"},
            "formats": {}, "resources": {}, "errors": []
        });
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn tencent_get_flattens_zero_based_with_spelling() {
        let params = json!({"InstanceIds": ["ins-a", "ins-b"], "ForceStop": true})
            .as_object()
            .unwrap()
            .clone();
        let b = Booleans {
            truthy: "True".into(),
            falsy: "False".into(),
        };
        let e = encode(
            &provider("tencent"),
            None,
            &style("get", "GET", "query", "flat-0"),
            &params,
            &b,
        )
        .unwrap();
        assert_eq!(
            e.params,
            vec![
                ("InstanceIds.0".to_string(), "ins-a".to_string()),
                ("InstanceIds.1".to_string(), "ins-b".to_string()),
                ("ForceStop".to_string(), "True".to_string()),
            ]
        );
    }

    #[test]
    fn tencent_json_keeps_native_types() {
        let params = json!({"KeyIds": ["skey-a"], "ForceStop": false})
            .as_object()
            .unwrap()
            .clone();
        let e = encode(
            &provider("tencent"),
            None,
            &style("json-post", "POST", "json-body", "json"),
            &params,
            &Booleans::default(),
        )
        .unwrap();
        assert_eq!(
            e.body.as_deref(),
            Some(&br#"{"KeyIds":["skey-a"],"ForceStop":false}"#[..])
        );
    }

    #[test]
    fn alibaba_per_parameter_encodings() {
        let spec: ActionSpec = serde_json::from_value(json!({
            "role": "seed", "provider": "alibaba", "service": "ecs", "version": "2014-05-26",
            "action": "DetachKeyPair", "summary": "", "source": {"url": "https://x"},
            "endpoints": ["x"], "methods": ["POST"], "region": {"required": true, "source": "x"},
            "parameters": [
                {"name": "InstanceIds", "type": "array", "items": {"type": "string"},
                 "encoding": "json-string", "required": true, "description": "", "source": "x"},
                {"name": "InstanceId", "type": "array", "items": {"type": "string"},
                 "encoding": "repeat-list", "required": false, "description": "", "source": "x"}
            ],
            "errors": [], "response": {"schema": true}
        }))
        .unwrap();
        let params =
            json!({"InstanceIds": ["i-a", "i-b"], "InstanceId": ["i-c", "i-d"], "Name": "a b*"})
                .as_object()
                .unwrap()
                .clone();
        let e = encode(
            &provider("alibaba"),
            Some(&spec),
            &style("rpc-query", "POST", "query", "per-parameter"),
            &params,
            &Booleans::default(),
        )
        .unwrap();
        assert_eq!(
            e.params[0],
            ("InstanceIds".into(), r#"["i-a","i-b"]"#.into())
        );
        assert_eq!(e.params[1], ("InstanceId.1".into(), "i-c".into()));
        assert_eq!(e.params[2], ("InstanceId.2".into(), "i-d".into()));
        let req = unsigned_request(
            Provider::Alibaba,
            &e,
            &Common {
                host: "ecs.aliyuncs.com",
                action: "DetachKeyPair",
                version: "2014-05-26",
                region: None,
            },
        );
        assert_eq!(
            req.raw_query,
            "InstanceIds=%5B%22i-a%22%2C%22i-b%22%5D&InstanceId.1=i-c&InstanceId.2=i-d&Name=a%20b%2A"
        );
        assert_eq!(req.header("x-acs-action"), Some("DetachKeyPair"));
    }
}
