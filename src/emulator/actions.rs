//! Response shaping: the members of a success answer, built from the action's response schema.
//!
//! A generic filler walks the schema and takes each property from a bag of named values (the
//! request's parameters, the key pair the request names or created, the instances it names or
//! describes); arrays of objects are filled with one entry per resource. Batch results follow
//! `response.batch` (where the items and counts live, ECS strings vs ENS native types). The only
//! per-action knowledge is which resources an action lists: a `describe` fixture lists its
//! resource kind, every other action the resources its parameters name.
use super::semantics::{values, Applied, Call, ItemFailures};
use super::world::{Instance, KeyPair, ServiceState, World};
use crate::spec::{BatchResults, ParamType, Provider, RefBy, ValueTypes};
use serde_json::{json, Map, Value};

type Bag = Map<String, Value>;

/// The members of the success answer (the envelope adds `RequestId`, and `Response` for
/// Tencent).
pub fn respond(call: &Call, world: &World, failures: &ItemFailures, applied: &Applied) -> Bag {
    let empty = ServiceState::default();
    let svc = world.service(&call.service).unwrap_or(&empty);
    let schema = &call.action.response.schema;
    let (wrapped, body_schema) = match schema.pointer("/properties/Response") {
        Some(inner) => (true, inner),
        None => (false, schema),
    };
    let mut bag = request_bag(call, svc, applied);
    let mut resources = listed_resources(call, world, svc, applied);
    let total = resources
        .first_mut()
        .and_then(|r| r.remove("__total"))
        .unwrap_or_else(|| json!(resources.len()));
    bag.insert("TotalCount".into(), total);
    for name in ["PageNumber", "PageSize", "Offset", "Limit"] {
        if let (Some(p), false) = (call.action.parameter(name), bag.contains_key(name)) {
            if let Some(d) = &p.default {
                bag.insert(name.into(), d.clone());
            }
        }
    }
    let mut body = match fill(body_schema, &bag, &resources) {
        Value::Object(m) => m,
        _ => Bag::new(),
    };
    if let Some(batch) = &call.action.response.batch {
        shape_batch(call, batch, failures, wrapped, &mut body);
    }
    body.remove("RequestId");
    body
}

// ---------------------------------------------------------------- bags

/// The fields a key pair answers with, in bag order.
const KEY_PAIR_FIELDS: [&str; 12] = [
    "KeyId",
    "KeyPairId",
    "KeyName",
    "KeyPairName",
    "AssociatedInstanceIds",
    "ProjectId",
    "Description",
    "CreatedTime",
    "CreationTime",
    "RegionId",
    "KeyPairFingerPrint",
    "PublicKey",
];

/// One field of a key pair, computed only when asked for (filters read one or two fields of
/// every key pair; only the page answered needs them all).
fn key_field(k: &KeyPair, svc: &ServiceState, name: &str) -> Option<Value> {
    Some(match name {
        "KeyId" | "KeyPairId" => json!(k.id),
        "KeyName" | "KeyPairName" => json!(k.name),
        "AssociatedInstanceIds" => json!(svc.users_of_key(&k.id).0),
        "ProjectId" => json!(0),
        "Description" => json!(""),
        "CreatedTime" | "CreationTime" => json!("2026-01-01T00:00:00Z"),
        "RegionId" => json!(k.region),
        "KeyPairFingerPrint" => json!(fingerprint(&k.id)),
        "PublicKey" => json!(format!(
            "ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAABAQC{} cloudconform",
            k.id
        )),
        _ => return None,
    })
}

fn key_bag(k: &KeyPair, svc: &ServiceState) -> Bag {
    KEY_PAIR_FIELDS
        .iter()
        .filter_map(|n| key_field(k, svc, n).map(|v| (n.to_string(), v)))
        .collect()
}

fn fingerprint(seed: &str) -> String {
    use sha2::{Digest, Sha256};
    use std::fmt::Write;
    let d = Sha256::digest(seed.as_bytes());
    let mut out = String::with_capacity(47);
    for (n, b) in d.iter().take(16).enumerate() {
        if n > 0 {
            out.push(':');
        }
        let _ = write!(out, "{b:02x}");
    }
    out
}

/// The fields an instance answers with, in bag order.
const INSTANCE_FIELDS: [&str; 16] = [
    "InstanceId",
    "InstanceName",
    "InstanceState",
    "Status",
    "CurrentStatus",
    "PreviousStatus",
    "OsName",
    "OSName",
    "OSType",
    "OsType",
    "RegionId",
    "EnsRegionId",
    "KeyPairName",
    "KeyIds",
    "Code",
    "Message",
];

/// One field of an instance, computed only when asked for.
fn instance_field(
    i: &Instance,
    svc: &ServiceState,
    applied: &Applied,
    provider: Provider,
    name: &str,
) -> Option<Value> {
    Some(match name {
        "InstanceId" | "InstanceName" => json!(i.id),
        "InstanceState" | "Status" | "CurrentStatus" => json!(i.state),
        "PreviousStatus" => json!(applied
            .state_changes
            .iter()
            .find(|(id, _, _)| *id == i.id)
            .map(|(_, before, _)| before.as_str())
            .unwrap_or(i.state.as_str())),
        "OsName" | "OSName" => json!(match (i.os.as_str(), provider) {
            ("windows", _) => "Windows Server 2019 DataCenter 64bit",
            (_, Provider::Tencent) => "TencentOS Server 3.1 (TK4)",
            (_, Provider::Alibaba) => "Alibaba Cloud Linux 3.2104 LTS 64 bit",
        }),
        "OSType" | "OsType" => json!(i.os),
        "RegionId" | "EnsRegionId" => json!(i.region),
        "KeyPairName" => json!(i
            .keys
            .iter()
            .find_map(|k| svc.key_pair(k))
            .map(|k| k.name.as_str())
            .unwrap_or("")),
        "KeyIds" => json!(i.keys),
        "Code" => json!("200"),
        "Message" => json!("successful"),
        _ => return None,
    })
}

fn instance_bag(i: &Instance, svc: &ServiceState, applied: &Applied, provider: Provider) -> Bag {
    INSTANCE_FIELDS
        .iter()
        .filter_map(|n| instance_field(i, svc, applied, provider, n).map(|v| (n.to_string(), v)))
        .collect()
}

/// Parameters, plus the key pair the request names or created.
fn request_bag(call: &Call, svc: &ServiceState, applied: &Applied) -> Bag {
    let mut bag = Bag::new();
    let mut key: Option<&KeyPair> = None;
    for p in &call.action.parameters {
        if let Some(v) = call.params.get(&p.name) {
            if p.ty != ParamType::Array {
                bag.insert(p.name.clone(), v.clone());
            }
        }
        if let Some(r) = p.references.as_ref().filter(|r| r.resource == "key_pair") {
            if let [only] = values(call.params, &p.name).as_slice() {
                key = key.or_else(|| {
                    svc.key_pairs.iter().find(|k| match r.by {
                        RefBy::Id => &k.id == only,
                        RefBy::Name => &k.name == only,
                    })
                });
            }
        }
    }
    if let Some((_, id)) = applied.created.iter().find(|(kind, _)| kind == "key_pair") {
        key = svc.key_pair(id).or(key);
        bag.insert(
            "PrivateKey".into(),
            json!("-----BEGIN RSA PRIVATE KEY-----\nY2xvdWRjb25mb3JtIGVtdWxhdGVk\n-----END RSA PRIVATE KEY-----"),
        );
        bag.insert("PrivateKeyBody".into(), bag["PrivateKey"].clone());
    }
    if let Some(k) = key {
        for (n, v) in key_bag(k, svc) {
            bag.entry(n).or_insert(v);
        }
    }
    bag
}

/// The resources the answer lists. A describe fixture lists its resource kind: every parameter
/// named like a field of the resource (`InstanceIds` → `InstanceId`, `KeyPairName`, `Status`)
/// filters, Tencent `Filters` filter by their documented names, and the page parameters
/// (`Offset`/`Limit`, `PageNumber`/`PageSize`, `MaxResults`) page. A region list lists the
/// world's regions. Any other action lists the instances its parameters name.
fn listed_resources(call: &Call, world: &World, svc: &ServiceState, applied: &Applied) -> Vec<Bag> {
    let scope = call.region.filter(|_| call.action.region.required);
    let in_scope = |region: &str| scope.is_none_or(|r| r == region);
    let purpose = call
        .action
        .fixture
        .as_ref()
        .map(|f| (f.purpose.as_str(), f.resource.as_str()));
    let kind = match purpose {
        Some(("list_regions", _)) => {
            return world
                .regions(call.provider.provider)
                .iter()
                .map(|r| {
                    let mut b = Bag::new();
                    b.insert("Region".into(), json!(r));
                    b.insert("RegionId".into(), json!(r));
                    b.insert("RegionName".into(), json!(r));
                    b.insert("LocalName".into(), json!(r));
                    b.insert("RegionState".into(), json!("AVAILABLE"));
                    b
                })
                .collect()
        }
        Some(("describe", "key_pair")) => Kind::KeyPair,
        Some(("describe", _)) => Kind::Instance,
        _ => {
            let mut out = Vec::new();
            for p in &call.action.parameters {
                if p.references
                    .as_ref()
                    .is_some_and(|r| r.resource == "instance")
                {
                    for id in values(call.params, &p.name) {
                        if let Some(i) = svc.instance(&id) {
                            out.push(instance_bag(i, svc, applied, call.provider.provider));
                        }
                    }
                }
            }
            return out;
        }
    };
    let provider = call.provider.provider;
    let field = |n: usize, name: &str| match kind {
        Kind::KeyPair => key_field(&svc.key_pairs[n], svc, name),
        Kind::Instance => instance_field(&svc.instances[n], svc, applied, provider, name),
    };
    let region = |n: usize| match kind {
        Kind::KeyPair => svc.key_pairs[n].region.as_str(),
        Kind::Instance => svc.instances[n].region.as_str(),
    };
    let wanted = Wanted::of(call);
    // Only the resources that pass every filter are counted, and only the page is answered:
    // filters read the one field they compare, and ids named by the request are looked up.
    let candidates: Vec<usize> = match wanted.named_ids(call, kind) {
        Some(ids) => {
            let mut at: Vec<usize> = ids
                .iter()
                .filter_map(|id| match kind {
                    Kind::KeyPair => svc.key_pair_position(id),
                    Kind::Instance => svc.instance_position(id),
                })
                .collect();
            at.sort_unstable();
            at.dedup();
            at
        }
        None => (0..kind.count(svc)).collect(),
    };
    let listed: Vec<usize> = candidates
        .into_iter()
        .filter(|n| in_scope(region(*n)) && wanted.matches(&|name| field(*n, name)))
        .collect();
    let total = listed.len();
    let (offset, limit) = page(call);
    let mut page: Vec<Bag> = listed
        .into_iter()
        .skip(offset)
        .take(limit)
        .map(|n| match kind {
            Kind::KeyPair => key_bag(&svc.key_pairs[n], svc),
            Kind::Instance => instance_bag(&svc.instances[n], svc, applied, provider),
        })
        .collect();
    if let Some(first) = page.first_mut() {
        first.insert("__total".into(), json!(total));
    }
    page
}

/// The resource kind a describe action lists.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    KeyPair,
    Instance,
}

impl Kind {
    fn count(self, svc: &ServiceState) -> usize {
        match self {
            Kind::KeyPair => svc.key_pairs.len(),
            Kind::Instance => svc.instances.len(),
        }
    }

    /// The fields a parameter naming ids of this kind filters on.
    fn id_fields(self) -> &'static [&'static str] {
        match self {
            Kind::KeyPair => &["KeyId", "KeyPairId"],
            Kind::Instance => &["InstanceId"],
        }
    }
}

/// What a describe request filters on, read once per request: per parameter the values sent
/// (page parameters and empty ones filter nothing), and the Tencent `Filters`.
struct Wanted<'c> {
    parameters: Vec<(&'c str, Vec<String>)>,
    /// `(field, values)`; no values keeps every resource that has the field.
    filters: Vec<(&'static str, Vec<String>)>,
}

impl<'c> Wanted<'c> {
    fn of(call: &'c Call) -> Wanted<'c> {
        let parameters = call
            .action
            .parameters
            .iter()
            .filter(|p| !PAGE_PARAMETERS.contains(&p.name.as_str()))
            .map(|p| (p.name.as_str(), values(call.params, &p.name)))
            .filter(|(_, v)| !v.is_empty())
            .collect();
        let filters = match call.params.get("Filters") {
            Some(Value::Array(filters)) => filters
                .iter()
                .filter_map(|f| {
                    let name = f.get("Name").and_then(Value::as_str).unwrap_or_default();
                    let field = FILTER_FIELDS.iter().find(|(n, _)| *n == name)?.1;
                    let wanted = match f.get("Values") {
                        Some(Value::Array(v)) => v
                            .iter()
                            .map(|x| {
                                x.as_str()
                                    .map(str::to_string)
                                    .unwrap_or_else(|| x.to_string())
                            })
                            .collect(),
                        _ => Vec::new(),
                    };
                    Some((field, wanted))
                })
                .collect(),
            _ => Vec::new(),
        };
        Wanted {
            parameters,
            filters,
        }
    }

    /// The ids the request names exactly (no wildcard) through a parameter that filters on
    /// the listed kind's id: then only those resources can match.
    fn named_ids(&self, call: &Call, kind: Kind) -> Option<&[String]> {
        let resource = match kind {
            Kind::KeyPair => "key_pair",
            Kind::Instance => "instance",
        };
        self.parameters.iter().find_map(|(name, ids)| {
            let p = call.action.parameter(name)?;
            let r = p.references.as_ref()?;
            let singular = name.strip_suffix('s').unwrap_or(name);
            (r.resource == resource
                && r.by == RefBy::Id
                && kind.id_fields().contains(&singular)
                && !kind.id_fields().contains(name)
                && ids.iter().all(|id| !id.contains('*')))
            .then_some(ids.as_slice())
        })
    }

    /// Whether a resource (read field by field) passes every parameter and filter.
    fn matches(&self, field: &dyn Fn(&str) -> Option<Value>) -> bool {
        let parameters = self.parameters.iter().all(|(name, wanted)| {
            let singular = name.strip_suffix('s').unwrap_or(name);
            match field(name).or_else(|| field(singular)) {
                Some(Value::String(have)) => wanted.iter().any(|w| wildcard(w, &have)),
                _ => true,
            }
        });
        parameters
            && self.filters.iter().all(|(name, wanted)| match field(name) {
                Some(have) => {
                    let have = match have {
                        Value::String(s) => s,
                        other => other.to_string(),
                    };
                    wanted.is_empty() || wanted.contains(&have)
                }
                None => true,
            })
    }
}

const PAGE_PARAMETERS: [&str; 6] = [
    "Offset",
    "Limit",
    "PageNumber",
    "PageSize",
    "MaxResults",
    "NextToken",
];

/// Tencent `Filters` names and the resource fields they compare (unknown names filter nothing).
const FILTER_FIELDS: [(&str, &str); 7] = [
    ("key-name", "KeyName"),
    ("key-id", "KeyId"),
    ("instance-id", "InstanceId"),
    ("instance-name", "InstanceName"),
    ("instance-state", "InstanceState"),
    ("project-id", "ProjectId"),
    ("zone", "Zone"),
];

/// `(offset, limit)` from the action's page parameters and their documented defaults.
fn page(call: &Call) -> (usize, usize) {
    let int = |name: &str| -> Option<usize> {
        let p = call.action.parameter(name)?;
        call.params
            .get(name)
            .or(p.default.as_ref())
            .and_then(|v| {
                v.as_u64()
                    .or_else(|| v.as_str().and_then(|s| s.parse().ok()))
            })
            .map(|n| n as usize)
    };
    let limit = int("Limit")
        .or_else(|| int("PageSize"))
        .or_else(|| int("MaxResults"))
        .unwrap_or(usize::MAX);
    let offset = match (int("Offset"), int("PageNumber")) {
        (Some(o), _) => o,
        (None, Some(n)) if limit != usize::MAX => n.saturating_sub(1).saturating_mul(limit),
        _ => 0,
    };
    (offset, limit.max(1))
}

/// `*` wildcards in a name filter (ECS DescribeKeyPairs).
fn wildcard(pattern: &str, name: &str) -> bool {
    if !pattern.contains('*') {
        return pattern == name;
    }
    let parts: Vec<&str> = pattern.split('*').collect();
    let mut rest = name;
    for (i, part) in parts.iter().enumerate() {
        if i == 0 {
            if !rest.starts_with(part) {
                return false;
            }
            rest = &rest[part.len()..];
        } else if i == parts.len() - 1 {
            return rest.ends_with(part);
        } else if let Some(pos) = rest.find(part) {
            rest = &rest[pos + part.len()..];
        } else {
            return false;
        }
    }
    true
}

// ---------------------------------------------------------------- schema filler

fn schema_type(schema: &Value) -> &str {
    match schema.get("type") {
        Some(Value::String(t)) => t,
        Some(Value::Array(ts)) => ts
            .iter()
            .filter_map(Value::as_str)
            .find(|t| *t != "null")
            .unwrap_or("string"),
        _ if schema.get("properties").is_some() => "object",
        _ if schema.get("items").is_some() => "array",
        _ => match schema.get("enum").and_then(|e| e.get(0)) {
            Some(Value::Bool(_)) => "boolean",
            Some(Value::Number(_)) => "integer",
            _ => "string",
        },
    }
}

/// `value` in the type the schema asks for.
fn convert(value: &Value, schema: &Value) -> Value {
    match (schema_type(schema), value) {
        ("string", Value::String(_)) => value.clone(),
        ("string", Value::Array(_) | Value::Object(_)) => value.clone(),
        ("string", other) => Value::String(other.to_string()),
        ("integer" | "number", Value::String(s)) => {
            s.parse::<i64>().map(Value::from).unwrap_or(json!(0))
        }
        ("boolean", Value::String(s)) => Value::Bool(s == "true"),
        _ => value.clone(),
    }
}

/// An instance of `schema` from the bag; arrays of objects take one entry per resource whose
/// bag shares a property with the item schema.
fn fill(schema: &Value, bag: &Bag, resources: &[Bag]) -> Value {
    match schema_type(schema) {
        "object" => {
            let mut out = Map::new();
            let required: Vec<&str> = schema
                .get("required")
                .and_then(Value::as_array)
                .map(|r| r.iter().filter_map(Value::as_str).collect())
                .unwrap_or_default();
            if let Some(Value::Object(props)) = schema.get("properties") {
                for (name, prop) in props {
                    if name == "RequestId" {
                        continue;
                    }
                    let is_container = matches!(schema_type(prop), "object" | "array");
                    if let Some(v) = bag.get(name) {
                        if !is_container || !matches!(v, Value::Object(_)) {
                            out.insert(name.clone(), convert(v, prop));
                            continue;
                        }
                    }
                    let has_known_fields = schema_type(prop) == "object"
                        && prop
                            .get("properties")
                            .and_then(Value::as_object)
                            .is_some_and(|ps| ps.keys().any(|k| bag.contains_key(k)));
                    if required.contains(&name.as_str())
                        || is_container && lists_resources(prop, resources)
                        || has_known_fields
                    {
                        out.insert(name.clone(), fill(prop, bag, resources));
                    }
                }
            }
            Value::Object(out)
        }
        "array" => {
            let item = schema.get("items").unwrap_or(&Value::Null);
            if schema_type(item) == "object" && lists_resources(item, resources) {
                Value::Array(resources.iter().map(|r| fill(item, r, &[])).collect())
            } else {
                Value::Array(Vec::new())
            }
        }
        "integer" | "number" => json!(0),
        "boolean" => json!(false),
        _ => match schema.get("enum").and_then(|e| e.get(0)) {
            Some(v) => v.clone(),
            None => json!(""),
        },
    }
}

/// Fields that identify a listed resource.
const KEY_FIELDS: [&str; 5] = ["InstanceId", "KeyId", "KeyPairId", "KeyPairName", "Region"];

/// Whether the schema (an object, or an object holding an array of objects) lists resources.
fn lists_resources(schema: &Value, resources: &[Bag]) -> bool {
    let Some(first) = resources.first() else {
        return false;
    };
    match schema_type(schema) {
        "array" => schema
            .get("items")
            .is_some_and(|i| lists_resources(i, resources)),
        "object" => schema
            .get("properties")
            .and_then(Value::as_object)
            .is_some_and(|props| {
                props
                    .keys()
                    .any(|k| KEY_FIELDS.contains(&k.as_str()) && first.contains_key(k))
                    || props
                        .values()
                        .any(|p| schema_type(p) == "array" && lists_resources(p, resources))
            }),
        _ => false,
    }
}

// ---------------------------------------------------------------- batch results

fn shape_batch(
    call: &Call,
    batch: &BatchResults,
    failures: &ItemFailures,
    wrapped: bool,
    body: &mut Bag,
) {
    let native = batch.value_types == ValueTypes::Native;
    let code = |c: &Value| -> Value {
        let text = match c {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        };
        if native {
            text.parse::<i64>()
                .map(Value::from)
                .unwrap_or(Value::String(text))
        } else {
            Value::String(text)
        }
    };
    let flag = |b: bool| {
        if native {
            json!(b)
        } else {
            json!(b.to_string())
        }
    };
    let count = |n: usize| {
        if native {
            json!(n)
        } else {
            json!(n.to_string())
        }
    };
    let over = batch.over.as_deref().unwrap_or_default();
    let items: Vec<Value> = values(call.params, over)
        .into_iter()
        .map(|item| {
            let (c, m, ok) = match failures.get(&item) {
                Some((c, m)) => (code(&json!(c)), m.clone(), false),
                None => (
                    code(&batch.success_code),
                    batch.success_message.clone(),
                    true,
                ),
            };
            let mut entry = Map::new();
            entry.insert("Code".into(), c);
            entry.insert("Message".into(), json!(m));
            entry.insert(batch.item_key.clone(), json!(item));
            entry.insert("Success".into(), flag(ok));
            Value::Object(entry)
        })
        .collect();
    let total = items.len();
    let failed = items
        .iter()
        .filter(|e| {
            matches!(e.get("Success"), Some(Value::Bool(false)))
                || e.get("Success") == Some(&json!("false"))
        })
        .count();
    let strip = |p: &str| -> String {
        if wrapped {
            p.strip_prefix("/Response").unwrap_or(p).to_string()
        } else {
            p.to_string()
        }
    };
    set_pointer(body, &strip(&batch.items), Value::Array(items));
    set_pointer(body, &strip(&batch.counts.total), count(total));
    set_pointer(body, &strip(&batch.counts.failed), count(failed));
}

fn set_pointer(body: &mut Bag, pointer: &str, value: Value) {
    let parts: Vec<&str> = pointer.trim_start_matches('/').split('/').collect();
    let Some((last, parents)) = parts.split_last() else {
        return;
    };
    let mut cur = body;
    for p in parents {
        let next = cur
            .entry(p.to_string())
            .or_insert_with(|| Value::Object(Map::new()));
        if !next.is_object() {
            *next = Value::Object(Map::new());
        }
        cur = next.as_object_mut().expect("just made an object");
    }
    cur.insert(last.to_string(), value);
}

#[cfg(test)]
mod tests {
    use super::wildcard;

    #[test]
    fn wildcards() {
        assert!(wildcard("cc_*", "cc_key"));
        assert!(wildcard("*key", "cc_key"));
        assert!(wildcard("c*_*y", "cc_key"));
        assert!(!wildcard("x*", "cc_key"));
        assert!(wildcard("cc_key", "cc_key"));
    }
}
