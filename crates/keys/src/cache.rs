//! Resolved keys kept in memory, per node, and dropped the moment a key changes.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use dashmap::DashMap;

use crate::{ApiKey, ApiKeyId, KeyHash};

/// Resolved keys by the hash of their plaintext. Entries live at most `ttl`, are
/// dropped at once when this node changes a key, and when any node announces a change
/// ([`crate::KeyService::forget`]). While the change feed is down the cache is not used.
///
/// Generation-safe: a verification that read a key from the store before a change was
/// forgotten cannot put that stale key back afterwards. Every forget advances the
/// generation before it drops entries, and an entry is put only if the generation is
/// still the one seen before the store was read (checked under the entry's shard lock,
/// which the forget's sweep also takes).
pub struct KeyCache {
    entries: DashMap<KeyHash, (ApiKey, Instant)>,
    ttl: Duration,
    live: AtomicBool,
    generation: AtomicU64,
}

/// What [`KeyCache::get`] found: the key, or the generation to put a fresh read with.
pub(crate) enum Lookup {
    Hit(ApiKey),
    Miss(u64),
}

impl KeyCache {
    /// The most keys kept; past it the cache starts over.
    const CAPACITY: usize = 100_000;

    pub fn new(ttl: Duration, live: bool) -> Self {
        Self {
            entries: DashMap::new(),
            ttl,
            live: AtomicBool::new(live),
            generation: AtomicU64::new(0),
        }
    }

    pub(crate) fn get(&self, hash: &KeyHash) -> Lookup {
        let generation = self.generation.load(Ordering::SeqCst);
        if !self.live.load(Ordering::SeqCst) {
            return Lookup::Miss(generation);
        }
        match self.entries.get(hash) {
            Some(entry) if entry.value().1.elapsed() < self.ttl => {
                Lookup::Hit(entry.value().0.clone())
            }
            _ => Lookup::Miss(generation),
        }
    }

    /// Keeps `key`, read from the store after [`Self::get`] answered `Miss(seen)`,
    /// unless a change was forgotten since.
    pub(crate) fn put(&self, hash: KeyHash, key: ApiKey, seen: u64) {
        if !self.live.load(Ordering::SeqCst) {
            return;
        }
        if self.entries.len() >= Self::CAPACITY {
            self.entries.clear();
        }
        let entry = self.entries.entry(hash);
        if self.generation.load(Ordering::SeqCst) == seen {
            entry.insert((key, Instant::now()));
        }
    }

    pub(crate) fn forget(&self, id: ApiKeyId) {
        self.generation.fetch_add(1, Ordering::SeqCst);
        self.entries.retain(|_, (k, _)| k.id != id);
    }

    /// Turns the cache on (the change feed is connected) or off (it is not: every
    /// key is read from the store until it is back).
    pub fn set_live(&self, live: bool) {
        self.generation.fetch_add(1, Ordering::SeqCst);
        self.entries.clear();
        self.live.store(live, Ordering::SeqCst);
    }
}
