//! The `mcp` filter's metrics as Envoy's `/stats/prometheus` shows them, once per flavour: known
//! traffic through the gateway in front of the three real MCP servers (a session, routed calls
//! before and after a listing, an unknown tool, a tampered token, a killed backend under
//! failOpen, a backend that lost its sessions) gives exact counts per method, backend, tool and
//! outcome, latency histograms per method and backend, fan-out failures per backend and the
//! session events; both flavours render the same lines.

mod support;

use ai_gateway_test_harness::{Envoy, Flavour, McpBackendKind};
use serde_json::{json, Value};

use support::mcp::Gateway;
use support::metric;

per_flavour!(known_traffic_gives_exact_counts);

/// `mcp_requests_total{method, backend, tool, outcome}` after [`send_known_traffic`].
const REQUESTS: &[(&str, &str, &str, &str, f64)] = &[
    ("initialize", "none", "none", "2xx", 1.0),
    // Before any listing the gateway knows no tool names: the tag is bounded to `other`.
    ("tools/call", "session", "other", "2xx", 1.0),
    ("tools/call", "session", "session_echo", "2xx", 2.0),
    ("tools/call", "everything", "everything_echo", "2xx", 1.0),
    // A tool no backend has (its prefix names none): the gateway answers -32602 itself.
    ("tools/call", "none", "other", "jsonrpc_-32602", 1.0),
    ("tools/list", "none", "none", "2xx", 3.0),
    // The tampered token's 404.
    ("tools/list", "none", "none", "4xx", 1.0),
];

/// Sample counts of `mcp_request_duration_ms{method, backend}`.
const LATENCIES: &[(&str, &str, f64)] = &[
    ("initialize", "none", 1.0),
    ("tools/call", "session", 3.0),
    ("tools/call", "everything", 1.0),
    ("tools/call", "none", 1.0),
    ("tools/list", "none", 4.0),
];

/// `mcp_fanout_failures_total{method, backend}`: the killed backend, in two listings.
const FANOUT_FAILURES: &[(&str, &str, f64)] = &[("tools/list", "stateless", 2.0)];

/// `mcp_sessions_total{event, reason}`.
const SESSIONS: &[(&str, &str, f64)] = &[
    ("created", "none", 1.0),
    ("rejected", "tampered", 1.0),
    ("upstream_reinitialized", "session", 1.0),
];

fn call(id: u64, tool: &str) -> Value {
    json!({"jsonrpc": "2.0", "id": id, "method": "tools/call",
           "params": {"name": tool, "arguments": {"message": "metrics"}}})
}

/// `token` with one character in the middle changed.
fn tampered(token: &str) -> String {
    let middle = token.len() / 2;
    let flipped = if &token[middle..=middle] == "A" {
        "B"
    } else {
        "A"
    };
    format!("{}{flipped}{}", &token[..middle], &token[middle + 1..])
}

/// The traffic the tables above count, each answer checked so that a count cannot come from
/// a failure the test did not intend.
async fn send_known_traffic(gateway: &mut Gateway) {
    let token = gateway.initialize().await;
    for (id, tool, text) in [
        (2, "session_echo", "session: metrics"),
        (3, "session_echo", "session: metrics"),
        (4, "session_echo", "session: metrics"),
        (5, "everything_echo", "Echo: metrics"),
    ] {
        let (status, body) = gateway.in_session(&token, call(id, tool)).await;
        assert_eq!(status, 200, "{tool}: {body}");
        assert!(body.to_string().contains(text), "{tool}: {body}");
        if id == 2 {
            // From now on the gateway knows the listed names.
            gateway.tool_names(&token).await;
        }
    }
    let (status, body) = gateway.in_session(&token, call(6, "nobody_echo")).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["error"]["code"], -32602, "{body}");

    let list = json!({"jsonrpc": "2.0", "id": 7, "method": "tools/list"});
    let (status, body) = gateway.in_session(&tampered(&token), list).await;
    assert_eq!(status, 404, "{body}");

    gateway.kill(McpBackendKind::PythonStateless);
    let tools = gateway.tool_names(&token).await;
    assert!(
        !tools.iter().any(|t| t.starts_with("stateless_")),
        "{tools:?}"
    );
    gateway.restart_backend(McpBackendKind::PythonSession).await;
    let tools = gateway.tool_names(&token).await;
    assert!(tools.contains(&"session_echo".to_string()), "{tools:?}");
}

/// One expected series: what it is, its value (0 when absent) and the value it should have.
struct Check {
    series: String,
    got: f64,
    want: f64,
}

/// Polls `name{labels}` up to `want`.
async fn check(envoy: &Envoy, name: &str, labels: &[(&str, &str)], want: f64) -> Check {
    Check {
        series: format!("{name}{labels:?}"),
        got: metric(envoy, name, labels, want).await,
        want,
    }
}

/// Every series the tables above expect, each polled up to its count.
async fn expected_series(envoy: &Envoy) -> Vec<Check> {
    let mut checks = Vec::new();
    for &(method, backend, tool, outcome, want) in REQUESTS {
        let labels = [
            ("method", method),
            ("backend", backend),
            ("tool", tool),
            ("outcome", outcome),
        ];
        checks.push(check(envoy, "mcp_requests_total", &labels, want).await);
    }
    for &(method, backend, want) in LATENCIES {
        let labels = [("method", method), ("backend", backend)];
        checks.push(check(envoy, "mcp_request_duration_ms_count", &labels, want).await);
    }
    for &(method, backend, want) in FANOUT_FAILURES {
        let labels = [("method", method), ("backend", backend)];
        checks.push(check(envoy, "mcp_fanout_failures_total", &labels, want).await);
    }
    for &(event, reason, want) in SESSIONS {
        let labels = [("event", event), ("reason", reason)];
        checks.push(check(envoy, "mcp_sessions_total", &labels, want).await);
    }
    checks
}

/// Every expected count is there, and no series beyond them.
async fn assert_exact_counts(envoy: &Envoy, flavour: Flavour) {
    let checks = expected_series(envoy).await;
    let prometheus = envoy.prometheus().await.expect("admin answers");
    let shown: Vec<&str> = prometheus
        .with_prefix("mcp_")
        .map(|s| s.line.as_str())
        .collect();
    for c in &checks {
        assert_eq!(c.got, c.want, "{flavour}: {}\n{shown:#?}", c.series);
    }
    let series = |name: &str| prometheus.samples.iter().filter(|s| s.name == name).count();
    assert_eq!(series("mcp_requests_total"), REQUESTS.len(), "{shown:#?}");
    assert_eq!(
        series("mcp_request_duration_ms_count"),
        LATENCIES.len(),
        "{shown:#?}"
    );
    assert_eq!(
        series("mcp_fanout_failures_total"),
        FANOUT_FAILURES.len(),
        "{shown:#?}"
    );
    assert_eq!(series("mcp_sessions_total"), SESSIONS.len(), "{shown:#?}");
}

async fn known_traffic_gives_exact_counts(flavour: Flavour) {
    let mut gateway = Gateway::start(flavour, &McpBackendKind::ALL).await;
    send_known_traffic(&mut gateway).await;
    assert_exact_counts(&gateway.envoy, flavour).await;
}

/// Both flavours render the same `mcp_*` lines for the same traffic (histogram buckets and
/// sums, which hold timings, left out).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn both_flavours_render_the_same_metric_lines() {
    support::bounded(same_metric_lines_in_both_flavours()).await;
}

async fn same_metric_lines_in_both_flavours() {
    let mut rendered = Vec::new();
    for flavour in Flavour::ALL {
        let mut gateway = Gateway::start(flavour, &McpBackendKind::ALL).await;
        send_known_traffic(&mut gateway).await;
        expected_series(&gateway.envoy).await;
        let text = gateway.envoy.admin_get("/stats/prometheus").await.unwrap();
        let mut lines: Vec<String> = text
            .lines()
            .filter(|l| l.starts_with("mcp_") || l.starts_with("# TYPE mcp_"))
            .filter(|l| !l.contains("_bucket{") && !l.contains("_sum{"))
            .map(str::to_string)
            .collect();
        lines.sort();
        rendered.push(lines);
    }
    let expected_series = REQUESTS.len() + LATENCIES.len() + FANOUT_FAILURES.len() + SESSIONS.len();
    assert!(rendered[0].len() > expected_series, "{:#?}", rendered[0]);
    assert_eq!(
        rendered[0], rendered[1],
        "dynmod (left) and wasm (right) differ"
    );
}
