//! Verified tokens remembered by SHA-256 of the token until they expire, so a client that
//! sends the same token again costs a hash and a lookup instead of a signature check (the
//! difference that matters in Wasm, where RSA runs as interpreted-speed crypto).

use std::collections::HashMap;
use std::sync::Arc;

use sha2::{Digest, Sha256};

/// The key: SHA-256 of the token (the token itself is not kept).
pub type TokenHash = [u8; 32];

/// Hashes a token for the cache.
pub fn hash(token: &str) -> TokenHash {
    Sha256::digest(token.as_bytes()).into()
}

struct Entry<T> {
    value: Arc<T>,
    expires_at: u64,
    generation: u64,
}

/// A bounded map of verified tokens.
pub struct TokenCache<T> {
    entries: HashMap<TokenHash, Entry<T>>,
    capacity: usize,
}

impl<T> TokenCache<T> {
    /// An empty cache holding at most `capacity` tokens.
    pub fn new(capacity: usize) -> Self {
        TokenCache {
            entries: HashMap::new(),
            capacity,
        }
    }

    /// The value of a token verified with key `generation` and unexpired at `now`.
    pub fn get(&self, key: &TokenHash, generation: u64, now: u64) -> Option<Arc<T>> {
        self.entries
            .get(key)
            .filter(|e| e.generation == generation && now < e.expires_at)
            .map(|e| Arc::clone(&e.value))
    }

    /// Remembers a verified token until `expires_at`. When full, expired and stale entries go
    /// first; if none, the cache starts over (bounded memory beats a perfect hit rate).
    pub fn insert(
        &mut self,
        key: TokenHash,
        value: Arc<T>,
        expires_at: u64,
        generation: u64,
        now: u64,
    ) {
        if self.capacity == 0 || expires_at <= now {
            return;
        }
        if self.entries.len() >= self.capacity && !self.entries.contains_key(&key) {
            self.entries
                .retain(|_, e| e.generation == generation && now < e.expires_at);
            if self.entries.len() >= self.capacity {
                self.entries.clear();
            }
        }
        self.entries.insert(
            key,
            Entry {
                value,
                expires_at,
                generation,
            },
        );
    }

    /// Number of remembered tokens.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether no token is remembered.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hit_until_expiry_and_only_for_the_same_keys() {
        let mut cache = TokenCache::new(8);
        let key = hash("a.b.c");
        cache.insert(key, Arc::new("alice"), 100, 1, 10);
        assert_eq!(cache.get(&key, 1, 99).as_deref(), Some(&"alice"));
        assert_eq!(cache.get(&key, 1, 100), None, "expired");
        assert_eq!(cache.get(&key, 2, 50), None, "keys changed since");
        assert_eq!(cache.get(&hash("a.b.d"), 1, 50), None);
    }

    #[test]
    fn bounded_by_capacity() {
        let mut cache = TokenCache::new(2);
        cache.insert(hash("1"), Arc::new(1), 100, 1, 0);
        cache.insert(hash("2"), Arc::new(2), 20, 1, 0);
        cache.insert(hash("3"), Arc::new(3), 100, 1, 30);
        assert_eq!(cache.len(), 2, "the expired entry made room");
        assert!(cache.get(&hash("1"), 1, 30).is_some());
        cache.insert(hash("4"), Arc::new(4), 100, 1, 30);
        assert!(cache.len() <= 2);
        assert!(cache.get(&hash("4"), 1, 30).is_some());
    }

    #[test]
    fn expired_or_disabled_is_not_stored() {
        let mut cache = TokenCache::new(2);
        cache.insert(hash("1"), Arc::new(1), 10, 1, 10);
        assert!(cache.is_empty());
        let mut off = TokenCache::new(0);
        off.insert(hash("1"), Arc::new(1), 100, 1, 0);
        assert!(off.is_empty());
    }
}
