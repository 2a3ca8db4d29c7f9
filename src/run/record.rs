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
    pub path: String,
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
    let mut out = String::with_capacity(s.len());
    for (i, kv) in s.split('&').enumerate() {
        if i > 0 {
            out.push('&');
        }
        match kv.split_once('=') {
            Some((k, _)) if SECRET_PARAMS.contains(&k) => {
                out.push_str(k);
                out.push_str("=[redacted]");
            }
            _ => out.push_str(kv),
        }
    }
    out
}

impl RequestRecord {
    /// The request with credentials and signatures removed (taken, not copied: a case keeps
    /// only this record of what it sent).
    pub fn scrubbed(req: RawRequest) -> RequestRecord {
        let form = req
            .header("content-type")
            .is_some_and(|c| c.starts_with("application/x-www-form-urlencoded"));
        let body = if req.body.len() > 4096 {
            format!("[{} bytes]", req.body.len())
        } else {
            let text = String::from_utf8(req.body)
                .unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned());
            if form {
                scrub_pairs(&text)
            } else {
                text
            }
        };
        let query = if req.raw_query.len() > 4096 {
            format!("[{} bytes]", req.raw_query.len())
        } else {
            scrub_pairs(&req.raw_query)
        };
        RequestRecord {
            method: req.method,
            path: req.path,
            query,
            headers: req
                .headers
                .into_iter()
                .map(|(k, v)| {
                    if SECRET_HEADERS.iter().any(|s| k.eq_ignore_ascii_case(s)) {
                        (k, "[redacted]".into())
                    } else {
                        (k, v)
                    }
                })
                .collect(),
            body,
        }
    }
}

/// The shell variable a redacted field is shown as in a curl line: credentials as the
/// environment variables cloudconform reads them from, signatures as variables to fill with a
/// fresh one (`cloudconform sign` prints it; the recorded signature has expired by then).
fn variable_for(field: &str) -> &'static str {
    match field.to_ascii_lowercase().as_str() {
        "secretid" | "accesskeyid" => crate::sign::credentials::ENV_ACCESS_KEY_ID,
        "token" | "securitytoken" | "x-tc-token" | "x-acs-security-token" => {
            crate::sign::credentials::ENV_SECURITY_TOKEN
        }
        "authorization" => "AUTHORIZATION",
        "signaturenonce" | "x-acs-signature-nonce" => "SIGNATURE_NONCE",
        _ => "SIGNATURE",
    }
}

/// Single-quote for a POSIX shell, with `[redacted]` values of `fields` turned into
/// `"$VARIABLE"` references.
fn shell_word(text: &str) -> String {
    let quote = |s: &str| format!("'{}'", s.replace('\'', r"'\''"));
    let mut out = String::new();
    let mut rest = text;
    while let Some(at) = rest.find("[redacted]") {
        let before = &rest[..at];
        // The field name: `Name=` of a query/form pair or `Name: ` of a header line.
        let field = before
            .rsplit(['&', '?'])
            .next()
            .unwrap_or_default()
            .trim_end_matches('=')
            .trim_end_matches(": ");
        let field = field.split(':').next().unwrap_or_default().trim();
        if !before.is_empty() {
            out.push_str(&quote(before));
        }
        out.push_str(&format!("\"${}\"", variable_for(field)));
        rest = &rest[at + "[redacted]".len()..];
    }
    if !rest.is_empty() || out.is_empty() {
        out.push_str(&quote(rest));
    }
    out
}

impl RequestRecord {
    /// A curl command sending this request to `base` (`http://127.0.0.1:18765`): credentials
    /// and signatures appear as shell variable references, never as values.
    pub fn curl(&self, base: &str) -> String {
        let mut url = format!("{}{}", base.trim_end_matches('/'), self.path);
        if !self.query.is_empty() {
            url.push('?');
            url.push_str(&self.query);
        }
        let mut parts = vec![
            "curl".to_string(),
            "-X".into(),
            self.method.clone(),
            shell_word(&url),
        ];
        for (name, value) in &self.headers {
            parts.push("-H".into());
            parts.push(shell_word(&format!("{name}: {value}")));
        }
        if !self.body.is_empty() {
            parts.push("--data-binary".into());
            parts.push(shell_word(&self.body));
        }
        parts.join(" ")
    }
}

/// What a key that holds a secret spells, in any case: `PrivateKey` and its spellings.
/// `verbatim` looks for the same word in the raw body.
const SECRET_WORD: &str = "private";

fn secret_key(k: &str) -> bool {
    k.to_ascii_lowercase().contains(SECRET_WORD)
}

/// Replace secret response values (private keys of created key pairs) with `[redacted]`.
fn scrub_json(v: &mut Value) {
    match v {
        Value::Object(o) => {
            for (k, x) in o.iter_mut() {
                if secret_key(k) && x.is_string() {
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

/// Whether the body can be kept as received: UTF-8 that spells no key with `private` in it.
/// Without `\u` escapes a key can only spell it literally, so a body without the word holds
/// nothing `scrub_json` would redact (most answers; they are then recorded without a copy).
fn verbatim(body: &[u8]) -> Option<&str> {
    let escaped = memchr::memmem::find(body, b"\\u").is_some();
    let private = body
        .windows(SECRET_WORD.len())
        .any(|w| w.eq_ignore_ascii_case(SECRET_WORD.as_bytes()));
    if escaped || private {
        return None;
    }
    std::str::from_utf8(body).ok()
}

impl ResponseRecord {
    /// The response with secrets (private keys) removed, from its body as parsed once for the
    /// checks (`None`: it is not JSON, and is kept as text).
    pub fn of(resp: &RawResponse, parsed: Option<&Value>) -> ResponseRecord {
        let body = match parsed {
            Some(v) => match verbatim(&resp.body) {
                Some(text) => text.to_string(),
                None => {
                    let mut v = v.clone();
                    scrub_json(&mut v);
                    v.to_string()
                }
            },
            None => String::from_utf8_lossy(&resp.body).to_string(),
        };
        ResponseRecord {
            status: resp.status,
            content_type: resp.header("content-type").unwrap_or_default().to_string(),
            body,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn curl_names_credentials_by_variable_and_never_holds_them() {
        let raw = RawRequest {
            method: "POST".into(),
            path: "/".into(),
            raw_query: String::new(),
            headers: vec![
                (
                    "Content-Type".into(),
                    "application/x-www-form-urlencoded".into(),
                ),
                (
                    "Authorization".into(),
                    "TC3-HMAC-SHA256 Credential=AKIDSECRETID/x".into(),
                ),
            ],
            body: b"Action=DetachKeyPair&AccessKeyId=AKIDSECRETID&Signature=abc&Name=it's".to_vec(),
        };
        let curl = RequestRecord::scrubbed(raw).curl("http://127.0.0.1:18765");
        assert!(
            !curl.contains("AKIDSECRETID") && !curl.contains("abc"),
            "{curl}"
        );
        assert_eq!(
            curl,
            "curl -X POST 'http://127.0.0.1:18765/' \
             -H 'Content-Type: application/x-www-form-urlencoded' \
             -H 'Authorization: '\"$AUTHORIZATION\" \
             --data-binary 'Action=DetachKeyPair&AccessKeyId='\"$CLOUDCONFORM_ACCESS_KEY_ID\"\
             '&Signature='\"$SIGNATURE\"'&Name=it'\\''s'"
        );
    }

    fn recorded(body: &str) -> String {
        let resp = RawResponse {
            status: 200,
            headers: vec![("Content-Type".into(), "application/json".into())],
            body: body.as_bytes().to_vec(),
        };
        let parsed = serde_json::from_slice::<Value>(&resp.body).ok();
        ResponseRecord::of(&resp, parsed.as_ref()).body
    }

    #[test]
    fn private_keys_never_reach_the_record_however_they_are_spelled() {
        // Kept as received when nothing in it could be a private key.
        let plain = r#"{"Response": {"KeyId": "skey-1", "RequestId": "r"}}"#;
        assert_eq!(recorded(plain), plain);
        for body in [
            r#"{"Response": {"PrivateKey": "SECRET", "RequestId": "r"}}"#,
            r#"{"privatekey": "SECRET"}"#,
            // An escaped key, and a duplicate whose last value is not a string.
            r#"{"\u0050rivateKey": "SECRET"}"#,
            r#"{"P\u0072ivateKey": "SECRET", "P\u0072ivateKey": 1}"#,
            r#"{"PRIVATEKEY": "SECRET", "PrivateKey": 1}"#,
        ] {
            let got = recorded(body);
            assert!(!got.contains("SECRET"), "{body} recorded as {got}");
        }
    }
}
