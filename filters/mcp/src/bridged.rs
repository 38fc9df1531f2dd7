//! Bridging 2026-07-28 clients to session-based backends. Such a client sends no session and
//! carries its capabilities and info in each request's `_meta`; a backend that speaks only
//! the session-based protocol (server-everything: 2025-11-25) needs an `initialize` first.
//! This per-process cache holds one upstream session per (backend, hash of the client's
//! capabilities and info): servers may show different tools to clients with different
//! capabilities, so clients that declare the same share a session.
//!
//! Which backends need it is learned, not configured: a backend that answers a sessionless
//! 2026-07-28 request with HTTP 400 (server-everything: "no valid session") or 404 is marked
//! session-based for the life of the process. Bounded: at [`MAX_ENTRIES`] the sessions are
//! forgotten (and rebuilt when next needed).

use std::collections::hash_map::DefaultHasher;
use std::collections::{HashMap, HashSet};
use std::hash::{Hash, Hasher};
use std::sync::{Mutex, MutexGuard};

use serde_json::Value;

/// Most cached upstream sessions.
pub const MAX_ENTRIES: usize = 1024;

/// The `_meta` keys of a 2026-07-28 request carrying the client's capabilities and info.
pub const CAPABILITIES_META_KEY: &str = "io.modelcontextprotocol/clientCapabilities";
pub const CLIENT_INFO_META_KEY: &str = "io.modelcontextprotocol/clientInfo";

/// A session opened by the gateway on a client's behalf.
#[derive(Debug, Clone, PartialEq)]
pub struct Bridged {
    /// The backend's `Mcp-Session-Id`.
    pub session: String,
    /// The version it negotiated.
    pub version: String,
    /// Its `initialize` result (the `server/discover` answer for this backend).
    pub init: Value,
}

/// The client's identity as far as a backend can tell: capabilities and info.
#[derive(Debug, Clone, PartialEq)]
pub struct ClientMeta {
    pub capabilities: Value,
    pub info: Value,
    /// Hash of both (the cache key).
    pub key: u64,
}

impl ClientMeta {
    /// Reads `params._meta` of a 2026-07-28 request (absent fields: `{}` / null).
    pub fn from_params(params: Option<&Value>) -> ClientMeta {
        let meta = params.and_then(|p| p.get("_meta"));
        let field = |name: &str| meta.and_then(|m| m.get(name)).cloned();
        let capabilities = field(CAPABILITIES_META_KEY).unwrap_or_else(|| serde_json::json!({}));
        let info = field(CLIENT_INFO_META_KEY).unwrap_or(Value::Null);
        let mut hasher = DefaultHasher::new();
        capabilities.to_string().hash(&mut hasher);
        info.to_string().hash(&mut hasher);
        ClientMeta {
            capabilities,
            info,
            key: hasher.finish(),
        }
    }
}

/// Bridged sessions and the backends known to need them.
#[derive(Debug, Default)]
pub struct BridgedSessions {
    inner: Mutex<Inner>,
}

#[derive(Debug, Default)]
struct Inner {
    sessions: HashMap<(String, u64), Bridged>,
    session_based: HashSet<String>,
}

impl BridgedSessions {
    /// Whether `backend` answered a sessionless 2026-07-28 request as a session-based server.
    pub fn is_session_based(&self, backend: &str) -> bool {
        self.lock().session_based.contains(backend)
    }

    /// Marks `backend` as session-based.
    pub fn mark_session_based(&self, backend: &str) {
        self.lock().session_based.insert(backend.to_string());
    }

    /// Forgets that `backend` is session-based (it refused to initialize).
    pub fn unmark_session_based(&self, backend: &str) {
        self.lock().session_based.remove(backend);
    }

    /// The session of `backend` for clients with this key.
    pub fn get(&self, backend: &str, key: u64) -> Option<Bridged> {
        self.lock()
            .sessions
            .get(&(backend.to_string(), key))
            .cloned()
    }

    /// Remembers a session.
    pub fn insert(&self, backend: &str, key: u64, bridged: Bridged) {
        let mut inner = self.lock();
        if inner.sessions.len() >= MAX_ENTRIES {
            inner.sessions.clear();
        }
        inner.sessions.insert((backend.to_string(), key), bridged);
    }

    /// Forgets a session the backend no longer knows.
    pub fn remove(&self, backend: &str, key: u64) {
        self.lock().sessions.remove(&(backend.to_string(), key));
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn bridged(session: &str) -> Bridged {
        Bridged {
            session: session.into(),
            version: "2025-11-25".into(),
            init: json!({}),
        }
    }

    #[test]
    fn clients_with_the_same_capabilities_and_info_share_a_key() {
        let params = |sampling: bool| {
            let caps = if sampling {
                json!({"sampling": {}})
            } else {
                json!({})
            };
            json!({"_meta": {CAPABILITIES_META_KEY: caps, CLIENT_INFO_META_KEY: {"name": "c"}}})
        };
        let a = ClientMeta::from_params(Some(&params(true)));
        assert_eq!(a.key, ClientMeta::from_params(Some(&params(true))).key);
        assert_ne!(a.key, ClientMeta::from_params(Some(&params(false))).key);
        assert_eq!(a.capabilities, json!({"sampling": {}}));
        assert_eq!(ClientMeta::from_params(None).capabilities, json!({}));
    }

    #[test]
    fn sessions_are_per_backend_and_key_and_bounded() {
        let cache = BridgedSessions::default();
        assert!(!cache.is_session_based("a"));
        cache.mark_session_based("a");
        assert!(cache.is_session_based("a"));
        cache.unmark_session_based("a");
        assert!(!cache.is_session_based("a"));
        cache.insert("a", 1, bridged("s1"));
        assert_eq!(cache.get("a", 1).map(|b| b.session), Some("s1".into()));
        assert_eq!(cache.get("a", 2), None);
        assert_eq!(cache.get("b", 1), None);
        cache.remove("a", 1);
        assert_eq!(cache.get("a", 1), None);
        for i in 0..=MAX_ENTRIES as u64 {
            cache.insert("a", i, bridged("s"));
        }
        assert!(cache.lock().sessions.len() <= MAX_ENTRIES);
    }
}
