use super::*;
use crate::routing::{classify, parse};

const TOOLS_CALL: &str = r#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"a_get_weather","arguments":{},"_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28"}}}"#;

fn headers<'a>(
    version: Option<&'a str>,
    method: Option<&'a str>,
    name: Option<&'a str>,
) -> McpHeaders<'a> {
    McpHeaders {
        protocol_version: version,
        method,
        name,
    }
}

fn check_body(h: McpHeaders<'_>, body: &str) -> Result<(), RouteError> {
    let message = parse(body.as_bytes()).unwrap();
    let route = classify(&message).unwrap();
    check(&h, &message, &route)
}

#[test]
fn modern_requests_must_mirror_their_body_in_headers() {
    let modern = Some("2026-07-28");
    let cases: &[(McpHeaders<'_>, &str, Option<&str>)] = &[
        (
            headers(modern, Some("tools/call"), Some("a_get_weather")),
            TOOLS_CALL,
            None,
        ),
        (
            headers(modern, Some("tools/call"), Some("=?base64?YV9nZXRfd2VhdGhlcg==?=")),
            TOOLS_CALL,
            None,
        ),
        (
            headers(modern, Some("tools/call"), Some("other")),
            TOOLS_CALL,
            Some("Mcp-Name header value 'other' does not match body value 'a_get_weather'"),
        ),
        (
            headers(modern, Some("tools/list"), Some("a_get_weather")),
            TOOLS_CALL,
            Some("Mcp-Method header value 'tools/list' does not match body value 'tools/call'"),
        ),
        (
            headers(modern, Some("Tools/Call"), Some("a_get_weather")),
            TOOLS_CALL,
            Some("does not match"),
        ),
        (
            headers(modern, None, Some("a_get_weather")),
            TOOLS_CALL,
            Some("required header Mcp-Method is missing"),
        ),
        (
            headers(modern, Some("tools/call"), None),
            TOOLS_CALL,
            Some("required header Mcp-Name is missing"),
        ),
        (
            headers(Some("2027-01-01"), Some("tools/call"), Some("a_get_weather")),
            TOOLS_CALL,
            Some("MCP-Protocol-Version header value '2027-01-01' does not match body value '2026-07-28'"),
        ),
        (
            headers(modern, Some("tools/call"), Some("=?base64?not base64?=")),
            TOOLS_CALL,
            Some("Mcp-Name header value is malformed"),
        ),
        (
            headers(modern, Some("tools/call"), Some("a_get\u{7f}weather")),
            TOOLS_CALL,
            Some("malformed"),
        ),
        (
            headers(modern, Some("=?base64?dG9vbHMvY2FsbA==?="), Some("a_get_weather")),
            TOOLS_CALL,
            Some("does not match"),
        ),
        (
            headers(modern, Some("resources/read"), Some("a+file:///x")),
            r#"{"jsonrpc":"2.0","id":2,"method":"resources/read","params":{"uri":"a+file:///x"}}"#,
            None,
        ),
        (
            headers(modern, Some("prompts/get"), Some("=?base64?5pel5pys?=")),
            r#"{"jsonrpc":"2.0","id":2,"method":"prompts/get","params":{"name":"日本"}}"#,
            None,
        ),
        (
            headers(modern, Some("tools/list"), None),
            r#"{"jsonrpc":"2.0","id":2,"method":"tools/list"}"#,
            None,
        ),
        (
            headers(modern, Some("completion/complete"), None),
            r#"{"jsonrpc":"2.0","id":2,"method":"completion/complete","params":{"ref":{"type":"ref/prompt","name":"p"}}}"#,
            None,
        ),
        (
            headers(modern, None, None),
            r#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#,
            None,
        ),
        (
            headers(modern, Some("ping"), None),
            r#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#,
            Some("does not match"),
        ),
    ];
    for (h, body, expected) in cases {
        let result = check_body(*h, body);
        match expected {
            None => assert_eq!(result, Ok(()), "{h:?}"),
            Some(text) => {
                let err = result.unwrap_err();
                assert_eq!(err.code(), -32020, "{h:?}");
                assert_eq!(err.http_status(), Some(400));
                assert!(err.to_string().starts_with("Header mismatch: "), "{err}");
                assert!(err.to_string().contains(text), "{h:?}: {err}");
            }
        }
    }
}

#[test]
fn earlier_versions_are_not_checked() {
    for version in [
        None,
        Some("2025-11-25"),
        Some("2025-03-26"),
        Some("garbage"),
    ] {
        let h = headers(version, Some("wrong"), Some("wrong"));
        assert_eq!(check_body(h, TOOLS_CALL), Ok(()), "{version:?}");
    }
}

#[test]
fn modern_versions_are_dates_from_2026_07_28() {
    let cases = [
        ("2026-07-28", true),
        ("2027-01-01", true),
        ("2026-07-27", false),
        ("2025-11-25", false),
        ("2026-7-28", false),
        ("2026-07-28x", false),
        ("9999-99-99", true),
        ("", false),
    ];
    for (version, modern) in cases {
        assert_eq!(is_modern(version), modern, "{version}");
    }
}

#[test]
fn header_values_encode_as_the_spec_table_shows() {
    // The spec's examples (streamable-http, "Value Encoding").
    let cases = [
        ("us-west1", "us-west1"),
        ("Hello, 世界", "=?base64?SGVsbG8sIOS4lueVjA==?="),
        (" padded ", "=?base64?IHBhZGRlZCA=?="),
        ("line1\nline2", "=?base64?bGluZTEKbGluZTI=?="),
        ("=?base64?literal?=", "=?base64?PT9iYXNlNjQ/bGl0ZXJhbD89?="),
        ("file:///x y", "file:///x y"),
        ("", ""),
    ];
    for (value, encoded) in cases {
        assert_eq!(encode_value(value), encoded, "{value:?}");
        assert_eq!(decode_value(encoded).as_deref(), Some(value), "{encoded}");
    }
    assert_eq!(rewritten_mcp_name("get_weather"), "get_weather");
}

#[test]
fn malformed_base64_sentinel_is_rejected() {
    for text in ["a", "abc", "a===", "ab=c", "ab==abcd", "ab!d", "=?=="] {
        let value = format!("=?base64?{text}?=");
        assert_eq!(decode_value(&value), None, "{value}");
    }
    assert_eq!(decode_value("=?base64?//79?="), None, "not UTF-8");
}
