//! `cloudconform parity`: run each recorded live case (`run --record`) against the embedded
//! emulator and compare the answers case by case (HTTP status and error code of the last
//! step), saying for each difference whether the emulator or the docs would have to change.
use super::cases_cmd::load_cases;
use super::exit;
use anyhow::{anyhow, Result};
use clap::Args as ClapArgs;
use cloudconform::run::harness::Harness;
use cloudconform::run::recorded;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

#[derive(ClapArgs)]
pub struct Args {
    /// Directory written by `run --record`.
    #[arg(long, default_value = "snapshots/live")]
    pub recorded: PathBuf,
    #[arg(long)]
    pub specs: Option<PathBuf>,
    #[arg(long)]
    pub cases: Option<PathBuf>,
}

pub fn run(args: Args) -> Result<ExitCode> {
    let recs = recorded::load(&args.recorded).map_err(|e| anyhow!(e))?;
    if recs.is_empty() {
        return Err(anyhow!(
            "{}: no recorded cases (record them with `run --target live --record`)",
            args.recorded.display()
        ));
    }
    let (specs, cases) = load_cases(args.specs.clone(), args.cases.clone(), 1)?;
    let harness = Harness::start(Arc::new(specs), 2).map_err(|e| anyhow!(e))?;
    let (mut same, mut different, mut skipped) = (0, 0, 0);
    for rec in &recs {
        let Some(case) = cases.iter().find(|c| c.id == rec.case) else {
            eprintln!("{}: no such case any more (skipped)", rec.case);
            skipped += 1;
            continue;
        };
        let live = recorded::recorded_outcome(rec);
        let emulated = recorded::result_outcome(&harness.run_case(case));
        match (live, emulated) {
            (Some(l), Some(e)) if l == e => same += 1,
            (Some(l), Some(e)) => {
                different += 1;
                println!(
                    "DIFF {}: live HTTP {} {} (recorded {}, {}), emulator HTTP {} {}; to change: {}",
                    rec.case,
                    l.0,
                    l.1,
                    rec.provenance.date,
                    rec.provenance.region,
                    e.0,
                    e.1,
                    recorded::who_changes(&rec.verdict)
                );
            }
            _ => {
                eprintln!("{}: no answer to compare (skipped)", rec.case);
                skipped += 1;
            }
        }
    }
    println!("{same} the same, {different} different, {skipped} skipped");
    Ok(ExitCode::from(if different > 0 {
        exit::NONCONFORMANCE
    } else {
        exit::OK
    }))
}
