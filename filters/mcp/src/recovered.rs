//! Replacement upstream sessions: when a backend lost the session a gateway token names
//! (restart, expiry), the filter re-initializes it and remembers the new session here, keyed
//! by (token, backend), because the token itself never changes (clients read
//! `Mcp-Session-Id` only from the initialize answer). Per process: another replica repeats
//! the recovery on its own. Bounded: at [`MAX_ENTRIES`] the map is emptied (the sessions it
//! held are recovered again when next needed).

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard};

use crate::bridged::BridgedSessions;
use crate::opened::OpenedSessions;

/// Most remembered replacements.
pub const MAX_ENTRIES: usize = 4096;

/// (token, backend) → replacement upstream session id; also this process's bridged sessions
/// and opened tokens.
#[derive(Debug, Default)]
pub struct RecoveredSessions {
    map: Mutex<HashMap<(String, String), String>>,
    /// Upstream sessions opened for sessionless 2026-07-28 clients ([`crate::bridged`]).
    pub bridged: BridgedSessions,
    /// Gateway tokens opened or issued here ([`crate::opened`]).
    pub opened: OpenedSessions,
}

impl RecoveredSessions {
    /// The replacement session of `backend` for `token`, if one was made here.
    pub fn get(&self, token: &str, backend: &str) -> Option<String> {
        self.lock()
            .get(&(token.to_string(), backend.to_string()))
            .cloned()
    }

    /// Remembers a replacement.
    pub fn insert(&self, token: &str, backend: &str, session: String) {
        let mut map = self.lock();
        if map.len() >= MAX_ENTRIES {
            map.clear();
        }
        map.insert((token.to_string(), backend.to_string()), session);
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<(String, String), String>> {
        self.map.lock().unwrap_or_else(|p| p.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replacements_are_per_token_and_backend_and_bounded() {
        let recovered = RecoveredSessions::default();
        recovered.insert("t1", "a", "s1".into());
        assert_eq!(recovered.get("t1", "a").as_deref(), Some("s1"));
        assert_eq!(recovered.get("t1", "b"), None);
        assert_eq!(recovered.get("t2", "a"), None);
        for i in 0..MAX_ENTRIES {
            recovered.insert(&format!("x{i}"), "a", "s".into());
        }
        assert!(recovered.lock().len() <= MAX_ENTRIES);
    }
}
