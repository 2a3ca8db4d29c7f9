//! `cloudconform coverage`: per seed action, each parameter, limit, precondition, effect and
//! documented error code (the action's and its provider's) with the cases that exercise it;
//! anything untested is flagged. Exit 1 when a client-provokable code is untested.
use super::cases_cmd::load_cases;
use super::exit;
use anyhow::Result;
use clap::Args as ClapArgs;
use cloudconform::generate::{Case, Cover, Expect};
use cloudconform::spec::{ActionSpec, ErrorCode, ProtocolCondition, Provider, SpecSet, Trigger};
use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(ClapArgs)]
pub struct Args {
    #[arg(long)]
    pub specs: Option<PathBuf>,
    #[arg(long)]
    pub cases: Option<PathBuf>,
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// List the covering case ids, not only their count.
    #[arg(long)]
    pub verbose: bool,
}

struct Line {
    what: String,
    cases: Vec<String>,
    /// Not expected to be exercised (not client-provokable), with why.
    exempt: Option<String>,
}

fn limits(a: &ActionSpec) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for p in &a.parameters {
        if p.max_items.is_some() {
            out.push((p.name.clone(), "max_items".into()));
        }
        if p.min_items.is_some() || (p.required && p.ty == cloudconform::spec::ParamType::Array) {
            out.push((p.name.clone(), "min_items".into()));
        }
        if p.unique_items || p.ty == cloudconform::spec::ParamType::Array {
            out.push((p.name.clone(), "unique_items".into()));
        }
        if p.max_length.is_some() {
            out.push((p.name.clone(), "max_length".into()));
        }
        if p.value_format().is_some() {
            out.push((p.name.clone(), "format".into()));
        }
    }
    out
}

fn covering<'a>(cases: &'a [&'a Case], pred: impl Fn(&Cover) -> bool) -> Vec<String> {
    cases
        .iter()
        .filter(|c| c.covers.iter().any(&pred))
        .map(|c| c.id.clone())
        .collect()
}

/// Whether every case expecting `code` also accepts another code for the same fault (and no
/// case expects it first or as a per-item result).
fn alternative_only(cases: &[&Case], code: &str) -> bool {
    let expects = |c: &&&Case| c.steps.iter().any(|s| s.expect.codes().any(|x| x == code));
    let first_or_item = |c: &&&Case| {
        c.steps.iter().any(|s| {
            s.expect.codes().next() == Some(code)
                || matches!(&s.expect, Expect::Success { batch: Some(b), .. }
                    if b.failed.iter().any(|f| f.code == code))
        })
    };
    cases.iter().any(|c| expects(&c)) && !cases.iter().any(|c| first_or_item(&c))
}

fn code_lines(codes: &[&ErrorCode], cases: &[&Case]) -> Vec<Line> {
    codes
        .iter()
        .map(|e| Line {
            what: format!(
                "error {} ({}){}",
                e.code,
                e.http_status,
                if alternative_only(cases, &e.code) {
                    " *"
                } else {
                    ""
                }
            ),
            cases: covering(
                cases,
                |c| matches!(c, Cover::Error { code } if code == &e.code),
            ),
            exempt: (!e.provokable).then(|| {
                format!(
                    "not client-provokable: {}",
                    e.reason.clone().unwrap_or_default()
                )
            }),
        })
        .collect()
}

pub fn run(args: Args) -> Result<ExitCode> {
    let (specs, cases) = load_cases(args.specs, args.cases, args.seed)?;
    let mut untested_codes = 0usize;
    let mut untested_other = 0usize;
    let mut by_provider: BTreeMap<Provider, Vec<&Case>> = BTreeMap::new();
    for c in &cases {
        by_provider.entry(c.action.provider).or_default().push(c);
    }
    for action in specs.seeds() {
        let mine: Vec<&Case> = cases.iter().filter(|c| c.action == action.key()).collect();
        outln!("{} ({} cases)", action.key(), mine.len());
        let mut lines: Vec<Line> = Vec::new();
        for p in &action.parameters {
            lines.push(Line {
                what: format!("parameter {}", p.name),
                cases: covering(
                    &mine,
                    |c| matches!(c, Cover::Parameter { name } if name == &p.name),
                ),
                exempt: None,
            });
        }
        for (param, limit) in limits(action) {
            lines.push(Line {
                what: format!("limit {param}.{limit}"),
                cases: covering(&mine, |c| {
                    matches!(c, Cover::Limit { parameter, limit: l } if parameter == &param && l == &limit)
                }),
                exempt: None,
            });
        }
        for g in &action.one_of {
            lines.push(Line {
                what: format!("one-of {}", g.id),
                cases: covering(
                    &mine,
                    |c| matches!(c, Cover::OneOf { group } if group == &g.id),
                ),
                exempt: None,
            });
        }
        for pre in &action.preconditions {
            for satisfied in [true, false] {
                lines.push(Line {
                    what: format!(
                        "precondition {} {}",
                        pre.id,
                        if satisfied { "met" } else { "violated" }
                    ),
                    cases: covering(&mine, |c| {
                        matches!(c, Cover::Precondition { id, satisfied: s } if id == &pre.id && *s == satisfied)
                    }),
                    exempt: None,
                });
            }
        }
        for e in &action.effects {
            lines.push(Line {
                what: format!("effect {}", e.id),
                cases: covering(&mine, |c| matches!(c, Cover::Effect { id } if id == &e.id)),
                exempt: None,
            });
        }
        let own: Vec<&ErrorCode> = action.errors.iter().collect();
        let code_start = lines.len();
        lines.extend(code_lines(&own, &mine));
        print_lines(
            &lines,
            args.verbose,
            code_start,
            &mut untested_codes,
            &mut untested_other,
        );
        outln!();
    }
    for p in specs.providers() {
        let mine = by_provider.get(&p.provider).cloned().unwrap_or_default();
        outln!("{} provider-wide codes ({} cases)", p.provider, mine.len());
        let codes: Vec<&ErrorCode> = p.errors.iter().collect();
        let mut lines = code_lines(&codes, &mine);
        // Throttling needs a documented rate: with none on any seed action of this provider,
        // a throttling-only code cannot be provoked by a client.
        let rated = specs
            .seeds()
            .any(|a| a.provider == p.provider && a.rate_limit.is_some());
        for (line, e) in lines.iter_mut().zip(&codes) {
            let throttle_only = !e.triggers.is_empty()
                && e.triggers.iter().all(|t| {
                    matches!(
                        t,
                        Trigger::Protocol {
                            condition: ProtocolCondition::Throttled,
                            ..
                        }
                    )
                });
            if throttle_only && !rated && line.cases.is_empty() && line.exempt.is_none() {
                line.exempt = Some(
                    "not provokable here: no seed action of this provider documents a rate limit"
                        .into(),
                );
            }
        }
        print_lines(
            &lines,
            args.verbose,
            0,
            &mut untested_codes,
            &mut untested_other,
        );
        outln!();
    }
    outln!("* = expected only as an alternative to another documented code for the same fault");
    outln!(
        "untested: {untested_codes} client-provokable error code(s), {untested_other} other element(s)"
    );
    let _ = SpecSet::default_dir;
    Ok(ExitCode::from(if untested_codes > 0 {
        exit::NONCONFORMANCE
    } else {
        exit::OK
    }))
}

fn print_lines(
    lines: &[Line],
    verbose: bool,
    code_start: usize,
    untested_codes: &mut usize,
    untested_other: &mut usize,
) {
    for (i, l) in lines.iter().enumerate() {
        let mark = match (&l.exempt, l.cases.is_empty()) {
            (Some(_), true) => "  -  ",
            (None, true) => {
                if i >= code_start {
                    *untested_codes += 1;
                } else {
                    *untested_other += 1;
                }
                "UNTESTED"
            }
            _ => "  ok ",
        };
        let detail = match (&l.exempt, l.cases.len()) {
            (Some(why), 0) => why.clone(),
            (_, n) if verbose => format!("{n} case(s): {}", l.cases.join(", ")),
            (_, n) => format!(
                "{n} case(s){}",
                l.cases
                    .first()
                    .map(|c| format!(", e.g. {c}"))
                    .unwrap_or_default()
            ),
        };
        outln!("  {mark:<8} {:<58} {detail}", l.what);
    }
    let _ = BTreeSet::<String>::new();
}
