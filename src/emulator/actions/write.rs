//! The answer's bytes written straight from the response schema and the resources.
//!
//! The schema is compiled once per action into a [`Plan`] (each property's type, its quoted
//! name, whether it is required, which resource kinds it lists); a request walks the plan and
//! writes each value into the output buffer, reading fields from the resources as it goes.
//! The rules are [`super::value`]'s, which builds the same answer as a `Value` tree and is
//! the oracle this writer is tested against byte for byte.
use super::{batch_results, listed, pointer_parts, Ctx, Field, RequestBag, Res, ResSource, Source};
use crate::emulator::semantics::{Applied, Call, ItemFailures};
use crate::emulator::world::{ServiceState, World};
use crate::spec::{ActionSpec, SpecSet};
use serde_json::Value;
use std::sync::Arc;

/// The schema type of a node, as the filler reads it.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Ty {
    Object,
    Array,
    /// `integer` or `number`.
    Int,
    Bool,
    Str,
    /// Any other type name (`null`): filled like a string, values kept as they are.
    Other,
}

/// Fields that identify a listed resource.
const KEY_FIELDS: [&str; 5] = ["InstanceId", "KeyId", "KeyPairId", "KeyPairName", "Region"];

/// One schema node, compiled.
#[derive(Debug)]
struct Node {
    ty: Ty,
    /// Object properties in schema order (`RequestId` left out: the envelope writes it).
    props: Vec<Prop>,
    /// Array items.
    item: Option<Box<Node>>,
    /// Per resource kind (key pair, instance, region): whether this node lists resources of
    /// that kind.
    lists: [bool; 3],
    /// The JSON a scalar is filled with when no value is known (`0`, `false`, the first enum
    /// value, `""`).
    neutral: Vec<u8>,
}

#[derive(Debug)]
struct Prop {
    name: String,
    /// `"name":`, escaped once.
    key: Vec<u8>,
    required: bool,
    node: Node,
}

fn schema_type(schema: &Value) -> Ty {
    match super::schema_type(schema) {
        "object" => Ty::Object,
        "array" => Ty::Array,
        "integer" | "number" => Ty::Int,
        "boolean" => Ty::Bool,
        "string" => Ty::Str,
        _ => Ty::Other,
    }
}

/// The names each resource kind answers, by [`Res::kind_index`].
const KIND_NAMES: [&[&str]; 3] = [
    &super::KEY_PAIR_FIELDS,
    &super::INSTANCE_FIELDS,
    &super::REGION_FIELDS,
];

fn compile(schema: &Value) -> Node {
    let ty = schema_type(schema);
    let mut node = Node {
        ty,
        props: Vec::new(),
        item: None,
        lists: [false; 3],
        neutral: Vec::new(),
    };
    match ty {
        Ty::Object => {
            let required = super::required_names(schema);
            if let Some(Value::Object(props)) = schema.get("properties") {
                for (name, prop) in props {
                    if name == "RequestId" {
                        continue;
                    }
                    let mut key = serde_json::to_vec(name).expect("a string serializes");
                    key.push(b':');
                    node.props.push(Prop {
                        name: name.clone(),
                        key,
                        required: required.contains(&name.as_str()),
                        node: compile(prop),
                    });
                }
            }
        }
        Ty::Array => {
            let item = compile(schema.get("items").unwrap_or(&Value::Null));
            node.item = Some(Box::new(item));
        }
        Ty::Int => node.neutral = b"0".to_vec(),
        Ty::Bool => node.neutral = b"false".to_vec(),
        Ty::Str | Ty::Other => {
            node.neutral = match schema.get("enum").and_then(|e| e.get(0)) {
                Some(v) => serde_json::to_vec(v).expect("JSON values always serialize"),
                None => b"\"\"".to_vec(),
            }
        }
    }
    for (k, names) in KIND_NAMES.iter().enumerate() {
        node.lists[k] = lists(schema, names);
    }
    node
}

/// Whether the schema (an object, or an object holding an array of objects) lists resources
/// answering `names`.
fn lists(schema: &Value, names: &[&str]) -> bool {
    match schema_type(schema) {
        Ty::Array => schema.get("items").is_some_and(|i| lists(i, names)),
        Ty::Object => schema
            .get("properties")
            .and_then(Value::as_object)
            .is_some_and(|props| {
                props
                    .keys()
                    .any(|k| KEY_FIELDS.contains(&k.as_str()) && names.contains(&k.as_str()))
                    || props
                        .values()
                        .any(|p| schema_type(p) == Ty::Array && lists(p, names))
            }),
        _ => false,
    }
}

/// An action's compiled response.
#[derive(Debug)]
pub(crate) struct Plan {
    /// Tencent: the members live under `Response`.
    wrapped: bool,
    /// The members' schema (`Response`'s for Tencent).
    root: Node,
}

impl Plan {
    fn of(action: &ActionSpec) -> Plan {
        let schema = &action.response.schema;
        let (wrapped, body) = match schema.pointer("/properties/Response") {
            Some(inner) => (true, inner),
            None => (false, schema),
        };
        Plan {
            wrapped,
            root: compile(body),
        }
    }
}

/// Every action's plan, compiled when the emulator is built.
#[derive(Debug, Default)]
pub(crate) struct Plans(Vec<(Arc<ActionSpec>, Plan)>);

impl Plans {
    pub(crate) fn compile(specs: &SpecSet) -> Plans {
        Plans(specs.actions().map(|a| (a.clone(), Plan::of(a))).collect())
    }

    /// The plan of `action` (a served deviation's copy finds its original's: deviations never
    /// change a response schema), compiled on the spot for an action the set does not hold.
    fn get<'p>(&'p self, action: &ActionSpec, spare: &'p mut Option<Plan>) -> &'p Plan {
        let same = |a: &ActionSpec| std::ptr::eq(a, action);
        let found = self.0.iter().find(|(a, _)| same(a)).or_else(|| {
            self.0.iter().find(|(a, _)| {
                a.action == action.action
                    && a.provider == action.provider
                    && a.service == action.service
                    && a.version == action.version
                    && a.response.schema == action.response.schema
            })
        });
        match found {
            Some((_, plan)) => plan,
            None => spare.insert(Plan::of(action)),
        }
    }
}

// ---------------------------------------------------------------- writing

/// Overrides set over the filled members (the batch results), in the order they were set:
/// the value replaces a filled one in place, else it is appended.
enum Over {
    Leaf(Value),
    Branch(Vec<(String, Over)>),
}

fn set_over(entries: &mut Vec<(String, Over)>, parts: &[&str], value: Value) {
    let Some((first, rest)) = parts.split_first() else {
        return;
    };
    let at = match entries.iter().position(|(k, _)| k == first) {
        Some(at) => at,
        None => {
            entries.push((first.to_string(), Over::Branch(Vec::new())));
            entries.len() - 1
        }
    };
    if rest.is_empty() {
        entries[at].1 = Over::Leaf(value);
        return;
    }
    if let Over::Leaf(_) = entries[at].1 {
        entries[at].1 = Over::Branch(Vec::new());
    }
    if let Over::Branch(inner) = &mut entries[at].1 {
        set_over(inner, rest, value);
    }
}

/// A success answer's whole body: the envelope (`{"Response":{…,"RequestId"}}` or
/// `{"RequestId",…}`) around the action's members.
pub(crate) fn success_body(
    plans: &Plans,
    call: &Call,
    world: &World,
    failures: &ItemFailures,
    applied: &Applied,
    request_id: &str,
) -> Vec<u8> {
    let mut spare = None;
    let plan = plans.get(call.action, &mut spare);
    let empty = ServiceState::default();
    let ctx = Ctx {
        svc: world.service(&call.service).unwrap_or(&empty),
        applied,
        provider: call.provider.provider,
    };
    let listed = listed(call, world, &ctx);
    let bag = RequestBag::new(call, ctx, listed.total);
    let mut over = Vec::new();
    if let Some(batch) = &call.action.response.batch {
        for (pointer, value) in batch_results(call, batch, failures, plan.wrapped) {
            set_over(&mut over, &pointer_parts(&pointer), value);
        }
    }
    // `RequestId` is the envelope's: a batch pointer naming it is dropped, as the filler does.
    over.retain(|(k, _)| k != "RequestId");
    let mut out = Vec::with_capacity(8 * 1024);
    let w = Writer {
        ctx: &ctx,
        resources: &listed.items,
    };
    let root = (plan.root.ty == Ty::Object).then_some(&plan.root);
    if plan.wrapped {
        out.extend_from_slice(b"{\"Response\":{");
        let any = w.members(&mut out, root, &bag, true, &over);
        if any {
            out.push(b',');
        }
        out.extend_from_slice(b"\"RequestId\":");
        string(&mut out, request_id);
        out.extend_from_slice(b"}}");
    } else {
        out.extend_from_slice(b"{\"RequestId\":");
        string(&mut out, request_id);
        w.members(&mut out, root, &bag, false, &over);
        out.push(b'}');
    }
    out
}

struct Writer<'w, 'a> {
    ctx: &'w Ctx<'a>,
    /// The resources listed at the top level (inside a listed item, none).
    resources: &'w [Res<'a>],
}

/// `s` as a JSON string, escaped as `serde_json` escapes.
fn string(out: &mut Vec<u8>, s: &str) {
    out.reserve(s.len() + 2);
    out.push(b'"');
    string_body(out, s);
    out.push(b'"');
}

/// The inside of `s` as a JSON string (most strings need no escapes: copied as they are).
fn string_body(out: &mut Vec<u8>, s: &str) {
    if !needs_escape(s.as_bytes()) {
        out.extend_from_slice(s.as_bytes());
    } else {
        let start = out.len();
        serde_json::to_writer(&mut *out, s).expect("a string serializes");
        out.pop();
        out.remove(start);
    }
}

/// Whether any byte is a control character, `"` or `\\` (eight bytes at a time: a byte of a
/// word is below 0x20, or equal to a given byte, when the classic "has a zero byte" test fires
/// on the word less 0x20 in each byte, or on the word XOR that byte).
fn needs_escape(bytes: &[u8]) -> bool {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    let has_zero = |x: u64| x.wrapping_sub(ONES) & !x & HIGH != 0;
    let mut chunks = bytes.chunks_exact(8);
    for c in &mut chunks {
        let x = u64::from_le_bytes(c.try_into().expect("eight bytes"));
        if x.wrapping_sub(ONES * 0x20) & !x & HIGH != 0
            || has_zero(x ^ (ONES * u64::from(b'"')))
            || has_zero(x ^ (ONES * u64::from(b'\\')))
        {
            return true;
        }
    }
    chunks
        .remainder()
        .iter()
        .any(|b| *b < 0x20 || *b == b'"' || *b == b'\\')
}

fn json(out: &mut Vec<u8>, v: &Value) {
    serde_json::to_writer(out, v).expect("JSON values always serialize");
}

/// A value as the schema type asks for it (a string that should be a number is parsed, a
/// number that should be a string is quoted...).
fn converted(out: &mut Vec<u8>, field: &Field, ty: Ty) {
    let from_text = |out: &mut Vec<u8>, s: &str| match ty {
        Ty::Int => int(out, s.parse::<i64>().unwrap_or(0)),
        Ty::Bool => out.extend_from_slice(if s == "true" { b"true" } else { b"false" }),
        _ => string(out, s),
    };
    match field {
        Field::Str(s) => from_text(out, s),
        Field::Shared(s) => from_text(out, s),
        Field::Joined(a, b, c) if ty != Ty::Int && ty != Ty::Bool => {
            // Each piece is escaped on its own: escaping does not cross piece boundaries.
            out.push(b'"');
            for piece in [*a, *b, *c] {
                string_body(out, piece);
            }
            out.push(b'"');
        }
        Field::Joined(a, b, c) => from_text(out, &format!("{a}{b}{c}")),
        Field::Json(Value::String(s)) => from_text(out, s),
        Field::Int(n) if ty == Ty::Str => {
            out.push(b'"');
            int(out, *n);
            out.push(b'"');
        }
        Field::Int(n) => int(out, *n),
        Field::List(items) => {
            out.push(b'[');
            for (n, s) in items.iter().enumerate() {
                if n > 0 {
                    out.push(b',');
                }
                string(out, s);
            }
            out.push(b']');
        }
        Field::Json(v @ (Value::Array(_) | Value::Object(_))) => json(out, v),
        Field::Json(v) if ty == Ty::Str => string(out, &v.to_string()),
        Field::Json(v) => json(out, v),
    }
}

fn int(out: &mut Vec<u8>, n: i64) {
    use std::io::Write;
    write!(out, "{n}").expect("writing to a Vec cannot fail");
}

impl<'a> Writer<'_, 'a> {
    /// The members of an object node (no braces), the overrides applied; whether any was
    /// written. `comma_first`: the first member needs no comma (else one precedes each).
    fn members(
        &self,
        out: &mut Vec<u8>,
        node: Option<&Node>,
        src: &dyn Source,
        comma_first: bool,
        over: &[(String, Over)],
    ) -> bool {
        let mut first = comma_first;
        let mut sep = |out: &mut Vec<u8>| {
            if !first {
                out.push(b',');
            }
            first = false;
        };
        let mut used: Vec<&str> = Vec::new();
        for prop in node.map_or(&[][..], |n| n.props.as_slice()) {
            let o = over.iter().find(|(k, _)| *k == prop.name).map(|(_, o)| o);
            let container = matches!(prop.node.ty, Ty::Object | Ty::Array);
            let value = src.get(&prop.name);
            let known = match &value {
                Some(Field::Json(Value::Object(_))) if container => None,
                Some(_) => value,
                None => None,
            };
            if let Some(field) = known {
                sep(out);
                out.extend_from_slice(&prop.key);
                match o {
                    Some(o) => {
                        used.push(&prop.name);
                        match (o, &field) {
                            (Over::Leaf(v), _) => json(out, v),
                            (Over::Branch(b), Field::Json(Value::Object(m))) => {
                                self.merged_object(out, m, b)
                            }
                            (Over::Branch(b), _) => self.over_object(out, b),
                        }
                    }
                    None => converted(out, &field, prop.node.ty),
                }
                continue;
            }
            let has_known_fields =
                prop.node.ty == Ty::Object && prop.node.props.iter().any(|p| src.has(&p.name));
            let lists = container
                && self
                    .resources
                    .first()
                    .is_some_and(|r| prop.node.lists[r.kind_index()]);
            if prop.required || lists || has_known_fields {
                sep(out);
                out.extend_from_slice(&prop.key);
                match o {
                    Some(Over::Leaf(v)) => json(out, v),
                    Some(Over::Branch(b)) if prop.node.ty == Ty::Object => {
                        self.object(out, &prop.node, src, b)
                    }
                    Some(Over::Branch(b)) => self.over_object(out, b),
                    None => self.fill(out, &prop.node, src),
                }
                if o.is_some() {
                    used.push(&prop.name);
                }
            }
        }
        for (k, o) in over {
            if used.contains(&k.as_str()) {
                continue;
            }
            sep(out);
            string(out, k);
            out.push(b':');
            match o {
                Over::Leaf(v) => json(out, v),
                Over::Branch(b) => self.over_object(out, b),
            }
        }
        !first
    }

    fn object(&self, out: &mut Vec<u8>, node: &Node, src: &dyn Source, over: &[(String, Over)]) {
        out.push(b'{');
        self.members(out, Some(node), src, true, over);
        out.push(b'}');
    }

    /// An instance of `node` from `src` (see [`super::value`]'s `fill`).
    fn fill(&self, out: &mut Vec<u8>, node: &Node, src: &dyn Source) {
        match node.ty {
            Ty::Object => self.object(out, node, src, &[]),
            Ty::Array => {
                out.push(b'[');
                let item = node.item.as_deref();
                let first = self.resources.first();
                if let (Some(item), Some(first)) = (item, first) {
                    if item.ty == Ty::Object && item.lists[first.kind_index()] {
                        let inner = Writer {
                            ctx: self.ctx,
                            resources: &[],
                        };
                        for (n, r) in self.resources.iter().enumerate() {
                            if n > 0 {
                                out.push(b',');
                            }
                            let src = ResSource {
                                res: *r,
                                ctx: self.ctx,
                            };
                            inner.object(out, item, &src, &[]);
                        }
                    }
                }
                out.push(b']');
            }
            _ => out.extend_from_slice(&node.neutral),
        }
    }

    /// An object made of overrides only.
    fn over_object(&self, out: &mut Vec<u8>, over: &[(String, Over)]) {
        out.push(b'{');
        for (n, (k, o)) in over.iter().enumerate() {
            if n > 0 {
                out.push(b',');
            }
            self.over_member(out, k, o);
        }
        out.push(b'}');
    }

    /// `"k":` and the override's value.
    fn over_member(&self, out: &mut Vec<u8>, k: &str, o: &Over) {
        string(out, k);
        out.push(b':');
        match o {
            Over::Leaf(v) => json(out, v),
            Over::Branch(b) => self.over_object(out, b),
        }
    }

    /// A JSON object from the request with overrides set over it.
    fn merged_object(
        &self,
        out: &mut Vec<u8>,
        map: &serde_json::Map<String, Value>,
        over: &[(String, Over)],
    ) {
        out.push(b'{');
        let mut n = 0;
        for (k, v) in map {
            if n > 0 {
                out.push(b',');
            }
            n += 1;
            string(out, k);
            out.push(b':');
            match over.iter().find(|(o, _)| o == k).map(|(_, o)| o) {
                Some(Over::Leaf(x)) => json(out, x),
                Some(Over::Branch(b)) => match v {
                    Value::Object(m) => self.merged_object(out, m, b),
                    _ => self.over_object(out, b),
                },
                None => json(out, v),
            }
        }
        for (k, o) in over.iter().filter(|(k, _)| !map.contains_key(k)) {
            if n > 0 {
                out.push(b',');
            }
            n += 1;
            self.over_member(out, k, o);
        }
        out.push(b'}');
    }
}

#[cfg(test)]
mod tests {
    use super::needs_escape;

    #[test]
    fn escapes_are_found_anywhere() {
        assert!(!needs_escape(b""));
        assert!(!needs_escape(
            "plain text, quite long, \u{4e2d}\u{6587} ~!@#$%^&*()".as_bytes()
        ));
        for bad in [b'"', b'\\', b'\n', 0u8, 0x1f] {
            for at in 0..20 {
                let mut v = vec![b'a'; 20];
                v[at] = bad;
                assert!(needs_escape(&v), "{bad} at {at}");
            }
        }
        // Bytes at or above 0x20 (including every UTF-8 continuation byte) need nothing.
        let all: Vec<u8> = (0x20u8..=0xff)
            .filter(|b| *b != b'"' && *b != b'\\')
            .collect();
        assert!(!needs_escape(&all));
    }
}
