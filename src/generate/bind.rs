//! Bindings: the concrete ids and names a realised world gave each symbol of a case, and the
//! substitution of `${sym}`, `${sym.name}` and `${region}` placeholders in parameters.
use serde_json::Value;
use std::collections::BTreeMap;

/// One realised object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bound {
    pub id: String,
    pub name: String,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Bindings {
    pub region: String,
    pub objects: BTreeMap<String, Bound>,
    /// Values captured from earlier steps' responses (scenarios).
    pub captured: BTreeMap<String, String>,
}

impl Bindings {
    fn lookup(&self, key: &str) -> Option<String> {
        if key == "region" {
            return Some(self.region.clone());
        }
        if let Some(v) = self.captured.get(key) {
            return Some(v.clone());
        }
        match key.split_once('.') {
            Some((sym, "name")) => self.objects.get(sym).map(|b| b.name.clone()),
            Some((sym, "id")) => self.objects.get(sym).map(|b| b.id.clone()),
            _ => self.objects.get(key).map(|b| b.id.clone()),
        }
    }

    /// Replace every `${...}` this binding knows inside a string.
    pub fn subst_str(&self, s: &str) -> String {
        let mut out = String::with_capacity(s.len());
        let mut rest = s;
        while let Some(start) = rest.find("${") {
            out.push_str(&rest[..start]);
            let after = &rest[start + 2..];
            match after.find('}') {
                Some(end) => {
                    let key = &after[..end];
                    match self.lookup(key) {
                        Some(v) => out.push_str(&v),
                        None => out.push_str(&rest[start..start + 3 + end]),
                    }
                    rest = &after[end + 1..];
                }
                None => {
                    out.push_str(&rest[start..]);
                    rest = "";
                }
            }
        }
        out.push_str(rest);
        out
    }

    pub fn substitute(&self, v: &Value) -> Value {
        match v {
            Value::String(s) => Value::String(self.subst_str(s)),
            Value::Array(a) => Value::Array(a.iter().map(|x| self.substitute(x)).collect()),
            Value::Object(o) => Value::Object(
                o.iter()
                    .map(|(k, x)| (k.clone(), self.substitute(x)))
                    .collect(),
            ),
            other => other.clone(),
        }
    }

    /// Concrete value → placeholder, longest first (for redaction that keeps relationships).
    pub fn reverse(&self) -> Vec<(String, String)> {
        let mut out: Vec<(String, String)> = Vec::new();
        for (sym, b) in &self.objects {
            out.push((b.id.clone(), format!("${{{sym}}}")));
            if b.name != b.id {
                out.push((b.name.clone(), format!("${{{sym}.name}}")));
            }
        }
        for (k, v) in &self.captured {
            out.push((v.clone(), format!("${{{k}}}")));
        }
        out.retain(|(c, _)| c.len() >= 3);
        out.sort_by(|a, b| b.0.len().cmp(&a.0.len()).then(a.0.cmp(&b.0)));
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn substitutes_ids_names_and_region() {
        let mut b = Bindings {
            region: "ap-guangzhou".into(),
            ..Default::default()
        };
        b.objects.insert(
            "k1".into(),
            Bound {
                id: "skey-aaaa1111".into(),
                name: "cckey".into(),
            },
        );
        let v = json!({"KeyIds": ["${k1}"], "N": "${k1.name}", "R": "${region}", "X": "${zz}"});
        assert_eq!(
            b.substitute(&v),
            json!({"KeyIds": ["skey-aaaa1111"], "N": "cckey", "R": "ap-guangzhou", "X": "${zz}"})
        );
    }
}
