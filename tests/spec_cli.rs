//! `cloudconform spec show` and `spec list` print what a reader needs from the specs.
use std::process::Command;

fn cloudconform(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_cloudconform"))
        .args(args)
        .arg("--specs")
        .arg(concat!(env!("CARGO_MANIFEST_DIR"), "/specs"))
        .output()
        .expect("run cloudconform");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn row<'a>(out: &'a str, starts: &str) -> &'a str {
    out.lines()
        .find(|l| l.trim_start().starts_with(starts))
        .unwrap_or_else(|| panic!("no row starting with {starts} in:\n{out}"))
}

#[test]
fn show_ecs_detach_lists_errors_limit_and_encoding() {
    let (code, out, err) = cloudconform(&["spec", "show", "alibaba/ecs/2014-05-26/DetachKeyPair"]);
    assert_eq!(code, 0, "{err}");
    // The four error codes of seed 004 with their HTTP status and what provokes them.
    let cases = [
        (
            "InvalidKeyPairName.NotFound",
            "400",
            "precondition key-pair-exists",
        ),
        (
            "InvalidInstanceIds.ValueNotSupported",
            "400",
            "InstanceIds: malformed_json",
        ),
        (
            "DependencyViolation.WindowsInstance",
            "403",
            "precondition instance-is-linux",
        ),
        (
            "InstanceKeyPairLimitExceeded",
            "403",
            "InstanceIds: too_many",
        ),
    ];
    for (code, status, trigger) in cases {
        let line = row(&out, code);
        assert!(line.contains(status), "{code} status {status}: {line}");
        assert!(line.contains(trigger), "{code} trigger {trigger}: {line}");
    }
    let ids = row(&out, "InstanceIds ");
    assert!(ids.contains("json-string"), "{ids}");
    assert!(ids.contains("max 50"), "{ids}");
    assert!(out.contains("region: required (RegionId)"), "{out}");
}

#[test]
fn show_rejects_unknown_action_with_a_hint() {
    let (code, _, err) = cloudconform(&["spec", "show", "alibaba/ecs/2014-05-26/Nope"]);
    assert_eq!(code, 2);
    assert!(
        err.contains("no spec for alibaba/ecs/2014-05-26/Nope"),
        "{err}"
    );
    assert!(err.contains("spec list"), "{err}");
    let (code, _, err) = cloudconform(&["spec", "show", "DetachKeyPair"]);
    assert_eq!(code, 2);
    assert!(
        err.contains("is not provider/service/version/Action"),
        "{err}"
    );
}

#[test]
fn list_names_every_seed_with_its_seed_file() {
    let (code, out, err) = cloudconform(&["spec", "list"]);
    assert_eq!(code, 0, "{err}");
    for (action, seed) in [
        (
            "tencent/ecm/2019-07-19/DisassociateInstancesKeyPairs",
            "000_936c46579ebe04e9.txt",
        ),
        (
            "tencent/cvm/2017-03-12/DisassociateInstancesKeyPairs",
            "001_61d525aad496713c.txt",
        ),
        (
            "tencent/cvm/2017-03-12/DeleteKeyPairs",
            "002_ef0d10082f4668c0.txt",
        ),
        (
            "alibaba/ens/2017-11-10/DetachKeyPair",
            "003_fa4ac0631dc10c31.txt",
        ),
        (
            "alibaba/ecs/2014-05-26/DetachKeyPair",
            "004_a5f1f2946d388a3b.txt",
        ),
    ] {
        let line = row(&out, action);
        assert!(line.contains("seed"), "{line}");
        assert!(line.contains(seed), "{line}");
    }
}

#[test]
fn show_prints_the_providers_discrepancies_with_their_alternatives() {
    let (code, out, err) = cloudconform(&["spec", "show", "tencent/cvm/2017-03-12/DeleteKeyPairs"]);
    assert_eq!(code, 0, "{err}");
    let at = out
        .find("Discrepancies in the tencent docs (every action)")
        .unwrap_or_else(|| panic!("no provider discrepancies in:\n{out}"));
    let provider_part = &out[at..];
    assert!(provider_part.contains("tencent-errors-http-200"), "{out}");
    // A settled condition shows every code a run accepts for it.
    let malformed = provider_part
        .find("tencent-malformed-timestamp")
        .unwrap_or_else(|| panic!("{out}"));
    let rest = &provider_part[malformed..];
    for code in ["InvalidParameterValue", "AuthFailure.SignatureExpire"] {
        assert!(
            rest.contains(&format!("accepted: {code} [")),
            "{code}:\n{rest}"
        );
    }
}
