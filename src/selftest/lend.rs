//! The URL mode's world and profile: every seed service of the served emulator holds only
//! instances lent to the run (as an operator would lend them from a real account), and the
//! profile lends them. Derived from the specs: per service, enough Linux instances for its
//! largest documented instance batch plus two (stopped and running, in the provider's
//! spelling) and two Windows ones; services with no documented call that binds a key (ECM)
//! lend bound keys too, enough for their largest key batch.
use crate::emulator::world::{AccountRole, Instance, KeyPair, ServiceState, World};
use crate::run::profile::{Profile, ProfileInstance};
use crate::sign::Credentials;
use crate::spec::{EffectOp, Format, Provider, ProviderSpec, Role, SpecSet};
use std::collections::BTreeMap;

/// How many Linux instances a service without a documented instance maximum lends.
const UNBOUNDED_BATCH: usize = 4;

/// What a URL-mode run serves and lends.
#[derive(Debug, Clone)]
pub struct Lending {
    pub world: World,
    pub profile: Profile,
    pub credentials: BTreeMap<Provider, Credentials>,
    /// The denied sub-user, for the permission cases.
    pub denied: Option<Credentials>,
    /// Temporary credentials (with their session token), for the missing-token cases.
    pub temporary: Option<Credentials>,
}

/// The lending world and profile for the seed services of `specs`, on the default world's
/// accounts and regions.
pub fn lending(specs: &SpecSet) -> Lending {
    let mut world = World::default();
    let mut sections: BTreeMap<Provider, Profile> = BTreeMap::new();
    let mut services: Vec<(Provider, String)> = specs
        .actions()
        .filter(|a| a.role == Role::Seed)
        .map(|a| (a.provider, a.service.clone()))
        .collect();
    services.sort();
    services.dedup();
    for (provider, service) in services {
        let Some(pspec) = specs.provider(provider) else {
            continue;
        };
        let region = world
            .regions
            .get(&provider)
            .and_then(|r| r.first())
            .cloned()
            .unwrap_or_default();
        let largest = |resource: &str| {
            specs
                .actions()
                .filter(|a| a.role == Role::Seed && a.provider == provider && a.service == service)
                .flat_map(|a| a.parameters.iter())
                .filter(|p| {
                    p.references
                        .as_ref()
                        .is_some_and(|r| r.resource == resource)
                })
                .map(|p| p.max_items)
                .max()
                .flatten()
        };
        let linux = largest("instance").unwrap_or(UNBOUNDED_BATCH) + 2;
        // Keys are lent bound where no documented call binds one.
        let binds = specs.actions().any(|a| {
            a.role == Role::Fixture
                && a.provider == provider
                && a.service == service
                && a.effects.iter().any(|e| e.op == EffectOp::Bind)
        });
        let keys_first = if binds {
            0
        } else {
            largest("key_pair").unwrap_or(1) + 1
        };
        let keys_each = if binds { 0 } else { 2 };
        let state = |want: &str| spelling(pspec, want);
        let (stopped, running) = (state("stopped"), state("running"));
        let instance_format = format_for(pspec, &service, "instance");
        let key_format =
            format_for(pspec, "", "key-id").or_else(|| format_for(pspec, "", "key-pair-id"));
        let mut svc = ServiceState::default();
        let mut lent = Vec::new();
        for n in 0..linux + 2 {
            let (os, state) = match n {
                _ if n >= linux => ("windows", &stopped),
                _ if n % 3 == 2 => ("linux", &running),
                _ => ("linux", &stopped),
            };
            let id = make_id(instance_format, 'l', n);
            let count = if n == 0 { keys_first } else { keys_each };
            let keys: Vec<String> = (0..count)
                .map(|k| make_id(key_format, 'k', n * 1000 + k))
                .collect();
            for k in &keys {
                svc.key_pairs.push(KeyPair {
                    id: k.clone(),
                    name: k.replace('-', "_"),
                    region: region.clone(),
                });
            }
            svc.instances.push(Instance {
                id: id.clone(),
                os: os.into(),
                state: state.clone(),
                region: region.clone(),
                keys: keys.clone(),
            });
            lent.push(ProfileInstance {
                service: service.clone(),
                id,
                os: os.into(),
                state: state.clone(),
                allow: None,
                keys,
            });
        }
        world.services.insert(format!("{provider}/{service}"), svc);
        let section = sections.entry(provider).or_insert_with(|| Profile {
            provider: Some(provider),
            region: region.clone(),
            ..Profile::default()
        });
        section.instances.extend(lent);
    }
    let account = |p: Provider, role: AccountRole, temporary: bool| {
        world
            .accounts
            .iter()
            .find(|a| a.provider == p && a.role == role && a.token.is_some() == temporary)
            .map(|a| {
                let c = Credentials::new(&a.access_key_id, &a.secret);
                match &a.token {
                    Some(t) => c.with_session_token(t),
                    None => c,
                }
            })
    };
    let credentials = Provider::ALL
        .into_iter()
        .filter_map(|p| account(p, AccountRole::Root, false).map(|c| (p, c)))
        .collect();
    let denied = Provider::ALL
        .into_iter()
        .find_map(|p| account(p, AccountRole::DeniedSubuser, false));
    let temporary = Provider::ALL
        .into_iter()
        .find_map(|p| account(p, AccountRole::Root, true));
    let profile = Profile {
        providers: sections
            .into_iter()
            .map(|(p, s)| (p.to_string(), s))
            .collect(),
        ..Profile::default()
    };
    Lending {
        world,
        profile,
        credentials,
        denied,
        temporary,
    }
}

/// The provider's spelling of an instance state (`STOPPED`, `Stopped`).
fn spelling(pspec: &ProviderSpec, want: &str) -> String {
    pspec
        .resources
        .get("instance")
        .and_then(|r| r.states.iter().find(|s| s.eq_ignore_ascii_case(want)))
        .cloned()
        .unwrap_or_else(|| want.to_string())
}

/// The provider format whose name starts with `service` (when given) and ends with `what`.
fn format_for<'a>(pspec: &'a ProviderSpec, service: &str, what: &str) -> Option<&'a Format> {
    pspec
        .formats
        .iter()
        .find(|(name, _)| name.starts_with(service) && name.ends_with(what))
        .map(|(_, f)| f)
}

/// A well-formed id of `format`: its prefix, a letter, then the number zero-padded to the
/// documented body length (12 characters when the format gives none).
fn make_id(format: Option<&Format>, letter: char, n: usize) -> String {
    let prefix = format.and_then(|f| f.prefix.as_deref()).unwrap_or_default();
    let len = format.and_then(|f| f.body_length).unwrap_or(12).max(2);
    format!("{prefix}{letter}{n:0width$}", width = len - 1)
}
