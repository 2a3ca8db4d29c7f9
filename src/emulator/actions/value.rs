//! The reference filler: the answer as a `serde_json::Value` tree, walked from the response
//! schema on every request. The request path uses [`super::write`], which must produce the
//! same bytes; this one is kept as the oracle it is tested against
//! (`Emulator::handle_raw_reference`, `tests/emulator_answers.rs`).
use super::{batch_results, listed, Ctx, RequestBag, Res, Source};
use crate::emulator::semantics::{Applied, Call, ItemFailures};
use crate::emulator::world::{ServiceState, World};
use serde_json::{json, Map, Value};

type Bag = Map<String, Value>;

/// The members of the success answer (the envelope adds `RequestId`, and `Response` for
/// Tencent).
pub fn respond(call: &Call, world: &World, failures: &ItemFailures, applied: &Applied) -> Bag {
    let empty = ServiceState::default();
    let ctx = Ctx {
        svc: world.service(&call.service).unwrap_or(&empty),
        applied,
        provider: call.provider.provider,
    };
    let schema = &call.action.response.schema;
    let (wrapped, body_schema) = match schema.pointer("/properties/Response") {
        Some(inner) => (true, inner),
        None => (false, schema),
    };
    let listed = listed(call, world, &ctx);
    let request = RequestBag::new(call, ctx, listed.total);
    let bag = request_bag(call, &request);
    let resources: Vec<Bag> = listed.items.iter().map(|r| res_bag(*r, &ctx)).collect();
    let mut body = match fill(body_schema, &bag, &resources) {
        Value::Object(m) => m,
        _ => Bag::new(),
    };
    if let Some(batch) = &call.action.response.batch {
        for (pointer, value) in batch_results(call, batch, failures, wrapped) {
            set_pointer(&mut body, &pointer, value);
        }
    }
    body.remove("RequestId");
    body
}

fn res_bag(r: Res, ctx: &Ctx) -> Bag {
    r.names()
        .iter()
        .filter_map(|n| r.field(ctx, n).map(|v| (n.to_string(), v.to_value())))
        .collect()
}

/// Every name the request's bag answers, as a map.
fn request_bag(call: &Call, request: &RequestBag) -> Bag {
    let mut names: Vec<&str> = call
        .action
        .parameters
        .iter()
        .map(|p| p.name.as_str())
        .collect();
    names.extend(super::KEY_PAIR_FIELDS);
    names.extend(["TotalCount", "PrivateKey", "PrivateKeyBody"]);
    names
        .into_iter()
        .filter_map(|n| request.get(n).map(|v| (n.to_string(), v.to_value())))
        .collect()
}

// ---------------------------------------------------------------- schema filler

use super::schema_type;

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
            let required = super::required_names(schema);
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
