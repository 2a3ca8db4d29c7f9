//! The case model: what one conformance case asks for (a world, requests, expectations).
//!
//! Cases are plain data (serde), so generated cases, hand-written scenarios
//! (`cases/scenarios/*.json`) and saved regressions (`cases/regressions/*.json`) share one shape,
//! described by `cases/case.schema.json`. Values in `params` may name world objects with
//! placeholders (`${i1}` = the id of instance `i1`, `${k1.name}` = the name of key pair `k1`,
//! `${region}` = the target's region); the runner binds them when it realises the world.
use crate::spec::ActionKey;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::fmt;

/// Which family of cases a case belongs to (the third segment of its id).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CaseKind {
    Valid,
    Boundary,
    Negative,
    State,
    Scenario,
    Regression,
}

impl CaseKind {
    pub const ALL: [CaseKind; 6] = [
        CaseKind::Valid,
        CaseKind::Boundary,
        CaseKind::Negative,
        CaseKind::State,
        CaseKind::Scenario,
        CaseKind::Regression,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            CaseKind::Valid => "valid",
            CaseKind::Boundary => "boundary",
            CaseKind::Negative => "negative",
            CaseKind::State => "state",
            CaseKind::Scenario => "scenario",
            CaseKind::Regression => "regression",
        }
    }
}

impl fmt::Display for CaseKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One conformance case.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Case {
    /// Stable, readable id: `provider/service/Action/kind/name[@style]`.
    pub id: String,
    /// The action under test (`provider/service/version/Action`).
    #[serde(with = "action_key_str")]
    pub action: ActionKey,
    pub kind: CaseKind,
    pub title: String,
    /// The world the case needs before its first step.
    #[serde(default)]
    pub world: World,
    /// Requests sent in order; every step's expectation is checked.
    pub steps: Vec<Step>,
    /// Changes or removes something on the target: live runs need `--allow-destructive`.
    #[serde(default)]
    pub destructive: bool,
    /// The spec elements this case exercises (for coverage).
    #[serde(default)]
    pub covers: Vec<Cover>,
}

impl Case {
    /// The spec elements exercised, as printable strings.
    pub fn error_codes_expected(&self) -> impl Iterator<Item = &str> {
        self.steps.iter().flat_map(|s| s.expect.codes())
    }

    /// `provider/service/Action`, the prefix every id of this action starts with.
    pub fn action_prefix(key: &ActionKey) -> String {
        format!("{}/{}/{}", key.provider, key.service, key.action)
    }
}

/// A spec element a case exercises.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(tag = "what", rename_all = "snake_case")]
pub enum Cover {
    Parameter { name: String },
    Limit { parameter: String, limit: String },
    Error { code: String },
    Precondition { id: String, satisfied: bool },
    Effect { id: String },
    Example { title: String },
    OneOf { group: String },
    Style { id: String },
    Protocol { condition: String },
}

impl fmt::Display for Cover {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Cover::Parameter { name } => write!(f, "parameter {name}"),
            Cover::Limit { parameter, limit } => write!(f, "limit {parameter}.{limit}"),
            Cover::Error { code } => write!(f, "error {code}"),
            Cover::Precondition { id, satisfied } => {
                write!(
                    f,
                    "precondition {id} ({})",
                    if *satisfied { "met" } else { "violated" }
                )
            }
            Cover::Effect { id } => write!(f, "effect {id}"),
            Cover::Example { title } => write!(f, "example {title}"),
            Cover::OneOf { group } => write!(f, "one-of {group}"),
            Cover::Style { id } => write!(f, "style {id}"),
            Cover::Protocol { condition } => write!(f, "protocol {condition}"),
        }
    }
}

/// Who signs a request.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Caller {
    /// The run's own credentials (root on the emulator).
    #[default]
    Root,
    /// A sub-user whose policy allows nothing (emulator: `AKIDSUBUSERDENY`).
    Denied,
    /// Temporary credentials: an access key issued with a session token (emulator:
    /// `AKIDTEMPORARY`; live: the run's own credentials when they carry a token).
    Temporary,
}

/// The abstract world a case needs: objects named by symbols the params refer to.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct World {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub instances: Vec<InstanceFixture>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub key_pairs: Vec<KeyFixture>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub images: Vec<ImageFixture>,
    /// Literal ids or names that must not exist on the target.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub absent: Vec<String>,
    /// Nothing here is created: the expected answer comes from a check the spec's
    /// `error_precedence` puts before any existence or state check (protocol, parameters,
    /// one-of), so the symbols are bound to well-formed made-up ids and the target holds none
    /// of them.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub made_up: bool,
}

impl World {
    pub fn is_empty(&self) -> bool {
        self.instances.is_empty()
            && self.key_pairs.is_empty()
            && self.images.is_empty()
            && self.absent.is_empty()
    }

    pub fn instance_mut(&mut self, sym: &str) -> Option<&mut InstanceFixture> {
        self.instances.iter_mut().find(|i| i.sym == sym)
    }

    /// A stable digest of the world, so cases that need the same world can be grouped.
    pub fn fingerprint(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InstanceFixture {
    pub sym: String,
    /// `linux` or `windows`.
    pub os: String,
    /// Provider spelling (`STOPPED`, `Stopped`).
    pub state: String,
    /// Symbols of the key pairs bound to it.
    #[serde(default)]
    pub keys: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyFixture {
    pub sym: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImageFixture {
    pub sym: String,
    #[serde(default)]
    pub keys: Vec<String>,
}

/// One request and what must come back.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Step {
    /// Action name, same service and version as the case's action.
    pub action: String,
    /// Business parameters (decoded), with placeholders.
    #[serde(default)]
    pub params: Map<String, Value>,
    #[serde(default)]
    pub wire: Wire,
    #[serde(default)]
    pub caller: Caller,
    pub expect: Expect,
}

/// How the request travels.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Wire {
    /// Provider request style id (`json-post`, `get`, `rpc-query`...); default: the provider's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub style: Option<String>,
    /// Signing method id; default: the style's first.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signing: Option<String>,
    /// Boolean spelling outside JSON (`true`, `True`, `TRUE`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub boolean: Option<BoolSpelling>,
    /// A deliberate protocol fault.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tamper: Option<Tamper>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BoolSpelling {
    #[serde(rename = "true")]
    pub truthy: String,
    #[serde(rename = "false")]
    pub falsy: String,
}

/// Protocol faults the runner applies around encoding and signing.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "fault", rename_all = "snake_case")]
pub enum Tamper {
    /// Flip one character of the signature after signing.
    BadSignature,
    /// Drop the signature (Authorization header or Signature parameter).
    IncompleteSignature,
    /// Sign with a clock this many seconds in the past.
    ExpiredTimestamp { seconds: i64 },
    /// Sign with an access key the target does not know.
    UnknownAccessKey,
    /// Send a session token the target did not issue.
    BadToken,
    /// Send no session token although the access key was issued with one.
    DropToken,
    /// Send this version instead of the spec's.
    Version { version: String },
    /// Send this action name instead.
    Action { action: String },
    /// Send no action at all.
    MissingAction,
    /// Leave this common parameter out (its header, or the parameter under v1/RPC signing),
    /// signed again over what remains where the scheme signs it.
    OmitCommon {
        name: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        header: Option<String>,
    },
    /// Send this region (or none).
    Region { region: Option<String> },
    /// Send this HTTP method.
    Method { method: String },
    /// Send this content type.
    ContentType { content_type: String },
    /// Replace the body with these bytes (UTF-8) before signing.
    Body { body: String },
    /// Add an unknown parameter this many bytes long (oversize requests).
    Pad { bytes: usize },
    /// Replace the signed timestamp with text that is no timestamp.
    MalformedTimestamp,
    /// Name a signature algorithm the provider does not support.
    SignatureMethod { method: String },
    /// Add a signed parameter (a common one with a bad value: `Format=YAML`).
    ExtraParam { name: String, value: String },
    /// Send the same signed request twice; the second answer is checked.
    Replay,
    /// Send this many requests at once with rate limits on (emulator only); the last is checked.
    Burst { requests: usize },
}

/// What a step must get back.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum Expect {
    /// A success envelope; then the declared effects hold.
    Success {
        /// Effect ids (of the step's action) that must be observable afterwards.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        effects: Vec<String>,
        /// Per-item batch results, when the action reports them.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        batch: Option<BatchExpect>,
        /// Outputs to remember under a symbol for later steps (`{"k9": "/KeyPair/KeyId"}`).
        #[serde(default, skip_serializing_if = "Map::is_empty")]
        capture: Map<String, Value>,
        /// What the success rests on: `inferred` where no source says the call succeeds
        /// (repeated ids), so another answer is a divergence, not a failure.
        #[serde(default, skip_serializing_if = "is_documented")]
        evidence: crate::spec::Evidence,
        /// The source of that reading, when it is not the action's own page.
        #[serde(default, skip_serializing_if = "String::is_empty")]
        source: String,
        /// Error answers the docs allow instead of the success (a spec discrepancy names them
        /// and their sources); when one of them comes back, the effects are not checked.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        or_error: Vec<ExpectedError>,
    },
    /// An error envelope with one of these codes, each with its HTTP status.
    Error {
        one_of: Vec<ExpectedError>,
        /// The spec rule that demands the error (`file#pointer`).
        #[serde(default, skip_serializing_if = "String::is_empty")]
        rule: String,
    },
    /// Some error envelope: the spec demands a rejection but documents no code.
    Rejected {
        #[serde(default, skip_serializing_if = "String::is_empty")]
        rule: String,
    },
    /// Anything well-formed (fixture steps of scenarios).
    Any,
}

impl Expect {
    pub fn success() -> Expect {
        Expect::Success {
            effects: Vec::new(),
            batch: None,
            capture: Map::new(),
            evidence: Default::default(),
            source: String::new(),
            or_error: Vec::new(),
        }
    }

    pub fn codes(&self) -> impl Iterator<Item = &str> {
        let v: &[ExpectedError] = match self {
            Expect::Error { one_of, .. } => one_of,
            Expect::Success { or_error, .. } => or_error,
            _ => &[],
        };
        v.iter().map(|e| e.code.as_str())
    }

    pub fn is_success(&self) -> bool {
        matches!(self, Expect::Success { .. })
    }

    /// As [`Expect::summary`], each error alternative with its evidence and source:
    /// `error InvalidX (400; documented, seed:...) | InvalidY (400; inferred, protocol:...)`.
    pub fn summary_with_evidence(&self) -> String {
        let alternatives = |one_of: &[ExpectedError]| -> String {
            one_of
                .iter()
                .map(|e| {
                    let mut s = format!("{} ({}; {}", e.code, e.http_status, e.evidence.as_str());
                    if !e.source.is_empty() {
                        s.push_str(&format!(", {}", e.source));
                    }
                    s.push(')');
                    s
                })
                .collect::<Vec<_>>()
                .join(" | ")
        };
        match self {
            Expect::Error { one_of, .. } => format!("error {}", alternatives(one_of)),
            Expect::Success {
                evidence,
                source,
                or_error,
                ..
            } => {
                let mut s = self.summary_success();
                s.push_str(&format!(" ({}", evidence.as_str()));
                if !source.is_empty() {
                    s.push_str(&format!(", {source}"));
                }
                s.push(')');
                if !or_error.is_empty() {
                    s.push_str(&format!(" | error {}", alternatives(or_error)));
                }
                s
            }
            other => other.summary(),
        }
    }

    /// `success (batch …) + effects …`, without the alternatives.
    fn summary_success(&self) -> String {
        let Expect::Success { effects, batch, .. } = self else {
            return String::new();
        };
        let mut s = "success".to_string();
        if let Some(b) = batch {
            s.push_str(&format!(
                " (batch {} item(s), {} failed",
                b.total,
                b.failed.len()
            ));
            if !b.open.is_empty() {
                s.push_str(&format!(", {} open", b.open.len()));
            }
            s.push(')');
        }
        if !effects.is_empty() {
            s.push_str(&format!(" + effects {}", effects.join(", ")));
        }
        s
    }

    /// One line: `success`, `error InvalidX (400) | InvalidY (400)`.
    pub fn summary(&self) -> String {
        match self {
            Expect::Success { or_error, .. } => {
                let mut s = self.summary_success();
                for e in or_error {
                    s.push_str(&format!(" | error {} ({})", e.code, e.http_status));
                }
                s
            }
            Expect::Error { one_of, .. } => {
                let alts: Vec<String> = one_of
                    .iter()
                    .map(|e| format!("{} ({})", e.code, e.http_status))
                    .collect();
                format!("error {}", alts.join(" | "))
            }
            Expect::Rejected { .. } => "rejected (no documented code)".into(),
            Expect::Any => "any well-formed answer".into(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExpectedError {
    pub code: String,
    pub http_status: u16,
    /// What this answer rests on (`documented`, `catalogued`, `inferred`).
    #[serde(default, skip_serializing_if = "is_documented")]
    pub evidence: crate::spec::Evidence,
    /// The source that lists the code for this condition.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub source: String,
}

fn is_documented(e: &crate::spec::Evidence) -> bool {
    *e == crate::spec::Evidence::Documented
}

/// Expected per-item results of a batch call.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BatchExpect {
    pub total: usize,
    /// Items (placeholders or literals) that fail, with their item code.
    #[serde(default)]
    pub failed: Vec<FailedItem>,
    /// Items whose outcome the docs leave open (a spec discrepancy says which and why): a
    /// success or a failure with any code both pass.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub open: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FailedItem {
    pub item: String,
    pub code: String,
}

mod action_key_str {
    use crate::spec::ActionKey;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(key: &ActionKey, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&key.to_string())
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<ActionKey, D::Error> {
        let s = String::deserialize(d)?;
        ActionKey::parse(&s).ok_or_else(|| {
            serde::de::Error::custom(format!("`{s}` is not provider/service/version/Action"))
        })
    }
}
