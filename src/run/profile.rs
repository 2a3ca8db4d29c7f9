//! The target profile (`--profile`): what the run may use on a target it did not write — the
//! regions, the instances lent and what may be done to each, the prefix of the keys the run
//! creates — and the claims that let cases on different lent instances run concurrently.
use crate::spec::Provider;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::Path;

/// What the harness may use on a live target (a JSON file given with `--profile`).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Profile {
    #[serde(default, rename = "$schema", skip_serializing_if = "Option::is_none")]
    pub schema: Option<String>,
    #[serde(default)]
    pub provider: Option<Provider>,
    /// Region every case runs in (of this provider, in a section).
    #[serde(default)]
    pub region: String,
    /// Use the spec's international domains (`cvm.intl.tencentcloudapi.com`) where it lists one.
    #[serde(default)]
    pub international: bool,
    /// Per-provider regions, for runs covering both clouds (else `region`).
    #[serde(default)]
    pub regions: BTreeMap<Provider, String>,
    /// Instances the harness may stop, start, bind and unbind keys on.
    #[serde(default)]
    pub instances: Vec<ProfileInstance>,
    /// Names of key pairs the run creates start with this (and `cleanup` removes only those).
    /// The top-level prefix is the one used, also for cases of a `providers` section.
    #[serde(default = "default_key_prefix")]
    pub key_prefix: String,
    /// One section per provider (`tencent`, `alibaba`), each with its region and instances,
    /// for a URL that serves both.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub providers: BTreeMap<String, Profile>,
}

fn default_key_prefix() -> String {
    "ccrun_".into()
}

/// What a lent instance may be used for (`allow` in the profile).
pub const OPERATIONS: [&str; 4] = ["stop", "start", "bind", "unbind"];

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProfileInstance {
    /// `cvm`, `ecm`, `ecs`, `ens`.
    pub service: String,
    pub id: String,
    /// `linux` or `windows`.
    pub os: String,
    /// The state it is lent in (provider spelling); informative: the run records the real
    /// state through Describe before changing anything and restores that.
    #[serde(default)]
    pub state: String,
    /// What the run may do to it (default: everything in [`OPERATIONS`]).
    #[serde(default)]
    pub allow: Option<Vec<String>>,
    /// Key pair ids bound to it that the run may use where no documented API binds keys
    /// (ECM binds them only at RunInstances). Such a binding is never consumed: cases that
    /// would remove it are inconclusive, since nothing could restore it.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub keys: Vec<String>,
}

impl ProfileInstance {
    pub fn allows(&self, op: &str) -> bool {
        self.allow
            .as_ref()
            .is_none_or(|a| a.iter().any(|x| x == op))
    }
}

impl Profile {
    pub fn load(path: &Path) -> Result<Profile, String> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("cannot read profile {}: {e}", path.display()))?;
        let p: Profile =
            serde_json::from_str(&text).map_err(|e| format!("profile {}: {e}", path.display()))?;
        let sections = std::iter::once(("".to_string(), &p)).chain(
            p.providers
                .iter()
                .map(|(k, v)| (format!("/providers/{k}"), v)),
        );
        for (at, section) in sections {
            for (n, i) in section.instances.iter().enumerate() {
                for op in i.allow.iter().flatten() {
                    if !OPERATIONS.contains(&op.as_str()) {
                        return Err(format!(
                            "profile {}: {at}/instances/{n}/allow: unknown operation `{op}` (one of {})",
                            path.display(),
                            OPERATIONS.join(", ")
                        ));
                    }
                }
            }
        }
        if p.key_prefix.is_empty() {
            return Err(format!(
                "profile {}: /key_prefix is empty; cleanup needs a prefix to recognise the run's keys",
                path.display()
            ));
        }
        if p.region.is_empty() && p.regions.is_empty() && p.providers.is_empty() {
            return Err(format!(
                "profile {}: no region; give `region`, `regions`, or a section per provider under `providers`",
                path.display()
            ));
        }
        Ok(p)
    }

    /// The region for a provider's cases: its `providers` section's, else `regions`', else
    /// `region`.
    pub fn region_for(&self, provider: Provider) -> &str {
        if let Some(s) = self.providers.get(provider.as_str()) {
            if !s.region.is_empty() || !s.regions.is_empty() {
                return s.region_for(provider);
            }
        }
        self.regions.get(&provider).unwrap_or(&self.region)
    }
}

impl Default for Profile {
    fn default() -> Self {
        Profile {
            schema: None,
            provider: None,
            region: String::new(),
            international: false,
            regions: BTreeMap::new(),
            instances: Vec::new(),
            key_prefix: default_key_prefix(),
            providers: BTreeMap::new(),
        }
    }
}

impl Profile {
    /// The section for a provider's cases: its entry under `providers`, else the profile itself.
    pub fn for_provider(&self, provider: Provider) -> &Profile {
        self.providers.get(provider.as_str()).unwrap_or(self)
    }
}

/// Which profile instances are in use by a running case: cases that need instances run
/// concurrently as long as they need different ones.
#[derive(Default)]
pub struct Claims {
    busy: tokio::sync::Mutex<std::collections::BTreeSet<String>>,
    freed: tokio::sync::Notify,
}

impl Claims {
    /// Claim one profile instance per need (service, os, lent keys), waiting while others hold
    /// them; an error when the profile could never satisfy the needs.
    pub(super) async fn claim(
        &self,
        profile: &Profile,
        needs: &[(&str, &str, usize)],
    ) -> Result<Vec<usize>, String> {
        let fits = |i: &ProfileInstance, (svc, os, keys): &(&str, &str, usize)| {
            i.service == *svc && i.os == *os && i.keys.len() >= *keys
        };
        let assign = |taken: &std::collections::BTreeSet<String>| -> Option<Vec<usize>> {
            let mut picked: Vec<usize> = Vec::new();
            for need in needs {
                let pos = profile.instances.iter().enumerate().position(|(n, i)| {
                    !taken.contains(&i.id) && !picked.contains(&n) && fits(i, need)
                })?;
                picked.push(pos);
            }
            Some(picked)
        };
        if assign(&Default::default()).is_none() {
            let (svc, os, keys) = needs
                .iter()
                .find(|n| {
                    profile.instances.iter().filter(|i| fits(i, n)).count()
                        < needs.iter().filter(|m| *m == *n).count()
                })
                .copied()
                .unwrap_or(("", "", 0));
            let with_keys = if keys > 0 {
                format!(" lending {keys} bound key(s)")
            } else {
                String::new()
            };
            return Err(format!(
                "needs {} {os} instance(s) of {svc}{with_keys}; the profile lends fewer",
                needs.iter().filter(|n| n.0 == svc && n.1 == os).count()
            ));
        }
        loop {
            let notified = self.freed.notified();
            {
                let mut busy = self.busy.lock().await;
                if let Some(picked) = assign(&busy) {
                    busy.extend(picked.iter().map(|n| profile.instances[*n].id.clone()));
                    return Ok(picked);
                }
            }
            notified.await;
        }
    }

    pub(super) async fn release(&self, claimed: &[String]) {
        if claimed.is_empty() {
            return;
        }
        let mut busy = self.busy.lock().await;
        for n in claimed {
            busy.remove(n);
        }
        drop(busy);
        self.freed.notify_waiters();
    }
}
