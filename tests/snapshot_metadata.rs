//! Snapshot metadata does not churn: rewriting the snapshot of a case whose exchange is
//! unchanged (what `cargo insta accept` or a forced update does) gives the same bytes, on any
//! day. A date in the metadata made every rewrite change every file. Its own test binary: it
//! sets insta's environment for the whole process.
use cloudconform::check::snapshot::snapshot_name;
use cloudconform::generate::{self, GenOptions};
use cloudconform::run::expected::ExpectedFailures;
use cloudconform::run::harness::{judge, Harness};
use cloudconform::spec::SpecSet;
use std::path::Path;
use std::sync::Arc;

#[test]
fn rewriting_an_unchanged_snapshot_changes_no_byte() {
    // Before any other thread exists in this binary.
    std::env::set_var("INSTA_UPDATE", "always");
    std::env::set_var("INSTA_FORCE_UPDATE", "1");
    std::env::remove_var("INSTA_FORCE_PASS");
    std::env::remove_var("CI");
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let specs = Arc::new(SpecSet::load(root.join("specs")).unwrap());
    let cases =
        generate::all_cases(&specs, &GenOptions::default(), Some(&root.join("cases"))).unwrap();
    let harness = Harness::start(specs, 1).unwrap();
    let expected = ExpectedFailures::default();
    let scratch = std::env::temp_dir().join(format!("cc-snapmeta-{}", uuid::Uuid::new_v4()));
    let dir = scratch.join("snapshots/emulator");
    std::fs::create_dir_all(&dir).unwrap();
    for id in [
        "tencent/cvm/DeleteKeyPairs/valid/minimal",
        "alibaba/ecs/DetachKeyPair/boundary/InstanceIds-0",
    ] {
        let file = format!("{}.snap", snapshot_name(id));
        let committed = std::fs::read(root.join("snapshots/emulator").join(&file)).unwrap();
        // An old-style date in the copy proves the file really is rewritten, not left alone.
        let text = String::from_utf8(committed.clone()).unwrap();
        let (head, body) = text.split_once("\n---\n").unwrap();
        std::fs::write(
            dir.join(&file),
            format!("{head}\n  date: 2020-01-01\n---\n{body}"),
        )
        .unwrap();
        let case = cases.iter().find(|c| c.id == id).expect(id);
        let result = harness.run_case(case);
        judge(&scratch, "emulator", &expected, case, &result).unwrap();
        let rewritten = std::fs::read(dir.join(&file)).unwrap();
        assert_eq!(
            String::from_utf8_lossy(&rewritten),
            String::from_utf8_lossy(&committed),
            "{id}: the rewritten snapshot differs from the committed one"
        );
    }
    std::fs::remove_dir_all(&scratch).unwrap();
}
