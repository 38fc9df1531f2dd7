//! `subscriptions/listen` (2026-07-28): a client opts in to change notifications (list changes,
//! updates of resources it names) and the answer is a long-lived SSE stream: first
//! `notifications/subscriptions/acknowledged` with the honoured subset of its filter, then the
//! notifications, each stamped with the listen request's id under `_meta`
//! (`io.modelcontextprotocol/subscriptionId`), and, when the server ends it gracefully, the
//! request's result. A stream that just stops tells the client it was lost (re-listen, refetch).
//!
//! The gateway's listen stream is made of its backends' streams: a 2026-07-28 backend's own
//! `subscriptions/listen`, or the GET stream of a session-based backend's (bridged) session.
//! [`ListenPart`] turns one of them into events for the client: the notifications the client
//! asked for pass, stamped with the client's id and with resource URIs in their client-facing
//! form (a list change reads as the gateway's: which backend changed is not said); the
//! backend's own acknowledgment and result are kept back (the gateway sends one of each for the
//! whole stream); log messages, progress and server→client requests (which a 2026-07-28 client
//! cannot answer on this stream) are dropped.

use ai_gateway_core::jsonrpc::Id;
use ai_gateway_core::sse::{Event, SseParser};
use serde_json::{json, Map, Value};

use crate::event_rewrite::{EventKind, Rewritten};

/// The method.
pub const LISTEN_METHOD: &str = "subscriptions/listen";
/// The first event of a listen stream.
pub const ACKNOWLEDGED: &str = "notifications/subscriptions/acknowledged";
/// The `_meta` key stamping every frame with the listen request's id.
pub const SUBSCRIPTION_ID_META_KEY: &str = "io.modelcontextprotocol/subscriptionId";
/// The resource-update notification.
pub const RESOURCE_UPDATED: &str = "notifications/resources/updated";

/// The list-change notifications and the filter flag that opts in to each.
const LIST_CHANGES: [(&str, &str); 3] = [
    ("notifications/tools/list_changed", "toolsListChanged"),
    ("notifications/prompts/list_changed", "promptsListChanged"),
    (
        "notifications/resources/list_changed",
        "resourcesListChanged",
    ),
];

/// What a client asked to hear (`params.notifications` of its listen request).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Wanted {
    /// The list-change flags set, by their filter key.
    pub lists: Vec<&'static str>,
    /// `resourceSubscriptions`, client-facing.
    pub uris: Vec<String>,
}

impl Wanted {
    /// Reads the request's filter; anything unreadable is simply not asked for.
    pub fn from_params(params: Option<&Value>) -> Wanted {
        let filter = params.and_then(|p| p.get("notifications"));
        let flag = |key: &str| filter.and_then(|f| f.get(key)) == Some(&Value::Bool(true));
        let lists = LIST_CHANGES
            .iter()
            .map(|(_, key)| *key)
            .filter(|key| flag(key))
            .collect();
        let uris = filter
            .and_then(|f| f.get("resourceSubscriptions"))
            .and_then(Value::as_array)
            .map(|uris| {
                uris.iter()
                    .filter_map(Value::as_str)
                    .map(str::to_string)
                    .collect()
            })
            .unwrap_or_default();
        Wanted { lists, uris }
    }

    /// The filter with these resource URIs: what a backend is asked for (its own URIs), or the
    /// honoured subset the gateway acknowledges (client-facing URIs).
    pub fn filter(&self, uris: &[String]) -> Value {
        let mut filter = Map::new();
        for key in &self.lists {
            filter.insert((*key).to_string(), Value::Bool(true));
        }
        if !uris.is_empty() {
            filter.insert("resourceSubscriptions".into(), json!(uris));
        }
        Value::Object(filter)
    }

    fn wants_list(&self, method: &str) -> bool {
        LIST_CHANGES
            .iter()
            .any(|(m, key)| *m == method && self.lists.contains(key))
    }
}

/// The JSON form of a request id.
pub fn id_value(id: &Id) -> Value {
    match id {
        Id::Number(n) => Value::Number(n.clone()),
        Id::String(s) => Value::String(s.clone()),
        Id::Null => Value::Null,
    }
}

fn stamp(client_id: &Value) -> Value {
    json!({ SUBSCRIPTION_ID_META_KEY: client_id })
}

fn event_bytes(message: &Value) -> Vec<u8> {
    let mut event = Event::data(message.to_string());
    event.event = Some("message".into());
    event.to_bytes()
}

/// The gateway's acknowledgment: the first event of the client's stream.
pub fn acknowledgment(client_id: &Value, honoured: Value) -> Vec<u8> {
    event_bytes(&json!({"jsonrpc": "2.0", "method": ACKNOWLEDGED,
                        "params": {"notifications": honoured, "_meta": stamp(client_id)}}))
}

/// The last event: the listen request's result (a graceful end), or an error when no
/// backend stream could be heard at all.
pub fn closing(client_id: &Value, failure: Option<&str>) -> Vec<u8> {
    let message = match failure {
        None => json!({"jsonrpc": "2.0", "id": client_id,
                       "result": {"_meta": stamp(client_id), "resultType": "complete"}}),
        Some(why) => json!({"jsonrpc": "2.0", "id": client_id,
                            "error": {"code": ai_gateway_core::jsonrpc::INTERNAL_ERROR,
                                      "message": why}}),
    };
    event_bytes(&message)
}

/// What a backend stream is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// A 2026-07-28 backend's `subscriptions/listen` answer.
    Listen,
    /// A session-based backend's GET stream.
    SessionStream,
}

/// Whether the backend's acknowledgment and result reach the client: kept back when the gateway
/// merges several streams (it sends its own), passed (URIs rewritten) when the client's stream
/// is one backend's, routed through Envoy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Framing {
    Merged,
    Routed,
}

/// One backend's stream turned into listen events for the client.
pub struct ListenPart {
    source: Source,
    framing: Framing,
    parser: SseParser,
    wanted: Wanted,
    client_id: Value,
    /// Upstream → client-facing form of the URIs the client subscribed to on this backend.
    uris: Vec<(String, String)>,
    /// How this backend's other URIs read to the client (`<tag>+`), when it prefixes.
    uri_prefix: Option<String>,
    acknowledged: bool,
    /// The backend sent its result (`Some(true)`) or an error (`Some(false)`).
    ended: Option<bool>,
}

impl ListenPart {
    /// A part for `client_id`'s stream; `uris` maps the backend's subscribed URIs to the
    /// client's, `uri_prefix` is put before other URIs of this backend (none: they stay bare).
    pub fn new(
        source: Source,
        framing: Framing,
        wanted: Wanted,
        client_id: Value,
        uris: Vec<(String, String)>,
        uri_prefix: Option<String>,
        max_event_bytes: usize,
    ) -> Self {
        ListenPart {
            source,
            framing,
            parser: SseParser::new(max_event_bytes),
            wanted,
            client_id,
            uris,
            uri_prefix,
            acknowledged: false,
            ended: None,
        }
    }

    /// Whether the backend has acknowledged (a GET stream: whether it is open).
    pub fn acknowledged(&self) -> bool {
        self.acknowledged
    }

    /// The backend answered with a success status: a GET stream is then ready.
    pub fn opened(&mut self) {
        if self.source == Source::SessionStream {
            self.acknowledged = true;
        }
    }

    /// Whether the backend ended its stream with a result (a graceful end).
    pub fn ended_gracefully(&self) -> bool {
        self.ended == Some(true)
    }

    /// The client's events among those `chunk` completes.
    pub fn feed(&mut self, chunk: &[u8]) -> Rewritten {
        let mut out = Rewritten::default();
        for item in self.parser.feed(chunk) {
            let Ok(event) = item else {
                out.dropped += 1;
                continue;
            };
            let Ok(message) = serde_json::from_str::<Value>(&event.data) else {
                out.kinds[EventKind::Other as usize] += 1;
                continue;
            };
            let (kind, passed) = self.rewrite(message);
            out.kinds[kind as usize] += 1;
            if let Some(message) = passed {
                out.bytes.extend(event_bytes(&message));
            }
        }
        out
    }

    /// The event's kind and what of it reaches the client.
    fn rewrite(&mut self, message: Value) -> (EventKind, Option<Value>) {
        let method = message.get("method").and_then(Value::as_str);
        let id = message.get("id").filter(|id| !id.is_null());
        match (method, id) {
            (Some(_), Some(_)) => (EventKind::Request, None),
            (Some(method), None) => (EventKind::Notification, self.notification(method, &message)),
            (None, Some(_)) => {
                if self.source == Source::Listen {
                    self.ended = Some(message.get("result").is_some());
                }
                let passed = (self.framing == Framing::Routed).then_some(message);
                (EventKind::Response, passed)
            }
            (None, None) => (EventKind::Other, None),
        }
    }

    fn notification(&mut self, method: &str, message: &Value) -> Option<Value> {
        let params = message.get("params");
        if method == ACKNOWLEDGED {
            self.acknowledged = true;
            if self.framing == Framing::Merged {
                return None;
            }
            let mut honoured = params
                .and_then(|p| p.get("notifications"))
                .cloned()
                .unwrap_or_else(|| json!({}));
            if let Some(uris) = honoured
                .get_mut("resourceSubscriptions")
                .and_then(Value::as_array_mut)
            {
                for uri in uris.iter_mut() {
                    if let Some(client) = uri.as_str().map(|u| self.client_uri(u)) {
                        *uri = Value::String(client);
                    }
                }
            }
            return Some(json!({"jsonrpc": "2.0", "method": ACKNOWLEDGED,
                               "params": {"notifications": honoured,
                                          "_meta": stamp(&self.client_id)}}));
        }
        if self.wanted.wants_list(method) {
            return Some(json!({"jsonrpc": "2.0", "method": method,
                               "params": {"_meta": stamp(&self.client_id)}}));
        }
        if method == RESOURCE_UPDATED && !self.uris.is_empty() {
            let uri = params.and_then(|p| p.get("uri")).and_then(Value::as_str)?;
            let mut params = params.cloned().unwrap_or_else(|| json!({}));
            params["uri"] = Value::String(self.client_uri(uri));
            params["_meta"] = stamp(&self.client_id);
            return Some(json!({"jsonrpc": "2.0", "method": method, "params": params}));
        }
        None
    }

    fn client_uri(&self, uri: &str) -> String {
        if let Some((_, client)) = self.uris.iter().find(|(up, _)| up == uri) {
            return client.clone();
        }
        match &self.uri_prefix {
            Some(prefix) => format!("{prefix}{uri}"),
            None => uri.to_string(),
        }
    }
}

#[cfg(test)]
mod tests;
