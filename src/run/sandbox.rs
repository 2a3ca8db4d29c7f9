//! Lent instances on live targets: what the profile lets the run do to each, a record of the
//! instance (state and bound keys) taken through Describe before the run changes it, and the
//! restore afterwards — the original state, the original keys re-bound where the target
//! replaced them (Alibaba `AttachKeyPair` replaces the bound key), keys the run bound removed —
//! verified by describing again. The describe answer is read through the spec's
//! `each_instance_*` outputs, so no provider field name lives here.
use super::bind::{Bindings, Bound};
use super::exec::Endpoint;
use super::fixture_calls::{call, fixture, rejected};
use super::Runner;
use crate::check::effects::{flatten, select};
use crate::generate::Case;
use std::collections::BTreeMap;

/// An instance as Describe showed it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InstanceRecord {
    pub id: String,
    pub state: String,
    /// Bound keys (ids or names, as the provider lists them); `None` when the describe answer
    /// does not show keys (ECM).
    pub keys: Option<Vec<String>>,
}

/// Describe one bound instance symbol.
pub async fn describe(
    runner: &Runner,
    case: &Case,
    endpoint: &Endpoint,
    bindings: &Bindings,
    sym: &str,
) -> Result<InstanceRecord, String> {
    let spec = fixture(runner, case, "describe", "instance")
        .ok_or("no fixture spec describes instances of this service")?;
    let id = bindings
        .objects
        .get(sym)
        .map(|b| b.id.clone())
        .ok_or_else(|| format!("instance {sym} is not bound"))?;
    let given = BTreeMap::from([("instance".to_string(), vec![sym.to_string()])]);
    let body = call(runner, endpoint, &spec, &given, &[], bindings).await?;
    let pointer = |name: &str| spec.response.outputs.get(name).cloned();
    let (Some(ids), Some(states)) = (pointer("each_instance_id"), pointer("each_instance_state"))
    else {
        return Err(format!(
            "{}: the spec has no each_instance_id/each_instance_state outputs",
            spec.action
        ));
    };
    let vars = BTreeMap::new();
    let ids = select(&body, &ids, &vars);
    let states = select(&body, &states, &vars);
    let keys = pointer("each_instance_keys").map(|p| select(&body, &p, &vars));
    let at = ids
        .iter()
        .position(|v| v.as_str() == Some(id.as_str()))
        .ok_or_else(|| format!("{} does not list instance {id}", spec.action))?;
    Ok(InstanceRecord {
        id,
        state: states
            .get(at)
            .and_then(|s| s.as_str())
            .unwrap_or_default()
            .to_string(),
        keys: keys.map(|k| {
            k.get(at)
                .map(|v| flatten(std::slice::from_ref(v)))
                .unwrap_or_default()
        }),
    })
}

/// Put a lent instance back as `before` showed it and check that it is.
pub async fn restore(
    runner: &Runner,
    case: &Case,
    endpoint: &Endpoint,
    bindings: &Bindings,
    sym: &str,
    before: &InstanceRecord,
) -> Result<(), String> {
    let mut now = describe(runner, case, endpoint, bindings, sym).await?;
    let mut b = bindings.clone();
    let keys_differ = match (&before.keys, &now.keys) {
        (Some(was), Some(is)) => {
            is.iter().any(|k| !was.contains(k)) || was.iter().any(|k| !is.contains(k))
        }
        _ => false,
    };
    // Keys are bound and unbound while the instance is stopped (what every spec allows).
    if keys_differ && !now.state.to_ascii_lowercase().contains("stop") {
        if let Some(spec) = fixture(runner, case, "stop", "instance") {
            let given = BTreeMap::from([("instance".to_string(), vec![sym.to_string()])]);
            ignore_rejection(call(runner, endpoint, &spec, &given, &[], &b).await)?;
            now = describe(runner, case, endpoint, bindings, sym).await?;
        }
    }
    if let (Some(was), Some(is)) = (&before.keys, &now.keys) {
        // Keys the run left bound: off. Original keys the target dropped: back on.
        if let Some(unbind) = fixture(runner, case, "unbind", "key_pair") {
            for k in is.iter().filter(|k| !was.contains(k)) {
                bind_sym(&mut b, "__restore_key", k);
                let given = given(sym, "__restore_key");
                ignore_rejection(call(runner, endpoint, &unbind, &given, &[], &b).await)?;
            }
        }
        if let Some(bind) = fixture(runner, case, "bind", "key_pair")
            .or_else(|| fixture(runner, case, "bind", "instance"))
        {
            for k in was.iter().filter(|k| !is.contains(k)) {
                bind_sym(&mut b, "__restore_key", k);
                let given = given(sym, "__restore_key");
                call(runner, endpoint, &bind, &given, &[], &b).await?;
            }
        }
    }
    if !now.state.eq_ignore_ascii_case(&before.state) {
        let purpose = if before.state.to_ascii_lowercase().contains("stop") {
            "stop"
        } else {
            "start"
        };
        if let Some(spec) = fixture(runner, case, purpose, "instance") {
            let given = BTreeMap::from([("instance".to_string(), vec![sym.to_string()])]);
            ignore_rejection(call(runner, endpoint, &spec, &given, &[], &b).await)?;
        }
    }
    let after = describe(runner, case, endpoint, bindings, sym).await?;
    let keys_back = match (&before.keys, &after.keys) {
        (Some(was), Some(is)) => {
            let (mut was, mut is) = (was.clone(), is.clone());
            was.sort();
            is.sort();
            was == is
        }
        _ => true,
    };
    if keys_back && after.state.eq_ignore_ascii_case(&before.state) {
        Ok(())
    } else {
        Err(format!(
            "instance {} not restored: was {} with keys {:?}, now {} with keys {:?}",
            before.id, before.state, before.keys, after.state, after.keys
        ))
    }
}

fn bind_sym(b: &mut Bindings, sym: &str, key: &str) {
    b.objects.insert(
        sym.to_string(),
        Bound {
            id: key.to_string(),
            name: key.to_string(),
        },
    );
}

fn given(instance: &str, key: &str) -> BTreeMap<String, Vec<String>> {
    BTreeMap::from([
        ("instance".to_string(), vec![instance.to_string()]),
        ("key_pair".to_string(), vec![key.to_string()]),
    ])
}

/// The target's own "already so" errors are fine; lost answers are not.
fn ignore_rejection(r: Result<serde_json::Value, String>) -> Result<(), String> {
    match r {
        Ok(_) => Ok(()),
        Err(e) if rejected(&e) => Ok(()),
        Err(e) => Err(e),
    }
}
