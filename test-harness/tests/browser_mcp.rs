//! A browser MCP client through the gateway, once per flavour: headless Chromium loads a page from
//! another origin that uses the TypeScript SDK (test-harness/browser/) to list and call tools on
//! the gateway's /mcp, which Envoy's CORS filter (envoy/filter-cors.yaml) opens to that origin.
//! Without the CORS filter the same page must fail: the browser withholds the answers. With the
//! authz filter in front, what a browser client's OAuth flow reads (the 401's `www-authenticate`,
//! the protected-resource metadata) carries the CORS headers too.

mod support;

use std::net::{Ipv4Addr, SocketAddr, TcpListener};
use std::path::PathBuf;
use std::time::Duration;

use ai_gateway_test_harness::auth::TestKey;
use ai_gateway_test_harness::{
    mcp_config, paths, Bootstrap, Envoy, FakeUpstream, Flavour, McpBackendKind, McpBackendRoute,
    Reply, MCP_ENDPOINT_PATH,
};
use serde_json::{json, Value};

use support::mcp::Gateway;

per_flavour!(
    a_cross_origin_page_lists_and_calls_tools,
    without_cors_the_browser_withholds_the_answers,
    the_oauth_challenge_and_metadata_are_readable_cross_origin,
);

/// Longest the driver may take: Chromium's start, the page's MCP calls and the screenshot.
const DRIVER_TIMEOUT: Duration = Duration::from_secs(120);

/// The page and its bundled client, served from their own origin.
struct PageServer {
    server: FakeUpstream,
}

impl PageServer {
    /// Bundles browser/client.ts with esbuild and serves it beside browser/page.html.
    async fn start() -> PageServer {
        let browser = paths::repo_root().join("test-harness/browser");
        let out = tempfile::tempdir().expect("a temp dir");
        let bundle = out.path().join("client.js");
        let esbuild = paths::repo_root().join("test-harness/node_modules/.bin/esbuild");
        let built = tokio::process::Command::new(&esbuild)
            .arg(browser.join("client.ts"))
            .args([
                "--bundle",
                "--format=esm",
                "--target=chrome120",
                "--log-level=warning",
            ])
            .arg(format!("--outfile={}", bundle.display()))
            .kill_on_drop(true)
            .output()
            .await
            .expect("esbuild runs (run scripts/setup)");
        assert!(
            built.status.success(),
            "esbuild:\n{}",
            String::from_utf8_lossy(&built.stderr)
        );
        let html = std::fs::read(browser.join("page.html")).expect("page.html");
        let js = std::fs::read(&bundle).expect("the bundle");
        let server = FakeUpstream::start(move |request| {
            match request.path.split('?').next().unwrap_or_default() {
                "/" => Reply::with(200, Some("text/html; charset=utf-8"), html.clone()),
                "/client.js" => Reply::with(200, Some("text/javascript"), js.clone()),
                _ => Reply::with(404, Some("text/plain"), "not here\n"),
            }
        })
        .await
        .expect("the page server starts");
        PageServer { server }
    }

    /// The page's origin: another port than the gateway's, so another origin.
    fn origin(&self) -> String {
        format!("http://{}", self.server.addr())
    }

    /// The page, told to use the gateway at `envoy` and to call `tool` with `args`.
    fn url(&self, envoy: &Envoy, tool: &str, args: &Value) -> String {
        let gateway = format!("{}/mcp", envoy.gateway_url());
        let query = [
            ("mcp", gateway.as_str()),
            ("tool", tool),
            ("args", &args.to_string()),
        ];
        reqwest::Url::parse_with_params(&format!("{}/", self.origin()), query)
            .expect("a valid page URL")
            .to_string()
    }
}

/// What the page showed once its client finished (browser/drive.mjs's report).
#[derive(Debug)]
struct PageReport {
    state: String,
    status: String,
    tools: Vec<String>,
    result: String,
    console: Vec<String>,
}

/// Loads `page` in headless Chromium and saves a screenshot as `<target>/browser-mcp/<name>.png`.
async fn browse(page: &str, name: &str) -> PageReport {
    let shots = paths::repo_root().join("target/browser-mcp");
    std::fs::create_dir_all(&shots).expect("the screenshot dir");
    let screenshot: PathBuf = shots.join(format!("{name}.png"));
    let driver = paths::repo_root().join("test-harness/browser/drive.mjs");
    let run = tokio::process::Command::new("node")
        .arg(&driver)
        .args(["--page", page, "--timeout-ms", "60000", "--screenshot"])
        .arg(&screenshot)
        .stdin(std::process::Stdio::null())
        .kill_on_drop(true)
        .output();
    let output = tokio::time::timeout(DRIVER_TIMEOUT, run)
        .await
        .expect("the browser driver finishes")
        .expect("node runs the browser driver");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "drive.mjs:\n{stdout}\n{stderr}");
    let line = stdout.lines().last().unwrap_or_default();
    let report: Value = serde_json::from_str(line)
        .unwrap_or_else(|e| panic!("drive.mjs printed no report ({e}):\n{stdout}\n{stderr}"));
    let text = |field: &str| report[field].as_str().unwrap_or_default().to_string();
    let list = |field: &str| -> Vec<String> {
        report[field]
            .as_array()
            .map(|items| {
                items
                    .iter()
                    .filter_map(|item| item.as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default()
    };
    PageReport {
        state: text("state"),
        status: text("status"),
        tools: list("tools"),
        result: text("result"),
        console: list("console"),
    }
}

/// A preflight for an MCP POST from `origin`: status and the headers granted.
async fn preflight(envoy: &Envoy, origin: &str) -> (u16, reqwest::header::HeaderMap) {
    let response = support::http()
        .request(
            reqwest::Method::OPTIONS,
            format!("{}/mcp", envoy.gateway_url()),
        )
        .header("origin", origin)
        .header("access-control-request-method", "POST")
        .header(
            "access-control-request-headers",
            "authorization,content-type,mcp-session-id,mcp-protocol-version",
        )
        .send()
        .await
        .expect("the gateway answers");
    (response.status().as_u16(), response.headers().clone())
}

fn header<'a>(headers: &'a reqwest::header::HeaderMap, name: &str) -> &'a str {
    headers
        .get(name)
        .and_then(|value| value.to_str().ok())
        .unwrap_or_default()
}

async fn a_cross_origin_page_lists_and_calls_tools(flavour: Flavour) {
    let page = PageServer::start().await;
    let origin = page.origin();
    let gateway = Gateway::start_with(
        flavour,
        &[McpBackendKind::Everything, McpBackendKind::PythonSession],
        json!({ "allowedOrigins": [origin] }),
    )
    .await;
    let envoy = Envoy::start(&gateway.bootstrap.clone().cors_origin(&origin))
        .await
        .expect("Envoy starts with the CORS filter ahead of the mcp filter");

    // The CORS filter answers the preflight itself: the mcp filter would refuse an OPTIONS (405).
    let (status, headers) = preflight(&envoy, &origin).await;
    assert_eq!(status, 200, "{headers:?}\n{}", envoy.log());
    assert_eq!(header(&headers, "access-control-allow-origin"), origin);
    for allowed in ["mcp-session-id", "mcp-protocol-version", "content-type"] {
        assert!(
            header(&headers, "access-control-allow-headers").contains(allowed),
            "{headers:?}"
        );
    }
    // An origin the policy does not list is granted nothing.
    let (_, headers) = preflight(&envoy, "http://evil.example").await;
    assert!(
        headers.get("access-control-allow-origin").is_none(),
        "{headers:?}"
    );

    let message = format!("from a web page ({flavour:?})");
    let url = page.url(&envoy, "everything_echo", &json!({ "message": message }));
    let report = browse(&url, &format!("{flavour:?}-cors").to_lowercase()).await;
    assert_eq!(
        report.state,
        "done",
        "{report:#?}\nbackends:\n{}\nenvoy:\n{}",
        gateway.logs(),
        envoy.log()
    );
    for tool in ["everything_echo", "session_echo", "session_add"] {
        assert!(
            report.tools.iter().any(|t| t == tool),
            "{tool} not listed: {report:#?}"
        );
    }
    assert_eq!(report.result, format!("Echo: {message}"), "{report:#?}");
    // The client read the gateway's session token: mcp-session-id is an exposed header.
    assert!(!report.status.contains("(none)"), "{report:#?}");
}

async fn without_cors_the_browser_withholds_the_answers(flavour: Flavour) {
    let page = PageServer::start().await;
    let origin = page.origin();
    // The mcp filter trusts the page's origin, so only the missing CORS headers stop the page.
    let gateway = Gateway::start_with(
        flavour,
        &[McpBackendKind::Everything],
        json!({ "allowedOrigins": [origin] }),
    )
    .await;
    let url = page.url(
        &gateway.envoy,
        "everything_echo",
        &json!({ "message": "x" }),
    );
    let report = browse(&url, &format!("{flavour:?}-no-cors").to_lowercase()).await;
    assert_eq!(report.state, "error", "{report:#?}");
    assert!(report.tools.is_empty(), "{report:#?}");
    assert!(report.result.is_empty(), "{report:#?}");
    assert!(
        report
            .console
            .iter()
            .any(|line| line.contains("CORS policy")),
        "the browser names CORS as the reason: {report:#?}"
    );
}

/// A loopback port free right now: the resource URL must be known before Envoy starts.
fn free_port() -> u16 {
    TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .and_then(|listener| listener.local_addr())
        .map(|addr| addr.port())
        .expect("a free port")
}

async fn the_oauth_challenge_and_metadata_are_readable_cross_origin(flavour: Flavour) {
    let origin = "http://app.test:8080";
    let key = TestKey::rsa("browser-key").expect("an RSA test key");
    let mut bootstrap = Bootstrap::new(Some(flavour));
    bootstrap.listener = SocketAddr::from((Ipv4Addr::LOCALHOST, free_port()));
    let resource = format!("http://{}{MCP_ENDPOINT_PATH}", bootstrap.listener);
    // Nothing listens there: every request here is answered before a backend would be asked.
    let route = McpBackendRoute::new("unused", "127.0.0.1:9".parse().unwrap());
    let mut mcp = mcp_config(std::slice::from_ref(&route), support::mcp::SESSION_KEY);
    mcp["allowedOrigins"] = json!([origin]);
    let authz = json!({
        "issuers": ["https://idp.test"],
        "audiences": [resource],
        "jwks": { "inline": { "keys": [key.jwk()] } },
        "resourceMetadata": { "resource": resource, "authorizationServers": ["https://idp.test"] },
        "policies": [{ "name": "anyone-with-a-token", "allow": "true" }]
    });
    let bootstrap = bootstrap
        .mcp_backend(route)
        .filter("authz", authz)
        .filter("mcp", mcp)
        .cors_origin(origin);
    let envoy = Envoy::start(&bootstrap)
        .await
        .expect("Envoy starts with CORS, authz and mcp");

    // The browser may send the bearer token: the preflight allows `authorization`.
    let (status, headers) = preflight(&envoy, origin).await;
    assert_eq!(status, 200, "{headers:?}\n{}", envoy.log());
    assert!(
        header(&headers, "access-control-allow-headers").contains("authorization"),
        "{headers:?}"
    );

    // Without a token: a 401 whose challenge the page's script may read.
    let response = support::http()
        .post(&resource)
        .header("origin", origin)
        .header("content-type", "application/json")
        .body(r#"{"jsonrpc":"2.0","id":1,"method":"tools/list"}"#)
        .send()
        .await
        .expect("the gateway answers");
    assert_eq!(response.status().as_u16(), 401);
    let headers = response.headers();
    assert_eq!(header(headers, "access-control-allow-origin"), origin);
    assert!(
        header(headers, "access-control-expose-headers").contains("www-authenticate"),
        "{headers:?}"
    );
    let challenge = header(headers, "www-authenticate");
    let metadata_url = challenge
        .split("resource_metadata=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .unwrap_or_else(|| panic!("a resource_metadata URL in {challenge:?}"));

    // The metadata it points to, fetched cross-origin.
    let response = support::http()
        .get(metadata_url)
        .header("origin", origin)
        .send()
        .await
        .expect("the gateway answers");
    assert_eq!(response.status().as_u16(), 200);
    assert_eq!(
        header(response.headers(), "access-control-allow-origin"),
        origin
    );
    let document: Value = response.json().await.expect("a JSON document");
    assert_eq!(document["resource"], json!(resource), "{document}");
}
