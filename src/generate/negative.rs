//! `negative` cases: each required parameter missing, wrong types, malformed ids, unknown
//! parameters, one-of violations, and protocol faults (bad signature, expired timestamp, wrong
//! version, unknown action...). Only faults whose answer the specs document are generated.
use super::base::{self, Base, Shape};
use super::boundary::param_index;
use super::valid::{case_with, success};
use super::{Caller, CaseKind, Cover, Ctx, Expect, Tamper};
use crate::spec::{ParamEncoding, ParamType, ProtocolCondition, Trigger, Violation};
use serde_json::{json, Value};

fn rejected(ctx: &Ctx, param: &str) -> Expect {
    Expect::Rejected {
        rule: format!("{}#/parameters/{}", ctx.file, param_index(ctx, param)),
    }
}

fn protocol(ctx: &Ctx, c: ProtocolCondition) -> Option<Expect> {
    ctx.expect_trigger(&Trigger::Protocol {
        condition: c,
        note: None,
        evidence: None,
    })
}

pub(crate) fn cases(ctx: &Ctx, out: &mut Vec<super::Case>) {
    for style in &ctx.styles {
        parameter_cases(ctx, style, out);
    }
    protocol_cases(ctx, out);
}

fn parameter_cases(ctx: &Ctx, style: &str, out: &mut Vec<super::Case>) {
    let json_style = ctx.style_is_json(style);
    let grouped: Vec<&String> = ctx
        .action
        .one_of
        .iter()
        .flat_map(|g| g.parameters.iter())
        .collect();
    for p in &ctx.action.parameters {
        let cov = vec![Cover::Parameter {
            name: p.name.clone(),
        }];
        let negative = |name: String, title: String, b: Base, e: Expect| {
            case_with(
                ctx,
                CaseKind::Negative,
                &name,
                title,
                b.world,
                b.params,
                style,
                e,
                cov.clone(),
            )
        };
        if p.required && !grouped.contains(&&p.name) {
            let mut b = base::build(ctx, &Shape::default());
            b.params.remove(&p.name);
            let e = ctx
                .expect_trigger(&ctx.param_trigger(&p.name, Violation::Missing))
                .unwrap_or_else(|| rejected(ctx, &p.name));
            out.push(negative(
                format!("missing-{}", p.name),
                format!("Required parameter {} left out", p.name),
                b,
                e,
            ));
        }
        // Present for every following case even when optional.
        let mut shape = Shape {
            full: !p.required,
            ..Shape::default()
        };
        for g in &ctx.action.one_of {
            if g.parameters.contains(&p.name) {
                shape.choose.insert(g.id.clone(), vec![p.name.clone()]);
            }
        }
        let mut wrong: Vec<(&str, Value, Violation)> = Vec::new();
        match p.ty {
            ParamType::Array => match p.encoding {
                Some(ParamEncoding::JsonString) => {
                    wrong.push(("type", json!("{\"not\":\"an array\"}"), Violation::Type));
                    wrong.push((
                        "malformed-json",
                        json!("[\"i-unterminated\""),
                        Violation::MalformedJson,
                    ));
                }
                _ if json_style => {
                    wrong.push(("type", json!({"not": "an array"}), Violation::Type))
                }
                _ => {}
            },
            ParamType::Boolean => wrong.push(("type", json!("maybe"), Violation::Type)),
            ParamType::Integer => wrong.push(("type", json!("abc"), Violation::Type)),
            ParamType::String if json_style => wrong.push(("type", json!(12345), Violation::Type)),
            ParamType::String => {}
            ParamType::Object if json_style => {
                wrong.push(("type", json!("not-an-object"), Violation::Type))
            }
            ParamType::Object => {}
        }
        for (label, value, v) in wrong {
            let e = ctx
                .expect_trigger(&ctx.param_trigger(&p.name, v))
                .or_else(|| {
                    (v == Violation::Type).then(|| {
                        ctx.expect_trigger(&ctx.param_trigger(&p.name, Violation::Format))
                    })?
                })
                .unwrap_or_else(|| rejected(ctx, &p.name));
            let mut b = base::build(ctx, &shape);
            b.params.insert(p.name.clone(), value.clone());
            out.push(negative(
                format!("{label}-{}", p.name),
                format!("{} sent as {value}", p.name),
                b,
                e,
            ));
        }
        // A value nothing like the format.
        if let Some(f) = ctx.format_of(p) {
            if let Some(e) = ctx.expect_trigger(&ctx.param_trigger(&p.name, Violation::Format)) {
                let junk = "not an id!".to_string();
                if !f.matches(&junk) {
                    let mut b = base::build(ctx, &shape);
                    let value = match b.params.get(&p.name) {
                        Some(Value::Array(_)) => json!([junk]),
                        _ => json!(junk),
                    };
                    b.params.insert(p.name.clone(), value);
                    out.push(negative(
                        format!("malformed-{}", p.name),
                        format!("{} is not a {}", p.name, f.name),
                        b,
                        e,
                    ));
                }
            }
        }
        if !p.allowed.is_empty() {
            if let Some(e) = ctx.expect_trigger(&ctx.param_trigger(&p.name, Violation::Enum)) {
                let mut b = base::build(ctx, &shape);
                b.params.insert(p.name.clone(), json!("CcNotAllowed"));
                out.push(negative(
                    format!("enum-{}", p.name),
                    format!("{} outside its allowed values", p.name),
                    b,
                    e,
                ));
            }
        }
    }
    if let Some(e) = protocol(ctx, ProtocolCondition::UnknownParameter) {
        let mut b = base::build(ctx, &Shape::default());
        b.params.insert("CcUnknownParameter".into(), json!("x"));
        out.push(case_with(
            ctx,
            CaseKind::Negative,
            "unknown-parameter",
            "A parameter the API does not define".into(),
            b.world,
            b.params,
            style,
            e,
            vec![Cover::Protocol {
                condition: "unknown_parameter".into(),
            }],
        ));
    }
    for g in &ctx.action.one_of {
        let cov = vec![Cover::OneOf {
            group: g.id.clone(),
        }];
        let trig = |v| Trigger::OneOf {
            group: g.id.clone(),
            violation: v,
            note: None,
            evidence: None,
        };
        if g.at_least > 0 {
            let mut shape = Shape::default();
            shape.choose.insert(g.id.clone(), vec![]);
            let b = base::build(ctx, &shape);
            let e = ctx
                .expect_trigger(&trig(crate::spec::OneOfViolation::None))
                .unwrap_or_else(|| Expect::Rejected {
                    rule: format!("{}#/one_of", ctx.file),
                });
            out.push(case_with(
                ctx,
                CaseKind::Negative,
                &format!("one-of-{}-none", g.id),
                format!("None of {}", g.parameters.join(", ")),
                b.world,
                b.params,
                style,
                e,
                cov.clone(),
            ));
        }
        let mut shape = Shape::default();
        shape.choose.insert(g.id.clone(), g.parameters.clone());
        let b = base::build(ctx, &shape);
        let too_many = g.at_most.is_some_and(|m| g.parameters.len() > m);
        let e = if too_many {
            ctx.expect_trigger(&trig(crate::spec::OneOfViolation::Several))
                .unwrap_or_else(|| Expect::Rejected {
                    rule: format!("{}#/one_of", ctx.file),
                })
        } else {
            success(ctx, &b.params)
        };
        let kind = if too_many {
            CaseKind::Negative
        } else {
            CaseKind::Valid
        };
        out.push(case_with(
            ctx,
            kind,
            &format!("one-of-{}-all", g.id),
            format!("All of {} at once", g.parameters.join(", ")),
            b.world,
            b.params,
            style,
            e,
            cov,
        ));
    }
}

fn protocol_cases(ctx: &Ctx, out: &mut Vec<super::Case>) {
    let default = ctx.default_style().to_string();
    let mut faults: Vec<(String, ProtocolCondition, Option<Tamper>, String, Caller)> = Vec::new();
    let mut add = |name: &str, c, t: Option<Tamper>, style: &str, caller| {
        faults.push((name.to_string(), c, t, style.to_string(), caller));
    };
    for style in &ctx.styles {
        add(
            "bad-signature",
            ProtocolCondition::BadSignature,
            Some(Tamper::BadSignature),
            style,
            Caller::Root,
        );
    }
    use ProtocolCondition as P;
    add(
        "incomplete-signature",
        P::IncompleteSignature,
        Some(Tamper::IncompleteSignature),
        &default,
        Caller::Root,
    );
    let skew = ctx.provider.skew_seconds.default;
    add(
        "expired-timestamp",
        P::ExpiredTimestamp,
        Some(Tamper::ExpiredTimestamp {
            seconds: skew + 600,
        }),
        &default,
        Caller::Root,
    );
    add(
        "malformed-timestamp",
        P::MalformedTimestamp,
        Some(Tamper::MalformedTimestamp),
        &default,
        Caller::Root,
    );
    add(
        "unsupported-signature-method",
        P::UnsupportedSignatureMethod,
        Some(Tamper::SignatureMethod {
            method: "HMAC-MD5".into(),
        }),
        &default,
        Caller::Root,
    );
    add(
        "unsupported-format",
        P::UnsupportedFormat,
        Some(Tamper::ExtraParam {
            name: "Format".into(),
            value: "YAML".into(),
        }),
        &default,
        Caller::Root,
    );
    add(
        "unknown-access-key",
        P::UnknownAccessKey,
        Some(Tamper::UnknownAccessKey),
        &default,
        Caller::Root,
    );
    // A made-up session token with the root's permanent key: a token that is not the key's.
    add(
        "bad-token",
        P::TokenMismatch,
        Some(Tamper::BadToken),
        &default,
        Caller::Root,
    );
    // Temporary credentials sent without their token.
    add(
        "missing-token",
        P::MissingToken,
        Some(Tamper::DropToken),
        &default,
        Caller::Temporary,
    );
    add(
        "wrong-version",
        P::UnsupportedVersion,
        Some(Tamper::Version {
            version: "2000-01-01".into(),
        }),
        &default,
        Caller::Root,
    );
    add(
        "unknown-action",
        P::UnknownAction,
        Some(Tamper::Action {
            action: "CcNoSuchAction".into(),
        }),
        &default,
        Caller::Root,
    );
    add(
        "missing-action",
        P::MissingAction,
        Some(Tamper::MissingAction),
        &default,
        Caller::Root,
    );
    add(
        "unsupported-method",
        P::UnsupportedMethod,
        Some(Tamper::Method {
            method: "PUT".into(),
        }),
        &default,
        Caller::Root,
    );
    if ctx.style_is_json(&default) {
        add(
            "unsupported-content-type",
            P::UnsupportedContentType,
            Some(Tamper::ContentType {
                content_type: "text/plain".into(),
            }),
            &default,
            Caller::Root,
        );
        add(
            "malformed-body",
            P::MalformedBody,
            Some(Tamper::Body {
                body: "{\"Cc\": [".into(),
            }),
            &default,
            Caller::Root,
        );
    }
    if ctx.region_is_common() {
        if ctx.action.region.required {
            add(
                "missing-region",
                P::MissingRegion,
                Some(Tamper::Region { region: None }),
                &default,
                Caller::Root,
            );
        }
        add(
            "unknown-region",
            P::UnknownRegion,
            Some(Tamper::Region {
                region: Some("xx-nowhere".into()),
            }),
            &default,
            Caller::Root,
        );
    }
    if let Some(limit) = ctx
        .provider
        .size_limits
        .iter()
        .filter(|l| ctx.styles.contains(&l.request_style))
        .min_by_key(|l| l.max_bytes)
    {
        if limit.max_bytes <= 1 << 20 {
            add(
                "request-too-large",
                P::RequestTooLarge,
                Some(Tamper::Pad {
                    bytes: limit.max_bytes as usize + 1,
                }),
                &limit.request_style.clone(),
                Caller::Root,
            );
        }
    }
    if ctx
        .provider
        .nonce_replay
        .as_ref()
        .is_some_and(|n| n.rejected)
    {
        add(
            "replayed-nonce",
            P::ReplayedNonce,
            Some(Tamper::Replay),
            &default,
            Caller::Root,
        );
    }
    if let Some(rl) = &ctx.action.rate_limit {
        add(
            "throttled",
            P::Throttled,
            Some(Tamper::Burst {
                requests: rl.per_second as usize * 3 + 10,
            }),
            &default,
            Caller::Root,
        );
    }
    if !ctx
        .action
        .preconditions
        .iter()
        .any(|p| matches!(p.require, crate::spec::Requirement::Allowed(_)))
    {
        add(
            "permission-denied",
            P::PermissionDenied,
            None,
            &default,
            Caller::Denied,
        );
    }
    // The parameter-carried signing of the default style (Tencent v1, Alibaba RPC), if any.
    let param_signing = ctx
        .provider
        .request_styles
        .iter()
        .find(|s| s.id == default)
        .and_then(|st| {
            ctx.provider
                .signing
                .iter()
                .find(|m| m.carrier == "signature-parameter" && st.signing.contains(&m.id))
        })
        .map(|m| m.id.clone());
    if param_signing.is_some() {
        faults.push((
            "unsupported-signature-method-param".into(),
            P::UnsupportedSignatureMethod,
            Some(Tamper::SignatureMethod {
                method: "HMAC-MD5".into(),
            }),
            default.clone(),
            Caller::Root,
        ));
    }
    for (name, cond, tamper, style, caller) in faults {
        let Some(mut e) = protocol(ctx, cond) else {
            continue;
        };
        let param_carried =
            name == "unsupported-signature-method-param" || cond == P::UnsupportedFormat;
        if param_carried && param_signing.is_none() {
            continue;
        }
        // An unknown method in a signed parameter may also be read as a wrong signature
        // (Tencent v1 falls back to HmacSHA1).
        if name == "unsupported-signature-method-param" {
            if let (Expect::Error { one_of, .. }, Some(Expect::Error { one_of: bad, .. })) =
                (&mut e, protocol(ctx, P::BadSignature))
            {
                one_of.extend(bad);
            }
        }
        if cond == P::MissingRegion {
            also_region_optional(ctx, &mut e);
        }
        let b = base::build(ctx, &Shape::default());
        let mut c = case_with(
            ctx,
            CaseKind::Negative,
            &name,
            format!("Protocol fault: {}", cond.as_str()),
            b.world,
            b.params,
            &style,
            e,
            vec![Cover::Protocol {
                condition: cond.as_str().to_string(),
            }],
        );
        c.steps[0].wire.tamper = tamper;
        c.steps[0].caller = caller;
        if param_carried {
            c.steps[0].wire.signing = param_signing.clone();
        }
        out.push(c);
    }
    // A missing action under each signing method that signs `Action` as a parameter (Tencent
    // v1, Alibaba RPC) and that the default style does not use: the runner signs what remains,
    // so the missing action stays the only fault there too.
    let default_signing = ctx
        .provider
        .request_styles
        .iter()
        .find(|s| s.id == default)
        .and_then(|s| s.signing.first().cloned());
    for m in ctx
        .provider
        .signing
        .iter()
        .filter(|m| m.carrier == "signature-parameter")
        .filter(|m| Some(&m.id) != default_signing.as_ref())
    {
        let Some(style) = ctx
            .provider
            .request_styles
            .iter()
            .find(|s| ctx.styles.contains(&s.id) && s.signing.contains(&m.id))
        else {
            continue;
        };
        let Some(e) = protocol(ctx, P::MissingAction) else {
            continue;
        };
        let b = base::build(ctx, &Shape::default());
        let mut c = case_with(
            ctx,
            CaseKind::Negative,
            &format!("missing-action-{}", m.id),
            format!("Protocol fault: missing_action, signed with {}", m.id),
            b.world,
            b.params,
            &style.id,
            e,
            vec![Cover::Protocol {
                condition: P::MissingAction.as_str().to_string(),
            }],
        );
        c.steps[0].wire.tamper = Some(Tamper::MissingAction);
        c.steps[0].wire.signing = Some(m.id.clone());
        out.push(c);
    }
    // Alibaba: an unknown region travels as a business parameter.
    if let Some(rp) = ctx.region_param() {
        if let Some(e) = protocol(ctx, P::UnknownRegion) {
            let mut b = base::build(ctx, &Shape::default());
            b.params.insert(rp.to_string(), json!("xx-nowhere"));
            out.push(case_with(
                ctx,
                CaseKind::Negative,
                "unknown-region",
                format!("{rp} names no region"),
                b.world,
                b.params,
                &default,
                e,
                vec![Cover::Protocol {
                    condition: "unknown_region".into(),
                }],
            ));
        }
    }
}

/// Where pages disagree on whether the region is required (`region.optional_by`), a service
/// that treats it as optional processes the call: its made-up ids (the world of a protocol
/// case) then fail their existence checks. Those codes join the expected set, as the
/// harness's reading of the other pages (`inferred`).
fn also_region_optional(ctx: &Ctx, e: &mut Expect) {
    let Some(by) = ctx.action.region.optional_by.first() else {
        return;
    };
    let Expect::Error { one_of, .. } = e else {
        return;
    };
    for pre in ctx
        .action
        .preconditions
        .iter()
        .filter(|p| matches!(p.require, crate::spec::Requirement::Exists(_)))
    {
        let trigger = crate::spec::Trigger::Precondition {
            precondition: pre.id.clone(),
            note: None,
            evidence: None,
        };
        if let Some(Expect::Error { one_of: codes, .. }) = ctx.expect_trigger(&trigger) {
            for mut c in codes {
                if one_of.iter().any(|x| x.code == c.code) {
                    continue;
                }
                c.evidence = crate::spec::Evidence::Inferred;
                c.source = format!(
                    "inferred: {by} says the region is not required; the call then reaches \
                     the existence check of its made-up ids"
                );
                one_of.push(c);
            }
        }
    }
}
