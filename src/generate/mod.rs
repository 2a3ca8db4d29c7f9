//! Case generation from the specs alone: adding an action means adding a spec file, no code.
//!
//! For every seed action the generator derives four families of cases: `valid` (minimal, full,
//! doc examples, one-of alternatives, every request style and boolean spelling), `boundary`
//! (limits at N and N+1, zero/one items, duplicates, id format edges), `negative` (missing and
//! mistyped parameters, unknown parameters, one-of violations, malformed ids, protocol faults)
//! and `state` (each precondition met and violated). Each case carries its expected outcome,
//! taken from the spec's triggers ([`SpecSet::errors_for_trigger`]) or declared effects.
//! Each error alternative carries its evidence (`documented`, `catalogued`, `inferred`) and
//! source; a case whose rejection precedes every existence check gets a made-up world
//! (`World::made_up`). Hand-written scenarios and saved regressions are loaded from `cases/`
//! ([`load_case_dir`]); `bind` holds the placeholder vocabulary, `explore` random cases and
//! their shrinking (driven by the runner). Depends on `spec` only; generation is deterministic
//! for a seed.
mod base;
pub mod bind;
mod boundary;
pub mod case;
mod common;
mod derived;
pub mod explore;
mod negative;
mod state;
mod valid;
pub mod values;

pub use case::*;
pub use derived::Derived;

use crate::spec::{
    ActionSpec, ErrorStatusRule, ParamType, Parameter, ProviderSpec, Reference, Requirement,
    SpecSet, Trigger,
};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use values::FormatInfo;

/// Options that shape generation.
#[derive(Debug, Clone)]
pub struct GenOptions {
    /// Seed for every generated literal (not-found ids, malformed ids).
    pub seed: u64,
}

impl Default for GenOptions {
    fn default() -> Self {
        GenOptions { seed: 1 }
    }
}

/// Why cases could not be produced.
#[derive(Debug, thiserror::Error)]
pub enum GenerateError {
    #[error("no provider spec for {0}")]
    NoProvider(String),
    #[error("cannot read {path}: {message}")]
    Read { path: String, message: String },
    #[error("{path}: {message}")]
    Invalid { path: String, message: String },
    #[error("duplicate case id {0}")]
    Duplicate(String),
}

/// Every generated case of every seed action, sorted by id.
pub fn generate(specs: &SpecSet, opts: &GenOptions) -> Result<Vec<Case>, GenerateError> {
    let derived = Derived::new(specs);
    let mut out = Vec::new();
    for action in specs.seeds() {
        out.extend(generate_action(specs, &derived, action, opts)?);
    }
    finish(out)
}

/// The generated cases of one action.
pub fn generate_action(
    specs: &SpecSet,
    derived: &Derived,
    action: &ActionSpec,
    opts: &GenOptions,
) -> Result<Vec<Case>, GenerateError> {
    let ctx = Ctx::new(specs, derived, action, opts)?;
    let mut out = Vec::new();
    valid::cases(&ctx, &mut out);
    boundary::cases(&ctx, &mut out);
    negative::cases(&ctx, &mut out);
    common::cases(&ctx, &mut out);
    state::cases(&ctx, &mut out);
    state::mixed_cases(&ctx, &mut out);
    for case in &mut out {
        minimise_world(action, case);
    }
    Ok(out)
}

/// A case whose expected rejection comes from a protocol, parameter or one-of check needs no
/// real resources: every action's `error_precedence` puts those before its preconditions, so
/// well-formed made-up ids give the same answer and the target is left alone — unless an
/// existence check answers with the expected code too (see below).
fn minimise_world(action: &ActionSpec, case: &mut Case) {
    let precondition_last = action
        .error_precedence
        .last()
        .is_none_or(|p| p == "preconditions");
    let rejected = case.steps.len() == 1
        && matches!(
            case.steps[0].expect,
            Expect::Error { .. } | Expect::Rejected { .. }
        );
    let about_state = case
        .covers
        .iter()
        .any(|c| matches!(c, Cover::Precondition { .. }));
    // Made-up ids are safe only when an existence check could not give the expected answer
    // too: where the code is shared (ENS answers an unknown KeyPairId with the same
    // `InvalidParameter.%s`), a service that skipped the check under test would still pass.
    let existence_codes: Vec<&str> = action
        .errors
        .iter()
        .filter(|e| {
            e.triggers.iter().any(|t| {
                matches!(t, Trigger::Precondition { precondition, .. }
                    if action.precondition(precondition)
                        .is_some_and(|p| matches!(p.require, Requirement::Exists(_))))
            })
        })
        .map(|e| e.code.as_str())
        .collect();
    // The code the case is about comes first; later ones are readings the docs also allow
    // (a service treating Region as optional answers the made-up id's not-found code, which
    // is why the missing-region case must keep its made-up ids).
    let shares_existence_code = case
        .steps
        .first()
        .and_then(|s| s.expect.codes().next())
        .is_some_and(|c| existence_codes.contains(&c));
    if precondition_last
        && rejected
        && !about_state
        && !shares_existence_code
        && matches!(case.kind, CaseKind::Boundary | CaseKind::Negative)
        && case.steps[0].caller == Caller::Root
    {
        case.world.made_up = true;
    }
}

/// Sort by id and refuse duplicates.
pub fn finish(mut cases: Vec<Case>) -> Result<Vec<Case>, GenerateError> {
    cases.sort_by(|a, b| a.id.cmp(&b.id));
    for w in cases.windows(2) {
        if w[0].id == w[1].id {
            return Err(GenerateError::Duplicate(w[0].id.clone()));
        }
    }
    Ok(cases)
}

/// Generated cases plus the scenarios and regressions under `cases_dir` (when it exists).
pub fn all_cases(
    specs: &SpecSet,
    opts: &GenOptions,
    cases_dir: Option<&Path>,
) -> Result<Vec<Case>, GenerateError> {
    let mut cases = generate(specs, opts)?;
    if let Some(dir) = cases_dir {
        cases.extend(load_case_dir(&dir.join("scenarios"))?);
        cases.extend(load_case_dir(&dir.join("regressions"))?);
    }
    finish(cases)
}

/// The `cases/` directory next to the specs (or `$CLOUDCONFORM_CASES`).
pub fn default_cases_dir() -> std::path::PathBuf {
    if let Some(dir) = std::env::var_os("CLOUDCONFORM_CASES") {
        return dir.into();
    }
    let local = Path::new("cases");
    if local.is_dir() && Path::new("specs").is_dir() {
        return local.to_path_buf();
    }
    Path::new(env!("CARGO_MANIFEST_DIR")).join("cases")
}

/// Load every `*.json` file of a directory as a case (or an array of cases).
pub fn load_case_dir(dir: &Path) -> Result<Vec<Case>, GenerateError> {
    let mut out = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Ok(out);
    };
    let mut paths: Vec<_> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    paths.sort();
    for path in paths {
        let shown = path
            .file_name()
            .map(|n| {
                format!(
                    "{}/{}",
                    dir.file_name().unwrap_or_default().to_string_lossy(),
                    n.to_string_lossy()
                )
            })
            .unwrap_or_default();
        let text = std::fs::read_to_string(&path).map_err(|e| GenerateError::Read {
            path: shown.clone(),
            message: e.to_string(),
        })?;
        let value: Value = serde_json::from_str(&text).map_err(|e| GenerateError::Invalid {
            path: shown.clone(),
            message: e.to_string(),
        })?;
        let items = match value {
            Value::Array(items) => items,
            other => vec![other],
        };
        for item in items {
            let case: Case = serde_json::from_value(item).map_err(|e| GenerateError::Invalid {
                path: shown.clone(),
                message: e.to_string(),
            })?;
            out.push(case);
        }
    }
    Ok(out)
}

// ---------------------------------------------------------------- shared generation context

/// Everything one action's generators read.
pub(crate) struct Ctx<'a> {
    pub specs: &'a SpecSet,
    pub provider: &'a ProviderSpec,
    pub action: &'a ActionSpec,
    /// The action's spec file relative to the spec root.
    pub file: String,
    pub seed: u64,
    /// Compiled once per spec set ([`Derived`]), borrowed by every context.
    pub derived: &'a Derived,
    pub formats: &'a BTreeMap<String, FormatInfo>,
    /// Request style ids this action accepts, default first.
    pub styles: Vec<String>,
}

impl<'a> Ctx<'a> {
    fn new(
        specs: &'a SpecSet,
        derived: &'a Derived,
        action: &'a ActionSpec,
        opts: &GenOptions,
    ) -> Result<Ctx<'a>, GenerateError> {
        let provider = specs
            .provider(action.provider)
            .ok_or_else(|| GenerateError::NoProvider(action.provider.to_string()))?;
        let formats = derived.formats(action.provider);
        let mut styles: Vec<&crate::spec::RequestStyle> = provider
            .request_styles
            .iter()
            .filter(|s| action.request_styles.is_empty() || action.request_styles.contains(&s.id))
            .collect();
        styles.sort_by_key(|s| !s.default);
        Ok(Ctx {
            specs,
            provider,
            action,
            file: specs.file_of(&action.key()).unwrap_or_default().to_string(),
            seed: opts.seed,
            derived,
            formats,
            styles: styles.into_iter().map(|s| s.id.clone()).collect(),
        })
    }

    pub fn default_style(&self) -> &str {
        self.styles.first().map(String::as_str).unwrap_or("")
    }

    /// `provider/service/Action/kind/name`, with `@style` for a non-default style.
    pub fn id(&self, kind: CaseKind, name: &str, style: Option<&str>) -> String {
        let mut id = format!(
            "{}/{}/{}",
            Case::action_prefix(&self.action.key()),
            kind,
            name
        );
        if let Some(s) = style {
            if s != self.default_style() {
                id.push('@');
                id.push_str(s);
            }
        }
        id
    }

    pub fn salt(&self, parts: &[&str]) -> u64 {
        let seed = self.seed.to_string();
        let mut all = vec![seed.as_str()];
        all.extend_from_slice(parts);
        values::stable_hash(&all)
    }

    pub fn format_of(&self, p: &Parameter) -> Option<&'a FormatInfo> {
        p.value_format().and_then(|f| self.formats.get(f))
    }

    /// The format of a resource's id or name, from any parameter of this provider service
    /// that refers to it.
    pub fn resource_format(
        &self,
        resource: &str,
        by: crate::spec::RefBy,
    ) -> Option<&'a FormatInfo> {
        self.derived.referenced_format(self.action, resource, by)
    }

    pub fn is_region_param(&self, p: &Parameter) -> bool {
        self.action.region.parameter.as_deref() == Some(p.name.as_str())
    }

    /// The business parameter that carries the region (Alibaba `RegionId`), if any.
    pub fn region_param(&self) -> Option<&'a str> {
        let name = self.action.region.parameter.as_deref()?;
        self.action.parameter(name).map(|p| p.name.as_str())
    }

    /// Whether the region travels as a common parameter (Tencent `Region` / `X-TC-Region`).
    pub fn region_is_common(&self) -> bool {
        self.action.region.parameter.as_deref().is_some_and(|n| {
            self.action.parameter(n).is_none()
                && self.provider.common_parameters.iter().any(|c| c.name == n)
        })
    }

    /// The expectation for a trigger: its documented codes with their statuses, or `None` when
    /// the specs document no code for it.
    pub fn expect_trigger(&self, trigger: &Trigger) -> Option<Expect> {
        let mut codes = self.specs.errors_for_trigger(self.action, trigger);
        if codes.is_empty() {
            return None;
        }
        // Where a discrepancy settled the answer, it leads (the rule cited is its code's).
        let discrepancies = self.action.discrepancies.iter();
        if let Some(code) =
            crate::spec::settled(discrepancies.chain(&self.provider.discrepancies), trigger)
        {
            codes.sort_by_key(|c| c.code != code);
        }
        let always_200 = self.provider.http_status.errors == ErrorStatusRule::Always200;
        let one_of = codes
            .iter()
            .map(|e| {
                let declared = e
                    .triggers
                    .iter()
                    .find(|t| crate::spec::trigger_matches(t, trigger, true));
                let (evidence, source) = e.evidence_for(declared);
                ExpectedError {
                    code: e.code.clone(),
                    http_status: if always_200 { 200 } else { e.http_status },
                    evidence,
                    source,
                }
            })
            .collect();
        Some(Expect::Error {
            one_of,
            rule: self.rule_of(&codes[0].code),
        })
    }

    /// `file#/errors/N` of the error entry for `code` (action first, then provider).
    pub fn rule_of(&self, code: &str) -> String {
        if let Some(i) = self.action.errors.iter().position(|e| e.code == code) {
            return format!("{}#/errors/{i}", self.file);
        }
        if let Some(i) = self.provider.errors.iter().position(|e| e.code == code) {
            return format!("{}/provider.json#/errors/{i}", self.provider.provider);
        }
        self.file.clone()
    }

    pub fn param_trigger(&self, p: &str, v: crate::spec::Violation) -> Trigger {
        Trigger::Parameter {
            parameter: p.to_string(),
            violation: v,
            note: None,
            evidence: None,
        }
    }

    /// Whether the style carries parameters as JSON (native types) rather than strings.
    pub fn style_is_json(&self, style: &str) -> bool {
        self.provider
            .request_styles
            .iter()
            .find(|s| s.id == style)
            .is_some_and(|s| s.parameters_in == crate::spec::ParametersIn::JsonBody)
    }

    /// Parameters that name resources, with what they name.
    #[allow(dead_code)]
    pub fn referencing(&self) -> impl Iterator<Item = (&'a Parameter, &'a Reference)> {
        self.action
            .parameters
            .iter()
            .filter_map(|p| p.references.as_ref().map(|r| (p, r)))
    }

    pub fn bool_params(&self) -> impl Iterator<Item = &'a Parameter> {
        self.action
            .parameters
            .iter()
            .filter(|p| p.ty == ParamType::Boolean)
    }

    /// Error codes of this action (and provider) that some trigger names.
    #[allow(dead_code)]
    pub fn provokable_codes(&self) -> BTreeSet<String> {
        self.action
            .errors
            .iter()
            .filter(|e| e.provokable)
            .map(|e| e.code.clone())
            .collect()
    }
}

/// Build a case with the usual single step.
pub(crate) fn single(
    ctx: &Ctx,
    id: String,
    kind: CaseKind,
    title: String,
    world: World,
    step: Step,
    covers: Vec<Cover>,
) -> Case {
    let mut covers = covers;
    for code in step.expect.codes() {
        covers.push(Cover::Error {
            code: code.to_string(),
        });
    }
    if let Expect::Success { batch: Some(b), .. } = &step.expect {
        for f in b.failed.iter().filter(|f| !f.code.is_empty()) {
            covers.push(Cover::Error {
                code: f.code.clone(),
            });
        }
    }
    if let Some(s) = &step.wire.style {
        covers.push(Cover::Style { id: s.clone() });
    }
    covers.sort();
    covers.dedup();
    let destructive = step.expect.is_success()
        && ctx.action.effects.iter().any(|e| {
            matches!(
                e.op,
                crate::spec::EffectOp::Delete | crate::spec::EffectOp::Unbind
            )
        });
    Case {
        id,
        action: ctx.action.key(),
        kind,
        title,
        world,
        steps: vec![step],
        destructive,
        covers,
    }
}

/// Parameters for a fixture call (describe, create, bind...): every required parameter, plus
/// every parameter that names a resource `given` has symbols for (`resource` → symbols),
/// written as placeholders (`${i1}`, `${k1.name}`), and a describe fixture's page size (the
/// largest its spec's `paging` allows).
pub fn fixture_params(
    specs: &SpecSet,
    derived: &Derived,
    fixture: &ActionSpec,
    given: &BTreeMap<String, Vec<String>>,
) -> Option<serde_json::Map<String, Value>> {
    let ctx = Ctx::new(specs, derived, fixture, &GenOptions::default()).ok()?;
    let mut out = serde_json::Map::new();
    for p in &fixture.parameters {
        let named = p.references.as_ref().and_then(|r| {
            given.get(&r.resource).map(|syms| {
                syms.iter()
                    .map(|s| base::placeholder(s, r.by))
                    .collect::<Vec<_>>()
            })
        });
        // One member of an exactly-one group is enough: a fixture sends the first that can
        // be filled (ENS AttachKeyPair refuses KeyPairId with KeyPairName).
        let group_filled = fixture.one_of.iter().any(|g| {
            g.at_most == Some(1)
                && g.parameters.contains(&p.name)
                && g.parameters.iter().any(|q| out.contains_key(q))
        });
        if group_filled {
            continue;
        }
        if let Some(values) = named {
            if values.is_empty() {
                continue;
            }
            let v = if p.ty == ParamType::Array {
                Value::Array(values.clone())
            } else {
                values[0].clone()
            };
            out.insert(p.name.clone(), v);
        } else if let Some(pg) = fixture.paging.as_ref().filter(|pg| pg.size == p.name) {
            // The largest page the spec allows; callers add the page index and follow pages.
            out.insert(p.name.clone(), Value::from(pg.page_size(fixture)));
        } else if p.required {
            let v = if ctx.is_region_param(p) {
                Value::String("${region}".into())
            } else {
                base::synth(&ctx, p)
            };
            out.insert(p.name.clone(), v);
        }
    }
    Some(out)
}
