//! The `mcp` gateway in front of the three real MCP servers (Python session-based, Python
//! stateless, npm server-everything), once per flavour: the official `mcp` SDK client suite
//! runs through it and finds every backend's tools, prompts and resources under prefixed
//! names; sessions are sealed tokens (a tampered one is 404); a killed backend is left out of
//! fan-out lists (failOpen).

mod support;

use ai_gateway_test_harness::{Flavour, McpBackendKind};
use serde_json::{json, Value};

use support::mcp::{name_of, sessions, Gateway, NEW_SESSION_KEY, SESSION_KEY};

per_flavour!(
    the_sdk_client_sees_one_server_in_legacy_mode,
    the_sdk_client_in_auto_mode_reaches_every_backend_bridging_server_everything,
    a_tampered_session_token_is_404,
    a_killed_backend_is_left_out_of_lists,
    a_session_opened_on_one_envoy_works_on_another_with_the_key,
    a_killed_fail_closed_backend_is_a_clear_error,
    rotated_keys_still_open_old_tokens_and_a_removed_key_is_404,
    backends_that_lost_their_sessions_are_recovered_transparently,
    a_routed_call_that_meets_a_lost_session_is_retried,
    a_bridged_session_server_everything_lost_is_rebuilt,
);

/// What the suite must find through the gateway for the backends of `kinds`.
fn expectations(kinds: &[McpBackendKind], protocol: Value) -> Value {
    let mut expect = json!({
        "tools": [], "prompts": [], "resources": [], "templates": [],
        "calls": [], "reads": [], "prompt_gets": [], "protocol": protocol,
    });
    let mut push = |key: &str, value: Value| expect[key].as_array_mut().unwrap().push(value);
    for kind in kinds {
        match kind {
            McpBackendKind::Everything => {
                push("tools", json!("everything_echo"));
                push("tools", json!("everything_get-sum"));
                push("prompts", json!("everything_args-prompt"));
                push(
                    "resources",
                    json!("everything+demo://resource/static/document/architecture.md"),
                );
                push(
                    "templates",
                    json!("everything+demo://resource/dynamic/text/{resourceId}"),
                );
                push(
                    "calls",
                    json!({ "tool": "everything_echo", "arguments": { "message": "hi" }, "text": "Echo: hi" }),
                );
                push(
                    "reads",
                    json!({ "uri": "everything+demo://resource/static/document/architecture.md", "text": "Architecture" }),
                );
                push(
                    "prompt_gets",
                    json!({ "name": "everything_args-prompt", "arguments": { "city": "Paris" }, "text": "What's weather in Paris?" }),
                );
            }
            python => {
                let mode = name_of(*python);
                let (prompt, arguments, text) = if *python == McpBackendKind::PythonSession {
                    (
                        "greeting",
                        json!({ "name": "Ada", "style": "formal" }),
                        "[session] Write a formal greeting for Ada.",
                    )
                } else {
                    (
                        "review",
                        json!({ "code": "fn main() {}" }),
                        "[stateless] Review this code:\nfn main() {}",
                    )
                };
                push("prompts", json!(format!("{mode}_{prompt}")));
                push(
                    "prompt_gets",
                    json!({ "name": format!("{mode}_{prompt}"), "arguments": arguments, "text": text }),
                );
                push("tools", json!(format!("{mode}_echo")));
                push("resources", json!(format!("{mode}+notes://{mode}/readme")));
                push(
                    "templates",
                    json!(format!("{mode}+notes://{mode}/topics/{{topic}}")),
                );
                push(
                    "calls",
                    json!({ "tool": format!("{mode}_echo"), "arguments": { "message": "hi" }, "text": format!("{mode}: hi") }),
                );
                push(
                    "reads",
                    json!({ "uri": format!("{mode}+notes://{mode}/topics/envoy"), "text": format!("{mode} notes on envoy") }),
                );
            }
        }
    }
    expect
}

async fn the_sdk_client_sees_one_server_in_legacy_mode(flavour: Flavour) {
    let gateway = Gateway::start(flavour, &McpBackendKind::ALL).await;
    let expect = expectations(&McpBackendKind::ALL, json!({ "legacy": "2025-11-25" }));
    gateway.client_suite("legacy", &expect).await;
}

/// 2026-07-28 through the gateway: the SDK's `auto` mode discovers the gateway and speaks the
/// stateless wire. server-everything speaks only 2025-11-25: the gateway learns that from its
/// 400 to the first 2026-07-28 probe and bridges, opening an upstream session by callout with
/// the client's `_meta` capabilities and info, then serving fan-out and routed requests on it.
async fn the_sdk_client_in_auto_mode_reaches_every_backend_bridging_server_everything(
    flavour: Flavour,
) {
    let gateway = Gateway::start(flavour, &McpBackendKind::ALL).await;
    let expect = expectations(&McpBackendKind::ALL, json!({ "auto": "2026-07-28" }));
    gateway.client_suite("auto", &expect).await;
    let bridged = sessions(&gateway.envoy, "upstream_bridged", "everything", 1.0).await;
    assert!(bridged >= 1.0, "{bridged} bridged sessions");
}

async fn a_tampered_session_token_is_404(flavour: Flavour) {
    let gateway = Gateway::start(flavour, &[McpBackendKind::PythonSession]).await;
    let token = gateway.initialize().await;
    assert!(gateway
        .tool_names(&token)
        .await
        .contains(&"session_echo".to_string()));
    let middle = token.len() / 2;
    let flipped = if &token[middle..=middle] == "A" {
        "B"
    } else {
        "A"
    };
    let tampered = format!("{}{flipped}{}", &token[..middle], &token[middle + 1..]);
    let (status, _, body) = gateway
        .post(
            &[("mcp-session-id", &tampered)],
            json!({"jsonrpc": "2.0", "id": 3, "method": "tools/list"}),
        )
        .await;
    assert_eq!(status, 404, "{body}");
}

async fn a_killed_backend_is_left_out_of_lists(flavour: Flavour) {
    let mut gateway = Gateway::start(flavour, &McpBackendKind::ALL).await;
    let token = gateway.initialize().await;
    let before = gateway.tool_names(&token).await;
    assert!(before.contains(&"session_echo".to_string()), "{before:?}");
    gateway.kill(McpBackendKind::PythonSession);
    let after = gateway.tool_names(&token).await;
    assert!(
        !after.iter().any(|n| n.starts_with("session_")),
        "{after:?}"
    );
    assert!(after.contains(&"stateless_echo".to_string()), "{after:?}");
    assert!(after.contains(&"everything_echo".to_string()), "{after:?}");
}

/// Sessions live in the token, not in a gateway process: a second Envoy with the same key
/// (another replica, or this one restarted) serves the session, and each backend still gets
/// its own upstream session (server-everything refuses requests without its session).
async fn a_session_opened_on_one_envoy_works_on_another_with_the_key(flavour: Flavour) {
    let gateway = Gateway::start(flavour, &McpBackendKind::ALL).await;
    let token = gateway.initialize().await;
    let second = gateway.replica(|_| {}).await;
    let tools = second.tool_names(&token).await;
    for expected in ["session_echo", "stateless_echo", "everything_echo"] {
        assert!(tools.contains(&expected.to_string()), "{tools:?}");
    }
    let call = json!({"jsonrpc": "2.0", "id": 4, "method": "tools/call",
                      "params": {"name": "everything_echo", "arguments": {"message": "replica"}}});
    let (status, body) = second.in_session(&token, call).await;
    assert_eq!(status, 200, "{body}");
    assert!(body.to_string().contains("Echo: replica"), "{body}");
}

async fn a_killed_fail_closed_backend_is_a_clear_error(flavour: Flavour) {
    let kinds = [
        McpBackendKind::PythonSession,
        McpBackendKind::PythonStateless,
    ];
    let mut gateway =
        Gateway::start_with(flavour, &kinds, json!({ "failureMode": "failClosed" })).await;
    let token = gateway.initialize().await;
    gateway.kill(McpBackendKind::PythonStateless);
    let (status, _, body) = gateway
        .post(
            &[
                ("mcp-session-id", &token),
                ("mcp-protocol-version", "2025-11-25"),
            ],
            json!({"jsonrpc": "2.0", "id": 5, "method": "tools/list"}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["error"]["code"], -32603, "{body}");
    let message = body["error"]["message"].as_str().unwrap_or_default();
    assert!(message.contains("backend stateless"), "{body}");
    assert_eq!(body["error"]["data"]["backends"][0]["name"], "stateless");
}

/// Keys rotate: a replica sealing with a new key still opens tokens of the old one while it
/// is listed second; once it is removed, those tokens are 404 (clients re-initialize).
async fn rotated_keys_still_open_old_tokens_and_a_removed_key_is_404(flavour: Flavour) {
    let gateway = Gateway::start(flavour, &[McpBackendKind::PythonSession]).await;
    let token = gateway.initialize().await;
    let rotated = gateway
        .replica(|config| config["session"]["keys"] = json!([NEW_SESSION_KEY, SESSION_KEY]))
        .await;
    let tools = rotated.tool_names(&token).await;
    assert!(tools.contains(&"session_echo".to_string()), "{tools:?}");
    let new_token = rotated.initialize().await;
    assert!(rotated
        .tool_names(&new_token)
        .await
        .contains(&"session_echo".to_string()));

    let retired = gateway
        .replica(|config| config["session"]["keys"] = json!([NEW_SESSION_KEY]))
        .await;
    let list = json!({"jsonrpc": "2.0", "id": 6, "method": "tools/list"});
    let (status, _, body) = retired
        .post(&[("mcp-session-id", &token)], list.clone())
        .await;
    assert_eq!(status, 404, "{body}");
    let (status, _, body) = retired.post(&[("mcp-session-id", &new_token)], list).await;
    assert_eq!(status, 200, "{body}");
}

/// An upstream that lost its sessions (restarted: the Python server then answers 404,
/// server-everything 400) is initialized again from the capabilities in the token and the
/// request retried, so the client keeps its session; later requests on this Envoy use the
/// replacement session (a routed call included).
async fn backends_that_lost_their_sessions_are_recovered_transparently(flavour: Flavour) {
    let mut gateway = Gateway::start(flavour, &McpBackendKind::ALL).await;
    let token = gateway.initialize().await;
    let before = gateway.tool_names(&token).await;
    gateway.restart_backend(McpBackendKind::PythonSession).await;
    gateway.restart_backend(McpBackendKind::Everything).await;
    let after = gateway.tool_names(&token).await;
    // server-everything adds tools once it got `notifications/initialized` (which the
    // recovery sends and this test's own handshake did not): compare what was there before.
    let lost: Vec<&String> = before.iter().filter(|n| !after.contains(n)).collect();
    assert!(lost.is_empty(), "{lost:?} lost\n{}", gateway.logs());
    for expected in ["session_echo", "everything_echo"] {
        assert!(after.contains(&expected.to_string()), "{after:?}");
    }
    let call = json!({"jsonrpc": "2.0", "id": 7, "method": "tools/call",
                      "params": {"name": "everything_echo", "arguments": {"message": "again"}}});
    let (status, body) = gateway.in_session(&token, call).await;
    assert_eq!(status, 200, "{body}");
    assert!(body.to_string().contains("Echo: again"), "{body}");
}

/// A routed call is the first request to meet a backend's lost session (404 from the Python
/// server, 400 from server-everything): the gateway initializes that backend again from the
/// token, retries the call by callout and answers with its result, same session.
async fn a_routed_call_that_meets_a_lost_session_is_retried(flavour: Flavour) {
    let mut gateway = Gateway::start(flavour, &McpBackendKind::ALL).await;
    let token = gateway.initialize().await;
    gateway.tool_names(&token).await;
    gateway.restart_backend(McpBackendKind::PythonSession).await;
    gateway.restart_backend(McpBackendKind::Everything).await;
    for (id, tool, text) in [
        (8, "session_echo", "session: lost"),
        (9, "everything_echo", "Echo: lost"),
    ] {
        let call = json!({"jsonrpc": "2.0", "id": id, "method": "tools/call",
                          "params": {"name": tool, "arguments": {"message": "lost"}}});
        let (status, body) = gateway.in_session(&token, call).await;
        assert_eq!(status, 200, "{tool}: {body}\n{}", gateway.logs());
        assert!(body.to_string().contains(text), "{tool}: {body}");
    }
}

/// A 2026-07-28 request as the SDK sends it (no session; capabilities and info in `_meta`).
async fn modern(gateway: &Gateway, id: u64, method: &str, params: Value) -> (u16, Value) {
    let mut params = params;
    params["_meta"] = json!({
        "io.modelcontextprotocol/protocolVersion": "2026-07-28",
        "io.modelcontextprotocol/clientCapabilities": {},
        "io.modelcontextprotocol/clientInfo": {"name": "e2e", "version": "1"},
    });
    let name = params["name"].as_str().map(str::to_string);
    let mut headers = vec![
        ("mcp-protocol-version", "2026-07-28"),
        ("mcp-method", method),
    ];
    if let Some(name) = &name {
        headers.push(("mcp-name", name));
    }
    let body = json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params});
    let (status, _, body) = gateway.post(&headers, body).await;
    (status, body)
}

/// A 2026-07-28 client's first request to server-everything is a routed call (no listing
/// taught the gateway it is session-based): its 400 does, and the call is bridged. The bridged
/// session is then lost (restart): the next call meets its 400, the gateway opens a new
/// bridged session and retries the call.
async fn a_bridged_session_server_everything_lost_is_rebuilt(flavour: Flavour) {
    let mut gateway = Gateway::start(flavour, &[McpBackendKind::Everything]).await;
    for (id, message) in [(1, "first"), (2, "bridged")] {
        if id == 2 {
            gateway.restart_backend(McpBackendKind::Everything).await;
        }
        let params = json!({"name": "everything_echo", "arguments": {"message": message}});
        let (status, called) = modern(&gateway, id, "tools/call", params).await;
        assert_eq!(status, 200, "{called}\n{}", gateway.logs());
        assert_eq!(called["result"]["resultType"], "complete", "{called}");
        assert!(
            called.to_string().contains(&format!("Echo: {message}")),
            "{called}"
        );
    }
    let bridged = sessions(&gateway.envoy, "upstream_bridged", "everything", 2.0).await;
    assert_eq!(bridged, 2.0);
}
