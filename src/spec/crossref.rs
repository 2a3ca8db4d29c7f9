//! Cross-reference checks: what the meta-schema cannot say (a trigger names a declared
//! parameter, a format exists in the provider spec, an effect is observed through a fixture).
use super::lint::{regex_check, regex_matches, Problem};
use super::model::*;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

pub(super) fn check_provider(file: &str, p: &ProviderSpec, problems: &mut Vec<Problem>) {
    let signing: BTreeSet<&str> = p.signing.iter().map(|s| s.id.as_str()).collect();
    for (i, style) in p.request_styles.iter().enumerate() {
        for (j, s) in style.signing.iter().enumerate() {
            if !signing.contains(s.as_str()) {
                problems.push(Problem::new(
                    file,
                    format!("/request_styles/{i}/signing/{j}"),
                    format!("unknown signing method '{s}'"),
                    format!("use one of {signing:?}"),
                ));
            }
        }
    }
    let styles: BTreeSet<&str> = p.request_styles.iter().map(|s| s.id.as_str()).collect();
    for (i, l) in p.size_limits.iter().enumerate() {
        if !styles.contains(l.request_style.as_str()) {
            problems.push(Problem::new(
                file,
                format!("/size_limits/{i}/request_style"),
                format!("unknown request style '{}'", l.request_style),
                format!("use one of {styles:?}"),
            ));
        }
    }
    for (name, f) in &p.formats {
        if let Err(e) = regex_check(&f.pattern) {
            problems.push(Problem::new(
                file,
                format!("/formats/{name}/pattern"),
                format!("invalid regex: {e}"),
                "write a valid regular expression",
            ));
            continue;
        }
        for (i, ex) in f.examples.iter().enumerate() {
            if !regex_matches(&f.pattern, ex) && !ex.contains('*') {
                problems.push(Problem::new(
                    file,
                    format!("/formats/{name}/examples/{i}"),
                    format!("example '{ex}' does not match the pattern {}", f.pattern),
                    "fix the pattern or the example (masked doc examples with * are exempt)",
                ));
            }
        }
    }
    check_errors(
        file,
        &p.errors,
        &mut |_, t, ptr, problems| {
            if let Trigger::Parameter { parameter, .. } = t {
                // The provider's own common parameters (Timestamp…) are provider-wide.
                let common = p.common_parameters.iter().any(|c| &c.name == parameter);
                if parameter != "*" && !common {
                    problems.push(Problem::new(
                        file,
                        ptr.clone(),
                        format!("provider-wide trigger names parameter '{parameter}'"),
                        "use '*' or a common parameter in provider specs; name the action's \
                         parameters in action specs",
                    ));
                }
            }
            if matches!(t, Trigger::Precondition { .. } | Trigger::OneOf { .. }) {
                problems.push(Problem::new(
                    file,
                    ptr,
                    "provider-wide triggers can only be protocol or parameter '*' triggers",
                    "move it to the action spec",
                ));
            }
        },
        problems,
    );
    let errors: Vec<&ErrorCode> = p.errors.iter().collect();
    check_alternatives(file, &p.discrepancies, &errors, problems);
}

/// A discrepancy about a protocol condition lists every answer the docs allow; each must be a
/// code listed with a trigger on that condition (so the harness accepts it) and the same
/// evidence, and every code listed for the condition must be one of them.
fn check_alternatives(
    file: &str,
    discrepancies: &[Discrepancy],
    errors: &[&ErrorCode],
    problems: &mut Vec<Problem>,
) {
    for (i, d) in discrepancies.iter().enumerate() {
        let Some(condition) = d.condition else {
            continue;
        };
        let declared = |e: &ErrorCode| {
            e.triggers
                .iter()
                .find(|t| matches!(t, Trigger::Protocol { condition: c, .. } if *c == condition))
                .cloned()
        };
        for (j, alt) in d.alternatives.iter().enumerate() {
            let ptr = format!("/discrepancies/{i}/alternatives/{j}");
            let found = errors.iter().find(|e| e.code == alt.code);
            match found.and_then(|e| declared(e).map(|t| (e, t))) {
                None => problems.push(Problem::new(
                    file,
                    format!("{ptr}/code"),
                    format!(
                        "'{}' is not listed with a '{}' protocol trigger, so the harness would not accept it",
                        alt.code,
                        condition.as_str()
                    ),
                    "add the trigger to that error code, or drop the alternative",
                )),
                Some((e, t)) => {
                    let (evidence, _) = e.evidence_for(Some(&t));
                    if evidence != alt.evidence {
                        problems.push(Problem::new(
                            file,
                            format!("{ptr}/evidence"),
                            format!(
                                "the alternative says '{}' but the trigger of '{}' rests on '{}'",
                                alt.evidence.as_str(),
                                alt.code,
                                evidence.as_str()
                            ),
                            "make the trigger's evidence and the alternative's agree",
                        ));
                    }
                }
            }
        }
        for e in errors.iter().filter(|e| declared(e).is_some()) {
            if !d.alternatives.iter().any(|a| a.code == e.code) {
                problems.push(Problem::new(
                    file,
                    format!("/discrepancies/{i}/alternatives"),
                    format!(
                        "'{}' answers '{}' but is not among the alternatives",
                        e.code,
                        condition.as_str()
                    ),
                    "list it as an alternative with its sources, or drop its trigger",
                ));
            }
        }
        if d.alternatives.len() < 2 {
            problems.push(Problem::new(
                file,
                format!("/discrepancies/{i}/alternatives"),
                "a discrepancy about a condition needs at least two alternatives",
                "list every answer the docs allow, or drop `condition`",
            ));
        }
    }
}

type TriggerCheck<'a> = dyn FnMut(&ErrorCode, &Trigger, String, &mut Vec<Problem>) + 'a;

fn check_errors(
    file: &str,
    errors: &[ErrorCode],
    check: &mut TriggerCheck<'_>,
    problems: &mut Vec<Problem>,
) {
    let mut seen = BTreeSet::new();
    for (i, e) in errors.iter().enumerate() {
        if !seen.insert(e.code.as_str()) {
            problems.push(Problem::new(
                file,
                format!("/errors/{i}/code"),
                format!("error code '{}' listed twice", e.code),
                "merge the two entries",
            ));
        }
        for (j, t) in e.triggers.iter().enumerate() {
            check(e, t, format!("/errors/{i}/triggers/{j}"), problems);
        }
    }
}

pub(super) fn check_action(
    file: &str,
    a: &ActionSpec,
    provider: Option<&ProviderSpec>,
    actions: &BTreeMap<ActionKey, Arc<ActionSpec>>,
    problems: &mut Vec<Problem>,
) {
    let Some(provider) = provider else {
        problems.push(Problem::new(
            file,
            "/provider",
            format!("no provider spec for '{}'", a.provider),
            format!("add specs/{}/provider.json", a.provider),
        ));
        return;
    };
    let errors: Vec<&ErrorCode> = a.errors.iter().chain(&provider.errors).collect();
    check_alternatives(file, &a.discrepancies, &errors, problems);
    let params: BTreeSet<&str> = a.parameters.iter().map(|p| p.name.as_str()).collect();
    let param_ref = |name: &str, ptr: String, problems: &mut Vec<Problem>| {
        if !params.contains(name) {
            problems.push(Problem::new(
                file,
                ptr,
                format!("names unknown parameter '{name}'"),
                format!("use one of {params:?} or declare the parameter"),
            ));
        }
    };
    let mut seen = BTreeSet::new();
    for (i, p) in a.parameters.iter().enumerate() {
        if !seen.insert(p.name.as_str()) {
            problems.push(Problem::new(
                file,
                format!("/parameters/{i}/name"),
                format!("parameter '{}' declared twice", p.name),
                "merge the two entries",
            ));
        }
        if let Some(f) = p.value_format() {
            if !provider.formats.contains_key(f) {
                let ptr = if p.ty == ParamType::Array {
                    format!("/parameters/{i}/items/format")
                } else {
                    format!("/parameters/{i}/format")
                };
                problems.push(Problem::new(
                    file,
                    ptr,
                    format!("unknown format '{f}'"),
                    format!(
                        "define it under formats in specs/{}/provider.json or use one of {:?}",
                        a.provider,
                        provider.formats.keys().collect::<Vec<_>>()
                    ),
                ));
            }
        }
        if let Some(r) = &p.references {
            if !provider.resources.contains_key(&r.resource) {
                problems.push(Problem::new(
                    file,
                    format!("/parameters/{i}/references/resource"),
                    format!("unknown resource '{}'", r.resource),
                    format!(
                        "use one of {:?}",
                        provider.resources.keys().collect::<Vec<_>>()
                    ),
                ));
            }
        }
        if let (Some(min), Some(max)) = (p.min_items, p.max_items) {
            if min > max {
                problems.push(Problem::new(
                    file,
                    format!("/parameters/{i}/min_items"),
                    format!("min_items {min} exceeds max_items {max}"),
                    "swap or correct the limits",
                ));
            }
        }
    }
    let styles: BTreeSet<&str> = provider
        .request_styles
        .iter()
        .map(|s| s.id.as_str())
        .collect();
    for (i, s) in a.request_styles.iter().enumerate() {
        if !styles.contains(s.as_str()) {
            problems.push(Problem::new(
                file,
                format!("/request_styles/{i}"),
                format!("unknown request style '{s}'"),
                format!("use one of {styles:?}"),
            ));
        }
    }
    let groups: BTreeSet<&str> = a.one_of.iter().map(|g| g.id.as_str()).collect();
    for (i, g) in a.one_of.iter().enumerate() {
        for (j, p) in g.parameters.iter().enumerate() {
            param_ref(p, format!("/one_of/{i}/parameters/{j}"), problems);
        }
    }
    let preconditions: BTreeSet<&str> = a.preconditions.iter().map(|p| p.id.as_str()).collect();
    for (i, pc) in a.preconditions.iter().enumerate() {
        if let Some(p) = pc.subject.parameter() {
            param_ref(p, format!("/preconditions/{i}/subject/parameter"), problems);
        }
        if let Some(u) = &pc.unless {
            param_ref(
                &u.parameter,
                format!("/preconditions/{i}/unless/parameter"),
                problems,
            );
        }
        if let Requirement::BoundTo { parameter } = &pc.require {
            param_ref(
                parameter,
                format!("/preconditions/{i}/require/bound_to/parameter"),
                problems,
            );
        }
        if let Some(m) = &pc.mixed_batch {
            if !a.discrepancies.iter().any(|d| d.id == m.discrepancy) {
                problems.push(Problem::new(
                    file,
                    format!("/preconditions/{i}/mixed_batch/discrepancy"),
                    format!("names unknown discrepancy '{}'", m.discrepancy),
                    "add a discrepancies entry with that id recording the alternatives and their sources",
                ));
            }
        }
        if pc.scope == Scope::Request && !a.errors.iter().any(|e| e.triggers.iter().any(|t| matches!(t, Trigger::Precondition { precondition, .. } if precondition == &pc.id))) {
            problems.push(Problem::new(file, format!("/preconditions/{i}"), format!("no error code is triggered by precondition '{}'", pc.id), "add a trigger {\"on\": \"precondition\", ...} to the error it provokes, or make it per_item"));
        }
    }
    if let Some(pg) = &a.paging {
        for (field, name) in [("index", &pg.index), ("size", &pg.size)] {
            match a.parameter(name) {
                Some(p) if p.ty == crate::spec::ParamType::Integer => {}
                _ => problems.push(Problem::new(
                    file,
                    format!("/paging/{field}"),
                    format!("'{name}' is not an integer parameter of this action"),
                    "name the action's integer paging parameter (Offset/Limit, PageNumber/PageSize)",
                )),
            }
        }
    }
    for (i, e) in a.effects.iter().enumerate() {
        for (name, s) in [
            ("keys", &e.keys),
            ("instances", &e.instances),
            ("target", &e.target),
        ] {
            if let Some(p) = s.as_ref().and_then(Subject::parameter) {
                param_ref(p, format!("/effects/{i}/{name}/parameter"), problems);
            }
        }
        if let Some(w) = &e.when {
            param_ref(
                &w.parameter,
                format!("/effects/{i}/when/parameter"),
                problems,
            );
        }
        if let Some(Observe::Action { action, .. }) = &e.observe {
            let key = ActionKey::new(a.provider, &a.service, &a.version, action);
            match actions.get(&key) {
                Some(f) if f.role == Role::Fixture => {}
                Some(_) => problems.push(Problem::new(
                    file,
                    format!("/effects/{i}/observe/action"),
                    format!("{key} is not a fixture action"),
                    "observe effects through a fixture action",
                )),
                None => problems.push(Problem::new(
                    file,
                    format!("/effects/{i}/observe/action"),
                    format!("no spec for {key}"),
                    format!("add specs/{key}.json with role fixture"),
                )),
            }
        }
    }
    if let Some(b) = &a.response.batch {
        if let Some(over) = &b.over {
            param_ref(over, "/response/batch/over".to_string(), problems);
        }
    }
    check_errors(
        file,
        &a.errors,
        &mut |e, t, ptr, problems| match t {
            Trigger::Parameter {
                parameter,
                violation,
                ..
            } => {
                let Some(p) = a.parameter(parameter) else {
                    param_ref(parameter, format!("{ptr}/parameter"), problems);
                    return;
                };
                let possible = match violation {
                    Violation::TooMany => p.max_items.is_some(),
                    Violation::TooFew => p.ty == ParamType::Array,
                    Violation::Missing => p.required,
                    Violation::Format => p.value_format().is_some() || p.references.is_some(),
                    Violation::MalformedJson => p.encoding == Some(ParamEncoding::JsonString),
                    Violation::Duplicate => p.ty == ParamType::Array,
                    Violation::Enum => !p.allowed.is_empty(),
                    Violation::TooLong => {
                        p.max_length.is_some()
                            || p.items.as_ref().is_some_and(|i| i.max_length.is_some())
                            || p.value_format().is_some()
                    }
                    Violation::TooShort => {
                        p.min_length.is_some()
                            || p.items.as_ref().is_some_and(|i| i.min_length.is_some())
                            || p.value_format().is_some()
                    }
                    Violation::OutOfRange => p.minimum.is_some() || p.maximum.is_some(),
                    Violation::Type | Violation::Empty => true,
                };
                if !possible {
                    problems.push(Problem::new(
                        file,
                        format!("{ptr}/violation"),
                        format!(
                            "'{}' cannot happen to parameter '{parameter}' as declared (error {})",
                            violation.as_str(),
                            e.code
                        ),
                        "declare the constraint on the parameter or drop the trigger",
                    ));
                }
            }
            Trigger::OneOf { group, .. } => {
                if !groups.contains(group.as_str()) {
                    problems.push(Problem::new(
                        file,
                        format!("{ptr}/group"),
                        format!("unknown one_of group '{group}'"),
                        format!("use one of {groups:?}"),
                    ));
                }
            }
            Trigger::Precondition { precondition, .. } => {
                if !preconditions.contains(precondition.as_str()) {
                    problems.push(Problem::new(
                        file,
                        format!("{ptr}/precondition"),
                        format!("unknown precondition '{precondition}'"),
                        format!("use one of {preconditions:?}"),
                    ));
                }
            }
            Trigger::Protocol { .. } => {}
        },
        problems,
    );
}
