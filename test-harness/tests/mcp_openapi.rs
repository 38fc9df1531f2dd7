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
use support::metric;

per_flavour!(
    the_sdk_client_calls_a_rest_api_over_https_as_tools,
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
