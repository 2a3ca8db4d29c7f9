//! Requests to an emulator this process started: kept-alive HTTP/1.1 connections of hyper's
//! client, one request at a time on each, reused from a stack of idle ones.
//!
//! Why not reqwest here: for every request reqwest parses the URL (IDNA on the host included),
//! looks up the proxy settings and its pool by scheme and host, and passes through its tower
//! layers and a timer of its own; on the embedded emulator that was about a fifth of the
//! client's time per request (docs/emulator.md "Performance"). An emulator the run started is
//! plain HTTP on a loopback address it knows, so none of that decides anything. The request on
//! the wire is the same: the case's headers in order, plus `Host` and `Accept: */*` when the
//! case has none, as reqwest adds them. Every other target (a URL, the live clouds, proxies,
//! TLS) keeps reqwest.
use super::exec::TransportError;
use crate::http::{RawRequest, RawResponse};
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1::SendRequest;
use std::net::SocketAddr;
use std::time::Duration;

type Sender = SendRequest<Full<Bytes>>;

/// Idle connections to one emulator.
pub struct Connections {
    addr: SocketAddr,
    /// `host:port`, the Host header reqwest would send.
    host: String,
    idle: parking_lot::Mutex<Vec<Sender>>,
}

impl std::fmt::Debug for Connections {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Connections({})", self.addr)
    }
}

/// Two endpoints are the same when they reach the same address.
impl PartialEq for Connections {
    fn eq(&self, other: &Connections) -> bool {
        self.addr == other.addr
    }
}

impl Eq for Connections {}

/// A request that failed before any of it was written may go again on a new connection (an
/// idle connection the emulator closed meanwhile); this many times at most.
const FRESH_ATTEMPTS: usize = 2;

impl Connections {
    pub fn new(addr: SocketAddr) -> Connections {
        Connections {
            addr,
            host: addr.to_string(),
            idle: parking_lot::Mutex::new(Vec::new()),
        }
    }

    /// Send one request and read the whole answer within `timeout`.
    pub async fn send(
        &self,
        req: &RawRequest,
        timeout: Duration,
    ) -> Result<RawResponse, TransportError> {
        match tokio::time::timeout(timeout, self.exchange(req)).await {
            Ok(r) => r,
            Err(_) => Err(TransportError::Timeout(timeout)),
        }
    }

    async fn exchange(&self, req: &RawRequest) -> Result<RawResponse, TransportError> {
        let mut request = self.request(req)?;
        let mut attempts = 0;
        let (mut sender, resp) = loop {
            let mut sender = match self.take_idle().await {
                Some(s) => s,
                None => self.connect().await?,
            };
            match sender.try_send_request(request).await {
                Ok(resp) => break (sender, resp),
                Err(mut e) => match e.take_message() {
                    // Not written at all: safe to send again, even a mutation.
                    Some(again) if attempts < FRESH_ATTEMPTS => {
                        attempts += 1;
                        request = again;
                    }
                    _ => return Err(self.other(e.into_error())),
                },
            }
        };
        let status = resp.status().as_u16();
        let headers = super::exec::header_pairs(resp.headers());
        let body = resp
            .into_body()
            .collect()
            .await
            .map_err(|e| self.other(e))?
            .to_bytes()
            .to_vec();
        // The answer is read: the connection takes another request unless the emulator said
        // it closes.
        if sender.ready().await.is_ok() {
            self.idle.lock().push(sender);
        }
        Ok(RawResponse {
            status,
            headers,
            body,
        })
    }

    /// The case's request as hyper's, with the headers reqwest adds when absent.
    fn request(&self, req: &RawRequest) -> Result<http::Request<Full<Bytes>>, TransportError> {
        let invalid = |what: &str, e: &dyn std::fmt::Display| {
            TransportError::Other(format!("cannot send {what}: {e}"))
        };
        let mut target = String::with_capacity(req.path.len() + 1 + req.raw_query.len());
        target.push_str(&req.path);
        if !req.raw_query.is_empty() {
            target.push('?');
            target.push_str(&req.raw_query);
        }
        let mut builder = http::Request::builder()
            .method(req.method.as_bytes())
            .uri(target);
        let (mut host, mut accept) = (false, false);
        for (k, v) in &req.headers {
            host |= k.eq_ignore_ascii_case("host");
            accept |= k.eq_ignore_ascii_case("accept");
            builder = builder.header(k.as_str(), v.as_str());
        }
        if !host {
            builder = builder.header("host", self.host.as_str());
        }
        if !accept {
            builder = builder.header("accept", "*/*");
        }
        builder
            .body(Full::new(Bytes::copy_from_slice(&req.body)))
            .map_err(|e| invalid("the request", &e))
    }

    /// An idle connection that can take a request now; closed ones are dropped.
    async fn take_idle(&self) -> Option<Sender> {
        loop {
            let mut sender = self.idle.lock().pop()?;
            if !sender.is_closed() && sender.ready().await.is_ok() {
                return Some(sender);
            }
        }
    }

    async fn connect(&self) -> Result<Sender, TransportError> {
        let connect_error = |e: &dyn std::fmt::Display| {
            TransportError::Connect(format!("http://{}: {e}", self.addr))
        };
        let stream = tokio::net::TcpStream::connect(self.addr)
            .await
            .map_err(|e| connect_error(&e))?;
        let _ = stream.set_nodelay(true);
        let (sender, conn) =
            hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream))
                .await
                .map_err(|e| connect_error(&e))?;
        // The connection's reading and writing; it ends when the sender is dropped or the
        // emulator closes.
        tokio::spawn(async move {
            let _ = conn.await;
        });
        Ok(sender)
    }

    fn other(&self, e: impl std::error::Error + 'static) -> TransportError {
        TransportError::Other(format!(
            "http://{}: {}",
            self.addr,
            super::exec::error_chain(&e)
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpListener;

    /// How the test server answers each request it reads.
    #[derive(Clone, Copy)]
    enum Answer {
        /// 200 with a small JSON body, connection kept alive.
        Ok,
        /// 200, then the connection is closed (the next request needs a new one).
        OkThenClose,
        /// Close without answering once the request is read.
        Drop,
        /// Never answer.
        Silent,
    }

    /// A server that records every request head it reads and counts its connections.
    struct Server {
        addr: SocketAddr,
        heads: std::sync::Arc<parking_lot::Mutex<Vec<String>>>,
        connections: std::sync::Arc<std::sync::atomic::AtomicUsize>,
    }

    async fn server(answer: Answer) -> Server {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let heads = std::sync::Arc::new(parking_lot::Mutex::new(Vec::new()));
        let connections = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let (h, c) = (heads.clone(), connections.clone());
        tokio::spawn(async move {
            loop {
                let (mut s, _) = listener.accept().await.unwrap();
                c.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                let h = h.clone();
                tokio::spawn(async move {
                    let mut buf = Vec::new();
                    loop {
                        // Requests here have a body of Content-Length bytes (maybe 0).
                        let head_end = loop {
                            if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                                break i + 4;
                            }
                            let mut chunk = [0u8; 4096];
                            match s.read(&mut chunk).await {
                                Ok(0) | Err(_) => return,
                                Ok(n) => buf.extend_from_slice(&chunk[..n]),
                            }
                        };
                        let head = String::from_utf8_lossy(&buf[..head_end]).to_string();
                        let len: usize = head
                            .lines()
                            .find_map(|l| {
                                let (n, v) = l.split_once(':')?;
                                n.eq_ignore_ascii_case("content-length")
                                    .then(|| v.trim().parse().ok())?
                            })
                            .unwrap_or(0);
                        while buf.len() < head_end + len {
                            let mut chunk = [0u8; 4096];
                            match s.read(&mut chunk).await {
                                Ok(0) | Err(_) => return,
                                Ok(n) => buf.extend_from_slice(&chunk[..n]),
                            }
                        }
                        h.lock().push(head);
                        buf.drain(..head_end + len);
                        let body = br#"{"Response":{"RequestId":"r"}}"#;
                        let reply = |close: bool| {
                            format!(
                                "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\n{}\r\n",
                                body.len(),
                                if close { "connection: close\r\n" } else { "" }
                            )
                        };
                        match answer {
                            Answer::Ok | Answer::OkThenClose => {
                                let close = matches!(answer, Answer::OkThenClose);
                                let mut out = reply(close).into_bytes();
                                out.extend_from_slice(body);
                                if s.write_all(&out).await.is_err() || close {
                                    return;
                                }
                            }
                            Answer::Drop => return,
                            Answer::Silent => {
                                tokio::time::sleep(Duration::from_secs(3600)).await;
                            }
                        }
                    }
                });
            }
        });
        Server {
            addr,
            heads,
            connections,
        }
    }

    fn request() -> RawRequest {
        RawRequest {
            method: "POST".into(),
            path: "/".into(),
            raw_query: "a=1&b=%2F".into(),
            headers: vec![
                ("Content-Type".into(), "application/json".into()),
                ("X-TC-Action".into(), "DescribeKeyPairs".into()),
            ],
            body: br#"{"Limit":1}"#.to_vec(),
        }
    }

    const SECOND: Duration = Duration::from_secs(1);

    #[tokio::test]
    async fn sends_the_request_with_the_headers_reqwest_adds_and_reuses_one_connection() {
        let s = server(Answer::Ok).await;
        let c = Connections::new(s.addr);
        for _ in 0..3 {
            let r = c.send(&request(), SECOND).await.unwrap();
            assert_eq!(r.status, 200);
            assert_eq!(r.body, br#"{"Response":{"RequestId":"r"}}"#);
            assert!(r
                .headers
                .iter()
                .any(|(k, v)| k == "content-type" && v == "application/json"));
        }
        assert_eq!(s.connections.load(std::sync::atomic::Ordering::SeqCst), 1);
        let heads = s.heads.lock().clone();
        assert_eq!(heads.len(), 3);
        let head = heads[0].to_ascii_lowercase();
        assert!(head.starts_with("post /?a=1&b=%2f http/1.1\r\n"), "{head}");
        for line in [
            "content-type: application/json",
            "x-tc-action: describekeypairs",
            &format!("host: {}", s.addr),
            "accept: */*",
            "content-length: 11",
        ] {
            assert!(head.contains(&format!("{line}\r\n")), "{line} in {head}");
        }
    }

    #[tokio::test]
    async fn the_case_host_and_accept_are_kept() {
        let s = server(Answer::Ok).await;
        let c = Connections::new(s.addr);
        let mut req = request();
        req.headers
            .push(("Host".into(), "cvm.tencentcloudapi.com".into()));
        req.headers
            .push(("Accept".into(), "application/json".into()));
        c.send(&req, SECOND).await.unwrap();
        let head = s.heads.lock()[0].to_ascii_lowercase();
        assert_eq!(head.matches("host:").count(), 1, "{head}");
        assert!(head.contains("host: cvm.tencentcloudapi.com\r\n"), "{head}");
        assert_eq!(head.matches("accept:").count(), 1, "{head}");
    }

    #[tokio::test]
    async fn a_connection_the_server_closed_is_replaced() {
        let s = server(Answer::OkThenClose).await;
        let c = Connections::new(s.addr);
        for _ in 0..3 {
            assert_eq!(c.send(&request(), SECOND).await.unwrap().status, 200);
        }
        assert_eq!(s.heads.lock().len(), 3);
        assert_eq!(s.connections.load(std::sync::atomic::Ordering::SeqCst), 3);
    }

    #[tokio::test]
    async fn a_request_whose_answer_is_lost_is_not_sent_again() {
        let s = server(Answer::Drop).await;
        let c = Connections::new(s.addr);
        let e = c.send(&request(), SECOND).await.unwrap_err();
        assert!(matches!(e, TransportError::Other(_)), "{e}");
        assert!(e.to_string().contains(&s.addr.to_string()), "{e}");
        assert_eq!(s.heads.lock().len(), 1, "sent once");
    }

    #[tokio::test]
    async fn a_silent_server_times_out() {
        let s = server(Answer::Silent).await;
        let c = Connections::new(s.addr);
        let e = c
            .send(&request(), Duration::from_millis(200))
            .await
            .unwrap_err();
        assert!(matches!(e, TransportError::Timeout(_)), "{e}");
    }

    #[tokio::test]
    async fn nothing_listening_is_a_connect_error() {
        let addr = {
            let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            l.local_addr().unwrap()
        };
        let e = Connections::new(addr)
            .send(&request(), SECOND)
            .await
            .unwrap_err();
        assert!(matches!(e, TransportError::Connect(_)), "{e}");
    }

    #[tokio::test]
    async fn a_header_hyper_cannot_send_is_an_error_not_a_panic() {
        let s = server(Answer::Ok).await;
        let mut req = request();
        req.headers.push(("X-Bad".into(), "line\r\nbreak".into()));
        let e = Connections::new(s.addr)
            .send(&req, SECOND)
            .await
            .unwrap_err();
        assert!(e.to_string().contains("cannot send"), "{e}");
        assert!(s.heads.lock().is_empty());
    }
}
