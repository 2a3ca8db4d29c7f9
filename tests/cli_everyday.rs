//! Everyday use of the built binary (issue 8): what a script pipes, what a user mistypes, and
//! what a failing run tells them. Every target here is a loopback address.
use cloudconform::emulator::{Emulator, EmulatorConfig, EmulatorHandle};
use serde_json::Value;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};

/// A command line of the built binary with no credentials or cloudconform settings inherited
/// from the environment (and no proxy unless a test sets one).
fn command(args: &[&str]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_cloudconform"));
    command.args(args);
    for (name, _) in std::env::vars() {
        if name.starts_with("CLOUDCONFORM_") || name.to_ascii_lowercase().ends_with("_proxy") {
            command.env_remove(name);
        }
    }
    command
}

fn run(args: &[&str], env: &[(&str, &str)]) -> Output {
    command(args)
        .envs(env.iter().copied())
        .output()
        .expect("the binary runs")
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("cc-everyday-{name}-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

const FEW: &str = "tencent/cvm/DeleteKeyPairs/valid/";
const LIVE_CREDENTIALS: [(&str, &str); 2] = [
    ("CLOUDCONFORM_ACCESS_KEY_ID", "AKIDEXAMPLE"),
    ("CLOUDCONFORM_SECRET_ACCESS_KEY", "SECRETEXAMPLE"),
];

#[test]
fn a_report_on_stdout_is_the_report_alone() {
    let o = run(&["run", "--filter", FEW, "--report", "json"], &[]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let report: Value = serde_json::from_slice(&o.stdout).expect("stdout is one JSON document");
    assert_eq!(report["summary"]["passed"], report["summary"]["total"]);
    // The table and the verdict line went to stderr.
    assert!(stderr(&o).contains("passed, 0 failed, 0 inconclusive in"));

    let o = run(
        &["run", "--filter", FEW, "--report", "junit", "--out", "-"],
        &[],
    );
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let xml = stdout(&o);
    assert!(xml.starts_with("<?xml"), "{xml}");
    assert!(xml.trim_end().ends_with("</testsuites>"), "{xml}");
}

#[test]
fn junit_has_times_timestamps_and_the_exchange() {
    let dir = scratch("junit");
    let out = dir.join("r.xml");
    let o = run(
        &[
            "run",
            "--filter",
            FEW,
            "--report",
            "junit",
            "--out",
            out.to_str().unwrap(),
        ],
        &[],
    );
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let xml = std::fs::read_to_string(&out).unwrap();
    let suite = xml
        .lines()
        .find(|l| l.trim_start().starts_with("<testsuite "))
        .expect("a test suite");
    assert!(
        suite.contains(" time=\"") && suite.contains(" timestamp=\""),
        "{suite}"
    );
    assert!(
        xml.contains("<system-out>step 0 DeleteKeyPairs\n&gt; POST /"),
        "{xml}"
    );
    assert!(xml.contains("Authorization: [redacted]"));
    assert!(!xml.contains("SECRETEXAMPLE"));
    // With the report in a file, the table is on stdout, ending with the verdict line.
    let last = stdout(&o).lines().last().unwrap_or_default().to_string();
    let words: Vec<&str> = last.split(' ').collect();
    assert_eq!(
        (words[1], words[3], words[5], words[6], words[8]),
        ("passed,", "failed,", "inconclusive", "in", "s"),
        "{last}"
    );
    assert!(words[7].parse::<f64>().is_ok(), "{last}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_closed_pipe_ends_quietly() {
    for args in [
        &["cases", "list"][..],
        &["cases", "counts"],
        &["spec", "list"],
        &["coverage"],
        &["run", "--filter", FEW],
    ] {
        let mut child = command(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        // The reader goes away before the command has loaded its specs, so its first write
        // meets a closed pipe (as `| head -1` does after one line).
        drop(child.stdout.take());
        let status = child.wait().unwrap();
        let mut err = String::new();
        child
            .stderr
            .take()
            .unwrap()
            .read_to_string(&mut err)
            .unwrap();
        assert_eq!(status.code(), Some(0), "{args:?}: {err}");
        assert!(!err.contains("panicked"), "{args:?}: {err}");
    }
}

#[test]
fn a_proxy_variable_does_not_change_an_emulator_run() {
    let dead = [
        ("HTTP_PROXY", "http://127.0.0.1:9"),
        ("http_proxy", "http://127.0.0.1:9"),
        ("HTTPS_PROXY", "http://127.0.0.1:9"),
        ("ALL_PROXY", "http://127.0.0.1:9"),
    ];
    let o = run(&["run", "--filter", FEW], &dead);
    assert_eq!(o.status.code(), Some(0), "{}{}", stdout(&o), stderr(&o));
}

/// Serve an emulator on loopback for the length of `body` (it runs the CLI on a blocking
/// thread while the emulator answers).
fn with_emulator<T: Send + 'static>(
    verify_signatures: bool,
    body: impl FnOnce(&EmulatorHandle) -> T + Send,
) -> T {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let mut config = EmulatorConfig {
        rate_limits: false,
        ..EmulatorConfig::default()
    };
    config.auth.verify_signatures = verify_signatures;
    let emu = rt.block_on(Emulator::start(config)).unwrap();
    let out = body(&emu);
    rt.block_on(emu.shutdown()).unwrap();
    out
}

#[test]
fn a_loopback_live_target_is_not_proxied() {
    with_emulator(true, |emu| {
        let mut env = LIVE_CREDENTIALS.to_vec();
        env.push(("HTTP_PROXY", "http://127.0.0.1:9"));
        let url = emu.url();
        let o = run(
            &[
                "run",
                "--target",
                &url,
                "--region",
                "ap-guangzhou",
                "--allow-destructive",
                "--filter",
                "tencent/cvm/DeleteKeyPairs/valid/minimal",
            ],
            &env,
        );
        assert_eq!(o.status.code(), Some(0), "{}{}", stdout(&o), stderr(&o));
    });
}

#[test]
fn a_remote_live_target_goes_through_the_proxy() {
    // A fake proxy on loopback: it records the request line and answers 502.
    let proxy = TcpListener::bind("127.0.0.1:0").unwrap();
    let proxy_addr = proxy.local_addr().unwrap();
    let proxy_url = format!("http://{proxy_addr}");
    let seen = std::thread::spawn(move || {
        let (mut stream, _) = proxy.accept().unwrap();
        let mut line = String::new();
        BufReader::new(stream.try_clone().unwrap())
            .read_line(&mut line)
            .unwrap();
        let _ = stream.write_all(b"HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\n\r\n");
        line
    });
    let mut env = LIVE_CREDENTIALS.to_vec();
    env.push(("HTTP_PROXY", &proxy_url));
    let o = run(
        &[
            "run",
            "--target",
            "http://cvm.cloudconform-test.invalid",
            "--region",
            "ap-guangzhou",
            "--workers",
            "1",
            "--allow-destructive",
            "--timeout",
            "5",
            "--filter",
            "tencent/cvm/DeleteKeyPairs/valid/minimal",
        ],
        &env,
    );
    // Had the run not used the proxy, nothing would have connected: unblock the accept.
    let _ = std::net::TcpStream::connect(proxy_addr);
    let line = seen.join().unwrap();
    // The absolute-form request line is what a client sends to a proxy (the first request may
    // be the control-API probe or the first fixture call).
    assert!(
        line.contains(" http://cvm.cloudconform-test.invalid/"),
        "{line:?}\n{}",
        stderr(&o)
    );
}

#[test]
fn an_unreachable_target_stops_early_with_one_line_and_exit_3() {
    // A port nothing listens on: bind one, note it, close it.
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let url = format!("http://127.0.0.1:{port}");
    let o = run(
        &[
            "run",
            "--target",
            &url,
            "--region",
            "ap-guangzhou",
            "--provider",
            "tencent",
            "--allow-destructive",
        ],
        &LIVE_CREDENTIALS,
    );
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(3), "{err}");
    assert!(err.contains("stopped after"), "{err}");
    assert!(err.contains(&format!("{url} never answered")), "{err}");
    // The cause, not only "error sending request".
    assert!(
        err.contains("Connection refused") || err.contains("connect"),
        "{err}"
    );
    let refused: Vec<&str> = err
        .lines()
        .filter(|l| l.contains("cannot connect"))
        .collect();
    assert!(refused.len() <= 2, "collapsed into one line:\n{err}");
    assert!(
        refused[0].starts_with("INCONCLUSIVE ") && refused[0].contains(" cases: "),
        "{err}"
    );
}

#[test]
fn arguments_are_checked_before_any_case_runs() {
    let dir = scratch("args");
    let missing = dir.join("no/such/dir/r.xml");
    let o = run(
        &[
            "run",
            "--report",
            "junit",
            "--out",
            missing.to_str().unwrap(),
        ],
        &[],
    );
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("does not exist"), "{}", stderr(&o));
    assert!(
        !stderr(&o).contains("passed"),
        "no case ran: {}",
        stderr(&o)
    );
    assert!(stdout(&o).is_empty());

    for (args, value) in [
        (&["run", "--timeout", "0"][..], "'0'"),
        (&["run", "--workers", "0"], "'0'"),
        (&["run", "--target", "not-a-url"], "not-a-url"),
        (&["run", "--report", "xml"], "'xml'"),
        (&["run", "--provider", "azure"], "'azure'"),
        (&["emulate", "--addr", "nohost"], "nohost"),
    ] {
        let o = run(args, &[]);
        assert_eq!(o.status.code(), Some(2), "{args:?}");
        assert!(stderr(&o).contains(value), "{args:?}: {}", stderr(&o));
    }
    // Environment variables are checked the same way.
    let o = run(&["run"], &[("CLOUDCONFORM_WORKERS", "0")]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));

    let o = run(&["run", "--filter", "nosuchcase"], &[]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("--filter nosuchcase")
            && stderr(&o).contains("cloudconform cases list --filter nosuchcase"),
        "{}",
        stderr(&o)
    );
    let o = run(&["run", "--profile", "p.json"], &[]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("--profile applies only to a live target"),
        "{}",
        stderr(&o)
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_bad_profile_enum_is_reported_with_its_pointer() {
    let dir = scratch("profile");
    let profile = dir.join("profile.json");
    std::fs::write(
        &profile,
        r#"{"region": "ap-guangzhou", "instances": [
            {"service": "cvmx", "id": "ins-1", "os": "linx", "state": "STOPED"}]}"#,
    )
    .unwrap();
    let o = run(
        &[
            "run",
            "--target",
            "http://127.0.0.1:9",
            "--profile",
            profile.to_str().unwrap(),
        ],
        &LIVE_CREDENTIALS,
    );
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(2), "{err}");
    for pointer in [
        "/instances/0/service",
        "/instances/0/os",
        "/instances/0/state",
    ] {
        assert!(
            err.contains(&format!("{}: {pointer}: ", profile.display())),
            "{pointer}: {err}"
        );
    }
    assert!(
        err.contains("\"cvmx\"") && err.contains("fix: use one of"),
        "{err}"
    );
    assert!(!err.contains("cannot connect"), "nothing was sent: {err}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn the_printed_reproduction_reruns_exactly_that_case() {
    with_emulator(false, |emu| {
        // An emulator that accepts any signature: the bad-signature cases fail.
        let url = emu.url();
        let o = run(
            &[
                "run",
                "--target",
                &url,
                "--region",
                "ap-guangzhou",
                "--allow-destructive",
                "--verbose",
                "--filter",
                // A glob: the exact id alone would select only the JSON-POST variant.
                "tencent/cvm/DeleteKeyPairs/negative/bad-signature*",
            ],
            &LIVE_CREDENTIALS,
        );
        assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
        let err = stderr(&o);
        assert!(
            !err.contains("SECRETEXAMPLE") && !err.contains("AKIDEXAMPLE"),
            "{err}"
        );
        assert!(err.contains("request: curl -X POST"), "{err}");
        let reruns: Vec<&str> = err
            .lines()
            .filter_map(|l| l.trim_start().strip_prefix("rerun: "))
            .collect();
        assert_eq!(reruns.len(), 3, "{err}");
        for rerun in reruns {
            let words: Vec<&str> = rerun.split(' ').collect();
            assert_eq!(words[..2], ["cloudconform", "run"], "{rerun}");
            let id = words[words.iter().position(|w| *w == "--case").unwrap() + 1];
            let mut args = words[1..].to_vec();
            args.extend(["--report", "json"]);
            let again = run(&args, &LIVE_CREDENTIALS);
            assert_eq!(again.status.code(), Some(1), "{}", stderr(&again));
            let report: Value = serde_json::from_slice(&again.stdout).unwrap();
            let ids: Vec<&str> = report["results"]
                .as_array()
                .unwrap()
                .iter()
                .map(|r| r["id"].as_str().unwrap())
                .collect();
            assert_eq!(ids, [id]);
            assert_eq!(
                report["results"][0]["verdict"]["verdict"], "fail",
                "{report}"
            );
        }
    });
}

#[test]
fn emulate_accepts_a_host_name_and_says_why_it_cannot_listen() {
    let mut child = command(&["emulate", "--addr", "localhost:0"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut first = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut first)
        .unwrap();
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(
        first.starts_with("cloudconform emulator listening on http://127.0.0.1:"),
        "{first}"
    );

    let taken = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    let o = run(&["emulate", "--addr", &addr], &[]);
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(err.contains(&addr), "{err}");
    // The OS cause once, not twice.
    let cause = "(os error 98)";
    assert_eq!(err.matches(cause).count(), 1, "{err}");
}

#[test]
fn help_lists_possible_values_and_environment_variables() {
    let help = stdout(&run(&["run", "--help"], &[]));
    for text in [
        "[env: CLOUDCONFORM_TARGET=]",
        "[env: CLOUDCONFORM_WORKERS=]",
        "[env: CLOUDCONFORM_REPORT=]",
        "[possible values: json, junit, markdown]",
        "[possible values: tencent, alibaba]",
    ] {
        assert!(help.contains(text), "{text}:\n{help}");
    }
}
