//! Recording mode: the emulator keeps every cloud request it answers, byte for byte, with its
//! answer, so a judge outside the emulator (`cloudconform sdk`) can check what a client put on
//! the wire. Off by default; a router layer, so the request pipeline itself is untouched.
use super::{route, Emulator};
use crate::http::{RawRequest, RawResponse};
use axum::body::Body;
use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::Response;
use parking_lot::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};

/// One cloud request as received and the answer the emulator sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Exchange {
    pub request: RawRequest,
    pub response: RawResponse,
}

/// The recording switch and what was recorded since it was last taken.
#[derive(Default)]
pub(crate) struct Recorder {
    on: AtomicBool,
    log: Mutex<Vec<Exchange>>,
}

impl Emulator {
    /// Start (or stop) recording cloud requests; control API calls are never recorded.
    pub fn set_recording(&self, on: bool) {
        self.shared.recorder.on.store(on, Ordering::SeqCst);
    }

    /// Everything recorded since the last call, oldest first; the log is emptied.
    pub fn take_recording(&self) -> Vec<Exchange> {
        std::mem::take(&mut *self.shared.recorder.log.lock())
    }
}

/// The router layer: a pass-through unless recording is on.
pub(crate) async fn layer(
    State(emulator): State<Emulator>,
    request: Request,
    next: Next,
) -> Response {
    let recorder = &emulator.shared.recorder;
    if !recorder.on.load(Ordering::SeqCst) || request.uri().path().starts_with("/_cloudconform") {
        return next.run(request).await;
    }
    let (parts, body) = request.into_parts();
    let limit = route::max_body_bytes(&emulator.shared.specs) as usize;
    let Ok(bytes) = axum::body::to_bytes(body, limit).await else {
        // Recording needs the whole body; a client this far off is answered plainly.
        return plain(
            413,
            "recording mode: the request body is too large or was cut off",
        );
    };
    let raw = RawRequest {
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
        body: bytes.to_vec(),
    };
    let response = next
        .run(Request::from_parts(parts, Body::from(bytes)))
        .await;
    let (rparts, rbody) = response.into_parts();
    let Ok(rbytes) = axum::body::to_bytes(rbody, usize::MAX).await else {
        return plain(500, "recording mode: the answer could not be read");
    };
    let answer = RawResponse {
        status: rparts.status.as_u16(),
        headers: rparts
            .headers
            .iter()
            .map(|(n, v)| {
                (
                    n.as_str().to_string(),
                    String::from_utf8_lossy(v.as_bytes()).into_owned(),
                )
            })
            .collect(),
        body: rbytes.to_vec(),
    };
    recorder.log.lock().push(Exchange {
        request: raw,
        response: answer,
    });
    Response::from_parts(rparts, Body::from(rbytes))
}

fn plain(status: u16, text: &'static str) -> Response {
    Response::builder()
        .status(status)
        .header("Content-Type", "text/plain")
        .body(Body::from(text))
        .unwrap_or_else(|_| Response::new(Body::from(text)))
}
