//! OpenAPI → MCP (issue 7), once per flavour: a real REST API (FastAPI, `clients/rest_api.py`)
//! served over HTTPS with a CA made for the run is an `openapi` backend of the mcp filter, from
//! the OpenAPI document it generates itself, next to a native MCP server. The official `mcp` SDK
//! client lists the API's operations as tools and calls them (GET with path and query
//! parameters, JSON, form and multipart POSTs, a 404), checking `structuredContent` against the
//! advertised `outputSchema`; the calls are counted per tool and outcome. Envoy refuses a
//! document that cannot be served, naming the field.

mod support;

use ai_gateway_test_harness::{
    pytest, Bootstrap, Envoy, Flavour, McpBackend, McpBackendKind, McpBackendRoute, RestApi,
    MCP_ENDPOINT_PATH, REST_API_HOST,
};
use serde_json::{json, Value};

use support::mcp::SESSION_KEY;
use support::{mcp_post, metric};

/// A petstore-like OpenAPI 3.0 document in YAML (the mcp crate's golden-test fixture).
const PETSTORE_YAML: &str = include_str!("../../filters/mcp/testdata/openapi/petstore.yaml");

per_flavour!(
    the_sdk_client_calls_a_rest_api_over_https_as_tools,
    a_yaml_spec_is_served_and_an_unreachable_api_is_a_tool_error,
    a_spec_that_cannot_be_served_is_refused_naming_the_field,
);

/// The API backend's name: its tools' prefix and metric tag.
const API: &str = "clinic";
/// Its Envoy cluster (TLS to the API).
const API_CLUSTER: &str = "rest_clinic";

fn config(native: &McpBackend, spec: Value) -> Value {
    json!({
        "backends": [
            {"name": "session", "cluster": McpBackendRoute::new("session", native.addr()).cluster(),
             "path": native.path(), "host": native.addr().to_string()},
            {"name": API, "type": "openapi", "cluster": API_CLUSTER, "host": REST_API_HOST,
             "spec": spec, "headers": {"x-api-key": "test-key"}}
        ],
        "session": {"keys": [SESSION_KEY]},
        "timeoutMs": 5000
    })
}

async fn the_sdk_client_calls_a_rest_api_over_https_as_tools(flavour: Flavour) {
    let api = RestApi::start()
        .await
        .expect("the REST API starts (run scripts/setup)");
    let native = McpBackend::start(McpBackendKind::PythonSession)
        .await
        .expect("the MCP backend starts");
    let bootstrap = Bootstrap::new(Some(flavour))
        .mcp_backend(McpBackendRoute {
            path: native.path().to_string(),
            ..McpBackendRoute::new("session", native.addr())
        })
        .tls_cluster(api.cluster(API_CLUSTER))
        .filter("mcp", config(&native, api.spec().clone()));
    let envoy = Envoy::start(&bootstrap)
        .await
        .expect("Envoy starts with the openapi backend");
    let url = format!("{}{MCP_ENDPOINT_PATH}", envoy.gateway_url());
    let run = pytest(
        "test_mcp_openapi.py",
        &[
            ("MCP_URL", url.as_str()),
            ("MCP_API_PREFIX", API),
            ("MCP_NATIVE_TOOL", "session_echo"),
        ],
    )
    .await
    .unwrap();
    assert!(
        run.passed,
        "client suite failed:\n{}\n--- envoy\n{}\n--- api\n{}",
        run.output,
        envoy.log(),
        api.log()
    );
    // 7 tests in 2 modes, none skipped.
    assert!(run.output.contains("14 passed"), "{}", run.output);
    // Both modes: getPet twice (one 404 among them per mode) and each POST once.
    let counted = |tool: &'static str, outcome: &'static str, want: f64| {
        let labels = [
            ("method", "tools/call"),
            ("backend", API),
            ("tool", tool),
            ("outcome", outcome),
        ];
        let envoy = &envoy;
        async move { metric(envoy, "mcp_requests_total", &labels, want).await }
    };
    assert_eq!(counted("clinic_getPet", "2xx", 2.0).await, 2.0);
    assert_eq!(counted("clinic_getPet", "tool_error", 2.0).await, 2.0);
    assert_eq!(counted("clinic_addNote", "2xx", 2.0).await, 2.0);
    assert_eq!(counted("clinic_describePhoto", "2xx", 2.0).await, 2.0);
}

async fn a_yaml_spec_is_served_and_an_unreachable_api_is_a_tool_error(flavour: Flavour) {
    let native = McpBackend::start(McpBackendKind::PythonStateless)
        .await
        .expect("the MCP backend starts");
    // No cluster is configured for the API: its calls cannot be made.
    let bootstrap = Bootstrap::new(Some(flavour))
        .mcp_backend(McpBackendRoute::new("session", native.addr()))
        .filter("mcp", config(&native, json!(PETSTORE_YAML)));
    let envoy = Envoy::start(&bootstrap)
        .await
        .expect("Envoy starts with a YAML spec");
    let url = format!("{}{MCP_ENDPOINT_PATH}", envoy.gateway_url());
    let init = json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
        "protocolVersion": "2025-11-25", "capabilities": {},
        "clientInfo": {"name": "e2e", "version": "1"}}});
    let (status, headers, body) = mcp_post(&url, &[], init.to_string()).await;
    assert_eq!(status, 200, "{body}");
    assert!(
        body["result"]["instructions"]
            .as_str()
            .is_some_and(|text| text.contains("A sample API that uses a petstore")),
        "{body}"
    );
    let token = headers["mcp-session-id"].to_str().unwrap().to_string();
    let session = [
        ("mcp-session-id", token.as_str()),
        ("mcp-protocol-version", "2025-11-25"),
    ];
    let list = json!({"jsonrpc": "2.0", "id": 2, "method": "tools/list"});
    let (status, _, body) = mcp_post(&url, &session, list.to_string()).await;
    assert_eq!(status, 200, "{body}");
    let names: Vec<&str> = body["result"]["tools"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|t| t["name"].as_str())
        .collect();
    for expected in [
        "session_echo",
        "clinic_listPets",
        "clinic_createPets",
        "clinic_showPetById",
        "clinic_deletePet",
    ] {
        assert!(names.contains(&expected), "{expected} in {names:?}");
    }
    let call = json!({"jsonrpc": "2.0", "id": 3, "method": "tools/call",
        "params": {"name": "clinic_showPetById", "arguments": {"petId": 1}}});
    let (status, _, body) = mcp_post(&url, &session, call.to_string()).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["result"]["isError"], true, "{body}");
    let text = body["result"]["content"][0]["text"].as_str().unwrap();
    assert!(text.starts_with("GET /pets/{petId}"), "{text}");
}

async fn a_spec_that_cannot_be_served_is_refused_naming_the_field(flavour: Flavour) {
    let native = McpBackend::start(McpBackendKind::PythonStateless)
        .await
        .expect("the MCP backend starts");
    let broken = json!({"openapi": "3.1.0", "info": {"title": "t", "version": "1"},
        "paths": {"/a": {"get": {"operationId": "a", "responses": {"200": {"content": {
            "application/json": {"schema": {"$ref": "#/components/schemas/Gone"}}}}}}}}});
    let bootstrap = Bootstrap::new(Some(flavour))
        .mcp_backend(McpBackendRoute::new("session", native.addr()))
        .filter("mcp", config(&native, broken));
    let output = Envoy::expect_refusal(&bootstrap).await.unwrap();
    assert!(
        output.contains("invalid filter config")
            && output.contains("backends[1].spec")
            && output.contains("#/components/schemas/Gone"),
        "Envoy's output does not name the field and the reference:\n{output}"
    );
}
