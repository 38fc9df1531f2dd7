//! A word-at-a-time multiplicative hash (the Fx hash of rustc) for the adapter's stat-id maps.
//! Their keys are stat names and ids the filters bound (tag values go through a limiter), so
//! no client can flood them and SipHash's flooding resistance buys nothing; in Wasm SipHash
//! is a large part of each metric update's cost.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

/// A map hashed with [`WordHasher`].
pub(crate) type WordMap<K, V> = HashMap<K, V, BuildHasherDefault<WordHasher>>;

const SEED: u64 = 0x51_7c_c1_b7_27_22_0a_95;

/// Folds eight bytes at a time into a 64-bit state.
#[derive(Default)]
pub(crate) struct WordHasher(u64);

impl WordHasher {
    fn add(&mut self, word: u64) {
        self.0 = (self.0.rotate_left(5) ^ word).wrapping_mul(SEED);
    }
}

impl Hasher for WordHasher {
    fn write(&mut self, bytes: &[u8]) {
        let (words, rest) = bytes.as_chunks::<8>();
        for word in words {
            self.add(u64::from_le_bytes(*word));
        }
        let mut last = [0u8; 8];
        last[..rest.len()].copy_from_slice(rest);
        self.add(u64::from_le_bytes(last) ^ ((rest.len() as u64) << 56));
    }

    fn write_u32(&mut self, n: u32) {
        self.add(u64::from(n));
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::hash::BuildHasher;

    #[test]
    fn names_differing_anywhere_hash_apart() {
        let state = BuildHasherDefault::<WordHasher>::default();
        let names = [
            "authn_total.reason=ok",
            "authn_total.reason=ko",
            "authn_total.reason=o",
            "authn_total.reason=ok\0",
            "",
        ];
        let hashes: Vec<u64> = names.iter().map(|n| state.hash_one(n)).collect();
        for (i, a) in hashes.iter().enumerate() {
            for b in &hashes[i + 1..] {
                assert_ne!(a, b);
            }
        }
        let mut map = WordMap::default();
        map.insert("a".to_string(), 1u32);
        assert_eq!(map.get("a"), Some(&1));
    }
}
