//! Deviations: every realistic way a service could depart from its specs, derived from the
//! specs alone (a new spec gets its deviations without new code). The emulator can serve any of
//! them (`cloudconform emulate --deviate ID`), and the self-test runs the suite against each to
//! measure what the suite notices.
//!
//! Depends on `spec` only; the emulator applies deviations, the self-test runs them.
use crate::spec::{ActionSpec, ErrorStatusRule, Provider, ProviderSpec, Role, SpecSet, Trigger};
use serde::Serialize;
use std::fmt;

mod derive;

/// The operator families, for grouping and per-family scores. Written everywhere (ids, text,
/// markdown, JSON) as [`Family::as_str`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Family {
    Limits,
    Formats,
    Codes,
    Shape,
    Envelope,
    Preconditions,
    Effects,
    Protocol,
    OneOf,
}

impl Family {
    pub const ALL: [Family; 9] = [
        Family::Limits,
        Family::Formats,
        Family::Codes,
        Family::Shape,
        Family::Envelope,
        Family::Preconditions,
        Family::Effects,
        Family::Protocol,
        Family::OneOf,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Family::Limits => "limit",
            Family::Formats => "format",
            Family::Codes => "code",
            Family::Shape => "shape",
            Family::Envelope => "envelope",
            Family::Preconditions => "precondition",
            Family::Effects => "effect",
            Family::Protocol => "protocol",
            Family::OneOf => "one-of",
        }
    }
}

impl Serialize for Family {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl fmt::Display for Family {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What a deviation changes. Request-side operators change validation; the rest rewrite the
/// answer the conforming emulator would have sent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum Op {
    /// A list of `max + 1` items is accepted (the extra items silently ignored).
    AcceptOverLimit { parameter: String, max: usize },
    /// A list of exactly `max` items is rejected as too many.
    RejectAtLimit { parameter: String, max: usize },
    /// A list of fewer than `min` items is accepted.
    AcceptUnderMinimum { parameter: String, min: usize },
    /// A malformed value (or item) of this parameter is accepted (its format is not checked).
    AcceptMalformed { parameter: String },
    /// A well-formed value of this parameter is refused as malformed.
    RejectWellFormed { parameter: String },
    /// This precondition is not checked.
    SkipPrecondition { precondition: String },
    /// This precondition is checked even when its `unless` condition holds.
    IgnoreUnless { precondition: String },
    /// This per-item precondition fails the whole request instead of the item.
    WholeRequest { precondition: String },
    /// This effect is not applied.
    EffectNotApplied { effect: String },
    /// This effect is applied to the first item of `parameter` only.
    EffectPartly { effect: String, parameter: String },
    /// This effect is applied to other resources of the kind than those `parameter` names.
    EffectWrongResource { effect: String, parameter: String },
    /// Timestamps outside the documented skew window are accepted.
    SkewUnchecked,
    /// A request without a region is answered although the action requires one.
    RegionOptional,
    /// A region is demanded although the action does not require one.
    RegionRequired,
    /// A request without this required common parameter is answered as if it were present
    /// (the action or version of this action, the server's clock, no nonce, the default
    /// signature method). `header` is how header-signed requests carry it.
    CommonOptional {
        parameter: String,
        header: Option<String>,
    },
    /// This optional common parameter is demanded: a request that can carry it but does not
    /// is refused with the provider's missing-parameter error.
    CommonRequired {
        parameter: String,
        header: Option<String>,
    },
    /// A one-of group accepts a request naming none of its parameters.
    OneOfNoneAccepted { group: String },
    /// A one-of group accepts a request naming more than `at_most` of its parameters.
    OneOfSeveralAccepted { group: String },
    /// A member of the success answer is sent under another name.
    RenameField { field: String, to: String },
    /// The batch total counts only the items that succeeded.
    TotalCountsSucceeded { pointer: String },
    /// The batch failure count is always zero.
    FailedCountZero { pointer: String },
    /// The per-item results leave out the items that failed.
    FailedItemsMissing { pointer: String },
    /// This documented error is answered with another code of the same action.
    SiblingCode { code: String, sibling: String },
    /// This documented error is answered with a wrong HTTP status.
    WrongStatus { code: String, status: u16 },
    /// Errors follow the other provider's status rule (Tencent 4xx, Alibaba 200).
    OtherStatusRule { status: u16 },
    /// A member of the success answer is left out.
    DropField { field: String },
    /// A member of the success answer has the wrong JSON type.
    WrongType { field: String },
    /// The RequestId is not in the documented format.
    RequestIdFormat,
    /// Alibaba errors without `HostId`.
    MissingHostId,
    /// The Content-Type is not the documented one.
    ContentType { value: String },
    /// Tencent answers without the `Response` wrapper.
    MissingWrapper,
    /// Any signature by a known key is accepted.
    SignatureUnchecked,
    /// A reused nonce is accepted.
    NonceReplayAllowed,
    /// The documented rate limit is not enforced.
    RateLimitUnenforced,
}

/// One deviation of one action.
#[derive(Debug, Clone, Serialize)]
pub struct Deviation {
    /// Stable: `provider/service/Action/family/subject/variant`.
    pub id: String,
    pub family: Family,
    pub provider: Provider,
    pub service: String,
    pub version: String,
    pub action: String,
    pub description: String,
    /// The spec rule it breaks: `file#/json/pointer` relative to the spec directory.
    pub rule: String,
    pub op: Op,
}

impl Deviation {
    /// Whether this deviation concerns `action`.
    pub fn applies_to(&self, action: &ActionSpec) -> bool {
        self.provider == action.provider
            && self.service == action.service
            && self.version == action.version
            && self.action == action.action
    }

    /// The prefix of the ids of the cases about this deviation's action.
    pub fn case_prefix(&self) -> String {
        format!("{}/{}/{}/", self.provider, self.service, self.action)
    }
}

/// Why a `--deviate` list could not be used.
#[derive(Debug, thiserror::Error)]
pub enum DeviateError {
    #[error("no deviation has the id `{0}` (see `cloudconform emulate --list-deviations`)")]
    Unknown(String),
}

/// Every deviation of every seed action (the actions the suite tests), in a stable order.
pub fn catalogue(specs: &SpecSet) -> Vec<Deviation> {
    let mut out = Vec::new();
    let mut actions: Vec<_> = specs.actions().filter(|a| a.role == Role::Seed).collect();
    actions.sort_by_key(|a| a.key().to_string());
    for action in actions {
        let Some(pspec) = specs.provider(action.provider) else {
            continue;
        };
        of_action(pspec, action, &mut out);
    }
    out
}

/// The deviations named by `ids` (comma lists allowed), or which id is unknown.
pub fn select(specs: &SpecSet, ids: &[String]) -> Result<Vec<Deviation>, DeviateError> {
    let all = catalogue(specs);
    let mut chosen = Vec::new();
    for id in ids.iter().flat_map(|s| s.split(',')).map(str::trim) {
        if id.is_empty() {
            continue;
        }
        match all.iter().find(|d| d.id == id) {
            Some(d) => chosen.push(d.clone()),
            None => return Err(DeviateError::Unknown(id.to_string())),
        }
    }
    Ok(chosen)
}

fn of_action(pspec: &ProviderSpec, a: &ActionSpec, out: &mut Vec<Deviation>) {
    let file = format!(
        "{}/{}/{}/{}.json",
        a.provider, a.service, a.version, a.action
    );
    let provider_file = format!("{}/provider.json", a.provider);
    let mut push = |family: Family, subject: String, op: Op, description: String, rule: String| {
        out.push(Deviation {
            id: format!(
                "{}/{}/{}/{}/{}",
                a.provider, a.service, a.action, family, subject
            ),
            family,
            provider: a.provider,
            service: a.service.clone(),
            version: a.version.clone(),
            action: a.action.clone(),
            description,
            rule,
            op,
        })
    };

    // Limits: each documented maximum, one past it and at it.
    for (i, p) in a.parameters.iter().enumerate() {
        let Some(max) = p.max_items else { continue };
        let rule = format!("{file}#/parameters/{i}/max_items");
        push(
            Family::Limits,
            format!("{}/accept-{}", p.name, max + 1),
            Op::AcceptOverLimit {
                parameter: p.name.clone(),
                max,
            },
            format!(
                "{} accepts {} items (documented maximum {max})",
                p.name,
                max + 1
            ),
            rule.clone(),
        );
        push(
            Family::Limits,
            format!("{}/reject-{max}", p.name),
            Op::RejectAtLimit {
                parameter: p.name.clone(),
                max,
            },
            format!("{} rejects {max} items as too many", p.name),
            rule,
        );
    }

    // Codes: each provokable documented error with a sibling code, a wrong status.
    let provokable: Vec<_> = a
        .errors
        .iter()
        .enumerate()
        .filter(|(_, e)| e.provokable && !e.code.contains('%'))
        // With several codes for one fault the first listed is the answer (the others are
        // accepted spellings a service may use instead): deviate from the answer.
        .filter(|(i, e)| {
            !a.errors[..*i]
                .iter()
                .any(|earlier| shares_fault(&earlier.triggers, &e.triggers))
        })
        .collect();
    for (i, e) in &provokable {
        let rule = format!("{file}#/errors/{i}/code");
        if let Some(sibling) = sibling_code(&e.code, a) {
            push(
                Family::Codes,
                format!("{}/sibling", e.code),
                Op::SiblingCode {
                    code: e.code.clone(),
                    sibling: sibling.clone(),
                },
                format!("{} is answered as {sibling}", e.code),
                rule.clone(),
            );
        }
        if pspec.http_status.errors == ErrorStatusRule::PerCode {
            let status = if e.http_status == 404 { 400 } else { 404 };
            push(
                Family::Codes,
                format!("{}/status-{status}", e.code),
                Op::WrongStatus {
                    code: e.code.clone(),
                    status,
                },
                format!(
                    "{} is sent with HTTP {status} (documented {})",
                    e.code, e.http_status
                ),
                format!("{file}#/errors/{i}/http_status"),
            );
        }
    }
    let (status, what) = match pspec.http_status.errors {
        ErrorStatusRule::Always200 => (400, "errors are sent with HTTP 400 (Alibaba's rule)"),
        ErrorStatusRule::PerCode => (200, "errors are sent with HTTP 200 (Tencent's rule)"),
    };
    push(
        Family::Codes,
        format!("status-rule/{status}"),
        Op::OtherStatusRule { status },
        what.to_string(),
        format!("{provider_file}#/http_status/errors"),
    );

    // Shape: each top-level member of the success answer dropped or mistyped.
    for (field, required) in response_members(pspec, a) {
        let rule = format!("{file}#/response/schema");
        // Leaving out an optional member is no departure.
        if required {
            push(
                Family::Shape,
                format!("{field}/dropped"),
                Op::DropField {
                    field: field.clone(),
                },
                format!("the success answer leaves out {field}"),
                rule.clone(),
            );
        }
        push(
            Family::Shape,
            format!("{field}/wrong-type"),
            Op::WrongType {
                field: field.clone(),
            },
            format!("{field} has the wrong JSON type"),
            rule,
        );
    }

    derive::state_and_shape(pspec, a, &file, &mut push);

    // Envelope.
    push(
        Family::Envelope,
        "request-id/format".into(),
        Op::RequestIdFormat,
        format!("RequestId is not of the form {}", pspec.request_id.example),
        format!("{provider_file}#/request_id/pattern"),
    );
    // An exact Content-Type gains a charset; one matched by media type gets another type.
    let ct = &pspec.response_content_type;
    let (subject, content_type) = if ct.exact {
        (
            "content-type/charset",
            format!("{}; charset=utf-8", ct.value),
        )
    } else {
        ("content-type/other", "text/html;charset=utf-8".to_string())
    };
    push(
        Family::Envelope,
        subject.into(),
        Op::ContentType {
            value: content_type.clone(),
        },
        format!(
            "Content-Type is `{content_type}` (documented `{}`)",
            ct.value
        ),
        format!("{provider_file}#/response_content_type"),
    );
    match a.provider {
        Provider::Tencent => push(
            Family::Envelope,
            "response-wrapper/missing".into(),
            Op::MissingWrapper,
            "answers lack the `Response` wrapper".into(),
            format!("{provider_file}#/envelopes/success"),
        ),
        Provider::Alibaba => push(
            Family::Envelope,
            "host-id/missing".into(),
            Op::MissingHostId,
            "errors lack `HostId`".into(),
            format!("{provider_file}#/envelopes/error"),
        ),
    }

    // Protocol.
    push(
        Family::Protocol,
        "signature/unchecked".into(),
        Op::SignatureUnchecked,
        "any signature by a known access key is accepted".into(),
        format!("{provider_file}#/signing"),
    );
    if pspec.nonce_replay.as_ref().is_some_and(|n| n.rejected) {
        push(
            Family::Protocol,
            "nonce/replay-allowed".into(),
            Op::NonceReplayAllowed,
            "a reused SignatureNonce is accepted".into(),
            format!("{provider_file}#/nonce_replay"),
        );
    }
    derive::protocol(pspec, a, &file, &provider_file, &mut push);
    derive::common(pspec, &provider_file, &mut push);
    if let Some(limit) = &a.rate_limit {
        push(
            Family::Protocol,
            "rate-limit/unenforced".into(),
            Op::RateLimitUnenforced,
            format!(
                "more than {} requests per second are answered",
                limit.per_second
            ),
            format!("{file}#/rate_limit"),
        );
    }
}

/// Another documented code of the action a confused implementation might send instead:
/// the same prefix with another suffix (`.NotFound` for `.Malformed`), else any other code —
/// never one documented for the same fault.
fn sibling_code(code: &str, a: &ActionSpec) -> Option<String> {
    let stem = code.split('.').next().unwrap_or(code);
    let triggers = a.error(code).map(|e| e.triggers.as_slice()).unwrap_or(&[]);
    // Codes documented for the same fault are alternative spellings, not a confusion.
    let others: Vec<&str> = a
        .errors
        .iter()
        .filter(|e| e.code != code && !e.code.contains('%'))
        .filter(|e| !shares_fault(&e.triggers, triggers))
        .map(|e| e.code.as_str())
        .collect();
    others
        .iter()
        .find(|c| c.split('.').next() == Some(stem))
        .or_else(|| others.first())
        .map(|c| c.to_string())
}

/// Whether two trigger lists name a common fault (notes aside).
fn shares_fault(a: &[Trigger], b: &[Trigger]) -> bool {
    let fault = |t: &Trigger| match t {
        Trigger::Parameter {
            parameter,
            violation,
            ..
        } => format!("p:{parameter}:{violation:?}"),
        Trigger::OneOf {
            group, violation, ..
        } => format!("o:{group}:{violation:?}"),
        Trigger::Precondition { precondition, .. } => format!("c:{precondition}"),
        Trigger::Protocol { condition, .. } => format!("x:{condition:?}"),
    };
    a.iter().any(|x| b.iter().any(|y| fault(x) == fault(y)))
}

/// The members of the action's success answer besides `RequestId` (inside Tencent's
/// `Response`), and whether the schema requires each.
fn response_members(pspec: &ProviderSpec, a: &ActionSpec) -> Vec<(String, bool)> {
    let schema = &a.response.schema;
    let object = match pspec.provider {
        Provider::Tencent => schema.pointer("/properties/Response"),
        Provider::Alibaba => Some(schema),
    };
    let Some(object) = object else {
        return Vec::new();
    };
    let required: Vec<&str> = object
        .get("required")
        .and_then(|r| r.as_array())
        .map(|r| r.iter().filter_map(|v| v.as_str()).collect())
        .unwrap_or_default();
    object
        .get("properties")
        .and_then(|p| p.as_object())
        .map(|m| {
            m.keys()
                .filter(|k| k.as_str() != "RequestId")
                .map(|k| (k.clone(), required.contains(&k.as_str())))
                .collect()
        })
        .unwrap_or_default()
}
