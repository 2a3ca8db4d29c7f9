//! Every generated case (and every scenario and regression under `cases/`) as its own trial
//! against in-process emulators: `cargo test --test conformance -- alibaba/ens` runs a subset.
//! Snapshots under `snapshots/emulator/` are compared when present
//! (`CLOUDCONFORM_SNAPSHOTS=record INSTA_UPDATE=always` writes them).
use cloudconform::generate::{self, GenOptions};
use cloudconform::run::expected::ExpectedFailures;
use cloudconform::run::harness::Harness;
use cloudconform::spec::SpecSet;
use libtest_mimic::{Arguments, Failed, Trial};
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

static HARNESS: OnceLock<Result<Harness, String>> = OnceLock::new();

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn main() {
    let args = Arguments::from_args();
    let specs = Arc::new(SpecSet::load(root().join("specs")).expect("specs load"));
    let cases_dir = root().join("cases");
    let cases = generate::all_cases(&specs, &GenOptions::default(), Some(&cases_dir))
        .expect("cases generate");
    let expected = Arc::new(
        ExpectedFailures::load(&cases_dir.join("expected-failures"), "emulator")
            .expect("expected-failure list parses"),
    );
    // nextest runs each trial in its own process: one emulator is enough there.
    let workers = if std::env::var_os("NEXTEST").is_some() {
        1
    } else {
        std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(2)
            .max(2)
    };
    let trials = cases
        .into_iter()
        .map(|case| {
            let specs = specs.clone();
            let expected = expected.clone();
            let kind = case.kind.as_str();
            Trial::test(case.id.clone(), move || {
                let harness = HARNESS
                    .get_or_init(|| Harness::start(specs.clone(), workers))
                    .as_ref()
                    .map_err(|e| Failed::from(format!("emulator did not start: {e}")))?;
                let result = harness.run_case(&case);
                cloudconform::run::harness::judge(
                    Path::new(env!("CARGO_MANIFEST_DIR")),
                    "emulator",
                    &expected,
                    &case,
                    &result,
                )
                .map_err(Failed::from)
            })
            .with_kind(kind)
        })
        .collect();
    libtest_mimic::run(&args, trials).exit()
}
