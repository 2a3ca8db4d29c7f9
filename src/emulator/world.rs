//! The emulated cloud state ("world"): accounts, regions, and per service the instances, images
//! and key pairs the preconditions and effects talk about.
//!
//! The JSON shape is a public format (docs/emulator.md "World JSON"): the runner PUTs worlds in it
//! through the control API and `--state FILE` stores it. Keep field names and layout stable.
use crate::spec::Provider;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// Everything the emulator knows about both clouds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct World {
    pub accounts: Vec<Account>,
    /// Region ids per provider (`tencent`, `alibaba`).
    #[serde(default)]
    pub regions: BTreeMap<Provider, Vec<String>>,
    /// Per service, keyed `provider/service` (`tencent/cvm`, `tencent/ecm`, `alibaba/ecs`,
    /// `alibaba/ens`).
    #[serde(default)]
    pub services: BTreeMap<String, ServiceState>,
}

/// An access key and what it may do.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Account {
    pub provider: Provider,
    pub access_key_id: String,
    pub secret: String,
    /// STS session token the requests must carry, if any.
    #[serde(default)]
    pub token: Option<String>,
    pub role: AccountRole,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum AccountRole {
    /// May call every action.
    #[serde(rename = "root")]
    Root,
    /// A sub-user whose policy denies every emulated action.
    #[serde(rename = "denied-subuser")]
    DeniedSubuser,
}

/// The resources of one service.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServiceState {
    #[serde(default)]
    pub instances: Vec<Instance>,
    #[serde(default)]
    pub images: Vec<Image>,
    #[serde(default)]
    pub key_pairs: Vec<KeyPair>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Instance {
    pub id: String,
    /// `linux` or `windows`.
    pub os: String,
    /// In the provider's spelling: Tencent `RUNNING`/`STOPPED`, Alibaba `Running`/`Stopped`.
    pub state: String,
    pub region: String,
    /// Ids of the key pairs bound to the instance.
    #[serde(default)]
    pub keys: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Image {
    pub id: String,
    /// Ids of the key pairs the image references.
    #[serde(default)]
    pub keys: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeyPair {
    pub id: String,
    pub name: String,
    pub region: String,
}

/// Why a world document was refused.
#[derive(Debug, thiserror::Error)]
pub enum WorldError {
    #[error("cannot read world file {path}: {source}")]
    Read {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot write world file {path}: {source}")]
    Write {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("world JSON does not parse: {0}")]
    Parse(#[from] serde_json::Error),
    #[error("world is inconsistent: {}", .0.join("; "))]
    Invalid(Vec<String>),
}

/// The services the emulator serves, in `provider/service` form.
pub const SERVICES: [&str; 4] = ["tencent/cvm", "tencent/ecm", "alibaba/ecs", "alibaba/ens"];

impl World {
    /// Parse and check a world document.
    pub fn from_json(text: &[u8]) -> Result<World, WorldError> {
        let world: World = serde_json::from_slice(text)?;
        world.check()?;
        Ok(world)
    }

    pub fn to_json_pretty(&self) -> String {
        serde_json::to_string_pretty(self).expect("a world always serializes")
    }

    /// Load a world file.
    pub fn load(path: &Path) -> Result<World, WorldError> {
        let text = std::fs::read(path).map_err(|source| WorldError::Read {
            path: path.display().to_string(),
            source,
        })?;
        World::from_json(&text)
    }

    /// Write a world file atomically (temporary file, then rename).
    pub fn save(&self, path: &Path) -> Result<(), WorldError> {
        let tmp = path.with_extension("tmp-cloudconform");
        let write = |p: &Path| std::fs::write(p, self.to_json_pretty() + "\n");
        write(&tmp)
            .and_then(|_| std::fs::rename(&tmp, path))
            .map_err(|source| WorldError::Write {
                path: path.display().to_string(),
                source,
            })
    }

    /// Consistency rules: known services, unique ids, key references that resolve, `os` linux
    /// or windows, unique account ids per provider.
    pub fn check(&self) -> Result<(), WorldError> {
        let mut problems = Vec::new();
        let mut account_ids = BTreeSet::new();
        for a in &self.accounts {
            if !account_ids.insert((a.provider, a.access_key_id.as_str())) {
                problems.push(format!(
                    "account {} appears twice for {}",
                    a.access_key_id, a.provider
                ));
            }
        }
        for (name, svc) in &self.services {
            if !SERVICES.contains(&name.as_str()) {
                problems.push(format!(
                    "unknown service `{name}` (known: {})",
                    SERVICES.join(", ")
                ));
            }
            let mut ids = BTreeSet::new();
            for k in &svc.key_pairs {
                if !ids.insert(k.id.as_str()) {
                    problems.push(format!("{name}: key pair id {} appears twice", k.id));
                }
            }
            let key_ids: BTreeSet<&str> = svc.key_pairs.iter().map(|k| k.id.as_str()).collect();
            for i in &svc.instances {
                if !ids.insert(i.id.as_str()) {
                    problems.push(format!("{name}: id {} appears twice", i.id));
                }
                if i.os != "linux" && i.os != "windows" {
                    problems.push(format!(
                        "{name}: instance {} has os `{}` (linux or windows)",
                        i.id, i.os
                    ));
                }
                for k in &i.keys {
                    if !key_ids.contains(k.as_str()) {
                        problems.push(format!(
                            "{name}: instance {} is bound to unknown key pair {k}",
                            i.id
                        ));
                    }
                }
            }
            for img in &svc.images {
                if !ids.insert(img.id.as_str()) {
                    problems.push(format!("{name}: id {} appears twice", img.id));
                }
                for k in &img.keys {
                    if !key_ids.contains(k.as_str()) {
                        problems.push(format!(
                            "{name}: image {} references unknown key pair {k}",
                            img.id
                        ));
                    }
                }
            }
        }
        if problems.is_empty() {
            Ok(())
        } else {
            Err(WorldError::Invalid(problems))
        }
    }

    pub fn account(&self, provider: Provider, access_key_id: &str) -> Option<&Account> {
        self.accounts
            .iter()
            .find(|a| a.provider == provider && a.access_key_id == access_key_id)
    }

    pub fn regions(&self, provider: Provider) -> &[String] {
        self.regions
            .get(&provider)
            .map(Vec::as_slice)
            .unwrap_or(&[])
    }

    pub fn service(&self, key: &str) -> Option<&ServiceState> {
        self.services.get(key)
    }

    pub fn service_mut(&mut self, key: &str) -> &mut ServiceState {
        self.services.entry(key.to_string()).or_default()
    }
}

impl ServiceState {
    pub fn instance(&self, id: &str) -> Option<&Instance> {
        self.instances.iter().find(|i| i.id == id)
    }

    pub fn key_pair(&self, id: &str) -> Option<&KeyPair> {
        self.key_pairs.iter().find(|k| k.id == id)
    }

    /// Instances and images that reference the key pair `id`.
    pub fn users_of_key(&self, id: &str) -> (Vec<&str>, Vec<&str>) {
        let instances = self
            .instances
            .iter()
            .filter(|i| i.keys.iter().any(|k| k == id))
            .map(|i| i.id.as_str())
            .collect();
        let images = self
            .images
            .iter()
            .filter(|i| i.keys.iter().any(|k| k == id))
            .map(|i| i.id.as_str())
            .collect();
        (instances, images)
    }
}

// ---------------------------------------------------------------- default world

/// Root credentials of the default world (both providers): the values the SDK captures use.
pub const ROOT_ACCESS_KEY_ID: &str = "AKIDEXAMPLE";
pub const ROOT_SECRET: &str = "SECRETEXAMPLE";
/// A sub-user whose policy denies every emulated action (both providers).
pub const DENIED_ACCESS_KEY_ID: &str = "AKIDSUBUSERDENY";
pub const DENIED_SECRET: &str = "SUBUSERSECRET";

fn instance(id: &str, os: &str, state: &str, region: &str, keys: &[&str]) -> Instance {
    Instance {
        id: id.into(),
        os: os.into(),
        state: state.into(),
        region: region.into(),
        keys: keys.iter().map(|k| k.to_string()).collect(),
    }
}

fn key(id: &str, name: &str, region: &str) -> KeyPair {
    KeyPair {
        id: id.into(),
        name: name.into(),
        region: region.into(),
    }
}

impl Default for World {
    /// The documented default world (docs/emulator.md "Default world").
    fn default() -> World {
        let mut accounts = Vec::new();
        for provider in Provider::ALL {
            accounts.push(Account {
                provider,
                access_key_id: ROOT_ACCESS_KEY_ID.into(),
                secret: ROOT_SECRET.into(),
                token: None,
                role: AccountRole::Root,
            });
            accounts.push(Account {
                provider,
                access_key_id: DENIED_ACCESS_KEY_ID.into(),
                secret: DENIED_SECRET.into(),
                token: None,
                role: AccountRole::DeniedSubuser,
            });
        }
        let regions = BTreeMap::from([
            (
                Provider::Tencent,
                vec!["ap-guangzhou".into(), "ap-shanghai".into()],
            ),
            (
                Provider::Alibaba,
                vec!["cn-hangzhou".into(), "cn-beijing".into()],
            ),
        ]);
        let gz = "ap-guangzhou";
        let cvm = ServiceState {
            instances: vec![
                instance("ins-linstop1", "linux", "STOPPED", gz, &["skey-boundins"]),
                instance("ins-linrun01", "linux", "RUNNING", gz, &["skey-boundins"]),
                instance("ins-winstop1", "windows", "STOPPED", gz, &[]),
                instance("ins-linnokey", "linux", "STOPPED", gz, &[]),
            ],
            images: vec![Image {
                id: "img-withkey1".into(),
                keys: vec!["skey-boundimg".into()],
            }],
            key_pairs: vec![
                key("skey-boundins", "cc_bound_instance", gz),
                key("skey-boundimg", "cc_bound_image", gz),
                key("skey-free0001", "cc_free_1", gz),
                key("skey-free0002", "cc_free_2", gz),
            ],
        };
        let ecm = ServiceState {
            instances: vec![
                instance("ein-linstop1", "linux", "STOPPED", gz, &["skey-ecmbound"]),
                instance("ein-linrun01", "linux", "RUNNING", gz, &["skey-ecmbound"]),
                instance("ein-winstop1", "windows", "STOPPED", gz, &[]),
                instance("ein-linnokey", "linux", "STOPPED", gz, &[]),
            ],
            images: vec![],
            key_pairs: vec![
                key("skey-ecmbound", "cc_ecm_bound", gz),
                key("skey-ecmfree1", "cc_ecm_free_1", gz),
            ],
        };
        let hz = "cn-hangzhou";
        let ecs = ServiceState {
            instances: vec![
                instance(
                    "i-bp1linuxstopped0001",
                    "linux",
                    "Stopped",
                    hz,
                    &["ssh-ecsbound0001"],
                ),
                instance(
                    "i-bp1linuxrunning0001",
                    "linux",
                    "Running",
                    hz,
                    &["ssh-ecsbound0001"],
                ),
                instance("i-bp1windowsstopped01", "windows", "Stopped", hz, &[]),
                instance("i-bp1linuxnokey00001", "linux", "Stopped", hz, &[]),
            ],
            images: vec![],
            key_pairs: vec![
                key("ssh-ecsbound0001", "cc_ecs_bound", hz),
                key("ssh-ecsfree00001", "cc_ecs_free_1", hz),
            ],
        };
        let ens = ServiceState {
            instances: vec![
                instance(
                    "i-enslinuxstopped00000001",
                    "linux",
                    "Stopped",
                    hz,
                    &["ssh-ensbound0001"],
                ),
                instance(
                    "i-enslinuxrunning00000001",
                    "linux",
                    "Running",
                    hz,
                    &["ssh-ensbound0001"],
                ),
                instance("i-enswindowsstopped000001", "windows", "Stopped", hz, &[]),
                instance("i-enslinuxnokey0000000001", "linux", "Stopped", hz, &[]),
            ],
            images: vec![],
            key_pairs: vec![
                key("ssh-ensbound0001", "cc_ens_bound", hz),
                key("ssh-ensfree00001", "cc_ens_free_1", hz),
            ],
        };
        World {
            accounts,
            regions,
            services: BTreeMap::from([
                ("tencent/cvm".to_string(), cvm),
                ("tencent/ecm".to_string(), ecm),
                ("alibaba/ecs".to_string(), ecs),
                ("alibaba/ens".to_string(), ens),
            ]),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_world_is_consistent_and_round_trips() {
        let w = World::default();
        w.check().unwrap();
        let back = World::from_json(w.to_json_pretty().as_bytes()).unwrap();
        assert_eq!(w, back);
    }

    #[test]
    fn rejects_dangling_keys_and_unknown_fields() {
        let bad = r#"{"accounts": [], "services": {"tencent/cvm": {"instances": [
            {"id": "ins-1", "os": "linux", "state": "STOPPED", "region": "r", "keys": ["skey-x"]}]}}}"#;
        assert!(matches!(
            World::from_json(bad.as_bytes()),
            Err(WorldError::Invalid(_))
        ));
        let typo = r#"{"accounts": [], "servces": {}}"#;
        assert!(matches!(
            World::from_json(typo.as_bytes()),
            Err(WorldError::Parse(_))
        ));
    }
}
