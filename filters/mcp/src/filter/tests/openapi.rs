//! OpenAPI backends next to an MCP backend: listed without a callout, called by callout to the
//! API, answered locally as `CallToolResult`s.

use super::*;
use ai_gateway_core::{CalloutFailure, CalloutId, CalloutResponse};

const PETSTORE: &str = include_str!("../../../testdata/openapi/petstore.yaml");

fn gateway() -> McpFilter {
    let config = json!({
        "backends": [
            {"name": "a", "cluster": "mcp_a"},
            {"name": "pets", "type": "openapi", "cluster": "petstore", "host": "pets.test",
             "spec": PETSTORE, "headers": {"x-api-key": "secret"}}
        ],
        "session": {"keys": [STANDARD.encode([7u8; 32])]},
        "timeoutMs": 1500
    });
    McpFilter::new(
        Arc::new(Settings::from_json(&config.to_string()).unwrap()),
        Arc::new(ListingCache::default()),
        Arc::new(RecoveredSessions::default()),
    )
}

fn call_with(name: &str, arguments: Value) -> String {
    json!({"jsonrpc": "2.0", "id": 7, "method": "tools/call",
           "params": {"name": name, "arguments": arguments}})
    .to_string()
}

fn api_answer(status: u16, body: Value) -> CalloutResult {
    Ok(CalloutResponse {
        status,
        headers: vec![("content-type".into(), "application/json".into())],
        body: body.to_string().into_bytes(),
    })
}

fn header<'a>(request: &'a ai_gateway_core::CalloutRequest, name: &str) -> Option<&'a str> {
    fan_out::header(request, name)
}

#[test]
fn tools_list_merges_the_api_operations_without_calling_the_api() {
    let mut filter = gateway();
    let mut host = post(&[]);
    let list = r#"{"jsonrpc":"2.0","id":5,"method":"tools/list"}"#;
    assert_eq!(send(&mut filter, &mut host, list), Action::Pause);
    assert_eq!(host.callouts.len(), 1, "only the MCP backend is asked");
    assert_eq!(host.callouts[0].cluster, "mcp_a");
    let answer = json!({"jsonrpc": "2.0", "id": 5,
                        "result": {"tools": [{"name": "echo", "inputSchema": {}}]}});
    filter.on_callout_done(&mut host, CalloutId(1), api_answer(200, answer));
    let (status, body) = reply_json(&host);
    assert_eq!(status, 200);
    let tools = body["result"]["tools"].as_array().unwrap();
    let names: Vec<&str> = tools.iter().map(|t| t["name"].as_str().unwrap()).collect();
    assert_eq!(
        names,
        [
            "a_echo",
            "pets_listPets",
            "pets_createPets",
            "pets_showPetById",
            "pets_deletePet"
        ]
    );
    assert_eq!(tools[3]["annotations"]["readOnlyHint"], true);
    assert!(tools[3]["outputSchema"]["properties"]["id"].is_object());
}

#[test]
fn initialize_offers_tools_for_an_api_alone() {
    let config = json!({
        "backends": [{"name": "pets", "type": "openapi", "cluster": "petstore", "spec": PETSTORE}],
        "session": {"keys": [STANDARD.encode([7u8; 32])]}
    });
    let mut filter = McpFilter::new(
        Arc::new(Settings::from_json(&config.to_string()).unwrap()),
        Arc::new(ListingCache::default()),
        Arc::new(RecoveredSessions::default()),
    );
    let mut host = post(&[]);
    let init = json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
        "protocolVersion": "2025-06-18", "capabilities": {},
        "clientInfo": {"name": "t", "version": "1"}}});
    send(&mut filter, &mut host, &init.to_string());
    assert!(host.callouts.is_empty());
    let (status, body) = reply_json(&host);
    assert_eq!(status, 200);
    assert_eq!(body["result"]["protocolVersion"], "2025-06-18");
    assert_eq!(body["result"]["capabilities"], json!({"tools": {}}));
    assert!(body["result"]["instructions"]
        .as_str()
        .unwrap()
        .contains("A sample API that uses a petstore as an example."));
    let reply = host.local_reply.as_ref().unwrap();
    assert!(reply.headers.iter().any(|(n, _)| n == "mcp-session-id"));
}

#[test]
fn a_tool_call_becomes_a_request_to_the_api() {
    let mut filter = gateway();
    let mut host = post(&[]);
    let body = call_with("pets_listPets", json!({"limit": 2, "tags": ["dog", "cat"]}));
    assert_eq!(send(&mut filter, &mut host, &body), Action::Pause);
    let sent = &host.callouts[0];
    assert_eq!(sent.cluster, "petstore");
    assert_eq!(sent.timeout_ms, 1500);
    assert_eq!(header(sent, ":method"), Some("GET"));
    assert_eq!(header(sent, ":path"), Some("/v1/pets?limit=2&tags=dog,cat"));
    assert_eq!(header(sent, ":authority"), Some("pets.test"));
    assert_eq!(header(sent, "x-api-key"), Some("secret"));
    assert!(host.route_cache_cleared == 0 && host.local_reply.is_none());

    let pets = json!([{"id": 1, "name": "Rex", "tag": null}]);
    filter.on_callout_done(&mut host, CalloutId(1), api_answer(200, pets.clone()));
    let (status, body) = reply_json(&host);
    assert_eq!(status, 200);
    assert_eq!(body["id"], 7);
    assert_eq!(body["result"]["structuredContent"], json!({"result": pets}));
    assert_eq!(body["result"]["isError"], false);
    assert!(
        body["result"].get("resultType").is_none(),
        "session-era result"
    );
    filter.on_stream_done(&mut host);
    let outcomes: Vec<&Vec<String>> = host.counters.keys().map(|(_, tags)| tags).collect();
    assert!(
        outcomes
            .iter()
            .any(|t| t[0] == "tools/call" && t[1] == "pets" && t[3] == "2xx"),
        "{outcomes:?}"
    );
}

#[test]
fn json_bodies_and_2026_clients() {
    let mut filter = gateway();
    let mut host = post(&[
        ("mcp-protocol-version", "2026-07-28"),
        ("mcp-method", "tools/call"),
        ("mcp-name", "pets_createPets"),
    ]);
    let body = call_with("pets_createPets", json!({"body": {"name": "Rex"}}));
    send(&mut filter, &mut host, &body);
    let sent = &host.callouts[0];
    assert_eq!(header(sent, ":method"), Some("POST"));
    assert_eq!(header(sent, ":path"), Some("/v1/pets"));
    assert_eq!(header(sent, "content-type"), Some("application/json"));
    assert_eq!(sent.body, br#"{"name":"Rex"}"#);
    filter.on_callout_done(
        &mut host,
        CalloutId(1),
        api_answer(201, json!({"id": 9, "name": "Rex"})),
    );
    let (_, body) = reply_json(&host);
    assert_eq!(body["result"]["resultType"], "complete");
    assert_eq!(
        body["result"]["structuredContent"],
        json!({"id": 9, "name": "Rex"})
    );
}

#[test]
fn api_errors_timeouts_and_bad_arguments_are_tool_errors() {
    let mut filter = gateway();
    let mut host = post(&[]);
    send(
        &mut filter,
        &mut host,
        &call_with("pets_showPetById", json!({"petId": 404})),
    );
    assert_eq!(header(&host.callouts[0], ":path"), Some("/v1/pets/404"));
    filter.on_callout_done(
        &mut host,
        CalloutId(1),
        api_answer(404, json!({"detail": "Not Found"})),
    );
    let (_, body) = reply_json(&host);
    assert_eq!(body["result"]["isError"], true);
    assert_eq!(
        body["result"]["content"][0]["text"],
        "HTTP 404: {\"detail\":\"Not Found\"}"
    );
    filter.on_stream_done(&mut host);
    assert!(host
        .counters
        .keys()
        .any(|(_, t)| t[1] == "pets" && t[3] == "tool_error"));

    let mut filter = gateway();
    let mut host = post(&[]);
    send(
        &mut filter,
        &mut host,
        &call_with("pets_showPetById", json!({"petId": 1})),
    );
    filter.on_callout_done(&mut host, CalloutId(1), Err(CalloutFailure::Timeout));
    let (_, body) = reply_json(&host);
    assert_eq!(body["result"]["isError"], true);
    assert_eq!(
        body["result"]["content"][0]["text"],
        "GET /pets/{petId} did not answer within 1500 ms (timed out)"
    );

    let mut filter = gateway();
    let mut host = post(&[]);
    send(
        &mut filter,
        &mut host,
        &call_with("pets_showPetById", json!({})),
    );
    assert!(host.callouts.is_empty());
    let (_, body) = reply_json(&host);
    assert_eq!(body["result"]["isError"], true);
    assert_eq!(
        body["result"]["content"][0]["text"],
        "showPetById: missing required argument `petId`"
    );
}

#[test]
fn unknown_operations_and_non_tool_requests_are_unknown_targets() {
    for body in [
        call_with("pets_nope", json!({})),
        json!({"jsonrpc": "2.0", "id": 7, "method": "prompts/get",
               "params": {"name": "pets_listPets"}})
        .to_string(),
    ] {
        let mut filter = gateway();
        let mut host = post(&[]);
        send(&mut filter, &mut host, &body);
        assert!(host.callouts.is_empty());
        let (_, reply) = reply_json(&host);
        assert_eq!(reply["error"]["code"], -32602, "{reply}");
    }
}

#[test]
fn configured_headers_win_over_header_parameters() {
    let spec = json!({"openapi": "3.1.0", "info": {"title": "t", "version": "1"},
        "paths": {"/me": {"get": {"operationId": "me", "parameters": [
            {"name": "X-Api-Key", "in": "header", "schema": {"type": "string"}},
            {"name": "X-Trace", "in": "header", "schema": {"type": "string"}}]}}}});
    let config = json!({
        "backends": [{"name": "api", "type": "openapi", "cluster": "api", "spec": spec,
                      "headers": {"x-api-key": "configured"}}],
        "session": {"keys": [STANDARD.encode([7u8; 32])]}
    });
    let mut filter = McpFilter::new(
        Arc::new(Settings::from_json(&config.to_string()).unwrap()),
        Arc::new(ListingCache::default()),
        Arc::new(RecoveredSessions::default()),
    );
    let mut host = post(&[]);
    let body = call_with(
        "api_me",
        json!({"X-Api-Key": "from-client", "X-Trace": "t1"}),
    );
    send(&mut filter, &mut host, &body);
    let sent = &host.callouts[0];
    let keys: Vec<&str> = sent
        .headers
        .iter()
        .filter(|(n, _)| n == "x-api-key")
        .map(|(_, v)| v.as_str())
        .collect();
    assert_eq!(keys, ["configured"]);
    assert_eq!(header(sent, "x-trace"), Some("t1"));
}
