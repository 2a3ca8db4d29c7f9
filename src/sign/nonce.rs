//! Replay protection: which (access key id, nonce) pairs were already accepted.
//!
//! A nonce must be remembered only while a request carrying it could still pass the skew check,
//! i.e. until `request timestamp + window`. Entries are kept in expiry order and dropped as "now"
//! passes them, so memory is bounded by the request rate times the window, not by uptime.
use std::collections::{BTreeSet, HashMap};
use std::sync::{Mutex, MutexGuard};

type Key = (String, String);

#[derive(Debug, Default)]
struct Inner {
    expiry_of: HashMap<Key, i64>,
    by_expiry: BTreeSet<(i64, Key)>,
}

impl Inner {
    fn purge(&mut self, now: i64) {
        while let Some(first) = self.by_expiry.first() {
            if first.0 >= now {
                break;
            }
            if let Some((_, key)) = self.by_expiry.pop_first() {
                self.expiry_of.remove(&key);
            }
        }
    }
}

/// Thread-safe nonce memory shared by every request the emulator verifies.
#[derive(Debug, Default)]
pub struct NonceCache {
    inner: Mutex<Inner>,
}

impl NonceCache {
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        // A panic elsewhere while holding the lock leaves the maps consistent (every mutation
        // is a single insert/remove pair), so a poisoned lock is still usable.
        self.inner
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Record `nonce` for `access_key_id` until `expires_at` (Unix seconds). Returns `false` when
    /// the pair was already recorded and has not expired at `now` — a replay.
    pub fn check_and_insert(
        &self,
        access_key_id: &str,
        nonce: &str,
        expires_at: i64,
        now: i64,
    ) -> bool {
        let mut inner = self.lock();
        inner.purge(now);
        let key = (access_key_id.to_string(), nonce.to_string());
        if inner.expiry_of.contains_key(&key) {
            return false;
        }
        inner.expiry_of.insert(key.clone(), expires_at);
        inner.by_expiry.insert((expires_at, key));
        true
    }

    /// Live entries (after dropping those expired at `now`).
    pub fn len_at(&self, now: i64) -> usize {
        let mut inner = self.lock();
        inner.purge(now);
        inner.expiry_of.len()
    }

    /// Forget everything (tests, emulator reset).
    pub fn clear(&self) {
        let mut inner = self.lock();
        inner.expiry_of.clear();
        inner.by_expiry.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    #[test]
    fn replay_within_window_is_rejected_and_expiry_frees_memory() {
        let cache = NonceCache::new();
        assert!(cache.check_and_insert("ak", "n1", 1_000, 100));
        assert!(!cache.check_and_insert("ak", "n1", 1_000, 500));
        assert!(cache.check_and_insert("other", "n1", 1_000, 500));
        assert_eq!(cache.len_at(1_000), 2);
        assert_eq!(cache.len_at(1_001), 0);
        assert!(cache.check_and_insert("ak", "n1", 2_000, 1_001));
    }

    #[test]
    fn concurrent_inserts_admit_each_nonce_once() {
        let cache = Arc::new(NonceCache::new());
        let accepted: usize = (0..4)
            .map(|_| {
                let cache = Arc::clone(&cache);
                std::thread::spawn(move || {
                    (0..200)
                        .filter(|i| cache.check_and_insert("ak", &i.to_string(), 10, 0))
                        .count()
                })
            })
            .map(|handle| handle.join().unwrap())
            .sum();
        assert_eq!(accepted, 200);
    }
}
