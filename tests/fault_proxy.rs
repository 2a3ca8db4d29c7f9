//! A fault-injecting proxy (loopback, bounded) between the runner and the emulator, in live
//! mode: connections reset after the request was forwarded, truncated bodies, answers delayed
//! past the runner's timeout, gateway 502/503 HTML pages, and throttling answers. None of them
//! may become a FAIL verdict, and the proxy checks that no mutating request whose answer it
//! lost was ever forwarded again.
mod url_support;

use cloudconform::check::Verdict;
use cloudconform::emulator::{Emulator, EmulatorConfig};
use cloudconform::generate::{self, GenOptions};
use cloudconform::provider::Provider;
use cloudconform::run::endpoints::Endpoints;
use cloudconform::run::exec::Endpoint;
use cloudconform::run::profile::{Profile, ProfileInstance};
use cloudconform::run::{CaseResult, RunOptions, Runner, Target, TargetKind};
use cloudconform::sign::Credentials;
use cloudconform::spec::SpecSet;
use serde_json::{json, Value};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use url_support::read_request;

const TIMEOUT: Duration = Duration::from_millis(800);

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Fault {
    ResetAfterForward,
    Truncate,
    DelayPastTimeout,
    Gateway502AfterForward,
    Gateway503,
    Throttle,
    None,
}

/// One fault per request in a fixed rotation: a quarter of the requests are disturbed.
fn rotation(n: u64) -> Fault {
    match n % 24 {
        0 => Fault::ResetAfterForward,
        2 => Fault::Truncate,
        4 => Fault::DelayPastTimeout,
        6 => Fault::Gateway502AfterForward,
        8 => Fault::Gateway503,
        10 => Fault::Throttle,
        _ => Fault::None,
    }
}

struct Ledger {
    fault_for: fn(u64) -> Fault,
    n: u64,
    /// Requests received per action.
    per_action: HashMap<String, u64>,
    injected: HashMap<Fault, u64>,
    /// Mutations forwarded whose answer the client never got whole.
    lost: HashSet<String>,
    /// Lost mutations that reached the emulator again afterwards (teardown unbinding or
    /// deleting what a lost step may have done already is such a send).
    resent: Vec<String>,
    /// Lost mutations the emulator executed (answered with success) a second time.
    executed_twice: Vec<String>,
    /// Mutations the emulator answered with success, by logical content.
    executed: HashSet<String>,
    mutations_forwarded: u64,
}

impl Ledger {
    fn new(fault_for: fn(u64) -> Fault) -> Ledger {
        Ledger {
            fault_for,
            n: 0,
            per_action: HashMap::new(),
            injected: HashMap::new(),
            lost: HashSet::new(),
            resent: Vec::new(),
            executed_twice: Vec::new(),
            executed: HashSet::new(),
            mutations_forwarded: 0,
        }
    }
}

/// Whether a raw answer is a provider success envelope (no error code).
fn success(answer: &[u8]) -> bool {
    let Some(end) = answer.windows(4).position(|w| w == b"\r\n\r\n") else {
        return false;
    };
    let Ok(v) = serde_json::from_slice::<Value>(&answer[end + 4..]) else {
        return false;
    };
    v.pointer("/Response/Error").is_none() && v.get("Code").is_none()
}

/// Parameters that change on every signing; the rest is what the request asks for.
fn volatile(name: &str) -> bool {
    let n = name.to_ascii_lowercase();
    [
        "signature",
        "timestamp",
        "nonce",
        "token",
        "secretid",
        "accesskeyid",
        "date",
    ]
    .iter()
    .any(|v| n.contains(v))
}

/// (action, logical content) of a raw HTTP request.
fn logical(head: &str, body: &[u8]) -> (String, String) {
    let mut lines = head.split("\r\n");
    let target = lines.next().unwrap_or("").split(' ').nth(1).unwrap_or("");
    let query = target.split_once('?').map(|(_, q)| q).unwrap_or("");
    let mut params: Vec<(String, String)> = Vec::new();
    let mut action = String::new();
    for line in lines {
        if let Some((k, v)) = line.split_once(':') {
            let k = k.trim().to_ascii_lowercase();
            if k == "x-tc-action" || k == "x-acs-action" {
                action = v.trim().to_string();
            }
        }
    }
    let body_text = String::from_utf8_lossy(body).to_string();
    let form = if body_text.trim_start().starts_with('{') {
        ""
    } else {
        body_text.as_str()
    };
    for pair in query
        .split('&')
        .chain(form.split('&'))
        .filter(|p| !p.is_empty())
    {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        if k == "Action" {
            action = v.to_string();
        }
        if !volatile(k) {
            params.push((k.to_string(), v.to_string()));
        }
    }
    params.sort();
    let json = if form.is_empty() {
        body_text.clone()
    } else {
        String::new()
    };
    (action.clone(), format!("{action} {params:?} {json}"))
}

/// Forward one request on a fresh connection (`Connection: close`); the whole raw answer.
async fn forward(upstream: SocketAddr, head: &str, body: &[u8]) -> Vec<u8> {
    let mut up = TcpStream::connect(upstream).await.unwrap();
    let head: Vec<&str> = head
        .split("\r\n")
        .filter(|l| !l.to_ascii_lowercase().starts_with("connection:"))
        .collect();
    let mut out = head.join("\r\n").into_bytes();
    out.extend_from_slice(b"\r\nConnection: close\r\n\r\n");
    out.extend_from_slice(body);
    up.write_all(&out).await.unwrap();
    let mut answer = Vec::new();
    up.read_to_end(&mut answer).await.unwrap();
    answer
}

fn html(status: &str) -> Vec<u8> {
    let body = format!("<html><body><h1>{status}</h1>nginx</body></html>");
    format!(
        "HTTP/1.1 {status}\r\nContent-Type: text/html\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

fn throttle_answer(tencent: bool) -> Vec<u8> {
    let (status, body) = if tencent {
        (
            "200 OK",
            json!({"Response": {"Error": {"Code": "RequestLimitExceeded", "Message": "slow down"}, "RequestId": "6ad7b1a4-0b5e-4b53-a9b5-1f2e3d4c5b6a"}}),
        )
    } else {
        (
            "400 Bad Request",
            json!({"RequestId": "6AD7B1A4-0B5E-4B53-A9B5-1F2E3D4C5B6A", "HostId": "ecs.aliyuncs.com", "Code": "Throttling", "Message": "Request was denied due to request throttling.", "Recommend": "https://api.aliyun.com"}),
        )
    };
    let body = body.to_string();
    format!(
        "HTTP/1.1 {status}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nRetry-After: 0\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

async fn serve(listener: TcpListener, upstream: SocketAddr, ledger: Arc<Mutex<Ledger>>) {
    loop {
        let Ok((mut client, _)) = listener.accept().await else {
            return;
        };
        let ledger = ledger.clone();
        tokio::spawn(async move {
            let Some((head, body)) = read_request(&mut client).await else {
                return;
            };
            let (action, key) = logical(&head, &body);
            let mutation = !action.is_empty() && !action.starts_with("Describe");
            let lower = head.to_ascii_lowercase();
            let alibaba = lower.contains("x-acs-")
                || String::from_utf8_lossy(&body).contains("AccessKeyId=")
                || lower.contains("accesskeyid=");
            let tencent = !alibaba;
            let fault = {
                let mut l = ledger.lock().unwrap();
                let f = (l.fault_for)(l.n);
                l.n += 1;
                *l.per_action.entry(action.clone()).or_default() += 1;
                *l.injected.entry(f).or_default() += 1;
                f
            };
            let forwarded = !matches!(fault, Fault::Gateway503 | Fault::Throttle);
            if forwarded && mutation {
                let mut l = ledger.lock().unwrap();
                l.mutations_forwarded += 1;
                if l.lost.contains(&key) {
                    l.resent.push(key.clone());
                }
            }
            let answer = if forwarded {
                forward(upstream, &head, &body).await
            } else {
                Vec::new()
            };
            let lost = matches!(
                fault,
                Fault::ResetAfterForward
                    | Fault::Truncate
                    | Fault::DelayPastTimeout
                    | Fault::Gateway502AfterForward
            );
            if forwarded && mutation && success(&answer) {
                let mut l = ledger.lock().unwrap();
                // Another mutation of the same resources (StartInstances after StopInstances of
                // one instance) makes a later success of the first a new execution, not the
                // lost one again: a stop cannot succeed twice without a start in between.
                let params = key.split_once(' ').map(|(_, p)| p.to_string());
                l.executed.retain(|k| {
                    *k == key || k.split_once(' ').map(|(_, p)| p.to_string()) != params
                });
                if !l.executed.insert(key.clone()) && l.lost.contains(&key) {
                    l.executed_twice.push(key.clone());
                }
            }
            if lost && mutation {
                ledger.lock().unwrap().lost.insert(key);
            }
            let _ = match fault {
                Fault::None => client.write_all(&answer).await,
                Fault::ResetAfterForward => Ok(()),
                Fault::Truncate => {
                    let cut = answer.len()
                        - (answer.len()
                            - answer
                                .windows(4)
                                .position(|w| w == b"\r\n\r\n")
                                .unwrap_or(0))
                            / 2;
                    client.write_all(&answer[..cut.min(answer.len() - 1)]).await
                }
                Fault::DelayPastTimeout => {
                    tokio::time::sleep(TIMEOUT + Duration::from_millis(400)).await;
                    client.write_all(&answer).await
                }
                Fault::Gateway502AfterForward => client.write_all(&html("502 Bad Gateway")).await,
                Fault::Gateway503 => client.write_all(&html("503 Service Unavailable")).await,
                Fault::Throttle => client.write_all(&throttle_answer(tencent)).await,
            };
            // Dropping the socket closes it: for a reset, before any answer byte.
        });
    }
}

fn world(base: &Value) -> Value {
    let mut w = base.clone();
    let inst = |id: &str, os: &str, state: &str, region: &str| json!({"id": id, "os": os, "state": state, "region": region, "keys": []});
    w["services"]["tencent/cvm"] = json!({
        "instances": [
            inst("ins-fault001", "linux", "STOPPED", "ap-guangzhou"),
            inst("ins-fault002", "linux", "STOPPED", "ap-guangzhou"),
            inst("ins-fault003", "windows", "STOPPED", "ap-guangzhou")
        ],
        "images": [], "key_pairs": []
    });
    w
}

/// What a run through the proxy produced.
struct Outcome {
    results: Vec<CaseResult>,
    ledger: Ledger,
    throttled: u64,
}

/// Run the selected cases in live mode through the proxy with the given fault schedule.
fn run_through_proxy(select: impl Fn(&str) -> bool, fault_for: fn(u64) -> Fault) -> Outcome {
    let specs =
        Arc::new(SpecSet::load(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("specs")).unwrap());
    let cases: Vec<_> = generate::generate(&specs, &GenOptions::default())
        .unwrap()
        .into_iter()
        .filter(|c| select(&c.id))
        .collect();
    assert!(!cases.is_empty());
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let emu = Emulator::start(EmulatorConfig {
            specs: Some(specs.clone()),
            rate_limits: false,
            ..EmulatorConfig::default()
        })
        .await
        .unwrap();
        let http = reqwest::Client::new();
        let control = format!("{}/_cloudconform/world?secrets=true", emu.url());
        let base: Value = serde_json::from_slice(
            &http
                .get(&control)
                .send()
                .await
                .unwrap()
                .bytes()
                .await
                .unwrap(),
        )
        .unwrap();
        let put = http
            .put(&control)
            .header("content-type", "application/json")
            .body(world(&base).to_string())
            .send()
            .await
            .unwrap();
        assert!(put.status().is_success());

        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let proxy = listener.local_addr().unwrap();
        let ledger = Arc::new(Mutex::new(Ledger::new(fault_for)));
        let server = tokio::spawn(serve(listener, emu.addr, ledger.clone()));
        let profile = Profile {
            region: "ap-guangzhou".into(),
            instances: [
                ("ins-fault001", "linux"),
                ("ins-fault002", "linux"),
                ("ins-fault003", "windows"),
            ]
            .iter()
            .map(|(id, os)| ProfileInstance {
                service: "cvm".into(),
                id: id.to_string(),
                os: os.to_string(),
                state: "STOPPED".into(),
                allow: None,
                keys: vec![],
            })
            .collect(),
            ..Profile::default()
        };
        let target = Target {
            name: "fault-proxy".into(),
            kind: TargetKind::Live {
                endpoints: Endpoints::new("ap-guangzhou", false)
                    .everything_at(Endpoint::parse(&format!("http://{proxy}")).unwrap()),
                credentials: BTreeMap::from([(
                    Provider::Tencent,
                    Credentials::new("AKIDEXAMPLE", "SECRETEXAMPLE"),
                )]),
                profile: Box::new(profile),
            },
        };
        let runner = Arc::new(
            Runner::new(
                specs.clone(),
                target,
                RunOptions {
                    concurrency: 4,
                    timeout: TIMEOUT,
                    allow_destructive: true,
                    ..RunOptions::default()
                },
            )
            .unwrap(),
        );
        let results = tokio::time::timeout(
            Duration::from_secs(240),
            runner.run_all(cases, Arc::new(|_: &CaseResult| {})),
        )
        .await
        .expect("the run is bounded");
        server.abort();
        let ledger = std::mem::replace(&mut *ledger.lock().unwrap(), Ledger::new(fault_for));
        Outcome {
            results,
            ledger,
            throttled: runner.throttled_count(),
        }
    })
}

fn fails(results: &[CaseResult]) -> Vec<String> {
    results
        .iter()
        .filter_map(|r| match &r.verdict {
            Verdict::Fail { findings } => Some(format!("{}: {findings:?}", r.id)),
            _ => None,
        })
        .collect()
}

#[test]
fn faults_never_fail_a_case_and_no_lost_mutation_is_executed_twice() {
    let o = run_through_proxy(
        |id| {
            id.starts_with("tencent/cvm/")
                && (id.contains("/valid/")
                    || id.contains("/state/")
                    || id.contains("/negative/missing"))
                && !id.contains('@')
        },
        rotation,
    );
    let fails = fails(&o.results);
    let passes = o
        .results
        .iter()
        .filter(|r| matches!(r.verdict, Verdict::Pass))
        .count();
    let l = &o.ledger;
    eprintln!(
        "{} cases: {passes} pass, {} fail; {} requests, faults {:?}; {} mutations forwarded, {} answers lost, {} sent again (teardown), {} executed twice; {} throttled",
        o.results.len(),
        fails.len(),
        l.n,
        l.injected,
        l.mutations_forwarded,
        l.lost.len(),
        l.resent.len(),
        l.executed_twice.len(),
        o.throttled
    );
    assert!(
        fails.is_empty(),
        "faults became FAIL verdicts:\n{}",
        fails.join("\n")
    );
    assert!(
        l.executed_twice.is_empty(),
        "lost mutations executed twice: {:#?}",
        l.executed_twice
    );
    // The faults really happened, and the run still judged cases where it could.
    for f in [
        Fault::ResetAfterForward,
        Fault::Truncate,
        Fault::DelayPastTimeout,
        Fault::Gateway502AfterForward,
        Fault::Gateway503,
        Fault::Throttle,
    ] {
        assert!(
            l.injected.get(&f).copied().unwrap_or(0) >= 2,
            "{f:?}: {:?}",
            l.injected
        );
    }
    assert!(!l.lost.is_empty());
    assert!(o.throttled >= 2);
    assert!(passes > 0, "nothing was judged");
    assert!(o
        .results
        .iter()
        .any(|r| matches!(r.verdict, Verdict::Inconclusive { .. })));
}

/// Every answer lost: a mutation reaches the target exactly once (no retry of any kind), a
/// read is retried, and the verdict is inconclusive naming why.
#[test]
fn a_mutation_whose_answer_is_lost_is_sent_once() {
    let o = run_through_proxy(
        |id| id == "tencent/cvm/DeleteKeyPairs/valid/minimal",
        |_| Fault::ResetAfterForward,
    );
    // The case's world needs a key pair (a valid case: a negative one whose error precedes
    // existence gets a made-up id and creates nothing): its CreateKeyPair is the first
    // mutation, its answer is lost, and nothing is sent again (setup aborts; the key is then
    // looked up by the name the run chose, with reads only).
    // Cloud mutations only: the control-API probe (`GET /_cloudconform/health`) has no action,
    // and the look-up's DescribeKeyPairs reads may be retried.
    let actions = |o: &Outcome| -> HashMap<String, u64> {
        o.ledger
            .per_action
            .iter()
            .filter(|(a, _)| !a.is_empty() && !a.starts_with("Describe"))
            .map(|(a, n)| (a.clone(), *n))
            .collect()
    };
    let looked_up = |o: &Outcome| o.ledger.per_action.contains_key("DescribeKeyPairs");
    assert_eq!(
        actions(&o),
        HashMap::from([("CreateKeyPair".to_string(), 1)]),
        "{:?}",
        o.ledger.per_action
    );
    assert!(looked_up(&o), "{:?}", o.ledger.per_action);
    match &o.results[0].verdict {
        Verdict::Inconclusive { reason } => {
            assert!(reason.contains("not resent"), "{reason}")
        }
        other => panic!("{other:?}"),
    }
    let o = run_through_proxy(
        |id| id == "tencent/cvm/DeleteKeyPairs/valid/minimal",
        |_| Fault::Gateway502AfterForward,
    );
    assert_eq!(
        actions(&o),
        HashMap::from([("CreateKeyPair".to_string(), 1)])
    );
    assert!(
        matches!(&o.results[0].verdict, Verdict::Inconclusive { reason } if reason.contains("502"))
    );
}

/// Without faults the proxy is transparent: the cases the fault run judged all pass.
#[test]
fn the_proxy_without_faults_changes_nothing() {
    let o = run_through_proxy(
        |id| {
            id.starts_with("tencent/cvm/DisassociateInstancesKeyPairs/valid/") && !id.contains('@')
        },
        |_| Fault::None,
    );
    assert!(fails(&o.results).is_empty(), "{:#?}", fails(&o.results));
}
