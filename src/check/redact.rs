//! Redaction for snapshots: request ids, timestamps, the endpoint, strings to sign and
//! generated ids become stable placeholders that keep their relationships (the same id is the
//! same placeholder everywhere; ids a case's world bound keep their `${sym}` names). Error
//! `Message` texts are not contractual ("Message text may change and must not be relied on",
//! tencent.md §4) and become `[message]`, so a rewording does not churn every snapshot.
use crate::generate::bind::Bindings;
use regex::Regex;
use serde_json::Value;
use std::collections::BTreeMap;
use std::sync::OnceLock;

fn timestamp_re() -> &'static Regex {
    static RE: OnceLock<Regex> = OnceLock::new();
    RE.get_or_init(|| {
        Regex::new(r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2})?(\.\d+)?(Z|[+-]\d{2}:?\d{2})?")
            .expect("valid regex")
    })
}

fn uuid_re() -> &'static Regex {
    static RE: OnceLock<Regex> = OnceLock::new();
    RE.get_or_init(|| {
        Regex::new(r"(?i)\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b")
            .expect("valid regex")
    })
}

fn signing_details_re() -> &'static Regex {
    static RE: OnceLock<Regex> = OnceLock::new();
    RE.get_or_init(|| {
        Regex::new(r"(?i)(server canonical request|string to sign( is)?)\s*:").expect("valid regex")
    })
}

fn loopback_re() -> &'static Regex {
    static RE: OnceLock<Regex> = OnceLock::new();
    RE.get_or_init(|| Regex::new(r"(127\.0\.0\.1|localhost|\[::1\]):\d+").expect("valid regex"))
}

fn generated_id_re() -> &'static Regex {
    static RE: OnceLock<Regex> = OnceLock::new();
    RE.get_or_init(|| {
        Regex::new(r"\b(skey|ins|ein|img|ssh|i|m)-[0-9a-z]{6,32}\b").expect("valid regex")
    })
}

/// Rewrites values into their stable form; one per snapshot so numbering starts afresh.
pub struct Redactor {
    known: Vec<(String, String)>,
    host: Option<String>,
    seen: BTreeMap<String, String>,
    request_ids: usize,
    generated: usize,
}

impl Redactor {
    pub fn new(bindings: &Bindings, host: Option<&str>) -> Redactor {
        Redactor {
            known: bindings.reverse(),
            host: host.map(str::to_string),
            seen: BTreeMap::new(),
            request_ids: 0,
            generated: 0,
        }
    }

    fn placeholder_for(&mut self, raw: &str, kind: &str) -> String {
        if let Some(p) = self.seen.get(raw) {
            return p.clone();
        }
        let p = match kind {
            "request-id" => {
                self.request_ids += 1;
                format!("[request-id-{}]", self.request_ids)
            }
            _ => {
                self.generated += 1;
                format!("[id-{}]", self.generated)
            }
        };
        self.seen.insert(raw.to_string(), p.clone());
        p
    }

    pub fn string(&mut self, key: Option<&str>, s: &str) -> String {
        if key == Some("RequestId") {
            return self.placeholder_for(s, "request-id");
        }
        if key.is_some_and(|k| k.to_ascii_lowercase().contains("private")) {
            return "[redacted]".into();
        }
        if key == Some("Message") && !s.is_empty() {
            return "[message]".into();
        }
        let mut out = s.to_string();
        // Signature diagnostics carry timestamps, nonces and digests: keep only their start.
        if let Some(m) = signing_details_re().find(&out) {
            let keep = m.end();
            out.truncate(keep);
            out.push_str(" [signing details]");
        }
        for (concrete, placeholder) in &self.known {
            if out.contains(concrete.as_str()) {
                out = out.replace(concrete.as_str(), placeholder);
            }
        }
        if let Some(h) = &self.host {
            out = out.replace(h.as_str(), "[host]");
        }
        out = loopback_re().replace_all(&out, "[host]").to_string();
        let seen: Vec<(String, String)> = self
            .seen
            .iter()
            .map(|(a, b)| (a.clone(), b.clone()))
            .collect();
        for (raw, p) in seen {
            out = out.replace(&raw, &p);
        }
        for m in uuid_re()
            .find_iter(&out.clone())
            .map(|m| m.as_str().to_string())
            .collect::<Vec<_>>()
        {
            let p = self.placeholder_for(&m, "request-id");
            out = out.replace(&m, &p);
        }
        out = timestamp_re().replace_all(&out, "[timestamp]").to_string();
        for m in generated_id_re()
            .find_iter(&out.clone())
            .map(|m| m.as_str().to_string())
            .collect::<Vec<_>>()
        {
            let p = self.placeholder_for(&m, "id");
            out = out.replace(&m, &p);
        }
        out
    }

    pub fn value(&mut self, key: Option<&str>, v: &Value) -> Value {
        match v {
            Value::String(s) => Value::String(self.string(key, s)),
            Value::Array(a) => Value::Array(a.iter().map(|x| self.value(key, x)).collect()),
            Value::Object(o) => {
                // Request ids first, so later mentions (Recommend URLs) reuse the placeholder.
                let mut out = serde_json::Map::new();
                if let Some(Value::String(id)) = o.get("RequestId") {
                    self.placeholder_for(id, "request-id");
                }
                for (k, x) in o {
                    out.insert(k.clone(), self.value(Some(k), x));
                }
                Value::Object(out)
            }
            other => other.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::generate::bind::Bound;
    use serde_json::json;

    #[test]
    fn keeps_relationships() {
        let mut b = Bindings::default();
        b.objects.insert(
            "i1".into(),
            Bound {
                id: "i-abcdefgh1234".into(),
                name: "i-abcdefgh1234".into(),
            },
        );
        let mut r = Redactor::new(&b, Some("127.0.0.1:4000"));
        let v = json!({
            "RequestId": "473469C7-AA6F-4DC5-B3DB-A3DC0DE3C83E",
            "Recommend": "https://x?requestId=473469C7-AA6F-4DC5-B3DB-A3DC0DE3C83E",
            "Results": [{"InstanceId": "i-abcdefgh1234"}, {"InstanceId": "i-zzzzzzzzzzzz"}],
            "Other": "i-zzzzzzzzzzzz at 2026-01-01T00:00:00Z on 127.0.0.1:4000"
        });
        let got = r.value(None, &v);
        assert_eq!(got["RequestId"], "[request-id-1]");
        assert_eq!(got["Recommend"], "https://x?requestId=[request-id-1]");
        assert_eq!(got["Results"][0]["InstanceId"], "${i1}");
        assert_eq!(got["Results"][1]["InstanceId"], "[id-1]");
        assert_eq!(got["Other"], "[id-1] at [timestamp] on [host]");
    }
}
