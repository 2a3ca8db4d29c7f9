//! Received request → parameters (the emulator's side of [`super`]).
//!
//! Pure wire parsing: form/query decoding with form semantics (`+` is a space, `%XX` strict
//! UTF-8), JSON bodies kept member by member (so a repeated member is visible), and gathering
//! flattened arrays (`Name.0`, `Name.1` … for Tencent, `Name.1` … for Alibaba RepeatList). What a
//! parameter *means* (its type, limits, encoding) is decided by the caller from the spec.
use serde::de::{Deserializer, MapAccess, Visitor};
use serde_json::Value;
use std::collections::BTreeMap;
use std::fmt;

/// Why received bytes could not be turned into parameters.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    #[error("{0} is not valid UTF-8 after percent-decoding")]
    InvalidUtf8(&'static str),
    #[error("request body is not valid JSON: {0}")]
    MalformedJson(String),
    #[error("request body is JSON but not an object")]
    NotAnObject,
}

/// Business and common parameters as they arrived.
#[derive(Debug, Clone, PartialEq)]
pub enum WireParams {
    /// Members of a JSON object body, in order; a repeated member appears twice.
    Json(Vec<(String, Value)>),
    /// Decoded `name=value` pairs of a query and/or form body, in order.
    Text(Vec<(String, String)>),
}

impl WireParams {
    /// Every name as received (with `.N` suffixes), in order.
    pub fn names(&self) -> Vec<&str> {
        match self {
            WireParams::Json(m) => m.iter().map(|(k, _)| k.as_str()).collect(),
            WireParams::Text(p) => p.iter().map(|(k, _)| k.as_str()).collect(),
        }
    }

    /// Names that appear more than once.
    pub fn repeated_names(&self) -> Vec<String> {
        let mut seen: BTreeMap<&str, usize> = BTreeMap::new();
        for n in self.names() {
            *seen.entry(n).or_default() += 1;
        }
        seen.into_iter()
            .filter(|(_, c)| *c > 1)
            .map(|(n, _)| n.to_string())
            .collect()
    }

    /// Remove every parameter called `name` (exactly), returning the last value as text.
    pub fn take_text(&mut self, name: &str) -> Option<String> {
        let mut found = None;
        match self {
            WireParams::Json(m) => m.retain(|(k, v)| {
                if k == name {
                    found = Some(match v {
                        Value::String(s) => s.clone(),
                        other => other.to_string(),
                    });
                    false
                } else {
                    true
                }
            }),
            WireParams::Text(p) => p.retain(|(k, v)| {
                if k == name {
                    found = Some(v.clone());
                    false
                } else {
                    true
                }
            }),
        }
        found
    }

    pub fn is_empty(&self) -> bool {
        match self {
            WireParams::Json(m) => m.is_empty(),
            WireParams::Text(p) => p.is_empty(),
        }
    }
}

/// Percent-decode one form component: `+` is a space, `%XX` bytes must form UTF-8.
pub fn form_component(input: &str, what: &'static str) -> Result<String, DecodeError> {
    // Most components (names, ids, numbers) hold nothing to decode.
    if !input.bytes().any(|b| b == b'%' || b == b'+') {
        return Ok(input.to_string());
    }
    let bytes: Vec<u8> = input
        .bytes()
        .map(|b| if b == b'+' { b' ' } else { b })
        .collect();
    percent_encoding::percent_decode(&bytes)
        .decode_utf8()
        .map(|c| c.into_owned())
        .map_err(|_| DecodeError::InvalidUtf8(what))
}

/// Decode `a=1&b=2` (query string or `application/x-www-form-urlencoded` body). Empty segments
/// are skipped; a segment without `=` is a name with an empty value.
pub fn form_pairs(input: &[u8], what: &'static str) -> Result<Vec<(String, String)>, DecodeError> {
    let text = std::str::from_utf8(input).map_err(|_| DecodeError::InvalidUtf8(what))?;
    let mut out = Vec::new();
    for segment in text.split('&').filter(|s| !s.is_empty()) {
        let (name, value) = segment.split_once('=').unwrap_or((segment, ""));
        out.push((form_component(name, what)?, form_component(value, what)?));
    }
    Ok(out)
}

/// Like [`form_pairs`], but never failing: bytes that are not UTF-8 become U+FFFD. For looking at
/// a request (which provider is it?) before deciding it is malformed.
pub fn form_pairs_lossy(input: &[u8]) -> Vec<(String, String)> {
    let decode = |part: &[u8]| {
        if !part.iter().any(|&b| b == b'%' || b == b'+') {
            return String::from_utf8_lossy(part).into_owned();
        }
        let bytes: Vec<u8> = part
            .iter()
            .map(|&b| if b == b'+' { b' ' } else { b })
            .collect();
        let raw: Vec<u8> = percent_encoding::percent_decode(&bytes).collect();
        String::from_utf8_lossy(&raw).into_owned()
    };
    input
        .split(|&b| b == b'&')
        .filter(|s| !s.is_empty())
        .map(|segment| match segment.iter().position(|&b| b == b'=') {
            Some(i) => (decode(&segment[..i]), decode(&segment[i + 1..])),
            None => (decode(segment), String::new()),
        })
        .collect()
}

/// The members of a JSON object body in order, repeated members kept.
pub fn json_members(body: &[u8]) -> Result<Vec<(String, Value)>, DecodeError> {
    struct Members;
    impl<'de> Visitor<'de> for Members {
        type Value = Option<Vec<(String, Value)>>;
        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str("a JSON object")
        }
        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
            let mut out = Vec::new();
            while let Some((k, v)) = map.next_entry::<String, Value>()? {
                out.push((k, v));
            }
            Ok(Some(out))
        }
        // Any other JSON value parses, but is not an object.
        fn visit_bool<E>(self, _: bool) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_i64<E>(self, _: i64) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_u64<E>(self, _: u64) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_f64<E>(self, _: f64) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_str<E>(self, _: &str) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_unit<E>(self) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_seq<A: serde::de::SeqAccess<'de>>(
            self,
            mut seq: A,
        ) -> Result<Self::Value, A::Error> {
            while seq.next_element::<serde::de::IgnoredAny>()?.is_some() {}
            Ok(None)
        }
    }
    let text = std::str::from_utf8(body).map_err(|_| DecodeError::InvalidUtf8("request body"))?;
    let mut de = serde_json::Deserializer::from_str(text);
    let members = de
        .deserialize_any(Members)
        .map_err(|e| DecodeError::MalformedJson(e.to_string()))?;
    de.end()
        .map_err(|e| DecodeError::MalformedJson(e.to_string()))?;
    members.ok_or(DecodeError::NotAnObject)
}

/// Why a flattened array could not be gathered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IndexProblem {
    /// Indexes do not run `base, base+1, …` without gaps (or one repeats).
    NotContiguous,
    /// The bare name was sent as well as indexed forms, or a nested `Name.N.Field`.
    Mixed,
}

/// Gather `name.N` pairs into a list ordered by N, requiring N to run from `base` without gaps.
/// `Ok(None)` when no `name.N` was sent.
pub fn indexed(
    pairs: &[(String, String)],
    name: &str,
    base: usize,
) -> Result<Option<Vec<String>>, IndexProblem> {
    let prefix = format!("{name}.");
    let mut items: Vec<(usize, &str)> = Vec::new();
    let mut mixed = false;
    for (k, v) in pairs {
        if k == name {
            mixed = true;
        } else if let Some(rest) = k.strip_prefix(&prefix) {
            match rest.parse::<usize>() {
                Ok(n) if rest.bytes().all(|b| b.is_ascii_digit()) => items.push((n, v)),
                _ => mixed = true,
            }
        }
    }
    if items.is_empty() {
        return if mixed {
            Err(IndexProblem::Mixed)
        } else {
            Ok(None)
        };
    }
    if mixed {
        return Err(IndexProblem::Mixed);
    }
    items.sort_by_key(|(n, _)| *n);
    for (i, (n, _)) in items.iter().enumerate() {
        if *n != base + i {
            return Err(IndexProblem::NotContiguous);
        }
    }
    Ok(Some(
        items.into_iter().map(|(_, v)| v.to_string()).collect(),
    ))
}

/// How many `.`-separated levels a flattened parameter may have below its name.
pub const MAX_FLATTENED_DEPTH: usize = 8;

/// Rebuild a flattened structure: `name.N.Field`, `name.N.Values.M` … into a JSON array of
/// objects (indexes from `base`, nested lists from the same base). `Ok(None)` when nothing
/// under `name.` was sent.
pub fn unflatten(
    pairs: &[(String, String)],
    name: &str,
    base: usize,
) -> Result<Option<Value>, IndexProblem> {
    let prefix = format!("{name}.");
    let mut root = Value::Null;
    let mut any = false;
    for (k, v) in pairs {
        if k == name {
            return Err(IndexProblem::Mixed);
        }
        let Some(rest) = k.strip_prefix(&prefix) else {
            continue;
        };
        any = true;
        let path: Vec<&str> = rest.split('.').collect();
        // Real structures are two or three levels deep (`Filters.0.Values.0`); a deeper path is
        // malformed, and refusing it keeps the recursion below bounded.
        if path.len() > MAX_FLATTENED_DEPTH {
            return Err(IndexProblem::Mixed);
        }
        insert_path(&mut root, &path, v, base)?;
    }
    if !any {
        return Ok(None);
    }
    let compact = compact(root, base)?;
    match compact {
        Value::Array(_) => Ok(Some(compact)),
        _ => Err(IndexProblem::Mixed),
    }
}

/// Numeric segments become map keys first ("#N") and arrays in [`compact`].
fn insert_path(
    node: &mut Value,
    path: &[&str],
    value: &str,
    base: usize,
) -> Result<(), IndexProblem> {
    let Some((head, rest)) = path.split_first() else {
        *node = Value::String(value.to_string());
        return Ok(());
    };
    if node.is_null() {
        *node = Value::Object(serde_json::Map::new());
    }
    let Value::Object(map) = node else {
        return Err(IndexProblem::Mixed);
    };
    let key = if head.bytes().all(|b| b.is_ascii_digit()) && !head.is_empty() {
        let n: usize = head.parse().map_err(|_| IndexProblem::NotContiguous)?;
        if n < base {
            return Err(IndexProblem::NotContiguous);
        }
        format!("#{n}")
    } else {
        head.to_string()
    };
    let child = map.entry(key).or_insert(Value::Null);
    if rest.is_empty() && !child.is_null() {
        return Err(IndexProblem::NotContiguous);
    }
    insert_path(child, rest, value, base)
}

fn compact(node: Value, base: usize) -> Result<Value, IndexProblem> {
    let Value::Object(map) = node else {
        return Ok(node);
    };
    let numeric = map.keys().filter(|k| k.starts_with('#')).count();
    if numeric == 0 {
        let mut out = serde_json::Map::new();
        for (k, v) in map {
            out.insert(k, compact(v, base)?);
        }
        return Ok(Value::Object(out));
    }
    if numeric != map.len() {
        return Err(IndexProblem::Mixed);
    }
    let mut items: Vec<(usize, Value)> = Vec::new();
    for (k, v) in map {
        let n: usize = k[1..].parse().map_err(|_| IndexProblem::NotContiguous)?;
        items.push((n, compact(v, base)?));
    }
    items.sort_by_key(|(n, _)| *n);
    for (i, (n, _)) in items.iter().enumerate() {
        if *n != base + i {
            return Err(IndexProblem::NotContiguous);
        }
    }
    Ok(Value::Array(items.into_iter().map(|(_, v)| v).collect()))
}

/// Whether `key` is `name` or `name.<anything>` (a parameter or one of its flattened parts).
pub fn belongs_to(key: &str, name: &str) -> bool {
    key == name
        || key
            .strip_prefix(name)
            .is_some_and(|rest| rest.starts_with('.'))
}

/// The media type of a Content-Type value, lower-cased, without parameters.
pub fn media_type(content_type: &str) -> String {
    content_type
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn form_semantics() {
        let pairs = form_pairs(b"a=x+y%2Az&KeyIds.0=skey-a%20b&empty=&flag", "query").unwrap();
        assert_eq!(
            pairs,
            vec![
                ("a".into(), "x y*z".into()),
                ("KeyIds.0".into(), "skey-a b".into()),
                ("empty".into(), "".into()),
                ("flag".into(), "".into()),
            ]
        );
        assert!(form_pairs(b"a=%FF", "query").is_err());
        assert!(form_pairs(b"a=\xff", "query").is_err());
        assert_eq!(
            form_pairs("k=%E4%B8%AD".as_bytes(), "q").unwrap()[0].1,
            "中"
        );
    }

    #[test]
    fn json_members_keep_repeats() {
        let m = json_members(br#"{"KeyIds": ["a"], "KeyIds": ["b"]}"#).unwrap();
        assert_eq!(m.len(), 2);
        assert_eq!(json_members(b"[1,2]"), Err(DecodeError::NotAnObject));
        assert_eq!(json_members(b"42"), Err(DecodeError::NotAnObject));
        assert!(matches!(
            json_members(b"{\"a\":"),
            Err(DecodeError::MalformedJson(_))
        ));
        assert!(matches!(
            json_members(b"{} {}"),
            Err(DecodeError::MalformedJson(_))
        ));
    }

    #[test]
    fn indexed_arrays() {
        let p = |s: &[u8]| form_pairs(s, "q").unwrap();
        assert_eq!(
            indexed(&p(b"K.1=b&K.0=a"), "K", 0).unwrap(),
            Some(vec!["a".into(), "b".into()])
        );
        assert_eq!(
            indexed(&p(b"K.1=b"), "K", 0),
            Err(IndexProblem::NotContiguous)
        );
        assert_eq!(
            indexed(&p(b"K.1=b&K.2=c"), "K", 1).unwrap().unwrap().len(),
            2
        );
        assert_eq!(indexed(&p(b"K=a"), "K", 0), Err(IndexProblem::Mixed));
        assert_eq!(
            indexed(&p(b"K.0=a&K.0=b"), "K", 0),
            Err(IndexProblem::NotContiguous)
        );
        assert_eq!(indexed(&p(b"Other.0=a"), "K", 0), Ok(None));
        assert!(belongs_to("K.0", "K") && belongs_to("K", "K") && !belongs_to("KX", "K"));
    }

    #[test]
    fn unflatten_nested() {
        let p = |s: &[u8]| form_pairs(s, "q").unwrap();
        let v = unflatten(
            &p(b"Filters.0.Name=key-name&Filters.0.Values.0=a&Filters.0.Values.1=b&Filters.1.Name=x"),
            "Filters",
            0,
        )
        .unwrap()
        .unwrap();
        assert_eq!(
            v,
            serde_json::json!([{"Name": "key-name", "Values": ["a", "b"]}, {"Name": "x"}])
        );
        let tags = unflatten(&p(b"Tag.1.Key=k&Tag.1.Value=v"), "Tag", 1)
            .unwrap()
            .unwrap();
        assert_eq!(tags, serde_json::json!([{"Key": "k", "Value": "v"}]));
        assert_eq!(
            unflatten(&p(b"F.1.Name=x"), "F", 0),
            Err(IndexProblem::NotContiguous)
        );
        assert_eq!(unflatten(&p(b"F.Name=x"), "F", 0), Err(IndexProblem::Mixed));
        assert_eq!(unflatten(&p(b"G.0=x"), "F", 0), Ok(None));
        let deep = format!("F.0{}=x", ".a".repeat(100_000));
        assert_eq!(
            unflatten(&p(deep.as_bytes()), "F", 0),
            Err(IndexProblem::Mixed)
        );
    }
}
