//! `initialize` and `server/discover` merging.

use super::*;

fn init(version: &str, capabilities: Value, instructions: Option<&str>) -> Value {
    let mut result = json!({
        "protocolVersion": version,
        "capabilities": capabilities,
        "serverInfo": {"name": "upstream", "version": "9"}
    });
    if let Some(text) = instructions {
        result["instructions"] = json!(text);
    }
    result
}

fn initialize(
    requested: &str,
    replies: &[BackendReply<'_>],
) -> Result<Merged<Initialized>, FanOutError> {
    merge_initialize(
        &gateway(),
        &naming(PrefixMode::Always),
        requested,
        &SUPPORTED,
        replies,
    )
}

#[test]
fn capabilities_are_the_union_with_sub_flags_ored() {
    let cases = [
        (
            json!({"tools": {"listChanged": false}}),
            json!({"tools": {"listChanged": true}, "prompts": {}}),
            json!({"tools": {"listChanged": true}, "prompts": {}}),
        ),
        (
            json!({"resources": {"subscribe": true}}),
            json!({"resources": {"listChanged": true}, "logging": {}}),
            json!({"resources": {"subscribe": true, "listChanged": true}, "logging": {}}),
        ),
        (
            json!({"completions": {}, "experimental": {"x": {}}, "tasks": {"list": {}}}),
            json!({"extensions": {"io.modelcontextprotocol/tasks": {}}}),
            json!({"completions": {}}),
        ),
        (json!({}), json!({}), json!({})),
    ];
    for (a, b, expected) in cases {
        let merged = initialize(
            "2025-11-25",
            &[
                ok("a", init("2025-11-25", a.clone(), None)),
                ok("b", init("2025-11-25", b.clone(), None)),
            ],
        )
        .unwrap();
        assert_eq!(merged.value.result["capabilities"], expected, "{a} + {b}");
    }
}

#[test]
fn initialize_answers_the_gateway_identity_and_the_negotiated_version() {
    let cases = [
        // Everyone agreed: the requested version.
        (&["2025-11-25", "2025-11-25"][..], "2025-11-25"),
        // One backend only speaks an older one: the oldest answered.
        (&["2025-11-25", "2025-03-26"][..], "2025-03-26"),
        // A version the gateway does not know is not offered to the client.
        (&["2025-11-25", "2099-01-01"][..], "2025-11-25"),
        (&["2099-01-01"][..], "2025-11-25"),
    ];
    for (answers, expected) in cases {
        let replies: Vec<BackendReply<'static>> = answers
            .iter()
            .zip(BACKENDS)
            .map(|(v, b)| ok(b, init(v, json!({}), None)))
            .collect();
        let merged = initialize("2025-11-25", &replies).unwrap();
        assert_eq!(merged.value.protocol_version, expected, "{answers:?}");
        assert_eq!(merged.value.result["protocolVersion"], expected);
        assert_eq!(
            merged.value.result["serverInfo"],
            json!({"name": "ai-gateway", "version": "1.0.0"})
        );
        assert_eq!(merged.value.backend_versions.len(), answers.len());
        assert_eq!(merged.value.backend_versions["a"], answers[0]);
    }
    // A requested version the gateway does not speak is never echoed back.
    let merged = initialize(
        "2099-01-01",
        &[ok("a", init("2025-06-18", json!({}), None))],
    );
    assert_eq!(merged.unwrap().value.protocol_version, "2025-06-18");
}

#[test]
fn instructions_name_each_backend_and_carry_their_own() {
    let merged = initialize(
        "2025-11-25",
        &[
            ok(
                "a",
                init("2025-11-25", json!({}), Some("Use a for weather.")),
            ),
            ok("b", init("2025-11-25", json!({}), None)),
            timeout("c", FailureMode::FailOpen),
        ],
    )
    .unwrap();
    let text = merged.value.result["instructions"].as_str().unwrap();
    assert!(text.contains("2 MCP server(s): a, b."), "{text}");
    assert!(text.contains("`<server>_<name>`"), "{text}");
    assert!(text.contains("## a\nUse a for weather."), "{text}");
    assert!(!text.contains("## b") && !text.contains("b, c"), "{text}");
    assert_eq!(merged.left_out.len(), 1);
}

#[test]
fn initialize_failures_follow_the_failure_modes() {
    let bad = json!({"capabilities": {}});
    let cases = [
        (
            vec![
                ok("a", init("2025-11-25", json!({}), None)),
                ok("b", bad.clone()),
            ],
            Ok(1),
        ),
        (
            vec![
                ok("a", init("2025-11-25", json!({}), None)),
                reply("b", FailureMode::FailClosed, Reply::Result(bad)),
            ],
            Err(1),
        ),
        (
            vec![reply(
                "a",
                FailureMode::FailOpen,
                Reply::Error(ErrorObject::new(-32601, "no")),
            )],
            Err(1),
        ),
    ];
    for (replies, expected) in cases {
        match (initialize("2025-11-25", &replies), expected) {
            (Ok(m), Ok(n)) => assert_eq!(m.left_out.len(), n),
            (Err(e), Err(n)) => {
                assert_eq!(e.failures().len(), n);
                assert!(e.to_string().starts_with("initialize failed on backend"));
            }
            (got, want) => panic!("got {got:?}, want {want:?}"),
        }
    }
}

#[test]
fn discover_merges_capabilities_under_the_gateway_versions() {
    let discovered = json!({
        "resultType": "complete",
        "supportedVersions": ["2026-07-28"],
        "capabilities": {"tools": {}},
        "instructions": "stateless one",
        "ttlMs": 1000,
        "cacheScope": "public"
    });
    let merged = merge_discover(
        &gateway(),
        &naming(PrefixMode::Conditional),
        &SUPPORTED,
        &[
            ok("a", discovered),
            ok(
                "b",
                init(
                    "2025-11-25",
                    json!({"prompts": {"listChanged": true}}),
                    None,
                ),
            ),
        ],
    )
    .unwrap();
    let result = merged.value;
    assert_eq!(result["supportedVersions"], json!(SUPPORTED));
    assert_eq!(
        result["capabilities"],
        json!({"tools": {}, "prompts": {"listChanged": true}})
    );
    assert_eq!(result["resultType"], "complete");
    assert_eq!(result["ttlMs"], 1000);
    assert_eq!(result["cacheScope"], "private");
    assert_eq!(
        result["_meta"]["io.modelcontextprotocol/serverInfo"]["name"],
        "ai-gateway"
    );
    let text = result["instructions"].as_str().unwrap();
    assert!(text.contains("several servers share") && text.contains("## a\nstateless one"));
    assert!(result.get("serverInfo").is_none());
}
