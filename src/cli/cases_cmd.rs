//! `cloudconform cases list|show|counts`: look at the generated cases.
use super::exit;
use anyhow::{anyhow, Context, Result};
use clap::{Args as ClapArgs, Subcommand};
use cloudconform::generate::{self, Case, CaseKind, GenOptions};
use cloudconform::spec::SpecSet;
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(ClapArgs)]
pub struct Args {
    /// Spec directory (default: $CLOUDCONFORM_SPECS, ./specs, or the crate's specs/).
    #[arg(long, global = true)]
    pub specs: Option<PathBuf>,
    /// Case directory with scenarios/ and regressions/ (default: ./cases or the crate's).
    #[arg(long, global = true)]
    pub cases: Option<PathBuf>,
    /// Generation seed.
    #[arg(long, global = true, default_value_t = 1)]
    pub seed: u64,
    #[command(subcommand)]
    pub command: CasesCommand,
}

#[derive(Subcommand)]
pub enum CasesCommand {
    /// One line per case: id, kind, expected outcome.
    List {
        /// Only ids containing this text.
        #[arg(long)]
        filter: Option<String>,
    },
    /// Print one case as JSON.
    Show { id: String },
    /// Case counts per action and kind.
    Counts,
}

/// Load specs and every case (generated, scenarios, regressions).
pub fn load_cases(
    specs: Option<PathBuf>,
    cases: Option<PathBuf>,
    seed: u64,
) -> Result<(SpecSet, Vec<Case>)> {
    let dir = specs.unwrap_or_else(SpecSet::default_dir);
    let set =
        SpecSet::load(&dir).with_context(|| format!("loading specs from {}", dir.display()))?;
    let cases_dir = cases.unwrap_or_else(generate::default_cases_dir);
    let all = generate::all_cases(&set, &GenOptions { seed }, Some(&cases_dir))?;
    Ok((set, all))
}

pub fn run(args: Args) -> Result<ExitCode> {
    let (_, cases) = load_cases(args.specs, args.cases, args.seed)?;
    match args.command {
        CasesCommand::List { filter } => {
            let mut n = 0;
            for c in cases
                .iter()
                .filter(|c| filter.as_ref().is_none_or(|f| c.id.contains(f.as_str())))
            {
                n += 1;
                let expect: Vec<String> = c
                    .steps
                    .iter()
                    .map(|s| s.expect.summary_with_evidence())
                    .collect();
                outln!("{:<72} {}", c.id, expect.join(" ; "));
            }
            eprintln!("{n} case(s)");
            Ok(ExitCode::from(exit::OK))
        }
        CasesCommand::Show { id } => {
            let case = cases
                .iter()
                .find(|c| c.id == id)
                .ok_or_else(|| anyhow!("no case {id} (see `cloudconform cases list`)"))?;
            outln!("{}", serde_json::to_string_pretty(case)?);
            Ok(ExitCode::from(exit::OK))
        }
        CasesCommand::Counts => {
            let mut table: BTreeMap<String, BTreeMap<CaseKind, usize>> = BTreeMap::new();
            for c in &cases {
                *table
                    .entry(c.action.to_string())
                    .or_default()
                    .entry(c.kind)
                    .or_default() += 1;
            }
            out!("{:<56}", "action");
            for k in CaseKind::ALL {
                out!(" {:>10}", k.as_str());
            }
            outln!(" {:>7}", "total");
            let mut totals: BTreeMap<CaseKind, usize> = BTreeMap::new();
            for (action, kinds) in &table {
                out!("{action:<56}");
                for k in CaseKind::ALL {
                    let n = kinds.get(&k).copied().unwrap_or(0);
                    *totals.entry(k).or_default() += n;
                    out!(" {n:>10}");
                }
                outln!(" {:>7}", kinds.values().sum::<usize>());
            }
            out!("{:<56}", "total");
            for k in CaseKind::ALL {
                out!(" {:>10}", totals.get(&k).copied().unwrap_or(0));
            }
            outln!(" {:>7}", cases.len());
            Ok(ExitCode::from(exit::OK))
        }
    }
}
