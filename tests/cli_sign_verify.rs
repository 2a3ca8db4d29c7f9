//! End-to-end tests of `cloudconform sign` and `cloudconform verify` through the built binary.
mod shared_support;
use serde_json::Value;
use std::path::PathBuf;
use std::process::{Command, Output};

const CAPTURES: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../shared/captures/captures.jsonl"
);
const TC3_VECTORS: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../shared/protocol/vectors/tc3-hmac-sha256.json"
);

fn cloudconform(args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_cloudconform"));
    for arg in args.iter().filter(|a| a.contains("/../shared/")) {
        shared_support::require(arg);
    }
    command.args(args);
    for var in [
        "CLOUDCONFORM_ACCESS_KEY_ID",
        "CLOUDCONFORM_SECRET_ACCESS_KEY",
        "CLOUDCONFORM_SECURITY_TOKEN",
    ] {
        command.env_remove(var);
    }
    command.envs(env.iter().copied());
    command.output().expect("binary runs")
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// A scratch directory under the build's target dir, unique per test.
fn scratch(name: &str) -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(name);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[test]
fn verify_accepts_all_captures() {
    let output = cloudconform(
        &["verify", "--captures", CAPTURES],
        &[("CLOUDCONFORM_SECRET_ACCESS_KEY", "SECRETEXAMPLE")],
    );
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let text = stdout(&output);
    assert_eq!(text.matches(": OK (").count(), 64);
    assert!(text.contains("64 verified, 0 failed"));
    assert!(text.contains("seq 42 node-tencent/cvm/DeleteKeyPairs/POST/TC3: OK (TC3-HMAC-SHA256, host signed without port)"));
}

#[test]
fn verify_with_the_wrong_secret_explains_and_exits_1() {
    let output = cloudconform(
        &[
            "verify",
            "--captures",
            CAPTURES,
            "--seq",
            "20",
            "--secret-env",
            "OTHER_SECRET",
        ],
        &[("OTHER_SECRET", "NOTTHESECRET")],
    );
    assert_eq!(output.status.code(), Some(1));
    let text = stdout(&output);
    assert!(
        text.contains("seq 20 py-tea/ecs/DetachKeyPair/v2: FAIL SignatureDoesNotMatch"),
        "{text}"
    );
    assert!(
        text.contains("equal the reference: the secret differs"),
        "{text}"
    );
    assert!(!text.contains("NOTTHESECRET"));
}

#[test]
fn verify_points_at_the_first_differing_line() {
    let dir = scratch("verify_diff");
    let line = shared_support::read(CAPTURES)
        .lines()
        .next()
        .unwrap()
        .to_string();
    let tampered = line.replace("\"application/json\"]", "\"application/jsonx\"]");
    assert_ne!(line, tampered);
    std::fs::write(dir.join("captures.jsonl"), format!("{tampered}\n")).unwrap();
    let reference = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../shared/captures/verification.jsonl"
    );
    std::fs::copy(
        shared_support::require(reference),
        dir.join("verification.jsonl"),
    )
    .unwrap();
    let captures = dir.join("captures.jsonl");
    let output = cloudconform(
        &["verify", "--captures", captures.to_str().unwrap()],
        &[("CLOUDCONFORM_SECRET_ACCESS_KEY", "SECRETEXAMPLE")],
    );
    assert_eq!(output.status.code(), Some(1));
    let text = stdout(&output);
    assert!(text.contains("FAIL AuthFailure.SignatureFailure"), "{text}");
    assert!(
        text.contains("canonical request differs at line 4"),
        "{text}"
    );
    assert!(
        text.contains("computed:  content-type:application/jsonx"),
        "{text}"
    );
    assert!(
        text.contains("reference: content-type:application/json\n"),
        "{text}"
    );

    // Without a reference beside it, the computed strings are shown in full.
    std::fs::remove_file(dir.join("verification.jsonl")).unwrap();
    let output = cloudconform(
        &["verify", "--captures", captures.to_str().unwrap()],
        &[("CLOUDCONFORM_SECRET_ACCESS_KEY", "SECRETEXAMPLE")],
    );
    let text = stdout(&output);
    assert!(
        text.contains("computed canonical request:") && text.contains("computed string to sign:"),
        "{text}"
    );
}

#[test]
fn verify_usage_errors_exit_2_and_name_the_input() {
    let dir = scratch("verify_usage");
    let bad = dir.join("captures.jsonl");
    std::fs::write(&bad, "{\"seq\": 1, \"ts\": 1, \"method\": \"GET\", \"path\": \"/\", \"headers\": [], \"family\": \"tencent\"}\n{broken\n").unwrap();
    let env = [("CLOUDCONFORM_SECRET_ACCESS_KEY", "SECRETEXAMPLE")];
    let output = cloudconform(&["verify", "--captures", bad.to_str().unwrap()], &env);
    assert_eq!(output.status.code(), Some(2));
    assert!(
        stderr(&output).contains("captures.jsonl:2:"),
        "{}",
        stderr(&output)
    );

    let missing = dir.join("absent.jsonl");
    let output = cloudconform(&["verify", "--captures", missing.to_str().unwrap()], &env);
    assert_eq!(output.status.code(), Some(2));
    assert!(stderr(&output).contains("absent.jsonl"));

    let output = cloudconform(&["verify", "--captures", CAPTURES, "--seq", "999"], &env);
    assert_eq!(output.status.code(), Some(2));

    let output = cloudconform(&["verify", "--captures", CAPTURES], &[]);
    assert_eq!(output.status.code(), Some(2));
    assert!(stderr(&output).contains("CLOUDCONFORM_SECRET_ACCESS_KEY"));
}

#[test]
fn sign_reproduces_the_rpc_doc_vector_and_hides_the_secret() {
    let output = cloudconform(
        &[
            "sign",
            "--scheme",
            "rpc",
            "--method",
            "GET",
            "--host",
            "ecs.aliyuncs.com",
            "--action",
            "DescribeDedicatedHosts",
            "--version",
            "2014-05-26",
            "--region",
            "cn-beijing",
            "--timestamp",
            "1678696470",
            "--nonce",
            "edb2b34af0af9a6d14deaf7c1a5315eb",
        ],
        &[
            ("CLOUDCONFORM_ACCESS_KEY_ID", "testid"),
            ("CLOUDCONFORM_SECRET_ACCESS_KEY", "testsecret"),
        ],
    );
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let text = stdout(&output);
    assert!(
        text.contains("== signature\n9NaGiOspFP5UPcwX8Iwt2YJXXuk=\n"),
        "{text}"
    );
    assert!(
        text.contains("GET&%2F&AccessKeyId%3Dtestid%26Action%3DDescribeDedicatedHosts"),
        "{text}"
    );
    assert!(text.contains("Signature=9NaGiOspFP5UPcwX8Iwt2YJXXuk%3D"));
    assert!(!text.contains("testsecret"));
}

#[test]
fn sign_from_a_request_file_reproduces_a_tc3_sdk_vector() {
    let vectors: Value = serde_json::from_str(&shared_support::read(TC3_VECTORS)).unwrap();
    let vector = vectors["vectors"]
        .as_array()
        .unwrap()
        .iter()
        .find(|v| v["id"] == "TC3-SDKPY-ECM-DisassociateInstancesKeyPairs-POST")
        .unwrap();
    let input = &vector["input"];
    let file = serde_json::json!({
        "provider": "tencent",
        "scheme": "tc3",
        "host": input["host"],
        "action": "DisassociateInstancesKeyPairs",
        "version": "2019-07-19",
        "timestamp": input["timestamp"],
        "body": input["body"],
    });
    let dir = scratch("sign_request_file");
    let path = dir.join("request.json");
    std::fs::write(&path, file.to_string()).unwrap();
    let output = cloudconform(
        &["sign", "--request", path.to_str().unwrap()],
        &[
            (
                "CLOUDCONFORM_ACCESS_KEY_ID",
                input["secret_id"].as_str().unwrap(),
            ),
            (
                "CLOUDCONFORM_SECRET_ACCESS_KEY",
                input["secret_key"].as_str().unwrap(),
            ),
        ],
    );
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let text = stdout(&output);
    let canonical = vector["intermediate"]["canonical_request"]
        .as_str()
        .unwrap();
    assert!(
        text.contains(&format!("== canonical request\n{canonical}\n")),
        "{text}"
    );
    assert!(
        text.contains(vector["expected"]["authorization"].as_str().unwrap()),
        "{text}"
    );
    assert!(!text.contains(input["secret_key"].as_str().unwrap()));
}

#[test]
fn sign_usage_errors_exit_2() {
    let env = [
        ("CLOUDCONFORM_ACCESS_KEY_ID", "id"),
        ("CLOUDCONFORM_SECRET_ACCESS_KEY", "s"),
    ];
    let cases: [&[&str]; 4] = [
        &[
            "sign",
            "--provider",
            "tencent",
            "--action",
            "A",
            "--version",
            "V",
        ],
        &[
            "sign",
            "--provider",
            "alibaba",
            "--scheme",
            "tc3",
            "--host",
            "h",
            "--action",
            "A",
            "--version",
            "V",
        ],
        &[
            "sign",
            "--scheme",
            "acs3",
            "--host",
            "h",
            "--action",
            "A",
            "--version",
            "V",
            "--param",
            "novalue",
        ],
        &[
            "sign",
            "--scheme",
            "acs3",
            "--host",
            "h",
            "--action",
            "A",
            "--version",
            "V",
            "--body",
            "[1]",
        ],
    ];
    for args in cases {
        let output = cloudconform(args, &env);
        assert_eq!(output.status.code(), Some(2), "{args:?}");
        assert!(
            stderr(&output).starts_with("error:"),
            "{args:?}: {}",
            stderr(&output)
        );
    }
    let output = cloudconform(
        &[
            "sign",
            "--scheme",
            "acs3",
            "--host",
            "h",
            "--action",
            "A",
            "--version",
            "V",
        ],
        &[],
    );
    assert_eq!(output.status.code(), Some(2));
    assert!(stderr(&output).contains("CLOUDCONFORM_ACCESS_KEY_ID"));
}
