//! `--dry-run`: what a run would send, before it sends anything — cases and requests per
//! action (the steps, the effect checks, and on live targets the world set-up, the describes
//! that record and verify lent instances, and the teardown), and the expected duration at each
//! action's documented rate. Actions are paced independently, so the run takes at least as long
//! as its slowest action: that bound is the expected duration.
use super::fixture_calls::fixture_of;
use crate::generate::{Case, Expect, Tamper};
use crate::spec::{ActionKey, SpecSet};
use std::collections::BTreeMap;

/// Requests one action would receive.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ActionPlan {
    pub cases: usize,
    pub requests: u64,
    /// Documented requests per second, when the spec gives one.
    pub rate: Option<u32>,
}

impl ActionPlan {
    /// Seconds at the documented rate (0 when there is none: unpaced).
    pub fn seconds(&self) -> f64 {
        self.rate
            .filter(|r| *r > 0)
            .map_or(0.0, |r| self.requests as f64 / f64::from(r))
    }
}

/// Per action (`tencent/cvm/DeleteKeyPairs`): what it would receive.
pub fn plan(specs: &SpecSet, cases: &[Case], live: bool) -> BTreeMap<String, ActionPlan> {
    let mut out: BTreeMap<String, ActionPlan> = BTreeMap::new();
    let mut add = |key: &ActionKey, action: &str, n: u64| {
        if n == 0 {
            return;
        }
        let rate = specs
            .find(key.provider, &key.service, action)
            .into_iter()
            .find(|a| a.version == key.version)
            .and_then(|a| a.rate_limit.as_ref().map(|r| r.per_second));
        let e = out
            .entry(format!("{}/{}/{action}", key.provider, key.service))
            .or_default();
        e.requests += n;
        e.rate = rate;
    };
    for case in cases {
        let key = &case.action;
        for step in &case.steps {
            let n = match &step.wire.tamper {
                Some(Tamper::Burst { requests }) => *requests as u64,
                Some(Tamper::Replay) => 2,
                _ => 1,
            };
            add(key, &step.action, n);
            if let Expect::Success { effects, .. } = &step.expect {
                let action = specs
                    .find(key.provider, &key.service, &step.action)
                    .into_iter()
                    .find(|a| a.version == key.version)
                    .cloned();
                for id in effects {
                    let observe = action
                        .as_ref()
                        .and_then(|a| a.effects.iter().find(|e| &e.id == id))
                        .and_then(|e| match &e.observe {
                            Some(crate::spec::Observe::Action { action, .. }) => {
                                Some(action.clone())
                            }
                            _ => None,
                        });
                    if let Some(observe) = observe {
                        add(key, &observe, 1);
                    }
                }
            }
        }
        // Made-up worlds (the answer precedes existence) send no fixture request.
        if !live || case.world.made_up {
            continue;
        }
        let name = |purpose: &str, resource: &str| {
            fixture_of(specs, key, purpose, resource).map(|a| a.action.clone())
        };
        let keys = case.world.key_pairs.len() as u64;
        let bound: u64 = case
            .world
            .instances
            .iter()
            .map(|i| i.keys.len() as u64)
            .sum();
        let instances = case.world.instances.len() as u64;
        if let Some(a) = name("create", "key_pair") {
            add(key, &a, keys);
        }
        let bind = fixture_of(specs, key, "bind", "key_pair")
            .or_else(|| fixture_of(specs, key, "bind", "instance"));
        if let Some(spec) = bind {
            // Each instance's keys, as many per call as the action takes (see built_world).
            let per_call = spec.batch_limit("key_pair") as u64;
            let calls = case
                .world
                .instances
                .iter()
                .map(|i| (i.keys.len() as u64).div_ceil(per_call))
                .sum();
            add(key, &spec.action, calls);
        }
        if let Some(a) = name("unbind", "key_pair") {
            add(key, &a, bound);
        }
        if let Some(a) = name("describe", "instance") {
            // Record before, describe before restoring, verify after; one per unbind.
            add(key, &a, instances * 3 + bound);
        }
        if let Some(a) = name("stop", "instance") {
            add(key, &a, instances);
        }
        if let Some(spec) = fixture_of(specs, key, "delete", "key_pair") {
            let batch = spec.batch_limit("key_pair") as u64;
            add(key, &spec.action, keys.div_ceil(batch));
        }
    }
    for case in cases {
        let id = format!(
            "{}/{}/{}",
            case.action.provider, case.action.service, case.action.action
        );
        if let Some(e) = out.get_mut(&id) {
            e.cases += 1;
        }
    }
    out
}

/// The expected duration: the slowest action at its documented rate.
pub fn expected_seconds(plan: &BTreeMap<String, ActionPlan>) -> f64 {
    plan.values().map(ActionPlan::seconds).fold(0.0, f64::max)
}
