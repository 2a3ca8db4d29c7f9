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

fn key_bag(k: &KeyPair, svc: &ServiceState) -> Bag {
    let (instances, _) = svc.users_of_key(&k.id);
    let mut b = Bag::new();
    for (name, v) in [
        ("KeyId", json!(k.id)),
        ("KeyPairId", json!(k.id)),
        ("KeyName", json!(k.name)),
        ("KeyPairName", json!(k.name)),
        ("AssociatedInstanceIds", json!(instances)),
        ("ProjectId", json!(0)),
        ("Description", json!("")),
        ("CreatedTime", json!("2026-01-01T00:00:00Z")),
        ("CreationTime", json!("2026-01-01T00:00:00Z")),
        ("RegionId", json!(k.region)),
        ("KeyPairFingerPrint", json!(fingerprint(&k.id))),
        (
            "PublicKey",
            json!(format!(
                "ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAABAQC{} cloudconform",
                k.id
            )),
        ),
    ] {
        b.insert(name.into(), v);
    }
    b
}

fn fingerprint(seed: &str) -> String {
    use sha2::{Digest, Sha256};
    let d = Sha256::digest(seed.as_bytes());
    d.iter()
        .take(16)
        .map(|b| format!("{b:02x}"))
        .collect::<Vec<_>>()
        .join(":")
}

fn instance_bag(i: &Instance, svc: &ServiceState, applied: &Applied, provider: Provider) -> Bag {
    let key_names: Vec<&str> = i
        .keys
        .iter()
        .filter_map(|k| svc.key_pair(k).map(|k| k.name.as_str()))
        .collect();
    let previous = applied
        .state_changes
        .iter()
        .find(|(id, _, _)| *id == i.id)
        .map(|(_, before, _)| before.clone())
        .unwrap_or_else(|| i.state.clone());
    let os_name = match (i.os.as_str(), provider) {
        ("windows", _) => "Windows Server 2019 DataCenter 64bit",
        (_, Provider::Tencent) => "TencentOS Server 3.1 (TK4)",
        (_, Provider::Alibaba) => "Alibaba Cloud Linux 3.2104 LTS 64 bit",
    };
    let mut b = Bag::new();
    for (name, v) in [
        ("InstanceId", json!(i.id)),
        ("InstanceName", json!(i.id)),
        ("InstanceState", json!(i.state)),
        ("Status", json!(i.state)),
        ("CurrentStatus", json!(i.state)),
        ("PreviousStatus", json!(previous)),
        ("OsName", json!(os_name)),
        ("OSName", json!(os_name)),
        ("OSType", json!(i.os)),
        ("OsType", json!(i.os)),
        ("RegionId", json!(i.region)),
        ("EnsRegionId", json!(i.region)),
        (
            "KeyPairName",
            json!(key_names.first().copied().unwrap_or("")),
        ),
        ("KeyIds", json!(i.keys)),
        ("Code", json!("200")),
        ("Message", json!("successful")),
    ] {
        b.insert(name.into(), v);
    }
    b
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
    let all: Vec<Bag> = match purpose {
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
        Some(("describe", "key_pair")) => svc
            .key_pairs
            .iter()
            .filter(|k| in_scope(&k.region))
            .map(|k| key_bag(k, svc))
            .collect(),
        Some(("describe", _)) => svc
            .instances
            .iter()
            .filter(|i| in_scope(&i.region))
            .map(|i| instance_bag(i, svc, applied, call.provider.provider))
            .collect(),
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
    let mut listed: Vec<Bag> = all
        .into_iter()
        .filter(|bag| matches_parameters(call, bag) && matches_filters(call, bag))
        .collect();
    let total = listed.len();
    let (offset, limit) = page(call);
    listed = listed.into_iter().skip(offset).take(limit).collect();
    if let Some(first) = listed.first_mut() {
        first.insert("__total".into(), json!(total));
    }
    listed
}

/// The field of a resource a parameter filters on: its own name, or the singular of a list.
fn field_for<'b>(name: &str, bag: &'b Bag) -> Option<(&'b Value, String)> {
    let singular = name.strip_suffix('s').unwrap_or(name);
    bag.get(name)
        .map(|v| (v, name.to_string()))
        .or_else(|| bag.get(singular).map(|v| (v, singular.to_string())))
}

fn matches_parameters(call: &Call, bag: &Bag) -> bool {
    call.action.parameters.iter().all(|p| {
        let wanted = values(call.params, &p.name);
        if wanted.is_empty() || PAGE_PARAMETERS.contains(&p.name.as_str()) {
            return true;
        }
        match field_for(&p.name, bag) {
            Some((Value::String(have), _)) => wanted.iter().any(|w| wildcard(w, have)),
            _ => true,
        }
    })
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

fn matches_filters(call: &Call, bag: &Bag) -> bool {
    let Some(Value::Array(filters)) = call.params.get("Filters") else {
        return true;
    };
    filters.iter().all(|f| {
        let name = f.get("Name").and_then(Value::as_str).unwrap_or_default();
        let wanted: Vec<String> = match f.get("Values") {
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
        match FILTER_FIELDS
            .iter()
            .find(|(n, _)| *n == name)
            .and_then(|(_, field)| bag.get(*field))
        {
            Some(have) => {
                let have = match have {
                    Value::String(s) => s.clone(),
                    other => other.to_string(),
                };
                wanted.is_empty() || wanted.contains(&have)
            }
            None => true,
        }
    })
}

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
            let item = schema.get("items").cloned().unwrap_or(json!({}));
            if schema_type(&item) == "object" && lists_resources(&item, resources) {
                Value::Array(resources.iter().map(|r| fill(&item, r, &[])).collect())
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
