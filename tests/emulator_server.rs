//! The emulator as a server and a library: the control API, the state file, HTTPS, the
//! embeddable router and in-process calls.
mod emulator_support;

use cloudconform::emulator::{Emulator, EmulatorConfig, TlsFiles, World};
use cloudconform::sign::Scheme;
use emulator_support::{self as support, ROOT_ID, ROOT_SECRET};
use serde_json::json;
use std::path::PathBuf;

const TLS_DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/emulator_tls");

fn delete_request(host: &str, key: &str) -> cloudconform::http::RawRequest {
    support::signed(
        Scheme::Tc3HmacSha256,
        host,
        "DeleteKeyPairs",
        "2017-03-12",
        Some("ap-guangzhou"),
        &[],
        Some(&json!({"KeyIds": [key]})),
        (ROOT_ID, ROOT_SECRET),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn control_api() {
    let emu = support::start().await;
    let health = support::control(emu.addr, "GET", "health", None).await;
    assert_eq!(health.status, 200);
    let h = support::json(&health);
    assert_eq!(h["status"], json!("ok"));
    assert_eq!(h["rate_limits"], json!(false));

    // GET the world (with its secrets: redacted otherwise), PUT a changed one, read it back.
    let got: World = serde_json::from_slice(
        &support::control(emu.addr, "GET", "world?secrets=true", None)
            .await
            .body,
    )
    .unwrap();
    assert_eq!(got, World::default());
    let mut changed = got.clone();
    changed
        .regions
        .get_mut(&cloudconform::spec::Provider::Tencent)
        .unwrap()
        .push("ap-tokyo".into());
    support::put_world(emu.addr, &changed).await;
    assert_eq!(emu.world(), changed);

    // An inconsistent or unparsable world is refused and the old one kept.
    for bad in [
        json!({"accounts": [], "services": {"tencent/cvm": {"instances": [{"id": "ins-x", "os": "linux", "state": "STOPPED", "region": "r", "keys": ["skey-missing"]}]}}}),
        json!({"accounts": [], "services": {"tencent/cvs": {}}}),
        json!({"accounts": "no"}),
    ] {
        let r = support::control(emu.addr, "PUT", "world", Some(&bad)).await;
        assert_eq!(r.status, 400, "{}", String::from_utf8_lossy(&r.body));
        assert!(support::json(&r)["error"].is_string());
    }
    assert_eq!(emu.world(), changed);

    // Reset brings the default world back.
    assert_eq!(
        support::control(emu.addr, "POST", "reset", None)
            .await
            .status,
        200
    );
    assert_eq!(emu.world(), World::default());

    // Clock: fixed, then the system clock again.
    let r = support::control(
        emu.addr,
        "POST",
        "clock",
        Some(&json!({"now": 1795361616.7})),
    )
    .await;
    assert_eq!(support::json(&r)["now"], json!(1795361616));
    assert_eq!(support::json(&r)["clock"], json!("fixed"));
    let r = support::control(emu.addr, "POST", "clock", Some(&json!({"now": null}))).await;
    assert_eq!(support::json(&r)["clock"], json!("system"));
    assert_eq!(
        support::control(emu.addr, "POST", "clock", Some(&json!({"then": 1})))
            .await
            .status,
        400
    );

    // Config.
    let r = support::control(
        emu.addr,
        "POST",
        "config",
        Some(&json!({"rate_limits": true})),
    )
    .await;
    assert_eq!(support::json(&r)["rate_limits"], json!(true));
    assert_eq!(
        support::control(
            emu.addr,
            "POST",
            "config",
            Some(&json!({"rate_limit": true}))
        )
        .await
        .status,
        400
    );

    // Unknown control endpoints are plain 404s, not cloud envelopes.
    let r = support::control(emu.addr, "GET", "nothing", None).await;
    assert_eq!(r.status, 404);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn state_file_is_loaded_and_saved() {
    let dir = std::env::temp_dir().join(format!("cloudconform-emu-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).unwrap();
    let path: PathBuf = dir.join("world.json");
    let config = || EmulatorConfig {
        rate_limits: false,
        state_file: Some(path.clone()),
        ..EmulatorConfig::default()
    };

    let emu = support::start_with(config()).await;
    let r = support::send(emu.addr, &delete_request(&emu.host(), "skey-free0001")).await;
    assert!(
        support::error_code(&r).is_none(),
        "{}",
        String::from_utf8_lossy(&r.body)
    );
    // Saved after the change (asynchronously; wait_saved says when, no polling)…
    emu.wait_saved().await;
    let saved = World::load(&path).unwrap();
    assert!(
        saved
            .service("tencent/cvm")
            .unwrap()
            .key_pair("skey-free0001")
            .is_none(),
        "world saved after a change"
    );
    // …and on shutdown.
    emu.shutdown().await.unwrap();

    // A new emulator on the same file starts from it.
    let emu = support::start_with(config()).await;
    assert!(emu
        .world()
        .service("tencent/cvm")
        .unwrap()
        .key_pair("skey-free0001")
        .is_none());
    let r = support::send(emu.addr, &delete_request(&emu.host(), "skey-free0001")).await;
    assert_eq!(
        support::error_code(&r).as_deref(),
        Some("InvalidKeyPairId.NotFound")
    );
    emu.shutdown().await.unwrap();
    std::fs::remove_dir_all(&dir).unwrap();
}

/// The race of issue 8: a change made before the saver task first runs must still be saved.
/// On a current-thread runtime the saver cannot run before the synchronous `handle_raw` below,
/// so this fails every time (the wait never ends) if the saver takes its starting point from
/// the world's generation when it starts instead of from what the file holds.
#[tokio::test(flavor = "current_thread")]
async fn a_change_before_the_saver_starts_is_saved() {
    let dir = std::env::temp_dir().join(format!("cloudconform-emu-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).unwrap();
    let path: PathBuf = dir.join("world.json");
    let emu = support::start_with(EmulatorConfig {
        rate_limits: false,
        state_file: Some(path.clone()),
        ..EmulatorConfig::default()
    })
    .await;
    let r = emu.handle_raw(delete_request(&emu.host(), "skey-free0001"));
    assert!(support::error_code(&r).is_none());
    // Generous: only a scheduler stalled for a minute could reach it; the broken saver never
    // saves at all.
    tokio::time::timeout(std::time::Duration::from_secs(60), emu.wait_saved())
        .await
        .expect("the change made before the saver started was never saved");
    let saved = World::load(&path).unwrap();
    assert!(saved
        .service("tencent/cvm")
        .unwrap()
        .key_pair("skey-free0001")
        .is_none());
    emu.shutdown().await.unwrap();
    std::fs::remove_dir_all(&dir).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn https() {
    let emu = support::start_with(EmulatorConfig {
        rate_limits: false,
        tls: Some(TlsFiles {
            cert: PathBuf::from(TLS_DIR).join("cert.pem"),
            key: PathBuf::from(TLS_DIR).join("key.pem"),
        }),
        ..EmulatorConfig::default()
    })
    .await;
    assert!(emu.url().starts_with("https://127.0.0.1:"));
    let cert = std::fs::read(PathBuf::from(TLS_DIR).join("cert.pem")).unwrap();
    let client = reqwest::Client::builder()
        .add_root_certificate(reqwest::Certificate::from_pem(&cert).unwrap())
        .no_proxy()
        .build()
        .unwrap();
    let health = client
        .get(format!("{}/_cloudconform/health", emu.url()))
        .send()
        .await
        .unwrap();
    assert_eq!(health.status(), 200);

    // A signed call over TLS, headers as the signer made them.
    let signed = delete_request(&emu.host(), "skey-free0002");
    let mut request = client
        .post(format!("{}/", emu.url()))
        .body(signed.body.clone());
    for (n, v) in &signed.headers {
        if !n.eq_ignore_ascii_case("host") {
            request = request.header(n, v);
        }
    }
    let r = request.send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["content-type"], "application/json");
    let body: serde_json::Value = serde_json::from_slice(&r.bytes().await.unwrap()).unwrap();
    assert!(body.pointer("/Response/Error").is_none(), "{body}");
    assert!(emu
        .world()
        .service("tencent/cvm")
        .unwrap()
        .key_pair("skey-free0002")
        .is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn embedded_router_and_in_process_calls() {
    let emulator = Emulator::new(EmulatorConfig {
        rate_limits: false,
        ..EmulatorConfig::default()
    })
    .unwrap();

    // In-process: no HTTP at all.
    let answer = emulator.handle_raw(delete_request("cvm.tencentcloudapi.com", "skey-free0001"));
    assert_eq!(answer.status, 200);
    assert!(
        support::error_code(&answer).is_none(),
        "{}",
        String::from_utf8_lossy(&answer.body)
    );

    // Embedded in another axum app under the caller's own server.
    let app = axum::Router::new()
        .route("/other", axum::routing::get(|| async { "mine" }))
        .merge(emulator.router());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    let r = support::send(addr, &delete_request(&addr.to_string(), "skey-free0002")).await;
    assert!(
        support::error_code(&r).is_none(),
        "{}",
        String::from_utf8_lossy(&r.body)
    );
    let w = emulator.world();
    let cvm = w.service("tencent/cvm").unwrap();
    assert!(cvm.key_pair("skey-free0001").is_none() && cvm.key_pair("skey-free0002").is_none());
    let health = support::control(addr, "GET", "health", None).await;
    assert_eq!(health.status, 200);
}
