use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use serde_json::{json, Value};

use super::*;
use crate::session_token::SessionPayload;

fn key_text(fill: u8) -> String {
    STANDARD.encode([fill; 32])
}

fn minimal() -> Value {
    json!({
        "backends": [{"name": "weather", "cluster": "mcp_weather"}],
        "session": {"keys": [key_text(1)]}
    })
}

fn full() -> Value {
    json!({
        "backends": [
            {"name": "weather", "cluster": "mcp_weather", "path": "/v1/mcp",
             "host": "weather.internal:8080", "headers": {"X-Api-Key": "secret"},
             "failureMode": "failOpen"},
            {"name": "files-2", "cluster": "mcp_files", "failureMode": "failClosed"},
            {"name": "Everything_3", "cluster": "mcp_everything"}
        ],
        "naming": {"separator": "__", "prefix": "conditional"},
        "failureMode": "failClosed",
        "session": {"keys": [key_text(2), key_text(1)], "ttlSeconds": 600},
        "allowedOrigins": ["https://App.Example.com", "http://localhost:6274"],
        "maxRequestBytes": 2048,
        "maxResponseBytes": 65536,
        "timeoutMs": 2500
    })
}

fn parse(config: &Value) -> Result<Settings, ConfigError> {
    Settings::from_json(&config.to_string())
}

/// `base` with the value at JSON pointer `pointer` replaced (or removed when `None`).
fn edited(base: Value, pointer: &str, value: Option<Value>) -> Value {
    let mut config = base;
    let (parent, key) = pointer.rsplit_once('/').expect("a pointer");
    let slot = config.pointer_mut(parent).expect("the parent exists");
    match (slot, value) {
        (Value::Object(map), Some(v)) => {
            map.insert(key.to_string(), v);
        }
        (Value::Object(map), None) => {
            map.remove(key);
        }
        (Value::Array(items), Some(v)) => items[key.parse::<usize>().unwrap()] = v,
        (other, _) => panic!("cannot edit {other}"),
    }
    config
}

#[test]
fn minimal_config_gets_the_documented_defaults() {
    let settings = parse(&minimal()).unwrap();
    let backend = &settings.backends[0];
    assert_eq!(backend.path, DEFAULT_PATH);
    assert_eq!(backend.host, None);
    assert!(backend.headers.is_empty());
    assert_eq!(backend.failure_mode, FailureMode::FailOpen);
    assert_eq!(settings.failure_mode, FailureMode::FailOpen);
    assert_eq!(settings.naming.mode(), PrefixMode::Always);
    assert_eq!(
        settings.naming.prefixed("weather", "forecast"),
        "weather_forecast"
    );
    assert_eq!(settings.sealer.ttl_seconds(), DEFAULT_TTL_SECONDS);
    assert_eq!(settings.max_request_bytes, DEFAULT_MAX_REQUEST_BYTES);
    assert_eq!(settings.max_response_bytes, DEFAULT_MAX_RESPONSE_BYTES);
    assert_eq!(settings.timeout_ms, DEFAULT_TIMEOUT_MS);
    assert_eq!(settings.listen_backend, None);
    assert_eq!(settings.protocol_versions, SUPPORTED_VERSIONS);
}

#[test]
fn offered_versions_and_the_listen_backend_are_carried_over() {
    let mut config = minimal();
    config["protocolVersions"] = json!(["2025-06-18", "2025-11-25"]);
    config["listenBackend"] = config["backends"][0]["name"].clone();
    let settings = parse(&config).unwrap();
    assert_eq!(
        settings.protocol_versions,
        ["2025-11-25", "2025-06-18"],
        "newest first"
    );
    assert_eq!(settings.listen_backend, Some(0));
}

#[test]
fn full_config_is_carried_over() {
    let settings = parse(&full()).unwrap();
    let weather = settings.backend("weather").unwrap();
    assert_eq!(weather.cluster, "mcp_weather");
    assert_eq!(weather.path, "/v1/mcp");
    assert_eq!(weather.host.as_deref(), Some("weather.internal:8080"));
    assert_eq!(
        weather.headers,
        vec![("x-api-key".to_string(), "secret".to_string())]
    );
    // Per-backend override first, else the top-level mode.
    assert_eq!(weather.failure_mode, FailureMode::FailOpen);
    assert_eq!(
        settings.backend("files-2").unwrap().failure_mode,
        FailureMode::FailClosed
    );
    assert_eq!(
        settings.backend("Everything_3").unwrap().failure_mode,
        FailureMode::FailClosed
    );
    let names: Vec<&str> = settings.backends.iter().map(|b| b.name.as_str()).collect();
    assert_eq!(names, ["weather", "files-2", "Everything_3"]);
    assert_eq!(settings.naming.mode(), PrefixMode::Conditional);
    assert_eq!(settings.naming.prefixed("files-2", "read"), "files-2__read");
    assert_eq!(settings.sealer.ttl_seconds(), 600);
    assert_eq!(settings.max_request_bytes, 2048);
    assert_eq!(settings.max_response_bytes, 65536);
    assert_eq!(settings.timeout_ms, 2500);
    assert!(settings.backend("nope").is_none());
}

#[test]
fn every_invalid_value_is_refused_naming_its_field() {
    let long_name = "a".repeat(65);
    let many: Vec<Value> = (0..65)
        .map(|i| json!({"name": format!("b{i}"), "cluster": "c"}))
        .collect();
    let base = full;
    let cases: Vec<(&str, Option<Value>, &str)> = vec![
        ("/backends", Some(json!([])), "backends"),
        ("/backends", Some(Value::Array(many)), "backends"),
        ("/backends", None, "backends"),
        (
            "/backends/1/name",
            Some(json!("bad name")),
            "backends[1].name",
        ),
        ("/backends/1/name", Some(json!("")), "backends[1].name"),
        (
            "/backends/1/name",
            Some(json!("dotted.name")),
            "backends[1].name",
        ),
        (
            "/backends/1/name",
            Some(json!(long_name)),
            "backends[1].name",
        ),
        (
            "/backends/1/name",
            Some(json!("weather")),
            "backends[1].name",
        ),
        // `a_b` and `a-b` share the resource URI scheme `a-b`.
        (
            "/backends/0/name",
            Some(json!("files_2")),
            "backends[1].name",
        ),
        ("/backends/1/name", None, "backends[1].name"),
        (
            "/backends/1/cluster",
            Some(json!("")),
            "backends[1].cluster",
        ),
        (
            "/backends/1/cluster",
            Some(json!("has space")),
            "backends[1].cluster",
        ),
        ("/backends/1/cluster", None, "backends[1].cluster"),
        ("/backends/0/path", Some(json!("mcp")), "backends[0].path"),
        ("/backends/0/path", Some(json!("/m cp")), "backends[0].path"),
        (
            "/backends/0/path",
            Some(json!("/mcp#x")),
            "backends[0].path",
        ),
        ("/backends/0/host", Some(json!("")), "backends[0].host"),
        ("/backends/0/host", Some(json!("a.b/c")), "backends[0].host"),
        (
            "/backends/0/host",
            Some(json!("user@a.b")),
            "backends[0].host",
        ),
        (
            "/backends/0/headers",
            Some(json!({"bad header": "x"})),
            "backends[0].headers.bad header",
        ),
        (
            "/backends/0/headers",
            Some(json!({"Mcp-Session-Id": "x"})),
            "backends[0].headers.Mcp-Session-Id",
        ),
        (
            "/backends/0/headers",
            Some(json!({"host": "x"})),
            "backends[0].headers.host",
        ),
        (
            "/backends/0/headers",
            Some(json!({"x-key": "a\r\nb"})),
            "backends[0].headers.x-key",
        ),
        (
            "/backends/0/headers",
            Some(json!({"x-key": 1})),
            "backends[0].headers.x-key",
        ),
        (
            "/backends/0/failureMode",
            Some(json!("sometimes")),
            "backends[0].failureMode",
        ),
        ("/backends/0/bogus", Some(json!(1)), "backends[0].bogus"),
        ("/failureMode", Some(json!("open")), "failureMode"),
        ("/naming/separator", Some(json!("")), "naming.separator"),
        ("/naming/separator", Some(json!(" ")), "naming.separator"),
        ("/naming/separator", Some(json!("::")), "naming.separator"),
        (
            "/naming/separator",
            Some(json!("_________")),
            "naming.separator",
        ),
        ("/naming/prefix", Some(json!("sometimes")), "naming.prefix"),
        ("/naming/bogus", Some(json!(true)), "naming.bogus"),
        ("/session", None, "session"),
        ("/session/keys", Some(json!([])), "session.keys"),
        ("/session/keys", None, "session.keys"),
        (
            "/session/keys",
            Some(json!((0..17).map(key_text).collect::<Vec<_>>())),
            "session.keys",
        ),
        (
            "/session/keys/1",
            Some(json!("not base64!")),
            "session.keys[1]",
        ),
        (
            "/session/keys/1",
            Some(json!(STANDARD.encode([1u8; 16]))),
            "session.keys[1]",
        ),
        (
            "/session/keys/1",
            Some(json!(key_text(2))),
            "session.keys[1]",
        ),
        ("/session/ttlSeconds", Some(json!(0)), "session.ttlSeconds"),
        ("/session/ttlSeconds", Some(json!(-5)), "session.ttlSeconds"),
        (
            "/session/ttlSeconds",
            Some(json!(400 * 86_400)),
            "session.ttlSeconds",
        ),
        (
            "/allowedOrigins",
            Some(json!(["https://ok.example", "https://a.example/"])),
            "allowedOrigins[1]",
        ),
        (
            "/allowedOrigins",
            Some(json!(["a.example"])),
            "allowedOrigins[0]",
        ),
        (
            "/allowedOrigins",
            Some(json!(["null"])),
            "allowedOrigins[0]",
        ),
        ("/allowedOrigins", Some(json!("*")), "allowedOrigins"),
        ("/maxRequestBytes", Some(json!(0)), "maxRequestBytes"),
        (
            "/maxRequestBytes",
            Some(json!(1u64 << 40)),
            "maxRequestBytes",
        ),
        ("/maxResponseBytes", Some(json!(10)), "maxResponseBytes"),
        ("/timeoutMs", Some(json!(0)), "timeoutMs"),
        ("/timeoutMs", Some(json!(300_001)), "timeoutMs"),
        ("/listenBackend", Some(json!("nope")), "listenBackend"),
        ("/protocolVersions", Some(json!([])), "protocolVersions"),
        (
            "/protocolVersions",
            Some(json!(["2025-11-25", "2024-11-05"])),
            "protocolVersions[1]",
        ),
        ("/bogus", Some(json!(1)), "bogus"),
    ];
    for (pointer, value, expected) in cases {
        let config = edited(base(), pointer, value.clone());
        match parse(&config) {
            Err(ConfigError::Invalid { field, message }) => {
                assert_eq!(field, expected, "{pointer} = {value:?}: {message}");
                assert!(!message.is_empty());
            }
            other => panic!("{pointer} = {value:?}: expected an error, got {other:?}"),
        }
    }
}

#[test]
fn syntax_errors_give_the_position() {
    match Settings::from_json("{\"backends\": [") {
        Err(ConfigError::Invalid { field, .. }) => assert!(field.starts_with("line 1")),
        other => panic!("{other:?}"),
    }
}

#[test]
fn origins_without_a_list_trust_only_requests_without_origin() {
    let settings = parse(&minimal()).unwrap();
    assert!(settings.origins.allows(None));
    assert!(!settings.origins.allows(Some("https://evil.example")));
    assert!(!settings.origins.allows(Some("null")));
}

#[test]
fn listed_origins_match_case_insensitively_and_exactly() {
    let settings = parse(&full()).unwrap();
    assert!(settings.origins.allows(None));
    assert!(settings.origins.allows(Some("https://app.example.com")));
    assert!(settings.origins.allows(Some("HTTPS://APP.EXAMPLE.COM")));
    assert!(settings.origins.allows(Some("http://localhost:6274")));
    assert!(!settings.origins.allows(Some("http://localhost:6275")));
    assert!(!settings.origins.allows(Some("http://app.example.com")));
    assert!(!settings
        .origins
        .allows(Some("https://app.example.com.evil")));
}

#[test]
fn a_star_trusts_every_origin() {
    let config = edited(minimal(), "/allowedOrigins", Some(json!(["*"])));
    let settings = parse(&config).unwrap();
    assert!(settings.origins.allows(Some("https://anything.example")));
}

#[test]
fn the_first_key_seals_and_the_second_still_opens() {
    let settings = parse(&full()).unwrap();
    let payload = SessionPayload {
        protocol_version: "2025-11-25".to_string(),
        client_capabilities: json!({}),
        client_info: json!({"name": "t", "version": "1"}),
        upstream_sessions: BTreeMap::new(),
        backend_versions: Default::default(),
        issued_at: 1_800_000_000,
    };
    let token = settings.sealer.seal(&payload, [3; 12]).unwrap();
    assert_eq!(
        settings.sealer.open(&token, 1_800_000_001).unwrap(),
        payload
    );
    // A replica configured with only the old key (key 1) did not seal this token...
    let old = parse(&edited(full(), "/session/keys", Some(json!([key_text(1)])))).unwrap();
    assert!(old.sealer.open(&token, 1_800_000_001).is_err());
    // ...but its tokens open on the rotated config, where key 1 is second.
    let old_token = old.sealer.seal(&payload, [4; 12]).unwrap();
    assert!(settings.sealer.open(&old_token, 1_800_000_001).is_ok());
}

#[test]
fn settings_debug_shows_neither_keys_nor_header_values() {
    let shown = format!("{:?}", parse(&full()).unwrap());
    assert!(!shown.contains(&key_text(1)) && !shown.contains(&key_text(2)));
    assert!(
        shown.contains("x-api-key") && !shown.contains("secret"),
        "{shown}"
    );
}
