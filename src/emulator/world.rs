//! The emulated cloud state ("world"): accounts, regions, and per service the instances, images
//! and key pairs the preconditions and effects talk about.
//!
//! The JSON shape is a public format (docs/emulator.md "World JSON"): the runner PUTs worlds in it
//! through the control API and `--state FILE` stores it. Keep field names and layout stable.
use crate::spec::Provider;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::Path;
use std::sync::OnceLock;

/// Everything the emulator knows about both clouds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "Document")]
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
///
/// Lookups by id go through an index built on first use, so an answer about a few named
/// resources costs the same in a world of 100 or 100,000 instances. Change the lists through
/// [`World::service_mut`] (which drops the index) or [`ServiceState::changed`].
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServiceState {
    #[serde(default)]
    pub instances: Vec<Instance>,
    #[serde(default)]
    pub images: Vec<Image>,
    #[serde(default)]
    pub key_pairs: Vec<KeyPair>,
    #[serde(skip)]
    pub(crate) index: IdIndex,
}

/// Positions by id: instances, key pairs, and the instances bound to each key pair. Not part
/// of the world's value: a copy starts without one, and two worlds compare by their lists.
#[derive(Default)]
pub(crate) struct IdIndex(OnceLock<Positions>);

struct Positions {
    instances: HashMap<String, usize>,
    key_pairs: HashMap<String, usize>,
    bound: HashMap<String, Vec<usize>>,
    /// Instance positions per region, ascending (pages of a region's instances without a walk).
    regions: HashMap<String, Vec<usize>>,
    /// Key-pair positions per region, ascending (the same for key pairs).
    key_regions: HashMap<String, Vec<usize>>,
    /// The list lengths the index was built for: a change that bypassed `service_mut` and
    /// changed a length is noticed and the index rebuilt.
    lengths: (usize, usize),
}

impl Clone for IdIndex {
    fn clone(&self) -> Self {
        IdIndex::default()
    }
}

impl PartialEq for IdIndex {
    fn eq(&self, _: &Self) -> bool {
        true
    }
}

impl Eq for IdIndex {}

impl std::fmt::Debug for IdIndex {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("IdIndex")
    }
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
    #[error("world does not follow worlds/world.schema.json: {}", .0.join("; "))]
    Schema(Vec<String>),
    #[error("world is inconsistent: {}", .0.join("; "))]
    Invalid(Vec<String>),
}

/// The services the emulator serves, in `provider/service` form.
pub const SERVICES: [&str; 4] = ["tencent/cvm", "tencent/ecm", "alibaba/ecs", "alibaba/ens"];

impl World {
    /// Parse and check a world document.
    pub fn from_json(text: &[u8]) -> Result<World, WorldError> {
        let doc: serde_json::Value = serde_json::from_slice(text)?;
        let problems: Vec<String> = schema_validator()
            .iter_errors(&doc)
            .take(10)
            .map(|e| {
                let at = e.instance_path().to_string();
                format!("at {}: {e}", if at.is_empty() { "/" } else { &at })
            })
            .collect();
        if !problems.is_empty() {
            return Err(WorldError::Schema(problems));
        }
        let world: World = serde_json::from_value(doc)?;
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
    /// or windows, unique account ids per provider, no redacted secrets written back.
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
            if a.secret == REDACTED || a.token.as_deref() == Some(REDACTED) {
                problems.push(format!(
                    "account {} ({}) has the secret or token `{REDACTED}`: this is a redacted \
                     copy; read the world with GET /_cloudconform/world?secrets=true before \
                     writing it back, or give the real secret",
                    a.access_key_id, a.provider
                ));
            }
        }
        for (name, svc) in &self.services {
            check_service(name, svc, &mut problems);
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

    /// A service's state to change; its id index is dropped (rebuilt on the next lookup).
    pub fn service_mut(&mut self, key: &str) -> &mut ServiceState {
        let svc = self.services.entry(key.to_string()).or_default();
        svc.changed();
        svc
    }
}

impl ServiceState {
    /// Forget the id index after changing the lists directly (`World::service_mut` does this).
    pub fn changed(&mut self) {
        self.index = IdIndex::default();
    }

    /// The index, or `None` if the lists changed length behind its back (then lookups scan:
    /// slower, never wrong).
    fn positions(&self) -> Option<&Positions> {
        let lengths = (self.instances.len(), self.key_pairs.len());
        let positions = self.index.0.get_or_init(|| {
            let mut bound: HashMap<String, Vec<usize>> = HashMap::new();
            for (n, i) in self.instances.iter().enumerate() {
                for k in &i.keys {
                    bound.entry(k.clone()).or_default().push(n);
                }
            }
            let ids = |it: &mut dyn Iterator<Item = &String>| {
                it.enumerate().map(|(n, id)| (id.clone(), n)).collect()
            };
            // Positions per region, ascending; each region's name is copied once, not per entry.
            let by_region = |it: &mut dyn Iterator<Item = &String>| {
                let mut at: HashMap<String, Vec<usize>> = HashMap::new();
                for (n, region) in it.enumerate() {
                    match at.get_mut(region) {
                        Some(list) => list.push(n),
                        None => {
                            at.insert(region.clone(), vec![n]);
                        }
                    }
                }
                at
            };
            Positions {
                instances: ids(&mut self.instances.iter().map(|i| &i.id)),
                key_pairs: ids(&mut self.key_pairs.iter().map(|k| &k.id)),
                bound,
                regions: by_region(&mut self.instances.iter().map(|i| &i.region)),
                key_regions: by_region(&mut self.key_pairs.iter().map(|k| &k.region)),
                lengths,
            }
        });
        (positions.lengths == lengths).then_some(positions)
    }

    /// The positions of the instances in `region`, ascending; `None` when the index is stale
    /// (the caller then walks the list). Regions never change by an action's effects.
    pub fn instances_in_region(&self, region: &str) -> Option<&[usize]> {
        let positions = self.positions()?;
        Some(positions.regions.get(region).map_or(&[][..], Vec::as_slice))
    }

    /// The positions of the key pairs in `region`, ascending; `None` when the index is stale.
    pub fn key_pairs_in_region(&self, region: &str) -> Option<&[usize]> {
        let positions = self.positions()?;
        Some(
            positions
                .key_regions
                .get(region)
                .map_or(&[][..], Vec::as_slice),
        )
    }

    /// The position of instance `id` in `instances`.
    pub fn instance_position(&self, id: &str) -> Option<usize> {
        let scan = || self.instances.iter().position(|i| i.id == id);
        let Some(positions) = self.positions() else {
            return scan();
        };
        let n = *positions.instances.get(id)?;
        // A hit is checked, so a change behind the index's back cannot make it lie.
        (self.instances.get(n)?.id == id).then_some(n).or_else(scan)
    }

    pub fn instance(&self, id: &str) -> Option<&Instance> {
        self.instances.get(self.instance_position(id)?)
    }

    /// The position of key pair `id` in `key_pairs`.
    pub fn key_pair_position(&self, id: &str) -> Option<usize> {
        let scan = || self.key_pairs.iter().position(|k| k.id == id);
        let Some(positions) = self.positions() else {
            return scan();
        };
        let n = *positions.key_pairs.get(id)?;
        (self.key_pairs.get(n)?.id == id).then_some(n).or_else(scan)
    }

    pub fn key_pair(&self, id: &str) -> Option<&KeyPair> {
        self.key_pairs.get(self.key_pair_position(id)?)
    }

    /// Instances and images that reference the key pair `id`.
    pub fn users_of_key(&self, id: &str) -> (Vec<&str>, Vec<&str>) {
        let images = self
            .images
            .iter()
            .filter(|i| i.keys.iter().any(|k| k == id))
            .map(|i| i.id.as_str())
            .collect();
        (self.instances_of_key(id), images)
    }

    /// The ids of the instances bound to the key pair `id` (what a key pair's answer lists;
    /// images are not walked).
    pub fn instances_of_key(&self, id: &str) -> Vec<&str> {
        let bound = |i: &&Instance| i.keys.iter().any(|k| k == id);
        match self.positions() {
            Some(p) => p
                .bound
                .get(id)
                .map(|at| {
                    at.iter()
                        .filter_map(|n| self.instances.get(*n))
                        .filter(bound)
                        .map(|i| i.id.as_str())
                        .collect()
                })
                .unwrap_or_default(),
            None => self
                .instances
                .iter()
                .filter(bound)
                .map(|i| i.id.as_str())
                .collect(),
        }
    }
}

// ---------------------------------------------------------------- default world

/// The default world (docs/emulator.md "Default world"): named fixtures, then bulk objects made
/// by the `generate` rules so every documented batch limit can be reached.
pub const DEFAULT_WORLD_JSON: &str = include_str!("../../worlds/default.json");
/// The schema every world document is checked against (`worlds/world.schema.json`).
pub const WORLD_SCHEMA: &str = include_str!("../../worlds/world.schema.json");
/// What a redacted secret or token reads as.
pub const REDACTED: &str = "<redacted>";

fn schema_validator() -> &'static jsonschema::Validator {
    static VALIDATOR: OnceLock<jsonschema::Validator> = OnceLock::new();
    VALIDATOR.get_or_init(|| {
        let schema: serde_json::Value =
            serde_json::from_str(WORLD_SCHEMA).expect("the embedded world schema is JSON");
        jsonschema::options()
            .with_draft(jsonschema::Draft::Draft202012)
            .build(&schema)
            .expect("the embedded world schema compiles")
    })
}

impl Default for World {
    /// The documented default world, read from `worlds/default.json` (embedded at build time).
    fn default() -> World {
        static DEFAULT: OnceLock<World> = OnceLock::new();
        DEFAULT
            .get_or_init(|| {
                World::from_json(DEFAULT_WORLD_JSON.as_bytes())
                    .expect("worlds/default.json is a consistent world")
            })
            .clone()
    }
}

impl World {
    /// Whether `account` is one of the default world's documented example accounts (whose
    /// secrets are public and may be printed).
    pub fn is_example_account(account: &Account) -> bool {
        World::default().accounts.contains(account)
    }

    /// A copy with every secret and session token replaced by [`REDACTED`].
    pub fn redacted(&self) -> World {
        let mut w = self.clone();
        for a in &mut w.accounts {
            a.secret = REDACTED.into();
            if a.token.is_some() {
                a.token = Some(REDACTED.into());
            }
        }
        w
    }
}

/// A world document as written: the world's fields plus `generate` rules.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Document {
    #[serde(rename = "$schema", default)]
    _schema: Option<String>,
    accounts: Vec<Account>,
    #[serde(default)]
    regions: BTreeMap<Provider, Vec<String>>,
    #[serde(default)]
    services: BTreeMap<String, ServiceState>,
    #[serde(default)]
    generate: Vec<Rule>,
}

/// `count` copies of an instance or key pair template; `{n}` / `{n:W}` in its strings become
/// 1..=count (zero-padded to W digits).
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Rule {
    service: String,
    count: usize,
    #[serde(default)]
    instance: Option<Instance>,
    #[serde(default)]
    key_pair: Option<KeyPair>,
    #[allow(dead_code)] // documentation for the reader of the file
    why: String,
}

/// The most objects one rule, and all rules together, may make (bounds what a world document
/// can make the emulator hold).
const MAX_GENERATED: usize = 10_000;
const MAX_GENERATED_TOTAL: usize = 100_000;

impl TryFrom<Document> for World {
    type Error = String;

    fn try_from(doc: Document) -> Result<World, String> {
        let mut world = World {
            accounts: doc.accounts,
            regions: doc.regions,
            services: doc.services,
        };
        let total = doc
            .generate
            .iter()
            .fold(0usize, |sum, r| sum.saturating_add(r.count));
        if total > MAX_GENERATED_TOTAL {
            return Err(format!(
                "generate: {total} objects in all, over {MAX_GENERATED_TOTAL}; lower the counts"
            ));
        }
        for (i, rule) in doc.generate.iter().enumerate() {
            if rule.count > MAX_GENERATED {
                return Err(format!(
                    "generate[{i}]: count {} is over {MAX_GENERATED}",
                    rule.count
                ));
            }
            let svc = world.service_mut(&rule.service);
            match (&rule.instance, &rule.key_pair) {
                (Some(t), None) => svc.instances.extend((1..=rule.count).map(|n| Instance {
                    id: numbered(&t.id, n),
                    os: t.os.clone(),
                    state: t.state.clone(),
                    region: numbered(&t.region, n),
                    keys: t.keys.iter().map(|k| numbered(k, n)).collect(),
                })),
                (None, Some(t)) => svc.key_pairs.extend((1..=rule.count).map(|n| KeyPair {
                    id: numbered(&t.id, n),
                    name: numbered(&t.name, n),
                    region: numbered(&t.region, n),
                })),
                _ => {
                    return Err(format!(
                        "generate[{i}]: give exactly one of `instance` or `key_pair`"
                    ))
                }
            }
        }
        Ok(world)
    }
}

/// `template` with `{n}` replaced by `n` and `{n:W}` by `n` zero-padded to W digits.
fn numbered(template: &str, n: usize) -> String {
    let mut out = String::with_capacity(template.len() + 4);
    let mut rest = template;
    while let Some(start) = rest.find("{n") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let width = after
            .strip_prefix(':')
            .and_then(|w| w.split_once('}'))
            .and_then(|(w, tail)| w.parse::<usize>().ok().map(|w| (w, tail)));
        match (after.strip_prefix('}'), width) {
            (Some(tail), _) => {
                out.push_str(&n.to_string());
                rest = tail;
            }
            (None, Some((w, tail))) => {
                out.push_str(&format!("{n:0w$}"));
                rest = tail;
            }
            _ => {
                out.push_str("{n");
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

/// One service's own consistency (what `World::check` requires of each service).
pub fn check_service(name: &str, svc: &ServiceState, problems: &mut Vec<String>) {
    if !SERVICES.contains(&name) {
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
            Err(WorldError::Schema(_))
        ));
    }

    #[test]
    fn default_world_reaches_the_documented_batch_limits() {
        let w = World::default();
        let linux_in = |svc: &str, region: &str| {
            w.services[svc]
                .instances
                .iter()
                .filter(|i| i.os == "linux" && i.region == region)
                .count()
        };
        assert!(linux_in("tencent/cvm", "ap-guangzhou") >= 101);
        assert!(linux_in("alibaba/ecs", "cn-hangzhou") >= 51);
        assert!(linux_in("alibaba/ens", "cn-hangzhou") >= 31);
        assert!(w.services["tencent/cvm"].key_pairs.len() >= 101);
        assert!(w.services["tencent/ecm"].key_pairs.len() >= 101);
        assert!(w.services["alibaba/ecs"].key_pairs.len() >= 101);
        // Named fixtures come first, the generated bulk after them.
        assert_eq!(w.services["tencent/cvm"].instances[0].id, "ins-linstop1");
        assert_eq!(w.services["tencent/cvm"].instances[4].id, "ins-bulk0001");
        assert_eq!(w.services["tencent/cvm"].instances[104].id, "ins-bulk0101");
        let (bound, _) = w.services["alibaba/ecs"].users_of_key("ssh-ecsbulkins");
        assert_eq!(bound.len(), 51);
    }

    #[test]
    fn id_lookups_follow_changes_to_the_lists() {
        let mut w = World::default();
        let svc = &w.services["tencent/cvm"];
        assert_eq!(svc.instance("ins-bulk0101").unwrap().id, "ins-bulk0101");
        assert_eq!(svc.users_of_key("skey-bulkins1").0.len(), 101);
        assert!(svc.instance("ins-nothere").is_none());
        // Through service_mut: the index is dropped and rebuilt.
        let svc = w.service_mut("tencent/cvm");
        svc.instances.retain(|i| i.id != "ins-bulk0001");
        svc.key_pairs[0].id = "skey-renamed".into();
        let svc = &w.services["tencent/cvm"];
        assert!(svc.instance("ins-bulk0001").is_none());
        assert_eq!(svc.instance("ins-bulk0101").unwrap().id, "ins-bulk0101");
        assert!(svc.key_pair("skey-renamed").is_some());
        assert_eq!(svc.users_of_key("skey-bulkins1").0.len(), 100);
        // Behind the index's back: a length change falls back to scanning, and a moved id is
        // still found (hits are checked).
        let svc = w.services.get_mut("tencent/cvm").unwrap();
        let _ = svc.instance("ins-bulk0101");
        svc.instances.swap(0, 1);
        let first = svc.instances[0].id.clone();
        assert_eq!(svc.instance(&first).unwrap().id, first);
        let mut extra = svc.instances[0].clone();
        extra.id = "ins-added001".into();
        svc.instances.push(extra);
        assert_eq!(svc.instance("ins-added001").unwrap().id, "ins-added001");
    }

    #[test]
    fn numbered_templates() {
        assert_eq!(numbered("ins-bulk{n:4}", 7), "ins-bulk0007");
        assert_eq!(numbered("cc_{n}_{n:2}", 3), "cc_3_03");
        assert_eq!(numbered("{n:x}{n", 3), "{n:x}{n");
        assert_eq!(numbered("plain", 3), "plain");
    }

    #[test]
    fn bad_rules_are_refused_with_the_reason() {
        let both = r#"{"accounts": [], "generate": [{"service": "alibaba/ecs", "count": 2, "why": "w",
            "instance": {"id": "i-x{n}", "os": "linux", "state": "Stopped", "region": "r"},
            "key_pair": {"id": "ssh-x{n}", "name": "x{n}", "region": "r"}}]}"#;
        let err = World::from_json(both.as_bytes()).unwrap_err().to_string();
        assert!(err.contains("generate"), "{err}");
        let huge = r#"{"accounts": [], "generate": [{"service": "alibaba/ecs", "count": 100000000, "why": "w",
            "key_pair": {"id": "ssh-x{n}", "name": "x{n}", "region": "r"}}]}"#;
        let err = World::from_json(huge.as_bytes()).unwrap_err().to_string();
        assert!(err.contains("count"), "{err}");
        // A rule that repeats ids (no `{n}`) fails the consistency check.
        let dup = r#"{"accounts": [], "generate": [{"service": "alibaba/ecs", "count": 2, "why": "w",
            "key_pair": {"id": "ssh-same", "name": "x{n}", "region": "r"}}]}"#;
        assert!(matches!(
            World::from_json(dup.as_bytes()),
            Err(WorldError::Invalid(_))
        ));
    }

    #[test]
    fn redaction_hides_every_secret_and_token() {
        let mut w = World::default();
        w.accounts[0].token = Some("tok".into());
        let r = w.redacted();
        assert!(r.accounts.iter().all(|a| a.secret == REDACTED));
        assert_eq!(r.accounts[0].token.as_deref(), Some(REDACTED));
        // A redacted copy written back is refused with the fix, not stored with a dead secret.
        let err = r.check().unwrap_err().to_string();
        assert!(err.contains("?secrets=true"), "{err}");
        assert!(World::is_example_account(&World::default().accounts[0]));
        let mut own = World::default().accounts[0].clone();
        own.secret = "my-own-secret".into();
        assert!(!World::is_example_account(&own));
    }
}
