//! Recording mode: the emulator keeps every cloud request it answers, byte for byte, with its
//! answer, so a judge outside the emulator (`cloudconform sdk`) can check what a client put on
//! the wire. Off by default. Recorded where every cloud answer passes (`server::answer_off_thread`,
//! reached from the HTTP front and from the embeddable router alike), so no path escapes it;
//! control API calls never reach that point and are never recorded.
use super::Emulator;
use crate::http::{RawRequest, RawResponse};
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

impl Recorder {
    pub(crate) fn is_on(&self) -> bool {
        self.on.load(Ordering::SeqCst)
    }

    pub(crate) fn record(&self, request: RawRequest, response: &RawResponse) {
        self.log.lock().push(Exchange {
            request,
            response: response.clone(),
        });
    }
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
