//! `cargo bench --bench load`: the emulator under load, measured against the limit of its own
//! HTTP stack, in one run.
//!
//! * Default: signed CVM `DescribeKeyPairs` over C keep-alive connections (default 8), sent by
//!   one minimal client to (a) the emulator and (b) a bare axum server from the same axum/hyper/
//!   tokio versions answering a fixed body of the emulator's answer size. Rounds alternate
//!   between the two; the medians and their ratio (emulator ÷ limit) are printed.
//! * `-- --growth`: the emulator with worlds of 100 / 10,000 / 100,000 CVM instances (made by
//!   `generate` rules), each world in a fresh process so its RSS is its own: RSS after loading,
//!   and requests/s for `DescribeInstances` by id and `DescribeKeyPairs` by id (actions that name
//!   their resources) and `DescribeInstances` paged through the whole world (Offset/Limit 100).
//!
//! Options: `--connections N`, `--seconds S` (per measurement), `--rounds R`, `--only
//! emulator|axum` (one side only, for profiling), `--sizes 100,10000,100000` (growth).
//!
//! The client sends pre-signed requests (TC3 has no nonce, so a signed request may be replayed
//! within the skew window): signing is the client's cost and stays out of both measurements.
use cloudconform::emulator::{Emulator, EmulatorConfig, World};

// The CLI's allocator and its options (src/allocator.rs), so this measures what `cloudconform
// emulate` runs; the axum baseline shares them.
#[path = "../src/allocator.rs"]
mod allocator;
use cloudconform::sign::{sign, Credentials, Scheme, SignInput};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

struct Options {
    connections: usize,
    seconds: f64,
    rounds: usize,
    only: Option<String>,
    growth: bool,
    sizes: Vec<usize>,
    /// Internal: measure one world size in this process and print one JSON line.
    child: Option<usize>,
}

fn options() -> Options {
    let mut o = Options {
        connections: 8,
        seconds: 3.0,
        rounds: 5,
        only: None,
        growth: false,
        sizes: vec![100, 10_000, 100_000],
        child: None,
    };
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut i = 0;
    let value = |i: usize, name: &str| -> String {
        args.get(i + 1)
            .cloned()
            .unwrap_or_else(|| panic!("{name} needs a value"))
    };
    while i < args.len() {
        match args[i].as_str() {
            "--connections" => o.connections = value(i, "--connections").parse().expect("N"),
            "--seconds" => o.seconds = value(i, "--seconds").parse().expect("seconds"),
            "--rounds" => o.rounds = value(i, "--rounds").parse().expect("N"),
            "--only" => o.only = Some(value(i, "--only")),
            "--sizes" => {
                o.sizes = value(i, "--sizes")
                    .split(',')
                    .map(|s| s.parse().expect("sizes are numbers"))
                    .collect()
            }
            "--child" => o.child = Some(value(i, "--child").parse().expect("N")),
            "--growth" => {
                o.growth = true;
                i += 1;
                continue;
            }
            // `cargo bench` passes `--bench`; anything else unknown is ignored the same way.
            _ => {
                i += 1;
                continue;
            }
        }
        i += 2;
    }
    o
}

fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "unknown".into())
}

fn rss_mb() -> f64 {
    cloudconform::emulator::fuzz::rss_bytes().unwrap_or(0) as f64 / 1e6
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}

/// A TC3-signed CVM request as bytes on the wire, ready to replay.
fn tc3_request(host: &str, action: &str, body: &str) -> Vec<u8> {
    let now = cloudconform::sign::clock::unix_now();
    let input = SignInput::new("POST", host, action, "2017-03-12", now, "0")
        .with_region("ap-guangzhou")
        .with_body(body.as_bytes().to_vec(), "application/json");
    let credentials = Credentials::new("AKIDEXAMPLE", "SECRETEXAMPLE");
    let request = sign(Scheme::Tc3HmacSha256, &input, &credentials)
        .expect("the bench request signs")
        .request;
    let mut out = format!("{} {} HTTP/1.1\r\n", request.method, request.path).into_bytes();
    for (name, value) in &request.headers {
        out.extend_from_slice(format!("{name}: {value}\r\n").as_bytes());
    }
    out.extend_from_slice(format!("Content-Length: {}\r\n\r\n", request.body.len()).as_bytes());
    out.extend_from_slice(&request.body);
    out
}

/// Read one response off `stream` (Content-Length framing, as both servers answer); returns
/// its status and body. `buf` keeps bytes past the response.
async fn read_response(stream: &mut TcpStream, buf: &mut Vec<u8>) -> Option<(u16, Vec<u8>)> {
    loop {
        if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = std::str::from_utf8(&buf[..end]).ok()?;
            let status: u16 = head.split(' ').nth(1)?.parse().ok()?;
            let length: usize = head
                .lines()
                .find_map(|l| {
                    let (n, v) = l.split_once(':')?;
                    n.eq_ignore_ascii_case("content-length")
                        .then(|| v.trim().parse().ok())?
                })
                .unwrap_or(0);
            let total = end + 4 + length;
            while buf.len() < total {
                if stream.read_buf(buf).await.ok()? == 0 {
                    return None;
                }
            }
            let body = buf[end + 4..total].to_vec();
            buf.drain(..total);
            return Some((status, body));
        }
        buf.reserve(16 * 1024);
        if stream.read_buf(buf).await.ok()? == 0 {
            return None;
        }
    }
}

/// One request and its answer on a fresh connection (to check what a server answers).
async fn exchange(addr: SocketAddr, request: &[u8]) -> (u16, Vec<u8>) {
    let mut stream = TcpStream::connect(addr).await.expect("connect");
    stream.write_all(request).await.expect("send");
    read_response(&mut stream, &mut Vec::new())
        .await
        .expect("an answer")
}

/// Requests per second over `connections` keep-alive connections for `seconds`, each
/// connection cycling through `requests` (one at a time, as SDKs do). Every answer must be
/// 200 without an error code, or the run stops with the answer.
async fn load(
    addr: SocketAddr,
    requests: Arc<Vec<Vec<u8>>>,
    connections: usize,
    seconds: f64,
) -> f64 {
    let done = Arc::new(AtomicU64::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let mut tasks = Vec::new();
    for c in 0..connections {
        let (requests, done, stop) = (requests.clone(), done.clone(), stop.clone());
        tasks.push(tokio::spawn(async move {
            let mut stream = TcpStream::connect(addr).await.expect("connect");
            stream.set_nodelay(true).expect("nodelay");
            let mut buf = Vec::with_capacity(32 * 1024);
            let mut i = c;
            while !stop.load(Ordering::Relaxed) {
                stream
                    .write_all(&requests[i % requests.len()])
                    .await
                    .expect("send");
                let (status, body) = read_response(&mut stream, &mut buf).await.expect("answer");
                if status != 200 || body.windows(7).any(|w| w == b"\"Error\"") {
                    panic!(
                        "answer {status}: {}",
                        String::from_utf8_lossy(&body[..body.len().min(400)])
                    );
                }
                done.fetch_add(1, Ordering::Relaxed);
                i += connections;
            }
        }));
    }
    // Warm-up: connections open, caches and pools filled; then count.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let start_count = done.load(Ordering::Relaxed);
    let start = Instant::now();
    tokio::time::sleep(Duration::from_secs_f64(seconds)).await;
    let counted = done.load(Ordering::Relaxed) - start_count;
    let elapsed = start.elapsed().as_secs_f64();
    stop.store(true, Ordering::Relaxed);
    for t in tasks {
        t.await.expect("client connection");
    }
    counted as f64 / elapsed
}

/// The limit: axum on the same stack answering `body` to every request, with the emulator's
/// Content-Type. It reads (and drops) the request body, as any server must.
async fn start_axum(body: Vec<u8>) -> SocketAddr {
    use axum::http::header::CONTENT_TYPE;
    let body = axum::body::Bytes::from(body);
    let app = axum::Router::new().fallback(move |request: axum::extract::Request| {
        let body = body.clone();
        async move {
            let _ = axum::body::to_bytes(request.into_body(), 1 << 20).await;
            ([(CONTENT_TYPE, "application/json")], body)
        }
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move { axum::serve(listener, app).await.expect("axum serves") });
    addr
}

fn emulator_config(world: Option<World>) -> EmulatorConfig {
    EmulatorConfig {
        rate_limits: false,
        world,
        ..EmulatorConfig::default()
    }
}

fn ratio_bench(o: &Options) {
    // Servers on their own runtime (default workers), the client on another: both sides of
    // the machine are shared alike by the two servers.
    let servers = tokio::runtime::Runtime::new().expect("server runtime");
    let client = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("client runtime");
    let emulator = servers
        .block_on(Emulator::start(emulator_config(None)))
        .expect("emulator starts");
    let request = tc3_request(&emulator.host(), "DescribeKeyPairs", r#"{"Limit": 20}"#);
    let (status, answer) = client.block_on(exchange(emulator.addr, &request));
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&answer));
    let axum = servers.block_on(start_axum(answer.clone()));
    let requests = Arc::new(vec![request]);
    println!(
        "signed CVM DescribeKeyPairs (answer {} bytes), {} connections, {} s x {} rounds; load average {}",
        answer.len(),
        o.connections,
        o.seconds,
        o.rounds,
        load_average()
    );
    let (mut emu, mut lim) = (Vec::new(), Vec::new());
    for round in 1..=o.rounds {
        if o.only.as_deref() != Some("emulator") {
            let r = client.block_on(load(axum, requests.clone(), o.connections, o.seconds));
            println!("  round {round}: axum baseline {r:>9.0} requests/s");
            lim.push(r);
        }
        if o.only.as_deref() != Some("axum") {
            let r = client.block_on(load(
                emulator.addr,
                requests.clone(),
                o.connections,
                o.seconds,
            ));
            println!("  round {round}: emulator      {r:>9.0} requests/s");
            emu.push(r);
        }
    }
    if !emu.is_empty() && !lim.is_empty() {
        let (e, l) = (median(emu), median(lim));
        println!(
            "median: emulator {e:.0} requests/s, axum baseline {l:.0} requests/s, emulator / limit = {:.3} (load average {})",
            e / l,
            load_average()
        );
    }
    drop(emulator);
    servers.shutdown_timeout(Duration::from_secs(1));
}

/// A world of `n` CVM instances without keys (the default world's accounts and regions, 100
/// key pairs), written as a world document with `generate` rules of at most 10,000 objects each.
fn growth_world(n: usize) -> World {
    let mut rules = Vec::new();
    let mut left = n;
    let mut letter = b'a';
    while left > 0 {
        let count = left.min(10_000);
        rules.push(serde_json::json!({
            "service": "tencent/cvm", "count": count,
            "instance": {"id": format!("ins-{}{{n:7}}", letter as char), "os": "linux",
                         "state": "STOPPED", "region": "ap-guangzhou", "keys": []},
            "why": "load benchmark"
        }));
        left -= count;
        letter += 1;
    }
    // Listed, not generated: the rules may make at most 100,000 objects in all.
    let key_pairs: Vec<serde_json::Value> = (1..=100)
        .map(|n| serde_json::json!({"id": format!("skey-grow{n:04}"), "name": format!("grow_{n}"), "region": "ap-guangzhou"}))
        .collect();
    let default = World::default();
    let doc = serde_json::json!({
        "accounts": default.accounts,
        "regions": default.regions,
        "services": {"tencent/cvm": {"key_pairs": key_pairs}},
        "generate": rules,
    });
    World::from_json(doc.to_string().as_bytes()).expect("the growth world is consistent")
}

/// The id of the `k`-th instance of [`growth_world`].
fn instance_id(k: usize) -> String {
    format!(
        "ins-{}{:07}",
        (b'a' + (k / 10_000) as u8) as char,
        k % 10_000 + 1
    )
}

/// One world size, in this (fresh) process: prints one JSON line.
fn growth_child(o: &Options, n: usize) {
    let servers = tokio::runtime::Runtime::new().expect("server runtime");
    let client = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("client runtime");
    let rss_empty = rss_mb();
    let world = growth_world(n);
    let emulator = servers
        .block_on(Emulator::start(emulator_config(Some(world))))
        .expect("emulator starts");
    let rss_loaded = rss_mb();
    let host = emulator.host();
    // Spread over the world: ids from everywhere, pages from everywhere.
    let picks: Vec<usize> = (0..500).map(|i| (i * 7919) % n).collect();
    let by_id: Vec<Vec<u8>> = picks
        .iter()
        .map(|k| {
            let body = format!(r#"{{"InstanceIds": ["{}"]}}"#, instance_id(*k));
            tc3_request(&host, "DescribeInstances", &body)
        })
        .collect();
    let keys: Vec<Vec<u8>> = (0..100)
        .map(|k| {
            let body = format!(r#"{{"KeyIds": ["skey-grow{:04}"]}}"#, k + 1);
            tc3_request(&host, "DescribeKeyPairs", &body)
        })
        .collect();
    let pages: Vec<Vec<u8>> = (0..n.div_ceil(100).min(500))
        .map(|p| {
            let offset = (p * 100 * 7) % n.max(1) / 100 * 100;
            let body = format!(r#"{{"Offset": {offset}, "Limit": 100}}"#);
            tc3_request(&host, "DescribeInstances", &body)
        })
        .collect();
    let mut result =
        serde_json::json!({"instances": n, "rss_mb": rss_loaded, "rss_empty_mb": rss_empty});
    for (name, requests) in [("by_id", by_id), ("key_by_id", keys), ("paged", pages)] {
        let r = client.block_on(load(
            emulator.addr,
            Arc::new(requests),
            o.connections,
            o.seconds,
        ));
        result[name] = r.into();
    }
    result["rss_after_mb"] = rss_mb().into();
    println!("{result}");
    drop(emulator);
    servers.shutdown_timeout(Duration::from_secs(1));
}

fn growth(o: &Options) {
    let exe = std::env::current_exe().expect("own path");
    println!(
        "emulator growth: worlds of {:?} CVM instances, {} connections, {} s per action, {} rounds (interleaved); load average {}",
        o.sizes,
        o.connections,
        o.seconds,
        o.rounds,
        load_average()
    );
    let mut runs: Vec<Vec<serde_json::Value>> = vec![Vec::new(); o.sizes.len()];
    for _ in 0..o.rounds {
        for (s, size) in o.sizes.iter().enumerate() {
            let out = std::process::Command::new(&exe)
                .args(["--child", &size.to_string()])
                .args(["--connections", &o.connections.to_string()])
                .args(["--seconds", &o.seconds.to_string()])
                .output()
                .expect("the growth child runs");
            assert!(
                out.status.success(),
                "{}",
                String::from_utf8_lossy(&out.stderr)
            );
            let line = String::from_utf8_lossy(&out.stdout);
            let v: serde_json::Value = serde_json::from_str(line.trim()).expect("one JSON line");
            runs[s].push(v);
        }
    }
    let med = |s: usize, key: &str| {
        median(
            runs[s]
                .iter()
                .map(|v| v[key].as_f64().unwrap_or(0.0))
                .collect(),
        )
    };
    println!(
        "{:>10} {:>11} {:>14} {:>16} {:>16} {:>16}",
        "instances", "RSS MB", "RSS/inst (B)", "by id req/s", "key by id req/s", "paged req/s"
    );
    for (s, size) in o.sizes.iter().enumerate() {
        let rss = med(s, "rss_mb");
        let per = (rss - med(s, "rss_empty_mb")) * 1e6 / *size as f64;
        println!(
            "{size:>10} {rss:>11.1} {per:>14.0} {:>16.0} {:>16.0} {:>16.0}",
            med(s, "by_id"),
            med(s, "key_by_id"),
            med(s, "paged")
        );
    }
    let last = o.sizes.len() - 1;
    for key in ["by_id", "key_by_id", "paged"] {
        println!(
            "{key}: requests/s at {} instances / at {} = {:.3}",
            o.sizes[last],
            o.sizes[0],
            med(last, key) / med(0, key)
        );
    }
    println!("load average at the end: {}", load_average());
}

fn main() {
    allocator::configure();
    let o = options();
    if let Some(n) = o.child {
        growth_child(&o, n);
    } else if o.growth {
        growth(&o);
    } else {
        ratio_bench(&o);
    }
}
