//! `boundary` cases: each item limit at N (valid) and N+1 (rejected), zero and one item,
//! duplicates, string lengths, and id/name format edges from the provider's formats.
use super::base::{self, Base, Shape};
use super::valid::{case_with, success};
use super::{CaseKind, Cover, Ctx, Expect};
use crate::spec::{ParamType, Trigger, Violation};
use serde_json::{json, Value};

/// The expectation for a violation, or a bare rejection when the spec demands one but names no
/// code (`None` when neither: the case is not generated).
fn reject(ctx: &Ctx, param: &str, v: Violation, demanded: bool) -> Option<Expect> {
    ctx.expect_trigger(&ctx.param_trigger(param, v))
        .or(if demanded {
            Some(Expect::Rejected {
                rule: format!("{}#/parameters/{}", ctx.file, param_index(ctx, param)),
            })
        } else {
            None
        })
}

pub(crate) fn param_index(ctx: &Ctx, name: &str) -> usize {
    ctx.action
        .parameters
        .iter()
        .position(|p| p.name == name)
        .unwrap_or(0)
}

pub(crate) fn cases(ctx: &Ctx, out: &mut Vec<super::Case>) {
    for style in &ctx.styles {
        for p in &ctx.action.parameters {
            let lim = |l: &str| Cover::Limit {
                parameter: p.name.clone(),
                limit: l.to_string(),
            };
            let boundary = |name: String, title: String, b: Base, e: Expect, limit: &str| {
                case_with(
                    ctx,
                    CaseKind::Boundary,
                    &name,
                    title,
                    b.world,
                    b.params,
                    style,
                    e,
                    vec![lim(limit)],
                )
            };
            // Make sure the parameter is present even when optional.
            let shape_for = |n: Option<usize>| {
                let mut s = Shape {
                    full: !p.required,
                    ..Shape::default()
                };
                for g in &ctx.action.one_of {
                    if g.parameters.contains(&p.name) {
                        s.choose.insert(g.id.clone(), vec![p.name.clone()]);
                    }
                }
                if let Some(n) = n {
                    s = s.count(&p.name, n);
                }
                s
            };
            if p.ty == ParamType::Array {
                let min = p.min_items.unwrap_or(if p.required { 1 } else { 0 });
                if let Some(max) = p.max_items {
                    let b = base::build(ctx, &shape_for(Some(max)));
                    let e = success(ctx, &b.params);
                    out.push(boundary(
                        format!("{}-{max}", p.name),
                        format!("{} with {max} items (the maximum)", p.name),
                        b,
                        e,
                        "max_items",
                    ));
                    if let Some(e) = reject(ctx, &p.name, Violation::TooMany, true) {
                        let b = base::build(ctx, &shape_for(Some(max + 1)));
                        out.push(boundary(
                            format!("{}-{}", p.name, max + 1),
                            format!("{} with {} items (one over the maximum)", p.name, max + 1),
                            b,
                            e,
                            "max_items",
                        ));
                    }
                }
                if p.max_items != Some(1) {
                    let b = base::build(ctx, &shape_for(Some(1)));
                    let e = success(ctx, &b.params);
                    out.push(boundary(
                        format!("{}-1", p.name),
                        format!("{} with one item", p.name),
                        b,
                        e,
                        "min_items",
                    ));
                }
                // Zero items.
                let zero = if min > 0 {
                    reject(ctx, &p.name, Violation::TooFew, false)
                        .or_else(|| reject(ctx, &p.name, Violation::Empty, true))
                } else {
                    None
                };
                if let Some(e) = zero {
                    let mut b = base::build(ctx, &shape_for(None));
                    b.params.insert(p.name.clone(), json!([]));
                    out.push(boundary(
                        format!("{}-0", p.name),
                        format!("{} with zero items", p.name),
                        b,
                        e,
                        "min_items",
                    ));
                }
                // Duplicates.
                let b = base::build(ctx, &shape_for(None));
                if let Some(Value::Array(items)) = b.params.get(&p.name).cloned() {
                    if let Some(first) = items.first() {
                        // A repeated item is a fault only where the spec says so for this
                        // parameter (unique_items, or its own duplicate trigger); the provider's
                        // generic `*` duplicate code does not make every list unique.
                        let declared = p.unique_items
                            || ctx.action.errors.iter().any(|e| {
                                e.triggers.iter().any(|t| {
                                    matches!(t, Trigger::Parameter { parameter, violation: Violation::Duplicate, .. } if parameter == &p.name)
                                })
                            });
                        let dup = if declared {
                            reject(ctx, &p.name, Violation::Duplicate, p.unique_items)
                        } else {
                            None
                        };
                        let mut b = b.clone();
                        b.params
                            .insert(p.name.clone(), json!([first.clone(), first.clone()]));
                        let e = dup.unwrap_or_else(|| {
                            // No page says how a repeated item is treated (each seed spec's
                            // `*-duplicate-ids` discrepancy): success is the harness's reading,
                            // so a rejection is a divergence; item counts are not asserted.
                            match success(ctx, &b.params) {
                                Expect::Success {
                                    effects,
                                    capture,
                                    or_error,
                                    ..
                                } => Expect::Success {
                                    effects,
                                    batch: None,
                                    capture,
                                    evidence: crate::spec::Evidence::Inferred,
                                    source: format!(
                                        "inferred: no source says how a repeated {} item is treated",
                                        p.name
                                    ),
                                    or_error,
                                },
                                other => other,
                            }
                        });
                        out.push(boundary(
                            format!("{}-duplicate", p.name),
                            format!("{} naming the same item twice", p.name),
                            b,
                            e,
                            "unique_items",
                        ));
                    }
                }
            }
            if p.ty == ParamType::String && p.references.is_none() {
                if let Some(max) = p.max_length {
                    let b = base::build(ctx, &shape_for(None));
                    let mut ok = b.clone();
                    ok.params.insert(p.name.clone(), json!("c".repeat(max)));
                    let e = success(ctx, &ok.params);
                    out.push(boundary(
                        format!("{}-length-{max}", p.name),
                        format!("{} of {max} characters (the maximum)", p.name),
                        ok,
                        e,
                        "max_length",
                    ));
                    if let Some(e) = reject(ctx, &p.name, Violation::TooLong, true) {
                        let mut bad = b.clone();
                        bad.params
                            .insert(p.name.clone(), json!("c".repeat(max + 1)));
                        out.push(boundary(
                            format!("{}-length-{}", p.name, max + 1),
                            format!("{} one character too long", p.name),
                            bad,
                            e,
                            "max_length",
                        ));
                    }
                }
            }
            // An empty item (or an empty string).
            if let Some(e) = ctx.expect_trigger(&ctx.param_trigger(&p.name, Violation::Empty)) {
                let mut b = base::build(ctx, &shape_for(None));
                let (label, value) = match b.params.get(&p.name) {
                    Some(Value::Array(items)) => {
                        let mut items = items.clone();
                        if let Some(first) = items.first_mut() {
                            *first = json!("");
                        }
                        ("empty-item", Value::Array(items))
                    }
                    _ => ("empty", json!("")),
                };
                b.params.insert(p.name.clone(), value);
                out.push(boundary(
                    format!("{}-{label}", p.name),
                    format!("{} with an empty string", p.name),
                    b,
                    e,
                    "min_length",
                ));
            }
            // Format edges (ids and names).
            if let Some(f) = ctx.format_of(p) {
                let salt = ctx.salt(&[&p.name, "edge"]);
                // No documented code: the value must still be rejected.
                let fallback = reject(ctx, &p.name, Violation::Format, true);
                for edge in f.edges(salt).into_iter().filter(|e| !e.valid) {
                    let Some(e) =
                        reject(ctx, &p.name, Violation::Format, false).or_else(|| fallback.clone())
                    else {
                        continue;
                    };
                    let mut b = base::build(ctx, &shape_for(None));
                    let value = match b.params.get(&p.name) {
                        Some(Value::Array(items)) => {
                            let mut items = items.clone();
                            if items.is_empty() {
                                items.push(json!(edge.value));
                            } else {
                                items[0] = json!(edge.value);
                            }
                            Value::Array(items)
                        }
                        _ => json!(edge.value),
                    };
                    b.params.insert(p.name.clone(), value);
                    out.push(boundary(
                        format!("{}-{}", p.name, edge.label),
                        format!("{} {} ({}): {}", p.name, f.name, edge.label, edge.value),
                        b,
                        e,
                        "format",
                    ));
                }
            }
        }
    }
}
