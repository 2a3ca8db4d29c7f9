//! Exploration (`cloudconform run --explore N --seed S`): random requests from the same spec
//! constraints as the generated cases (any action, style, boolean spelling, item counts within
//! the limits, optional parameters, and at most one violation: a missing or mistyped
//! parameter, a count past a limit, zero items, a format edge, an unknown parameter), each with
//! the expectation the specs give it. Failures are shrunk with proptest's value trees and saved
//! as regression cases under `cases/regressions/` (JSON, loaded as cases from then on).
use super::base::{self, Shape};
use super::valid::{case_with, success};
use super::{Case, CaseKind, Ctx, Derived, Expect, GenOptions, GenerateError};
use crate::spec::{ParamType, ProtocolCondition, SpecSet, Trigger, Violation};
use proptest::strategy::{Strategy, ValueTree};
use proptest::test_runner::{Config, RngAlgorithm, TestRng, TestRunner};
use serde_json::{json, Value};
use std::path::Path;

/// One random request, as numbers proptest can shrink.
#[derive(Debug, Clone)]
pub struct Plan {
    pub action: usize,
    pub style: usize,
    pub spelling: usize,
    pub full: bool,
    /// Per parameter: where the item count falls inside its limits.
    pub counts: Vec<usize>,
    /// (parameter, kind, variant) of the one violation, if any.
    pub violation: Option<(usize, usize, usize)>,
}

fn strategy(actions: usize) -> impl Strategy<Value = Plan> {
    (
        0..actions.max(1),
        0..8usize,
        0..4usize,
        proptest::bool::ANY,
        proptest::collection::vec(0..120usize, 6),
        proptest::option::of((0..8usize, 0..6usize, 0..8usize)),
    )
        .prop_map(|(action, style, spelling, full, counts, violation)| Plan {
            action,
            style,
            spelling,
            full,
            counts,
            violation,
        })
}

fn runner_for(seed: u64) -> TestRunner {
    let mut bytes = [0u8; 32];
    bytes[..8].copy_from_slice(&seed.to_le_bytes());
    TestRunner::new_with_rng(
        Config::default(),
        TestRng::from_seed(RngAlgorithm::ChaCha, &bytes),
    )
}

/// Turn a plan into a case (deterministic).
pub fn case_of(specs: &SpecSet, derived: &Derived, plan: &Plan, id_suffix: &str) -> Option<Case> {
    let seeds = specs.seeds().count();
    let action = specs.seeds().nth(plan.action % seeds.max(1))?;
    let ctx = Ctx::new(specs, derived, action, &GenOptions::default()).ok()?;
    let style = ctx
        .styles
        .get(plan.style % ctx.styles.len().max(1))?
        .clone();
    let mut shape = Shape {
        full: plan.full,
        ..Shape::default()
    };
    for (i, p) in action.parameters.iter().enumerate() {
        if p.ty == ParamType::Array {
            let min = p.min_items.unwrap_or(1).max(1);
            let max = p.max_items.unwrap_or(3).max(min);
            let n = min
                + plan
                    .counts
                    .get(i % plan.counts.len().max(1))
                    .copied()
                    .unwrap_or(0)
                    % (max - min + 1);
            shape = shape.count(&p.name, n);
        }
    }
    let mut b = base::build(&ctx, &shape);
    let mut expect = success(&ctx, &b.params);
    let mut what = "valid".to_string();
    if let Some((pi, kind, variant)) = plan.violation {
        let p = &action.parameters[pi % action.parameters.len().max(1)];
        let trig = |v: Violation| ctx.expect_trigger(&ctx.param_trigger(&p.name, v));
        let applied: Option<(Expect, String)> = match kind {
            0 if p.required && b.params.contains_key(&p.name) => {
                trig(Violation::Missing).map(|e| {
                    b.params.remove(&p.name);
                    (e, format!("missing {}", p.name))
                })
            }
            1 if p.ty == ParamType::Array && ctx.style_is_json(&style) => trig(Violation::Type)
                .map(|e| {
                    b.params.insert(p.name.clone(), json!({"not": "an array"}));
                    (e, format!("{} of the wrong type", p.name))
                }),
            2 => p.max_items.and_then(|max| {
                trig(Violation::TooMany).map(|e| {
                    b = base::build(&ctx, &shape.clone().count(&p.name, max + 1 + variant % 3));
                    (e, format!("{} past its limit", p.name))
                })
            }),
            3 if p.ty == ParamType::Array && p.min_items.unwrap_or(1) > 0 => {
                trig(Violation::TooFew)
                    .or_else(|| trig(Violation::Empty))
                    .map(|e| {
                        b.params.insert(p.name.clone(), json!([]));
                        (e, format!("{} with no items", p.name))
                    })
            }
            4 => ctx.format_of(p).and_then(|f| {
                let edges: Vec<_> = f
                    .edges(ctx.salt(&[&p.name, "explore"]))
                    .into_iter()
                    .filter(|e| !e.valid)
                    .collect();
                let edge = edges.get(variant % edges.len().max(1))?.clone();
                trig(Violation::Format).map(|e| {
                    let v = match b.params.get(&p.name) {
                        Some(Value::Array(items)) => {
                            let mut items = items.clone();
                            if let Some(first) = items.first_mut() {
                                *first = json!(edge.value);
                            }
                            Value::Array(items)
                        }
                        _ => json!(edge.value),
                    };
                    b.params.insert(p.name.clone(), v);
                    (e, format!("{} {}", p.name, edge.label))
                })
            }),
            5 => ctx
                .expect_trigger(&Trigger::Protocol {
                    condition: ProtocolCondition::UnknownParameter,
                    note: None,
                    evidence: None,
                })
                .map(|e| {
                    b.params.insert("CcExplored".into(), json!("x"));
                    (e, "an unknown parameter".to_string())
                }),
            _ => None,
        };
        if let Some((e, w)) = applied {
            expect = e;
            what = w;
        } else {
            expect = success(&ctx, &b.params);
        }
    }
    let mut c = case_with(
        &ctx,
        CaseKind::Regression,
        &format!("explore-{id_suffix}"),
        format!("Explored: {what} ({style})"),
        b.world,
        b.params,
        &style,
        expect,
        vec![],
    );
    // Booleans outside JSON: any documented spelling.
    let sp = &ctx.provider.boolean_spellings;
    if !ctx.style_is_json(&style) && !sp.truthy.is_empty() && !sp.falsy.is_empty() {
        c.steps[0].wire.boolean = Some(super::BoolSpelling {
            truthy: sp.truthy[plan.spelling % sp.truthy.len()].clone(),
            falsy: sp.falsy[plan.spelling % sp.falsy.len()].clone(),
        });
    }
    c.id = c.id.split('@').next().unwrap_or(&c.id).to_string();
    Some(c)
}

/// `n` random cases for `seed`.
pub fn random_cases(specs: &SpecSet, n: usize, seed: u64) -> Result<Vec<Case>, GenerateError> {
    let mut runner = runner_for(seed);
    let strat = strategy(specs.seeds().count());
    let derived = Derived::new(specs);
    let mut out = Vec::new();
    for i in 0..n {
        let tree = strat
            .new_tree(&mut runner)
            .map_err(|e| GenerateError::Invalid {
                path: "explore".into(),
                message: e.to_string(),
            })?;
        if let Some(c) = case_of(specs, &derived, &tree.current(), &format!("s{seed}-{i}")) {
            out.push(c);
        }
    }
    Ok(out)
}

/// Shrink every failing explored case: `fails` runs a candidate and says whether it still
/// fails. Each smallest failing version is saved under `cases_dir/regressions/`; returns
/// (explored case id, shrunk case). The runner drives this (`run::shrink_failures`), so this
/// module stays upstream of `run` and `check`.
pub async fn shrink(
    specs: &SpecSet,
    cases: &[Case],
    failing: &[String],
    cases_dir: &Path,
    mut fails: impl AsyncFnMut(&Case) -> bool,
) -> Vec<(String, Case)> {
    let mut out = Vec::new();
    let Some(seed) = cases
        .first()
        .and_then(|c| c.id.rsplit("explore-s").next())
        .and_then(|s| s.split('-').next())
        .and_then(|s| s.parse::<u64>().ok())
    else {
        return out;
    };
    let mut prop = runner_for(seed);
    let strat = strategy(specs.seeds().count());
    let derived = Derived::new(specs);
    let dir = cases_dir.join("regressions");
    let last = cases
        .iter()
        .filter_map(|c| c.id.rsplit('-').next()?.parse::<usize>().ok())
        .max()
        .unwrap_or(0);
    for i in 0..=last {
        let Ok(mut tree) = strat.new_tree(&mut prop) else {
            break;
        };
        let id = format!("s{seed}-{i}");
        let Some(original) = failing
            .iter()
            .find(|r| r.ends_with(&format!("explore-{id}")))
        else {
            continue;
        };
        // Classic value-tree shrinking: simplify while it still fails, else complicate.
        let mut best = case_of(specs, &derived, &tree.current(), &id);
        for _ in 0..32 {
            if !tree.simplify() {
                break;
            }
            let Some(candidate) = case_of(specs, &derived, &tree.current(), &id) else {
                continue;
            };
            if fails(&candidate).await {
                best = Some(candidate);
            } else if !tree.complicate() {
                break;
            }
        }
        if let Some(case) = best {
            let _ = std::fs::create_dir_all(&dir);
            let file = dir.join(format!("{}.json", case.id.replace('/', "__")));
            if let Ok(text) = serde_json::to_string_pretty(&case) {
                let _ = std::fs::write(&file, text + "\n");
            }
            out.push((original.clone(), case));
        }
    }
    out
}
