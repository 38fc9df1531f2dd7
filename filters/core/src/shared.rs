//! Counters in the cross-worker shared store ([`Host::shared_get`] / [`Host::shared_set`]):
//! budgets and load figures every Envoy worker must see alike.

use crate::{Host, HostError};

/// Compare-and-swap attempts before giving up: each failure means another worker wrote the
/// key in between, so this many in a row only happens under a pathological write storm.
const MAX_ATTEMPTS: usize = 64;

/// The number stored under `key` (an 8-byte little-endian `i64`); 0 when unset or malformed.
pub fn read_i64(host: &dyn Host, key: &str) -> i64 {
    host.shared_get(key)
        .and_then(|value| decode(&value.bytes))
        .unwrap_or(0)
}

/// Adds `delta` to the number under `key` for every worker and returns the new value.
///
/// A missing key is created unconditionally (proxy-wasm has no "set if absent"): two workers
/// creating the same key at the same instant can lose one of the two first deltas. Keys that
/// must count exactly from their first use should be created up front (e.g. at config load).
pub fn add_i64(host: &dyn Host, key: &str, delta: i64) -> Result<i64, HostError> {
    for _ in 0..MAX_ATTEMPTS {
        match host.shared_get(key) {
            None => {
                host.shared_set(key, &delta.to_le_bytes(), None)?;
                return Ok(delta);
            }
            Some(value) => {
                let sum = decode(&value.bytes).unwrap_or(0).saturating_add(delta);
                match host.shared_set(key, &sum.to_le_bytes(), Some(value.cas)) {
                    Ok(()) => return Ok(sum),
                    Err(HostError::CasMismatch) => continue,
                    Err(err) => return Err(err),
                }
            }
        }
    }
    Err(HostError::SharedStore(format!(
        "{key}: still contended after {MAX_ATTEMPTS} compare-and-swap attempts"
    )))
}

fn decode(bytes: &[u8]) -> Option<i64> {
    Some(i64::from_le_bytes(bytes.try_into().ok()?))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fake_host::FakeHost;

    #[test]
    fn adds_from_nothing_and_accumulates() {
        let host = FakeHost::default();
        assert_eq!(read_i64(&host, "k"), 0);
        assert_eq!(add_i64(&host, "k", 5), Ok(5));
        assert_eq!(add_i64(&host, "k", -2), Ok(3));
        assert_eq!(read_i64(&host, "k"), 3);
        assert_eq!(read_i64(&host, "other"), 0);
    }

    #[test]
    fn retries_after_another_writer_and_keeps_both_updates() {
        let host = FakeHost::default();
        add_i64(&host, "k", 10).unwrap();
        // The fake interleaves one foreign write (+100) between this read and its write.
        host.shared_interleave_once("k", &110i64.to_le_bytes());
        assert_eq!(add_i64(&host, "k", 1), Ok(111));
    }

    #[test]
    fn a_malformed_value_counts_as_zero() {
        let host = FakeHost::default();
        host.shared_set("k", b"abc", None).unwrap();
        assert_eq!(read_i64(&host, "k"), 0);
        assert_eq!(add_i64(&host, "k", 4), Ok(4));
    }
}
