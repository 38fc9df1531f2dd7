//! JSON-RPC 2.0 message model: requests, notifications, responses and batches.
//!
//! Parsing is strict about the envelope (`"jsonrpc": "2.0"`, member types) and lenient about
//! everything else (`params`, `result` and `error.data` are kept as raw JSON values). It never
//! panics: anything malformed comes back as a [`JsonRpcError`] carrying the standard error code
//! a server would answer with.

use serde_json::{Map, Number, Value};

/// Invalid JSON was received.
pub const PARSE_ERROR: i64 = -32700;
/// The JSON sent is not a valid request object.
pub const INVALID_REQUEST: i64 = -32600;
/// The method does not exist or is not available.
pub const METHOD_NOT_FOUND: i64 = -32601;
/// Invalid method parameters.
pub const INVALID_PARAMS: i64 = -32602;
/// Internal JSON-RPC error.
pub const INTERNAL_ERROR: i64 = -32603;

/// The protocol version every message carries.
pub const VERSION: &str = "2.0";

/// A request id: a string, a number, or null (null appears in error responses to
/// messages whose id could not be read).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Id {
    /// A numeric id, kept as written.
    Number(Number),
    /// A string id.
    String(String),
    /// The null id.
    Null,
}

impl Id {
    fn from_value(value: &Value) -> Option<Id> {
        match value {
            Value::Number(n) => Some(Id::Number(n.clone())),
            Value::String(s) => Some(Id::String(s.clone())),
            Value::Null => Some(Id::Null),
            _ => None,
        }
    }

    fn to_value(&self) -> Value {
        match self {
            Id::Number(n) => Value::Number(n.clone()),
            Id::String(s) => Value::String(s.clone()),
            Id::Null => Value::Null,
        }
    }
}

impl From<i64> for Id {
    fn from(n: i64) -> Self {
        Id::Number(n.into())
    }
}

impl From<&str> for Id {
    fn from(s: &str) -> Self {
        Id::String(s.to_string())
    }
}

/// A call that expects a response.
#[derive(Debug, Clone, PartialEq)]
pub struct Request {
    pub id: Id,
    pub method: String,
    /// `params`: an object or an array when present.
    pub params: Option<Value>,
}

/// A call without an id: the receiver must not answer it.
#[derive(Debug, Clone, PartialEq)]
pub struct Notification {
    pub method: String,
    /// `params`: an object or an array when present.
    pub params: Option<Value>,
}

/// The `error` member of a failed response.
#[derive(Debug, Clone, PartialEq)]
pub struct ErrorObject {
    pub code: i64,
    pub message: String,
    pub data: Option<Value>,
}

impl ErrorObject {
    /// An error without `data`.
    pub fn new(code: i64, message: impl Into<String>) -> Self {
        ErrorObject {
            code,
            message: message.into(),
            data: None,
        }
    }
}

/// What a response carries: exactly one of `result` and `error`.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    Result(Value),
    Error(ErrorObject),
}

/// The answer to a [`Request`].
#[derive(Debug, Clone, PartialEq)]
pub struct Response {
    pub id: Id,
    pub outcome: Outcome,
}

impl Response {
    /// A successful response.
    pub fn result(id: Id, result: Value) -> Self {
        Response {
            id,
            outcome: Outcome::Result(result),
        }
    }

    /// A failed response.
    pub fn error(id: Id, code: i64, message: impl Into<String>) -> Self {
        Response {
            id,
            outcome: Outcome::Error(ErrorObject::new(code, message)),
        }
    }

    /// The error response a server sends for a message it could not accept. The id is null
    /// because a message that failed to parse has no readable id.
    pub fn for_parse_failure(err: &JsonRpcError) -> Self {
        Response::error(Id::Null, err.code(), err.to_string())
    }

    /// The error object, when this response failed.
    pub fn error_object(&self) -> Option<&ErrorObject> {
        match &self.outcome {
            Outcome::Error(e) => Some(e),
            Outcome::Result(_) => None,
        }
    }
}

/// One JSON-RPC message.
#[derive(Debug, Clone, PartialEq)]
pub enum Message {
    Request(Request),
    Notification(Notification),
    Response(Response),
}

impl Message {
    /// The method name of a request or notification.
    pub fn method(&self) -> Option<&str> {
        match self {
            Message::Request(r) => Some(&r.method),
            Message::Notification(n) => Some(&n.method),
            Message::Response(_) => None,
        }
    }

    /// Reads one message from an already-parsed JSON value.
    pub fn from_value(value: &Value) -> Result<Message, JsonRpcError> {
        let obj = value.as_object().ok_or(JsonRpcError::InvalidRequest(
            "a message must be a JSON object",
        ))?;
        match obj.get("jsonrpc") {
            Some(Value::String(v)) if v == VERSION => {}
            _ => return Err(JsonRpcError::InvalidRequest("`jsonrpc` must be \"2.0\"")),
        }
        if let Some(method) = obj.get("method") {
            return call_from(obj, method);
        }
        response_from(obj)
    }

    /// The message as a JSON value.
    pub fn to_value(&self) -> Value {
        let mut obj = Map::new();
        obj.insert("jsonrpc".into(), Value::String(VERSION.into()));
        match self {
            Message::Request(r) => {
                obj.insert("id".into(), r.id.to_value());
                obj.insert("method".into(), Value::String(r.method.clone()));
                if let Some(p) = &r.params {
                    obj.insert("params".into(), p.clone());
                }
            }
            Message::Notification(n) => {
                obj.insert("method".into(), Value::String(n.method.clone()));
                if let Some(p) = &n.params {
                    obj.insert("params".into(), p.clone());
                }
            }
            Message::Response(r) => {
                obj.insert("id".into(), r.id.to_value());
                match &r.outcome {
                    Outcome::Result(v) => {
                        obj.insert("result".into(), v.clone());
                    }
                    Outcome::Error(e) => {
                        obj.insert("error".into(), error_to_value(e));
                    }
                }
            }
        }
        Value::Object(obj)
    }

    /// The message serialized as compact JSON.
    pub fn to_vec(&self) -> Vec<u8> {
        self.to_value().to_string().into_bytes()
    }
}

impl From<Request> for Message {
    fn from(r: Request) -> Self {
        Message::Request(r)
    }
}

impl From<Notification> for Message {
    fn from(n: Notification) -> Self {
        Message::Notification(n)
    }
}

impl From<Response> for Message {
    fn from(r: Response) -> Self {
        Message::Response(r)
    }
}

/// A whole HTTP body: one message, or a batch whose members are checked one by one
/// (a server answers each invalid member with its own error response).
#[derive(Debug, Clone, PartialEq)]
pub enum Payload {
    Single(Message),
    Batch(Vec<Result<Message, JsonRpcError>>),
}

impl Payload {
    /// Serializes the payload; invalid batch members are skipped.
    pub fn to_vec(&self) -> Vec<u8> {
        match self {
            Payload::Single(m) => m.to_vec(),
            Payload::Batch(items) => {
                let values: Vec<Value> = items
                    .iter()
                    .filter_map(|item| item.as_ref().ok().map(Message::to_value))
                    .collect();
                Value::Array(values).to_string().into_bytes()
            }
        }
    }
}

/// Why bytes are not a usable JSON-RPC message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum JsonRpcError {
    /// The bytes are not JSON.
    #[error("parse error: {0}")]
    Parse(String),
    /// JSON, but not a valid JSON-RPC 2.0 message.
    #[error("invalid request: {0}")]
    InvalidRequest(&'static str),
    /// An empty array is not a valid batch.
    #[error("invalid request: empty batch")]
    EmptyBatch,
}

impl JsonRpcError {
    /// The standard error code a server answers this failure with.
    pub fn code(&self) -> i64 {
        match self {
            JsonRpcError::Parse(_) => PARSE_ERROR,
            JsonRpcError::InvalidRequest(_) | JsonRpcError::EmptyBatch => INVALID_REQUEST,
        }
    }
}

/// Parses an HTTP body holding one message or a batch.
pub fn parse(bytes: &[u8]) -> Result<Payload, JsonRpcError> {
    let value: Value =
        serde_json::from_slice(bytes).map_err(|e| JsonRpcError::Parse(e.to_string()))?;
    match &value {
        Value::Array(items) if items.is_empty() => Err(JsonRpcError::EmptyBatch),
        Value::Array(items) => Ok(Payload::Batch(
            items.iter().map(Message::from_value).collect(),
        )),
        single => Message::from_value(single).map(Payload::Single),
    }
}

/// Parses an HTTP body that must hold exactly one message (batches are refused).
pub fn parse_message(bytes: &[u8]) -> Result<Message, JsonRpcError> {
    match parse(bytes)? {
        Payload::Single(m) => Ok(m),
        Payload::Batch(_) => Err(JsonRpcError::InvalidRequest(
            "expected a single message, got a batch",
        )),
    }
}

fn params_from(obj: &Map<String, Value>) -> Result<Option<Value>, JsonRpcError> {
    match obj.get("params") {
        None => Ok(None),
        Some(p @ (Value::Object(_) | Value::Array(_))) => Ok(Some(p.clone())),
        Some(_) => Err(JsonRpcError::InvalidRequest(
            "`params` must be an object or an array",
        )),
    }
}

fn call_from(obj: &Map<String, Value>, method: &Value) -> Result<Message, JsonRpcError> {
    let method = method
        .as_str()
        .ok_or(JsonRpcError::InvalidRequest("`method` must be a string"))?
        .to_string();
    let params = params_from(obj)?;
    match obj.get("id") {
        None => Ok(Message::Notification(Notification { method, params })),
        Some(id) => {
            let id = Id::from_value(id).ok_or(JsonRpcError::InvalidRequest(
                "`id` must be a string, a number or null",
            ))?;
            Ok(Message::Request(Request { id, method, params }))
        }
    }
}

fn response_from(obj: &Map<String, Value>) -> Result<Message, JsonRpcError> {
    let id = obj
        .get("id")
        .ok_or(JsonRpcError::InvalidRequest("a response must have an `id`"))?;
    let id = Id::from_value(id).ok_or(JsonRpcError::InvalidRequest(
        "`id` must be a string, a number or null",
    ))?;
    let outcome = match (obj.get("result"), obj.get("error")) {
        (Some(result), None) => Outcome::Result(result.clone()),
        (None, Some(error)) => Outcome::Error(error_from(error)?),
        (Some(_), Some(_)) => {
            return Err(JsonRpcError::InvalidRequest(
                "a response has either `result` or `error`, not both",
            ))
        }
        (None, None) => {
            return Err(JsonRpcError::InvalidRequest(
                "a message needs `method`, `result` or `error`",
            ))
        }
    };
    Ok(Message::Response(Response { id, outcome }))
}

fn error_from(value: &Value) -> Result<ErrorObject, JsonRpcError> {
    let obj = value
        .as_object()
        .ok_or(JsonRpcError::InvalidRequest("`error` must be an object"))?;
    let code = obj
        .get("code")
        .and_then(Value::as_i64)
        .ok_or(JsonRpcError::InvalidRequest(
            "`error.code` must be an integer",
        ))?;
    let message = obj
        .get("message")
        .and_then(Value::as_str)
        .ok_or(JsonRpcError::InvalidRequest(
            "`error.message` must be a string",
        ))?
        .to_string();
    Ok(ErrorObject {
        code,
        message,
        data: obj.get("data").cloned(),
    })
}

fn error_to_value(e: &ErrorObject) -> Value {
    let mut obj = Map::new();
    obj.insert("code".into(), Value::Number(e.code.into()));
    obj.insert("message".into(), Value::String(e.message.clone()));
    if let Some(d) = &e.data {
        obj.insert("data".into(), d.clone());
    }
    Value::Object(obj)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// What a parse should produce, compactly.
    #[derive(Debug, PartialEq)]
    enum Expect<'a> {
        Request(&'a str),
        Notification(&'a str),
        Result,
        Error(i64),
        Fails(i64),
    }

    fn summarize(m: &Message) -> Expect<'_> {
        match m {
            Message::Request(r) => Expect::Request(&r.method),
            Message::Notification(n) => Expect::Notification(&n.method),
            Message::Response(Response {
                outcome: Outcome::Result(_),
                ..
            }) => Expect::Result,
            Message::Response(Response {
                outcome: Outcome::Error(e),
                ..
            }) => Expect::Error(e.code),
        }
    }

    #[test]
    fn single_messages_parse_as_expected() {
        let cases: &[(&str, Expect<'static>)] = &[
            (
                r#"{"jsonrpc":"2.0","id":1,"method":"SendMessage","params":{}}"#,
                Expect::Request("SendMessage"),
            ),
            (
                r#"{"jsonrpc":"2.0","id":"a","method":"tasks/get"}"#,
                Expect::Request("tasks/get"),
            ),
            (
                r#"{"jsonrpc":"2.0","id":null,"method":"x","params":[1]}"#,
                Expect::Request("x"),
            ),
            (
                r#"{"jsonrpc":"2.0","method":"notify"}"#,
                Expect::Notification("notify"),
            ),
            (
                r#"{"jsonrpc":"2.0","id":1,"result":{"ok":true}}"#,
                Expect::Result,
            ),
            (r#"{"jsonrpc":"2.0","id":1,"result":null}"#, Expect::Result),
            (
                r#"{"jsonrpc":"2.0","id":null,"error":{"code":-32700,"message":"bad"}}"#,
                Expect::Error(PARSE_ERROR),
            ),
            (
                r#"{"jsonrpc":"2.0","id":2,"error":{"code":-32001,"message":"nf","data":{"x":1}}}"#,
                Expect::Error(-32001),
            ),
            ("", Expect::Fails(PARSE_ERROR)),
            ("{", Expect::Fails(PARSE_ERROR)),
            ("\u{0}\u{1}binary", Expect::Fails(PARSE_ERROR)),
            ("42", Expect::Fails(INVALID_REQUEST)),
            (r#"{"id":1,"method":"m"}"#, Expect::Fails(INVALID_REQUEST)),
            (
                r#"{"jsonrpc":"1.0","id":1,"method":"m"}"#,
                Expect::Fails(INVALID_REQUEST),
            ),
            (
                r#"{"jsonrpc":"2.0","id":1,"method":7}"#,
                Expect::Fails(INVALID_REQUEST),
            ),
            (
                r#"{"jsonrpc":"2.0","id":{},"method":"m"}"#,
                Expect::Fails(INVALID_REQUEST),
            ),
            (
                r#"{"jsonrpc":"2.0","id":1,"method":"m","params":"s"}"#,
                Expect::Fails(INVALID_REQUEST),
            ),
            (
                r#"{"jsonrpc":"2.0","id":1}"#,
                Expect::Fails(INVALID_REQUEST),
            ),
            (
                r#"{"jsonrpc":"2.0","result":1}"#,
                Expect::Fails(INVALID_REQUEST),
            ),
            (
                r#"{"jsonrpc":"2.0","id":1,"result":1,"error":{"code":1,"message":""}}"#,
                Expect::Fails(INVALID_REQUEST),
            ),
            (
                r#"{"jsonrpc":"2.0","id":1,"error":{"code":"x","message":""}}"#,
                Expect::Fails(INVALID_REQUEST),
            ),
            (
                r#"{"jsonrpc":"2.0","id":1,"error":{"code":1}}"#,
                Expect::Fails(INVALID_REQUEST),
            ),
            ("[]", Expect::Fails(INVALID_REQUEST)),
        ];
        for (input, expected) in cases {
            let parsed = parse_message(input.as_bytes());
            let got = match &parsed {
                Ok(m) => summarize(m),
                Err(e) => Expect::Fails(e.code()),
            };
            assert_eq!(&got, expected, "input: {input}");
        }
    }

    #[test]
    fn batch_members_are_checked_one_by_one() {
        let body = br#"[{"jsonrpc":"2.0","id":1,"method":"a"},{"bad":true},{"jsonrpc":"2.0","method":"n"}]"#;
        let Payload::Batch(items) = parse(body).unwrap() else {
            panic!("expected a batch");
        };
        assert_eq!(items.len(), 3);
        assert_eq!(items[0].as_ref().unwrap().method(), Some("a"));
        assert_eq!(items[1].as_ref().unwrap_err().code(), INVALID_REQUEST);
        assert_eq!(items[2].as_ref().unwrap().method(), Some("n"));
        assert!(parse_message(body).is_err());
    }

    #[test]
    fn messages_round_trip_through_serialization() {
        let messages: Vec<Message> = vec![
            Request {
                id: 7.into(),
                method: "GetTask".into(),
                params: Some(json!({"id": "t"})),
            }
            .into(),
            Request {
                id: "x".into(),
                method: "m".into(),
                params: None,
            }
            .into(),
            Notification {
                method: "n".into(),
                params: Some(json!([1, 2])),
            }
            .into(),
            Response::result(Id::Null, json!({"a": [1, 2.5, "s"]})).into(),
            Response::error(3.into(), METHOD_NOT_FOUND, "no such method").into(),
            Response {
                id: "e".into(),
                outcome: Outcome::Error(ErrorObject {
                    code: -32001,
                    message: "m".into(),
                    data: Some(json!("d")),
                }),
            }
            .into(),
        ];
        for m in messages {
            let bytes = m.to_vec();
            assert_eq!(
                parse_message(&bytes).unwrap(),
                m,
                "{}",
                String::from_utf8_lossy(&bytes)
            );
        }
    }

    #[test]
    fn batch_serialization_skips_invalid_members() {
        let body = br#"[{"jsonrpc":"2.0","id":1,"method":"a"},5]"#;
        let out = parse(body).unwrap().to_vec();
        assert_eq!(
            serde_json::from_slice::<Value>(&out).unwrap(),
            json!([{"jsonrpc": "2.0", "id": 1, "method": "a"}])
        );
    }

    #[test]
    fn error_response_for_a_parse_failure_has_null_id_and_standard_code() {
        let err = parse_message(b"not json").unwrap_err();
        let resp = Response::for_parse_failure(&err);
        assert_eq!(resp.id, Id::Null);
        assert_eq!(resp.error_object().unwrap().code, PARSE_ERROR);
        let value: Value = serde_json::from_slice(&Message::from(resp).to_vec()).unwrap();
        assert_eq!(value["id"], Value::Null);
        assert_eq!(value["error"]["code"], json!(-32700));
    }

    #[test]
    fn standard_codes_have_their_spec_values() {
        assert_eq!(
            [
                PARSE_ERROR,
                INVALID_REQUEST,
                METHOD_NOT_FOUND,
                INVALID_PARAMS,
                INTERNAL_ERROR
            ],
            [-32700, -32600, -32601, -32602, -32603]
        );
    }
}
