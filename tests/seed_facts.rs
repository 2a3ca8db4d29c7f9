//! Every fact a seed page prints must be in the spec written from it.
//!
//! The tables below were written by reading the five seed pages in `shared/seeds/` (not the
//! specs): each parameter's wire name, its Required column and its type, every limit the page
//! states (items per request, requests per second, whether Region is required) and every error
//! code with, for Alibaba, its HTTP status. Each test loads one spec file as plain JSON and
//! reports every missing or contradicting fact at once, naming the seed, the fact and the file.
//! It deliberately does not use the crate's spec model, so it checks the data, not the loader.

use serde_json::Value;

/// A parameter's type as the seed page prints it.
#[derive(Clone, Copy, Debug)]
enum SeedType {
    /// "String" / "string".
    String,
    /// "Boolean".
    Boolean,
    /// Tencent "Array of String" (`Name.N` on the wire, a JSON array in a JSON body).
    ArrayOfString,
    /// Alibaba "array" (ENS `InstanceIds`).
    Array,
    /// Alibaba "string" whose description says it holds a JSON array (ECS `InstanceIds`).
    StringHoldingJsonArray,
}

struct Param {
    name: &'static str,
    required: bool,
    ty: SeedType,
    /// Maximum number of items the page states for this parameter, if any.
    max_items: Option<u64>,
    /// Default the page states, if any.
    default: Option<Value>,
}

struct Seed {
    file: &'static str,
    spec: &'static str,
    /// The `Action` common parameter's value (Tencent tables list it), else the page title.
    action: &'static str,
    /// The `Version` common parameter's value, when the page prints it.
    version: Option<&'static str>,
    /// The Region row of a Tencent table (`Some(required)`), or `None` when the page has none.
    region_required: Option<bool>,
    /// "A maximum of N requests can be initiated per second for this API", if stated.
    rate_per_second: Option<u64>,
    params: Vec<Param>,
    /// Error codes with the HTTP status the page prints (Alibaba) or `None` (Tencent prints none).
    errors: Vec<(&'static str, Option<u64>)>,
}

fn p(name: &'static str, required: bool, ty: SeedType) -> Param {
    Param {
        name,
        required,
        ty,
        max_items: None,
        default: None,
    }
}

impl Param {
    fn max(mut self, n: u64) -> Self {
        self.max_items = Some(n);
        self
    }
    fn default(mut self, v: Value) -> Self {
        self.default = Some(v);
        self
    }
}

fn load(spec: &str) -> Value {
    let path = format!("{}/specs/{}", env!("CARGO_MANIFEST_DIR"), spec);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("read {path}: {e}"));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("parse {path}: {e}"))
}

/// Collects failures so that one run reports every missing fact.
struct Report<'a> {
    seed: &'a str,
    spec: &'a str,
    failures: Vec<String>,
}

impl Report<'_> {
    fn check(&mut self, ok: bool, fact: impl Into<String>) {
        if !ok {
            self.failures.push(format!(
                "seed {}: {} — not in specs/{}",
                self.seed,
                fact.into(),
                self.spec
            ));
        }
    }
    fn finish(self) {
        assert!(
            self.failures.is_empty(),
            "{} fact(s) missing:\n{}",
            self.failures.len(),
            self.failures.join("\n")
        );
    }
}

fn param<'v>(spec: &'v Value, name: &str) -> Option<&'v Value> {
    spec["parameters"]
        .as_array()?
        .iter()
        .find(|x| x["name"] == name)
}

fn type_matches(x: &Value, ty: SeedType) -> bool {
    match ty {
        SeedType::String => x["type"] == "string",
        SeedType::Boolean => x["type"] == "boolean",
        SeedType::ArrayOfString => x["type"] == "array" && x["items"]["type"] == "string",
        SeedType::Array => x["type"] == "array",
        SeedType::StringHoldingJsonArray => {
            x["type"] == "string" || (x["type"] == "array" && x["encoding"] == "json-string")
        }
    }
}

/// The checks every seed shares: identity, common parameters, parameters, limits, errors.
fn check_seed(seed: &Seed) -> (Value, Report<'_>) {
    let spec = load(seed.spec);
    let mut r = Report {
        seed: seed.file,
        spec: seed.spec,
        failures: Vec::new(),
    };
    r.check(
        spec["source"]["seed"] == seed.file,
        format!("source.seed = {:?}", seed.file),
    );
    r.check(spec["role"] == "seed", "role = \"seed\"");
    r.check(
        spec["action"] == seed.action,
        format!("Action = {}", seed.action),
    );
    if let Some(version) = seed.version {
        r.check(spec["version"] == version, format!("Version = {version}"));
    }
    if let Some(required) = seed.region_required {
        r.check(
            spec["region"]["required"] == required,
            format!("Region required = {required}"),
        );
        r.check(
            spec["region"]["parameter"] == "Region",
            "Region is the region parameter",
        );
    }
    if let Some(n) = seed.rate_per_second {
        r.check(
            spec["rate_limit"]["per_second"] == n,
            format!("rate limit {n} requests per second"),
        );
    }
    for prm in &seed.params {
        let Some(x) = param(&spec, prm.name) else {
            r.check(false, format!("parameter {}", prm.name));
            continue;
        };
        r.check(
            x["required"] == prm.required,
            format!("parameter {} required = {}", prm.name, prm.required),
        );
        r.check(
            type_matches(x, prm.ty),
            format!("parameter {} has type {:?}", prm.name, prm.ty),
        );
        match prm.max_items {
            Some(n) => r.check(
                x["max_items"] == n,
                format!("parameter {} at most {n} items", prm.name),
            ),
            None => {
                if matches!(
                    prm.ty,
                    SeedType::ArrayOfString | SeedType::Array | SeedType::StringHoldingJsonArray
                ) {
                    r.check(
                        x.get("max_items").is_none(),
                        format!(
                            "parameter {} has no item limit (the page states none)",
                            prm.name
                        ),
                    );
                }
            }
        }
        if let Some(default) = &prm.default {
            r.check(
                &x["default"] == default,
                format!("parameter {} default {default}", prm.name),
            );
        }
    }
    let errors = spec["errors"].as_array().cloned().unwrap_or_default();
    for (code, status) in &seed.errors {
        match errors.iter().find(|e| e["code"] == *code) {
            None => r.check(false, format!("error code {code}")),
            Some(e) => {
                if let Some(status) = status {
                    r.check(
                        e["http_status"] == *status,
                        format!("error code {code} with HTTP {status}"),
                    );
                }
                let listed = e["listed_by"]
                    .as_array()
                    .is_some_and(|l| l.iter().any(|s| s == &format!("seed:{}", seed.file)));
                r.check(listed, format!("error code {code} listed_by the seed"));
            }
        }
    }
    (spec, r)
}

fn preconditions(spec: &Value) -> Vec<Value> {
    spec["preconditions"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

fn tencent_errors(codes: &[&'static str]) -> Vec<(&'static str, Option<u64>)> {
    codes.iter().map(|c| (*c, None)).collect()
}

#[test]
fn seed_000_ecm_disassociate_instances_key_pairs() {
    use SeedType::*;
    let seed = Seed {
        file: "000_936c46579ebe04e9.txt",
        spec: "tencent/ecm/2019-07-19/DisassociateInstancesKeyPairs.json",
        action: "DisassociateInstancesKeyPairs",
        version: Some("2019-07-19"),
        region_required: Some(false),
        rate_per_second: Some(20),
        params: vec![
            p("InstanceIds", true, ArrayOfString),
            p("KeyIds", true, ArrayOfString).max(100),
            p("ForceStop", false, Boolean).default(Value::Bool(false)),
        ],
        errors: tencent_errors(&[
            "InvalidParameterValue",
            "InvalidParameterValue.InstanceIdNotSupported",
            "InvalidParameterValue.InvalidKeyPairId",
            "InvalidParameterValue.LimitExceeded",
            "MissingParameter",
        ]),
    };
    let (spec, mut r) = check_seed(&seed);
    r.check(spec["provider"] == "tencent", "provider tencent");
    r.check(spec["service"] == "ecm", "service ecm");
    r.check(
        spec["endpoints"]
            .as_array()
            .is_some_and(|e| e.iter().any(|h| h == "ecm.intl.tencentcloudapi.com")),
        "endpoint ecm.intl.tencentcloudapi.com",
    );
    r.finish();
}

#[test]
fn seed_001_cvm_disassociate_instances_key_pairs() {
    use SeedType::*;
    let seed = Seed {
        file: "001_61d525aad496713c.txt",
        spec: "tencent/cvm/2017-03-12/DisassociateInstancesKeyPairs.json",
        action: "DisassociateInstancesKeyPairs",
        version: Some("2017-03-12"),
        // The page's table has no Region row and states no rate limit.
        region_required: None,
        rate_per_second: None,
        params: vec![
            p("InstanceIds", true, ArrayOfString).max(100),
            p("KeyIds", true, ArrayOfString).max(100),
            p("ForceStop", false, Boolean).default(Value::Bool(false)),
        ],
        errors: tencent_errors(&[
            "InternalServerError",
            "InvalidInstance.NotSupported",
            "InvalidInstanceId.Malformed",
            "InvalidInstanceId.NotFound",
            "InvalidKeyPairId.Malformed",
            "InvalidKeyPairId.NotFound",
            "InvalidParameterValue",
            "InvalidParameterValue.LimitExceeded",
            "MissingParameter",
        ]),
    };
    let (spec, mut r) = check_seed(&seed);
    let pre = preconditions(&spec);
    // "Only Linux instances with a status of STOPPED are supported."
    r.check(
        pre.iter().any(|c| {
            c["subject"]["parameter"] == "InstanceIds"
                && c["require"]["os_in"] == serde_json::json!(["linux"])
        }),
        "precondition: only Linux instances",
    );
    r.check(
        pre.iter().any(|c| {
            c["subject"]["parameter"] == "InstanceIds"
                && c["unless"]["parameter"] == "ForceStop"
                && c["require"]["state_in"].as_array().is_some_and(|s| {
                    s.iter().any(|x| x == "STOPPED") && !s.iter().any(|x| x == "RUNNING")
                })
        }),
        "precondition: STOPPED instances unless ForceStop",
    );
    // The page's request example is the legacy unBindInstanceKey call.
    r.check(
        spec["examples"].as_array().is_some_and(|ex| {
            ex.iter().any(|x| {
                x["valid"] == false
                    && x["raw"]
                        .as_str()
                        .is_some_and(|raw| raw.contains("Action=unBindInstanceKey"))
            })
        }),
        "example: legacy unBindInstanceKey request kept as invalid",
    );
    r.finish();
}

#[test]
fn seed_002_cvm_delete_key_pairs() {
    use SeedType::*;
    let seed = Seed {
        file: "002_ef0d10082f4668c0.txt",
        spec: "tencent/cvm/2017-03-12/DeleteKeyPairs.json",
        action: "DeleteKeyPairs",
        version: Some("2017-03-12"),
        region_required: Some(true),
        rate_per_second: Some(10),
        params: vec![p("KeyIds", true, ArrayOfString).max(100)],
        errors: tencent_errors(&[
            "InternalServerError",
            "InvalidKeyPair.LimitExceeded",
            "InvalidKeyPairId.Malformed",
            "InvalidKeyPairId.NotFound",
            "InvalidParameterValue",
            "InvalidParameterValue.KeyPairNotSupported",
            "InvalidParameterValue.LimitExceeded",
            "MissingParameter",
        ]),
    };
    let (spec, mut r) = check_seed(&seed);
    // "A key pair used by an instance or image cannot be deleted."
    r.check(
        preconditions(&spec).iter().any(|c| {
            c["subject"]["parameter"] == "KeyIds"
                && c["require"]["not_in_use"].as_array().is_some_and(|u| {
                    u.iter().any(|x| x == "instance") && u.iter().any(|x| x == "image")
                })
        }),
        "precondition: a key used by an instance or image cannot be deleted",
    );
    r.check(
        spec["endpoints"]
            .as_array()
            .is_some_and(|e| e.iter().any(|h| h == "cvm.intl.tencentcloudapi.com")),
        "endpoint cvm.intl.tencentcloudapi.com",
    );
    r.check(
        spec["examples"].as_array().is_some_and(|ex| {
            ex.iter()
                .any(|x| x["method"] == "GET" && x["request"]["KeyIds"][0] == "skey-mv9yzyjj")
        }),
        "example: GET with KeyIds.0=skey-mv9yzyjj",
    );
    r.finish();
}

#[test]
fn seed_003_ens_detach_key_pair() {
    use SeedType::*;
    let seed = Seed {
        file: "003_fa4ac0631dc10c31.txt",
        spec: "alibaba/ens/2017-11-10/DetachKeyPair.json",
        action: "DetachKeyPair",
        version: None,
        region_required: None,
        rate_per_second: None,
        params: vec![
            p("KeyPairName", false, String),
            p("KeyPairId", false, String),
            p("InstanceIds", true, Array).max(30),
        ],
        errors: vec![
            ("PublicKeyNotAttachWithInstance", Some(400)),
            ("NoPermission", Some(400)),
            ("InvalidParameter.%s", Some(400)),
        ],
    };
    let (spec, mut r) = check_seed(&seed);
    r.check(spec["provider"] == "alibaba", "provider alibaba");
    r.check(spec["service"] == "ens", "service ens");
    // "You must specify either the KeyPairName or KeyPairId parameter."
    r.check(
        spec["one_of"].as_array().is_some_and(|g| {
            g.iter().any(|x| {
                x["at_least"] == 1
                    && x["parameters"].as_array().is_some_and(|ps| {
                        ps.iter().any(|n| n == "KeyPairName") && ps.iter().any(|n| n == "KeyPairId")
                    })
            })
        }),
        "one of KeyPairName / KeyPairId required",
    );
    // "The KeyPairName parameter will be deprecated in a future release."
    r.check(
        param(&spec, "KeyPairName").is_some_and(|x| x["deprecated"].is_string()),
        "KeyPairName deprecation note",
    );
    // "The target instances must be in a stopped state."
    r.check(
        preconditions(&spec).iter().any(|c| {
            c["subject"]["parameter"] == "InstanceIds"
                && c["require"]["state_in"] == serde_json::json!(["Stopped"])
        }),
        "precondition: instances stopped",
    );
    // "returns an error if you specify KeyPairName and any instance is not associated with it"
    r.check(
        preconditions(&spec)
            .iter()
            .any(|c| c["require"]["bound_to"]["parameter"] == "KeyPairName"),
        "precondition: instances bound to the named key pair",
    );
    // FailCount / TotalCount integer, Code integer, Success boolean, flat Results.
    let props = &spec["response"]["schema"]["properties"];
    r.check(props["FailCount"]["type"] == "integer", "FailCount integer");
    r.check(
        props["TotalCount"]["type"] == "integer",
        "TotalCount integer",
    );
    r.check(
        props["Results"]["items"]["properties"]["Code"]["type"] == "integer",
        "Results[].Code integer",
    );
    r.check(
        props["Results"]["items"]["properties"]["Success"]["type"] == "boolean",
        "Results[].Success boolean",
    );
    r.check(props["KeyPairId"].is_object(), "response KeyPairId");
    r.finish();
}

#[test]
fn seed_004_ecs_detach_key_pair() {
    use SeedType::*;
    let seed = Seed {
        file: "004_a5f1f2946d388a3b.txt",
        spec: "alibaba/ecs/2014-05-26/DetachKeyPair.json",
        action: "DetachKeyPair",
        version: None,
        region_required: None,
        rate_per_second: None,
        params: vec![
            p("RegionId", true, String),
            p("KeyPairName", true, String),
            p("InstanceIds", true, StringHoldingJsonArray).max(50),
        ],
        errors: vec![
            ("InvalidKeyPairName.NotFound", Some(400)),
            ("InvalidInstanceIds.ValueNotSupported", Some(400)),
            ("DependencyViolation.WindowsInstance", Some(403)),
            ("InstanceKeyPairLimitExceeded", Some(403)),
        ],
    };
    let (spec, mut r) = check_seed(&seed);
    r.check(spec["service"] == "ecs", "service ecs");
    // RegionId: Required "Yes".
    r.check(
        spec["region"]["required"] == true && spec["region"]["parameter"] == "RegionId",
        "RegionId required",
    );
    // "Unbinds SSH key pairs from one or more Linux instances."
    r.check(
        preconditions(&spec)
            .iter()
            .any(|c| c["require"]["os_in"] == serde_json::json!(["linux"])),
        "precondition: Linux instances",
    );
    // TotalCount, FailCount, Code and Success typed string, nested Results.Result.
    let props = &spec["response"]["schema"]["properties"];
    r.check(props["TotalCount"]["type"] == "string", "TotalCount string");
    r.check(props["FailCount"]["type"] == "string", "FailCount string");
    r.check(
        props["Results"]["properties"]["Result"]["type"] == "array",
        "Results.Result array",
    );
    r.finish();
}
