//! The HTTP side: the accept loop over the emulator's own HTTP/1.1 front (`front/`, so every
//! answer is an envelope and tccli's `Host: http://127.0.0.1:PORT` is just a header), optional
//! TLS, the axum router (control API; the whole emulator for embedding) and the state-file saver.
use super::dispatch::{self, ReadProblem};
use super::front::{self, Limits, Read};
use super::{control, route, Emulator, EmulatorError};
use crate::http::{RawRequest, RawResponse};
use axum::body::{Body, HttpBody};
use axum::extract::{Request, State};
use axum::response::Response;
use axum::Router;
use hyper_util::service::TowerToHyperService;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
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
        headers: header_pairs(&parts.headers),
        body: Vec::new(),
    };
    let limit = route::max_body_bytes(&shared.specs);
    let timeout = shared.config.request_timeout;
    let problem = match tokio::time::timeout(timeout, read_body(body, limit)).await {
        Ok(Ok(bytes)) => {
            raw.body = bytes;
            None
        }
        Ok(Err(problem)) => Some(problem),
        Err(_) => Some(ReadProblem::TooSlow {
            seconds: timeout.as_secs(),
        }),
    };
    // CPU-bound (signatures, 100 000-item arrays): keep it off the async workers.
    to_response(answer_off_thread(&emulator, raw, problem).await)
}

/// A body within `limit` bytes; a transport error (a broken chunk, a body cut short) is a
/// malformed request, not a large one.
async fn read_body(mut body: Body, limit: u64) -> Result<Vec<u8>, ReadProblem> {
    let mut out = Vec::new();
    while let Some(frame) =
        std::future::poll_fn(|cx| std::pin::Pin::new(&mut body).poll_frame(cx)).await
    {
        let frame = frame.map_err(|e| ReadProblem::Malformed {
            detail: format!("The request body could not be read: {e}."),
        })?;
        if let Ok(data) = frame.into_data() {
            if out.len() as u64 + data.len() as u64 > limit {
                return Err(ReadProblem::TooLarge { limit });
            }
            out.extend_from_slice(&data);
        }
    }
    Ok(out)
}

/// Requests up to this size (query plus body) are answered on the async worker that read them:
/// they take tens of microseconds, less than handing them to another thread costs. Larger ones
/// (100 000-item arrays) go to the blocking pool so they cannot stall other connections.
const INLINE_BYTES: usize = 16 * 1024;

/// Answer a cloud request, on the blocking pool if it is large (see [`INLINE_BYTES`]).
/// `dispatch::handle` never panics; if it did, the client still gets an envelope.
async fn answer_off_thread(
    emulator: &Emulator,
    raw: RawRequest,
    problem: Option<ReadProblem>,
) -> RawResponse {
    let recorder = &emulator.shared.recorder;
    // The fallback needs only the Host; the recorder needs the whole request.
    let recording = recorder.is_on();
    let fallback = if recording {
        raw.clone()
    } else {
        RawRequest {
            headers: raw
                .headers
                .iter()
                .filter(|(n, _)| n.eq_ignore_ascii_case("host"))
                .cloned()
                .collect(),
            ..RawRequest::default()
        }
    };
    let response = if raw.body.len() + raw.raw_query.len() <= INLINE_BYTES {
        let shared = &emulator.shared;
        std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            dispatch::handle(shared, raw, problem)
        }))
        .unwrap_or_else(|_| dispatch::internal_error(shared, &fallback))
    } else {
        let shared = emulator.shared.clone();
        match tokio::task::spawn_blocking(move || dispatch::handle(&shared, raw, problem)).await {
            Ok(r) => r,
            Err(_) => dispatch::internal_error(&emulator.shared, &fallback),
        }
    };
    if recording {
        recorder.record(fallback, &response);
    }
    response
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
    let limits = Limits::new(route::max_body_bytes(&emulator.shared.specs), timeout);
    let task = tokio::spawn(accept_loop(
        listener,
        (emulator.clone(), app),
        tls,
        limits,
        stopped,
        saver,
    ));
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
    (emulator, app): (Emulator, Router),
    tls: Option<tokio_rustls::TlsAcceptor>,
    limits: Limits,
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
                let emulator = emulator.clone();
                let tls = tls.clone();
                let stop = stopped.clone();
                connections.spawn(async move {
                    match tls {
                        None => serve_connection(stream, emulator, app, limits, stop).await,
                        Some(acceptor) => {
                            if let Ok(Ok(s)) = tokio::time::timeout(limits.timeout, acceptor.accept(stream)).await {
                                serve_connection(s, emulator, app, limits, stop).await;
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

/// One connection: read a request with the front, answer it, repeat while the client keeps
/// the connection alive. Requests are answered one at a time, in order; a client that
/// half-closes after a complete request still gets its answer.
async fn serve_connection<I>(
    mut io: I,
    emulator: Emulator,
    app: Router,
    limits: Limits,
    mut stop: watch::Receiver<bool>,
) where
    I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let mut buf = Vec::new();
    loop {
        let stopping = async {
            let _ = stop.changed().await;
        };
        let read = front::read_request(&mut io, &mut buf, &limits, stopping).await;
        let (response, head_only, close) = match read {
            Read::Closed => break,
            Read::Request {
                request,
                keep_alive,
            } => {
                let head_only = request.method == "HEAD";
                // A 200 to CONNECT opens a tunnel for proxy-aware clients: close after the
                // envelope so no one takes the connection for one.
                let close = !keep_alive || request.method == "CONNECT";
                let response = if is_control(&request.path) {
                    control_answer(&app, request).await
                } else {
                    answer_off_thread(&emulator, request, None).await
                };
                (response, head_only, close)
            }
            Read::Problem { partial, problem } => {
                let response = answer_off_thread(&emulator, partial, Some(problem)).await;
                (response, false, true)
            }
        };
        let head = front::encode_head(&response, close);
        let body = if head_only {
            &[][..]
        } else {
            &response.body[..]
        };
        if front::write_head_body(&mut io, &head, body).await.is_err() || io.flush().await.is_err()
        {
            return;
        }
        // A large body leaves a large buffer behind; idle connections keep little.
        if buf.capacity() > 64 * 1024 {
            buf.shrink_to(64 * 1024);
        }
        if close || *stop.borrow() {
            linger_close(&mut io).await;
            return;
        }
    }
    let _ = io.shutdown().await;
}

/// Close after an answer the client may still be sending into (a body too large to read):
/// closing with unread bytes would reset the connection and lose the answer, so send FIN and
/// discard what still arrives for a moment.
async fn linger_close<I: AsyncRead + AsyncWrite + Unpin>(io: &mut I) {
    let _ = io.shutdown().await;
    let mut sink = [0u8; 16 * 1024];
    let mut budget: usize = 64 << 20;
    let drain = async {
        while let Ok(n) = io.read(&mut sink).await {
            if n == 0 || n > budget {
                break;
            }
            budget -= n;
        }
    };
    let _ = tokio::time::timeout(Duration::from_secs(2), drain).await;
}

fn is_control(path: &str) -> bool {
    path == "/_cloudconform" || path.starts_with("/_cloudconform/")
}

/// A control-API request through the axum router.
async fn control_answer(app: &Router, request: RawRequest) -> RawResponse {
    use hyper::service::Service;
    let uri = if request.raw_query.is_empty() {
        request.path.clone()
    } else {
        format!("{}?{}", request.path, request.raw_query)
    };
    let mut builder = axum::http::Request::builder()
        .method(request.method.as_str())
        .uri(uri);
    for (n, v) in &request.headers {
        builder = builder.header(n.as_str(), v.as_str());
    }
    let plain = |status: u16, message: &str| RawResponse {
        status,
        headers: vec![("Content-Type".into(), "application/json".into())],
        body: serde_json::to_vec(&serde_json::json!({ "error": message }))
            .expect("JSON values always serialize"),
    };
    let Ok(http_request) = builder.body(Body::from(request.body)) else {
        return plain(400, "the request cannot be read as an HTTP request");
    };
    let service = TowerToHyperService::new(app.clone());
    let Ok(response) = service.call(http_request).await;
    let (parts, body) = response.into_parts();
    let Ok(bytes) = axum::body::to_bytes(body, usize::MAX).await else {
        return plain(500, "the control API failed while answering");
    };
    RawResponse {
        status: parts.status.as_u16(),
        headers: header_pairs(&parts.headers),
        body: bytes.to_vec(),
    }
}

/// Save the world whenever it changes (coalescing bursts), and once more on stop.
///
/// What was saved is `shared.saved`, set by `Emulator::save` itself: the comparison never
/// depends on when this task first ran (a change made before that used to be compared with a
/// generation read after it, and was not saved until the next change).
async fn save_on_change(emulator: Emulator, mut stopped: watch::Receiver<bool>) {
    let save = || async {
        let e = emulator.clone();
        let result = tokio::task::spawn_blocking(move || e.save()).await;
        match result {
            Ok(Ok(())) => true,
            Ok(Err(err)) => {
                eprintln!("cloudconform emulate: {err}");
                false
            }
            Err(_) => false,
        }
    };
    loop {
        let now = emulator.shared.generation.load(Ordering::SeqCst);
        // A failed save waits for the next change (or the stop) instead of spinning.
        if now != *emulator.shared.saved.borrow() && save().await {
            continue;
        }
        tokio::select! {
            _ = emulator.shared.changed.notified() => {}
            _ = stopped.changed() => {
                save().await;
                break;
            }
        }
    }
}

/// Header names and values as text (lossy: a non-UTF-8 value is still shown, not dropped).
fn header_pairs(headers: &axum::http::HeaderMap) -> Vec<(String, String)> {
    headers
        .iter()
        .map(|(n, v)| {
            (
                n.as_str().to_string(),
                String::from_utf8_lossy(v.as_bytes()).into_owned(),
            )
        })
        .collect()
}
