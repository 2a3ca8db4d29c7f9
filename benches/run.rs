//! `cargo bench --bench run`: the same measurement as `cloudconform bench` (checked cases per
//! second against the embedded emulator, raw emulator requests per second, their ratio).
use cloudconform::generate::{self, GenOptions};
use cloudconform::run::bench;
use cloudconform::spec::SpecSet;
use std::path::PathBuf;
use std::sync::Arc;

fn main() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let specs = Arc::new(SpecSet::load(root.join("specs")).expect("specs load"));
    let cases = generate::generate(&specs, &GenOptions::default()).expect("cases");
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let r = rt
        .block_on(bench::bench(specs, cases, 10, 4, 10000, Default::default()))
        .expect("bench runs");
    println!(
        "checked cases/s: {:.1} ({} cases in {:.2} s); raw requests/s: {:.1} ({} in {:.2} s); ratio {:.3}",
        r.cases_per_second,
        r.cases,
        r.case_seconds,
        r.requests_per_second,
        r.requests,
        r.raw_seconds,
        r.ratio
    );
}
