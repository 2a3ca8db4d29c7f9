//! Judging one SDK call: (a) the wire request the SDK produced, as the emulator recorded it —
//! provider, request style, action, version, signature, parameter encoding — against the spec
//! and the case; (b) the SDK's view of the answer — every field the endpoint answered, with its
//! type, and every error's code, HTTP status and request id — against what the endpoint sent.
//! Each finding names its layer, the spec rule and the first divergence.
use crate::emulator::route;
use crate::emulator::Exchange;
use crate::sign::{CredentialLookup, NonceCache, Scheme, VerifyPolicy};
use crate::spec::{ActionSpec, ParamEncoding, Provider, ProviderSpec};
use crate::wire::decode::{self, IndexProblem, WireParams};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::fmt;

/// Where a divergence was found.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Layer {
    /// What the SDK put on the wire.
    Wire,
    /// What the SDK made of the answer.
    Surface,
    /// The endpoint's answer against the case's expectation (an emulator problem, or a case
    /// the SDK changed in a way the wire checks did not name).
    Answer,
}

impl fmt::Display for Layer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Layer::Wire => "wire",
            Layer::Surface => "surface",
            Layer::Answer => "answer",
        })
    }
}

/// One divergence.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SdkFinding {
    pub layer: Layer,
    /// The spec rule, `file#/pointer`.
    pub rule: String,
    pub message: String,
}

impl fmt::Display for SdkFinding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {} (rule {})", self.layer, self.message, self.rule)
    }
}

/// A request style and signing method, `style/signing` in the provider spec's ids.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Method {
    pub style: String,
    pub signing: String,
}

impl Method {
    pub fn parse(s: &str) -> Option<Method> {
        let (style, signing) = s.split_once('/')?;
        Some(Method {
            style: style.into(),
            signing: signing.into(),
        })
    }

    /// Whether the provider spec defines this style with this signing method.
    pub fn offered_by(&self, spec: &ProviderSpec) -> bool {
        spec.request_styles
            .iter()
            .any(|s| s.id == self.style && s.signing.contains(&self.signing))
    }
}

impl fmt::Display for Method {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.style, self.signing)
    }
}

/// What the wire judge needs to know about the call.
pub struct WireCall<'a> {
    pub provider: &'a ProviderSpec,
    pub action: &'a ActionSpec,
    /// The action's spec file, relative to the spec root (for rule names).
    pub action_file: &'a str,
    /// The case's parameters with placeholders bound.
    pub params: &'a Map<String, Value>,
    pub method: &'a Method,
    pub credentials: &'a dyn CredentialLookup,
}

fn pfile(p: Provider) -> String {
    format!("{p}/provider.json")
}

/// Judge the first recorded request (later ones are retries, reported by the caller).
pub fn wire(call: &WireCall, exchange: Option<&Exchange>) -> Vec<SdkFinding> {
    let provider = call.provider.provider;
    let find = |rule: String, message: String| SdkFinding {
        layer: Layer::Wire,
        rule,
        message,
    };
    let Some(ex) = exchange else {
        return vec![find(
            pfile(provider),
            "the SDK sent no request to the endpoint".into(),
        )];
    };
    let req = &ex.request;
    let mut out = Vec::new();
    let style_rule = |id: &str| {
        let i = call
            .provider
            .request_styles
            .iter()
            .position(|s| s.id == id)
            .unwrap_or(0);
        format!("{}#/request_styles/{i}", pfile(provider))
    };
    let mut routed = match route::route(req, call.provider) {
        Ok(r) => r,
        Err(p) => {
            return vec![find(
                style_rule(&call.method.style),
                format!("the request fits no request style: {}", p.detail()),
            )]
        }
    };
    if routed.style != call.method.style {
        out.push(find(
            style_rule(&call.method.style),
            format!(
                "request style: asked for {}, the SDK sent {} ({} with Content-Type {})",
                call.method.style,
                routed.style,
                req.method,
                req.header("content-type").unwrap_or("(none)")
            ),
        ));
    }
    let afile = call.action_file;
    for (what, want, got, pointer) in [
        ("action", &call.action.action, &routed.action, "/action"),
        ("version", &call.action.version, &routed.version, "/version"),
    ] {
        if got.as_deref() != Some(want.as_str()) {
            out.push(find(
                format!("{afile}#{pointer}"),
                format!(
                    "{what}: expected {want}, the SDK sent {}",
                    got.as_deref().unwrap_or("none")
                ),
            ));
        }
    }
    out.extend(signature(call, req));
    route::strip_common(&mut routed.params, call.provider, call.action);
    out.extend(parameters(call, &routed.params));
    out
}

fn signature(call: &WireCall, req: &crate::http::RawRequest) -> Option<SdkFinding> {
    let provider = call.provider.provider;
    let rule = |id: &str| {
        let i = call
            .provider
            .signing
            .iter()
            .position(|s| s.id == id)
            .unwrap_or(0);
        format!("{}#/signing/{i}", pfile(provider))
    };
    let mut policy = VerifyPolicy::current();
    policy.check_nonces = false;
    let verified =
        match crate::sign::verify(provider, req, call.credentials, &NonceCache::new(), &policy) {
            Ok(v) => v,
            Err(e) => {
                return Some(SdkFinding {
                    layer: Layer::Wire,
                    rule: rule(&call.method.signing),
                    message: format!("signature: {e}"),
                })
            }
        };
    let sent = signing_id(call.provider, verified.scheme);
    (sent.as_deref() != Some(call.method.signing.as_str())).then(|| SdkFinding {
        layer: Layer::Wire,
        rule: rule(&call.method.signing),
        message: format!(
            "signing method: asked for {}, the SDK signed with {}",
            call.method.signing,
            verified.scheme.wire_name()
        ),
    })
}

/// The spec's id for a scheme: the signing method whose name carries the scheme's wire name.
fn signing_id(spec: &ProviderSpec, scheme: Scheme) -> Option<String> {
    spec.signing
        .iter()
        .find(|s| s.name.contains(scheme.wire_name()))
        .map(|s| s.id.clone())
}

/// Compare the business parameters on the wire with the case's, parameter by parameter in
/// the case's order; the first problem of each parameter is reported.
fn parameters(call: &WireCall, wire: &WireParams) -> Vec<SdkFinding> {
    let afile = call.action_file;
    let rule = |name: &str| match call.action.parameters.iter().position(|p| p.name == name) {
        Some(i) => format!("{afile}#/parameters/{i}"),
        None => format!("{afile}#/parameters"),
    };
    let mut out = Vec::new();
    let mut push = |name: &str, message: String| {
        out.push(SdkFinding {
            layer: Layer::Wire,
            rule: rule(name),
            message: format!("parameter {name}: {message}"),
        })
    };
    let repeated = wire.repeated_names();
    match wire {
        WireParams::Json(members) => {
            for name in &repeated {
                push(name, "sent more than once in the JSON body".into());
            }
            for (name, want) in call.params {
                match members.iter().find(|(k, _)| k == name) {
                    None => push(name, format!("the case sends {want}, the SDK sent nothing")),
                    Some((_, got)) if !same_json(want, got) => {
                        push(name, format!("the case sends {want}, the SDK sent {got}"))
                    }
                    _ => {}
                }
            }
            for (name, got) in members {
                if !call.params.contains_key(name) {
                    push(name, format!("sent {got}, which the case does not send"));
                }
            }
        }
        WireParams::Text(pairs) => {
            for (name, want) in call.params {
                if let Err(message) = text_param(call, pairs, name, want) {
                    push(name, message);
                }
            }
            for (key, value) in pairs {
                let root = key.split('.').next().unwrap_or(key);
                if !call.params.contains_key(root) {
                    push(
                        root,
                        format!("sent {key}={value}, which the case does not send"),
                    );
                }
            }
        }
    }
    out
}

/// How the spec wants `name` flattened, and from which index.
fn encoding(call: &WireCall, name: &str) -> (ParamEncoding, usize) {
    let declared = call.action.parameter(name).and_then(|p| p.encoding);
    let enc = declared.unwrap_or(match call.provider.provider {
        Provider::Tencent => ParamEncoding::Native,
        Provider::Alibaba => ParamEncoding::RepeatList,
    });
    let base = match enc {
        ParamEncoding::RepeatList => 1,
        _ => 0,
    };
    (enc, base)
}

fn text_param(
    call: &WireCall,
    pairs: &[(String, String)],
    name: &str,
    want: &Value,
) -> Result<(), String> {
    let sent: Vec<&(String, String)> = pairs
        .iter()
        .filter(|(k, _)| decode::belongs_to(k, name))
        .collect();
    // The first few pairs are enough to show the divergence.
    let listing = || {
        let shown: Vec<String> = sent
            .iter()
            .take(3)
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        match sent.len() {
            n if n > 3 => format!("{}&… ({n} pairs)", shown.join("&")),
            _ => shown.join("&"),
        }
    };
    let bare = sent
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str());
    let (enc, base) = encoding(call, name);
    let flattened = matches!(enc, ParamEncoding::Native | ParamEncoding::RepeatList);
    if !want.is_array() || flattened {
        // Scalars, deliberately mistyped values of negative cases and flattened structures:
        // the wire must carry exactly the pairs the spec's flattening gives (an empty list is
        // no pair at all).
        let mut expected = Vec::new();
        flatten_expected(name, want, base, &mut expected);
        if same_pairs(&expected, &sent) {
            return Ok(());
        }
        if sent.is_empty() {
            return Err(format!("the case sends {want}, the SDK sent nothing"));
        }
        let owned: Vec<(String, String)> = sent.iter().map(|p| (*p).clone()).collect();
        return Err(
            match (want.is_array(), decode::unflatten(&owned, name, base)) {
                (true, Err(IndexProblem::NotContiguous)) => format!(
                "flattened indexes must run {base}, {}, … ({name}.{base} first); the SDK sent {}",
                base + 1,
                listing()
            ),
                (true, Err(IndexProblem::Mixed)) => format!(
                    "the spec wants {name}.{base}, {name}.{}, …; the SDK sent {}",
                    base + 1,
                    listing()
                ),
                _ => format!("the case sends {want}, the SDK sent {}", listing()),
            },
        );
    }
    if sent.is_empty() {
        return Err(format!("the case sends {want}, the SDK sent nothing"));
    }
    match enc {
        ParamEncoding::JsonString => match bare {
            Some(v) if sent.len() == 1 => match serde_json::from_str::<Value>(v) {
                Ok(got) if same_json(want, &got) => Ok(()),
                Ok(got) => Err(format!("the case sends {want}, the SDK sent the JSON {got}")),
                Err(_) => Err(format!(
                    "the spec wants one parameter holding JSON array text; the SDK sent {name}={v}, which is not JSON"
                )),
            },
            _ => Err(format!(
                "the spec wants one parameter holding JSON array text ({name}={want}); the SDK sent {}",
                listing()
            )),
        },
        ParamEncoding::CommaJoined => {
            let joined: Vec<String> = want
                .as_array()
                .into_iter()
                .flatten()
                .map(crate::check::loose)
                .collect();
            match bare {
                Some(v) if sent.len() == 1 && v == joined.join(",") => Ok(()),
                _ => Err(format!(
                    "the spec wants {name}={}; the SDK sent {}",
                    joined.join(","),
                    listing()
                )),
            }
        }
        // Compared pair by pair above.
        ParamEncoding::Native | ParamEncoding::RepeatList => Ok(()),
    }
}

/// The pairs the spec's flattening gives a value (`Name.N`, `Name.N.Field`).
fn flatten_expected<'a>(
    name: &str,
    value: &'a Value,
    base: usize,
    out: &mut Vec<(String, &'a Value)>,
) {
    match value {
        Value::Array(items) => {
            for (i, v) in items.iter().enumerate() {
                flatten_expected(&format!("{name}.{}", i + base), v, base, out);
            }
        }
        Value::Object(fields) => {
            for (k, v) in fields {
                flatten_expected(&format!("{name}.{k}"), v, base, out);
            }
        }
        scalar => out.push((name.to_string(), scalar)),
    }
}

/// The same pairs in any order, each value matching as text.
fn same_pairs(expected: &[(String, &Value)], sent: &[&(String, String)]) -> bool {
    expected.len() == sent.len()
        && expected.iter().all(|(k, v)| {
            sent.iter()
                .filter(|(sk, _)| sk == k)
                .any(|(_, sv)| same_text(v, sv))
        })
}

/// JSON equality that lets a number and its decimal text pass for each other.
fn same_json(want: &Value, got: &Value) -> bool {
    match (want, got) {
        (Value::Array(a), Value::Array(b)) => {
            a.len() == b.len() && a.iter().zip(b).all(|(x, y)| same_json(x, y))
        }
        (Value::Object(a), Value::Object(b)) => {
            a.len() == b.len()
                && a.iter()
                    .all(|(k, x)| b.get(k).is_some_and(|y| same_json(x, y)))
        }
        (Value::Number(_), Value::String(s)) | (Value::String(s), Value::Number(_)) => {
            crate::check::loose(want) == *s || crate::check::loose(got) == *s
        }
        _ => want == got,
    }
}

/// A query or form value against the case's value (booleans in any documented spelling).
fn same_text(want: &Value, got: &str) -> bool {
    match want {
        Value::String(s) => s == got,
        Value::Bool(b) => got.eq_ignore_ascii_case(if *b { "true" } else { "false" }),
        Value::Null => got.is_empty(),
        Value::Number(n) => n.to_string() == got,
        other => serde_json::from_str::<Value>(got).is_ok_and(|g| same_json(other, &g)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spec::{ActionKey, SpecSet};
    use serde_json::json;

    /// Findings of the parameter check alone for `params` on the wire as `wire`.
    fn judge_params(key: &str, style: &str, params: Value, wire: WireParams) -> Vec<String> {
        let specs = SpecSet::load_default().expect("specs");
        let key = ActionKey::parse(key).expect("key");
        let action = specs.action(&key).expect("action").clone();
        let provider = specs.provider(key.provider).expect("provider").clone();
        let method = Method {
            style: style.into(),
            signing: "x".into(),
        };
        let creds = crate::sign::Credentials::new("AKIDEXAMPLE", "SECRETEXAMPLE");
        let Value::Object(params) = params else {
            panic!()
        };
        let call = WireCall {
            provider: &provider,
            action: &action,
            action_file: "f.json",
            params: &params,
            method: &method,
            credentials: &creds,
        };
        parameters(&call, &wire)
            .into_iter()
            .map(|f| f.message)
            .collect()
    }

    fn text(pairs: &[(&str, &str)]) -> WireParams {
        WireParams::Text(
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        )
    }

    const ECS: &str = "alibaba/ecs/2014-05-26/DetachKeyPair";
    const CVM: &str = "tencent/cvm/2017-03-12/DeleteKeyPairs";

    #[test]
    fn json_array_text_is_compared_as_json_whatever_its_spacing() {
        let params =
            json!({"RegionId": "cn-hangzhou", "KeyPairName": "k", "InstanceIds": ["i-1", "i-2"]});
        for sent in [
            r#"["i-1","i-2"]"#,
            r#"["i-1", "i-2"]"#,
            "[ \"i-1\" ,\n\"i-2\" ]",
        ] {
            let wire = text(&[
                ("RegionId", "cn-hangzhou"),
                ("KeyPairName", "k"),
                ("InstanceIds", sent),
            ]);
            assert_eq!(
                judge_params(ECS, "rpc-query", params.clone(), wire),
                Vec::<String>::new(),
                "{sent}"
            );
        }
        let wire = text(&[
            ("RegionId", "cn-hangzhou"),
            ("KeyPairName", "k"),
            ("InstanceIds", r#"["i-2","i-1"]"#),
        ]);
        let found = judge_params(ECS, "rpc-query", params, wire);
        assert!(
            found[0].contains("the SDK sent the JSON [\"i-2\",\"i-1\"]"),
            "{found:?}"
        );
    }

    #[test]
    fn tencent_arrays_flatten_from_zero_in_any_order() {
        let params = json!({"KeyIds": ["a", "b"]});
        let ok = text(&[("KeyIds.1", "b"), ("KeyIds.0", "a")]);
        assert!(judge_params(CVM, "get", params.clone(), ok).is_empty());
        let from_one = judge_params(
            CVM,
            "get",
            params.clone(),
            text(&[("KeyIds.1", "a"), ("KeyIds.2", "b")]),
        );
        assert!(from_one[0].contains("KeyIds.0 first"), "{from_one:?}");
        let as_json = judge_params(
            CVM,
            "get",
            params.clone(),
            text(&[("KeyIds", "[\"a\",\"b\"]")]),
        );
        assert!(
            as_json[0].contains("the spec wants KeyIds.0, KeyIds.1"),
            "{as_json:?}"
        );
        // An empty list is no pair at all.
        assert!(judge_params(CVM, "get", json!({"KeyIds": []}), text(&[])).is_empty());
    }

    #[test]
    fn json_bodies_compare_values_and_name_extra_and_missing_members() {
        let params = json!({"KeyIds": ["a"]});
        let same = WireParams::Json(vec![("KeyIds".into(), json!(["a"]))]);
        assert!(judge_params(CVM, "json-post", params.clone(), same).is_empty());
        let extra = WireParams::Json(vec![
            ("KeyIds".into(), json!(["a"])),
            ("Limit".into(), json!(1)),
        ]);
        let found = judge_params(CVM, "json-post", params.clone(), extra);
        assert!(
            found[0].contains("parameter Limit: sent 1, which the case does not send"),
            "{found:?}"
        );
        let missing = judge_params(CVM, "json-post", params, WireParams::Json(vec![]));
        assert!(missing[0].contains("the SDK sent nothing"), "{missing:?}");
    }

    #[test]
    fn values_match_in_every_documented_spelling() {
        assert!(same_text(&json!(true), "True") && same_text(&json!(false), "false"));
        assert!(same_text(&json!(5), "5") && !same_text(&json!(5), "05"));
        assert!(same_json(&json!({"n": 2}), &json!({"n": "2"})));
        assert!(!same_json(&json!(["a"]), &json!(["a", "b"])));
    }
}
