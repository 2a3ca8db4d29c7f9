//! The spec's state vocabulary, interpreted: preconditions (exists, state_in with `unless`,
//! os_in, bound_to, not_in_use, allowed; request- or per-item-scoped) checked against the world,
//! then effects (unbind, bind, delete, create, set_state, restore_state) applied to it.
//!
//! Nothing here knows an action by name: which parameter names which resource comes from the
//! parameter's `references`, what must hold from `require`, what changes from `op`.
use super::validate::{loose_eq, Params, Violation};
use super::world::{Instance, KeyPair, ServiceState, World};
use crate::spec::{
    ActionSpec, Binding, Condition, Effect, EffectOp, Precondition, ProviderSpec, RefBy, Reference,
    Requirement, Scope, Subject,
};
use serde_json::Value;
use std::collections::BTreeMap;

/// One call, as the semantics see it.
pub struct Call<'a> {
    pub provider: &'a ProviderSpec,
    pub action: &'a ActionSpec,
    pub params: &'a Params,
    /// The region the request names (Tencent common `Region`, Alibaba's region parameter).
    pub region: Option<&'a str>,
    /// Whether the caller's policy allows the action.
    pub caller_allowed: bool,
    /// `provider/service`, the world's key for this service.
    pub service: String,
}

impl Call<'_> {
    /// Resources are looked up in the request's region only when the action requires one (CVM,
    /// ECS); ECM and ENS name resources across regions.
    fn scope(&self) -> Option<&str> {
        self.region.filter(|_| self.action.region.required)
    }

    fn reference(&self, parameter: &str) -> Option<&Reference> {
        self.action
            .parameter(parameter)
            .and_then(|p| p.references.as_ref())
    }

    fn holds(&self, c: &Condition) -> bool {
        self.params
            .get(&c.parameter)
            .is_some_and(|v| loose_eq(v, &c.equals))
    }
}

/// The items of a batch that failed a per-item precondition: item value → (code, message).
pub type ItemFailures = BTreeMap<String, (String, String)>;

/// The values a parameter carries, as strings (a scalar is a one-item list).
pub fn values(params: &Params, name: &str) -> Vec<String> {
    match params.get(name) {
        None => Vec::new(),
        Some(Value::Array(items)) => items.iter().map(text).collect(),
        Some(v) => vec![text(v)],
    }
}

fn text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn in_region(resource_region: &str, scope: Option<&str>) -> bool {
    scope.is_none_or(|r| r == resource_region)
}

fn find_instance<'w>(svc: &'w ServiceState, id: &str, scope: Option<&str>) -> Option<&'w Instance> {
    svc.instance(id).filter(|i| in_region(&i.region, scope))
}

fn find_key<'w>(
    svc: &'w ServiceState,
    by: RefBy,
    value: &str,
    scope: Option<&str>,
) -> Option<&'w KeyPair> {
    match by {
        RefBy::Id => svc.key_pair(value).filter(|k| in_region(&k.region, scope)),
        RefBy::Name => svc
            .key_pairs
            .iter()
            .find(|k| in_region(&k.region, scope) && k.name == value),
    }
}

/// Whether `value` names an existing resource of the kind `reference` points at.
pub fn exists(svc: &ServiceState, reference: &Reference, value: &str, scope: Option<&str>) -> bool {
    match reference.resource.as_str() {
        "instance" => find_instance(svc, value, scope).is_some(),
        "key_pair" => find_key(svc, reference.by, value, scope).is_some(),
        "image" => svc.images.iter().any(|i| i.id == value),
        _ => false,
    }
}

/// The key pair ids a parameter names (unknown ones dropped).
fn key_ids(call: &Call, svc: &ServiceState, parameter: &str) -> Vec<String> {
    let by = call.reference(parameter).map(|r| r.by).unwrap_or(RefBy::Id);
    values(call.params, parameter)
        .iter()
        .filter_map(|v| find_key(svc, by, v, call.scope()).map(|k| k.id.clone()))
        .collect()
}

/// Whether `value` (named by the subject parameter) meets `require`; `Err(detail)` if not.
/// Requirements other than `exists` hold vacuously for resources that do not exist: the
/// `exists` precondition is the one that reports them.
fn meets(
    call: &Call,
    svc: &ServiceState,
    reference: Option<&Reference>,
    require: &Requirement,
    value: &str,
) -> Result<(), String> {
    let scope = call.scope();
    let kind = reference.map(|r| r.resource.as_str()).unwrap_or_default();
    match require {
        Requirement::Exists(_) => match reference {
            Some(r) if !exists(svc, r, value, scope) => Err(format!(
                "The {} `{value}` does not exist.",
                kind.replace('_', " ")
            )),
            _ => Ok(()),
        },
        Requirement::StateIn(states) => match find_instance(svc, value, scope) {
            Some(i) if kind == "instance" && !states.contains(&i.state) => {
                Err(match states.len() {
                    1..=3 => format!(
                        "The instance `{value}` is {}; the operation needs {}.",
                        i.state,
                        states.join(" or ")
                    ),
                    _ => format!(
                        "The instance `{value}` is {}, a state this operation does not accept.",
                        i.state
                    ),
                })
            }
            _ => Ok(()),
        },
        Requirement::OsIn(os) => match find_instance(svc, value, scope) {
            Some(i) if kind == "instance" && !os.contains(&i.os) => Err(format!(
                "The instance `{value}` runs {}; the operation needs {}.",
                i.os,
                os.join(" or ")
            )),
            _ => Ok(()),
        },
        Requirement::BoundTo { parameter } => {
            let Some(instance) = find_instance(svc, value, scope).filter(|_| kind == "instance")
            else {
                return Ok(());
            };
            match key_ids(call, svc, parameter)
                .into_iter()
                .find(|k| !instance.keys.contains(k))
            {
                Some(k) => Err(format!(
                    "The key pair `{k}` is not bound to the instance `{value}`."
                )),
                None => Ok(()),
            }
        }
        Requirement::NotInUse(kinds) => {
            let by = reference.map(|r| r.by).unwrap_or(RefBy::Id);
            let Some(key) = find_key(svc, by, value, scope).filter(|_| kind == "key_pair") else {
                return Ok(());
            };
            let (instances, images) = svc.users_of_key(&key.id);
            if kinds.iter().any(|k| k == "instance") && !instances.is_empty() {
                return Err(format!(
                    "The key pair `{value}` is bound to instance(s) {}.",
                    instances.join(", ")
                ));
            }
            if kinds.iter().any(|k| k == "image") && !images.is_empty() {
                return Err(format!(
                    "The key pair `{value}` is referenced by image(s) {}.",
                    images.join(", ")
                ));
            }
            Ok(())
        }
        Requirement::Unique(_) => match reference {
            Some(r) if exists(svc, r, value, scope) => Err(format!(
                "A {} named `{value}` already exists.",
                kind.replace('_', " ")
            )),
            _ => Ok(()),
        },
        Requirement::Allowed(_) => {
            if call.caller_allowed {
                Ok(())
            } else {
                Err("The caller's policy does not allow this operation.".into())
            }
        }
    }
}

/// The parameter a batch reports per item (`response.batch.over`).
pub fn batch_parameter(action: &ActionSpec) -> Option<&str> {
    action
        .response
        .batch
        .as_ref()
        .and_then(|b| b.over.as_deref())
}

/// Check every precondition in spec order. A request-scoped failure is the call's error; a
/// per-item failure marks the item (the call still succeeds with batch results).
pub fn check_preconditions(call: &Call, world: &World) -> Result<ItemFailures, Violation> {
    let empty = ServiceState::default();
    let svc = world.service(&call.service).unwrap_or(&empty);
    let mut failures = ItemFailures::new();
    for pre in &call.action.preconditions {
        if pre.unless.as_ref().is_some_and(|c| call.holds(c)) {
            continue;
        }
        check_one(call, svc, pre, &mut failures)?;
    }
    Ok(failures)
}

fn check_one(
    call: &Call,
    svc: &ServiceState,
    pre: &Precondition,
    failures: &mut ItemFailures,
) -> Result<(), Violation> {
    let per_item = pre.scope == Scope::PerItem
        && pre.item_failure.is_some()
        && pre.subject.parameter().is_some()
        && pre.subject.parameter() == batch_parameter(call.action);
    match &pre.subject {
        Subject::Caller { .. } => meets(call, svc, None, &pre.require, "")
            .map_err(|d| Violation::precondition(&pre.id, d)),
        Subject::Parameter { parameter } => {
            let reference = call.reference(parameter);
            for value in values(call.params, parameter) {
                if failures.contains_key(&value) {
                    continue;
                }
                if let Err(detail) = meets(call, svc, reference, &pre.require, &value) {
                    match (&pre.item_failure, per_item) {
                        (Some(item), true) => {
                            failures.insert(value, (item.code.clone(), item.message.clone()));
                        }
                        _ => return Err(Violation::precondition(&pre.id, detail)),
                    }
                }
            }
            Ok(())
        }
    }
}

/// What applying the effects produced that the response may need.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Applied {
    /// `(resource kind, id)` of every resource created.
    pub created: Vec<(String, String)>,
    /// Ids of instances whose state changed.
    pub state_changes: Vec<(String, String, String)>,
}

/// Apply the action's effects to the items that did not fail.
pub fn apply_effects(
    call: &Call,
    world: &mut World,
    failures: &ItemFailures,
    new_id: &mut dyn FnMut(&str, &World) -> String,
) -> Applied {
    let mut applied = Applied::default();
    let batch = batch_parameter(call.action);
    let succeeded = |subject: &Subject| -> Vec<String> {
        let Some(p) = subject.parameter() else {
            return Vec::new();
        };
        values(call.params, p)
            .into_iter()
            .filter(|v| Some(p) != batch || !failures.contains_key(v))
            .collect()
    };
    for effect in &call.action.effects {
        if effect.when.as_ref().is_some_and(|c| !call.holds(c)) {
            continue;
        }
        apply_one(call, world, effect, &succeeded, new_id, &mut applied);
    }
    applied
}

#[allow(clippy::too_many_arguments)]
fn apply_one(
    call: &Call,
    world: &mut World,
    effect: &Effect,
    succeeded: &dyn Fn(&Subject) -> Vec<String>,
    new_id: &mut dyn FnMut(&str, &World) -> String,
    applied: &mut Applied,
) {
    let scope = call.scope().map(str::to_string);
    let no_resources = ServiceState::default();
    let key_ids_of = |world: &World, subject: &Subject| -> Vec<String> {
        let svc = world.service(&call.service).unwrap_or(&no_resources);
        let by = subject
            .parameter()
            .and_then(|p| call.reference(p))
            .map(|r| r.by)
            .unwrap_or(RefBy::Id);
        succeeded(subject)
            .iter()
            .filter_map(|v| find_key(svc, by, v, scope.as_deref()).map(|k| k.id.clone()))
            .collect()
    };
    let instance_ids = |subject: Option<&Subject>| subject.map(succeeded).unwrap_or_default();
    match effect.op {
        EffectOp::Unbind | EffectOp::Bind => {
            let (Some(keys), Some(instances)) = (&effect.keys, &effect.instances) else {
                return;
            };
            let keys = key_ids_of(world, keys);
            // A bind whose key parameter is absent (ENS names the key by id or by name) binds
            // nothing; in particular a replacing bind must not clear the instance.
            if effect.op == EffectOp::Bind && keys.is_empty() {
                return;
            }
            let targets = instance_ids(Some(instances));
            let svc = world.service_mut(&call.service);
            for inst in svc.instances.iter_mut().filter(|i| targets.contains(&i.id)) {
                if effect.op == EffectOp::Unbind {
                    inst.keys.retain(|k| !keys.contains(k));
                } else {
                    if effect.binding == Some(Binding::Replace) {
                        inst.keys.clear();
                    }
                    for k in &keys {
                        if !inst.keys.contains(k) {
                            inst.keys.push(k.clone());
                        }
                    }
                }
            }
        }
        EffectOp::Delete => {
            let Some(subject) = effect
                .target
                .as_ref()
                .or(effect.keys.as_ref())
                .or(effect.instances.as_ref())
            else {
                return;
            };
            let kind = effect
                .resource
                .clone()
                .or_else(|| {
                    subject
                        .parameter()
                        .and_then(|p| call.reference(p))
                        .map(|r| r.resource.clone())
                })
                .unwrap_or_default();
            match kind.as_str() {
                "key_pair" => {
                    let ids = key_ids_of(world, subject);
                    let svc = world.service_mut(&call.service);
                    svc.key_pairs.retain(|k| !ids.contains(&k.id));
                    // A deleted key is bound to nothing (the precondition normally ensures it).
                    for i in &mut svc.instances {
                        i.keys.retain(|k| !ids.contains(k));
                    }
                    for i in &mut svc.images {
                        i.keys.retain(|k| !ids.contains(k));
                    }
                }
                "instance" => {
                    let ids = succeeded(subject);
                    world
                        .service_mut(&call.service)
                        .instances
                        .retain(|i| !ids.contains(&i.id));
                }
                "image" => {
                    let ids = succeeded(subject);
                    world
                        .service_mut(&call.service)
                        .images
                        .retain(|i| !ids.contains(&i.id));
                }
                _ => {}
            }
        }
        EffectOp::Create => {
            let kind = effect.resource.clone().unwrap_or_else(|| "key_pair".into());
            if kind != "key_pair" {
                return;
            }
            let names = effect
                .target
                .as_ref()
                .and_then(|s| s.parameter())
                .map(|p| values(call.params, p))
                .unwrap_or_default();
            let region = call
                .region
                .map(str::to_string)
                .or_else(|| world.regions(call.provider.provider).first().cloned())
                .unwrap_or_default();
            for name in names {
                let id = new_id(&kind, world);
                world.service_mut(&call.service).key_pairs.push(KeyPair {
                    id: id.clone(),
                    name,
                    region: region.clone(),
                });
                applied.created.push((kind.clone(), id));
            }
        }
        EffectOp::SetState | EffectOp::RestoreState => {
            let targets = instance_ids(effect.target.as_ref().or(effect.instances.as_ref()));
            // A state is not part of the id index: change it in place, keeping the index, at
            // the positions the index gives (in world order, each instance once).
            let Some(svc) = world.services.get_mut(&call.service) else {
                return;
            };
            let mut at: Vec<usize> = targets
                .iter()
                .filter_map(|id| svc.instance_position(id))
                .collect();
            at.sort_unstable();
            at.dedup();
            for n in at {
                let inst = &mut svc.instances[n];
                let new_state = match effect.op {
                    EffectOp::SetState => effect.state.clone(),
                    // The state before this request: the first change recorded, else unchanged.
                    _ => Some(
                        applied
                            .state_changes
                            .iter()
                            .find(|(id, _, _)| *id == inst.id)
                            .map(|(_, before, _)| before.clone())
                            .unwrap_or_else(|| inst.state.clone()),
                    ),
                };
                if let Some(state) = new_state {
                    if state != inst.state {
                        applied.state_changes.push((
                            inst.id.clone(),
                            inst.state.clone(),
                            state.clone(),
                        ));
                        inst.state = state;
                    }
                }
            }
        }
    }
}
