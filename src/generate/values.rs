//! Values from the provider's named formats: well-formed ids and names, and the edge values
//! (length ± 1, wrong prefix, upper case) that boundary cases send.
//!
//! Every value is checked against the format's own pattern before it is used: a "valid" value
//! that does not match, or an "invalid" one that does, is dropped rather than sent with a wrong
//! expectation.
use crate::spec::Format;
use regex::Regex;

const LOWER_ALNUM: &[u8] = b"0123456789abcdefghijklmnopqrstuvwxyz";
const ALNUM: &[u8] = b"0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ";
const NAME: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";

/// A deterministic 64-bit hash (FNV-1a then splitmix64): stable across platforms and crate
/// versions, which `rand`'s generators do not promise.
pub fn stable_hash(parts: &[&str]) -> u64 {
    splitmix(hash_parts(FNV_OFFSET, parts))
}

/// A hash of leading parts, to finish with [`stable_hash_after`] several times:
/// `stable_hash_after(hash_prefix(&[a]), &[b, c]) == stable_hash(&[a, b, c])`.
pub fn hash_prefix(parts: &[&str]) -> u64 {
    hash_parts(FNV_OFFSET, parts)
}

pub fn stable_hash_after(prefix: u64, parts: &[&str]) -> u64 {
    splitmix(hash_parts(prefix, parts))
}

const FNV_OFFSET: u64 = 0xcbf2_9ce4_8422_2325;

fn hash_parts(mut h: u64, parts: &[&str]) -> u64 {
    for p in parts {
        for b in p.bytes().chain(std::iter::once(0xff)) {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
    }
    h
}

fn splitmix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// `len` characters from `alphabet`, derived from `salt`.
pub fn chars_from(alphabet: &[u8], len: usize, salt: u64) -> String {
    let mut out = String::with_capacity(len);
    push_chars(&mut out, alphabet, len, salt);
    out
}

/// `chars_from`, appended to `out`.
fn push_chars(out: &mut String, alphabet: &[u8], len: usize, salt: u64) {
    let mut state = salt;
    out.extend((0..len).map(|_| {
        state = splitmix(state);
        alphabet[(state % alphabet.len() as u64) as usize] as char
    }));
}

/// What the generator knows about one named format.
#[derive(Debug, Clone)]
pub struct FormatInfo {
    pub name: String,
    pub prefix: String,
    pub body_min: usize,
    pub body_max: Option<usize>,
    pub alphabet: &'static [u8],
    pub regex: Option<Regex>,
    pub examples: Vec<String>,
    /// The pattern is exactly the prefix, one character class equal to the alphabet and a
    /// length range holding the typical length: every value `make` builds matches it, so the
    /// pattern need not be run over them (ids are made for every case's world).
    made_match: bool,
}

impl FormatInfo {
    pub fn new(name: &str, f: &Format) -> FormatInfo {
        let (qmin, qmax) = trailing_quantifier(&f.pattern).unwrap_or((1, None));
        let (body_min, body_max) = match f.body_length {
            Some(n) => (n, Some(n)),
            None => (qmin, qmax),
        };
        let alphabet = match f.body_alphabet.as_deref() {
            Some("lower-alnum") => LOWER_ALNUM,
            Some("alnum") => ALNUM,
            _ => NAME,
        };
        let mut info = FormatInfo {
            name: name.to_string(),
            prefix: f.prefix.clone().unwrap_or_default(),
            body_min,
            body_max,
            alphabet,
            regex: Regex::new(&f.pattern).ok(),
            examples: f.examples.clone(),
            made_match: false,
        };
        info.made_match = info.is_id() && info.simple_id_pattern(&f.pattern);
        info
    }

    /// Whether `pattern` is `^<prefix>[<the alphabet>]<quantifier>$` with the typical length
    /// inside the quantifier's range.
    fn simple_id_pattern(&self, pattern: &str) -> bool {
        let classes: &[&str] = match self.alphabet {
            LOWER_ALNUM => &["[0-9a-z]", "[a-z0-9]"],
            ALNUM => &["[0-9a-zA-Z]", "[0-9A-Za-z]", "[a-zA-Z0-9]", "[A-Za-z0-9]"],
            _ => return false,
        };
        // A prefix of letters, digits, `-` and `_` stands for itself outside a class.
        let literal = self
            .prefix
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        let Some(rest) = pattern
            .strip_prefix('^')
            .and_then(|r| r.strip_prefix(self.prefix.as_str()))
            .filter(|_| literal)
        else {
            return false;
        };
        let Some(quantifier) = classes.iter().find_map(|c| rest.strip_prefix(c)) else {
            return false;
        };
        let Some((min, max)) = trailing_quantifier(quantifier) else {
            return false;
        };
        let whole = ["+$", "*$"].contains(&quantifier)
            || (quantifier.starts_with('{')
                && quantifier.ends_with("}$")
                && quantifier[1..quantifier.len() - 2]
                    .bytes()
                    .all(|b| b.is_ascii_digit() || b == b','));
        let len = self.typical_len();
        whole && len >= min && max.is_none_or(|m| len <= m)
    }

    pub fn matches(&self, v: &str) -> bool {
        self.regex.as_ref().is_none_or(|r| r.is_match(v))
    }

    /// Whether this is an id shape (a literal prefix) rather than a free name.
    pub fn is_id(&self) -> bool {
        !self.prefix.is_empty()
    }

    /// The body length well-formed values get: the fixed length, else a middle length.
    fn typical_len(&self) -> usize {
        match self.body_max {
            Some(max) if max == self.body_min => max,
            Some(max) => (self.body_min.max(8)).min(max).max(self.body_min),
            None => self.body_min.max(12),
        }
    }

    /// A well-formed value derived from `salt`.
    pub fn make(&self, salt: u64) -> Option<String> {
        for attempt in 0..8u64 {
            let s = salt.wrapping_add(attempt);
            let v = if self.is_id() {
                let len = self.typical_len();
                let mut v = String::with_capacity(self.prefix.len() + len);
                v.push_str(&self.prefix);
                push_chars(&mut v, self.alphabet, len, s);
                v
            } else {
                // Free names: a letter first (Alibaba names must start with one), short enough
                // for every documented maximum, only letters and digits.
                let len = self.typical_len().clamp(2, 10);
                let mut v = String::with_capacity(len);
                v.push_str("cc");
                push_chars(&mut v, NAME, len - 2, s);
                v
            };
            if self.made_match || self.matches(&v) {
                return Some(v);
            }
        }
        self.examples.iter().find(|e| self.matches(e)).cloned()
    }

    /// Edge values with a label and whether they are well-formed, all verified against the
    /// pattern. Ids: body length at the bounds and one past them, wrong prefix, upper case,
    /// prefix only. Names: longest allowed, one longer, an illegal character.
    pub fn edges(&self, salt: u64) -> Vec<Edge> {
        let mut out = Vec::new();
        let mut push = |label: &str, value: String, valid: bool| {
            if self.matches(&value) == valid && !out.iter().any(|e: &Edge| e.value == value) {
                out.push(Edge {
                    label: label.to_string(),
                    value,
                    valid,
                });
            }
        };
        let body = |len: usize| chars_from(self.alphabet, len, salt);
        if self.is_id() {
            let typical = self.typical_len();
            if self.body_min > 0 {
                push(
                    "length-minus-1",
                    format!("{}{}", self.prefix, body(self.body_min - 1)),
                    false,
                );
            }
            push(
                "length-min",
                format!("{}{}", self.prefix, body(self.body_min.max(1))),
                true,
            );
            if let Some(max) = self.body_max {
                push("length-max", format!("{}{}", self.prefix, body(max)), true);
                push(
                    "length-plus-1",
                    format!("{}{}", self.prefix, body(max + 1)),
                    false,
                );
            }
            let good = format!("{}{}", self.prefix, body(typical));
            let wrong_prefix = format!("x{}{}", &self.prefix[1..], body(typical));
            push("wrong-prefix", wrong_prefix, false);
            push("no-prefix", body(typical), false);
            push("upper-case", good.to_ascii_uppercase(), false);
            push("prefix-only", self.prefix.clone(), false);
            push(
                "illegal-char",
                format!("{}{}!", self.prefix, body(typical.saturating_sub(1))),
                false,
            );
        } else {
            if let Some(max) = self.body_max {
                let long = format!("cc{}", chars_from(NAME, max.saturating_sub(1), salt));
                push("length-max", long[..max.min(long.len())].to_string(), true);
                push(
                    "length-plus-1",
                    format!("cc{}", chars_from(NAME, max - 1, salt)),
                    false,
                );
            }
            push("illegal-char", format!("cc{}!x", body(4)), false);
            push("space", format!("cc {}", body(4)), false);
        }
        out
    }
}

/// One edge value of a format.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Edge {
    pub label: String,
    pub value: String,
    pub valid: bool,
}

/// The repetition bounds of the last character class in a pattern (`[0-9a-z]{8,32}$` → (8,
/// Some(32)), `+$` → (1, None)).
pub fn trailing_quantifier(pattern: &str) -> Option<(usize, Option<usize>)> {
    let re = Regex::new(r"(\{(\d+)(,(\d*))?\}|\+|\*)\)?\$?$").ok()?;
    let c = re.captures(pattern)?;
    match c.get(1)?.as_str() {
        "+" => Some((1, None)),
        "*" => Some((0, None)),
        _ => {
            let min: usize = c.get(2)?.as_str().parse().ok()?;
            let max = match c.get(3) {
                None => Some(min),
                Some(_) => c.get(4).and_then(|m| m.as_str().parse().ok()),
            };
            Some((min, max))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fmt(pattern: &str, prefix: Option<&str>, body_length: Option<usize>) -> Format {
        serde_json::from_value(serde_json::json!({
            "pattern": pattern, "examples": ["x"], "prefix": prefix, "body_length": body_length,
            "body_alphabet": "lower-alnum", "source": "inferred: test"
        }))
        .unwrap()
    }

    #[test]
    fn quantifiers() {
        assert_eq!(
            trailing_quantifier("^i-[0-9a-z]{8,32}$"),
            Some((8, Some(32)))
        );
        assert_eq!(trailing_quantifier("^ins-[0-9a-z]{8}$"), Some((8, Some(8))));
        assert_eq!(trailing_quantifier("^ssh-[0-9a-z]+$"), Some((1, None)));
        assert_eq!(
            trailing_quantifier("^[A-Za-z][A-Za-z0-9:_-]{1,127}$"),
            Some((1, Some(127)))
        );
    }

    #[test]
    fn fixed_length_id_edges() {
        let f = FormatInfo::new("cvm", &fmt("^ins-[0-9a-z]{8}$", Some("ins-"), Some(8)));
        let v = f.make(7).unwrap();
        assert!(v.starts_with("ins-") && v.len() == 12);
        assert_eq!(f.make(7), Some(v));
        let edges = f.edges(1);
        let labels: Vec<&str> = edges.iter().map(|e| e.label.as_str()).collect();
        assert!(labels.contains(&"length-minus-1"));
        assert!(labels.contains(&"length-plus-1"));
        assert!(labels.contains(&"wrong-prefix"));
        assert!(labels.contains(&"upper-case"));
        assert!(edges.iter().all(|e| f.matches(&e.value) == e.valid));
    }

    #[test]
    fn stable_hash_is_stable() {
        assert_eq!(stable_hash(&["a", "b"]), stable_hash(&["a", "b"]));
        assert_ne!(stable_hash(&["ab"]), stable_hash(&["a", "b"]));
    }

    #[test]
    fn a_hash_prefix_continues_to_the_same_hash() {
        let p = hash_prefix(&["tencent/cvm/DeleteKeyPairs/valid/minimal"]);
        assert_eq!(
            stable_hash_after(p, &["k1", "key_pair"]),
            stable_hash(&["tencent/cvm/DeleteKeyPairs/valid/minimal", "k1", "key_pair"])
        );
    }

    /// Only patterns that are exactly prefix, alphabet and a length range that holds the
    /// typical length skip the regex; everything `make` builds still matches the pattern.
    #[test]
    fn made_values_skip_the_pattern_only_when_it_cannot_fail() {
        for (pattern, prefix, body_length, exact) in [
            ("^ins-[0-9a-z]{8}$", "ins-", Some(8), true),
            ("^i-[0-9a-z]{8,32}$", "i-", None, true),
            ("^ssh-[0-9a-z]+$", "ssh-", None, true),
            ("^ssh-[a-z0-9]*$", "ssh-", None, true),
            // Length 12 outside the range.
            ("^ins-[0-9a-z]{8}$", "ins-", Some(12), false),
            // A narrower class, another prefix, anything after the class.
            ("^ins-[0-9a-f]{8}$", "ins-", Some(8), false),
            ("^inst-[0-9a-z]{8}$", "ins-", Some(8), false),
            ("^ins-[0-9a-z]{8}x$", "ins-", Some(8), false),
            ("^ins-[0-9a-z]{8}(-[a-z]+)?$", "ins-", Some(8), false),
            ("ins-[0-9a-z]{8}$", "ins-", Some(8), false),
        ] {
            let f = FormatInfo::new("f", &fmt(pattern, Some(prefix), body_length));
            assert_eq!(
                f.made_match, exact,
                "{pattern} with body length {body_length:?}"
            );
            for salt in 0..200 {
                if let Some(v) = f.make(salt) {
                    assert!(f.matches(&v), "{pattern}: made {v}");
                }
            }
        }
    }
}
