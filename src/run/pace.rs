//! Pacing: each action no faster than its spec `rate_limit.per_second` (live targets only).
use crate::generate::Case;
use crate::spec::{ActionKey, ActionSpec};
use std::collections::HashMap;
use std::time::{Duration, Instant};
use tokio::sync::Mutex;

#[derive(Default)]
pub struct Pacer {
    next: Mutex<HashMap<String, Instant>>,
}

impl Pacer {
    /// Wait for this action's next slot. Limits are documented per service's action: CVM's and
    /// ECM's `CreateKeyPair` (10/s and 20/s) are two limits, not one shared slot.
    pub async fn wait(&self, action: &ActionSpec) {
        let Some(rate) = action
            .rate_limit
            .as_ref()
            .map(|r| r.per_second)
            .filter(|r| *r > 0)
        else {
            return;
        };
        // Named as in the `--dry-run` plan: `tencent/cvm/CreateKeyPair`.
        let key = Case::action_prefix(&action.key());
        let at = self.reserve(key, rate, Instant::now()).await;
        tokio::time::sleep_until(at.into()).await;
    }

    /// The slot for one more request under `key` at `rate` per second, asked at `now`; the
    /// next slot moves one gap on.
    async fn reserve(&self, key: String, rate: u32, now: Instant) -> Instant {
        // 2 % slower than the documented rate: targets count requests in one-second windows
        // by arrival, and arrivals jitter; the margin absorbs 20 ms of it at any rate, so the
        // run is never throttled for keeping exactly to the limit.
        let gap = Duration::from_secs_f64(1.02 / f64::from(rate));
        let mut next = self.next.lock().await;
        let slot = next.get(&key).copied().unwrap_or(now).max(now);
        next.insert(key, slot + gap);
        slot
    }
}

/// Counters a run reports at the end: requests sent per action, throttled answers.
#[derive(Default)]
pub struct Stats {
    throttled: std::sync::atomic::AtomicU64,
    /// Requests per action: a handful of actions, scanned in place so the count costs no
    /// allocation per request (emulator runs count too).
    sent: std::sync::Mutex<Vec<(ActionKey, u64)>>,
}

impl Stats {
    pub fn throttled(&self) {
        self.throttled
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    }

    pub fn sent(&self, action: &ActionSpec) {
        let mut sent = self.sent.lock().unwrap_or_else(|e| e.into_inner());
        let found = sent.iter_mut().find(|(k, _)| {
            k.provider == action.provider
                && k.action == action.action
                && k.service == action.service
                && k.version == action.version
        });
        match found {
            Some((_, n)) => *n += 1,
            None => sent.push((action.key(), 1)),
        }
    }

    pub fn throttled_count(&self) -> u64 {
        self.throttled.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Requests sent per action, by [`Case::action_prefix`] (`tencent/cvm/CreateKeyPair`).
    pub fn sent_per_action(&self) -> HashMap<String, u64> {
        let mut out = HashMap::new();
        for (k, n) in self.sent.lock().unwrap_or_else(|e| e.into_inner()).iter() {
            *out.entry(Case::action_prefix(k)).or_default() += n;
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn slots_are_one_gap_apart_per_key_and_keys_do_not_share() {
        let pacer = Pacer::default();
        let t0 = Instant::now();
        let gap = Duration::from_secs_f64(1.02 / 10.0);
        let cvm = || "tencent/cvm/CreateKeyPair".to_string();
        let ecm = || "tencent/ecm/CreateKeyPair".to_string();
        assert_eq!(pacer.reserve(cvm(), 10, t0).await, t0);
        assert_eq!(pacer.reserve(cvm(), 10, t0).await, t0 + gap);
        assert_eq!(pacer.reserve(cvm(), 10, t0).await, t0 + gap * 2);
        // Another service's action of the same name has its own limit: no wait.
        assert_eq!(pacer.reserve(ecm(), 20, t0).await, t0);
        // Counted apart too.
        let stats = Stats::default();
        let specs = crate::spec::SpecSet::load(
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("specs"),
        )
        .unwrap();
        for service in ["cvm", "cvm", "ecm"] {
            let a = specs
                .actions()
                .find(|a| a.service == service && a.action == "CreateKeyPair")
                .unwrap();
            stats.sent(a);
        }
        let sent = stats.sent_per_action();
        assert_eq!(sent["tencent/cvm/CreateKeyPair"], 2);
        assert_eq!(sent["tencent/ecm/CreateKeyPair"], 1);
        // Asked after its slot has passed: now, not a slot in the past.
        let later = t0 + Duration::from_secs(5);
        assert_eq!(pacer.reserve(cvm(), 10, later).await, later);
        assert_eq!(pacer.reserve(cvm(), 10, later).await, later + gap);
    }
}
