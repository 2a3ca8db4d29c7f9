//! Pacing: each action no faster than its spec `rate_limit.per_second` (live targets only).
use std::collections::HashMap;
use std::time::{Duration, Instant};
use tokio::sync::Mutex;

#[derive(Default)]
pub struct Pacer {
    next: Mutex<HashMap<String, Instant>>,
}

impl Pacer {
    /// Wait for this action's next slot.
    pub async fn wait(&self, action: &str, per_second: Option<u32>) {
        let Some(rate) = per_second.filter(|r| *r > 0) else {
            return;
        };
        // 2 % slower than the documented rate: targets count requests in one-second windows
        // by arrival, and arrivals jitter; the margin absorbs 20 ms of it at any rate, so the
        // run is never throttled for keeping exactly to the limit.
        let gap = Duration::from_secs_f64(1.02 / f64::from(rate));
        let at = {
            let mut next = self.next.lock().await;
            let now = Instant::now();
            let slot = next.get(action).copied().unwrap_or(now).max(now);
            next.insert(action.to_string(), slot + gap);
            slot
        };
        tokio::time::sleep_until(at.into()).await;
    }
}

/// Counters a run reports at the end: requests sent per action, throttled answers.
#[derive(Default)]
pub struct Stats {
    throttled: std::sync::atomic::AtomicU64,
    sent: std::sync::Mutex<HashMap<String, u64>>,
}

impl Stats {
    pub fn throttled(&self) {
        self.throttled
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    }

    pub fn sent(&self, action: &str) {
        let mut sent = self.sent.lock().unwrap_or_else(|e| e.into_inner());
        // The name is copied only the first time an action is sent.
        match sent.get_mut(action) {
            Some(n) => *n += 1,
            None => {
                sent.insert(action.to_string(), 1);
            }
        }
    }

    pub fn throttled_count(&self) -> u64 {
        self.throttled.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Requests sent per action.
    pub fn sent_per_action(&self) -> HashMap<String, u64> {
        self.sent.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }
}
