//! Success and error envelopes, RequestIds, and the HTTP status and Content-Type rules of each
//! provider (protocol README rules 1, 2 and 18).
//!
//! Everything provider-specific about the answer's outer shape is in [`Envelope`]; statuses,
//! content types and RequestId casing are read from the provider spec.
use crate::http::RawResponse;
use crate::spec::{ErrorStatusRule, Provider, ProviderSpec};
use serde_json::{Map, Value};

/// An error code ready to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ErrorReply {
    pub code: String,
    pub message: String,
    /// The code's documented status (used when the provider answers errors per code).
    pub http_status: u16,
}

/// Where the answer comes from, for Alibaba's `HostId` and `Recommend`.
#[derive(Debug, Clone, Default)]
pub struct Origin {
    /// `ecs.aliyuncs.com`-style host of the service (or the received Host).
    pub host_id: String,
    /// Product name as Alibaba spells it in `Recommend` (`Ecs`, `Ens`).
    pub product: String,
}

/// The outer shape of a provider's answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Envelope {
    /// `{"Response": {..., "RequestId"}}`; errors in `Response.Error`.
    Tencent,
    /// Members at the top level beside `RequestId`; errors `{RequestId, HostId, Code, Message,
    /// Recommend}`.
    Alibaba,
}

impl Envelope {
    pub fn of(provider: Provider) -> Envelope {
        match provider {
            Provider::Tencent => Envelope::Tencent,
            Provider::Alibaba => Envelope::Alibaba,
        }
    }
}

/// A fresh RequestId in the provider's casing (the spec's example tells: lower-case UUIDs for
/// Tencent, upper-case for Alibaba).
pub fn new_request_id(spec: &ProviderSpec) -> String {
    // Random bytes from the thread's generator (seeded from the OS), made a version-4 UUID:
    // `Uuid::new_v4` asks the kernel on every request.
    let id = uuid::Builder::from_random_bytes(rand::random())
        .into_uuid()
        .to_string();
    if spec
        .request_id
        .example
        .chars()
        .any(|c| c.is_ascii_uppercase())
    {
        id.to_ascii_uppercase()
    } else {
        id
    }
}

fn json_response(spec: &ProviderSpec, status: u16, body: &Value) -> RawResponse {
    RawResponse {
        status,
        headers: vec![(
            "Content-Type".to_string(),
            spec.response_content_type.value.clone(),
        )],
        body: {
            // One buffer, sized for a typical page of resources, instead of growing from empty.
            let mut out = Vec::with_capacity(8 * 1024);
            serde_json::to_writer(&mut out, body).expect("JSON values always serialize");
            out
        },
    }
}

/// A success answer whose whole body (envelope included) is already written.
pub fn success_body(spec: &ProviderSpec, body: Vec<u8>) -> RawResponse {
    RawResponse {
        status: spec.http_status.success,
        headers: vec![(
            "Content-Type".to_string(),
            spec.response_content_type.value.clone(),
        )],
        body,
    }
}

/// A success answer carrying `members` (the action's output without `RequestId`).
pub fn success(spec: &ProviderSpec, members: Map<String, Value>, request_id: &str) -> RawResponse {
    let body = match Envelope::of(spec.provider) {
        Envelope::Tencent => {
            let mut inner = members;
            inner.insert("RequestId".into(), Value::String(request_id.into()));
            Value::Object(Map::from_iter([(
                "Response".to_string(),
                Value::Object(inner),
            )]))
        }
        Envelope::Alibaba => {
            let mut top = Map::new();
            top.insert("RequestId".into(), Value::String(request_id.into()));
            top.extend(members);
            Value::Object(top)
        }
    };
    json_response(spec, spec.http_status.success, &body)
}

/// An error answer: Tencent HTTP 200 with `Response.Error`; Alibaba the code's 4xx/5xx status.
pub fn error(
    spec: &ProviderSpec,
    origin: &Origin,
    reply: &ErrorReply,
    request_id: &str,
) -> RawResponse {
    let status = match spec.http_status.errors {
        ErrorStatusRule::Always200 => 200,
        ErrorStatusRule::PerCode => {
            if (400..=599).contains(&reply.http_status) {
                reply.http_status
            } else {
                // An Alibaba error with a 2xx status is a success to every SDK: never send one.
                400
            }
        }
    };
    let body = match Envelope::of(spec.provider) {
        Envelope::Tencent => serde_json::json!({
            "Response": {
                "Error": {"Code": reply.code, "Message": reply.message},
                "RequestId": request_id,
            }
        }),
        Envelope::Alibaba => {
            let recommend = format!(
                "https://api.aliyun.com/troubleshoot?q={}&product={}&requestId={}",
                reply.code, origin.product, request_id
            );
            serde_json::json!({
                "RequestId": request_id,
                "HostId": origin.host_id,
                "Code": reply.code,
                "Message": reply.message,
                "Recommend": recommend,
            })
        }
    };
    json_response(spec, status, &body)
}

#[cfg(test)]
mod tests {
    use super::new_request_id;
    use crate::spec::{Provider, SpecSet};

    #[test]
    fn request_ids_follow_each_providers_pattern_and_differ() {
        let specs = SpecSet::load_default().expect("the shipped specs load");
        for provider in [Provider::Tencent, Provider::Alibaba] {
            let spec = specs
                .provider(provider)
                .expect("both providers have a spec");
            let pattern = regex::Regex::new(&spec.request_id.pattern).expect("a valid pattern");
            let ids: std::collections::HashSet<String> =
                (0..1000).map(|_| new_request_id(spec)).collect();
            assert_eq!(ids.len(), 1000, "{provider}: ids repeat");
            for id in &ids {
                assert!(pattern.is_match(id), "{provider}: {id}");
                let uuid = uuid::Uuid::parse_str(id).expect("a UUID");
                assert_eq!(uuid.get_version_num(), 4, "{id}");
                assert_eq!(uuid.get_variant(), uuid::Variant::RFC4122, "{id}");
            }
        }
    }
}
