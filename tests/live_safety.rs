//! Live-run safety through the built binaries: `cloudconform emulate` as a separate process, a
//! profile lending instances that already carry someone's key, `cloudconform run --target live`
//! with `--endpoint` overrides. A complete run leaves the world as it found it; Ctrl-C mid-run
//! tears down, writes the partial report and exits 130 with the world restored; a second Ctrl-C
//! exits at once; `cleanup` removes planted leftovers by prefix and nothing else; no output,
//! report or file the run writes contains the secret.
mod url_support;

use serde_json::{json, Value};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};
use url_support::Served;

const BIN: &str = env!("CARGO_BIN_EXE_cloudconform");
/// A secret no fixture uses, so finding it anywhere is a leak.
const SECRET: &str = "Zq7SECRETxSCANx4kV9";

/// The emulator with the test account's secret replaced by [`SECRET`].
fn serve() -> Served {
    let served = url_support::serve(false, &["--no-rate-limits"]);
    let mut w = world(&served);
    for a in w["accounts"].as_array_mut().unwrap() {
        if a["access_key_id"] == "AKIDEXAMPLE" {
            a["secret"] = json!(SECRET);
        }
    }
    put_world(&served, &w);
    served
}

fn control(served: &Served) -> String {
    format!("{}/_cloudconform/world?secrets=true", served.url)
}

fn world(served: &Served) -> Value {
    let out = Command::new("curl")
        .args(["-s", &control(served)])
        .output()
        .expect("curl");
    serde_json::from_slice(&out.stdout).expect("world JSON")
}

fn put_world(served: &Served, w: &Value) {
    let out = Command::new("curl")
        .args(["-s", "-o", "/dev/null", "-w", "%{http_code}", "-X", "PUT"])
        .args(["-H", "content-type: application/json", "--data-binary"])
        .arg(w.to_string())
        .arg(control(served))
        .output()
        .expect("curl");
    assert_eq!(String::from_utf8_lossy(&out.stdout), "200");
}

/// The part of the world a run may touch: every service's instances and key pairs.
fn services(w: &Value) -> Value {
    w["services"].clone()
}

fn scratch(name: &str) -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join("live_safety")
        .join(name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Lends the default world's instances, which carry keys bound before the run.
fn profile(dir: &Path) -> PathBuf {
    let p = dir.join("profile.json");
    std::fs::write(
        &p,
        json!({
            "region": "ap-guangzhou",
            "regions": {"alibaba": "cn-hangzhou"},
            "key_prefix": "ccrun_",
            "instances": [
                {"service": "cvm", "id": "ins-linstop1", "os": "linux", "state": "STOPPED"},
                {"service": "cvm", "id": "ins-linrun01", "os": "linux", "state": "RUNNING"},
                {"service": "cvm", "id": "ins-winstop1", "os": "windows", "state": "STOPPED"},
                {"service": "ecs", "id": "i-bp1linuxstopped0001", "os": "linux", "state": "Stopped"},
                {"service": "ecs", "id": "i-bp1linuxrunning0001", "os": "linux", "state": "Running"},
                {"service": "ecs", "id": "i-bp1windowsstopped01", "os": "windows", "state": "Stopped"}
            ]
        })
        .to_string(),
    )
    .unwrap();
    p
}

fn command(served: &Served, dir: &Path, args: &[&str]) -> Command {
    command_to(&served.url, dir, args)
}

fn command_to(url: &str, dir: &Path, args: &[&str]) -> Command {
    let mut c = Command::new(BIN);
    c.args(args);
    // Every service to the emulator: nothing may leave the loopback interface.
    for service in ["cvm", "ecm", "ecs", "ens"] {
        c.arg("--endpoint").arg(format!("{service}={url}"));
    }
    c.arg("--profile").arg(profile(dir));
    for (var, _) in std::env::vars() {
        if var.starts_with("CLOUDCONFORM_")
            || var.starts_with("TENCENTCLOUD_")
            || var.starts_with("ALIBABA_CLOUD_")
        {
            c.env_remove(var);
        }
    }
    c.env("HOME", dir)
        .env("CLOUDCONFORM_ACCESS_KEY_ID", "AKIDEXAMPLE")
        .env("CLOUDCONFORM_SECRET_ACCESS_KEY", SECRET);
    c
}

/// Cases that build worlds on lent instances (binding the run's keys where someone's key is)
/// and create and delete key pairs; the slow 100-key boundaries are left out.
const CASES: [&str; 4] = [
    "tencent/cvm/DisassociateInstancesKeyPairs/valid",
    "tencent/cvm/DisassociateInstancesKeyPairs/state",
    "alibaba/ecs/DetachKeyPair/valid",
    "alibaba/ecs/DetachKeyPair/state",
];

fn run_args(report: &str) -> Vec<&str> {
    let mut a = vec![
        "run",
        "--target",
        "live",
        "--allow-destructive",
        "--workers",
        "2",
        "--report",
        "json",
        "--out",
        report,
    ];
    for c in CASES {
        a.extend(["--filter", c]);
    }
    a
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn scan_for_secret(what: &str, content: &str) {
    assert!(!content.contains(SECRET), "the secret appears in {what}");
}

/// Every file under `dir`, recursively.
fn files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(files(&p));
        } else {
            out.push(p);
        }
    }
    out
}

#[test]
fn a_complete_run_leaves_the_world_as_it_found_it_and_never_shows_the_secret() {
    let served = serve();
    let dir = scratch("complete");
    let before = services(&world(&served));
    let mut outputs = Vec::new();
    for format in ["json", "junit", "markdown"] {
        let report = dir.join(format!("report.{format}"));
        let mut args = run_args(report.to_str().unwrap());
        let at = args.iter().position(|a| *a == "json").unwrap();
        args[at] = format;
        let out: Output = command(&served, &dir, &args).output().unwrap();
        let err = text(&out.stderr);
        assert!(
            matches!(out.status.code(), Some(0) | Some(3)),
            "exit {:?}: {err}",
            out.status.code()
        );
        assert!(!err.contains("LEFT BEHIND"), "{err}");
        outputs.push(out);
        assert_eq!(
            services(&world(&served)),
            before,
            "the world changed ({format} run)"
        );
    }
    let report: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("report.json")).unwrap()).unwrap();
    let results = report["results"].as_array().unwrap();
    let passed = results
        .iter()
        .filter(|r| r["verdict"]["verdict"] == "pass" || r["verdict"] == "pass")
        .count();
    assert!(passed >= 30, "{passed} of {} passed", results.len());
    for (n, out) in outputs.iter().enumerate() {
        scan_for_secret(&format!("stdout of run {n}"), &text(&out.stdout));
        scan_for_secret(&format!("stderr of run {n}"), &text(&out.stderr));
    }
    for f in files(&dir) {
        let mut content = Vec::new();
        std::fs::File::open(&f)
            .unwrap()
            .read_to_end(&mut content)
            .unwrap();
        scan_for_secret(&f.display().to_string(), &text(&content));
    }
}

/// Start a run against `url`, wait until a case is in flight, then send SIGINT; with
/// `twice`, send a second one once the run has said it is handling the first.
fn interrupt(served: &Served, url: &str, dir: &Path, twice: bool) -> (Output, Duration) {
    let report = dir.join("partial.json");
    let before = services(&world(served));
    let mut child = command_to(url, dir, &run_args(report.to_str().unwrap()))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // stderr is read as it comes, so the test can wait for the run's own words.
    let (tx, lines) = std::sync::mpsc::channel::<String>();
    let stderr = child.stderr.take().unwrap();
    let reader = std::thread::spawn(move || {
        let mut all = String::new();
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            all.push_str(&line);
            all.push('\n');
            let _ = tx.send(line);
        }
        all
    });
    // Interrupt once the run has changed the world: its signal handlers are installed before
    // any case starts, and a case is in flight (it finishes, so the partial report judges it).
    // A fixed delay here raced the run's start-up on a loaded machine.
    let deadline = Instant::now() + Duration::from_secs(120);
    while services(&world(served)) == before {
        assert!(
            Instant::now() < deadline,
            "the run changed nothing in 120 s"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let pid = child.id().to_string();
    let sigint = || {
        assert!(Command::new("kill")
            .args(["-INT", &pid])
            .status()
            .unwrap()
            .success())
    };
    let sent = Instant::now();
    sigint();
    if twice {
        // Two signals sent back to back may reach the handler as one; the second goes once the
        // first was handled (the run is still busy: its answers come through a slow proxy).
        let handled = lines
            .iter()
            .any(|l| l.starts_with("interrupted: no new case starts"));
        assert!(handled, "the run never said it was interrupted");
        sigint();
    }
    let status = child.wait().unwrap();
    let mut stdout = Vec::new();
    child
        .stdout
        .take()
        .unwrap()
        .read_to_end(&mut stdout)
        .unwrap();
    let stderr = reader.join().unwrap().into_bytes();
    (
        Output {
            status,
            stdout,
            stderr,
        },
        sent.elapsed(),
    )
}

/// A loopback proxy to `upstream` that holds every chunk of every answer back by `delay`, so a
/// run interrupted mid-case is still finishing and tearing down when a second signal comes.
fn slow_proxy(upstream: &str, delay: Duration) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let up: SocketAddr = upstream.trim_start_matches("http://").parse().unwrap();
    std::thread::spawn(move || {
        for client in listener.incoming().map_while(Result::ok) {
            let Ok(server) = TcpStream::connect(up) else {
                continue;
            };
            let (Ok(mut c_in), Ok(mut s_out)) = (client.try_clone(), server.try_clone()) else {
                continue;
            };
            std::thread::spawn(move || {
                let _ = std::io::copy(&mut c_in, &mut s_out);
                let _ = s_out.shutdown(Shutdown::Write);
            });
            std::thread::spawn(move || {
                let (mut server, mut client) = (server, client);
                let mut buf = [0u8; 16 * 1024];
                while let Ok(n @ 1..) = server.read(&mut buf) {
                    std::thread::sleep(delay);
                    if client.write_all(&buf[..n]).is_err() {
                        break;
                    }
                }
                let _ = client.shutdown(Shutdown::Write);
            });
        }
    });
    format!("http://{addr}")
}

#[test]
fn ctrl_c_tears_down_writes_the_partial_report_and_exits_130() {
    let served = serve();
    let dir = scratch("sigint");
    let before = services(&world(&served));
    let (out, _) = interrupt(&served, &served.url, &dir, false);
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(130), "{err}");
    assert!(err.contains("interrupted"), "{err}");
    assert!(!err.contains("LEFT BEHIND"), "{err}");
    let report: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("partial.json")).unwrap()).unwrap();
    let judged = report["results"].as_array().unwrap().len();
    assert!(
        judged > 0 && judged < 69,
        "partial report with {judged} cases"
    );
    assert_eq!(services(&world(&served)), before, "the world after Ctrl-C");
}

#[test]
fn a_second_ctrl_c_exits_at_once_listing_what_is_left() {
    let served = serve();
    let dir = scratch("sigint2");
    let slow = slow_proxy(&served.url, Duration::from_millis(500));
    let (out, took) = interrupt(&served, &slow, &dir, true);
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(130), "{err}");
    assert!(err.contains("interrupted twice"), "{err}");
    assert!(took < Duration::from_secs(3), "took {took:?}");
    scan_for_secret("stderr", &err);
}

#[test]
fn cleanup_lists_then_removes_only_the_runs_leftovers() {
    let served = serve();
    let dir = scratch("cleanup");
    let mut w = world(&served);
    let plant = |w: &mut Value, svc: &str, id: &str, name: &str, region: &str| {
        w["services"][svc]["key_pairs"]
            .as_array_mut()
            .unwrap()
            .push(json!({"id": id, "name": name, "region": region}));
    };
    plant(
        &mut w,
        "tencent/cvm",
        "skey-left0001",
        "ccrun_left0001",
        "ap-guangzhou",
    );
    plant(
        &mut w,
        "tencent/cvm",
        "skey-left0002",
        "ccrun_left0002",
        "ap-guangzhou",
    );
    plant(
        &mut w,
        "tencent/cvm",
        "skey-mine0001",
        "prod_deploy",
        "ap-guangzhou",
    );
    plant(
        &mut w,
        "alibaba/ecs",
        "ssh-left0001",
        "ccrun_leftecs1",
        "cn-hangzhou",
    );
    put_world(&served, &w);
    let planted = services(&w);

    let out = command(&served, &dir, &["cleanup"]).output().unwrap();
    let listed = text(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(listed.matches("would delete").count(), 3, "{listed}");
    assert!(!listed.contains("prod_deploy"));
    assert_eq!(
        services(&world(&served)),
        planted,
        "listing changed nothing"
    );

    let out = command(&served, &dir, &["cleanup", "--yes"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout).matches("deleted").count(), 3);
    let after = services(&world(&served));
    let names = |svc: &str| -> Vec<String> {
        after[svc]["key_pairs"]
            .as_array()
            .unwrap()
            .iter()
            .map(|k| k["name"].as_str().unwrap().to_string())
            .collect()
    };
    assert!(names("tencent/cvm")
        .iter()
        .all(|n| !n.starts_with("ccrun_")));
    assert!(names("tencent/cvm").contains(&"prod_deploy".to_string()));
    assert!(names("alibaba/ecs")
        .iter()
        .all(|n| !n.starts_with("ccrun_")));
    let planted_ecs = planted["alibaba/ecs"]["key_pairs"]
        .as_array()
        .unwrap()
        .len();
    // Found across pages (the default world holds over 100 ECS keys; PageSize is at most 50).
    assert_eq!(
        names("alibaba/ecs").len(),
        planted_ecs - 1,
        "only the planted key went"
    );
}

/// `--record` stores each live case's exchanges with provenance (and no secret); `parity`
/// replays them on the emulator: the same answers give no difference, a changed recorded
/// answer is reported with the side that would have to change.
#[test]
fn record_then_parity() {
    let served = serve();
    let dir = scratch("record");
    let rec = dir.join("live");
    let rec_s = rec.to_str().unwrap();
    let out = command(
        &served,
        &dir,
        &[
            "run",
            "--target",
            "live",
            "--record",
            rec_s,
            "--filter",
            "tencent/cvm/DeleteKeyPairs/negative/missing-KeyIds",
            "--filter",
            "alibaba/ecs/DetachKeyPair/negative/missing-KeyPairName",
        ],
    )
    .output()
    .unwrap();
    assert!(
        matches!(out.status.code(), Some(0) | Some(3)),
        "{}",
        text(&out.stderr)
    );
    let recorded = files(&rec);
    assert!(recorded.len() >= 2, "{recorded:?}");
    let one = recorded
        .iter()
        .find(|p| {
            p.to_str().unwrap().contains(
                "tencent/ap-guangzhou/tencent__cvm__DeleteKeyPairs__negative__missing-KeyIds.json",
            )
        })
        .expect("recorded per provider and region");
    let content = std::fs::read_to_string(one).unwrap();
    scan_for_secret("a recording", &content);
    let v: Value = serde_json::from_str(&content).unwrap();
    assert_eq!(v["provenance"]["region"], "ap-guangzhou");
    assert_eq!(
        v["provenance"]["spec"],
        "tencent/cvm/2017-03-12/DeleteKeyPairs"
    );
    assert!(v["provenance"]["date"].as_str().unwrap().len() >= 10);
    assert!(v["provenance"]["harness_version"].is_string());

    let parity = |home: &Path| {
        Command::new(BIN)
            .args(["parity", "--recorded", rec_s])
            .env("HOME", home)
            .output()
            .unwrap()
    };
    let out = parity(&dir);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}{}",
        text(&out.stdout),
        text(&out.stderr)
    );
    assert!(
        text(&out.stdout).contains("0 different"),
        "{}",
        text(&out.stdout)
    );

    // The cloud answered differently than the emulator would: parity names the case and, as the
    // live case passed, the emulator as the side to change.
    let changed = content.replace("MissingParameter", "InvalidParameter");
    assert_ne!(changed, content);
    std::fs::write(one, changed).unwrap();
    let out = parity(&dir);
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    assert!(
        stdout.contains("DIFF tencent/cvm/DeleteKeyPairs/negative/missing-KeyIds"),
        "{stdout}"
    );
    assert!(stdout.contains("the emulator"), "{stdout}");
}
