//! Which cases an SDK can be asked to run, and realising a case's world in the embedded
//! emulator (through its public API) with concrete ids derived from the provider formats and
//! the case id, so a case always gets the same world.
use crate::emulator::{Emulator, World};
use crate::generate::values::{chars_from, stable_hash};
use crate::generate::{Caller, Case, Derived};
use crate::run::bind::{Bindings, Bound};
use crate::spec::{ActionSpec, Provider, RefBy};

/// Whether an SDK can express the case: one request, signed by the root account with the
/// SDK's own signer, in the provider's default style, no deliberate protocol fault. Style and
/// signing variants (`…@get`, `valid/style-*`) are covered by running every case under each
/// method the adapter offers instead.
pub fn applicable(case: &Case) -> bool {
    let [step] = case.steps.as_slice() else {
        return false;
    };
    !case.id.contains('@')
        && step.action == case.action.action
        && step.caller == Caller::Root
        && step.wire.tamper.is_none()
        && step.wire.signing.is_none()
        && step.wire.boolean.is_none()
}

/// Realise `case`'s world on `emulator` (replacing the service's resources, keeping accounts
/// and regions) and return the bindings of its symbols.
pub fn realise(emulator: &Emulator, action: &ActionSpec, case: &Case) -> Result<Bindings, String> {
    let mut world: World = World::default();
    let region = world
        .regions(case.action.provider)
        .first()
        .cloned()
        .unwrap_or_else(|| default_region(case.action.provider).to_string());
    let bindings = bind(emulator, action, case, &region);
    // The same service state the runner places for the case (made-up worlds stay empty).
    let state = crate::run::service_state(case, &bindings);
    world.services.insert(
        format!("{}/{}", case.action.provider, case.action.service),
        state,
    );
    emulator
        .set_world(world)
        .map_err(|e| format!("the case's world is refused by the emulator: {e}"))?;
    Ok(bindings)
}

pub fn default_region(provider: Provider) -> &'static str {
    match provider {
        Provider::Tencent => "ap-guangzhou",
        Provider::Alibaba => "cn-hangzhou",
    }
}

fn bind(emulator: &Emulator, action: &ActionSpec, case: &Case, region: &str) -> Bindings {
    let derived = Derived::new(emulator.specs());
    let make = |resource: &str, by: RefBy, sym: &str, fallback: &str| -> String {
        let salt = stable_hash(&[&case.id, sym, resource]);
        derived
            .resource_format(action, resource, by)
            .and_then(|f| f.make(salt))
            .unwrap_or_else(|| {
                let body = chars_from(b"0123456789abcdefghijklmnopqrstuvwxyz", 10, salt);
                format!("{fallback}{body}")
            })
    };
    let mut b = Bindings {
        region: region.to_string(),
        ..Default::default()
    };
    for k in &case.world.key_pairs {
        let id = make("key_pair", RefBy::Id, &k.sym, "key-");
        let name = make("key_pair", RefBy::Name, &k.sym, "cc");
        b.objects.insert(k.sym.clone(), Bound { id, name });
    }
    for (sym, resource, fallback) in case
        .world
        .instances
        .iter()
        .map(|i| (&i.sym, "instance", "i-"))
        .chain(case.world.images.iter().map(|m| (&m.sym, "image", "img-")))
    {
        let id = make(resource, RefBy::Id, sym, fallback);
        b.objects.insert(
            sym.clone(),
            Bound {
                id: id.clone(),
                name: id,
            },
        );
    }
    b
}
