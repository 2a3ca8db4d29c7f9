//! `cloudconform spec lint|list|show`: look at the specs.
use super::exit;
use anyhow::{anyhow, Context, Result};
use clap::{Args as ClapArgs, Subcommand};
use cloudconform::spec::{
    ActionKey, ActionSpec, Discrepancy, Observe, ParamType, Requirement, Role, SpecSet, Subject,
    Trigger,
};
use std::fmt::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(ClapArgs)]
pub struct Args {
    /// Spec directory (default: $CLOUDCONFORM_SPECS, ./specs, or the crate's specs/).
    #[arg(long, global = true)]
    pub specs: Option<PathBuf>,
    #[command(subcommand)]
    pub command: SpecCommand,
}

#[derive(Subcommand)]
pub enum SpecCommand {
    /// Validate every spec against the meta-schema and check cross-references.
    Lint,
    /// List every action spec.
    List,
    /// Print one action as readable tables: provider/service/version/Action.
    Show { action: String },
}

pub fn run(args: Args) -> Result<ExitCode> {
    let dir = args.specs.unwrap_or_else(SpecSet::default_dir);
    match args.command {
        SpecCommand::Lint => {
            let problems = SpecSet::lint(&dir)?;
            if problems.is_empty() {
                let set = SpecSet::load(&dir)?;
                outln!(
                    "{}: {} provider spec(s), {} action spec(s), no problems",
                    dir.display(),
                    set.providers().count(),
                    set.actions().count()
                );
                Ok(ExitCode::from(exit::OK))
            } else {
                for p in &problems {
                    outln!("{p}");
                }
                eprintln!("{} problem(s) in {}", problems.len(), dir.display());
                Ok(ExitCode::from(exit::NONCONFORMANCE))
            }
        }
        SpecCommand::List => {
            let set = load(&dir)?;
            outln!(
                "{:<58} {:<8} {:>6} {:>6}  source",
                "action",
                "role",
                "params",
                "errors"
            );
            for a in set.actions() {
                outln!(
                    "{:<58} {:<8} {:>6} {:>6}  {}",
                    a.key().to_string(),
                    match a.role {
                        Role::Seed => "seed",
                        Role::Fixture => "fixture",
                    },
                    a.parameters.len(),
                    a.errors.len(),
                    a.source.seed.as_deref().unwrap_or(&a.source.url)
                );
            }
            Ok(ExitCode::from(exit::OK))
        }
        SpecCommand::Show { action } => {
            let set = load(&dir)?;
            let key = ActionKey::parse(&action).ok_or_else(|| {
                anyhow!("'{action}' is not provider/service/version/Action (e.g. alibaba/ecs/2014-05-26/DetachKeyPair)")
            })?;
            let spec = set.action(&key).ok_or_else(|| {
                anyhow!("no spec for {key}; `cloudconform spec list` shows the known actions")
            })?;
            out!("{}", render(&set, spec));
            Ok(ExitCode::from(exit::OK))
        }
    }
}

fn load(dir: &std::path::Path) -> Result<SpecSet> {
    SpecSet::load(dir).with_context(|| {
        format!(
            "loading specs from {} (run `cloudconform spec lint` for details)",
            dir.display()
        )
    })
}

fn trigger_text(t: &Trigger) -> String {
    match t {
        Trigger::Parameter {
            parameter,
            violation,
            ..
        } => format!("{parameter}: {}", violation.as_str()),
        Trigger::OneOf {
            group, violation, ..
        } => format!("one-of {group}: {violation:?}").to_lowercase(),
        Trigger::Precondition { precondition, .. } => format!("precondition {precondition}"),
        Trigger::Protocol { condition, .. } => format!("protocol: {}", condition.as_str()),
    }
}

fn subject_text(s: &Subject) -> String {
    match s {
        Subject::Parameter { parameter } => parameter.clone(),
        Subject::Caller { .. } => "caller".into(),
    }
}

/// The `spec show` text: parameters, limits, preconditions, effects, errors, discrepancies.
pub fn render(set: &SpecSet, a: &ActionSpec) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "{}  ({:?})", a.key(), a.role);
    let _ = writeln!(out, "  {}", a.summary);
    let _ = writeln!(out, "  source: {}", a.source.url);
    if let Some(seed) = &a.source.seed {
        let _ = writeln!(out, "  seed:   {seed}");
    }
    let _ = writeln!(out, "  endpoints: {}", a.endpoints.join(", "));
    let _ = writeln!(out, "  methods: {}", a.methods.join(", "));
    let _ = writeln!(
        out,
        "  region: {}{}",
        if a.region.required {
            "required"
        } else {
            "not required"
        },
        a.region
            .parameter
            .as_deref()
            .map(|p| format!(" ({p})"))
            .unwrap_or_default()
    );
    if !a.region.optional_by.is_empty() {
        let _ = writeln!(
            out,
            "  region not required per: {}",
            a.region.optional_by.join(", ")
        );
    }
    if let Some(l) = &a.region.listed_regions {
        let _ = writeln!(
            out,
            "  regions listed{}: {} ({})",
            if l.complete { "" } else { " (incomplete)" },
            l.regions.join(", "),
            l.source
        );
    }
    if let Some(pg) = &a.paging {
        let _ = writeln!(
            out,
            "  paging: {} ({:?}), {} up to {}, items {}",
            pg.index,
            pg.index_kind,
            pg.size,
            pg.page_size(a),
            pg.items
        );
    }
    match &a.rate_limit {
        Some(r) => {
            let _ = writeln!(out, "  rate limit: {}/s ({})", r.per_second, r.source);
        }
        None => {
            let _ = writeln!(out, "  rate limit: not documented");
        }
    }

    let _ = writeln!(out, "\nParameters");
    let _ = writeln!(
        out,
        "  {:<14} {:<9} {:<8} {:<12} {:<10} format / rules",
        "name", "type", "required", "encoding", "limits"
    );
    for p in &a.parameters {
        let ty = match p.ty {
            ParamType::Array => format!(
                "[{}]",
                match p.items.as_ref().map(|i| i.ty) {
                    Some(ParamType::Integer) => "integer",
                    Some(ParamType::Object) => "object",
                    _ => "string",
                }
            ),
            ParamType::String => "string".into(),
            ParamType::Integer => "integer".into(),
            ParamType::Boolean => "boolean".into(),
            ParamType::Object => "object".into(),
        };
        let encoding = p
            .encoding
            .map(|e| format!("{e:?}").to_lowercase())
            .map(|e| match e.as_str() {
                "jsonstring" => "json-string".to_string(),
                "repeatlist" => "repeat-list".to_string(),
                "commajoined" => "comma-joined".to_string(),
                _ => e,
            })
            .unwrap_or_else(|| "-".into());
        let mut limits = Vec::new();
        if let Some(n) = p.min_items {
            limits.push(format!("min {n}"));
        }
        if let Some(n) = p.max_items {
            limits.push(format!("max {n}"));
        }
        if let Some(n) = p.max_length {
            limits.push(format!("len<={n}"));
        }
        let mut rules = Vec::new();
        if let Some(f) = p.value_format() {
            let pattern = set
                .provider(a.provider)
                .and_then(|pr| pr.formats.get(f))
                .map(|fm| format!(" {}", fm.pattern))
                .unwrap_or_default();
            rules.push(format!("{f}{pattern}"));
        }
        if p.unique_items {
            rules.push("unique".into());
        }
        if !p.allowed.is_empty() {
            rules.push(format!(
                "one of {}",
                p.allowed
                    .iter()
                    .map(|v| v.to_string())
                    .collect::<Vec<_>>()
                    .join("|")
            ));
        }
        if let Some(d) = &p.default {
            rules.push(format!("default {d}"));
        }
        if let Some(d) = &p.deprecated {
            rules.push(format!("deprecated: {d}"));
        }
        let _ = writeln!(
            out,
            "  {:<14} {:<9} {:<8} {:<12} {:<10} {}",
            p.name,
            ty,
            if p.required { "yes" } else { "no" },
            encoding,
            if limits.is_empty() {
                "-".into()
            } else {
                limits.join(",")
            },
            rules.join("; ")
        );
    }
    for g in &a.one_of {
        let _ = writeln!(
            out,
            "  one-of {}: {} (at least {}, at most {})",
            g.id,
            g.parameters.join(" | "),
            g.at_least,
            g.at_most
                .map(|n| n.to_string())
                .unwrap_or_else(|| "any".into())
        );
    }

    if !a.preconditions.is_empty() {
        let _ = writeln!(out, "\nPreconditions");
        for p in &a.preconditions {
            let req = match &p.require {
                Requirement::Exists(_) => "exists".to_string(),
                Requirement::StateIn(s) => format!("state in {}", s.join("|")),
                Requirement::OsIn(s) => format!("os in {}", s.join("|")),
                Requirement::BoundTo { parameter } => format!("bound to {parameter}"),
                Requirement::NotInUse(s) => format!("not used by {}", s.join("|")),
                Requirement::Allowed(_) => "allowed by policy".to_string(),
                Requirement::Unique(_) => "unique".to_string(),
            };
            let unless = p
                .unless
                .as_ref()
                .map(|u| format!(" unless {}={}", u.parameter, u.equals))
                .unwrap_or_default();
            let scope = match &p.item_failure {
                Some(f) => format!("per item ({})", f.code),
                None => "request".into(),
            };
            let _ = writeln!(
                out,
                "  {:<28} {}: {req}{unless}  [{scope}]",
                p.id,
                subject_text(&p.subject)
            );
        }
    }
    if !a.effects.is_empty() {
        let _ = writeln!(out, "\nEffects");
        for e in &a.effects {
            let observe = match &e.observe {
                Some(Observe::Action { action, select }) => {
                    format!("observed via {action} {select}")
                }
                Some(Observe::Unobservable { unobservable }) => {
                    format!("unobservable: {unobservable}")
                }
                None => "not observed".into(),
            };
            let _ = writeln!(
                out,
                "  {:<28} {:?}: {}  ({observe})",
                e.id, e.op, e.description
            );
        }
    }

    let _ = writeln!(out, "\nError codes");
    let _ = writeln!(out, "  {:<52} {:>4}  trigger", "code", "HTTP");
    for e in &a.errors {
        let trig = if e.provokable {
            e.triggers
                .iter()
                .map(trigger_text)
                .collect::<Vec<_>>()
                .join("; ")
        } else {
            format!("not provokable: {}", e.reason.as_deref().unwrap_or(""))
        };
        let _ = writeln!(out, "  {:<52} {:>4}  {trig}", e.code, e.http_status);
    }
    if !a.error_precedence.is_empty() {
        let _ = writeln!(out, "  precedence: {}", a.error_precedence.join(" > "));
    }
    if !a.hidden_parameters.is_empty() {
        let _ = writeln!(
            out,
            "\nHidden parameters (accepted, not on the page; never sent)"
        );
        for h in &a.hidden_parameters {
            let _ = writeln!(out, "  {:<22} {:?}  {}", h.name, h.ty, h.source);
        }
    }
    discrepancies(&mut out, "Discrepancies in the docs", &a.discrepancies);
    // The provider's own (the envelope, the signing schemes, the common codes) bear on every
    // one of its actions, so a reader of one action sees them too.
    if let Some(p) = set.provider(a.provider) {
        discrepancies(
            &mut out,
            &format!("Discrepancies in the {} docs (every action)", a.provider),
            &p.discrepancies,
        );
    }
    out
}

fn discrepancies(out: &mut String, title: &str, list: &[Discrepancy]) {
    if list.is_empty() {
        return;
    }
    let _ = writeln!(out, "\n{title}");
    for d in list {
        let _ = writeln!(
            out,
            "  {}: {}\n    treated as: {}",
            d.id, d.summary, d.truth
        );
        for alt in &d.alternatives {
            let _ = writeln!(
                out,
                "    accepted: {} [{}] {}",
                alt.code,
                alt.evidence.as_str(),
                alt.reading
            );
        }
    }
}
