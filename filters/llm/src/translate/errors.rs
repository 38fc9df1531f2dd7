//! Error bodies in each API's format, and translation of a provider's error response into the
//! client's format (status mapped, message kept).

use ai_gateway_core::sse::Event;

use crate::anthropic;
use crate::openai;

/// One of the two client-facing APIs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Api {
    /// OpenAI Chat Completions.
    OpenAi,
    /// Anthropic Messages.
    Anthropic,
}

impl Api {
    /// Metric tag and log label.
    pub fn as_str(self) -> &'static str {
        match self {
            Api::OpenAi => "openai",
            Api::Anthropic => "anthropic",
        }
    }
}

/// OpenAI's error `type` for a status.
fn openai_type(status: u16) -> &'static str {
    match status {
        401 => "authentication_error",
        403 => "permission_error",
        404 => "not_found_error",
        429 => "rate_limit_exceeded",
        500..=599 => "server_error",
        _ => "invalid_request_error",
    }
}

/// Anthropic's error `type` for a status.
fn anthropic_type(status: u16) -> &'static str {
    match status {
        401 => "authentication_error",
        402 => "billing_error",
        403 => "permission_error",
        404 => "not_found_error",
        413 => "request_too_large",
        429 => "rate_limit_error",
        503 | 529 => "overloaded_error",
        504 => "timeout_error",
        500..=599 => "api_error",
        _ => "invalid_request_error",
    }
}

/// An error body in `api`'s format. `param` names the offending field (OpenAI has a slot for
/// it; for Anthropic it is already part of the message).
pub fn error_body(api: Api, status: u16, message: &str, param: Option<&str>) -> Vec<u8> {
    let value = match api {
        Api::OpenAi => serde_json::to_value(openai::ErrorBody {
            error: openai::ErrorDetail {
                message: message.to_string(),
                kind: openai_type(status).to_string(),
                param: param.map(str::to_string),
                code: None,
            },
        }),
        Api::Anthropic => serde_json::to_value(anthropic::ErrorBody {
            kind: "error".to_string(),
            error: anthropic::ErrorDetail {
                kind: anthropic_type(status).to_string(),
                message: message.to_string(),
            },
        }),
    };
    value
        .map(|v| v.to_string().into_bytes())
        .unwrap_or_default()
}

/// The status a client of `api` sees for a provider status: OpenAI clients know no 529.
pub fn client_status(api: Api, status: u16) -> u16 {
    match (api, status) {
        (Api::OpenAi, 529) => 503,
        _ => status,
    }
}

/// The message of a provider error body in any known format (OpenAI `{"error": {...}}`,
/// Anthropic `{"type": "error", "error": {...}}`, Bedrock `{"message": ...}`); else the body
/// itself, bounded.
pub fn upstream_message(status: u16, body: &[u8]) -> String {
    let parsed = serde_json::from_slice::<serde_json::Value>(body)
        .ok()
        .and_then(|v| {
            let message = v
                .pointer("/error/message")
                .or_else(|| v.get("message"))
                .or_else(|| v.get("Message"));
            message.and_then(|m| m.as_str()).map(str::to_string)
        });
    parsed.unwrap_or_else(|| {
        let text = String::from_utf8_lossy(body);
        let text = text.trim();
        if text.is_empty() {
            format!("provider answered HTTP {status}")
        } else {
            text.chars().take(512).collect()
        }
    })
}

/// A provider error response → the client's format: (status, body).
pub fn translate_error(to: Api, status: u16, body: &[u8]) -> (u16, Vec<u8>) {
    let message = upstream_message(status, body);
    let status = client_status(to, status);
    (status, error_body(to, status, &message, None))
}

/// An in-stream error event in `api`'s format (OpenAI SDKs raise on a `data` line carrying
/// `error`; Anthropic streams have an `error` event).
pub fn stream_error_event(api: Api, status: u16, message: &str) -> Vec<u8> {
    let data = String::from_utf8_lossy(&error_body(api, status, message, None)).into_owned();
    let event = Event {
        event: (api == Api::Anthropic).then(|| "error".to_string()),
        data,
        ..Event::default()
    };
    event.to_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{json, Value};

    fn json_of(bytes: &[u8]) -> Value {
        serde_json::from_slice(bytes).unwrap()
    }

    #[test]
    fn anthropic_errors_become_openai_errors_with_mapped_status() {
        let cases = [
            (429, "rate_limit_error", 429, "rate_limit_exceeded"),
            (529, "overloaded_error", 503, "server_error"),
            (400, "invalid_request_error", 400, "invalid_request_error"),
            (401, "authentication_error", 401, "authentication_error"),
            (500, "api_error", 500, "server_error"),
        ];
        for (status, kind, want_status, want_kind) in cases {
            let body = json!({"type": "error", "error": {"type": kind, "message": "boom"}});
            let (got_status, got) =
                translate_error(Api::OpenAi, status, body.to_string().as_bytes());
            assert_eq!(got_status, want_status, "{kind}");
            assert_eq!(
                json_of(&got),
                json!({"error": {"message": "boom", "type": want_kind, "param": null, "code": null}}),
                "{kind}"
            );
        }
    }

    #[test]
    fn openai_errors_become_anthropic_errors() {
        let cases = [
            (429, "rate_limit_error"),
            (503, "overloaded_error"),
            (404, "not_found_error"),
            (413, "request_too_large"),
            (500, "api_error"),
            (422, "invalid_request_error"),
        ];
        for (status, kind) in cases {
            let body = json!({"error": {"message": "m", "type": "x", "param": null, "code": null}});
            let (got_status, got) =
                translate_error(Api::Anthropic, status, body.to_string().as_bytes());
            assert_eq!(got_status, status);
            assert_eq!(
                json_of(&got),
                json!({"type": "error", "error": {"type": kind, "message": "m"}})
            );
        }
    }

    #[test]
    fn a_body_in_no_known_format_becomes_the_message() {
        let (_, got) = translate_error(Api::Anthropic, 502, b"upstream connect error");
        assert_eq!(json_of(&got)["error"]["message"], "upstream connect error");
        let (_, got) = translate_error(Api::Anthropic, 502, b"");
        assert_eq!(
            json_of(&got)["error"]["message"],
            "provider answered HTTP 502"
        );
        let bedrock = br#"{"message":"Too many requests, please wait before trying again."}"#;
        let (status, got) = translate_error(Api::OpenAi, 429, bedrock);
        assert_eq!(status, 429);
        assert_eq!(
            json_of(&got)["error"]["message"],
            "Too many requests, please wait before trying again."
        );
    }

    #[test]
    fn stream_error_events_have_each_api_shape() {
        let oa = stream_error_event(Api::OpenAi, 502, "cut");
        assert!(
            oa.starts_with(b"data: {\"error\":"),
            "{}",
            String::from_utf8_lossy(&oa)
        );
        let an = stream_error_event(Api::Anthropic, 502, "cut");
        assert!(an.starts_with(b"event: error\ndata: {\"type\":\"error\""));
    }
}
