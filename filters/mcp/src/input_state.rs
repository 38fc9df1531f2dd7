//! A session-based backend's server→client request, asked of a 2026-07-28 client as that
//! generation's multi-round-trip request: the gateway answers the call with an
//! `InputRequiredResult` (`inputRequests` holding the backend's request, `requestState` this
//! module's sealed [`InputState`]) and the client retries the call with `inputResponses`.
//!
//! No gateway process holds the call in between: the backend does (it waits for its answer),
//! and its resumable stream (Streamable HTTP's event ids and `Last-Event-ID`) holds what it
//! sends meanwhile. The state names the backend, its bridged session, the id the backend knows
//! the call by, the id of the last event read and the backend's id of each asked request; it
//! is sealed with the session keys (AES-256-GCM, its own purpose), so any replica can carry on,
//! and it expires after [`STATE_TTL_SECONDS`].

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

use crate::session_token::{Sealer, NONCE_LEN};

/// What a gateway-sealed `requestState` starts with (a backend's own states pass through).
pub const STATE_PREFIX: &str = "mcpgw1.";
/// How long a client has to answer.
pub const STATE_TTL_SECONDS: u64 = 600;
/// The longest state text opened.
const MAX_STATE_CHARS: usize = 8192;
const PURPOSE: &str = "mcp input state";

/// The server→client requests a 2026-07-28 client answers through `inputRequests`.
pub const INPUT_METHODS: [&str; 3] = ["sampling/createMessage", "elicitation/create", "roots/list"];

/// Where a bridged call waits for the client's answers.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InputState {
    /// The backend.
    pub backend: String,
    /// Its bridged session and the version negotiated on it.
    pub session: String,
    pub version: String,
    /// The id the backend knows the call by.
    pub call: Value,
    /// The id of the last event read from the call's stream.
    pub last_event: String,
    /// `inputRequests` key → the backend's id of that request.
    pub asked: BTreeMap<String, Value>,
    /// When sealed (unix seconds).
    pub sealed_at: u64,
    /// When the client was asked (unix milliseconds; the round-trip metric).
    pub asked_ms: u64,
}

/// Why a `requestState` was not accepted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StateError {
    #[error("unknown or tampered requestState")]
    Unknown,
    #[error("expired requestState")]
    Expired,
    #[error("requestState could not be sealed")]
    Seal,
}

impl InputState {
    /// The state as `requestState` text.
    pub fn seal(&self, sealer: &Sealer, nonce: [u8; NONCE_LEN]) -> Result<String, StateError> {
        let plaintext = serde_json::to_vec(self).map_err(|_| StateError::Seal)?;
        let sealed = (sealer.seal_for(PURPOSE, &plaintext, nonce)).map_err(|_| StateError::Seal)?;
        Ok(format!("{STATE_PREFIX}{sealed}"))
    }

    /// Opens a gateway-sealed `requestState`.
    pub fn open(sealer: &Sealer, text: &str, now: u64) -> Result<InputState, StateError> {
        let sealed = text.strip_prefix(STATE_PREFIX).ok_or(StateError::Unknown)?;
        let plaintext =
            (sealer.open_for(PURPOSE, sealed, MAX_STATE_CHARS)).map_err(|_| StateError::Unknown)?;
        let state: InputState =
            serde_json::from_slice(&plaintext).map_err(|_| StateError::Unknown)?;
        if now.saturating_sub(state.sealed_at) > STATE_TTL_SECONDS {
            return Err(StateError::Expired);
        }
        Ok(state)
    }

    /// The client's answers as the JSON-RPC responses the backend waits for; `None` when one
    /// asked request has no answer.
    pub fn responses(&self, input_responses: Option<&Value>) -> Option<Vec<Value>> {
        (self.asked.iter())
            .map(|(key, id)| {
                let result = input_responses?.get(key)?.clone();
                Some(json!({"jsonrpc": "2.0", "id": id, "result": result}))
            })
            .collect()
    }
}

/// The `requestState` of a retried call's params, when the gateway sealed it.
pub fn gateway_state(params: Option<&Value>) -> Option<&str> {
    let state = params?.get("requestState")?.as_str()?;
    state.starts_with(STATE_PREFIX).then_some(state)
}

/// A backend's server→client request the client can answer in `inputRequests`: its id, and the
/// request as embedded there (method and params).
pub fn input_request(message: &Value) -> Option<(Value, Value)> {
    let method = message.get("method")?.as_str()?;
    let id = message.get("id").filter(|id| !id.is_null())?;
    if !INPUT_METHODS.contains(&method) {
        return None;
    }
    let mut embedded = Map::new();
    embedded.insert("method".into(), Value::from(method));
    if let Some(params) = message.get("params") {
        embedded.insert("params".into(), params.clone());
    }
    Some((id.clone(), Value::Object(embedded)))
}

/// The `InputRequiredResult` asking `requests` (key → embedded request).
pub fn input_required(requests: Map<String, Value>, state: String) -> Value {
    json!({"resultType": "input_required", "inputRequests": requests, "requestState": state})
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::session_token::SessionKey;

    fn sealer() -> Sealer {
        Sealer::new(&[SessionKey::from_bytes([3; 32])], 3600).unwrap()
    }

    fn state() -> InputState {
        InputState {
            backend: "everything".into(),
            session: "s-1".into(),
            version: "2025-11-25".into(),
            call: json!("gw-1"),
            last_event: "e-9".into(),
            asked: BTreeMap::from([("r0".to_string(), json!(4))]),
            sealed_at: 1000,
            asked_ms: 1_000_000,
        }
    }

    #[test]
    fn a_state_round_trips_sealed_and_expires() {
        let text = state().seal(&sealer(), [7; NONCE_LEN]).unwrap();
        assert!(text.starts_with(STATE_PREFIX));
        assert!(!text.contains("s-1"));
        assert_eq!(InputState::open(&sealer(), &text, 1001), Ok(state()));
        assert_eq!(
            InputState::open(&sealer(), &text, 1000 + STATE_TTL_SECONDS + 1),
            Err(StateError::Expired)
        );
        let tampered = format!("{}x", &text[..text.len() - 1]);
        assert_eq!(
            InputState::open(&sealer(), &tampered, 1001),
            Err(StateError::Unknown)
        );
        assert_eq!(
            InputState::open(&sealer(), "backend-own", 1001),
            Err(StateError::Unknown)
        );
    }

    #[test]
    fn answers_become_the_backends_responses() {
        let answers = json!({"r0": {"role": "assistant", "content": []}});
        assert_eq!(
            state().responses(Some(&answers)),
            Some(vec![json!({"jsonrpc": "2.0", "id": 4,
                             "result": {"role": "assistant", "content": []}})])
        );
        assert_eq!(state().responses(Some(&json!({"other": {}}))), None);
        assert_eq!(state().responses(None), None);
    }

    #[test]
    fn input_requests_are_recognised_and_embedded() {
        let sampling = json!({"jsonrpc": "2.0", "id": 4, "method": "sampling/createMessage",
                              "params": {"maxTokens": 5}});
        assert_eq!(
            input_request(&sampling),
            Some((
                json!(4),
                json!({"method": "sampling/createMessage",
                                   "params": {"maxTokens": 5}})
            ))
        );
        let ping = json!({"jsonrpc": "2.0", "id": 5, "method": "ping"});
        assert_eq!(input_request(&ping), None);
        let note = json!({"jsonrpc": "2.0", "method": "elicitation/create"});
        assert_eq!(input_request(&note), None);
        let params = json!({"requestState": "mcpgw1.abc"});
        assert_eq!(gateway_state(Some(&params)), Some("mcpgw1.abc"));
        assert_eq!(gateway_state(Some(&json!({"requestState": "own"}))), None);
        let result = input_required(Map::new(), "s".into());
        assert_eq!(result["resultType"], "input_required");
    }
}
