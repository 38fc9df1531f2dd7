//! The MCP Inspector's CLIs (v2 `--cli` and the older inspector-cli) against the `mcp` gateway in
//! front of server-everything and a Python backend, once per flavour: each lists the merged,
//! prefixed tools and calls one.

mod support;

use ai_gateway_test_harness::{Flavour, InspectorCli, McpBackendKind};

use support::mcp::Gateway;

per_flavour!(
    the_inspector_v2_cli_lists_and_calls,
    the_inspector_v1_cli_lists_and_calls,
);

async fn lists_and_calls(flavour: Flavour, cli: InspectorCli) {
    let gateway = Gateway::start(
        flavour,
        &[McpBackendKind::Everything, McpBackendKind::PythonSession],
    )
    .await;
    let url = gateway.url();
    let listed = cli.run(&url, &["--method", "tools/list"]).await.unwrap();
    assert!(listed.success, "{cli:?} tools/list:\n{}", listed.output);
    for tool in ["everything_echo", "session_echo", "session_add"] {
        assert!(
            listed.output.contains(&format!("\"{tool}\"")),
            "{cli:?} does not list {tool}:\n{}",
            listed.output
        );
    }
    let called = cli
        .run(
            &url,
            &[
                "--method",
                "tools/call",
                "--tool-name",
                "everything_echo",
                "--tool-arg",
                "message=through the gateway",
            ],
        )
        .await
        .unwrap();
    assert!(called.success, "{cli:?} tools/call:\n{}", called.output);
    assert!(
        called.output.contains("Echo: through the gateway"),
        "{cli:?}:\n{}",
        called.output
    );
}

async fn the_inspector_v2_cli_lists_and_calls(flavour: Flavour) {
    lists_and_calls(flavour, InspectorCli::V2).await;
}

async fn the_inspector_v1_cli_lists_and_calls(flavour: Flavour) {
    lists_and_calls(flavour, InspectorCli::V1).await;
}
