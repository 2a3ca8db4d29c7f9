//! One cloud request, start to finish: route, authenticate, throttle, validate, check
//! preconditions, apply effects, shape the answer — in the order the action's
//! `error_precedence` gives, every failure answered with the code the specs name.
use super::actions;
use super::auth::{self, AuthFailure};
use super::codes::Resolver;
use super::envelope::{self, ErrorReply, Origin};
use super::route::{self, RouteProblem, Routed};
use super::semantics::{self, Call};
use super::validate::{self, Context, Violation};
use super::world::{AccountRole, World};
use super::Shared;
use crate::http::{RawRequest, RawResponse};
use crate::spec::{ActionSpec, ProtocolCondition, ProviderSpec};
use serde_json::Value;
use std::collections::BTreeMap;
use std::sync::Arc;

/// Why the HTTP front could not read a whole request (docs/emulator.md "What the HTTP front
/// answers"); answered before routing, with the envelope of the provider recognised from
/// whatever arrived.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReadProblem {
    /// A body larger than any request style allows (declared or sent).
    TooLarge { limit: u64 },
    /// A request line, header block or target beyond the front's limits.
    HeadTooLarge { detail: String },
    /// Bytes that are not an HTTP/1.x request, or a body whose framing is broken (bad
    /// Content-Length or Transfer-Encoding, a truncated body, a malformed chunk).
    Malformed { detail: String },
    /// The client did not send its request within the request timeout.
    TooSlow { seconds: u64 },
}

/// Why a request failed (boxed: it travels up through every check).
struct Failure(Box<FailureData>);

struct FailureData {
    violation: Violation,
    /// Appended to the answer's message (what the verifier computed on a signature mismatch).
    appendix: String,
}

impl From<Violation> for Failure {
    fn from(violation: Violation) -> Self {
        Failure(Box::new(FailureData {
            violation,
            appendix: String::new(),
        }))
    }
}

fn protocol(condition: ProtocolCondition, detail: impl Into<String>) -> Failure {
    Violation::protocol(condition, detail).into()
}

impl From<AuthFailure> for Failure {
    fn from(f: AuthFailure) -> Self {
        Failure(Box::new(FailureData {
            violation: Violation {
                trigger: f.trigger,
                detail: f.detail,
            },
            appendix: f.appendix,
        }))
    }
}

/// Alibaba's `HostId` and `Recommend` product for answers about `action`.
fn origin(request: &RawRequest, action: Option<&ActionSpec>) -> Origin {
    let host_id = action
        .and_then(|a| a.endpoints.iter().find(|e| !e.contains('{')))
        .cloned()
        .or_else(|| request.host().map(str::to_string))
        .unwrap_or_default();
    let product = action
        .map(|a| {
            let mut c = a.service.chars();
            c.next()
                .map(|f| f.to_ascii_uppercase().to_string() + c.as_str())
                .unwrap_or_default()
        })
        .unwrap_or_default();
    Origin { host_id, product }
}

/// How a success answer's body is made.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Filler {
    /// Written straight from the action's compiled plan (the request path).
    Direct,
    /// Built as a `Value` tree and serialised: the reference the direct writer is tested
    /// against.
    Reference,
}

/// Answer one request. Never panics on any input; every failure is a provider envelope.
pub fn handle(
    shared: &Shared,
    request: RawRequest,
    body_problem: Option<ReadProblem>,
) -> RawResponse {
    handle_with(shared, request, body_problem, Filler::Direct)
}

/// [`handle`], the success body made by `filler`.
pub fn handle_with(
    shared: &Shared,
    request: RawRequest,
    body_problem: Option<ReadProblem>,
    filler: Filler,
) -> RawResponse {
    let specs = &shared.specs;
    let provider = route::detect_provider(&request, specs, shared.config.default_provider);
    let Some(pspec) = specs.provider(provider).cloned() else {
        return RawResponse {
            status: 500,
            headers: vec![("Content-Type".into(), "text/plain".into())],
            body: format!("no provider spec for {provider} is loaded").into_bytes(),
        };
    };
    let request_id = envelope::new_request_id(&pspec);
    let mut action_spec: Option<Arc<ActionSpec>> = None;
    let result = answer(
        shared,
        &pspec,
        &request,
        body_problem,
        &mut action_spec,
        (filler, &request_id),
    );
    let mut response = match result {
        Ok(body) => envelope::success_body(&pspec, body),
        Err(failure) => {
            let settings = shared.settings.read().clone();
            let resolver = Resolver {
                provider: &pspec,
                action: action_spec.as_deref(),
                preferred: &settings.preferred_codes,
            };
            let mut reply: ErrorReply = resolver.reply(&failure.0.violation);
            reply.message.push_str(&failure.0.appendix);
            envelope::error(
                &pspec,
                &origin(&request, action_spec.as_deref()),
                &reply,
                &request_id,
            )
        }
    };
    super::deviate::response(shared, action_spec.as_deref(), &mut response);
    response
}

/// The envelope for a request the emulator failed on (a bug: `handle` is built not to panic).
/// It reads nothing of the request but its Host, so it cannot fail the same way again.
pub fn internal_error(shared: &Shared, request: &RawRequest) -> RawResponse {
    let provider = shared.config.default_provider;
    let Some(pspec) = shared.specs.provider(provider) else {
        return RawResponse {
            status: 500,
            headers: vec![("Content-Type".into(), "text/plain".into())],
            body: b"the emulator failed while answering".to_vec(),
        };
    };
    let reply = ErrorReply {
        code: "InternalError".into(),
        message: "The emulator failed while answering this request.".into(),
        http_status: 500,
    };
    let request_id = envelope::new_request_id(pspec);
    envelope::error(pspec, &origin(request, None), &reply, &request_id)
}

/// The phases of docs/emulator.md "How a request is answered", in order (phase 1, the
/// provider, is decided by [`handle`]).
fn answer(
    shared: &Shared,
    pspec: &ProviderSpec,
    request: &RawRequest,
    body_problem: Option<ReadProblem>,
    action_out: &mut Option<Arc<ActionSpec>>,
    (filler, request_id): (Filler, &str),
) -> Result<Vec<u8>, Failure> {
    if let Some(problem) = body_problem {
        return Err(read_failure(problem));
    }
    // 2-3. Request style and size; action and version.
    let (mut routed, action) = route_action(shared, pspec, request)?;
    *action_out = Some(action.clone());
    // A served deviation may bend the action's own rules (a precondition or effect dropped...).
    let action = super::deviate::action(shared, action);
    let settings = super::deviate::settings(shared, &action, shared.settings.read().clone());
    let now = settings.now.unwrap_or_else(crate::sign::clock::unix_now);

    // One lock around the world for the rest of the request keeps concurrent calls consistent.
    // An action without effects only reads it, so such calls share the lock and answer side by
    // side; the rest hold it alone.
    let mut world = if action.effects.is_empty() {
        WorldGuard::Read(shared.world.read())
    } else {
        WorldGuard::Write(shared.world.write())
    };
    // 4-5. Signature, permission, rate limit.
    let caller_allowed = admit(shared, pspec, request, &world, &action, &settings, now)?;
    if let Some(missing) = super::deviate::demanded(shared, &action, request) {
        return Err(missing.into());
    }
    // 6. Common parameters with documented values; unknown parameters.
    common_parameters(pspec, &mut routed, &action)?;
    super::deviate::parameters(shared, &action, &mut routed.params);
    // 7. Parameters, one_of groups, region and preconditions in the action's order.
    let service = format!("{}/{}", pspec.provider, action.service);
    let region_param = action
        .region
        .parameter
        .as_deref()
        .filter(|p| action.parameter(p).is_some());
    let (params, mut param_violation) = validate_parameters(
        shared,
        pspec,
        &action,
        &routed,
        &world,
        &service,
        region_param,
    );
    super::deviate::violation(shared, &action, &params, &mut param_violation);
    let region = match region_param {
        Some(p) => params.get(p).and_then(Value::as_str).map(str::to_string),
        None => routed.region.clone(),
    };
    let call = Call {
        provider: pspec,
        action: &action,
        params: &params,
        region: region.as_deref(),
        caller_allowed,
        service: service.clone(),
    };
    let failures = ordered_checks(
        &call,
        &world,
        &routed,
        param_violation,
        region_param.is_some(),
    )?;
    // 8. Effects; 9. the response.
    let mut new_id =
        |kind: &str, world: &World| shared.new_id(pspec.provider, &service, kind, world);
    let applied = match &mut world {
        WorldGuard::Write(world) => {
            let applied =
                super::deviate::apply_effects(shared, &call, world, &failures, &mut new_id);
            shared.world_changed();
            applied
        }
        // No effects to apply (a bent effect bends one of the action's own).
        WorldGuard::Read(_) => semantics::Applied::default(),
    };
    Ok(match filler {
        Filler::Direct => actions::write::success_body(
            &shared.plans,
            &call,
            &world,
            &failures,
            &applied,
            request_id,
        ),
        Filler::Reference => {
            let members = actions::value::respond(&call, &world, &failures, &applied);
            envelope::success(pspec, members, request_id).body
        }
    })
}

/// The world as one request holds it: shared by actions without effects, alone otherwise.
enum WorldGuard<'a> {
    Read(parking_lot::RwLockReadGuard<'a, World>),
    Write(parking_lot::RwLockWriteGuard<'a, World>),
}

impl std::ops::Deref for WorldGuard<'_> {
    type Target = World;
    fn deref(&self) -> &World {
        match self {
            WorldGuard::Read(w) => w,
            WorldGuard::Write(w) => w,
        }
    }
}

/// What the HTTP front could not read, as the protocol condition that answers it.
fn read_failure(problem: ReadProblem) -> Failure {
    match problem {
        ReadProblem::TooLarge { limit } => protocol(
            ProtocolCondition::RequestTooLarge,
            format!("The request body exceeds {limit} bytes."),
        ),
        ReadProblem::HeadTooLarge { detail } => {
            protocol(ProtocolCondition::RequestTooLarge, detail)
        }
        ReadProblem::Malformed { detail } => protocol(ProtocolCondition::MalformedBody, detail),
        ReadProblem::TooSlow { seconds } => protocol(
            ProtocolCondition::MalformedBody,
            format!("The request did not arrive within {seconds} s."),
        ),
    }
}

/// Phases 2-3: the request style (method, content type, size), then the action and version.
fn route_action(
    shared: &Shared,
    pspec: &ProviderSpec,
    request: &RawRequest,
) -> Result<(Routed, Arc<ActionSpec>), Failure> {
    let mut routed = route::route(request, pspec)
        .map_err(|p: RouteProblem| protocol(p.condition(), p.detail()))?;
    super::deviate::routed(shared, pspec, &mut routed);
    let Some(action_name) = routed.action.clone() else {
        return Err(protocol(
            ProtocolCondition::MissingAction,
            "The request names no Action.",
        ));
    };
    let Some(version) = routed.version.clone() else {
        return Err(protocol(
            ProtocolCondition::UnsupportedVersion,
            "The request names no Version.",
        ));
    };
    let action = route::find_action(&shared.specs, pspec.provider, &action_name, &version)
        .map_err(|c| {
            protocol(
                c,
                match c {
                    ProtocolCondition::UnsupportedVersion => {
                        format!("The version `{version}` is not supported.")
                    }
                    _ => format!("The action `{action_name}` does not exist in version {version}."),
                },
            )
        })?
        .clone();
    Ok((routed, action))
}

/// Phases 4-5: the signature, the caller's permission and the action's rate limit. Returns
/// whether the caller may call every action (a denied sub-user reaches actions whose spec
/// checks the caller itself).
fn admit(
    shared: &Shared,
    pspec: &ProviderSpec,
    request: &RawRequest,
    world: &World,
    action: &ActionSpec,
    settings: &super::Settings,
    now: i64,
) -> Result<bool, Failure> {
    let caller = auth::authenticate(
        request,
        pspec,
        world,
        &shared.nonces,
        now,
        settings.auth.clone(),
    )?;
    let caller_allowed = caller.role == AccountRole::Root;
    let checks_caller = action
        .preconditions
        .iter()
        .any(|p| matches!(p.subject, crate::spec::Subject::Caller { .. }));
    if !caller_allowed && !checks_caller {
        return Err(protocol(
            ProtocolCondition::PermissionDenied,
            format!(
                "The access key {} is not authorized to call {}.",
                caller.access_key_id, action.action
            ),
        ));
    }
    if let Some(limit) = action.rate_limit.as_ref().filter(|_| settings.rate_limits) {
        let key = action.key().to_string();
        if !shared
            .limiter
            .admit(&caller.access_key_id, &key, limit.per_second)
        {
            return Err(protocol(
                ProtocolCondition::Throttled,
                format!(
                    "{} allows {} requests per second per account.",
                    action.action, limit.per_second
                ),
            ));
        }
    }
    Ok(caller_allowed)
}

/// Phase 6: a response format the provider does not offer (Alibaba RPC `Format`), then the
/// provider's common parameters are removed and the first unknown one is refused where the
/// provider documents a code for it (Alibaba documents none and ignores them).
fn common_parameters(
    pspec: &ProviderSpec,
    routed: &mut Routed,
    action: &ActionSpec,
) -> Result<(), Failure> {
    for common in pspec
        .common_parameters
        .iter()
        .filter(|c| c.name == "Format" && !c.values.is_empty())
    {
        if let Some(sent) = text_param(&routed.params, &common.name) {
            if !common.values.iter().any(|v| v.eq_ignore_ascii_case(&sent)) {
                return Err(protocol(
                    ProtocolCondition::UnsupportedFormat,
                    format!(
                        "Format `{sent}` is not one of {}.",
                        common.values.join(", ")
                    ),
                ));
            }
        }
    }
    route::strip_common(&mut routed.params, pspec, action);
    if let Some(name) = validate::first_unknown(&routed.params, action) {
        let unknown = Violation::protocol(
            ProtocolCondition::UnknownParameter,
            format!(
                "The parameter `{name}` is not defined for {}.",
                action.action
            ),
        );
        let resolver = Resolver {
            provider: pspec,
            action: Some(action),
            preferred: &[],
        };
        if !resolver.candidates(&unknown.trigger).is_empty() {
            return Err(unknown.into());
        }
    }
    Ok(())
}

/// Phase 7's parameter checks, run once: the decoded parameters and the first violation (it
/// is reported when the action's order reaches `parameters`).
fn validate_parameters(
    shared: &Shared,
    pspec: &ProviderSpec,
    action: &ActionSpec,
    routed: &Routed,
    world: &World,
    service: &str,
    region_param: Option<&str>,
) -> (BTreeMap<String, Value>, Option<Violation>) {
    let no_resources = super::world::ServiceState::default();
    let svc = world.service(service).unwrap_or(&no_resources);
    let scope_region = match region_param {
        Some(p) => routed
            .params
            .names()
            .contains(&p)
            .then(|| text_param(&routed.params, p))
            .flatten(),
        None => routed.region.clone(),
    }
    .filter(|_| action.region.required);
    let known = move |r: &crate::spec::Reference, v: &str| {
        semantics::exists(svc, r, v, scope_region.as_deref())
    };
    let cx = Context {
        provider: pspec,
        action,
        formats: &shared.formats,
        known: &known,
    };
    validate::check_parameters(&routed.params, &cx)
}

/// Phase 7 in the action's `error_precedence` order (default protocol, parameters, one_of,
/// preconditions): the first failure, or the per-item failures of a call that goes ahead.
fn ordered_checks(
    call: &Call,
    world: &World,
    routed: &Routed,
    mut param_violation: Option<Violation>,
    region_is_parameter: bool,
) -> Result<semantics::ItemFailures, Failure> {
    let action = call.action;
    let phases: Vec<&str> = if action.error_precedence.is_empty() {
        vec!["protocol", "parameters", "one_of", "preconditions"]
    } else {
        action.error_precedence.iter().map(String::as_str).collect()
    };
    let mut one_of_checked = false;
    for phase in phases
        .iter()
        .chain(["parameters", "one_of", "preconditions"].iter())
    {
        match *phase {
            "parameters" => {
                if let Some(v) = param_violation.take() {
                    return Err(v.into());
                }
            }
            "one_of" if !one_of_checked => {
                one_of_checked = true;
                if let Some(v) = validate::check_one_of(&routed.params, action) {
                    return Err(v.into());
                }
            }
            "preconditions" => {
                check_region(call, world, region_is_parameter, &routed.region)?;
                return Ok(semantics::check_preconditions(call, world)?);
            }
            _ => {}
        }
    }
    Ok(semantics::ItemFailures::new())
}

fn text_param(params: &crate::wire::decode::WireParams, name: &str) -> Option<String> {
    match params {
        crate::wire::decode::WireParams::Text(p) => p
            .iter()
            .rev()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone()),
        crate::wire::decode::WireParams::Json(m) => m
            .iter()
            .rev()
            .find(|(k, _)| k == name)
            .and_then(|(_, v)| v.as_str().map(str::to_string)),
    }
}

/// The action's region rule: a required region must be sent (Tencent's common `Region`; an
/// Alibaba region parameter is caught as a missing parameter), and a region sent must exist.
fn check_region(
    call: &Call,
    world: &World,
    is_parameter: bool,
    common_region: &Option<String>,
) -> Result<(), Failure> {
    let rule = &call.action.region;
    let sent = if is_parameter {
        call.region.map(str::to_string)
    } else {
        common_region.clone()
    };
    match sent {
        None if rule.required && !is_parameter => Err(protocol(
            ProtocolCondition::MissingRegion,
            format!("{} needs a Region.", call.action.action),
        )),
        Some(r) if !world.regions(call.provider.provider).contains(&r) => Err(protocol(
            ProtocolCondition::UnknownRegion,
            format!("The region `{r}` does not exist."),
        )),
        _ => Ok(()),
    }
}
