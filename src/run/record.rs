//! What a case's result keeps of each step: the request and response as sent and received, with
//! credentials, signatures and private keys replaced by `[redacted]` before anything is stored,
//! so reports and snapshots never carry secrets. Depends on `http` only.
use crate::http::{RawRequest, RawResponse};
use serde::Serialize;
use serde_json::Value;

/// The request and response of one step, as recorded (credentials never included).
#[derive(Debug, Clone, Serialize)]
pub struct Exchange {
    pub step: usize,
    pub action: String,
    pub request: RequestRecord,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub response: Option<ResponseRecord>,
}

#[derive(Debug, Clone, Serialize)]
pub struct RequestRecord {
    pub method: String,
    pub query: String,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct ResponseRecord {
    pub status: u16,
    pub content_type: String,
    pub body: String,
}

/// Headers whose values carry credentials or signatures.
const SECRET_HEADERS: [&str; 4] = [
    "authorization",
    "x-tc-token",
    "x-acs-security-token",
    "x-acs-signature-nonce",
];
const SECRET_PARAMS: [&str; 6] = [
    "Signature",
    "SecretId",
    "AccessKeyId",
    "Token",
    "SecurityToken",
    "SignatureNonce",
];

fn scrub_pairs(s: &str) -> String {
    s.split('&')
        .map(|kv| match kv.split_once('=') {
            Some((k, _)) if SECRET_PARAMS.contains(&k) => format!("{k}=[redacted]"),
            _ => kv.to_string(),
        })
        .collect::<Vec<_>>()
        .join("&")
}

impl RequestRecord {
    /// The request with credentials and signatures removed.
    pub fn scrubbed(req: &RawRequest) -> RequestRecord {
        let form = req
            .header("content-type")
            .is_some_and(|c| c.starts_with("application/x-www-form-urlencoded"));
        let body = String::from_utf8_lossy(&req.body);
        let body = if body.len() > 4096 {
            format!("[{} bytes]", req.body.len())
        } else if form {
            scrub_pairs(&body)
        } else {
            body.to_string()
        };
        let query = if req.raw_query.len() > 4096 {
            format!("[{} bytes]", req.raw_query.len())
        } else {
            scrub_pairs(&req.raw_query)
        };
        RequestRecord {
            method: req.method.clone(),
            query,
            headers: req
                .headers
                .iter()
                .map(|(k, v)| {
                    if SECRET_HEADERS.iter().any(|s| k.eq_ignore_ascii_case(s)) {
                        (k.clone(), "[redacted]".into())
                    } else {
                        (k.clone(), v.clone())
                    }
                })
                .collect(),
            body,
        }
    }
}

/// Replace secret response values (private keys of created key pairs) with `[redacted]`.
fn scrub_json(v: &mut Value) {
    match v {
        Value::Object(o) => {
            for (k, x) in o.iter_mut() {
                if k.to_ascii_lowercase().contains("private") && x.is_string() {
                    *x = Value::String("[redacted]".into());
                } else {
                    scrub_json(x);
                }
            }
        }
        Value::Array(a) => a.iter_mut().for_each(scrub_json),
        _ => {}
    }
}

impl ResponseRecord {
    /// The response with secrets (private keys) removed.
    pub fn of(resp: &RawResponse) -> ResponseRecord {
        let body = match serde_json::from_slice::<Value>(&resp.body) {
            Ok(mut v) => {
                scrub_json(&mut v);
                v.to_string()
            }
            Err(_) => String::from_utf8_lossy(&resp.body).to_string(),
        };
        ResponseRecord {
            status: resp.status,
            content_type: resp.header("content-type").unwrap_or_default().to_string(),
            body,
        }
    }
}
