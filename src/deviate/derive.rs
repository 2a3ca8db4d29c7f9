//! The operators that read the action's request rules, state rules and batch shape: item
//! minimums, formats, preconditions, effects, one-of groups, the region rule, the skew window,
//! renamed members, batch counts and per-item results. Each reads only the spec.
use super::{Family, Op};
use crate::spec::{ActionSpec, CommonRequirement, ParamType, ProviderSpec, Scope, Subject};

/// Records one deviation: family, subject (`name/variant`), operator, description, rule.
pub(super) type Push<'a> = dyn FnMut(Family, String, Op, String, String) + 'a;

/// Limits below the minimum, formats, preconditions, effects, one-of groups and the batch
/// shape of `a` (whose spec file is `file`).
pub(super) fn state_and_shape(pspec: &ProviderSpec, a: &ActionSpec, file: &str, push: &mut Push) {
    for (i, p) in a.parameters.iter().enumerate() {
        if let Some(min) = p.min_items.filter(|m| *m > 0 && p.ty == ParamType::Array) {
            push(
                Family::Limits,
                format!("{}/accept-{}", p.name, min - 1),
                Op::AcceptUnderMinimum {
                    parameter: p.name.clone(),
                    min,
                },
                format!(
                    "{} accepts {} items (documented minimum {min})",
                    p.name,
                    min - 1
                ),
                format!("{file}#/parameters/{i}/min_items"),
            );
        }
        if let Some(format) = p.value_format() {
            let rule = match p.ty {
                ParamType::Array => format!("{file}#/parameters/{i}/items/format"),
                _ => format!("{file}#/parameters/{i}/format"),
            };
            push(
                Family::Formats,
                format!("{}/accept-malformed", p.name),
                Op::AcceptMalformed {
                    parameter: p.name.clone(),
                },
                format!(
                    "a malformed {} is accepted (format {format} unchecked)",
                    p.name
                ),
                rule.clone(),
            );
            push(
                Family::Formats,
                format!("{}/reject-well-formed", p.name),
                Op::RejectWellFormed {
                    parameter: p.name.clone(),
                },
                format!(
                    "a well-formed {} is refused as malformed ({format})",
                    p.name
                ),
                rule,
            );
        }
    }

    for (i, pre) in a.preconditions.iter().enumerate() {
        let rule = format!("{file}#/preconditions/{i}");
        push(
            Family::Preconditions,
            format!("{}/skipped", pre.id),
            Op::SkipPrecondition {
                precondition: pre.id.clone(),
            },
            format!("precondition {} is not checked", pre.id),
            rule.clone(),
        );
        if let Some(unless) = &pre.unless {
            push(
                Family::Preconditions,
                format!("{}/unless-ignored", pre.id),
                Op::IgnoreUnless {
                    precondition: pre.id.clone(),
                },
                format!(
                    "precondition {} is enforced even with {} = {}",
                    pre.id, unless.parameter, unless.equals
                ),
                format!("{rule}/unless"),
            );
        }
        if pre.scope == Scope::PerItem && pre.item_failure.is_some() {
            push(
                Family::Preconditions,
                format!("{}/whole-request", pre.id),
                Op::WholeRequest {
                    precondition: pre.id.clone(),
                },
                format!(
                    "precondition {} fails the whole request instead of the item",
                    pre.id
                ),
                format!("{rule}/scope"),
            );
        }
    }

    for (i, e) in a.effects.iter().enumerate() {
        let rule = format!("{file}#/effects/{i}");
        push(
            Family::Effects,
            format!("{}/not-applied", e.id),
            Op::EffectNotApplied {
                effect: e.id.clone(),
            },
            format!("effect {} is not applied", e.id),
            rule.clone(),
        );
        // The list the effect acts on: its instances, else its target, else its keys.
        let Some(param) = [&e.instances, &e.target, &e.keys]
            .into_iter()
            .flatten()
            .filter_map(Subject::parameter)
            .find_map(|p| a.parameter(p))
        else {
            continue;
        };
        if param.ty == ParamType::Array && param.max_items != Some(1) {
            push(
                Family::Effects,
                format!("{}/partly", e.id),
                Op::EffectPartly {
                    effect: e.id.clone(),
                    parameter: param.name.clone(),
                },
                format!(
                    "effect {} is applied to the first of the {} only",
                    e.id, param.name
                ),
                rule.clone(),
            );
        }
        if param.references.is_some() {
            push(
                Family::Effects,
                format!("{}/wrong-resource", e.id),
                Op::EffectWrongResource {
                    effect: e.id.clone(),
                    parameter: param.name.clone(),
                },
                format!(
                    "effect {} is applied to other resources than the {} named",
                    e.id, param.name
                ),
                rule,
            );
        }
    }

    for (i, g) in a.one_of.iter().enumerate() {
        if g.at_least > 0 {
            push(
                Family::OneOf,
                format!("{}/none-accepted", g.id),
                Op::OneOfNoneAccepted {
                    group: g.id.clone(),
                },
                format!(
                    "a request with none of {} is accepted",
                    g.parameters.join(", ")
                ),
                format!("{file}#/one_of/{i}/at_least"),
            );
        }
        if let Some(most) = g.at_most {
            push(
                Family::OneOf,
                format!("{}/several-accepted", g.id),
                Op::OneOfSeveralAccepted {
                    group: g.id.clone(),
                },
                format!(
                    "a request with more than {most} of {} is accepted",
                    g.parameters.join(", ")
                ),
                format!("{file}#/one_of/{i}/at_most"),
            );
        }
    }

    for (field, _) in super::response_members(pspec, a) {
        // The same name in another casing: the realistic rename (a serializer's convention).
        let to = lower_first(&field);
        if to != field {
            push(
                Family::Shape,
                format!("{field}/renamed"),
                Op::RenameField {
                    field: field.clone(),
                    to: to.clone(),
                },
                format!("the success answer calls {field} `{to}`"),
                format!("{file}#/response/schema"),
            );
        }
    }
    if let Some(batch) = &a.response.batch {
        let rule = format!("{file}#/response/batch");
        push(
            Family::Shape,
            format!("{}/counts-succeeded-only", last(&batch.counts.total)),
            Op::TotalCountsSucceeded {
                pointer: batch.counts.total.clone(),
            },
            format!(
                "{} counts only the items that succeeded",
                batch.counts.total
            ),
            format!("{rule}/counts/total"),
        );
        push(
            Family::Shape,
            format!("{}/always-zero", last(&batch.counts.failed)),
            Op::FailedCountZero {
                pointer: batch.counts.failed.clone(),
            },
            format!("{} is always 0", batch.counts.failed),
            format!("{rule}/counts/failed"),
        );
        push(
            Family::Shape,
            format!("{}/failed-items-missing", last(&batch.items)),
            Op::FailedItemsMissing {
                pointer: batch.items.clone(),
            },
            format!("{} leaves out the items that failed", batch.items),
            format!("{rule}/items"),
        );
    }
}

/// Protocol rules of the request: the skew window and the action's region rule.
pub(super) fn protocol(
    pspec: &ProviderSpec,
    a: &ActionSpec,
    file: &str,
    provider_file: &str,
    push: &mut Push,
) {
    push(
        Family::Protocol,
        "skew/unchecked".into(),
        Op::SkewUnchecked,
        format!(
            "timestamps more than {} s off are accepted",
            pspec.skew_seconds.default
        ),
        format!("{provider_file}#/skew_seconds"),
    );
    let region = a.region.parameter.as_deref().unwrap_or("Region");
    if a.region.required && a.region.optional_by.is_empty() {
        push(
            Family::Protocol,
            "region/optional".into(),
            Op::RegionOptional,
            format!("a request without {region} is answered (documented required)"),
            format!("{file}#/region/required"),
        );
    } else if !a.region.required {
        // Where some source says the region is optional (`optional_by`), a service that
        // answers without it is within the docs: no deviation either way.
        push(
            Family::Protocol,
            "region/required".into(),
            Op::RegionRequired,
            format!("a request without {region} is refused (documented optional)"),
            format!("{file}#/region/required"),
        );
    }
}

/// The provider's common parameters (`provider.json#/common_parameters`), per action: each
/// required one made optional, each optional one demanded. Per action because the self-test
/// judges a deviation by the cases of one action and a service may check them per API (ECM
/// demanding `Region`); the rule broken is the provider's. Left out: the region (its own
/// per-action rule above) and the parameters that carry the key or the signature
/// (`credential`), without which no caller is named or nothing is verified; a per-signing
/// parameter sent as a header (`Authorization`, `x-acs-content-sha256`) belongs to the
/// signature itself.
pub(super) fn common(pspec: &ProviderSpec, provider_file: &str, push: &mut Push) {
    for (i, c) in pspec.common_parameters.iter().enumerate() {
        let rule = format!("{provider_file}#/common_parameters/{i}/required");
        let header = c.header.clone();
        match c.requirement() {
            CommonRequirement::Always => {}
            CommonRequirement::PerSigning if !c.credential && c.header.is_none() => {}
            CommonRequirement::Optional => {
                push(
                    Family::Protocol,
                    format!("common/{}/required", c.name),
                    Op::CommonRequired {
                        parameter: c.name.clone(),
                        header,
                    },
                    format!(
                        "a request without {} is refused as missing a parameter (documented optional)",
                        c.name
                    ),
                    rule,
                );
                continue;
            }
            _ => continue,
        }
        push(
            Family::Protocol,
            format!("common/{}/optional", c.name),
            Op::CommonOptional {
                parameter: c.name.clone(),
                header,
            },
            format!(
                "a request without {} is answered as if it were sent (documented required)",
                c.name
            ),
            rule,
        );
    }
}

fn lower_first(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(f) => f.to_lowercase().chain(c).collect(),
        None => String::new(),
    }
}

/// The last segment of a JSON pointer, for ids.
fn last(pointer: &str) -> &str {
    pointer.rsplit('/').next().unwrap_or(pointer)
}
