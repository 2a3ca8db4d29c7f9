//! What a live run created or changed and has not yet put back: key pairs it created (until
//! deleted), key pairs no API can delete (ECM: created once per run and reused, listed at the
//! end), lent instances not verified as restored, and mutations whose answer was lost. The
//! leak check, the second Ctrl-C and `cleanup` all read it.
use serde::Serialize;
use std::collections::BTreeMap;

/// One thing the run left behind.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Leftover {
    /// `tencent/cvm`.
    pub service: String,
    /// `key_pair` or `instance`.
    pub resource: String,
    pub id: String,
    pub note: String,
}

#[derive(Debug, Default)]
pub struct Ledger {
    /// Created key pairs not yet deleted, by id: (service, name).
    created: BTreeMap<String, (String, String)>,
    /// Key pairs whose delete call was answered but that no Describe has yet shown gone, by
    /// id: (service, name). The leak check at the end confirms them.
    unconfirmed: BTreeMap<String, (String, String)>,
    /// Reusable key pairs per service (no delete API), in creation order: (id, name).
    reusable: BTreeMap<String, Vec<(String, String)>>,
    /// Problems found while restoring (instances) or reconciling.
    problems: Vec<Leftover>,
}

impl Ledger {
    pub fn created(&mut self, service: &str, id: &str, name: &str) {
        self.created
            .insert(id.to_string(), (service.to_string(), name.to_string()));
    }

    /// The delete call was answered (or the key was already gone): off the leaks, to be
    /// confirmed by a Describe.
    pub fn deleted(&mut self, id: &str) {
        if let Some(k) = self.created.remove(id) {
            self.unconfirmed.insert(id.to_string(), k);
        }
    }

    /// Keys deleted by answer only, not yet shown gone: (id, service, name).
    pub fn unconfirmed(&self) -> Vec<(String, String, String)> {
        self.unconfirmed
            .iter()
            .map(|(id, (service, name))| (id.clone(), service.clone(), name.clone()))
            .collect()
    }

    /// A Describe no longer lists the key: its deletion is confirmed.
    pub fn confirmed_gone(&mut self, id: &str) {
        self.unconfirmed.remove(id);
    }

    /// A Describe still lists a key whose delete call was answered: a leak after all.
    pub fn still_listed(&mut self, id: &str) {
        if let Some((service, name)) = self.unconfirmed.remove(id) {
            self.problems.push(Leftover {
                service,
                resource: "key_pair".into(),
                id: id.to_string(),
                note: format!(
                    "`{name}`: its delete call was answered, but Describe still lists it"
                ),
            });
        }
    }

    /// The `n`-th reusable key of a service, if the run made one already.
    pub fn reusable(&self, service: &str, n: usize) -> Option<(String, String)> {
        self.reusable.get(service).and_then(|v| v.get(n)).cloned()
    }

    pub fn add_reusable(&mut self, service: &str, id: &str, name: &str) {
        self.reusable
            .entry(service.to_string())
            .or_default()
            .push((id.to_string(), name.to_string()));
    }

    pub fn problem(&mut self, service: &str, resource: &str, id: &str, note: &str) {
        self.problems.push(Leftover {
            service: service.into(),
            resource: resource.into(),
            id: id.into(),
            note: note.into(),
        });
    }

    /// Everything not put back: leaks (fail the run) and reusable keys (listed).
    pub fn leftovers(&self) -> (Vec<Leftover>, Vec<Leftover>) {
        let leaks = self
            .created
            .iter()
            .map(|(id, (service, name))| Leftover {
                service: service.clone(),
                resource: "key_pair".into(),
                id: id.clone(),
                note: format!("created by the run as `{name}`, not deleted"),
            })
            .chain(self.problems.iter().cloned())
            .collect();
        let kept = self
            .reusable
            .iter()
            .flat_map(|(service, keys)| {
                keys.iter().map(move |(id, name)| Leftover {
                    service: service.clone(),
                    resource: "key_pair".into(),
                    id: id.clone(),
                    note: format!("`{name}`: no API deletes it; created once and reused"),
                })
            })
            .collect();
        (leaks, kept)
    }
}
