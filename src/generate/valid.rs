//! `valid` cases: minimal, full, each doc example, each one-of alternative, each request style
//! and signing method, each boolean spelling outside JSON.
use super::base::{self, Base, Shape};
use super::{single, BoolSpelling, Case, CaseKind, Cover, Ctx, Expect, Step, Wire};
use crate::spec::{Condition, ParamType};
use serde_json::{Map, Value};

pub(crate) fn step(ctx: &Ctx, params: Map<String, Value>, style: &str, expect: Expect) -> Step {
    Step {
        action: ctx.action.action.clone(),
        params,
        wire: Wire {
            style: Some(style.to_string()),
            ..Wire::default()
        },
        caller: Default::default(),
        expect,
    }
}

fn condition_holds(ctx: &Ctx, params: &Map<String, Value>, c: &Condition) -> bool {
    let given = params.get(&c.parameter).cloned().or_else(|| {
        ctx.action
            .parameter(&c.parameter)
            .and_then(|p| p.default.clone())
    });
    match given {
        Some(v) => loosely_equal(&v, &c.equals),
        None => false,
    }
}

/// Equality that treats `"true"` and `true` alike (spec conditions are written either way).
pub(crate) fn loosely_equal(a: &Value, b: &Value) -> bool {
    let norm = |v: &Value| match v {
        Value::String(s) => s.to_ascii_lowercase(),
        other => other.to_string().to_ascii_lowercase(),
    };
    norm(a) == norm(b)
}

/// Success with the effects whose conditions hold and the batch size of the `over` parameter.
pub(crate) fn success(ctx: &Ctx, params: &Map<String, Value>) -> Expect {
    let effects = ctx
        .action
        .effects
        .iter()
        .filter(|e| {
            e.when
                .as_ref()
                .is_none_or(|c| condition_holds(ctx, params, c))
        })
        .map(|e| e.id.clone())
        .collect();
    let batch = ctx.action.response.batch.as_ref().and_then(|b| {
        let over = b.over.as_ref()?;
        let n = match params.get(over)? {
            Value::Array(a) => a.len(),
            _ => 1,
        };
        Some(super::BatchExpect {
            total: n,
            failed: vec![],
            open: vec![],
        })
    });
    Expect::Success {
        effects,
        batch,
        capture: Map::new(),
        evidence: Default::default(),
        source: String::new(),
        or_error: Vec::new(),
    }
}

fn effect_covers(expect: &Expect) -> Vec<Cover> {
    match expect {
        Expect::Success { effects, .. } => effects
            .iter()
            .map(|id| Cover::Effect { id: id.clone() })
            .collect(),
        _ => vec![],
    }
}

pub(crate) fn param_covers(params: &Map<String, Value>) -> Vec<Cover> {
    params
        .keys()
        .map(|k| Cover::Parameter { name: k.clone() })
        .collect()
}

/// A success case from a base, on one style.
pub(crate) fn success_case(
    ctx: &Ctx,
    kind: CaseKind,
    name: &str,
    title: String,
    b: Base,
    style: &str,
    mut covers: Vec<Cover>,
) -> Case {
    let expect = success(ctx, &b.params);
    covers.extend(effect_covers(&expect));
    covers.extend(param_covers(&b.params));
    let id = ctx.id(kind, name, Some(style));
    let st = step(ctx, b.params, style, expect);
    single(ctx, id, kind, title, b.world, st, covers)
}

pub(crate) fn cases(ctx: &Ctx, out: &mut Vec<Case>) {
    let default = ctx.default_style().to_string();
    out.push(success_case(
        ctx,
        CaseKind::Valid,
        "minimal",
        "Only the required parameters".into(),
        base::build(ctx, &Shape::default()),
        &default,
        vec![],
    ));
    let has_optional = ctx.action.parameters.iter().any(|p| !p.required);
    if has_optional {
        out.push(success_case(
            ctx,
            CaseKind::Valid,
            "full",
            "Every documented parameter".into(),
            base::build(
                ctx,
                &Shape {
                    full: true,
                    ..Shape::default()
                },
            ),
            &default,
            vec![],
        ));
    }
    // Every style and signing method the provider allows for this action.
    for style_id in &ctx.styles {
        let Some(style) = ctx
            .provider
            .request_styles
            .iter()
            .find(|s| &s.id == style_id)
        else {
            continue;
        };
        for signing in &style.signing {
            let b = base::build(ctx, &Shape::default());
            let expect = success(ctx, &b.params);
            let mut st = step(ctx, b.params.clone(), style_id, expect);
            st.wire.signing = Some(signing.clone());
            let id = ctx.id(
                CaseKind::Valid,
                &format!("style-{style_id}-{signing}"),
                None,
            );
            out.push(single(
                ctx,
                id,
                CaseKind::Valid,
                format!("Request style {style_id} signed with {signing}"),
                b.world,
                st,
                vec![Cover::Style {
                    id: style_id.clone(),
                }],
            ));
        }
    }
    // Boolean spellings outside JSON bodies.
    let spellings = &ctx.provider.boolean_spellings;
    for p in ctx.bool_params() {
        for style_id in ctx.styles.iter().filter(|s| !ctx.style_is_json(s)) {
            for (t, f) in spellings.truthy.iter().zip(spellings.falsy.iter()) {
                for value in [true, false] {
                    let mut b = base::build(ctx, &Shape::default());
                    b.params.insert(p.name.clone(), Value::Bool(value));
                    let shown = if value { t } else { f };
                    let expect = success(ctx, &b.params);
                    let mut st = step(ctx, b.params.clone(), style_id, expect);
                    st.wire.boolean = Some(BoolSpelling {
                        truthy: t.clone(),
                        falsy: f.clone(),
                    });
                    let id = ctx.id(
                        CaseKind::Valid,
                        &format!("{}-{shown}", p.name),
                        Some(style_id),
                    );
                    let mut covers = param_covers(&b.params);
                    covers.push(Cover::Parameter {
                        name: p.name.clone(),
                    });
                    out.push(single(
                        ctx,
                        id,
                        CaseKind::Valid,
                        format!("{} spelled {shown} in {style_id}", p.name),
                        b.world,
                        st,
                        covers,
                    ));
                }
            }
        }
        // JSON bodies carry native booleans.
        for style_id in ctx.styles.iter().filter(|s| ctx.style_is_json(s)) {
            for value in [true, false] {
                let mut b = base::build(ctx, &Shape::default());
                b.params.insert(p.name.clone(), Value::Bool(value));
                out.push(success_case(
                    ctx,
                    CaseKind::Valid,
                    &format!("{}-{value}", p.name),
                    format!("{} = {value} (JSON boolean)", p.name),
                    b,
                    style_id,
                    vec![],
                ));
            }
        }
    }
    // Every list with two items: an effect applied to the first item only shows.
    if !ctx.action.effects.is_empty() && !two_items(ctx, Shape::default()).counts.is_empty() {
        out.push(success_case(
            ctx,
            CaseKind::Valid,
            "two-items",
            "Two items in every list".into(),
            base::build(ctx, &two_items(ctx, Shape::default())),
            &default,
            vec![],
        ));
    }
    // One-of alternatives: each member alone (with two items per list, so each alternative's
    // effects are seen beyond the first item), and all together when the docs allow it.
    for g in &ctx.action.one_of {
        for member in &g.parameters {
            let mut shape = two_items(ctx, Shape::default());
            shape.choose.insert(g.id.clone(), vec![member.clone()]);
            out.push(success_case(
                ctx,
                CaseKind::Valid,
                &format!("one-of-{}-{member}", g.id),
                format!("{member} alone satisfies {}", g.id),
                base::build(ctx, &shape),
                &default,
                vec![Cover::OneOf {
                    group: g.id.clone(),
                }],
            ));
        }
    }
    // Doc examples: the example's parameters, with its resource ids mapped onto the world.
    for (n, ex) in ctx.action.examples.iter().enumerate() {
        if !ex.valid {
            continue;
        }
        let Some(req) = &ex.request else { continue };
        let mut shape = Shape::default();
        for (k, v) in req {
            if let Some(p) = ctx.action.parameter(k) {
                if p.ty == ParamType::Array {
                    if let Some(n) = example_items(v) {
                        shape = shape.count(k, n.max(1));
                    }
                }
            }
        }
        for g in &ctx.action.one_of {
            let given: Vec<String> = g
                .parameters
                .iter()
                .filter(|p| req.contains_key(*p))
                .cloned()
                .collect();
            if !given.is_empty() {
                shape.choose.insert(g.id.clone(), given);
            }
        }
        let mut b = base::build(ctx, &shape);
        for (k, v) in req {
            match ctx.action.parameter(k) {
                Some(p) if p.references.is_some() || ctx.is_region_param(p) => {}
                Some(_) => {
                    b.params.insert(k.clone(), v.clone());
                }
                None => {}
            }
        }
        let style = ex
            .method
            .as_deref()
            .and_then(|m| {
                ctx.styles.iter().find(|s| {
                    ctx.provider
                        .request_styles
                        .iter()
                        .any(|rs| &rs.id == *s && rs.method == m)
                })
            })
            .cloned()
            .unwrap_or_else(|| default.clone());
        out.push(success_case(
            ctx,
            CaseKind::Valid,
            &format!("example-{}", n + 1),
            format!("Doc example: {}", ex.title),
            b,
            &style,
            vec![Cover::Example {
                title: ex.title.clone(),
            }],
        ));
    }
}

/// `shape` with two items in each list of resources that may hold two.
fn two_items(ctx: &Ctx, mut shape: Shape) -> Shape {
    for p in &ctx.action.parameters {
        let fits = p.max_items.is_none_or(|m| m >= 2) && p.min_items.is_none_or(|m| m <= 2);
        if p.ty == ParamType::Array && p.references.is_some() && fits {
            shape = shape.count(&p.name, 2);
        }
    }
    shape
}

/// How many items an example value holds (a JSON array, or JSON array text).
fn example_items(v: &Value) -> Option<usize> {
    match v {
        Value::Array(a) => Some(a.len()),
        Value::String(s) => match serde_json::from_str::<Value>(s) {
            Ok(Value::Array(a)) => Some(a.len()),
            _ => None,
        },
        _ => None,
    }
}

/// A one-step case with an explicit expectation, on one style.
#[allow(clippy::too_many_arguments)]
pub(crate) fn case_with(
    ctx: &Ctx,
    kind: CaseKind,
    name: &str,
    title: String,
    world: super::World,
    params: Map<String, Value>,
    style: &str,
    expect: Expect,
    mut covers: Vec<Cover>,
) -> Case {
    covers.extend(effect_covers(&expect));
    let id = ctx.id(kind, name, Some(style));
    let st = step(ctx, params, style, expect);
    single(ctx, id, kind, title, world, st, covers)
}
