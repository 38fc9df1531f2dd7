//! The Istio manifests in `envoy/istio/` cannot rot: for each flavour, the Envoy config they
//! carry (the flavour's EnvoyFilter filter patches, the route and cluster patches and the
//! VirtualService, the stats matcher annotation and the bootstrap override) is placed into a
//! gateway bootstrap the way Istio would patch it (tests/istio_translation), real Envoy 1.40
//! loads it, and every filter serves a request: authz answers its metadata document and refuses
//! a request without a token, mcp lists a real MCP server's tools, a2a rewrites an agent card,
//! llm translates an OpenAI chat completion for Anthropic, and an inference completion reaches
//! the pod the endpoint picker chose (through ext_proc and both inference stages). The metrics
//! then show under the same Prometheus names and labels as in the shipped bootstraps, and the
//! stats Istio would drop stay dropped. No Kubernetes here: the clusters Istio would generate
//! for the manifests' Services (`outbound|<port>||<host>`) point at local fakes, and the
//! inference pool's pod CIDR and port become the local model server's.

mod istio_translation;
mod support;

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use std::net::{IpAddr, Ipv4Addr};

use ai_gateway_test_harness::auth::TestKey;
use ai_gateway_test_harness::inference::{FakeEpp, ModelServer, Pick};
use ai_gateway_test_harness::{
    paths, Artifacts, Bootstrap, Envoy, FakeUpstream, Flavour, LlmFake, McpServerMode,
    PythonServer, Reply, DYNAMIC_MODULES_SEARCH_PATH,
};
use serde_json::{json, Value};

use istio_translation::{
    apply_envoy_filter, as_wasm_plugin, gateway_bootstrap, merge_bootstrap, outbound_clusters,
    stats_matcher, virtual_service_routes, wasm_plugin_filter, Manifests,
};
use support::{http, mcp_post};

per_flavour!(the_manifests_load_in_envoy_and_every_filter_serves);

/// What the manifests' filter configs expect (wasm-plugins.yaml, dynamic-module-filters.yaml).
const ISSUER: &str = "https://idp.example.com";
const AUDIENCE: &str = "https://ai.example.com";
const ANTHROPIC_KEY: &str = "sk-ant-replace-me";

/// The fakes behind the clusters Istio would generate for the manifests' hosts.
struct Upstreams {
    idp: FakeUpstream,
    mcp: PythonServer,
    agent: FakeUpstream,
    anthropic: LlmFake,
    model: ModelServer,
    epp: FakeEpp,
    key: TestKey,
}

impl Upstreams {
    async fn start() -> Upstreams {
        let key = TestKey::rsa("istio-test").expect("an RSA key");
        let model = ModelServer::start(IpAddr::V4(Ipv4Addr::LOCALHOST))
            .await
            .expect("the model server starts");
        let jwks = json!({ "keys": [key.jwk()] }).to_string();
        Upstreams {
            idp: FakeUpstream::fixed(200, Some("application/json"), jwks)
                .await
                .expect("the IdP fake starts"),
            mcp: PythonServer::mcp_server(McpServerMode::Stateless, 0)
                .await
                .expect("the MCP server starts"),
            agent: FakeUpstream::start(|_| Reply::json(support::v1_card().to_string()))
                .await
                .expect("the agent fake starts"),
            anthropic: LlmFake::anthropic(ANTHROPIC_KEY)
                .await
                .expect("the Anthropic fake starts"),
            epp: FakeEpp::start(Pick::Both(model.addr().to_string()))
                .await
                .expect("the EPP starts"),
            model,
            key,
        }
    }

    /// The pool's pods are this test's model server: the route stage's pool (the manifests' pod
    /// CIDR and target port, deployment-specific like cluster endpoints) becomes its address.
    fn place_pool(&self, hcm: &mut Value) {
        let mut placed = 0;
        for filter in hcm["http_filters"].as_array_mut().expect("http_filters") {
            let Some(stage) = filter.pointer_mut("/typed_config/extension_config/typed_config")
            else {
                continue;
            };
            let (text, plugin) = match stage.pointer_mut("/filter_config/value") {
                Some(text) => (text, false),
                None => (
                    stage
                        .pointer_mut("/config/configuration/value")
                        .expect("a Wasm configuration"),
                    true,
                ),
            };
            let mut config: Value =
                serde_json::from_str(text.as_str().expect("JSON")).expect("JSON");
            let pool = if plugin {
                &mut config["config"]["pools"][0]
            } else {
                &mut config["pools"][0]
            };
            pool["cidrs"] = json!([format!("{}/32", self.model.addr().ip())]);
            pool["targetPorts"] = json!([self.model.addr().port()]);
            *text = json!(config.to_string());
            placed += 1;
        }
        assert_eq!(placed, 1, "one inference route stage");
    }

    /// The STATIC cluster standing in for Istio's outbound cluster `name`.
    fn cluster(&self, name: &str) -> Value {
        let addr = match name {
            "outbound|443||idp.example.com" => self.idp.addr(),
            "outbound|8000||docs-mcp.ai-gateway.svc.cluster.local" => self.mcp.addr(),
            "outbound|9999||demo-agent.ai-gateway.svc.cluster.local" => self.agent.addr(),
            "outbound|443||api.anthropic.com" => self.anthropic.addr(),
            "outbound|9002||vllm-epp.ai-gateway.svc.cluster.local" => self.epp.addr(),
            other => panic!("the manifests use cluster {other}, which this test does not provide"),
        };
        // Istio speaks HTTP/2 to a Service port named grpc: the EPP's.
        let http2 = json!({ "envoy.extensions.upstreams.http.v3.HttpProtocolOptions": {
            "@type": "type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions",
            "explicit_http_config": { "http2_protocol_options": {} } } });
        let options = if name.contains("-epp.") {
            http2
        } else {
            json!({})
        };
        json!({
            "typed_extension_protocol_options": options,
            "name": name,
            "type": "STATIC",
            "connect_timeout": "2s",
            "load_assignment": {
                "cluster_name": name,
                "endpoints": [{ "lb_endpoints": [{ "endpoint": { "address": { "socket_address": {
                    "address": addr.ip().to_string(), "port_value": addr.port() } } } }] }]
            }
        })
    }

    fn token(&self) -> String {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or_default();
        self.key.sign(&json!({
            "iss": ISSUER, "aud": AUDIENCE, "sub": "alice", "iat": now, "exp": now + 600
        }))
    }
}

/// The gateway Deployment's `istio-proxy` container and pod annotations.
fn gateway_pod(manifests: &Manifests) -> (&Value, &Value) {
    let template = &manifests.named("Deployment", "ai-gateway")["spec"]["template"];
    let proxy = template["spec"]["containers"]
        .as_array()
        .and_then(|c| c.iter().find(|c| c["name"] == "istio-proxy"))
        .expect("the Deployment customizes the istio-proxy container");
    (proxy, &template["metadata"]["annotations"])
}

/// Where the proxy container mounts the filters' volume; the dynamic-module search path and the
/// Wasm file must point there.
fn filters_mount(proxy: &Value) -> String {
    let search_path = proxy["env"]
        .as_array()
        .and_then(|env| {
            env.iter()
                .find(|e| e["name"] == DYNAMIC_MODULES_SEARCH_PATH)
        })
        .and_then(|e| e["value"].as_str())
        .expect("istio-proxy sets ENVOY_DYNAMIC_MODULES_SEARCH_PATH");
    let mounted = proxy["volumeMounts"]
        .as_array()
        .into_iter()
        .flatten()
        .any(|m| m["mountPath"] == search_path);
    assert!(
        mounted,
        "the search path {search_path} is a volume mount of istio-proxy"
    );
    search_path.to_string()
}

/// The bootstrap Istio would give the gateway pod for `flavour`, with `upstreams` behind its
/// outbound clusters.
/// How the gateway's filters reach the proxy.
#[derive(Clone, Copy, PartialEq)]
enum Filters {
    /// dynamic-module-filters.yaml or wasm-filters.yaml.
    Manifest(Flavour),
    /// wasm-filters.yaml's plugins as WasmPlugins, translated as istiod does.
    WasmPlugins,
}

fn istio_bootstrap(manifests: &Manifests, filters: Filters, upstreams: &Upstreams) -> Value {
    let mut bootstrap = gateway_bootstrap();
    let hcm = &mut bootstrap["static_resources"]["listeners"][0]["filter_chains"][0]["filters"][0]
        ["typed_config"];
    let (proxy, annotations) = gateway_pod(manifests);
    let mount = filters_mount(proxy);
    match filters {
        Filters::Manifest(Flavour::Wasm) | Filters::WasmPlugins => {
            apply_envoy_filter(
                manifests.named("EnvoyFilter", "ai-gateway-wasm-filters"),
                hcm,
            );
            apply_envoy_filter(
                manifests.named("EnvoyFilter", "ai-gateway-inference-wasm"),
                hcm,
            );
            // The pod's file is the one the init container copies into the volume; here, the build.
            let wasm = paths::wasm_plugin(Artifacts::Release).expect("scripts/build ran");
            for filter in hcm["http_filters"].as_array_mut().expect("http_filters") {
                let local = "/config/vm_config/code/local/filename";
                let typed = match filter.pointer_mut("/typed_config/extension_config") {
                    Some(wrapped) => &mut wrapped["typed_config"],
                    None => &mut filter["typed_config"],
                };
                if let Some(file) = typed.pointer_mut(local) {
                    assert_eq!(*file, format!("{mount}/ai_gateway_wasm.wasm"));
                    *file = json!(wasm.display().to_string());
                }
            }
            if filters == Filters::WasmPlugins {
                for filter in hcm["http_filters"].as_array_mut().expect("http_filters") {
                    if let Some(plugin) = as_wasm_plugin(filter) {
                        *filter = wasm_plugin_filter(&plugin, &wasm);
                    }
                }
            }
        }
        Filters::Manifest(Flavour::DynamicModule) => {
            apply_envoy_filter(manifests.named("EnvoyFilter", "ai-gateway-filters"), hcm);
            let inference = manifests.named("EnvoyFilter", "ai-gateway-inference-dynamic-module");
            apply_envoy_filter(inference, hcm);
        }
    }
    upstreams.place_pool(hcm);
    apply_envoy_filter(manifests.named("EnvoyFilter", "ai-gateway-routes"), hcm);
    let mut added = apply_envoy_filter(
        manifests.named("EnvoyFilter", "ai-gateway-inference-routes"),
        hcm,
    );
    let routes = hcm["route_config"]["virtual_hosts"][0]["routes"]
        .as_array_mut()
        .expect("routes");
    let catch_all = routes.pop().expect("the 404 route");
    routes.extend(virtual_service_routes(
        manifests.named("VirtualService", "ai-gateway-a2a"),
    ));
    routes.push(catch_all);

    let proxy_config = annotations["proxy.istio.io/config"]
        .as_str()
        .expect("a proxy.istio.io/config annotation");
    bootstrap["stats_config"] = json!({ "stats_matcher": stats_matcher(proxy_config) });
    let override_name = annotations["sidecar.istio.io/bootstrapOverride"]
        .as_str()
        .expect("a bootstrapOverride annotation");
    let config_map = manifests.named("ConfigMap", override_name);
    let overlay: Value = serde_json::from_str(
        config_map["data"]["custom_bootstrap.json"]
            .as_str()
            .expect("custom_bootstrap.json"),
    )
    .expect("custom_bootstrap.json is JSON");
    merge_bootstrap(&mut bootstrap, &overlay);

    let mut clusters: Vec<Value> = outbound_clusters(&bootstrap)
        .iter()
        .map(|name| upstreams.cluster(name))
        .collect();
    clusters.append(&mut added);
    bootstrap["static_resources"]["clusters"] = Value::Array(clusters);
    bootstrap
}

async fn the_manifests_load_in_envoy_and_every_filter_serves(flavour: Flavour) {
    let manifests = Manifests::load();
    let upstreams = Upstreams::start().await;
    let config = istio_bootstrap(&manifests, Filters::Manifest(flavour), &upstreams);
    let envoy = Envoy::start_with_config(&Bootstrap::new(Some(flavour)), config.to_string())
        .await
        .unwrap_or_else(|e| panic!("Envoy loads the Istio manifests' config: {e}\n{config:#}"));
    let gateway = envoy.gateway_url();
    let bearer = format!("Bearer {}", upstreams.token());

    // authz: the RFC 9728 document, and a 401 pointing at it without a token.
    let metadata = http()
        .get(format!(
            "{gateway}/.well-known/oauth-protected-resource/mcp"
        ))
        .send()
        .await
        .expect("the gateway answers");
    assert_eq!(metadata.status(), 200);
    let document: Value = metadata.json().await.expect("a JSON document");
    assert_eq!(document["resource"], "https://ai.example.com/mcp");
    let (status, headers, _) = mcp_post(&format!("{gateway}/mcp"), &[], initialize()).await;
    assert_eq!(status, 401, "{}", envoy.log());
    assert!(headers["www-authenticate"]
        .to_str()
        .unwrap_or_default()
        .contains("resource_metadata="));

    // mcp: initialize and tools/list over the real MCP server, names prefixed with `docs_`.
    let auth = [("authorization", bearer.as_str())];
    let (status, headers, body) = mcp_post(&format!("{gateway}/mcp"), &auth, initialize()).await;
    assert_eq!(status, 200, "{body}\n{}", envoy.log());
    let session = headers["mcp-session-id"]
        .to_str()
        .expect("a session id")
        .to_string();
    let in_session = [
        ("authorization", bearer.as_str()),
        ("mcp-session-id", session.as_str()),
        ("mcp-protocol-version", "2025-11-25"),
    ];
    let list = json!({"jsonrpc": "2.0", "id": 2, "method": "tools/list"}).to_string();
    let (status, _, body) = mcp_post(&format!("{gateway}/mcp"), &in_session, list).await;
    assert_eq!(status, 200, "{body}");
    let tools = body["result"]["tools"].as_array().expect("a tool list");
    assert!(!tools.is_empty(), "{body}");
    assert!(
        tools
            .iter()
            .all(|t| t["name"].as_str().unwrap_or_default().starts_with("docs_")),
        "{body}"
    );

    // a2a: the agent card's interface URLs point at the gateway.
    let card: Value = http()
        .get(format!("{gateway}/a2a/demo/.well-known/agent-card.json"))
        .header("authorization", &bearer)
        .send()
        .await
        .expect("the gateway answers")
        .json()
        .await
        .expect("a JSON card");
    assert_eq!(
        card,
        support::expected_rewrite(support::v1_card(), &gateway)
    );

    // llm: an OpenAI chat completion answered by the Anthropic provider.
    let completion = http()
        .post(format!("{gateway}/v1/chat/completions"))
        .header("authorization", &bearer)
        .json(&json!({
            "model": "claude-sonnet-4-5",
            "max_tokens": 32,
            "messages": [{"role": "user", "content": "Hello"}]
        }))
        .send()
        .await
        .expect("the gateway answers");
    assert_eq!(completion.status(), 200, "{}", envoy.log());
    let completion: Value = completion.json().await.expect("a JSON completion");
    assert_eq!(completion["object"], "chat.completion", "{completion}");
    let upstream = upstreams.anthropic.requests();
    assert_eq!(upstream.len(), 1);
    assert_eq!(upstream[0].header("x-api-key"), Some(ANTHROPIC_KEY));

    // inference: ext_proc asks the EPP, the route stage checks its pick, the pod answers.
    let inference = http()
        .post(format!("{gateway}/inference/v1/chat/completions"))
        .header("authorization", &bearer)
        .json(&json!({"model": "llama-3", "messages": [{"role": "user", "content": "Hello"}]}))
        .send()
        .await
        .expect("the gateway answers");
    assert_eq!(inference.status(), 200, "{}", envoy.log());
    let model = upstreams.model.addr().to_string();
    assert_eq!(inference.headers()["x-served-by"], model.as_str());
    assert_eq!(
        upstreams.epp.exchanges().len(),
        1,
        "only the inference route meets the EPP"
    );

    // Stats: the filters' series under their Prometheus names with labels; Envoy's own
    // connection-manager stats dropped by Istio's matcher.
    for (name, label, value) in [
        ("authz_authn_total", "outcome", "ok"),
        ("mcp_requests_total", "method", "tools/list"),
        ("a2a_cards_total", "agent", "demo"),
        ("llm_requests_total", "provider", "anthropic"),
        ("inference_requests_total", "pool", "vllm"),
    ] {
        assert!(
            series_appears(&envoy, name, label, value).await,
            "{name}{{{label}=\"{value}\"}} missing:\n{}",
            envoy
                .admin_get("/stats/prometheus")
                .await
                .unwrap_or_default()
        );
    }
    let prometheus = envoy.admin_get("/stats/prometheus").await.expect("stats");
    assert!(!prometheus.contains("downstream_rq_total"), "{prometheus}");
    assert!(
        !prometheus.contains("custom_"),
        "prefixes stripped:\n{prometheus}"
    );
    assert!(
        !prometheus.contains("wasmcustom"),
        "tags extracted:\n{prometheus}"
    );
}

fn initialize() -> String {
    json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
        "protocolVersion": "2025-11-25", "capabilities": {},
        "clientInfo": {"name": "istio-test", "version": "1"}}})
    .to_string()
}

/// Polls /stats/prometheus until a series `name` with label `label=value` counts at least 1.
async fn series_appears(envoy: &Envoy, name: &str, label: &str, value: &str) -> bool {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    loop {
        let prometheus = envoy.prometheus().await.expect("admin answers");
        let found = prometheus.samples.iter().any(|s| {
            s.name == name
                && s.labels.get(label).map(String::as_str) == Some(value)
                && s.value >= 1.0
        });
        if found || tokio::time::Instant::now() > deadline {
            return found;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The filter name and JSON config each patch of EnvoyFilter `name` gives its filter.
fn filter_configs(manifests: &Manifests, name: &str) -> Vec<(String, Value)> {
    let patches = manifests.named("EnvoyFilter", name)["spec"]["configPatches"]
        .as_array()
        .expect("patches");
    patches
        .iter()
        .map(|patch| {
            let typed = &patch["patch"]["value"]["typed_config"];
            let (filter, config) = match typed["filter_name"].as_str() {
                Some(filter) => (filter, &typed["filter_config"]["value"]),
                None => {
                    let wasm = &typed["config"];
                    assert_eq!(wasm["allow_on_headers_stop_iteration"], true);
                    (
                        wasm["name"].as_str().expect("a name"),
                        &wasm["configuration"]["value"],
                    )
                }
            };
            let config: Value = serde_json::from_str(config.as_str().expect("a JSON string"))
                .expect("the filter config is JSON");
            (filter.to_string(), config)
        })
        .collect()
}

/// Both flavours' manifests give each filter, in the same order, the same JSON config.
#[test]
fn both_flavours_configure_the_filters_alike() {
    let manifests = Manifests::load();
    let dynmod = filter_configs(&manifests, "ai-gateway-filters");
    let wasm: Vec<(String, Value)> = filter_configs(&manifests, "ai-gateway-wasm-filters")
        .into_iter()
        .map(|(name, plugin)| {
            assert_eq!(plugin["filter"], name.as_str());
            (name, plugin["config"].clone())
        })
        .collect();
    assert_eq!(dynmod, wasm);
    let names: Vec<&str> = dynmod.iter().map(|(name, _)| name.as_str()).collect();
    assert_eq!(names, ["authz", "mcp", "a2a", "llm"]);
}

/// The bootstrap override's stat tag rules are envoy/wasm-stats-tags.yaml's, in the same order.
#[test]
fn the_bootstrap_override_carries_the_shipped_stat_tag_rules() {
    let manifests = Manifests::load();
    let config_map = manifests.named("ConfigMap", "ai-gateway-bootstrap");
    let overlay: Value = serde_json::from_str(
        config_map["data"]["custom_bootstrap.json"]
            .as_str()
            .expect("JSON"),
    )
    .expect("custom_bootstrap.json is JSON");
    let shipped = std::fs::read_to_string(paths::envoy_dir().join("wasm-stats-tags.yaml"))
        .expect("envoy/wasm-stats-tags.yaml");
    let shipped: Value = serde_yaml_ng::from_str(&shipped).expect("YAML");
    assert_eq!(
        overlay["stats_config"]["stats_tags"],
        shipped["stats_config"]["stats_tags"]
    );
}

/// Why wasm-filters.yaml is an EnvoyFilter: the same plugins as WasmPlugins, configured exactly as
/// istiod generates them, load, and a filter answers what it answers at the request headers (the
/// RFC 9728 metadata), but a request the filter holds at its headers to read the body (authz, then
/// mcp, on an MCP initialize with a valid token) never gets an answer: without
/// `allow_on_headers_stop_iteration` Envoy stops the body from reaching the filter. When this test
/// fails, Istio (or the adapter) lifted the limit and WasmPlugins can replace the EnvoyFilter.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wasm_plugins_as_istio_generates_them_hold_requests_forever() {
    support::bounded(async {
        let manifests = Manifests::load();
        let upstreams = Upstreams::start().await;
        let config = istio_bootstrap(&manifests, Filters::WasmPlugins, &upstreams);
        let mcp_plugin = "extensions.istio.io/wasmplugin/ai-gateway.ai-gateway-mcp";
        assert!(config.to_string().contains(mcp_plugin), "{config:#}");
        let envoy =
            Envoy::start_with_config(&Bootstrap::new(Some(Flavour::Wasm)), config.to_string())
                .await
                .unwrap_or_else(|e| panic!("Envoy loads the WasmPlugins' config: {e}"));
        let gateway = envoy.gateway_url();
        let metadata = http()
            .get(format!(
                "{gateway}/.well-known/oauth-protected-resource/mcp"
            ))
            .send()
            .await
            .expect("the gateway answers");
        assert_eq!(metadata.status(), 200);
        let held = reqwest::Client::new()
            .post(format!("{gateway}/mcp"))
            .timeout(Duration::from_secs(5))
            .header("authorization", format!("Bearer {}", upstreams.token()))
            .header("content-type", "application/json")
            .header("accept", "application/json, text/event-stream")
            .body(initialize())
            .send()
            .await;
        assert!(
            held.as_ref().is_err_and(reqwest::Error::is_timeout),
            "the initialize was answered: {held:?}"
        );
    })
    .await;
}
