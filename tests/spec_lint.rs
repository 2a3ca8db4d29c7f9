//! `cloudconform spec lint` on the repository's specs and on copies with injected faults:
//! every fault must be reported with the file, the JSON pointer and the reason.
use std::path::{Path, PathBuf};
use std::process::Command;

fn specs_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("specs")
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.path().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

fn lint(dir: &Path) -> (i32, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_cloudconform"))
        .args(["spec", "lint", "--specs"])
        .arg(dir)
        .output()
        .expect("run cloudconform");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
    )
}

const ECS: &str = "alibaba/ecs/2014-05-26/DetachKeyPair.json";

fn edit_json(dir: &Path, file: &str, f: impl FnOnce(&mut serde_json::Value)) {
    let path = dir.join(file);
    let mut v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    f(&mut v);
    std::fs::write(&path, serde_json::to_string_pretty(&v).unwrap()).unwrap();
}

#[test]
fn repository_specs_lint_clean() {
    let (code, out) = lint(&specs_dir());
    assert_eq!(code, 0, "spec lint failed on the repository:\n{out}");
    assert!(out.contains("no problems"), "{out}");
}

#[test]
fn missing_required_field_is_reported_with_pointer() {
    let tmp = tempfile::tempdir().unwrap();
    copy_dir(&specs_dir(), tmp.path());
    edit_json(tmp.path(), ECS, |v| {
        v["parameters"][2]
            .as_object_mut()
            .unwrap()
            .remove("required");
    });
    let (code, out) = lint(tmp.path());
    assert_eq!(code, 1, "{out}");
    let line = out
        .lines()
        .find(|l| l.starts_with(ECS) && l.contains("/parameters/2"))
        .unwrap_or_else(|| panic!("no problem for /parameters/2 in:\n{out}"));
    assert!(
        line.contains("\"required\" is a required property"),
        "{line}"
    );
    assert!(
        line.contains("fix: add the required field \"required\""),
        "{line}"
    );
}

#[test]
fn bad_json_is_reported_with_line_and_column() {
    let tmp = tempfile::tempdir().unwrap();
    copy_dir(&specs_dir(), tmp.path());
    let path = tmp.path().join(ECS);
    let text = std::fs::read_to_string(&path).unwrap();
    std::fs::write(
        &path,
        text.replacen("\"kind\": \"action\",", "\"kind\": \"action\"", 1),
    )
    .unwrap();
    let (code, out) = lint(tmp.path());
    assert_eq!(code, 1, "{out}");
    let line = out.lines().find(|l| l.starts_with(ECS)).expect(&out);
    assert!(line.contains("invalid JSON at line 4"), "{line}");
    assert!(line.contains("fix the JSON syntax"), "{line}");
}

#[test]
fn trigger_naming_unknown_parameter_is_reported() {
    let tmp = tempfile::tempdir().unwrap();
    copy_dir(&specs_dir(), tmp.path());
    let mut pointer = String::new();
    edit_json(tmp.path(), ECS, |v| {
        let errors = v["errors"].as_array_mut().unwrap();
        let i = errors
            .iter()
            .position(|e| e["code"] == "InstanceKeyPairLimitExceeded")
            .unwrap();
        errors[i]["triggers"][0]["parameter"] = "InstanceIdz".into();
        pointer = format!("/errors/{i}/triggers/0/parameter");
    });
    let (code, out) = lint(tmp.path());
    assert_eq!(code, 1, "{out}");
    let line = out
        .lines()
        .find(|l| l.starts_with(&format!("{ECS}: {pointer}")))
        .unwrap_or_else(|| panic!("no problem at {pointer} in:\n{out}"));
    assert!(line.contains("unknown parameter 'InstanceIdz'"), "{line}");
    assert!(
        line.contains("InstanceIds"),
        "the fix lists the real parameters: {line}"
    );
}

#[test]
fn dangling_ref_is_reported() {
    let tmp = tempfile::tempdir().unwrap();
    copy_dir(&specs_dir(), tmp.path());
    edit_json(tmp.path(), ECS, |v| {
        v["response"]["schema"]["properties"]["RequestId"]["$ref"] =
            "../../provider.json#/$defs/no_such_def".into();
    });
    let (code, out) = lint(tmp.path());
    assert_eq!(code, 1, "{out}");
    let line = out
        .lines()
        .find(|l| l.contains("/response/schema/properties/RequestId/$ref"))
        .unwrap_or_else(|| panic!("no $ref problem in:\n{out}"));
    assert!(line.starts_with(ECS), "{line}");
    assert!(
        line.contains("alibaba/provider.json has nothing at /$defs/no_such_def"),
        "{line}"
    );
}

#[test]
fn unknown_precondition_and_format_are_reported() {
    let tmp = tempfile::tempdir().unwrap();
    copy_dir(&specs_dir(), tmp.path());
    edit_json(tmp.path(), ECS, |v| {
        v["parameters"][0]["format"] = "no-such-format".into();
        let errors = v["errors"].as_array_mut().unwrap();
        let i = errors
            .iter()
            .position(|e| e["code"] == "InvalidKeyPairName.NotFound")
            .unwrap();
        errors[i]["triggers"][0]["precondition"] = "nope".into();
    });
    let (code, out) = lint(tmp.path());
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("/parameters/0/format: unknown format 'no-such-format'"),
        "{out}"
    );
    assert!(out.contains("unknown precondition 'nope'"), "{out}");
}

#[test]
fn spec_files_stored_under_the_wrong_path_are_reported() {
    let tmp = tempfile::tempdir().unwrap();
    copy_dir(&specs_dir(), tmp.path());
    std::fs::rename(
        tmp.path().join(ECS),
        tmp.path().join("alibaba/ecs/2014-05-26/Detach.json"),
    )
    .unwrap();
    let (code, out) = lint(tmp.path());
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("move it to alibaba/ecs/2014-05-26/DetachKeyPair.json"),
        "{out}"
    );
}

/// A discrepancy about a protocol condition lists every answer the docs allow; an alternative
/// the harness would not accept (no trigger on the condition), one whose evidence disagrees
/// with its trigger's, and a code answering the condition that is missing from the list are
/// each reported.
#[test]
fn discrepancy_alternatives_must_match_the_triggers() {
    let tmp = tempfile::tempdir().unwrap();
    copy_dir(&specs_dir(), tmp.path());
    let file = "tencent/provider.json";
    edit_json(tmp.path(), file, |v| {
        let errors = v["errors"].as_array_mut().unwrap();
        // InvalidParameter no longer answers a malformed timestamp.
        let invalid = errors
            .iter_mut()
            .find(|e| e["code"] == "InvalidParameter")
            .unwrap();
        invalid["triggers"]
            .as_array_mut()
            .unwrap()
            .retain(|t| t["condition"] != "malformed_timestamp");
        let ds = v["discrepancies"].as_array_mut().unwrap();
        let d = ds
            .iter_mut()
            .find(|d| d["condition"] == "malformed_timestamp")
            .unwrap();
        // The settled answer claims a stronger footing than its trigger.
        d["alternatives"][0]["evidence"] = "documented".into();
        // SignatureExpire still answers the condition but is left out.
        let last = d["alternatives"].as_array_mut().unwrap().pop().unwrap();
        assert_eq!(last["code"], "AuthFailure.SignatureExpire");
    });
    let (code, out) = lint(tmp.path());
    assert_eq!(code, 1, "{out}");
    for needle in [
        "'InvalidParameter' is not listed with a 'malformed_timestamp' protocol trigger",
        "the alternative says 'documented' but the trigger of 'InvalidParameterValue' rests on 'inferred'",
        "'AuthFailure.SignatureExpire' answers 'malformed_timestamp' but is not among the alternatives",
    ] {
        assert!(
            out.lines().any(|l| l.starts_with(file) && l.contains(needle)),
            "no `{needle}` in:\n{out}"
        );
    }
}
