//! A2A method names: JSON-RPC names of both protocol generations, HTTP+JSON (REST) routes
//! mapped to v1.0 names, and reading the method out of a JSON-RPC request body.

use ai_gateway_core::jsonrpc::{self, Message, Payload};
use ai_gateway_core::TagLimiter;

use crate::url::path_only;

/// v1.0 JSON-RPC method names (also the names REST routes map to).
pub const V1_METHODS: &[&str] = &[
    SEND_MESSAGE,
    SEND_STREAMING_MESSAGE,
    GET_TASK,
    LIST_TASKS,
    CANCEL_TASK,
    SUBSCRIBE_TO_TASK,
    CREATE_PUSH_CONFIG,
    GET_PUSH_CONFIG,
    LIST_PUSH_CONFIGS,
    DELETE_PUSH_CONFIG,
    GET_EXTENDED_AGENT_CARD,
];

/// v0.3 JSON-RPC method names.
pub const V03_METHODS: &[&str] = &[
    "message/send",
    "message/stream",
    "tasks/get",
    "tasks/list",
    "tasks/cancel",
    "tasks/resubscribe",
    "tasks/pushNotificationConfig/set",
    "tasks/pushNotificationConfig/get",
    "tasks/pushNotificationConfig/list",
    "tasks/pushNotificationConfig/delete",
    V03_GET_EXTENDED_CARD,
];

pub const SEND_MESSAGE: &str = "SendMessage";
pub const SEND_STREAMING_MESSAGE: &str = "SendStreamingMessage";
pub const GET_TASK: &str = "GetTask";
pub const LIST_TASKS: &str = "ListTasks";
pub const CANCEL_TASK: &str = "CancelTask";
pub const SUBSCRIBE_TO_TASK: &str = "SubscribeToTask";
pub const CREATE_PUSH_CONFIG: &str = "CreateTaskPushNotificationConfig";
pub const GET_PUSH_CONFIG: &str = "GetTaskPushNotificationConfig";
pub const LIST_PUSH_CONFIGS: &str = "ListTaskPushNotificationConfigs";
pub const DELETE_PUSH_CONFIG: &str = "DeleteTaskPushNotificationConfig";
pub const GET_EXTENDED_AGENT_CARD: &str = "GetExtendedAgentCard";
pub const V03_GET_EXTENDED_CARD: &str = "agent/getAuthenticatedExtendedCard";

/// Method tag of a public agent-card fetch.
pub const CARD: &str = "card";
/// Method tag of a JSON-RPC body that could not be read.
pub const UNKNOWN: &str = "unknown";

/// Whether a JSON-RPC method returns an agent card as its result.
pub fn is_extended_card_method(method: &str) -> bool {
    method == GET_EXTENDED_AGENT_CARD || method == V03_GET_EXTENDED_CARD
}

/// The limiter for the `method` tag: every known name, `card`, `unknown`, plus `extra`.
pub fn method_tag_limiter(extra: &[String]) -> TagLimiter {
    let known = V1_METHODS
        .iter()
        .chain(V03_METHODS)
        .chain(&[CARD, UNKNOWN])
        .map(|s| s.to_string());
    TagLimiter::new(known.chain(extra.iter().cloned()))
}

/// The v1.0 method an HTTP+JSON request invokes, from its HTTP method and path (relative to
/// the agent's prefix). Matches the tail of the path, so tenant segments and the v0.3 `/v1`
/// prefix are covered: v1.0 `/message:send`, `/tasks/{id}:cancel`, `/extendedAgentCard`, …;
/// v0.3 `/v1/message:send`, `/v1/tasks/{id}:subscribe`, `/v1/card`, ….
pub fn rest_method(http_method: &str, path: &str) -> Option<&'static str> {
    let mut rev = LastSegments(path_only(path).trim_end_matches('/'));
    let last = rev.next()?;
    let prev = rev.next();
    let prev2 = rev.next();
    let prev3 = rev.next();
    let get = http_method == "GET";
    let post = http_method == "POST";
    match (last, prev) {
        ("message:send", _) if post => Some(SEND_MESSAGE),
        ("message:stream", _) if post => Some(SEND_STREAMING_MESSAGE),
        ("extendedAgentCard", _) if get => Some(GET_EXTENDED_AGENT_CARD),
        ("card", Some("v1")) if get => Some(GET_EXTENDED_AGENT_CARD),
        ("tasks", _) if get => Some(LIST_TASKS),
        ("pushNotificationConfigs", Some(_)) if prev2 == Some("tasks") => match http_method {
            "POST" => Some(CREATE_PUSH_CONFIG),
            "GET" => Some(LIST_PUSH_CONFIGS),
            _ => None,
        },
        (_, Some("pushNotificationConfigs")) if prev3 == Some("tasks") => match http_method {
            "GET" => Some(GET_PUSH_CONFIG),
            "DELETE" => Some(DELETE_PUSH_CONFIG),
            _ => None,
        },
        (task, Some("tasks")) => match task.rsplit_once(':') {
            Some((id, "cancel")) if post && !id.is_empty() => Some(CANCEL_TASK),
            Some((id, "subscribe")) if (get || post) && !id.is_empty() => Some(SUBSCRIBE_TO_TASK),
            None if get && !task.is_empty() => Some(GET_TASK),
            _ => None,
        },
        _ => None,
    }
}

/// The `/`-separated segments of a path, last first (a byte scan instead of a char searcher:
/// this runs on every request).
struct LastSegments<'a>(&'a str);

impl<'a> Iterator for LastSegments<'a> {
    type Item = &'a str;

    fn next(&mut self) -> Option<&'a str> {
        let path = self.0;
        match path.bytes().rposition(|b| b == b'/') {
            Some(slash) => {
                self.0 = &path[..slash];
                Some(&path[slash + 1..])
            }
            None if path.is_empty() => None,
            None => {
                self.0 = "";
                Some(path)
            }
        }
    }
}

/// What a JSON-RPC request body says about its method.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BodyMethod {
    /// A single request or notification naming this method.
    Named(String),
    /// Not JSON, not JSON-RPC, or a batch (A2A defines no batches).
    Malformed,
}

/// Reads the method from a complete request body.
pub fn method_of_body(body: &[u8]) -> BodyMethod {
    match jsonrpc::parse(body) {
        Ok(Payload::Single(msg @ (Message::Request(_) | Message::Notification(_)))) => {
            BodyMethod::Named(msg.method().unwrap_or_default().to_string())
        }
        _ => BodyMethod::Malformed,
    }
}

/// Reads the method from the first bytes of a body too large to copy whole: scans the
/// top-level object for a `"method"` string member without parsing the rest.
pub fn method_of_prefix(prefix: &[u8]) -> BodyMethod {
    let mut scanner = PrefixScanner {
        bytes: prefix,
        pos: 0,
    };
    scanner
        .top_level_method()
        .map_or(BodyMethod::Malformed, BodyMethod::Named)
}

/// A minimal JSON tokenizer over a possibly truncated body.
struct PrefixScanner<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl PrefixScanner<'_> {
    /// The last `method` member of the prefix: a JSON parser keeps the last of duplicate
    /// members, so stopping at the first would let a client show the metrics one method
    /// (`{"method":"a","method":"b"}`) while the agent runs another.
    fn top_level_method(&mut self) -> Option<String> {
        self.skip_ws();
        self.expect(b'{')?;
        let mut found = None;
        loop {
            self.skip_ws();
            // The prefix may end anywhere from here on: what was found so far is the answer.
            let Some(key) = self.string() else {
                return found;
            };
            self.skip_ws();
            if self.expect(b':').is_none() {
                return found;
            }
            self.skip_ws();
            if key == "method" {
                // A method that is not a complete string is no method (or is cut off).
                found = Some(self.string()?);
            } else if self.skip_value().is_none() {
                return found;
            }
            self.skip_ws();
            match self.next() {
                Some(b',') => continue,
                Some(b'}') | None => return found,
                Some(_) => return None,
            }
        }
    }

    fn next(&mut self) -> Option<u8> {
        let b = *self.bytes.get(self.pos)?;
        self.pos += 1;
        Some(b)
    }

    fn expect(&mut self, want: u8) -> Option<()> {
        (self.next()? == want).then_some(())
    }

    fn skip_ws(&mut self) {
        while matches!(self.bytes.get(self.pos), Some(b' ' | b'\t' | b'\n' | b'\r')) {
            self.pos += 1;
        }
    }

    /// A complete JSON string, decoded through serde_json for escapes.
    fn string(&mut self) -> Option<String> {
        let start = self.pos;
        self.expect(b'"')?;
        loop {
            match self.next()? {
                b'\\' => {
                    self.next()?;
                }
                b'"' => break,
                _ => {}
            }
        }
        serde_json::from_slice(&self.bytes[start..self.pos]).ok()
    }

    /// Skips one value: strings, nested containers, or scalars up to a delimiter.
    fn skip_value(&mut self) -> Option<()> {
        let mut depth = 0usize;
        loop {
            match *self.bytes.get(self.pos)? {
                b'"' => {
                    self.string_raw()?;
                }
                b'{' | b'[' => {
                    depth += 1;
                    self.pos += 1;
                }
                b'}' | b']' if depth > 0 => {
                    depth -= 1;
                    self.pos += 1;
                }
                b',' | b'}' | b']' if depth == 0 => return Some(()),
                _ => self.pos += 1,
            }
            if depth == 0 && matches!(self.bytes.get(self.pos), Some(b',' | b'}')) {
                return Some(());
            }
        }
    }

    fn string_raw(&mut self) -> Option<()> {
        self.expect(b'"')?;
        loop {
            match self.next()? {
                b'\\' => {
                    self.next()?;
                }
                b'"' => return Some(()),
                _ => {}
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rest_routes_map_to_v1_names() {
        let cases: &[(&str, &str, Option<&str>)] = &[
            ("POST", "/message:send", Some(SEND_MESSAGE)),
            ("POST", "/message:stream", Some(SEND_STREAMING_MESSAGE)),
            ("GET", "/tasks/abc", Some(GET_TASK)),
            ("GET", "/tasks/abc?historyLength=3", Some(GET_TASK)),
            ("GET", "/tasks", Some(LIST_TASKS)),
            ("GET", "/tasks?pageSize=2", Some(LIST_TASKS)),
            ("POST", "/tasks/abc:cancel", Some(CANCEL_TASK)),
            ("GET", "/tasks/abc:subscribe", Some(SUBSCRIBE_TO_TASK)),
            ("POST", "/tasks/abc:subscribe", Some(SUBSCRIBE_TO_TASK)),
            (
                "POST",
                "/tasks/abc/pushNotificationConfigs",
                Some(CREATE_PUSH_CONFIG),
            ),
            (
                "GET",
                "/tasks/abc/pushNotificationConfigs",
                Some(LIST_PUSH_CONFIGS),
            ),
            (
                "GET",
                "/tasks/abc/pushNotificationConfigs/c1",
                Some(GET_PUSH_CONFIG),
            ),
            (
                "DELETE",
                "/tasks/abc/pushNotificationConfigs/c1",
                Some(DELETE_PUSH_CONFIG),
            ),
            ("GET", "/extendedAgentCard", Some(GET_EXTENDED_AGENT_CARD)),
            ("POST", "/my-tenant/message:send", Some(SEND_MESSAGE)),
            ("GET", "/my-tenant/tasks/abc", Some(GET_TASK)),
            // v0.3 HTTP+JSON.
            ("POST", "/v1/message:send", Some(SEND_MESSAGE)),
            ("POST", "/v1/message:stream", Some(SEND_STREAMING_MESSAGE)),
            ("GET", "/v1/tasks/abc", Some(GET_TASK)),
            ("POST", "/v1/tasks/abc:cancel", Some(CANCEL_TASK)),
            ("GET", "/v1/tasks/abc:subscribe", Some(SUBSCRIBE_TO_TASK)),
            (
                "POST",
                "/v1/tasks/abc/pushNotificationConfigs",
                Some(CREATE_PUSH_CONFIG),
            ),
            (
                "GET",
                "/v1/tasks/abc/pushNotificationConfigs/c",
                Some(GET_PUSH_CONFIG),
            ),
            ("GET", "/v1/card", Some(GET_EXTENDED_AGENT_CARD)),
            // Not REST: JSON-RPC endpoints and wrong verbs.
            ("POST", "/", None),
            ("POST", "", None),
            ("POST", "/tasks", None),
            ("GET", "/message:send", None),
            ("POST", "/tasks/abc", None),
            ("PUT", "/tasks/abc/pushNotificationConfigs", None),
            ("GET", "/tasks/:cancel", None),
            ("GET", "/card", None),
        ];
        for (verb, path, expected) in cases {
            assert_eq!(rest_method(verb, path), *expected, "{verb} {path}");
        }
    }

    #[test]
    fn body_methods_are_read_from_json_rpc_requests() {
        let cases: &[(&str, BodyMethod)] = &[
            (
                r#"{"jsonrpc":"2.0","id":1,"method":"SendMessage","params":{}}"#,
                BodyMethod::Named("SendMessage".into()),
            ),
            (
                r#"{"jsonrpc":"2.0","method":"tasks/get"}"#,
                BodyMethod::Named("tasks/get".into()),
            ),
            (
                r#"{"jsonrpc":"2.0","id":1,"result":{}}"#,
                BodyMethod::Malformed,
            ),
            (
                r#"[{"jsonrpc":"2.0","id":1,"method":"SendMessage"}]"#,
                BodyMethod::Malformed,
            ),
            ("{not json", BodyMethod::Malformed),
            ("", BodyMethod::Malformed),
        ];
        for (body, expected) in cases {
            assert_eq!(&method_of_body(body.as_bytes()), expected, "{body}");
        }
    }

    #[test]
    fn truncated_bodies_still_reveal_a_leading_method() {
        let cases: &[(&str, BodyMethod)] = &[
            (
                r#"{"jsonrpc":"2.0","id":1,"method":"SendMessage","params":{"message":{"parts":[{"text":"aaaa"#,
                BodyMethod::Named("SendMessage".into()),
            ),
            (
                r#"{"params":{"a":[1,{"method":"x"}],"s":"}\"{"},"id":"q","method":"message\/send","jsonrpc":"2.0"#,
                BodyMethod::Named("message/send".into()),
            ),
            (
                r#" { "id" : 1 , "method" : "GetTask" "#,
                BodyMethod::Named("GetTask".into()),
            ),
            (
                r#"{"jsonrpc":"2.0","params":{"message":"long"#,
                BodyMethod::Malformed,
            ),
            (r#"{"method":"Send"#, BodyMethod::Malformed),
            (r#"{"method":3}"#, BodyMethod::Malformed),
            ("[", BodyMethod::Malformed),
        ];
        for (prefix, expected) in cases {
            assert_eq!(&method_of_prefix(prefix.as_bytes()), expected, "{prefix}");
        }
    }

    #[test]
    fn random_method_names_collapse_to_other() {
        let limiter = method_tag_limiter(&["MyMethod".to_string()]);
        for m in V1_METHODS
            .iter()
            .chain(V03_METHODS)
            .chain(&[CARD, UNKNOWN, "MyMethod"])
        {
            assert_eq!(limiter.limit(m), *m);
        }
        for i in 0..1000 {
            assert_eq!(limiter.limit(&format!("random-{i}")), "other");
        }
    }
}
