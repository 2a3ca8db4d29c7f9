//! Spec-driven parameter validation: the received parameters, typed and checked against the
//! action's parameter list (types, required, item counts, formats, uniqueness, lengths, enums,
//! boolean spellings, wire encodings) and one-of groups. A failure is a [`Violation`] in the
//! spec's trigger vocabulary; which code answers it is looked up in the spec, never coded here.
use crate::spec::{
    ActionSpec, OneOfViolation, ParamEncoding, ParamType, Parameter, ProtocolCondition, Provider,
    ProviderSpec, Reference, SpecSet, Trigger, Violation as V,
};
use crate::wire::decode::{self, IndexProblem, WireParams};
use regex::Regex;
use serde_json::Value;
use std::collections::{BTreeMap, HashMap, HashSet};

/// Typed parameter values by name: strings, integers, booleans, arrays of those.
pub type Params = BTreeMap<String, Value>;

/// A broken rule, with what to tell the client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violation {
    pub trigger: Trigger,
    pub detail: String,
}

impl Violation {
    pub fn parameter(name: &str, violation: V, detail: impl Into<String>) -> Violation {
        Violation {
            trigger: Trigger::Parameter {
                parameter: name.to_string(),
                violation,
                note: None,
                evidence: None,
            },
            detail: detail.into(),
        }
    }

    pub fn protocol(condition: ProtocolCondition, detail: impl Into<String>) -> Violation {
        Violation {
            trigger: Trigger::Protocol {
                condition,
                note: None,
                evidence: None,
            },
            detail: detail.into(),
        }
    }

    pub fn precondition(id: &str, detail: impl Into<String>) -> Violation {
        Violation {
            trigger: Trigger::Precondition {
                precondition: id.to_string(),
                note: None,
                evidence: None,
            },
            detail: detail.into(),
        }
    }
}

/// Every provider format's pattern, compiled once when the emulator is built and shared by
/// every request (no lock, no per-request key).
#[derive(Debug, Default)]
pub struct Formats {
    compiled: BTreeMap<Provider, HashMap<String, Option<Regex>>>,
}

impl Formats {
    /// Compile the formats of every provider in `specs` (a pattern that does not compile is
    /// kept as `None` and accepts everything: the linter reports those).
    pub fn compile(specs: &SpecSet) -> Formats {
        let compiled = specs
            .providers()
            .map(|p| {
                let formats = p
                    .formats
                    .iter()
                    .map(|(name, f)| (name.clone(), Regex::new(&f.pattern).ok()))
                    .collect();
                (p.provider, formats)
            })
            .collect();
        Formats { compiled }
    }

    /// Whether `value` matches the provider format `name` (an unknown or uncompilable format
    /// accepts everything).
    pub fn matches(&self, provider: &ProviderSpec, name: &str, value: &str) -> bool {
        self.compiled
            .get(&provider.provider)
            .and_then(|formats| formats.get(name))
            .and_then(Option::as_ref)
            .is_none_or(|r| r.is_match(value))
    }
}

/// Whether a value names an existing resource (the world's answer for `references`).
pub type Known<'a> = dyn Fn(&Reference, &str) -> bool + 'a;

/// Everything validation needs besides the parameters.
pub struct Context<'a> {
    pub provider: &'a ProviderSpec,
    pub action: &'a ActionSpec,
    pub formats: &'a Formats,
    /// Formats in the specs are inferred (no provider documents a regex), and real SDK traffic
    /// carries names and ids outside them (the captures' `skey-a b*~'()!/中+&=`). A value that
    /// names an existing resource is therefore never rejected for its format.
    pub known: &'a Known<'a>,
}

/// Parameters the request sent that the action does not define: `Some(name)` of the first one.
/// The action's tolerated region parameter (ENS `RegionId` from aliyun-python-sdk-core) is not
/// unknown.
pub fn first_unknown(wire: &WireParams, action: &ActionSpec) -> Option<String> {
    let tolerated = action
        .region
        .parameter
        .as_deref()
        .filter(|_| action.region.tolerated);
    wire.names()
        .into_iter()
        .find(|name| {
            !action
                .parameters
                .iter()
                .any(|p| decode::belongs_to(name, &p.name))
                && Some(*name) != tolerated
        })
        .map(str::to_string)
}

/// Type and check every parameter. Returns the typed values of every parameter that typed
/// (absent ones are missing from the map) and the first violation, in spec parameter order.
pub fn check_parameters(wire: &WireParams, cx: &Context) -> (Params, Option<Violation>) {
    let mut params = Params::new();
    let mut first: Option<Violation> = None;
    for name in wire.repeated_names() {
        if let Some(p) = cx
            .action
            .parameters
            .iter()
            .find(|p| decode::belongs_to(&name, &p.name))
        {
            first.get_or_insert(Violation::parameter(
                &p.name,
                V::Duplicate,
                format!("The parameter `{name}` appears more than once."),
            ));
        }
    }
    for p in &cx.action.parameters {
        match typed(wire, p, cx) {
            Ok(Some(v)) => match check_value(p, &v, cx) {
                Ok(()) => {
                    params.insert(p.name.clone(), v);
                }
                Err(e) => {
                    first.get_or_insert(e);
                }
            },
            Ok(None) if p.required => {
                first.get_or_insert(Violation::parameter(
                    &p.name,
                    V::Missing,
                    format!("The parameter `{}` is required.", p.name),
                ));
            }
            Ok(None) => {}
            Err(e) => {
                first.get_or_insert(e);
            }
        }
    }
    (params, first)
}

/// One-of groups, judged on which parameters were sent.
pub fn check_one_of(wire: &WireParams, action: &ActionSpec) -> Option<Violation> {
    let names = wire.names();
    for group in &action.one_of {
        let present = group
            .parameters
            .iter()
            .filter(|p| names.iter().any(|n| decode::belongs_to(n, p)))
            .count();
        let detail = || {
            format!(
                "Specify {} of {}.",
                match group.at_most {
                    Some(1) => "exactly one".to_string(),
                    Some(n) => format!("{}..{n}", group.at_least),
                    None => format!("at least {}", group.at_least),
                },
                group.parameters.join(", ")
            )
        };
        let violation = if present < group.at_least {
            Some(OneOfViolation::None)
        } else if group.at_most.is_some_and(|m| present > m) {
            Some(OneOfViolation::Several)
        } else {
            None
        };
        if let Some(violation) = violation {
            return Some(Violation {
                trigger: Trigger::OneOf {
                    group: group.id.clone(),
                    violation,
                    note: None,
                    evidence: None,
                },
                detail: detail(),
            });
        }
    }
    None
}

fn type_error(p: &Parameter, why: impl Into<String>) -> Violation {
    Violation::parameter(&p.name, V::Type, why)
}

/// The parameter's value as a typed JSON value (`Ok(None)` when not sent).
fn typed(wire: &WireParams, p: &Parameter, cx: &Context) -> Result<Option<Value>, Violation> {
    match wire {
        WireParams::Json(members) => {
            let Some((_, v)) = members.iter().rev().find(|(k, _)| *k == p.name) else {
                return Ok(None);
            };
            typed_json(p, v).map(Some)
        }
        WireParams::Text(pairs) => typed_text(pairs, p, cx),
    }
}

fn typed_json(p: &Parameter, v: &Value) -> Result<Value, Violation> {
    let expected =
        |what: &str| type_error(p, format!("The parameter `{}` must be {what}.", p.name));
    match p.ty {
        ParamType::Array => {
            let items = match (v, p.encoding) {
                (Value::Array(items), _) => items.clone(),
                (Value::String(s), Some(ParamEncoding::JsonString)) => {
                    return json_string_array(p, s)
                }
                _ => return Err(expected("an array")),
            };
            let item_ty = p.items.as_ref().map(|i| i.ty).unwrap_or(ParamType::String);
            for item in &items {
                let ok = match item_ty {
                    ParamType::String => item.is_string(),
                    ParamType::Integer => item.as_i64().is_some(),
                    ParamType::Boolean => item.is_boolean(),
                    ParamType::Array => item.is_array(),
                    ParamType::Object => item.is_object(),
                };
                if !ok {
                    return Err(expected("an array of the documented item type"));
                }
            }
            Ok(Value::Array(items))
        }
        ParamType::String => v
            .is_string()
            .then(|| v.clone())
            .ok_or_else(|| expected("a string")),
        ParamType::Integer => v
            .as_i64()
            .map(Value::from)
            .ok_or_else(|| expected("an integer")),
        // Spellings apply to text; a JSON body carries native booleans.
        ParamType::Boolean => v
            .is_boolean()
            .then(|| v.clone())
            .ok_or_else(|| expected("a boolean")),
        ParamType::Object => v
            .is_object()
            .then(|| v.clone())
            .ok_or_else(|| expected("an object")),
    }
}

/// A boolean in text: the provider's documented spellings, compared case-insensitively
/// (`true`, `True`, `TRUE` all arrive from Tencent SDKs and docs).
fn boolean(cx: &Context, s: &str) -> Option<Value> {
    let b = &cx.provider.boolean_spellings;
    if b.truthy.iter().any(|t| t.eq_ignore_ascii_case(s)) {
        Some(Value::Bool(true))
    } else if b.falsy.iter().any(|f| f.eq_ignore_ascii_case(s)) {
        Some(Value::Bool(false))
    } else {
        None
    }
}

fn json_string_array(p: &Parameter, text: &str) -> Result<Value, Violation> {
    if text.trim().is_empty() {
        return Err(Violation::parameter(
            &p.name,
            V::Empty,
            format!("The parameter `{}` is empty.", p.name),
        ));
    }
    let parsed: Value = serde_json::from_str(text).map_err(|e| {
        Violation::parameter(
            &p.name,
            V::MalformedJson,
            format!("The parameter `{}` is not a JSON array: {e}.", p.name),
        )
    })?;
    match parsed {
        Value::Array(items) if items.iter().all(Value::is_string) => Ok(Value::Array(items)),
        Value::Array(_) => Err(type_error(
            p,
            format!(
                "The parameter `{}` must be a JSON array of strings.",
                p.name
            ),
        )),
        _ => Err(type_error(
            p,
            format!("The parameter `{}` must be a JSON array.", p.name),
        )),
    }
}

fn typed_text(
    pairs: &[(String, String)],
    p: &Parameter,
    cx: &Context,
) -> Result<Option<Value>, Violation> {
    let bare = pairs
        .iter()
        .rev()
        .find(|(k, _)| *k == p.name)
        .map(|(_, v)| v.as_str());
    let flat = |base: usize| match decode::indexed(pairs, &p.name, base) {
        Ok(found) => {
            Ok(found.map(|items| Value::Array(items.into_iter().map(Value::String).collect())))
        }
        Err(IndexProblem::Mixed) => Err(type_error(
            p,
            format!(
                "The parameter `{}` is an array: send it as `{}.{base}`, `{}.{}`, ….",
                p.name,
                p.name,
                p.name,
                base + 1
            ),
        )),
        Err(IndexProblem::NotContiguous) => Err(type_error(
            p,
            format!(
                "The items of `{}` must be numbered from {base} without gaps.",
                p.name
            ),
        )),
    };
    let object_items = p.items.as_ref().is_some_and(|i| i.ty == ParamType::Object);
    let nested = |base: usize| match decode::unflatten(pairs, &p.name, base) {
        Ok(v) => Ok(v),
        Err(_) => Err(type_error(
            p,
            format!(
                "The items of `{}` must be numbered from {base} without gaps (`{}.{base}.Field`).",
                p.name, p.name
            ),
        )),
    };
    let value = match p.ty {
        ParamType::Array if object_items => match p.encoding.unwrap_or(ParamEncoding::Native) {
            ParamEncoding::RepeatList => nested(1)?,
            ParamEncoding::JsonString => match bare {
                None => None,
                Some(text) => Some(serde_json::from_str(text).map_err(|e| {
                    Violation::parameter(&p.name, V::MalformedJson, format!("`{}`: {e}", p.name))
                })?),
            },
            _ => nested(0)?,
        },
        ParamType::Array => match p.encoding.unwrap_or(ParamEncoding::Native) {
            ParamEncoding::Native => flat(0)?,
            ParamEncoding::RepeatList => flat(1)?,
            ParamEncoding::JsonString => match bare {
                None => None,
                Some(text) => Some(json_string_array(p, text)?),
            },
            ParamEncoding::CommaJoined => bare.map(|text| {
                Value::Array(
                    text.split(',')
                        .filter(|s| !s.is_empty())
                        .map(|s| Value::String(s.to_string()))
                        .collect(),
                )
            }),
        },
        _ => match bare {
            None => None,
            Some("") => {
                return Err(Violation::parameter(
                    &p.name,
                    V::Empty,
                    format!("The parameter `{}` is empty.", p.name),
                ))
            }
            Some(text) => Some(match p.ty {
                ParamType::String => Value::String(text.to_string()),
                ParamType::Integer => text.parse::<i64>().map(Value::from).map_err(|_| {
                    type_error(p, format!("The parameter `{}` must be an integer.", p.name))
                })?,
                ParamType::Boolean => boolean(cx, text).ok_or_else(|| {
                    type_error(
                        p,
                        format!(
                            "The parameter `{}` must be one of {} / {}.",
                            p.name,
                            cx.provider.boolean_spellings.truthy.join(", "),
                            cx.provider.boolean_spellings.falsy.join(", ")
                        ),
                    )
                })?,
                ParamType::Array | ParamType::Object => {
                    return Err(type_error(
                        p,
                        format!("`{}` cannot be sent as a single value.", p.name),
                    ))
                }
            }),
        },
    };
    Ok(value)
}

fn format_ok(p: &Parameter, format: Option<&str>, value: &str, cx: &Context) -> bool {
    match format {
        None => true,
        Some(f) => {
            cx.formats.matches(cx.provider, f, value)
                || p.references.as_ref().is_some_and(|r| (cx.known)(r, value))
        }
    }
}

/// Limits on a typed value.
fn check_value(p: &Parameter, v: &Value, cx: &Context) -> Result<(), Violation> {
    let name = &p.name;
    match v {
        Value::Array(items) => {
            if let Some(min) = p.min_items {
                if items.len() < min {
                    return Err(Violation::parameter(
                        name,
                        V::TooFew,
                        format!(
                            "`{name}` needs at least {min} item(s), got {}.",
                            items.len()
                        ),
                    ));
                }
            }
            if let Some(max) = p.max_items {
                if items.len() > max {
                    return Err(Violation::parameter(
                        name,
                        V::TooMany,
                        format!("`{name}` takes at most {max} items, got {}.", items.len()),
                    ));
                }
            }
            let item_spec = p.items.as_ref();
            for item in items {
                let Some(s) = item.as_str() else { continue };
                if s.is_empty() {
                    return Err(Violation::parameter(
                        name,
                        V::Empty,
                        format!("`{name}` contains an empty item."),
                    ));
                }
                if !format_ok(p, item_spec.and_then(|i| i.format.as_deref()), s, cx) {
                    return Err(Violation::parameter(
                        name,
                        V::Format,
                        format!("The value `{s}` of `{name}` is malformed."),
                    ));
                }
                length(
                    name,
                    s,
                    item_spec.and_then(|i| i.min_length),
                    item_spec.and_then(|i| i.max_length),
                )?;
            }
            if p.unique_items {
                let mut seen = HashSet::new();
                if let Some(dup) = items.iter().find(|i| !seen.insert(i.to_string())) {
                    return Err(Violation::parameter(
                        name,
                        V::Duplicate,
                        format!("`{name}` lists {dup} more than once."),
                    ));
                }
            }
        }
        Value::String(s) => {
            if !format_ok(p, p.format.as_deref(), s, cx) {
                return Err(Violation::parameter(
                    name,
                    V::Format,
                    format!("The value `{s}` of `{name}` is malformed."),
                ));
            }
            length(name, s, p.min_length, p.max_length)?;
        }
        Value::Number(n) => {
            let n = n.as_i64().unwrap_or_default();
            if p.minimum.is_some_and(|m| n < m) || p.maximum.is_some_and(|m| n > m) {
                return Err(Violation::parameter(
                    name,
                    V::OutOfRange,
                    format!(
                        "`{name}` must lie in {}..{}.",
                        p.minimum.map(|m| m.to_string()).unwrap_or_default(),
                        p.maximum.map(|m| m.to_string()).unwrap_or_default()
                    ),
                ));
            }
        }
        _ => {}
    }
    if !p.allowed.is_empty() && !p.allowed.iter().any(|a| loose_eq(a, v)) {
        return Err(Violation::parameter(
            name,
            V::Enum,
            format!(
                "`{name}` must be one of {}.",
                p.allowed
                    .iter()
                    .map(|a| a.to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        ));
    }
    Ok(())
}

fn length(name: &str, s: &str, min: Option<usize>, max: Option<usize>) -> Result<(), Violation> {
    let n = s.chars().count();
    if min.is_some_and(|m| n < m) {
        return Err(Violation::parameter(
            name,
            V::TooShort,
            format!(
                "`{name}` is shorter than {} characters.",
                min.unwrap_or_default()
            ),
        ));
    }
    if max.is_some_and(|m| n > m) {
        return Err(Violation::parameter(
            name,
            V::TooLong,
            format!(
                "`{name}` is longer than {} characters.",
                max.unwrap_or_default()
            ),
        ));
    }
    Ok(())
}

/// Equality across the spellings a spec and a request may use (`true` vs `"true"`, `1` vs `"1"`).
pub fn loose_eq(a: &Value, b: &Value) -> bool {
    if a == b {
        return true;
    }
    let text = |v: &Value| match v {
        Value::String(s) => s.to_ascii_lowercase(),
        other => other.to_string().to_ascii_lowercase(),
    };
    !a.is_array() && !b.is_array() && text(a) == text(b)
}

/// The violations to try, in order, when the spec has no code for the exact one: a more general
/// reading of the same fault.
pub fn fallbacks(v: V) -> &'static [V] {
    match v {
        V::Missing => &[V::Missing],
        V::Empty => &[V::Empty, V::Missing, V::MalformedJson, V::Format, V::Type],
        V::Type => &[V::Type, V::Format],
        V::Format => &[V::Format, V::Type],
        V::MalformedJson => &[V::MalformedJson, V::Type, V::Format],
        V::TooFew => &[V::TooFew, V::Missing, V::Type],
        V::TooMany => &[V::TooMany, V::Type],
        V::Duplicate => &[V::Duplicate, V::Type],
        V::Enum => &[V::Enum, V::Format, V::Type],
        V::TooLong => &[V::TooLong, V::Format, V::Type],
        V::TooShort => &[V::TooShort, V::Format, V::Type],
        V::OutOfRange => &[V::OutOfRange, V::Format, V::Type],
    }
}
