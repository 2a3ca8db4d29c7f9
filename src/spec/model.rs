//! The spec model: Rust mirror of `specs/spec.schema.json`.
//!
//! Files are validated against the meta-schema before they are deserialized here, so these
//! types stay permissive (no `deny_unknown_fields`) and the meta-schema is the one place that
//! says what a well-formed spec is.
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::BTreeMap;
use std::fmt;

pub use crate::provider::Provider;

/// `provider/service/version/Action`, the stable address of an action spec.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct ActionKey {
    pub provider: Provider,
    pub service: String,
    pub version: String,
    pub action: String,
}

impl ActionKey {
    pub fn new(provider: Provider, service: &str, version: &str, action: &str) -> Self {
        ActionKey {
            provider,
            service: service.to_string(),
            version: version.to_string(),
            action: action.to_string(),
        }
    }

    /// Parse `provider/service/version/Action`.
    pub fn parse(s: &str) -> Option<ActionKey> {
        let mut parts = s.trim_matches('/').split('/');
        let provider = Provider::parse(parts.next()?)?;
        let service = parts.next()?;
        let version = parts.next()?;
        let action = parts.next()?;
        if parts.next().is_some() {
            return None;
        }
        Some(ActionKey::new(provider, service, version, action))
    }
}

impl fmt::Display for ActionKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}/{}/{}/{}",
            self.provider, self.service, self.version, self.action
        )
    }
}

// ---------------------------------------------------------------- provider

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ProviderSpec {
    pub provider: Provider,
    pub name: String,
    pub sources: Vec<String>,
    pub signing: Vec<SigningMethod>,
    pub request_styles: Vec<RequestStyle>,
    pub common_parameters: Vec<CommonParameter>,
    pub envelopes: Envelopes,
    pub http_status: HttpStatusRule,
    pub response_content_type: ContentTypeRule,
    pub request_id: RequestIdRule,
    pub skew_seconds: SkewRule,
    #[serde(default)]
    pub nonce_replay: Option<NonceRule>,
    pub size_limits: Vec<SizeLimit>,
    pub boolean_spellings: BooleanSpellings,
    pub formats: BTreeMap<String, Format>,
    pub resources: BTreeMap<String, Resource>,
    pub errors: Vec<ErrorCode>,
    #[serde(default)]
    pub discrepancies: Vec<Discrepancy>,
    #[serde(default, rename = "$defs")]
    pub defs: BTreeMap<String, Value>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SigningMethod {
    pub id: String,
    pub name: String,
    pub carrier: String,
    pub hash: String,
    #[serde(default)]
    pub encoding: Option<String>,
    #[serde(default)]
    pub signed_headers_min: Vec<String>,
    #[serde(default)]
    pub token: Option<String>,
    pub default: bool,
    #[serde(default)]
    pub legacy: bool,
    pub source: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ParametersIn {
    JsonBody,
    Query,
    FormBody,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ArrayEncoding {
    Json,
    #[serde(rename = "flat-0")]
    Flat0,
    PerParameter,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RequestStyle {
    pub id: String,
    pub method: String,
    #[serde(default)]
    pub other_methods: Vec<String>,
    #[serde(default)]
    pub content_type: Option<String>,
    pub parameters_in: ParametersIn,
    #[serde(default)]
    pub common_parameters_in: Option<String>,
    pub array_encoding: ArrayEncoding,
    pub signing: Vec<String>,
    #[serde(default)]
    pub default: bool,
    pub source: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CommonParameter {
    pub name: String,
    #[serde(default)]
    pub header: Option<String>,
    pub required: Value,
    /// Carries the access key or the signature (`Authorization`, `SecretId`, `Signature`...).
    #[serde(default)]
    pub credential: bool,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub values: Vec<String>,
    pub source: String,
}

/// How a common parameter is required (`required` in provider.json).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CommonRequirement {
    Always,
    Optional,
    PerAction,
    /// Required by the signing methods that carry it (a header or a parameter).
    PerSigning,
}

impl CommonParameter {
    pub fn requirement(&self) -> CommonRequirement {
        match &self.required {
            Value::Bool(true) => CommonRequirement::Always,
            Value::String(s) if s == "per-action" => CommonRequirement::PerAction,
            Value::String(s) if s == "per-signing" => CommonRequirement::PerSigning,
            _ => CommonRequirement::Optional,
        }
    }

    /// Sent as a query/form parameter by the parameter-carried signing methods (Tencent v1,
    /// Alibaba RPC): every common parameter but the header-only ones (named as their header).
    pub fn as_parameter(&self) -> bool {
        self.header.as_deref() != Some(self.name.as_str())
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Envelopes {
    pub success: Value,
    pub error: Value,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorStatusRule {
    /// Every error travels with HTTP 200 (Tencent).
    #[serde(rename = "always_200")]
    Always200,
    /// Each code has its own 4xx/5xx status (Alibaba).
    PerCode,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct HttpStatusRule {
    pub success: u16,
    pub errors: ErrorStatusRule,
    pub source: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ContentTypeRule {
    pub value: String,
    pub exact: bool,
    pub source: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RequestIdRule {
    pub pattern: String,
    pub example: String,
    pub source: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SkewRule {
    pub default: i64,
    #[serde(default)]
    pub alternatives: Vec<i64>,
    pub source: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct NonceRule {
    pub rejected: bool,
    pub source: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SizeLimit {
    pub request_style: String,
    pub max_bytes: u64,
    pub source: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct BooleanSpellings {
    #[serde(rename = "true")]
    pub truthy: Vec<String>,
    #[serde(rename = "false")]
    pub falsy: Vec<String>,
    pub source: String,
}

impl BooleanSpellings {
    /// Parse a boolean sent as text; `None` when the spelling is not documented.
    pub fn parse(&self, s: &str) -> Option<bool> {
        if self.truthy.iter().any(|t| t == s) {
            Some(true)
        } else if self.falsy.iter().any(|f| f == s) {
            Some(false)
        } else {
            None
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Format {
    pub pattern: String,
    #[serde(default)]
    pub description: Option<String>,
    pub examples: Vec<String>,
    #[serde(default)]
    pub prefix: Option<String>,
    #[serde(default)]
    pub body_length: Option<usize>,
    #[serde(default)]
    pub body_alphabet: Option<String>,
    pub source: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Resource {
    pub description: String,
    #[serde(default)]
    pub states: Vec<String>,
    #[serde(default)]
    pub os: Vec<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Discrepancy {
    pub id: String,
    pub summary: String,
    pub sources: Vec<String>,
    pub truth: String,
    pub why: String,
    #[serde(default)]
    pub configurable: Option<String>,
    /// The protocol condition whose answer the docs leave open, when the discrepancy is about
    /// one; `alternatives` then lists every code the docs allow for it.
    #[serde(default)]
    pub condition: Option<ProtocolCondition>,
    #[serde(default)]
    pub alternatives: Vec<Alternative>,
}

/// One answer the docs allow for a discrepancy's condition. Lint checks that the code is
/// listed with a trigger on that condition and the same evidence, so every alternative is an
/// answer the harness accepts.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Alternative {
    pub code: String,
    pub evidence: Evidence,
    pub sources: Vec<String>,
    /// Why the docs allow this answer.
    pub reading: String,
}

// ---------------------------------------------------------------- errors

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ErrorCode {
    pub code: String,
    pub http_status: u16,
    #[serde(default)]
    pub http_status_seen: BTreeMap<String, Vec<String>>,
    #[serde(default)]
    pub message: Option<String>,
    pub description: String,
    pub listed_by: Vec<String>,
    #[serde(default)]
    pub triggers: Vec<Trigger>,
    #[serde(default = "default_true")]
    pub provokable: bool,
    #[serde(default)]
    pub reason: Option<String>,
}

fn default_true() -> bool {
    true
}

impl Trigger {
    /// The evidence this trigger states, if any.
    pub fn evidence(&self) -> Option<Evidence> {
        match self {
            Trigger::Parameter { evidence, .. }
            | Trigger::OneOf { evidence, .. }
            | Trigger::Precondition { evidence, .. }
            | Trigger::Protocol { evidence, .. } => *evidence,
        }
    }
}

impl ErrorCode {
    /// What the mapping of `trigger` to this code rests on: the trigger's own `evidence`, else
    /// the strongest source listing the code, with that source.
    pub fn evidence_for(&self, trigger: Option<&Trigger>) -> (Evidence, String) {
        let best = self
            .listed_by
            .iter()
            .max_by_key(|s| Evidence::of_source(s))
            .cloned()
            .unwrap_or_default();
        let listed = Evidence::of_source(&best);
        match trigger.and_then(Trigger::evidence) {
            Some(e) => (e.min(listed), best),
            None => (listed, best),
        }
    }

    /// The message to send: the documented one, else the description.
    pub fn message_text(&self) -> &str {
        self.message.as_deref().unwrap_or(&self.description)
    }
}

/// What an expectation rests on, strongest first.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum Evidence {
    /// The harness's own reading where no source says it: a departure is a divergence.
    Inferred,
    /// The SDK's error list or the provider's common-error page.
    Catalogued,
    /// A seed page or the provider's own page for the action.
    #[default]
    Documented,
}

impl Evidence {
    pub fn as_str(self) -> &'static str {
        match self {
            Evidence::Documented => "documented",
            Evidence::Catalogued => "catalogued",
            Evidence::Inferred => "inferred",
        }
    }

    /// The evidence of a source reference: seed pages and provider URLs document, protocol
    /// notes, SDK metadata and captures catalogue.
    pub fn of_source(source: &str) -> Evidence {
        if source.starts_with("seed:") || source.starts_with("http") {
            Evidence::Documented
        } else {
            Evidence::Catalogued
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "on", rename_all = "snake_case")]
pub enum Trigger {
    Parameter {
        parameter: String,
        violation: Violation,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        note: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        evidence: Option<Evidence>,
    },
    OneOf {
        group: String,
        violation: OneOfViolation,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        note: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        evidence: Option<Evidence>,
    },
    Precondition {
        precondition: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        note: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        evidence: Option<Evidence>,
    },
    Protocol {
        condition: ProtocolCondition,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        note: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        evidence: Option<Evidence>,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Violation {
    Missing,
    Type,
    Format,
    TooMany,
    TooFew,
    Duplicate,
    Enum,
    TooLong,
    TooShort,
    MalformedJson,
    Empty,
    OutOfRange,
}

impl Violation {
    pub fn as_str(self) -> &'static str {
        match self {
            Violation::Missing => "missing",
            Violation::Type => "type",
            Violation::Format => "format",
            Violation::TooMany => "too_many",
            Violation::TooFew => "too_few",
            Violation::Duplicate => "duplicate",
            Violation::Enum => "enum",
            Violation::TooLong => "too_long",
            Violation::TooShort => "too_short",
            Violation::MalformedJson => "malformed_json",
            Violation::Empty => "empty",
            Violation::OutOfRange => "out_of_range",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OneOfViolation {
    None,
    Several,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ProtocolCondition {
    UnknownParameter,
    BadSignature,
    IncompleteSignature,
    UnknownAccessKey,
    ExpiredTimestamp,
    MalformedTimestamp,
    ReplayedNonce,
    /// The access key was issued with a session token (temporary credentials) and the request
    /// carries none.
    MissingToken,
    /// The request carries a session token that does not belong to its access key (another
    /// key's token, or any token with a permanent key).
    TokenMismatch,
    UnknownAction,
    UnsupportedVersion,
    MissingAction,
    MissingRegion,
    UnknownRegion,
    UnsupportedMethod,
    UnsupportedContentType,
    RequestTooLarge,
    Throttled,
    MalformedBody,
    PermissionDenied,
    UnsupportedSignatureMethod,
    UnsupportedFormat,
}

impl ProtocolCondition {
    pub fn as_str(self) -> &'static str {
        match self {
            ProtocolCondition::UnknownParameter => "unknown_parameter",
            ProtocolCondition::BadSignature => "bad_signature",
            ProtocolCondition::IncompleteSignature => "incomplete_signature",
            ProtocolCondition::UnknownAccessKey => "unknown_access_key",
            ProtocolCondition::ExpiredTimestamp => "expired_timestamp",
            ProtocolCondition::MalformedTimestamp => "malformed_timestamp",
            ProtocolCondition::ReplayedNonce => "replayed_nonce",
            ProtocolCondition::MissingToken => "missing_token",
            ProtocolCondition::TokenMismatch => "token_mismatch",
            ProtocolCondition::UnknownAction => "unknown_action",
            ProtocolCondition::UnsupportedVersion => "unsupported_version",
            ProtocolCondition::MissingAction => "missing_action",
            ProtocolCondition::MissingRegion => "missing_region",
            ProtocolCondition::UnknownRegion => "unknown_region",
            ProtocolCondition::UnsupportedMethod => "unsupported_method",
            ProtocolCondition::UnsupportedContentType => "unsupported_content_type",
            ProtocolCondition::RequestTooLarge => "request_too_large",
            ProtocolCondition::Throttled => "throttled",
            ProtocolCondition::MalformedBody => "malformed_body",
            ProtocolCondition::PermissionDenied => "permission_denied",
            ProtocolCondition::UnsupportedSignatureMethod => "unsupported_signature_method",
            ProtocolCondition::UnsupportedFormat => "unsupported_format",
        }
    }
}

// ---------------------------------------------------------------- actions

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Seed,
    Fixture,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ActionSpec {
    pub role: Role,
    pub provider: Provider,
    pub service: String,
    pub version: String,
    pub action: String,
    pub summary: String,
    pub source: ActionSource,
    pub endpoints: Vec<String>,
    pub methods: Vec<String>,
    #[serde(default)]
    pub request_styles: Vec<String>,
    pub region: RegionRule,
    #[serde(default)]
    pub rate_limit: Option<RateLimit>,
    pub parameters: Vec<Parameter>,
    #[serde(default)]
    pub one_of: Vec<OneOfGroup>,
    #[serde(default)]
    pub preconditions: Vec<Precondition>,
    #[serde(default)]
    pub effects: Vec<Effect>,
    #[serde(default)]
    pub error_precedence: Vec<String>,
    pub errors: Vec<ErrorCode>,
    pub response: ResponseSpec,
    #[serde(default)]
    pub fixture: Option<FixtureUse>,
    #[serde(default)]
    pub examples: Vec<Example>,
    #[serde(default)]
    pub discrepancies: Vec<Discrepancy>,
    /// Parameters the service accepts that its page does not list (ECS's owner parameters in
    /// the SDK models): recorded, never sent by the harness, ignored by the emulator.
    #[serde(default)]
    pub hidden_parameters: Vec<HiddenParameter>,
    /// How a describe action pages its results (fixture actions that list resources).
    #[serde(default)]
    pub paging: Option<Paging>,
}

/// A parameter the service accepts although the action's page does not list it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct HiddenParameter {
    pub name: String,
    #[serde(rename = "type")]
    pub ty: ParamType,
    pub description: String,
    pub source: String,
}

/// How a describe action pages: the page parameter (an offset of items or a 1-based page
/// number), the page-size parameter (its documented `maximum`, else its `default`, is the
/// page size asked for), where the page's items are, and where the total count is.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Paging {
    pub index: String,
    pub index_kind: PageIndex,
    pub size: String,
    /// JSON pointer to the array of this page's items.
    pub items: String,
    /// JSON pointer to the total number of items, when the response carries it.
    #[serde(default)]
    pub total: Option<String>,
    pub source: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PageIndex {
    /// Items skipped, from 0 (Tencent `Offset`).
    Offset,
    /// Page number, from 1 (Alibaba `PageNumber`).
    PageNumber,
}

impl Paging {
    /// The page size to ask for: the size parameter's documented maximum, else its default,
    /// else 10.
    pub fn page_size(&self, action: &ActionSpec) -> i64 {
        action
            .parameter(&self.size)
            .and_then(|p| {
                p.maximum
                    .or_else(|| p.default.as_ref().and_then(serde_json::Value::as_i64))
            })
            .unwrap_or(10)
            .max(1)
    }

    /// The value of the page parameter for page `n` (0-based) of `size` items.
    pub fn index_value(&self, n: i64, size: i64) -> i64 {
        match self.index_kind {
            PageIndex::Offset => n * size,
            PageIndex::PageNumber => n + 1,
        }
    }

    /// The paging parameters of page `n` (0-based).
    pub fn params(&self, action: &ActionSpec, n: i64) -> [(String, serde_json::Value); 2] {
        let size = self.page_size(action);
        [
            (
                self.index.clone(),
                serde_json::Value::from(self.index_value(n, size)),
            ),
            (self.size.clone(), serde_json::Value::from(size)),
        ]
    }

    /// Whether page `n` (0-based) of this answer is the last: fewer items than a full page,
    /// or the total count reached.
    pub fn is_last(&self, action: &ActionSpec, body: &serde_json::Value, n: i64) -> bool {
        let size = self.page_size(action);
        let items = body
            .pointer(&self.items)
            .and_then(serde_json::Value::as_array)
            .map_or(0, |a| a.len() as i64);
        if items < size {
            return true;
        }
        let total = self
            .total
            .as_ref()
            .and_then(|t| body.pointer(t))
            .and_then(|v| {
                v.as_i64()
                    .or_else(|| v.as_str().and_then(|s| s.parse().ok()))
            });
        total.is_some_and(|t| (n + 1) * size >= t)
    }
}

/// At most this many pages are read from one describe call: far more than any account holds
/// at the largest page size, and a bound against a target that pages forever.
pub const MAX_PAGES: i64 = 200;

impl ActionSpec {
    /// How many resources of this kind one call may name: the documented `max_items` of the
    /// parameter that references them (1 when the spec gives none). Teardown, cleanup and the
    /// dry-run plan all batch within it.
    pub fn batch_limit(&self, resource: &str) -> usize {
        self.parameters
            .iter()
            .find(|p| {
                p.references
                    .as_ref()
                    .is_some_and(|r| r.resource == resource)
            })
            .and_then(|p| p.max_items)
            .unwrap_or(1)
            .max(1)
    }

    pub fn key(&self) -> ActionKey {
        ActionKey::new(self.provider, &self.service, &self.version, &self.action)
    }

    pub fn parameter(&self, name: &str) -> Option<&Parameter> {
        self.parameters.iter().find(|p| p.name == name)
    }

    pub fn precondition(&self, id: &str) -> Option<&Precondition> {
        self.preconditions.iter().find(|p| p.id == id)
    }

    pub fn error(&self, code: &str) -> Option<&ErrorCode> {
        self.errors.iter().find(|e| e.code == code)
    }

    /// The documented code a received `code` is: an exact entry, else a `%s` template it fills
    /// (`InvalidParameter.%s` for `InvalidParameter.InstanceIds`).
    pub fn error_matching(&self, code: &str) -> Option<&ErrorCode> {
        self.error(code)
            .or_else(|| self.errors.iter().find(|e| code_matches(&e.code, code)))
    }

    /// Every error code of this action whose triggers include `trigger` (ignoring notes).
    pub fn errors_for<'a>(
        &'a self,
        matches: impl Fn(&Trigger) -> bool + 'a,
    ) -> impl Iterator<Item = &'a ErrorCode> + 'a {
        self.errors
            .iter()
            .filter(move |e| e.triggers.iter().any(&matches))
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ActionSource {
    #[serde(default)]
    pub seed: Option<String>,
    pub url: String,
    #[serde(default)]
    pub also: Vec<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RegionRule {
    pub required: bool,
    #[serde(default)]
    pub parameter: Option<String>,
    #[serde(default)]
    pub tolerated: bool,
    pub source: String,
    /// Sources that say the region is NOT required although `required` is true (disputed
    /// pages): a call without it may then be processed as usual.
    #[serde(default)]
    pub optional_by: Vec<String>,
    /// The regions a page restricts the action to (possibly a cut-off list).
    #[serde(default)]
    pub listed_regions: Option<ListedRegions>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ListedRegions {
    pub regions: Vec<String>,
    /// Whether the list is known to be whole (false: the available copy is cut off).
    pub complete: bool,
    pub source: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RateLimit {
    pub per_second: u32,
    pub source: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ParamType {
    String,
    Integer,
    Boolean,
    Array,
    /// Structured items (Tencent `Filters`, Alibaba `Tag`); only as array items.
    Object,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ParamEncoding {
    /// Tencent: a JSON array in a JSON body, `Name.N` (0-based) in a query or form body.
    Native,
    /// One parameter whose value is JSON array text (ECS/ENS `InstanceIds`).
    JsonString,
    /// Alibaba `Name.1`, `Name.2`, ...
    RepeatList,
    /// `a,b,c`.
    CommaJoined,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ItemSpec {
    #[serde(rename = "type")]
    pub ty: ParamType,
    #[serde(default)]
    pub format: Option<String>,
    #[serde(default)]
    pub min_length: Option<usize>,
    #[serde(default)]
    pub max_length: Option<usize>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Reference {
    pub resource: String,
    pub by: RefBy,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RefBy {
    Id,
    Name,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Parameter {
    pub name: String,
    #[serde(rename = "type")]
    pub ty: ParamType,
    #[serde(default)]
    pub items: Option<ItemSpec>,
    #[serde(default)]
    pub encoding: Option<ParamEncoding>,
    #[serde(default)]
    pub location: Option<String>,
    pub required: bool,
    #[serde(default)]
    pub min_items: Option<usize>,
    #[serde(default)]
    pub max_items: Option<usize>,
    #[serde(default)]
    pub unique_items: bool,
    #[serde(default)]
    pub format: Option<String>,
    #[serde(default)]
    pub min_length: Option<usize>,
    #[serde(default)]
    pub max_length: Option<usize>,
    #[serde(default, rename = "enum")]
    pub allowed: Vec<Value>,
    #[serde(default)]
    pub minimum: Option<i64>,
    #[serde(default)]
    pub maximum: Option<i64>,
    #[serde(default)]
    pub default: Option<Value>,
    #[serde(default)]
    pub deprecated: Option<String>,
    #[serde(default)]
    pub references: Option<Reference>,
    pub description: String,
    #[serde(default)]
    pub example: Option<Value>,
    pub source: String,
}

impl Parameter {
    /// The format that constrains the value (strings) or each item (arrays).
    pub fn value_format(&self) -> Option<&str> {
        match self.ty {
            ParamType::Array => self.items.as_ref().and_then(|i| i.format.as_deref()),
            _ => self.format.as_deref(),
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct OneOfGroup {
    pub id: String,
    pub parameters: Vec<String>,
    pub at_least: usize,
    #[serde(default)]
    pub at_most: Option<usize>,
    #[serde(default)]
    pub prefer: Option<String>,
    pub source: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Subject {
    Parameter { parameter: String },
    Caller { caller: bool },
}

impl Subject {
    pub fn parameter(&self) -> Option<&str> {
        match self {
            Subject::Parameter { parameter } => Some(parameter),
            Subject::Caller { .. } => None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Requirement {
    Exists(bool),
    StateIn(Vec<String>),
    OsIn(Vec<String>),
    BoundTo {
        parameter: String,
    },
    NotInUse(Vec<String>),
    Allowed(bool),
    /// No other resource of the kind has the same value (duplicate key names).
    Unique(bool),
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Condition {
    pub parameter: String,
    pub equals: Value,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Scope {
    Request,
    PerItem,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ItemFailure {
    pub code: String,
    pub message: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Precondition {
    pub id: String,
    pub subject: Subject,
    pub require: Requirement,
    #[serde(default)]
    pub unless: Option<Condition>,
    pub scope: Scope,
    #[serde(default)]
    pub item_failure: Option<ItemFailure>,
    /// A batch that mixes items meeting this precondition with items violating it: the docs
    /// leave open whether the whole call fails (the trigger's codes) or the others succeed;
    /// the named discrepancy says why. Generates a `mixed` case accepting both.
    #[serde(default)]
    pub mixed_batch: Option<MixedBatch>,
    pub description: String,
    pub source: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct MixedBatch {
    /// The id of the action's discrepancy entry that records the alternatives.
    pub discrepancy: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EffectOp {
    Unbind,
    Bind,
    Delete,
    Create,
    SetState,
    RestoreState,
}

/// How a bind treats the keys an instance already holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Binding {
    /// The new keys join the ones already bound.
    Add,
    /// The new keys replace every key bound before (an instance holding one key, or docs that
    /// say the old keys stop working).
    Replace,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Observe {
    Action { action: String, select: String },
    Unobservable { unobservable: String },
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Effect {
    pub id: String,
    pub op: EffectOp,
    #[serde(default)]
    pub keys: Option<Subject>,
    #[serde(default)]
    pub instances: Option<Subject>,
    /// For `bind`: add to or replace the keys already bound (the schema requires it there).
    #[serde(default)]
    pub binding: Option<Binding>,
    #[serde(default)]
    pub resource: Option<String>,
    #[serde(default)]
    pub target: Option<Subject>,
    #[serde(default)]
    pub state: Option<String>,
    #[serde(default)]
    pub when: Option<Condition>,
    #[serde(default)]
    pub observe: Option<Observe>,
    /// What the observation rests on: `inferred` when no page says the change is visible
    /// through the describe call at once (ECS: restart "for the changes to take effect"), so a
    /// change not yet shown is a divergence. Default: documented.
    #[serde(default)]
    pub evidence: Option<Evidence>,
    pub description: String,
    pub source: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ResponseSpec {
    pub schema: Value,
    #[serde(default)]
    pub batch: Option<BatchResults>,
    #[serde(default)]
    pub outputs: BTreeMap<String, String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ValueTypes {
    /// Counts, `Code` and `Success` are JSON strings (ECS).
    Strings,
    /// Integers and booleans (ENS).
    Native,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct BatchCounts {
    pub total: String,
    pub failed: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct BatchResults {
    pub items: String,
    pub item_key: String,
    #[serde(default)]
    pub over: Option<String>,
    pub counts: BatchCounts,
    pub success_code: Value,
    pub success_message: String,
    pub value_types: ValueTypes,
    pub source: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct FixtureUse {
    pub purpose: String,
    pub resource: String,
    #[serde(default)]
    pub destructive: bool,
    #[serde(default)]
    pub note: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Example {
    pub title: String,
    #[serde(default)]
    pub method: Option<String>,
    #[serde(default)]
    pub request: Option<serde_json::Map<String, Value>>,
    #[serde(default)]
    pub raw: Option<String>,
    #[serde(default)]
    pub response: Option<Value>,
    #[serde(default = "default_true")]
    pub valid: bool,
    pub source: String,
}

/// Whether a received error code is the documented one: equal, or, when the documented code is a
/// template, the same text with every `%s` slot filled by at least one character
/// (`Missing%s` matches `MissingSecurityToken`, not `Missing`). The one matcher the spec, the
/// checker and the emulator share.
pub fn code_matches(documented: &str, got: &str) -> bool {
    let mut parts = documented.split("%s");
    let first = parts.next().unwrap_or_default();
    let Some(mut rest) = got.strip_prefix(first) else {
        return false;
    };
    let slots: Vec<&str> = parts.collect();
    if slots.is_empty() {
        return rest.is_empty();
    }
    for (n, literal) in slots.iter().enumerate() {
        let last = n + 1 == slots.len();
        // Each slot takes at least one character; the last literal must end the code.
        let found = if last {
            (rest.len() > literal.len() && rest.ends_with(literal))
                .then(|| rest.len() - literal.len())
        } else {
            rest.get(1..).and_then(|r| r.find(literal)).map(|i| i + 1)
        };
        match found {
            Some(at) => rest = &rest[at + literal.len()..],
            None => return false,
        }
    }
    true
}

#[cfg(test)]
mod code_template_tests {
    use super::code_matches;

    #[test]
    fn templates() {
        assert!(code_matches("MissingParameter", "MissingParameter"));
        assert!(!code_matches("MissingParameter", "MissingParameterX"));
        assert!(code_matches("Missing%s", "MissingSecurityToken"));
        assert!(!code_matches("Missing%s", "Missing"));
        assert!(code_matches(
            "InvalidParameter.%s",
            "InvalidParameter.InstanceIds"
        ));
        assert!(!code_matches("InvalidParameter.%s", "InvalidParameter"));
        assert!(!code_matches("InvalidParameter.%s", "InvalidParameterX"));
        assert!(code_matches(
            "Invalid%s.Malformed",
            "InvalidKeyId.Malformed"
        ));
        assert!(!code_matches("Invalid%s.Malformed", "Invalid.Malformed"));
        assert!(code_matches("%s.%s", "A.B"));
        assert!(!code_matches("%s.%s", "A."));
        assert!(!code_matches("%s.%s", ".B"));
    }
}
