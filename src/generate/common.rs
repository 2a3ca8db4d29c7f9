//! Cases about the provider's common parameters (`provider.json#/common_parameters`), beyond
//! the action and region (their own cases): each required one left out, and each optional one
//! that only parameter-signed requests carry (`SignatureMethod`, `Format`) left out of a
//! request that is otherwise valid. The runner leaves the parameter out after signing and signs
//! again over what remains, so the absence is the only fault.
//!
//! Both use the first signing method that carries common parameters as query/form parameters
//! (Tencent v1 HmacSHA1, Alibaba RPC): there every common parameter can be left out and the
//! request still be signed. (Under TC3 the timestamp is part of the string to sign.)
use super::base::{self, Shape};
use super::valid::{case_with, success};
use super::{CaseKind, Cover, Ctx, Expect, ExpectedError, Tamper};
use crate::spec::{CommonParameter, CommonRequirement, Evidence, ProtocolCondition, Violation};

pub(crate) fn cases(ctx: &Ctx, out: &mut Vec<super::Case>) {
    let Some((style, signing)) = parameter_signing(ctx) else {
        return;
    };
    let region = ctx.action.region.parameter.as_deref();
    for c in &ctx.provider.common_parameters {
        // The action has its own missing-action cases, the region its own rule.
        if c.name == "Action" || Some(c.name.as_str()) == region || !c.as_parameter() {
            continue;
        }
        let required = match c.requirement() {
            CommonRequirement::Always => true,
            // The key and signature carriers are the signature cases' business.
            CommonRequirement::PerSigning if !c.credential && c.header.is_none() => true,
            CommonRequirement::Optional => false,
            _ => continue,
        };
        let mut b = base::build(ctx, &Shape::default());
        let (kind, name, title, expect) = if required {
            let Some(e) = missing(ctx, c) else { continue };
            (
                CaseKind::Negative,
                format!("missing-{}-{signing}", c.name),
                format!(
                    "Common parameter {} left out, signed with {signing}",
                    c.name
                ),
                e,
            )
        } else if c.header.is_none() {
            (
                CaseKind::Valid,
                format!("without-{}-{signing}", c.name),
                format!(
                    "Optional common parameter {} left out, signed with {signing}",
                    c.name
                ),
                success(ctx, &b.params),
            )
        } else {
            // Header-carried optional ones: the runner sends none of them by default, so
            // every valid case already leaves them out.
            continue;
        };
        let params = std::mem::take(&mut b.params);
        let mut case = case_with(
            ctx,
            kind,
            &name,
            title,
            b.world,
            params,
            &style,
            expect,
            vec![Cover::Protocol {
                condition: format!("common/{}", c.name),
            }],
        );
        case.steps[0].wire.signing = Some(signing.clone());
        case.steps[0].wire.tamper = Some(Tamper::OmitCommon {
            name: c.name.clone(),
            header: c.header.clone(),
        });
        out.push(case);
    }
}

/// The first parameter-carried signing method and a style of this action that uses it.
fn parameter_signing(ctx: &Ctx) -> Option<(String, String)> {
    ctx.provider
        .signing
        .iter()
        .filter(|m| m.carrier == "signature-parameter")
        .find_map(|m| {
            let style = ctx
                .styles
                .iter()
                .filter_map(|id| ctx.provider.request_styles.iter().find(|s| &s.id == id))
                .find(|s| s.signing.contains(&m.id))?;
            Some((style.id.clone(), m.id.clone()))
        })
}

/// What a request without `c` must get: the provider's missing-parameter code; without a
/// `Version` also the unknown-version code (marked inferred): no page says which of the two
/// a gateway that routes by version answers, and "no version" is no version it knows.
fn missing(ctx: &Ctx, c: &CommonParameter) -> Option<Expect> {
    let mut expect = ctx.expect_trigger(&ctx.param_trigger(&c.name, Violation::Missing))?;
    let value_fault = (c.name == "Version").then_some(ProtocolCondition::UnsupportedVersion);
    let also = value_fault.and_then(|condition| {
        ctx.expect_trigger(&crate::spec::Trigger::Protocol {
            condition,
            note: None,
            evidence: None,
        })
    });
    if let (
        Expect::Error { one_of, .. },
        Some(Expect::Error {
            one_of: alternatives,
            ..
        }),
    ) = (&mut expect, also)
    {
        for alt in alternatives {
            if one_of.iter().any(|e| e.code == alt.code) {
                continue;
            }
            one_of.push(ExpectedError {
                evidence: Evidence::Inferred,
                source: format!(
                    "inferred: a request without {} names no version the service knows ({})",
                    c.name, alt.source
                ),
                ..alt
            });
        }
    }
    Some(expect)
}
