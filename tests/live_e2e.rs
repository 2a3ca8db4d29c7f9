//! The whole live path through the built binary: `cloudconform emulate` served over HTTPS with a
//! certificate from a test CA, reached with `cloudconform run --target live` and `--endpoint`
//! overrides, trusting the CA only through `--ca-cert`, with credentials from each cloud's
//! variables and each cloud CLI's config file.
mod url_support;

use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use url_support::Served;

/// Credential variables a run is given.
type Env<'a> = &'a [(&'a str, &'a str)];

const TLS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/emulator_tls");
const BIN: &str = env!("CARGO_BIN_EXE_cloudconform");

fn serve_https() -> Served {
    // The leaf certificate of the test CA (`--ca-cert` trusts it), not url_support's own.
    let (cert, key) = (
        Path::new(TLS).join("leaf-cert.pem"),
        Path::new(TLS).join("leaf-key.pem"),
    );
    let served = url_support::serve(
        false,
        &[
            "--no-rate-limits",
            "--tls-cert",
            cert.to_str().unwrap(),
            "--tls-key",
            key.to_str().unwrap(),
        ],
    );
    assert!(
        served.url.starts_with("https://127.0.0.1:"),
        "{}",
        served.url
    );
    served
}

fn scratch(name: &str) -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join("live_e2e")
        .join(name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// `cloudconform run` with only the given credential variables and home.
fn run(args: &[&str], env: &[(&str, &str)], home: &Path) -> Output {
    let mut command = Command::new(BIN);
    command.arg("run").args(args);
    for (var, _) in std::env::vars() {
        if var.starts_with("CLOUDCONFORM_")
            || var.starts_with("TENCENTCLOUD_")
            || var.starts_with("ALIBABA_CLOUD_")
        {
            command.env_remove(var);
        }
    }
    command.env("HOME", home).envs(env.iter().copied());
    command.output().expect("run")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Verdicts by case id from a JSON report.
fn verdicts(report: &Path) -> Vec<(String, String)> {
    let v: Value = serde_json::from_str(&std::fs::read_to_string(report).unwrap()).unwrap();
    v["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            let verdict = r["verdict"]["verdict"]
                .as_str()
                .or_else(|| r["verdict"].as_str())
                .map(str::to_string)
                .unwrap_or_else(|| r["verdict"].to_string());
            (r["id"].as_str().unwrap().to_string(), verdict)
        })
        .collect()
}

const TENCENT_CASES: [&str; 3] = [
    "tencent/cvm/DeleteKeyPairs/negative/missing-KeyIds",
    "tencent/cvm/DeleteKeyPairs/state/key-exists/not-found",
    // Creates a key pair with the fixture action, deletes it: mutations over HTTPS.
    "tencent/cvm/DeleteKeyPairs/valid/minimal",
];
const ALIBABA_CASES: [&str; 2] = [
    "alibaba/ecs/DetachKeyPair/negative/missing-KeyPairName",
    "alibaba/ecs/DetachKeyPair/negative/bad-signature",
];

fn args_for<'a>(
    provider: &'a str,
    region: &'a str,
    service_url: &'a str,
    cases: &'a [&'a str],
    report: &'a str,
    ca: Option<&'a str>,
) -> Vec<&'a str> {
    let mut a = vec![
        "--target",
        "live",
        "--provider",
        provider,
        "--region",
        region,
        "--endpoint",
        service_url,
        "--allow-destructive",
        "--report",
        "json",
        "--out",
        report,
    ];
    if let Some(ca) = ca {
        a.extend(["--ca-cert", ca]);
    }
    for c in cases {
        a.extend(["--filter", c]);
    }
    a
}

#[test]
fn live_target_over_https_with_a_test_ca_and_each_credential_source() {
    let served = serve_https();
    let ca = format!("{TLS}/ca.pem");
    let cvm = format!("cvm={}", served.url);
    let ecs = format!("alibaba/ecs={}", served.url);

    // Tencent: tccli's credential file, then the SDK variables.
    let home = scratch("tccli");
    std::fs::create_dir_all(home.join(".tccli")).unwrap();
    std::fs::write(
        home.join(".tccli/default.credential"),
        r#"{"secretId": "AKIDEXAMPLE", "secretKey": "SECRETEXAMPLE"}"#,
    )
    .unwrap();
    let report = home.join("r.json");
    let report_s = report.to_str().unwrap();
    let tencent_sources: [(&[(&str, &str)], &str); 2] = [
        (&[], "tccli profile `default`"),
        (
            &[
                ("TENCENTCLOUD_SECRET_ID", "AKIDEXAMPLE"),
                ("TENCENTCLOUD_SECRET_KEY", "SECRETEXAMPLE"),
            ],
            "TENCENTCLOUD_SECRET_ID",
        ),
    ];
    for (env, source) in tencent_sources {
        let out = run(
            &args_for(
                "tencent",
                "ap-guangzhou",
                &cvm,
                &TENCENT_CASES,
                report_s,
                Some(&ca),
            ),
            env,
            &home,
        );
        let err = text(&out.stderr);
        assert_eq!(out.status.code(), Some(0), "{err}\n{}", text(&out.stdout));
        assert!(
            err.contains(&format!("credentials: tencent from {}", "")),
            "{err}"
        );
        assert!(err.contains(source), "{source}: {err}");
        // The pacing line names the service's action (CVM's limits are not ECM's).
        let pacing = err.lines().find(|l| l.starts_with("pacing: wall"));
        assert!(pacing.is_some_and(|l| l.contains(" tencent/cvm/")), "{err}");
        let v = verdicts(&report);
        for c in TENCENT_CASES {
            assert!(v.iter().any(|(id, _)| id == c), "{c} ran: {v:?}");
        }
        assert!(v.iter().all(|(_, x)| x == "pass"), "{v:?}");
        assert!(!err.contains("SECRETEXAMPLE") && !text(&out.stdout).contains("SECRETEXAMPLE"));
    }

    // Alibaba: the aliyun CLI's config file (profile by name), then the SDK variables.
    let home = scratch("aliyun");
    std::fs::create_dir_all(home.join(".aliyun")).unwrap();
    std::fs::write(
        home.join(".aliyun/config.json"),
        r#"{"current": "other", "profiles": [
            {"name": "other", "mode": "AK", "access_key_id": "AKIDUNKNOWN", "access_key_secret": "x"},
            {"name": "nightly", "mode": "AK", "access_key_id": "AKIDEXAMPLE",
             "access_key_secret": "SECRETEXAMPLE", "region_id": "cn-hangzhou"}]}"#,
    )
    .unwrap();
    // The emulator's default world has this instance without a key; the cases only name it.
    let profile = home.join("profile.json");
    std::fs::write(
        &profile,
        r#"{"region": "cn-hangzhou", "instances": [
            {"service": "ecs", "id": "i-bp1linuxnokey00001", "os": "linux", "state": "Stopped"}]}"#,
    )
    .unwrap();
    let profile_s = profile.to_str().unwrap();
    let report = home.join("r.json");
    let report_s = report.to_str().unwrap();
    let mut file_args = args_for(
        "alibaba",
        "cn-hangzhou",
        &ecs,
        &ALIBABA_CASES,
        report_s,
        Some(&ca),
    );
    file_args.extend(["--cli-profile", "nightly", "--profile", profile_s]);
    let mut env_args = args_for(
        "alibaba",
        "cn-hangzhou",
        &ecs,
        &ALIBABA_CASES,
        report_s,
        Some(&ca),
    );
    env_args.extend(["--profile", profile_s]);
    let alibaba_runs: [(&[&str], Env, &str); 2] = [
        (&file_args, &[], "aliyun profile `nightly`"),
        (
            &env_args,
            &[
                ("ALIBABA_CLOUD_ACCESS_KEY_ID", "AKIDEXAMPLE"),
                ("ALIBABA_CLOUD_ACCESS_KEY_SECRET", "SECRETEXAMPLE"),
            ],
            "ALIBABA_CLOUD_ACCESS_KEY_ID",
        ),
    ];
    for (args, env, source) in alibaba_runs {
        let out = run(args, env, &home);
        let err = text(&out.stderr);
        assert_eq!(out.status.code(), Some(0), "{err}\n{}", text(&out.stdout));
        assert!(err.contains(source), "{source}: {err}");
        let v = verdicts(&report);
        assert!(v.iter().all(|(_, x)| x == "pass"), "{v:?}");
    }

    // Without the CA the endpoint is not trusted: nothing is judged (inconclusive, exit 3).
    let home = scratch("noca");
    let report = home.join("r.json");
    let out = run(
        &args_for(
            "tencent",
            "ap-guangzhou",
            &cvm,
            &TENCENT_CASES[..1],
            report.to_str().unwrap(),
            None,
        ),
        &[
            ("TENCENTCLOUD_SECRET_ID", "AKIDEXAMPLE"),
            ("TENCENTCLOUD_SECRET_KEY", "SECRETEXAMPLE"),
        ],
        &home,
    );
    assert_eq!(out.status.code(), Some(3), "{}", text(&out.stderr));
}

#[test]
fn live_endpoint_usage_errors_name_the_value() {
    let home = scratch("usage");
    let env = [
        ("TENCENTCLOUD_SECRET_ID", "AKIDEXAMPLE"),
        ("TENCENTCLOUD_SECRET_KEY", "SECRETEXAMPLE"),
    ];
    for (bad, expect) in [
        ("cvmhttps://x", "SERVICE=URL"),
        ("cvm=ftp://x", "ftp://x"),
        ("cvn=https://127.0.0.1:1", "`cvn`"),
    ] {
        let out = run(
            &[
                "--target",
                "live",
                "--provider",
                "tencent",
                "--region",
                "ap-guangzhou",
                "--endpoint",
                bad,
            ],
            &env,
            &home,
        );
        assert_eq!(out.status.code(), Some(2));
        assert!(
            text(&out.stderr).contains(expect),
            "{bad}: {}",
            text(&out.stderr)
        );
    }
    // No credentials for the selected provider: named, with where to put them.
    let out = run(
        &[
            "--target",
            "live",
            "--provider",
            "alibaba",
            "--region",
            "cn-hangzhou",
        ],
        &env,
        &home,
    );
    assert_eq!(out.status.code(), Some(2));
    let err = text(&out.stderr);
    assert!(
        err.contains("ALIBABA_CLOUD_ACCESS_KEY_ID") && err.contains("aliyun configure"),
        "{err}"
    );
}

/// `--dry-run` plans without credentials or a reachable target, and `--shard K/N` splits the
/// cases into N disjoint slices that together are the whole run.
#[test]
fn dry_run_plans_and_shards_partition_the_cases() {
    let home = scratch("dry");
    let count = |args: &[&str]| -> usize {
        let out = run(args, &[], &home);
        assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
        let stdout = text(&out.stdout);
        let last = stdout.lines().last().unwrap_or_default().to_string();
        assert!(
            last.contains("expected duration") && last.contains("nothing was sent"),
            "{stdout}"
        );
        last.split_whitespace().next().unwrap().parse().unwrap()
    };
    // Nothing listens on port 1: a dry run must not notice.
    let base = [
        "--dry-run",
        "--target",
        "http://127.0.0.1:1",
        "--region",
        "ap-guangzhou",
    ];
    let all = count(&base);
    let mut sum = 0;
    for k in ["1/3", "2/3", "3/3"] {
        let mut a = base.to_vec();
        a.extend(["--shard", k]);
        sum += count(&a);
    }
    assert_eq!(sum, all);
    let out = run(&["--dry-run", "--shard", "0/3"], &[], &home);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("0/3"));
}

/// The documented example profile is valid against the documented schema and loads; a
/// misspelt operation is refused naming the field.
#[test]
fn example_profile_matches_its_schema() {
    let docs = Path::new(env!("CARGO_MANIFEST_DIR")).join("docs");
    let schema: Value =
        serde_json::from_str(&std::fs::read_to_string(docs.join("profile.schema.json")).unwrap())
            .unwrap();
    let example_path = docs.join("examples/profile.json");
    let example: Value =
        serde_json::from_str(&std::fs::read_to_string(&example_path).unwrap()).unwrap();
    let validator = jsonschema::validator_for(&schema).unwrap();
    assert!(validator.is_valid(&example));
    cloudconform::run::profile::Profile::load(&example_path).unwrap();
    let bad = scratch("badprofile").join("p.json");
    std::fs::write(
        &bad,
        r#"{"region": "r", "instances": [{"service": "cvm", "id": "i", "os": "linux", "allow": ["reboot"]}]}"#,
    )
    .unwrap();
    let e = cloudconform::run::profile::Profile::load(&bad).unwrap_err();
    assert!(
        e.contains("/instances/0/allow") && e.contains("reboot"),
        "{e}"
    );
}
