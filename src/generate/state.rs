//! `state` cases from the spec's preconditions: for each one a world that satisfies it and
//! worlds that violate it (not found, wrong state, Windows, key not bound, key in use by an
//! instance or an image, a caller without permission), plus the `unless` waiver.
use super::base::{self, instance_states, Base, Shape};
use super::valid::{case_with, success};
use super::{
    BatchExpect, Caller, CaseKind, Cover, Ctx, Expect, FailedItem, ImageFixture, InstanceFixture,
};
use crate::spec::{ParamType, Precondition, RefBy, Requirement, Scope, Trigger};
use serde_json::{json, Value};

struct Violation {
    label: String,
    title: String,
    base: Base,
    caller: Caller,
    /// The item that fails, for per-item preconditions.
    item: Option<String>,
}

fn subject_resource<'a>(ctx: &Ctx<'a>, pre: &Precondition) -> Option<&'a crate::spec::Parameter> {
    pre.subject
        .parameter()
        .and_then(|p| ctx.action.parameter(p))
}

fn shape_for(ctx: &Ctx, pre: &Precondition) -> Shape {
    let mut s = Shape::default();
    if let Some(p) = subject_resource(ctx, pre) {
        for g in &ctx.action.one_of {
            if g.parameters.contains(&p.name) {
                s.choose.insert(g.id.clone(), vec![p.name.clone()]);
            }
        }
        if !p.required {
            s.full = true;
        }
        // A binding requirement names the key parameter too: make sure it is the one sent.
        if let Requirement::BoundTo { parameter } = &pre.require {
            for g in &ctx.action.one_of {
                if g.parameters.contains(parameter) {
                    s.choose.insert(g.id.clone(), vec![parameter.clone()]);
                }
            }
        }
        // Per-item failures, and a waiver's effects, show only with more than one item.
        let several = pre.scope == Scope::PerItem || pre.unless.is_some();
        if several && p.ty == ParamType::Array && p.max_items != Some(1) {
            s = s.count(&p.name, 2);
        }
    }
    s
}

fn violations(ctx: &Ctx, pre: &Precondition) -> Vec<Violation> {
    let shape = shape_for(ctx, pre);
    let mut out = Vec::new();
    let param = subject_resource(ctx, pre);
    let subjects = |b: &Base| -> Vec<String> {
        param
            .and_then(|p| b.syms.get(&p.name))
            .cloned()
            .unwrap_or_default()
    };
    match &pre.require {
        Requirement::Exists(_) => {
            let Some(p) = param else { return out };
            let Some(r) = &p.references else { return out };
            let Some(f) = ctx
                .resource_format(&r.resource, r.by)
                .or_else(|| ctx.format_of(p))
            else {
                return out;
            };
            let Some(literal) = f.make(ctx.salt(&[&pre.id, "absent"])) else {
                return out;
            };
            let mut b = base::build(ctx, &shape);
            let victim = subjects(&b).last().cloned();
            let placeholder = victim
                .as_ref()
                .map(|s| base::placeholder(s, r.by))
                .unwrap_or(Value::Null);
            if let Some(v) = b.params.get_mut(&p.name) {
                match v {
                    Value::Array(items) => {
                        for it in items.iter_mut() {
                            if *it == placeholder {
                                *it = json!(literal);
                            }
                        }
                    }
                    other => *other = json!(literal),
                }
            }
            if let Some(s) = &victim {
                drop_symbol(&mut b, s);
            }
            b.world.absent.push(literal.clone());
            out.push(Violation {
                label: "not-found".into(),
                title: format!(
                    "{} names a {} that does not exist ({literal})",
                    p.name, r.resource
                ),
                base: b,
                caller: Caller::Root,
                item: Some(literal),
            });
        }
        Requirement::StateIn(allowed) => {
            for s in instance_states(ctx)
                .into_iter()
                .filter(|s| !allowed.contains(s))
            {
                let mut b = base::build(ctx, &shape);
                for sym in subjects(&b) {
                    if let Some(i) = b.world.instance_mut(&sym) {
                        i.state = s.clone();
                    }
                }
                let item = subjects(&b).first().map(|s| format!("${{{s}}}"));
                out.push(Violation {
                    label: format!("state-{}", s.to_ascii_lowercase()),
                    title: format!("instance in state {s} (allowed: {})", allowed.join(", ")),
                    base: b,
                    caller: Caller::Root,
                    item,
                });
            }
        }
        Requirement::OsIn(allowed) => {
            let all = ctx
                .provider
                .resources
                .get("instance")
                .map(|r| r.os.clone())
                .unwrap_or_else(|| vec!["linux".into(), "windows".into()]);
            for os in all.into_iter().filter(|o| !allowed.contains(o)) {
                let mut b = base::build(ctx, &shape);
                for sym in subjects(&b) {
                    if let Some(i) = b.world.instance_mut(&sym) {
                        i.os = os.clone();
                        // Such an instance cannot hold SSH keys (binding one is itself refused).
                        i.keys.clear();
                    }
                }
                let item = subjects(&b).first().map(|s| format!("${{{s}}}"));
                out.push(Violation {
                    label: os.clone(),
                    title: format!("a {os} instance (allowed: {})", allowed.join(", ")),
                    base: b,
                    caller: Caller::Root,
                    item,
                });
            }
        }
        Requirement::BoundTo { parameter } => {
            let mut b = base::build(ctx, &shape);
            let keys = b.syms.get(parameter).cloned().unwrap_or_default();
            for sym in subjects(&b) {
                if let Some(i) = b.world.instance_mut(&sym) {
                    i.keys.retain(|k| !keys.contains(k));
                }
            }
            let item = subjects(&b).first().map(|s| format!("${{{s}}}"));
            out.push(Violation {
                label: "not-bound".into(),
                title: format!("the instance does not have the {parameter} key bound"),
                base: b,
                caller: Caller::Root,
                item,
            });
        }
        Requirement::NotInUse(kinds) => {
            for kind in kinds {
                let mut b = base::build(ctx, &shape);
                let keys = subjects(&b);
                match kind.as_str() {
                    "instance" => b.world.instances.push(InstanceFixture {
                        sym: "i9".into(),
                        os: "linux".into(),
                        state: base::default_state(ctx),
                        keys: keys.clone(),
                    }),
                    _ => b.world.images.push(ImageFixture {
                        sym: "m9".into(),
                        keys: keys.clone(),
                    }),
                }
                let item = keys.first().map(|s| format!("${{{s}}}"));
                out.push(Violation {
                    label: format!("in-use-by-{kind}"),
                    title: format!("the key pair is bound to an {kind}"),
                    base: b,
                    caller: Caller::Root,
                    item,
                });
            }
        }
        // Uniqueness (a name already taken) only concerns creating fixtures.
        Requirement::Unique(_) => {}
        Requirement::Allowed(_) => {
            out.push(Violation {
                label: "denied".into(),
                title: "a sub-user whose policy does not allow the action".into(),
                base: base::build(ctx, &shape),
                caller: Caller::Denied,
                item: None,
            });
        }
    }
    out
}

/// Remove a symbol the request no longer names (its object is not needed in the world).
fn drop_symbol(b: &mut Base, sym: &str) {
    b.world.instances.retain(|i| i.sym != sym);
    b.world.key_pairs.retain(|k| k.sym != sym);
    b.world.images.retain(|m| m.sym != sym);
    for i in &mut b.world.instances {
        i.keys.retain(|k| k != sym);
    }
}

pub(crate) fn cases(ctx: &Ctx, out: &mut Vec<super::Case>) {
    let style = ctx.default_style().to_string();
    for pre in &ctx.action.preconditions {
        let met = base::build(ctx, &shape_for(ctx, pre));
        let e = success(ctx, &met.params);
        out.push(case_with(
            ctx,
            CaseKind::State,
            &format!("{}/met", pre.id),
            format!("Precondition {} holds: {}", pre.id, pre.description),
            met.world,
            met.params,
            &style,
            e,
            vec![Cover::Precondition {
                id: pre.id.clone(),
                satisfied: true,
            }],
        ));
        let trigger = Trigger::Precondition {
            precondition: pre.id.clone(),
            note: None,
            evidence: None,
        };
        for v in violations(ctx, pre) {
            let cov = vec![Cover::Precondition {
                id: pre.id.clone(),
                satisfied: false,
            }];
            let expect = match pre.scope {
                Scope::Request => {
                    ctx.expect_trigger(&trigger)
                        .unwrap_or_else(|| Expect::Rejected {
                            rule: format!(
                                "{}#/preconditions/{}",
                                ctx.file,
                                precondition_index(ctx, &pre.id)
                            ),
                        })
                }
                Scope::PerItem => match success(ctx, &v.base.params) {
                    Expect::Success {
                        effects,
                        batch,
                        capture,
                        evidence,
                        source,
                        or_error,
                    } => Expect::Success {
                        evidence,
                        source,
                        or_error,
                        effects,
                        batch: batch.map(|b| BatchExpect {
                            total: b.total,
                            failed: v
                                .item
                                .iter()
                                .map(|i| FailedItem {
                                    item: i.clone(),
                                    // An item code no doc specifies (an `inferred:`
                                    // source) is checked only as "failed".
                                    code: pre
                                        .item_failure
                                        .as_ref()
                                        .filter(|_| !pre.source.starts_with("inferred"))
                                        .map(|f| f.code.clone())
                                        .unwrap_or_default(),
                                })
                                .collect(),
                            open: Vec::new(),
                        }),
                        capture,
                    },
                    other => other,
                },
            };
            let mut c = case_with(
                ctx,
                CaseKind::State,
                &format!("{}/{}", pre.id, v.label),
                format!("Precondition {} violated: {}", pre.id, v.title),
                v.base.world.clone(),
                v.base.params.clone(),
                &style,
                expect,
                cov,
            );
            c.steps[0].caller = v.caller;
            out.push(c);
            // The documented waiver (CVM ForceStop) turns the violation into a success.
            if let Some(unless) = &pre.unless {
                if v.label.contains("running") || matches!(pre.require, Requirement::OsIn(_)) {
                    let mut b = v.base.clone();
                    b.params
                        .insert(unless.parameter.clone(), unless.equals.clone());
                    let e = success(ctx, &b.params);
                    let mut c = case_with(
                        ctx,
                        CaseKind::State,
                        &format!("{}/{}-{}", pre.id, v.label, unless.parameter),
                        format!(
                            "Precondition {} violated ({}) but waived by {} = {}",
                            pre.id, v.title, unless.parameter, unless.equals
                        ),
                        b.world,
                        b.params,
                        &style,
                        e,
                        vec![Cover::Precondition {
                            id: pre.id.clone(),
                            satisfied: true,
                        }],
                    );
                    c.steps[0].caller = v.caller;
                    out.push(c);
                }
            }
        }
    }
    let _ = RefBy::Id;
}

/// The `mixed` case of a precondition whose spec says a mixed batch is left open: two items,
/// the last violating the precondition, the first meeting it. Accepted: the whole call fails
/// with the trigger's codes, or it succeeds (the violating item may fail in the batch
/// results); effects are not checked, since which items changed is what the docs leave open.
pub(crate) fn mixed_cases(ctx: &Ctx, out: &mut Vec<super::Case>) {
    let style = ctx.default_style().to_string();
    for pre in &ctx.action.preconditions {
        let Some(mixed) = &pre.mixed_batch else {
            continue;
        };
        let Some(p) = subject_resource(ctx, pre) else {
            continue;
        };
        if p.ty != ParamType::Array || p.max_items.is_some_and(|m| m < 2) {
            continue;
        }
        let mut b = base::build(ctx, &shape_for(ctx, pre).count(&p.name, 2));
        let syms = b.syms.get(&p.name).cloned().unwrap_or_default();
        let (Some(ok), Some(bad)) = (syms.first().cloned(), syms.get(1).cloned()) else {
            continue;
        };
        let label = match &pre.require {
            Requirement::NotInUse(kinds) => {
                let Some(kind) = kinds.first() else { continue };
                match kind.as_str() {
                    "instance" => b.world.instances.push(InstanceFixture {
                        sym: "i9".into(),
                        os: "linux".into(),
                        state: base::default_state(ctx),
                        keys: vec![bad.clone()],
                    }),
                    _ => b.world.images.push(ImageFixture {
                        sym: "m9".into(),
                        keys: vec![bad.clone()],
                    }),
                }
                format!("one key pair free ({ok}), one bound to an {kind} ({bad})")
            }
            Requirement::OsIn(allowed) => {
                let Some(os) = ctx
                    .provider
                    .resources
                    .get("instance")
                    .and_then(|r| r.os.iter().find(|o| !allowed.contains(o)).cloned())
                else {
                    continue;
                };
                let Some(i) = b.world.instance_mut(&bad) else {
                    continue;
                };
                i.os = os.clone();
                i.keys.clear();
                format!(
                    "one {} instance ({ok}), one {os} instance ({bad})",
                    allowed.join("/")
                )
            }
            _ => continue,
        };
        let trigger = Trigger::Precondition {
            precondition: pre.id.clone(),
            note: None,
            evidence: None,
        };
        let Some(Expect::Error { one_of, .. }) = ctx.expect_trigger(&trigger) else {
            continue;
        };
        let source = ctx
            .action
            .discrepancies
            .iter()
            .find(|d| d.id == mixed.discrepancy)
            .and_then(|d| d.sources.first().cloned())
            .unwrap_or_else(|| pre.source.clone());
        let expect = match success(ctx, &b.params) {
            Expect::Success { batch, capture, .. } => Expect::Success {
                effects: Vec::new(),
                batch: batch.map(|bt| BatchExpect {
                    total: bt.total,
                    failed: Vec::new(),
                    open: vec![format!("${{{bad}}}")],
                }),
                capture,
                evidence: crate::spec::Evidence::of_source(&source),
                source,
                or_error: one_of,
            },
            other => other,
        };
        out.push(case_with(
            ctx,
            CaseKind::State,
            &format!("{}/mixed", pre.id),
            format!(
                "Precondition {} met by one item and violated by the other: {label} \
                 (discrepancy {})",
                pre.id, mixed.discrepancy
            ),
            b.world,
            b.params,
            &style,
            expect,
            vec![Cover::Precondition {
                id: pre.id.clone(),
                satisfied: false,
            }],
        ));
    }
}

fn precondition_index(ctx: &Ctx, id: &str) -> usize {
    ctx.action
        .preconditions
        .iter()
        .position(|p| p.id == id)
        .unwrap_or(0)
}
