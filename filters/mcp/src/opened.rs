//! Session tokens this process has opened or issued, with what they hold. Opening a token costs
//! a base64 decode, an AES-GCM decryption and a JSON parse, and a session sends many requests;
//! a hit costs a map lookup and the expiry check. A miss on a valid token also tells the filter
//! that the session comes from elsewhere (another replica, or this Envoy before a restart):
//! the `resumed` session event. Per process (per VM under Wasm, which holds one per worker);
//! bounded: at [`MAX_ENTRIES`] the map is emptied, so a session may count as resumed again.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};

use crate::session_token::SessionPayload;

/// Most remembered tokens.
pub const MAX_ENTRIES: usize = 4096;

/// Token text → its opened payload.
#[derive(Debug, Default)]
pub struct OpenedSessions {
    map: Mutex<HashMap<String, Arc<SessionPayload>>>,
}

impl OpenedSessions {
    /// The payload of a token seen here before.
    pub fn get(&self, token: &str) -> Option<Arc<SessionPayload>> {
        self.lock().get(token).cloned()
    }

    /// Remembers a token this process opened or issued.
    pub fn insert(&self, token: String, payload: Arc<SessionPayload>) {
        let mut map = self.lock();
        if map.len() >= MAX_ENTRIES {
            map.clear();
        }
        map.insert(token, payload);
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<String, Arc<SessionPayload>>> {
        self.map.lock().unwrap_or_else(|p| p.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn payload(issued_at: u64) -> Arc<SessionPayload> {
        Arc::new(SessionPayload {
            issued_at,
            ..SessionPayload::default()
        })
    }

    #[test]
    fn remembered_tokens_are_found_and_the_map_is_bounded() {
        let opened = OpenedSessions::default();
        opened.insert("t1".into(), payload(5));
        assert_eq!(opened.get("t1").map(|p| p.issued_at), Some(5));
        assert!(opened.get("t2").is_none());
        for i in 0..MAX_ENTRIES + 1 {
            opened.insert(format!("x{i}"), payload(1));
        }
        assert!(opened.lock().len() <= MAX_ENTRIES);
    }
}
