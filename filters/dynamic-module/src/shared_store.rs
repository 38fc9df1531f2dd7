//! The process-wide store behind `Host::shared_get`/`shared_set`: the module is loaded once
//! per Envoy process, so a static is what every worker thread sees (Wasm's equivalent is
//! proxy-wasm shared data).

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};

use ai_gateway_core::{HostError, SharedValue};

struct Store {
    values: HashMap<String, SharedValue>,
    next_cas: u32,
}

static STORE: Mutex<Option<Store>> = Mutex::new(None);

/// The value under `key`, if any.
pub(crate) fn get(key: &str) -> Option<SharedValue> {
    let guard = STORE.lock().unwrap_or_else(PoisonError::into_inner);
    guard.as_ref()?.values.get(key).cloned()
}

/// Writes `key`; with `cas`, only while the key still carries that token (as proxy-wasm, a
/// missing key is written whatever the token).
pub(crate) fn set(key: &str, value: &[u8], cas: Option<u32>) -> Result<(), HostError> {
    let mut guard = STORE.lock().unwrap_or_else(PoisonError::into_inner);
    let store = guard.get_or_insert_with(|| Store {
        values: HashMap::new(),
        next_cas: 1,
    });
    if let (Some(expected), Some(current)) = (cas, store.values.get(key)) {
        if current.cas != expected {
            return Err(HostError::CasMismatch);
        }
    }
    let cas = store.next_cas;
    // Never 0: a token of 0 would read as "unconditional" to a caller passing it back.
    store.next_cas = store.next_cas.checked_add(1).unwrap_or(1);
    store.values.insert(
        key.to_owned(),
        SharedValue {
            bytes: value.to_vec(),
            cas,
        },
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conditional_writes_need_the_current_token() {
        set("shared_store_test", b"a", None).unwrap();
        let first = get("shared_store_test").unwrap();
        set("shared_store_test", b"b", Some(first.cas)).unwrap();
        assert_eq!(
            set("shared_store_test", b"c", Some(first.cas)),
            Err(HostError::CasMismatch)
        );
        assert_eq!(get("shared_store_test").unwrap().bytes, b"b");
        assert_eq!(get("shared_store_absent"), None);
    }
}
