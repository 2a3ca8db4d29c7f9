//! Every case against `cloudconform emulate` served as a URL (plain HTTP and HTTPS), with a
//! profile per provider lending the run its instances — the way a user runs the harness against
//! an endpoint it did not write. Nothing may fail or diverge, inconclusive cases are few and each
//! names a documented reason, and the world afterwards equals the world before.
use cloudconform::check::Verdict;
use cloudconform::generate::{self, GenOptions};
use cloudconform::run::exec::Endpoint;
use cloudconform::run::live::{Profile, ProfileInstance};
use cloudconform::run::{CaseResult, RunOptions, Runner, Target, TargetKind};
use cloudconform::sign::Credentials;
use cloudconform::spec::SpecSet;
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// `cloudconform emulate` on a free loopback port; killed when dropped.
struct Served {
    child: Child,
    url: String,
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn serve(tls: bool, extra: &[&str]) -> Served {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_cloudconform"));
    cmd.args(["emulate", "--addr", "127.0.0.1:0"]).args(extra);
    if tls {
        let dir = root().join("tests/emulator_tls");
        cmd.arg("--tls-cert")
            .arg(dir.join("cert.pem"))
            .arg("--tls-key")
            .arg(dir.join("key.pem"));
    }
    let mut child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("cloudconform emulate");
    let mut first = String::new();
    BufReader::new(child.stdout.take().expect("stdout"))
        .read_line(&mut first)
        .expect("banner");
    let url = first
        .trim()
        .rsplit(' ')
        .next()
        .expect("listening on URL")
        .to_string();
    assert!(url.starts_with("http"), "banner: {first}");
    Served { child, url }
}

/// The instances each service lends the run: enough Linux instances for the largest documented
/// batch (stopped and running) and Windows ones; ECM instances also lend bound keys, which no
/// ECM API can bind.
fn lent(
    service: &str,
    prefix: &str,
    linux: usize,
    states: [&str; 2],
    keys: usize,
) -> Vec<ProfileInstance> {
    let mut v = Vec::new();
    for n in 0..linux + 2 {
        let (os, state) = match n {
            _ if n >= linux => ("windows", states[0]),
            _ if n % 3 == 2 => ("linux", states[1]),
            _ => ("linux", states[0]),
        };
        v.push(ProfileInstance {
            service: service.into(),
            id: format!("{prefix}{n:04}"),
            os: os.into(),
            state: state.into(),
            // The first lends enough keys for the largest KeyIds batch.
            keys: (0..if n == 0 { keys.max(101) } else { keys })
                .filter(|_| keys > 0)
                .map(|k| format!("skey-l{n:03}{k:04}"))
                .collect(),
        });
    }
    v
}

fn profiles() -> [(&'static str, Profile); 2] {
    let mut tencent = lent("cvm", "ins-lent", 102, ["STOPPED", "RUNNING"], 0);
    tencent.extend(lent("ecm", "ein-lent", 6, ["STOPPED", "RUNNING"], 2));
    let mut alibaba = lent("ecs", "i-ecslent", 52, ["Stopped", "Running"], 0);
    alibaba.extend(lent("ens", "i-enslent", 32, ["Stopped", "Running"], 0));
    [
        (
            "tencent",
            Profile {
                provider: Some(cloudconform::spec::Provider::Tencent),
                region: "ap-guangzhou".into(),
                instances: tencent,
                ..Profile::default()
            },
        ),
        (
            "alibaba",
            Profile {
                provider: Some(cloudconform::spec::Provider::Alibaba),
                region: "cn-hangzhou".into(),
                instances: alibaba,
                ..Profile::default()
            },
        ),
    ]
}

/// The served world: the lent instances (with their lent bindings) and nothing else.
fn world(base: &Value, profiles: &[(&str, Profile)]) -> Value {
    let mut w = base.clone();
    for (provider, p) in profiles {
        for svc in ["cvm", "ecm", "ecs", "ens"] {
            let mine: Vec<&ProfileInstance> =
                p.instances.iter().filter(|i| i.service == svc).collect();
            if mine.is_empty() {
                continue;
            }
            let inst: Vec<Value> = mine
                .iter()
                .map(|i| json!({"id": i.id, "os": i.os, "state": i.state, "region": p.region, "keys": i.keys}))
                .collect();
            let keys: Vec<Value> = mine
                .iter()
                .flat_map(|i| i.keys.iter())
                .map(|k| json!({"id": k, "name": k.replace('-', "_"), "region": p.region}))
                .collect();
            w["services"][format!("{provider}/{svc}")] = json!({
                "instances": inst, "images": [], "key_pairs": keys,
            });
        }
    }
    w
}

fn control(url: &str, method: &str, what: &str, body: Option<&Value>) -> Value {
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    rt.block_on(async {
        let http = reqwest::Client::builder()
            .tls_danger_accept_invalid_certs(true)
            .build()
            .unwrap();
        let mut req = http.request(
            method.parse().unwrap(),
            format!("{url}/_cloudconform/{what}"),
        );
        if let Some(b) = body {
            req = req
                .header("content-type", "application/json")
                .body(b.to_string());
        }
        let resp = req.send().await.expect("control API");
        assert!(
            resp.status().is_success(),
            "control {what}: {}",
            resp.status()
        );
        serde_json::from_slice(&resp.bytes().await.unwrap()).unwrap_or(Value::Null)
    })
}

/// One run over both providers: one profile with a section per provider.
fn run_against(url: &str) -> Vec<CaseResult> {
    let specs = Arc::new(SpecSet::load(root().join("specs")).expect("specs"));
    let cases = generate::generate(&specs, &GenOptions::default()).expect("cases");
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let profile = Profile {
        providers: profiles()
            .into_iter()
            .map(|(p, section)| (p.to_string(), section))
            .collect(),
        ..Profile::default()
    };
    let target = Target {
        name: "url".into(),
        kind: TargetKind::Live {
            endpoint: Endpoint::parse(url).unwrap(),
            credentials: Credentials::new("AKIDEXAMPLE", "SECRETEXAMPLE"),
            profile,
        },
    };
    let opts = RunOptions {
        allow_destructive: true,
        concurrency: 4,
        ca_cert: Some(root().join("tests/emulator_tls/cert.pem")),
        denied_credentials: Some(Credentials::new("AKIDSUBUSERDENY", "SUBUSERSECRET")),
        probe_throttling: true,
        ..RunOptions::default()
    };
    let runner = Arc::new(Runner::new(specs.clone(), target, opts).unwrap());
    rt.block_on(runner.run_all(cases, Arc::new(|_: &CaseResult| {})))
}

/// Per action: pass, fail, divergence, inconclusive.
fn tally(results: &[CaseResult]) -> BTreeMap<String, [usize; 4]> {
    let mut t: BTreeMap<String, [usize; 4]> = BTreeMap::new();
    for r in results {
        let slot = match &r.verdict {
            Verdict::Pass => 0,
            Verdict::Fail { .. } => 1,
            Verdict::Divergence { .. } => 2,
            Verdict::Inconclusive { .. } => 3,
        };
        t.entry(r.action.clone()).or_default()[slot] += 1;
    }
    t
}

fn assert_decided(results: &[CaseResult]) {
    let mut problems = Vec::new();
    let mut inconclusive = 0;
    for r in results {
        match &r.verdict {
            Verdict::Pass => {}
            Verdict::Inconclusive { reason } => {
                inconclusive += 1;
                eprintln!("INCONCLUSIVE {}: {reason}", r.id);
            }
            other => problems.push(format!("{}: {other:?}", r.id)),
        }
    }
    eprintln!(
        "{:<56} {:>5} {:>5} {:>5} {:>5}",
        "action", "pass", "fail", "div", "incon"
    );
    for (a, [p, f, d, i]) in tally(results) {
        eprintln!("{a:<56} {p:>5} {f:>5} {d:>5} {i:>5}");
    }
    assert!(
        problems.is_empty(),
        "{} fail/divergence:\n{}",
        problems.len(),
        problems.join("\n")
    );
    assert!(
        inconclusive * 100 <= results.len() * 3,
        "{inconclusive} of {} inconclusive",
        results.len()
    );
}

/// The world afterwards equals the world before; differences named item by item.
fn assert_same_world(before: &Value, after: &Value) {
    let mut diffs = Vec::new();
    let services = before["services"].as_object().expect("services");
    for (svc, b) in services {
        let a = &after["services"][svc];
        for what in ["instances", "images", "key_pairs"] {
            let items =
                |v: &Value| -> Vec<Value> { v[what].as_array().cloned().unwrap_or_default() };
            let (bi, ai) = (items(b), items(a));
            for x in &bi {
                if !ai.contains(x) {
                    diffs.push(format!(
                        "{svc} {what}: before {x}, now {}",
                        ai.iter()
                            .find(|y| y["id"] == x["id"])
                            .map_or("gone".into(), |y| y.to_string())
                    ));
                }
            }
            for y in &ai {
                if !bi.iter().any(|x| x["id"] == y["id"]) {
                    diffs.push(format!("{svc} {what}: left behind {y}"));
                }
            }
        }
    }
    assert!(
        diffs.is_empty(),
        "the world afterwards differs:\n{}",
        diffs.join("\n")
    );
}

fn every_case(tls: bool) {
    let served = serve(tls, &[]);
    let profiles = profiles();
    let base = control(&served.url, "GET", "world", None);
    let mine = world(&base, &profiles);
    control(&served.url, "PUT", "world", Some(&mine));
    let before = control(&served.url, "GET", "world", None);
    let results = run_against(&served.url);
    let after = control(&served.url, "GET", "world", None);
    assert_decided(&results);
    assert_same_world(&before, &after);
}

#[test]
fn every_case_against_emulate_served_over_http() {
    every_case(false);
}

#[test]
fn every_case_against_emulate_served_over_https() {
    every_case(true);
}
