//! Helpers for runs against `cloudconform emulate` served as a URL: start the binary on a free
//! loopback port (plain or HTTPS), give it a world of lent instances through its control API,
//! and a profile (one section per provider) that lends them to the run.
#![allow(dead_code)]
use cloudconform::run::profile::{Profile, ProfileInstance};
use cloudconform::run::RunOptions;
use cloudconform::sign::Credentials;
use serde_json::{json, Value};
use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// `cloudconform emulate` on a free loopback port; killed when dropped.
pub struct Served {
    child: Child,
    pub url: String,
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn serve(tls: bool, extra: &[&str]) -> Served {
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
pub fn lent(
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
            allow: None,
            // The first lends enough keys for the largest KeyIds batch.
            keys: (0..if n == 0 { keys.max(101) } else { keys })
                .filter(|_| keys > 0)
                .map(|k| format!("skey-l{n:03}{k:04}"))
                .collect(),
        });
    }
    v
}

pub fn profiles() -> [(&'static str, Profile); 2] {
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
pub fn world(base: &Value, profiles: &[(&str, Profile)]) -> Value {
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

pub fn control(url: &str, method: &str, what: &str, body: Option<&Value>) -> Value {
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
        let status = resp.status();
        let bytes = resp.bytes().await.unwrap();
        assert!(
            status.is_success(),
            "control {what}: {status}: {}",
            String::from_utf8_lossy(&bytes)
        );
        serde_json::from_slice(&bytes).unwrap_or(Value::Null)
    })
}

/// The whole lending profile: a section per provider.
pub fn profile() -> Profile {
    Profile {
        providers: profiles()
            .into_iter()
            .map(|(p, section)| (p.to_string(), section))
            .collect(),
        ..Profile::default()
    }
}

/// A live target at one URL serving both providers, with the emulator's root credentials for
/// each, lent the instances of [`profile`].
pub fn live_kind(endpoint: cloudconform::run::exec::Endpoint) -> cloudconform::run::TargetKind {
    cloudconform::run::TargetKind::Live {
        endpoints: cloudconform::run::endpoints::Endpoints::new("", false).everything_at(endpoint),
        credentials: cloudconform::spec::Provider::ALL
            .into_iter()
            .map(|p| (p, Credentials::new("AKIDEXAMPLE", "SECRETEXAMPLE")))
            .collect(),
        profile: Box::new(profile()),
    }
}

/// Options of a URL run: destructive cases, the test certificate, the emulator's denied
/// sub-user, and the throttling probe.
pub fn options() -> RunOptions {
    RunOptions {
        allow_destructive: true,
        concurrency: 4,
        ca_cert_pem: Some(std::fs::read(root().join("tests/emulator_tls/cert.pem")).unwrap()),
        denied_credentials: Some(Credentials::new("AKIDSUBUSERDENY", "SUBUSERSECRET")),
        temporary_credentials: Some(temporary()),
        probe_throttling: true,
        ..RunOptions::default()
    }
}

/// The emulator's temporary credentials (an access key issued with a session token), lent for
/// the missing-token cases.
pub fn temporary() -> Credentials {
    Credentials::new("AKIDTEMPORARY", "TEMPORARYSECRET").with_session_token("TOKENEXAMPLE")
}

/// Serve the emulator and replace its services with the lent world; the world as served.
pub fn serve_lent(tls: bool, args: &[&str]) -> (Served, Value) {
    let served = serve(tls, args);
    // The secrets too: the world is written back, and a redacted copy is refused.
    let base = control(&served.url, "GET", "world?secrets=true", None);
    control(
        &served.url,
        "PUT",
        "world",
        Some(&world(&base, &profiles())),
    );
    let before = control(&served.url, "GET", "world", None);
    (served, before)
}

/// What the proxy of [`proxy`] does with one request.
pub enum Answer {
    /// Forward it and return the answer.
    Forward,
    /// Answer 404 without forwarding (a target without the emulator's control API).
    Refuse,
    /// Forward it, then close the connection without answering (the answer is lost).
    ForwardThenDrop,
    /// Answer these bytes (a whole HTTP response) without forwarding.
    Fake(Vec<u8>),
}

/// The decision for a request: its path and its action (`""` when it names none).
pub type Rule = Arc<dyn Fn(&str, &str) -> Answer + Send + Sync>;

/// Read one HTTP/1.1 request (head and `Content-Length` body); `None` when the client goes
/// away or is silent for 10 s.
pub async fn read_request(s: &mut TcpStream) -> Option<(String, Vec<u8>)> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 16384];
    loop {
        let n = tokio::time::timeout(Duration::from_secs(10), s.read(&mut chunk))
            .await
            .ok()?
            .ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
        if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&buf[..end]).to_string();
            let len = head
                .lines()
                .find_map(|l| {
                    let (k, v) = l.split_once(':')?;
                    k.eq_ignore_ascii_case("content-length")
                        .then(|| v.trim().parse::<usize>().ok())?
                })
                .unwrap_or(0);
            while buf.len() < end + 4 + len {
                let n = s.read(&mut chunk).await.ok()?;
                if n == 0 {
                    return None;
                }
                buf.extend_from_slice(&chunk[..n]);
            }
            return Some((head, buf[end + 4..end + 4 + len].to_vec()));
        }
    }
}

async fn forward(upstream: SocketAddr, head: &str, body: &[u8]) -> Vec<u8> {
    let Ok(mut up) = TcpStream::connect(upstream).await else {
        return Vec::new();
    };
    let head: Vec<&str> = head
        .split("\r\n")
        .filter(|l| !l.to_ascii_lowercase().starts_with("connection:"))
        .collect();
    let mut out = head.join("\r\n").into_bytes();
    out.extend_from_slice(b"\r\nConnection: close\r\n\r\n");
    out.extend_from_slice(body);
    if up.write_all(&out).await.is_err() {
        return Vec::new();
    }
    let mut answer = Vec::new();
    let _ = up.read_to_end(&mut answer).await;
    answer
}

/// The action a request names: the `X-TC-Action` / `x-acs-action` header, else an `Action`
/// parameter of the query or form body.
fn action_of(head: &str, body: &[u8]) -> String {
    for line in head.lines().skip(1) {
        if let Some((k, v)) = line.split_once(':') {
            let k = k.trim().to_ascii_lowercase();
            if k == "x-tc-action" || k == "x-acs-action" {
                return v.trim().to_string();
            }
        }
    }
    let target = head.split_whitespace().nth(1).unwrap_or("");
    let query = target.split_once('?').map(|(_, q)| q).unwrap_or("");
    let body = String::from_utf8_lossy(body);
    query
        .split('&')
        .chain(body.split('&'))
        .find_map(|kv| kv.strip_prefix("Action="))
        .unwrap_or("")
        .to_string()
}

/// A loopback HTTP proxy in front of `upstream` (plain HTTP, one request per connection) that
/// does what `rule` says with each request.
pub async fn proxy(upstream: SocketAddr, rule: Rule) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let Ok((mut client, _)) = listener.accept().await else {
                return;
            };
            let rule = rule.clone();
            tokio::spawn(async move {
                let Some((head, body)) = read_request(&mut client).await else {
                    return;
                };
                let path = head.split_whitespace().nth(1).unwrap_or("").to_string();
                let answer = match rule(&path, &action_of(&head, &body)) {
                    Answer::Forward => forward(upstream, &head, &body).await,
                    Answer::Refuse => {
                        b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
                            .to_vec()
                    }
                    Answer::ForwardThenDrop => {
                        let _ = forward(upstream, &head, &body).await;
                        return;
                    }
                    Answer::Fake(bytes) => bytes,
                };
                let _ = client.write_all(&answer).await;
            });
        }
    });
    addr
}

/// The upstream address of a plain-HTTP served emulator.
pub fn addr_of(served: &Served) -> SocketAddr {
    served
        .url
        .trim_start_matches("http://")
        .parse()
        .expect("emulator address")
}

/// Print every inconclusive case with its reason, the count per reason and the per-action
/// table (pass, fail, divergence, inconclusive) on stderr; fail naming every failed or divergent
/// case, or when more than `max_inconclusive_percent` of the cases are inconclusive. The
/// number inconclusive.
pub fn assert_decided(
    results: &[cloudconform::run::CaseResult],
    max_inconclusive_percent: usize,
) -> usize {
    use cloudconform::check::Verdict;
    use std::collections::BTreeMap;
    let mut per_reason: BTreeMap<String, usize> = BTreeMap::new();
    let mut per_action: BTreeMap<String, [usize; 4]> = BTreeMap::new();
    let mut problems = Vec::new();
    for r in results {
        let slot = match &r.verdict {
            Verdict::Pass => 0,
            Verdict::Fail { .. } => 1,
            Verdict::Divergence { .. } => 2,
            Verdict::Inconclusive { reason } => {
                *per_reason.entry(reason.clone()).or_default() += 1;
                eprintln!("INCONCLUSIVE {}: {reason}", r.id);
                3
            }
        };
        if matches!(r.verdict, Verdict::Fail { .. } | Verdict::Divergence { .. }) {
            problems.push(format!("{}: {:?}", r.id, r.verdict));
        }
        per_action.entry(r.action.clone()).or_default()[slot] += 1;
    }
    let inconclusive: usize = per_reason.values().sum();
    eprintln!("\ninconclusive per reason:");
    for (reason, n) in &per_reason {
        eprintln!("{n:>5}  {reason}");
    }
    eprintln!(
        "\n{:<56} {:>5} {:>5} {:>5} {:>5}",
        "action", "pass", "fail", "div", "incon"
    );
    for (a, [p, f, d, i]) in &per_action {
        eprintln!("{a:<56} {p:>5} {f:>5} {d:>5} {i:>5}");
    }
    eprintln!("{inconclusive} of {} inconclusive", results.len());
    assert!(
        problems.is_empty(),
        "{} fail/divergence:\n{}",
        problems.len(),
        problems.join("\n")
    );
    assert!(
        inconclusive * 100 <= results.len() * max_inconclusive_percent,
        "{inconclusive} of {} inconclusive",
        results.len()
    );
    inconclusive
}
