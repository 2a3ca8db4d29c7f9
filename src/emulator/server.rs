//! The HTTP side: the axum router, the accept loop (own hyper connections so head-read timeouts
//! apply and tccli's `Host: http://127.0.0.1:PORT` is accepted as any other header), optional
//! TLS, and the state-file saver.
use super::dispatch::{self, BodyProblem};
use super::{control, route, Emulator, EmulatorError};
use crate::http::{RawRequest, RawResponse};
use axum::body::Body;
use axum::extract::{Request, State};
use axum::response::Response;
use axum::Router;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// A certificate chain and its private key, PEM files.
#[derive(Debug, Clone)]
pub struct TlsFiles {
    pub cert: PathBuf,
    pub key: PathBuf,
}

/// A running emulator. Dropping it stops the server (without the final state-file save:
/// call [`EmulatorHandle::shutdown`] for that).
pub struct EmulatorHandle {
    /// The address it listens on.
    pub addr: SocketAddr,
    /// `http` or `https`.
    pub scheme: &'static str,
    emulator: Emulator,
    stop: watch::Sender<bool>,
    task: Option<JoinHandle<()>>,
}

impl EmulatorHandle {
    /// `http://127.0.0.1:PORT` (or `https://…`).
    pub fn url(&self) -> String {
        format!("{}://{}", self.scheme, self.addr)
    }

    /// `127.0.0.1:PORT`, what SDK endpoints and signed Host headers carry.
    pub fn host(&self) -> String {
        self.addr.to_string()
    }

    pub fn emulator(&self) -> &Emulator {
        &self.emulator
    }

    /// Stop accepting, let open requests finish (up to 5 s), save the state file.
    pub async fn shutdown(mut self) -> Result<(), super::WorldError> {
        let _ = self.stop.send(true);
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
        self.emulator.save()
    }
}

impl Drop for EmulatorHandle {
    fn drop(&mut self) {
        let _ = self.stop.send(true);
    }
}

impl std::ops::Deref for EmulatorHandle {
    type Target = Emulator;
    fn deref(&self) -> &Emulator {
        &self.emulator
    }
}

pub(crate) fn router(emulator: Emulator) -> Router {
    Router::new()
        .nest("/_cloudconform", control::router())
        .fallback(cloud)
        .layer(axum::middleware::from_fn_with_state(
            emulator.clone(),
            super::recording::layer,
        ))
        .with_state(emulator)
}

/// Every non-control request: read the body within the limits, then answer as a cloud.
async fn cloud(State(emulator): State<Emulator>, request: Request) -> Response {
    let shared = emulator.shared.clone();
    let (parts, body) = request.into_parts();
    let mut raw = RawRequest {
        method: parts.method.as_str().to_ascii_uppercase(),
        path: parts.uri.path().to_string(),
        raw_query: parts.uri.query().unwrap_or_default().to_string(),
        headers: parts
            .headers
            .iter()
            .map(|(n, v)| {
                (
                    n.as_str().to_string(),
                    String::from_utf8_lossy(v.as_bytes()).into_owned(),
                )
            })
            .collect(),
        body: Vec::new(),
    };
    let limit = route::max_body_bytes(&shared.specs);
    let timeout = shared.config.request_timeout;
    let problem =
        match tokio::time::timeout(timeout, axum::body::to_bytes(body, limit as usize)).await {
            Ok(Ok(bytes)) => {
                raw.body = bytes.to_vec();
                None
            }
            Ok(Err(_)) => Some(BodyProblem::TooLarge { limit }),
            Err(_) => Some(BodyProblem::TooSlow {
                seconds: timeout.as_secs(),
            }),
        };
    // CPU-bound (signatures, 100 000-item arrays): keep it off the async workers.
    let answer = tokio::task::spawn_blocking(move || dispatch::handle(&shared, raw, problem)).await;
    match answer {
        Ok(r) => to_response(r),
        Err(_) => to_response(RawResponse {
            status: 500,
            headers: vec![("Content-Type".into(), "text/plain".into())],
            body: b"the emulator failed while answering".to_vec(),
        }),
    }
}

pub(crate) fn to_response(raw: RawResponse) -> Response {
    let mut builder = Response::builder().status(raw.status);
    for (n, v) in &raw.headers {
        builder = builder.header(n, v);
    }
    builder
        .body(Body::from(raw.body))
        .unwrap_or_else(|_| Response::new(Body::from("bad response")))
}

fn tls_acceptor(files: &super::TlsFiles) -> Result<tokio_rustls::TlsAcceptor, EmulatorError> {
    use rustls_pki_types::pem::PemObject;
    use rustls_pki_types::{CertificateDer, PrivateKeyDer};
    use tokio_rustls::rustls;
    let err = |what: &str, e: &dyn std::fmt::Display| EmulatorError::Tls(format!("{what}: {e}"));
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(&files.cert)
        .map_err(|e| err(&files.cert.display().to_string(), &e))?
        .collect::<Result<_, _>>()
        .map_err(|e| err(&files.cert.display().to_string(), &e))?;
    let key = PrivateKeyDer::from_pem_file(&files.key)
        .map_err(|e| err(&files.key.display().to_string(), &e))?;
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| err("protocol versions", &e))?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .map_err(|e| err("certificate", &e))?;
    Ok(tokio_rustls::TlsAcceptor::from(Arc::new(config)))
}

pub(crate) async fn serve(emulator: Emulator) -> Result<EmulatorHandle, EmulatorError> {
    let config = &emulator.shared.config;
    let tls = config.tls.as_ref().map(tls_acceptor).transpose()?;
    let listener = TcpListener::bind(config.addr)
        .await
        .map_err(|source| EmulatorError::Bind {
            addr: config.addr,
            source,
        })?;
    let addr = listener
        .local_addr()
        .map_err(|source| EmulatorError::Bind {
            addr: config.addr,
            source,
        })?;
    let (stop, stopped) = watch::channel(false);
    let app = router(emulator.clone());
    let timeout = config.request_timeout;
    let saver = config
        .state_file
        .clone()
        .map(|_| tokio::spawn(save_on_change(emulator.clone(), stopped.clone())));
    let scheme = if tls.is_some() { "https" } else { "http" };
    let task = tokio::spawn(accept_loop(listener, app, tls, timeout, stopped, saver));
    Ok(EmulatorHandle {
        addr,
        scheme,
        emulator,
        stop,
        task: Some(task),
    })
}

async fn accept_loop(
    listener: TcpListener,
    app: Router,
    tls: Option<tokio_rustls::TlsAcceptor>,
    timeout: Duration,
    mut stopped: watch::Receiver<bool>,
    saver: Option<JoinHandle<()>>,
) {
    let mut connections = tokio::task::JoinSet::new();
    loop {
        tokio::select! {
            _ = stopped.changed() => break,
            accepted = listener.accept() => {
                let Ok((stream, _)) = accepted else {
                    // Out of file descriptors and the like: back off instead of spinning.
                    tokio::time::sleep(Duration::from_millis(20)).await;
                    continue;
                };
                let _ = stream.set_nodelay(true);
                let app = app.clone();
                let tls = tls.clone();
                let stop = stopped.clone();
                connections.spawn(async move {
                    match tls {
                        None => serve_connection(stream, app, timeout, stop).await,
                        Some(acceptor) => {
                            if let Ok(Ok(s)) = tokio::time::timeout(timeout, acceptor.accept(stream)).await {
                                serve_connection(s, app, timeout, stop).await;
                            }
                        }
                    }
                });
            }
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
        }
    }
    drop(listener);
    let drain = async { while connections.join_next().await.is_some() {} };
    if tokio::time::timeout(Duration::from_secs(5), drain)
        .await
        .is_err()
    {
        connections.abort_all();
    }
    if let Some(saver) = saver {
        let _ = saver.await;
    }
}

async fn serve_connection<I>(io: I, app: Router, timeout: Duration, mut stop: watch::Receiver<bool>)
where
    I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let service = TowerToHyperService::new(app);
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(timeout)
        .keep_alive(true);
    let conn = builder.serve_connection(TokioIo::new(io), service);
    tokio::pin!(conn);
    tokio::select! {
        _ = conn.as_mut() => {}
        _ = stop.changed() => {
            conn.as_mut().graceful_shutdown();
            let _ = tokio::time::timeout(Duration::from_secs(5), conn).await;
        }
    }
}

/// Save the world whenever it changes (coalescing bursts), and once more on stop.
async fn save_on_change(emulator: Emulator, mut stopped: watch::Receiver<bool>) {
    let mut saved = emulator.shared.generation.load(Ordering::SeqCst);
    loop {
        let stop = tokio::select! {
            _ = emulator.shared.changed.notified() => false,
            _ = stopped.changed() => true,
        };
        let now = emulator.shared.generation.load(Ordering::SeqCst);
        if now != saved || stop {
            saved = now;
            let e = emulator.clone();
            let result = tokio::task::spawn_blocking(move || e.save()).await;
            if let Ok(Err(err)) = result {
                eprintln!("cloudconform emulate: {err}");
            }
        }
        if stop {
            break;
        }
    }
}
