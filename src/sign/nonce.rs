//! Replay protection: which (access key id, nonce) pairs were already accepted.
//!
//! A nonce must be remembered only while a request carrying it could still pass the skew check,
//! i.e. until `request timestamp + window`. Entries are kept in expiry order and dropped as "now"
//! passes them, so memory follows the request rate times the window, not uptime. A cap in
//! entries and bytes bounds it under any rate: past the cap the entries closest to expiry are
//! forgotten first (a replay of such a nonce is then accepted — the price of bounded memory,
//! paid only by a client sending more than the cap within one skew window).
use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, Mutex, MutexGuard};

/// The longest nonce accepted. No provider documents a limit; SDKs send 32 or 64 hex
/// characters or a UUID. Longer ones are refused before they are remembered.
pub const MAX_NONCE_BYTES: usize = 256;

/// Default caps: 50 000 nonces is 55 verified Alibaba requests a second for a whole 15-minute
/// window; with SDK-sized nonces they take about 6 MB.
pub const DEFAULT_MAX_ENTRIES: usize = 50_000;
pub const DEFAULT_MAX_BYTES: usize = 8 << 20;

/// Bookkeeping bytes per entry beyond the key's text (map slot, tree node, the shared
/// allocation's counts), an estimate that keeps the byte cap honest for short nonces.
const ENTRY_OVERHEAD: usize = 80;

/// `access key id` + `\n` + `nonce`, one allocation shared by the map and the expiry order.
type Key = Arc<str>;

#[derive(Debug, Default)]
struct Inner {
    expiry_of: HashMap<Key, i64>,
    by_expiry: BTreeSet<(i64, Key)>,
    bytes: usize,
}

fn cost(key: &Key) -> usize {
    key.len() + ENTRY_OVERHEAD
}

impl Inner {
    fn pop_first(&mut self) {
        if let Some((_, key)) = self.by_expiry.pop_first() {
            self.bytes -= cost(&key);
            self.expiry_of.remove(&key);
        }
    }

    fn purge(&mut self, now: i64) {
        while let Some(first) = self.by_expiry.first() {
            if first.0 >= now {
                break;
            }
            self.pop_first();
        }
    }
}

/// Thread-safe nonce memory shared by every request the emulator verifies.
#[derive(Debug)]
pub struct NonceCache {
    inner: Mutex<Inner>,
    max_entries: usize,
    max_bytes: usize,
}

impl Default for NonceCache {
    fn default() -> Self {
        Self::with_limits(DEFAULT_MAX_ENTRIES, DEFAULT_MAX_BYTES)
    }
}

impl NonceCache {
    pub fn new() -> Self {
        Self::default()
    }

    /// A cache that holds at most `max_entries` nonces and about `max_bytes` bytes.
    pub fn with_limits(max_entries: usize, max_bytes: usize) -> Self {
        NonceCache {
            inner: Mutex::new(Inner::default()),
            max_entries: max_entries.max(1),
            max_bytes,
        }
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
        // Access key ids hold no newline (they are header/parameter tokens), so the pair is
        // unambiguous.
        let key: Key = Arc::from(format!("{access_key_id}\n{nonce}"));
        if inner.expiry_of.contains_key(&key) {
            return false;
        }
        let size = cost(&key);
        while !inner.by_expiry.is_empty()
            && (inner.expiry_of.len() >= self.max_entries || inner.bytes + size > self.max_bytes)
        {
            inner.pop_first();
        }
        inner.bytes += size;
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

    /// Bytes the live entries account for (strings plus bookkeeping estimate).
    pub fn bytes(&self) -> usize {
        self.lock().bytes
    }

    /// Forget everything (tests, emulator reset).
    pub fn clear(&self) {
        let mut inner = self.lock();
        inner.expiry_of = HashMap::new();
        inner.by_expiry.clear();
        inner.bytes = 0;
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

    #[test]
    fn the_cache_is_bounded_in_entries_and_bytes_oldest_expiry_first() {
        let cache = NonceCache::with_limits(3, 1 << 20);
        for (i, expiry) in [(0, 50), (1, 10), (2, 30), (3, 40)] {
            assert!(cache.check_and_insert("ak", &format!("n{i}"), expiry, 0));
        }
        assert_eq!(cache.len_at(0), 3);
        // n1 (expiring first) was forgotten; the others are still replays.
        assert!(cache.check_and_insert("ak", "n1", 10, 0));
        assert!(!cache.check_and_insert("ak", "n3", 40, 0));

        let small = NonceCache::with_limits(1_000_000, 10 * (ENTRY_OVERHEAD + 67));
        for i in 0..1_000 {
            small.check_and_insert("ak", &format!("{i:064}"), 100 + i, 0);
        }
        assert!(small.bytes() <= 10 * (ENTRY_OVERHEAD + 67));
        assert_eq!(small.len_at(0), 10);
    }
}
