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
    // Only the credentials a test gives: no variable of any family, an empty home (no tccli or
    // aliyun CLI files).
    for (var, _) in std::env::vars() {
        if var.starts_with("CLOUDCONFORM_")
            || var.starts_with("TENCENTCLOUD_")
            || var.starts_with("ALIBABA_CLOUD_")
        {
            command.env_remove(var);
        }
    }
    command.env("HOME", scratch("empty_home"));
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
        &[
            ("CLOUDCONFORM_ACCESS_KEY_ID", "AKIDEXAMPLE"),
            ("CLOUDCONFORM_SECRET_ACCESS_KEY", "SECRETEXAMPLE"),
        ],
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
        &[
            ("CLOUDCONFORM_ACCESS_KEY_ID", "AKIDEXAMPLE"),
            ("CLOUDCONFORM_SECRET_ACCESS_KEY", "SECRETEXAMPLE"),
        ],
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
        &[
            ("CLOUDCONFORM_ACCESS_KEY_ID", "AKIDEXAMPLE"),
            ("CLOUDCONFORM_SECRET_ACCESS_KEY", "SECRETEXAMPLE"),
        ],
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
    let env = [
        ("CLOUDCONFORM_ACCESS_KEY_ID", "AKIDEXAMPLE"),
        ("CLOUDCONFORM_SECRET_ACCESS_KEY", "SECRETEXAMPLE"),
    ];
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

/// `sign` and `verify` find credentials where the clouds' own tools keep them, say which source
/// they used on stderr, and never print the secret.
#[test]
fn sign_and_verify_read_the_cloud_cli_files_and_variables() {
    let home = scratch("cli_files_home");
    std::fs::create_dir_all(home.join(".tccli")).unwrap();
    std::fs::create_dir_all(home.join(".aliyun")).unwrap();
    std::fs::write(
        home.join(".tccli/default.credential"),
        r#"{"secretId": "AKIDEXAMPLE", "secretKey": "SECRETEXAMPLE"}"#,
    )
    .unwrap();
    std::fs::write(
        home.join(".aliyun/config.json"),
        r#"{"current": "cc", "profiles": [{"name": "cc", "mode": "AK",
            "access_key_id": "AKIDEXAMPLE", "access_key_secret": "SECRETEXAMPLE",
            "region_id": "cn-hangzhou"}]}"#,
    )
    .unwrap();
    let home_var = home.to_str().unwrap();
    let output = cloudconform(&["verify", "--captures", CAPTURES], &[("HOME", home_var)]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    assert!(stdout(&output).contains("64 verified, 0 failed"));
    let err = stderr(&output);
    assert!(
        err.contains("credentials: tencent from tccli profile `default`"),
        "{err}"
    );
    assert!(
        err.contains("credentials: alibaba from aliyun profile `cc`"),
        "{err}"
    );
    assert!(!err.contains("SECRETEXAMPLE") && !stdout(&output).contains("SECRETEXAMPLE"));

    // The cloud's SDK variables win over its CLI file.
    let sign = [
        "sign",
        "--scheme",
        "rpc",
        "--host",
        "ecs.aliyuncs.com",
        "--action",
        "DetachKeyPair",
        "--version",
        "2014-05-26",
        "--param",
        "RegionId=cn-hangzhou",
    ];
    let output = cloudconform(
        &sign,
        &[
            ("HOME", home_var),
            ("ALIBABA_CLOUD_ACCESS_KEY_ID", "LTAIfromenv"),
            ("ALIBABA_CLOUD_ACCESS_KEY_SECRET", "ENVSECRET"),
        ],
    );
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    assert!(stdout(&output).contains("LTAIfromenv"));
    assert!(stderr(&output).contains("ALIBABA_CLOUD_ACCESS_KEY_ID"));
    assert!(!stdout(&output).contains("ENVSECRET") && !stderr(&output).contains("ENVSECRET"));

    // Half a family is an error naming the missing variable, not another account's key.
    let output = cloudconform(
        &sign,
        &[
            ("HOME", home_var),
            ("ALIBABA_CLOUD_ACCESS_KEY_ID", "LTAIfromenv"),
        ],
    );
    assert_eq!(output.status.code(), Some(2));
    assert!(stderr(&output).contains("ALIBABA_CLOUD_ACCESS_KEY_SECRET"));

    // A broken CLI file names the file and never echoes its content.
    std::fs::write(
        home.join(".tccli/default.credential"),
        "{\"secretKey\": \"SECRETEXAMPLE\"",
    )
    .unwrap();
    let output = cloudconform(
        &[
            "sign",
            "--scheme",
            "tc3",
            "--host",
            "cvm.tencentcloudapi.com",
            "--action",
            "A",
            "--version",
            "V",
        ],
        &[("HOME", home_var)],
    );
    assert_eq!(output.status.code(), Some(2));
    assert!(
        stderr(&output).contains("default.credential"),
        "{}",
        stderr(&output)
    );
    assert!(!stderr(&output).contains("SECRETEXAMPLE"));
}
