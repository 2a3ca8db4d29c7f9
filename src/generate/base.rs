//! The base of every case: a valid request and a world that satisfies every precondition.
//! Families start from it and change exactly one thing.
use super::{Ctx, ImageFixture, InstanceFixture, KeyFixture, World};
use crate::spec::{EffectOp, ParamType, Parameter, RefBy, Requirement, Subject};
use serde_json::{json, Map, Value};
use std::collections::{BTreeMap, HashMap, HashSet};

/// A valid request, its world, and which symbols each parameter names.
#[derive(Debug, Clone)]
pub(crate) struct Base {
    pub params: Map<String, Value>,
    pub world: World,
    pub syms: BTreeMap<String, Vec<String>>,
}

/// How to shape the base.
#[derive(Debug, Clone, Default)]
pub(crate) struct Shape {
    /// Include every optional parameter too.
    pub full: bool,
    /// Item counts per array parameter (default: its minimum, at least one).
    pub counts: BTreeMap<String, usize>,
    /// The parameter chosen in each one-of group (default: `prefer`, else the first).
    pub choose: BTreeMap<String, Vec<String>>,
}

impl Shape {
    pub fn count(mut self, param: &str, n: usize) -> Shape {
        self.counts.insert(param.to_string(), n);
        self
    }
}

pub(crate) fn placeholder(sym: &str, by: RefBy) -> Value {
    match by {
        RefBy::Id => Value::String(format!("${{{sym}}}")),
        RefBy::Name => Value::String(format!("${{{sym}.name}}")),
    }
}

fn resource_prefix(resource: &str) -> &'static str {
    match resource {
        "instance" => "i",
        "key_pair" => "k",
        "image" => "m",
        _ => "r",
    }
}

/// The states every state precondition allows (all known states when there is none).
pub(crate) fn allowed_states(ctx: &Ctx) -> Vec<String> {
    let mut states = instance_states(ctx);
    for p in &ctx.action.preconditions {
        if let Requirement::StateIn(allowed) = &p.require {
            if states.is_empty() {
                states = allowed.clone();
            } else {
                states.retain(|s| allowed.contains(s));
            }
        }
    }
    states
}

/// The state a fresh instance gets: the provider's spelling of "stopped" when every state
/// precondition allows it, else the first state they all allow.
pub(crate) fn default_state(ctx: &Ctx) -> String {
    let allowed = allowed_states(ctx);
    allowed
        .iter()
        .find(|s| s.eq_ignore_ascii_case("stopped"))
        .or(allowed.first())
        .cloned()
        .unwrap_or_else(|| "STOPPED".to_string())
}

pub(crate) fn instance_states(ctx: &Ctx) -> Vec<String> {
    ctx.provider
        .resources
        .get("instance")
        .map(|r| r.states.clone())
        .unwrap_or_default()
}

/// The parameters included by a shape, in spec order.
pub(crate) fn included<'a>(ctx: &Ctx<'a>, shape: &Shape) -> Vec<&'a Parameter> {
    let mut chosen: Vec<String> = Vec::new();
    let mut grouped: Vec<String> = Vec::new();
    for g in &ctx.action.one_of {
        grouped.extend(g.parameters.iter().cloned());
        match shape.choose.get(&g.id) {
            Some(list) => chosen.extend(list.iter().cloned()),
            None if g.at_least > 0 => {
                chosen.push(g.prefer.clone().unwrap_or_else(|| g.parameters[0].clone()))
            }
            None => {}
        }
    }
    ctx.action
        .parameters
        .iter()
        .filter(|p| {
            if grouped.contains(&p.name) {
                chosen.contains(&p.name)
            } else {
                p.required || shape.full
            }
        })
        .collect()
}

pub(crate) fn build(ctx: &Ctx, shape: &Shape) -> Base {
    let mut params = Map::new();
    let mut syms: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut world = World::default();
    // Symbols already in the world (two parameters may name the same one): a set, so a
    // hundred-item array costs a hundred lookups, not ten thousand comparisons.
    let mut placed: HashSet<(&str, String)> = HashSet::new();
    let state = default_state(ctx);
    for p in included(ctx, shape) {
        let value = if let Some(r) = &p.references {
            let n = shape
                .counts
                .get(&p.name)
                .copied()
                .unwrap_or_else(|| default_count(p));
            let prefix = resource_prefix(&r.resource);
            let names: Vec<String> = (1..=n).map(|i| format!("{prefix}{i}")).collect();
            for s in &names {
                let resource = r.resource.as_str();
                if !matches!(resource, "instance" | "key_pair" | "image")
                    || !placed.insert((prefix, s.clone()))
                {
                    continue;
                }
                match resource {
                    "instance" => world.instances.push(InstanceFixture {
                        sym: s.clone(),
                        os: "linux".into(),
                        state: state.clone(),
                        keys: vec![],
                    }),
                    "key_pair" => world.key_pairs.push(KeyFixture { sym: s.clone() }),
                    _ => world.images.push(ImageFixture {
                        sym: s.clone(),
                        keys: vec![],
                    }),
                }
            }
            let value = if p.ty == ParamType::Array {
                Value::Array(names.iter().map(|s| placeholder(s, r.by)).collect())
            } else {
                placeholder(&names[0], r.by)
            };
            syms.insert(p.name.clone(), names);
            value
        } else if ctx.is_region_param(p) {
            json!("${region}")
        } else if let Some(n) = shape.counts.get(&p.name) {
            synth_items(ctx, p, *n)
        } else {
            synth(ctx, p)
        };
        params.insert(p.name.clone(), value);
    }
    satisfy_preconditions(ctx, &mut world, &syms);
    Base {
        params,
        world,
        syms,
    }
}

fn default_count(p: &Parameter) -> usize {
    if p.ty == ParamType::Array {
        p.min_items.unwrap_or(1).max(1)
    } else {
        1
    }
}

/// Bind, unbind and shape the world so that every precondition holds. Instances are found
/// through an index and bindings deduplicated through a set: linear in the items the request
/// names (explored requests name up to the documented maximum of each array).
fn satisfy_preconditions(ctx: &Ctx, world: &mut World, syms: &BTreeMap<String, Vec<String>>) {
    let subject_syms = |s: &Subject| -> &[String] {
        s.parameter()
            .and_then(|p| syms.get(p))
            .map(Vec::as_slice)
            .unwrap_or_default()
    };
    let index: HashMap<String, usize> = world
        .instances
        .iter()
        .enumerate()
        .map(|(n, i)| (i.sym.clone(), n))
        .collect();
    let mut bind: Vec<(&str, &str)> = Vec::new();
    for p in &ctx.action.preconditions {
        let subjects = subject_syms(&p.subject);
        let instances = subjects.iter().filter_map(|s| index.get(s).copied());
        match &p.require {
            Requirement::OsIn(os) => {
                for n in instances {
                    world.instances[n].os = os[0].clone();
                }
            }
            Requirement::StateIn(states) => {
                for n in instances {
                    let i = &mut world.instances[n];
                    if !states.contains(&i.state) {
                        i.state = states[0].clone();
                    }
                }
            }
            Requirement::BoundTo { parameter } => {
                for k in syms.get(parameter).into_iter().flatten() {
                    for s in subjects {
                        bind.push((s, k));
                    }
                }
            }
            _ => {}
        }
    }
    // An unbind effect is only observable when the key was bound before.
    for e in &ctx.action.effects {
        if e.op == EffectOp::Unbind {
            let keys = e.keys.as_ref().map(&subject_syms).unwrap_or_default();
            let insts = e.instances.as_ref().map(&subject_syms).unwrap_or_default();
            for i in insts {
                for k in keys {
                    bind.push((i, k));
                }
            }
        }
    }
    let in_use_forbidden: HashSet<&str> = ctx
        .action
        .preconditions
        .iter()
        .filter(|p| matches!(p.require, Requirement::NotInUse(_)))
        .flat_map(|p| subject_syms(&p.subject))
        .map(String::as_str)
        .collect();
    let mut bound: HashSet<(&str, &str)> = HashSet::new();
    for (i, k) in bind {
        if in_use_forbidden.contains(k) || !bound.insert((i, k)) {
            continue;
        }
        if let Some(&n) = index.get(i) {
            world.instances[n].keys.push(k.to_string());
        }
    }
}

/// A valid value for a parameter that names no resource.
pub(crate) fn synth(ctx: &Ctx, p: &Parameter) -> Value {
    if let Some(v) = p.allowed.first() {
        return v.clone();
    }
    if let Some(d) = &p.default {
        if p.ty != ParamType::Array {
            return d.clone();
        }
    }
    match p.ty {
        ParamType::Boolean => json!(false),
        ParamType::Integer => json!(p.minimum.unwrap_or(0).max(0)),
        ParamType::String => json!(synth_string(ctx, p, &p.name)),
        ParamType::Array => synth_items(ctx, p, default_count(p)),
        ParamType::Object => json!({}),
    }
}

/// `n` distinct valid items for an array parameter that names no resource.
pub(crate) fn synth_items(ctx: &Ctx, p: &Parameter, n: usize) -> Value {
    let item_fmt = ctx.format_of(p);
    Value::Array(
        (0..n)
            .map(|i| {
                let salt = ctx.salt(&[&p.name, &i.to_string()]);
                match (item_fmt, p.items.as_ref().map(|i| i.ty)) {
                    (_, Some(ParamType::Integer)) => json!(i + 1),
                    (Some(f), _) => json!(f.make(salt).unwrap_or_default()),
                    _ => json!(format!("cc{i}")),
                }
            })
            .collect(),
    )
}

pub(crate) fn synth_string(ctx: &Ctx, p: &Parameter, salt: &str) -> String {
    if let Some(f) = ctx.format_of(p) {
        if let Some(v) = f.make(ctx.salt(&[salt])) {
            return v;
        }
    }
    let min = p.min_length.unwrap_or(1).max(1);
    let max = p.max_length.unwrap_or(12).max(min);
    let len = 12.clamp(min, max);
    let mut s = "cloudconform".to_string();
    while s.len() < len {
        s.push('x');
    }
    s.truncate(len);
    s
}
