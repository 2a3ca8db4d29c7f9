//! Documented request rates (`rate_limit.per_second` of an action spec), enforced per access key
//! and action over one-second windows of the monotonic clock (the configurable "now" is for
//! signatures; throttling must not depend on a replayed timestamp).
use parking_lot::Mutex;
use std::collections::HashMap;
use std::time::{Duration, Instant};

#[derive(Debug, Default)]
pub struct RateLimiter {
    windows: Mutex<HashMap<(String, String), (Instant, u32)>>,
}

impl RateLimiter {
    pub fn new() -> Self {
        Self::default()
    }

    /// Count one request of `access_key_id` to `action`; `false` when it exceeds `per_second`.
    pub fn admit(&self, access_key_id: &str, action: &str, per_second: u32) -> bool {
        self.admit_at(access_key_id, action, per_second, Instant::now())
    }

    fn admit_at(&self, access_key_id: &str, action: &str, per_second: u32, now: Instant) -> bool {
        let mut windows = self.windows.lock();
        if windows.len() > 10_000 {
            windows.retain(|_, (start, _)| now.duration_since(*start) < Duration::from_secs(1));
        }
        let slot = windows
            .entry((access_key_id.to_string(), action.to_string()))
            .or_insert((now, 0));
        if now.duration_since(slot.0) >= Duration::from_secs(1) {
            *slot = (now, 0);
        }
        if slot.1 >= per_second {
            return false;
        }
        slot.1 += 1;
        true
    }

    pub fn clear(&self) {
        self.windows.lock().clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn per_key_and_action_windows() {
        let r = RateLimiter::new();
        let t0 = Instant::now();
        assert!((0..10).all(|_| r.admit_at("ak", "A", 10, t0)));
        assert!(!r.admit_at("ak", "A", 10, t0));
        assert!(r.admit_at("ak", "B", 10, t0));
        assert!(r.admit_at("other", "A", 10, t0));
        assert!(r.admit_at("ak", "A", 10, t0 + Duration::from_millis(1000)));
    }
}
