//! Response shaping: the members of a success answer, built from the action's response schema.
//!
//! A generic filler walks the schema and takes each property from a source of named values (the
//! request's parameters, the key pair the request names or created, the instances it names or
//! describes); arrays of objects are filled with one entry per resource. Batch results follow
//! `response.batch` (where the items and counts live, ECS strings vs ENS native types). The only
//! per-action knowledge is which resources an action lists: a `describe` fixture lists its
//! resource kind, every other action the resources its parameters name.
//!
//! Two fillers share this module's facts: [`write`] writes the answer's bytes straight from a
//! plan compiled once per action (the request path), [`value`] builds a `serde_json::Value`
//! tree (the reference the writer is tested against, byte for byte).
pub(crate) mod value;
pub(crate) mod write;

use super::semantics::{values, Applied, Call, ItemFailures};
use super::world::{Instance, KeyPair, ServiceState, World};
use crate::spec::{BatchResults, ParamType, Provider, RefBy, ValueTypes};
use serde_json::{json, Value};

// ---------------------------------------------------------------- fields

/// One field's value, borrowed where the world or the request holds it.
pub(crate) enum Field<'a> {
    Str(&'a str),
    /// A remembered text (no copy per answer).
    Shared(std::rc::Rc<str>),
    /// Three pieces written one after the other, as one string.
    Joined(&'static str, &'a str, &'static str),
    Int(i64),
    List(Vec<&'a str>),
    Json(&'a Value),
}

impl Field<'_> {
    pub(crate) fn to_value(&self) -> Value {
        match self {
            Field::Str(s) => json!(s),
            Field::Shared(s) => json!(&**s),
            Field::Joined(a, b, c) => json!(format!("{a}{b}{c}")),
            Field::Int(n) => json!(n),
            Field::List(l) => json!(l),
            Field::Json(v) => (*v).clone(),
        }
    }

    /// The text of a string value (`None` for numbers, lists, objects).
    pub(crate) fn as_str(&self) -> Option<&str> {
        match self {
            Field::Str(s) => Some(s),
            Field::Shared(s) => Some(s),
            Field::Json(Value::String(s)) => Some(s),
            _ => None,
        }
    }
}

/// A named value lookup: the request's bag or one listed resource.
pub(crate) trait Source {
    fn get(&self, name: &str) -> Option<Field<'_>>;
    /// Whether `get(name)` answers, without computing the value.
    fn has(&self, name: &str) -> bool;
}

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

/// The fields a region answers with, in bag order.
const REGION_FIELDS: [&str; 5] = [
    "Region",
    "RegionId",
    "RegionName",
    "LocalName",
    "RegionState",
];

/// What a field is computed from: the service, the request's changes, the provider.
#[derive(Clone, Copy)]
pub(crate) struct Ctx<'a> {
    pub svc: &'a ServiceState,
    pub applied: &'a Applied,
    pub provider: Provider,
}

/// One resource an answer lists.
#[derive(Clone, Copy)]
pub(crate) enum Res<'a> {
    Key(&'a KeyPair),
    Instance(&'a Instance),
    Region(&'a str),
}

impl<'a> Res<'a> {
    /// The field names this resource answers, in bag order.
    pub(crate) fn names(self) -> &'static [&'static str] {
        match self {
            Res::Key(_) => &KEY_PAIR_FIELDS,
            Res::Instance(_) => &INSTANCE_FIELDS,
            Res::Region(_) => &REGION_FIELDS,
        }
    }

    /// Which of the three kinds (key pair, instance, region) this is.
    pub(crate) fn kind_index(self) -> usize {
        match self {
            Res::Key(_) => 0,
            Res::Instance(_) => 1,
            Res::Region(_) => 2,
        }
    }

    /// One field, computed only when asked for (filters read one or two fields of every
    /// resource; only the page answered needs them all).
    pub(crate) fn field(self, ctx: &Ctx<'a>, name: &str) -> Option<Field<'a>> {
        match self {
            Res::Key(k) => key_field(k, ctx.svc, name),
            Res::Instance(i) => instance_field(i, ctx, name),
            Res::Region(r) => REGION_FIELDS.contains(&name).then_some(match name {
                "RegionState" => Field::Str("AVAILABLE"),
                _ => Field::Str(r),
            }),
        }
    }
}

/// A listed resource read as a [`Source`].
pub(crate) struct ResSource<'a, 'c> {
    pub res: Res<'a>,
    pub ctx: &'c Ctx<'a>,
}

impl Source for ResSource<'_, '_> {
    fn get(&self, name: &str) -> Option<Field<'_>> {
        self.res.field(self.ctx, name)
    }

    fn has(&self, name: &str) -> bool {
        self.res.names().contains(&name)
    }
}

fn key_field<'a>(k: &'a KeyPair, svc: &'a ServiceState, name: &str) -> Option<Field<'a>> {
    Some(match name {
        "KeyId" | "KeyPairId" => Field::Str(&k.id),
        "KeyName" | "KeyPairName" => Field::Str(&k.name),
        "AssociatedInstanceIds" => Field::List(svc.instances_of_key(&k.id)),
        "ProjectId" => Field::Int(0),
        "Description" => Field::Str(""),
        "CreatedTime" | "CreationTime" => Field::Str("2026-01-01T00:00:00Z"),
        "RegionId" => Field::Str(&k.region),
        "KeyPairFingerPrint" => Field::Shared(fingerprint(&k.id)),
        "PublicKey" => Field::Joined(
            "ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAABAQC",
            &k.id,
            " cloudconform",
        ),
        _ => return None,
    })
}

/// The key pair's fingerprint, remembered per thread (a page of key pairs would otherwise
/// hash every id on every request).
fn fingerprint(seed: &str) -> std::rc::Rc<str> {
    use std::cell::RefCell;
    use std::collections::HashMap;
    use std::rc::Rc;
    thread_local! {
        static KNOWN: RefCell<HashMap<String, Rc<str>>> = RefCell::new(HashMap::new());
    }
    KNOWN.with(|known| {
        let mut known = known.borrow_mut();
        if let Some(f) = known.get(seed) {
            return f.clone();
        }
        if known.len() >= 4096 {
            known.clear();
        }
        let f: Rc<str> = compute_fingerprint(seed).into();
        known.insert(seed.to_string(), f.clone());
        f
    })
}

fn compute_fingerprint(seed: &str) -> String {
    use sha2::{Digest, Sha256};
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let d = Sha256::digest(seed.as_bytes());
    let mut out = String::with_capacity(47);
    for (n, b) in d.iter().take(16).enumerate() {
        if n > 0 {
            out.push(':');
        }
        out.push(HEX[usize::from(b >> 4)] as char);
        out.push(HEX[usize::from(b & 15)] as char);
    }
    out
}

fn instance_field<'a>(i: &'a Instance, ctx: &Ctx<'a>, name: &str) -> Option<Field<'a>> {
    Some(match name {
        "InstanceId" | "InstanceName" => Field::Str(&i.id),
        "InstanceState" | "Status" | "CurrentStatus" => Field::Str(&i.state),
        "PreviousStatus" => Field::Str(
            ctx.applied
                .state_changes
                .iter()
                .find(|(id, _, _)| *id == i.id)
                .map(|(_, before, _)| before.as_str())
                .unwrap_or(i.state.as_str()),
        ),
        "OsName" | "OSName" => Field::Str(match (i.os.as_str(), ctx.provider) {
            ("windows", _) => "Windows Server 2019 DataCenter 64bit",
            (_, Provider::Tencent) => "TencentOS Server 3.1 (TK4)",
            (_, Provider::Alibaba) => "Alibaba Cloud Linux 3.2104 LTS 64 bit",
        }),
        "OSType" | "OsType" => Field::Str(&i.os),
        "RegionId" | "EnsRegionId" => Field::Str(&i.region),
        "KeyPairName" => Field::Str(
            i.keys
                .iter()
                .find_map(|k| ctx.svc.key_pair(k))
                .map(|k| k.name.as_str())
                .unwrap_or(""),
        ),
        "KeyIds" => Field::List(i.keys.iter().map(String::as_str).collect()),
        "Code" => Field::Str("200"),
        "Message" => Field::Str("successful"),
        _ => return None,
    })
}

// ---------------------------------------------------------------- the request's bag

const PRIVATE_KEY: &str =
    "-----BEGIN RSA PRIVATE KEY-----\nY2xvdWRjb25mb3JtIGVtdWxhdGVk\n-----END RSA PRIVATE KEY-----";

/// The answer's own values: `TotalCount`, the private key of a created key pair, the
/// parameters (arrays excepted), the fields of the key pair the request names or created, and
/// the documented defaults of page parameters the request left out, in that precedence.
pub(crate) struct RequestBag<'a> {
    call: &'a Call<'a>,
    ctx: Ctx<'a>,
    key: Option<&'a KeyPair>,
    created_key: bool,
    total: usize,
}

const DEFAULTED_PAGE_PARAMETERS: [&str; 4] = ["PageNumber", "PageSize", "Offset", "Limit"];

impl<'a> RequestBag<'a> {
    pub(crate) fn new(call: &'a Call<'a>, ctx: Ctx<'a>, total: usize) -> RequestBag<'a> {
        let svc = ctx.svc;
        let mut key: Option<&KeyPair> = None;
        for p in &call.action.parameters {
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
        let created = ctx
            .applied
            .created
            .iter()
            .find(|(kind, _)| kind == "key_pair");
        if let Some((_, id)) = created {
            key = svc.key_pair(id).or(key);
        }
        RequestBag {
            call,
            ctx,
            key,
            created_key: created.is_some(),
            total,
        }
    }

    fn param(&self, name: &str) -> Option<&'a Value> {
        let p = self.call.action.parameter(name)?;
        if p.ty == ParamType::Array {
            return None;
        }
        self.call.params.get(name)
    }

    fn page_default(&self, name: &str) -> Option<&'a Value> {
        if !DEFAULTED_PAGE_PARAMETERS.contains(&name) {
            return None;
        }
        self.call.action.parameter(name)?.default.as_ref()
    }
}

impl Source for RequestBag<'_> {
    fn get(&self, name: &str) -> Option<Field<'_>> {
        if name == "TotalCount" {
            return Some(Field::Int(self.total as i64));
        }
        if self.created_key && matches!(name, "PrivateKey" | "PrivateKeyBody") {
            return Some(Field::Str(PRIVATE_KEY));
        }
        if let Some(v) = self.param(name) {
            return Some(Field::Json(v));
        }
        if let Some(f) = self.key.and_then(|k| key_field(k, self.ctx.svc, name)) {
            return Some(f);
        }
        self.page_default(name).map(Field::Json)
    }

    fn has(&self, name: &str) -> bool {
        name == "TotalCount"
            || self.created_key && matches!(name, "PrivateKey" | "PrivateKeyBody")
            || self.param(name).is_some()
            || self.key.is_some() && KEY_PAIR_FIELDS.contains(&name)
            || self.page_default(name).is_some()
    }
}

// ---------------------------------------------------------------- what is listed

/// The resources an answer lists (one page of them) and how many passed the filters.
pub(crate) struct Listed<'a> {
    pub items: Vec<Res<'a>>,
    pub total: usize,
}

/// The resources the answer lists. A describe fixture lists its resource kind: every parameter
/// named like a field of the resource (`InstanceIds` → `InstanceId`, `KeyPairName`, `Status`)
/// filters, Tencent `Filters` filter by their documented names, and the page parameters
/// (`Offset`/`Limit`, `PageNumber`/`PageSize`, `MaxResults`) page. A region list lists the
/// world's regions. Any other action lists the instances its parameters name.
pub(crate) fn listed<'a>(call: &Call, world: &'a World, ctx: &Ctx<'a>) -> Listed<'a> {
    let svc = ctx.svc;
    let scope = call.region.filter(|_| call.action.region.required);
    let in_scope = |region: &str| scope.is_none_or(|r| r == region);
    let purpose = call
        .action
        .fixture
        .as_ref()
        .map(|f| (f.purpose.as_str(), f.resource.as_str()));
    let kind = match purpose {
        Some(("list_regions", _)) => {
            let items: Vec<Res> = world
                .regions(call.provider.provider)
                .iter()
                .map(|r| Res::Region(r))
                .collect();
            let total = items.len();
            return Listed { items, total };
        }
        Some(("describe", "key_pair")) => Kind::KeyPair,
        Some(("describe", _)) => Kind::Instance,
        _ => {
            let mut items = Vec::new();
            for p in &call.action.parameters {
                if p.references
                    .as_ref()
                    .is_some_and(|r| r.resource == "instance")
                {
                    for id in values(call.params, &p.name) {
                        if let Some(i) = svc.instance(&id) {
                            items.push(Res::Instance(i));
                        }
                    }
                }
            }
            let total = items.len();
            return Listed { items, total };
        }
    };
    let res = |n: usize| match kind {
        Kind::KeyPair => Res::Key(&svc.key_pairs[n]),
        Kind::Instance => Res::Instance(&svc.instances[n]),
    };
    let region = |n: usize| match kind {
        Kind::KeyPair => svc.key_pairs[n].region.as_str(),
        Kind::Instance => svc.instances[n].region.as_str(),
    };
    let wanted = Wanted::of(call);
    let (offset, limit) = page(call);
    // Nothing to filter on but the region: the region's index gives the count and the page
    // without reading the resources.
    if wanted.parameters.is_empty() && wanted.filters.is_empty() {
        let at = match (scope, kind) {
            (None, _) => Some(None),
            (Some(r), Kind::Instance) => svc.instances_in_region(r).map(Some),
            (Some(r), Kind::KeyPair) => svc.key_pairs_in_region(r).map(Some),
        };
        if let Some(at) = at {
            let total = at.map_or(kind.count(svc), <[usize]>::len);
            let page: Vec<usize> = (offset..total.min(offset.saturating_add(limit)))
                .map(|n| at.map_or(n, |at| at[n]))
                .collect();
            // A region changed behind the index's back is noticed on the page, then walked.
            if page.iter().all(|n| in_scope(region(*n))) {
                let items = page.into_iter().map(res).collect();
                return Listed { items, total };
            }
        }
    }
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
        .filter(|n| in_scope(region(*n)) && wanted.matches(&|name| res(*n).field(ctx, name)))
        .collect();
    let total = listed.len();
    let items = listed
        .into_iter()
        .skip(offset)
        .take(limit)
        .map(res)
        .collect();
    Listed { items, total }
}

// ---------------------------------------------------------------- batch results

/// The batch results of `response.batch` as `(pointer, value)` pairs, set in this order over
/// the filled members: the items, the total count, the failed count. Pointers are relative to
/// the members (a Tencent `/Response` prefix stripped when `wrapped`).
pub(crate) fn batch_results(
    call: &Call,
    batch: &BatchResults,
    failures: &ItemFailures,
    wrapped: bool,
) -> [(String, Value); 3] {
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
    let mut failed = 0;
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
            failed += usize::from(!ok);
            let mut entry = serde_json::Map::new();
            entry.insert("Code".into(), c);
            entry.insert("Message".into(), json!(m));
            entry.insert(batch.item_key.clone(), json!(item));
            entry.insert("Success".into(), flag(ok));
            Value::Object(entry)
        })
        .collect();
    let total = items.len();
    let strip = |p: &str| -> String {
        if wrapped {
            p.strip_prefix("/Response").unwrap_or(p).to_string()
        } else {
            p.to_string()
        }
    };
    [
        (strip(&batch.items), Value::Array(items)),
        (strip(&batch.counts.total), count(total)),
        (strip(&batch.counts.failed), count(failed)),
    ]
}

/// The pointer's parts (`/Results/Result` → `Results`, `Result`).
pub(crate) fn pointer_parts(pointer: &str) -> Vec<&str> {
    pointer.trim_start_matches('/').split('/').collect()
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
    fn matches<'f>(&self, field: &dyn Fn(&str) -> Option<Field<'f>>) -> bool {
        let parameters = self.parameters.iter().all(|(name, wanted)| {
            let singular = name.strip_suffix('s').unwrap_or(name);
            match field(name).or_else(|| field(singular)) {
                Some(have) => match have.as_str() {
                    Some(have) => wanted.iter().any(|w| wildcard(w, have)),
                    None => true,
                },
                None => true,
            }
        });
        parameters
            && self.filters.iter().all(|(name, wanted)| match field(name) {
                Some(have) => {
                    let have = match have.as_str() {
                        Some(s) => s.to_string(),
                        None => have.to_value().to_string(),
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

/// The properties an object schema lists as required. Shared, like [`schema_type`], by the
/// writer and the reference filler so both read a schema alike.
pub(super) fn required_names(schema: &Value) -> Vec<&str> {
    schema
        .get("required")
        .and_then(Value::as_array)
        .map(|r| r.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default()
}

/// The JSON type a response schema asks for (the first non-null one; inferred from
/// `properties`, `items` or `enum` when the schema names none).
pub(super) fn schema_type(schema: &Value) -> &str {
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
