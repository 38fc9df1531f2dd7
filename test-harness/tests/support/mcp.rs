//! The `mcp` gateway in front of real MCP servers, for the MCP e2e suites: starts the backends
//! and one Envoy with the mcp filter, and speaks the session-based wire to it.

use ai_gateway_test_harness::{
    mcp_config, pytest, Bootstrap, Envoy, Flavour, McpBackend, McpBackendKind, McpBackendRoute,
    MCP_ENDPOINT_PATH,
};
use serde_json::{json, Value};

use super::{mcp_post, metric};

/// `mcp_sessions_total{event, reason}`, polled until it is `want` (metrics may be applied a
/// little after the request finished); 0 when the series does not exist.
pub async fn sessions(envoy: &Envoy, event: &str, reason: &str, want: f64) -> f64 {
    let labels = [("event", event), ("reason", reason)];
    metric(envoy, "mcp_sessions_total", &labels, want).await
}

/// A session key for the config (base64 of the bytes 1..=32).
pub const SESSION_KEY: &str = "AQIDBAUGBwgJCgsMDQ4PEBESExQVFhcYGRobHB0eHyA=";
/// The key that replaces it in the rotation test (base64 of 32 bytes 0x42).
pub const NEW_SESSION_KEY: &str = "QkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQkI=";

/// Backend names, which are the prefixes the client sees.
pub fn name_of(kind: McpBackendKind) -> &'static str {
    match kind {
        McpBackendKind::PythonSession => "session",
        McpBackendKind::PythonStateless => "stateless",
        McpBackendKind::Everything => "everything",
    }
}

/// The backends of `kinds` and Envoy with the mcp filter in front of them.
pub struct Gateway {
    /// The running MCP servers, in the order of `kinds`.
    pub backends: Vec<McpBackend>,
    /// Envoy with the mcp filter.
    pub envoy: Envoy,
    /// What `envoy` runs, to start another replica.
    pub bootstrap: Bootstrap,
}

impl Gateway {
    /// The backends of `kinds` behind a fresh Envoy (default config, failOpen).
    pub async fn start(flavour: Flavour, kinds: &[McpBackendKind]) -> Gateway {
        Gateway::start_with(flavour, kinds, json!({})).await
    }

    /// With top-level config fields `extra` added.
    pub async fn start_with(flavour: Flavour, kinds: &[McpBackendKind], extra: Value) -> Gateway {
        let mut backends = Vec::new();
        for kind in kinds {
            backends.push(
                McpBackend::start(*kind)
                    .await
                    .expect("the MCP backend starts (run scripts/setup)"),
            );
        }
        let routes: Vec<McpBackendRoute> = backends
            .iter()
            .map(|b| McpBackendRoute {
                path: b.path().to_string(),
                ..McpBackendRoute::new(name_of(b.kind()), b.addr())
            })
            .collect();
        let mut config = mcp_config(&routes, SESSION_KEY);
        for (backend, entry) in backends
            .iter()
            .zip(config["backends"].as_array_mut().unwrap())
        {
            entry["host"] = json!(backend.addr().to_string());
        }
        config["timeoutMs"] = json!(5000);
        if let (Some(config), Value::Object(extra)) = (config.as_object_mut(), extra) {
            config.extend(extra);
        }
        let bootstrap = routes
            .into_iter()
            .fold(Bootstrap::new(Some(flavour)), Bootstrap::mcp_backend)
            .filter("mcp", config);
        let envoy = Envoy::start(&bootstrap)
            .await
            .expect("Envoy starts with the mcp filter");
        Gateway {
            backends,
            envoy,
            bootstrap,
        }
    }

    /// The gateway's MCP endpoint.
    pub fn url(&self) -> String {
        format!("{}{MCP_ENDPOINT_PATH}", self.envoy.gateway_url())
    }

    /// Restarts the backend of `kind` on its port: it forgets every session it issued.
    pub async fn restart_backend(&mut self, kind: McpBackendKind) {
        let at = self.backends.iter().position(|b| b.kind() == kind).unwrap();
        let old = self.backends.remove(at);
        let fresh = old.restart().await.expect("the backend restarts");
        self.backends.insert(at, fresh);
    }

    /// Restarts Envoy on the same address with the same bootstrap (same key, same backends): a
    /// gateway restart as clients see it.
    pub async fn restart_envoy(self) -> Gateway {
        let Gateway {
            backends,
            envoy,
            bootstrap,
        } = self;
        let envoy = envoy
            .restart(&bootstrap)
            .await
            .expect("Envoy starts again on the same address");
        Gateway {
            backends,
            envoy,
            bootstrap,
        }
    }

    /// Kills the backend of `kind` (dropping it ends its process).
    pub fn kill(&mut self, kind: McpBackendKind) {
        let at = self.backends.iter().position(|b| b.kind() == kind).unwrap();
        drop(self.backends.remove(at));
    }

    /// Every backend's output so far.
    pub fn logs(&self) -> String {
        self.backends
            .iter()
            .map(|b| format!("--- {:?}\n{}", b.kind(), b.log()))
            .collect()
    }

    /// Runs the client suite in `modes` expecting `expect`.
    pub async fn client_suite(&self, modes: &str, expect: &Value) {
        let url = self.url();
        let expect = expect.to_string();
        let run = pytest(
            "test_mcp_client.py",
            &[
                ("MCP_URL", &url),
                ("MCP_EXPECT", &expect),
                ("MCP_MODES", modes),
            ],
        )
        .await
        .unwrap();
        assert!(
            run.passed,
            "mcp client suite ({modes}) through the gateway failed:\n{}\nbackends:\n{}",
            run.output,
            self.logs()
        );
    }

    /// `POST /mcp` with `body` and extra `headers`: status, headers and body.
    pub async fn post(
        &self,
        headers: &[(&str, &str)],
        body: Value,
    ) -> (u16, reqwest::header::HeaderMap, Value) {
        mcp_post(&self.url(), headers, body.to_string()).await
    }

    /// A legacy `initialize`: the gateway's session token.
    pub async fn initialize(&self) -> String {
        let (status, headers, body) = self
            .post(
                &[],
                json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
                    "protocolVersion": "2025-11-25", "capabilities": {},
                    "clientInfo": {"name": "e2e", "version": "1"}}}),
            )
            .await;
        assert_eq!(status, 200, "{body}\n{}", self.logs());
        headers
            .get("mcp-session-id")
            .and_then(|v| v.to_str().ok())
            .expect("initialize returns the gateway's session token")
            .to_string()
    }

    /// Another Envoy in front of the same backends, its mcp config changed by `edit`.
    pub async fn replica(&self, edit: impl Fn(&mut Value)) -> Gateway {
        let mut bootstrap = self.bootstrap.clone();
        for filter in &mut bootstrap.filters {
            if filter.name == "mcp" {
                edit(&mut filter.config);
            }
        }
        let envoy = Envoy::start(&bootstrap)
            .await
            .expect("a second Envoy starts");
        Gateway {
            backends: Vec::new(),
            envoy,
            bootstrap,
        }
    }

    /// A session-era request on the gateway session `token`: status and JSON body.
    pub async fn in_session(&self, token: &str, request: Value) -> (u16, Value) {
        let headers = [
            ("mcp-session-id", token),
            ("mcp-protocol-version", "2025-11-25"),
        ];
        let (status, _, body) = self.post(&headers, request).await;
        (status, body)
    }

    /// The names `tools/list` shows on the gateway session `token` (asserts a 200 list).
    pub async fn tool_names(&self, token: &str) -> Vec<String> {
        let (status, body) = self
            .in_session(
                token,
                json!({"jsonrpc": "2.0", "id": 2, "method": "tools/list"}),
            )
            .await;
        assert_eq!(status, 200, "{body}");
        body["result"]["tools"]
            .as_array()
            .unwrap_or_else(|| panic!("a tool list: {body}"))
            .iter()
            .filter_map(|t| t["name"].as_str().map(str::to_string))
            .collect()
    }
}
