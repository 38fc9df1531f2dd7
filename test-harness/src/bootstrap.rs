//! Renders an Envoy bootstrap from the templates in `envoy/`.

use std::net::{Ipv4Addr, SocketAddr};
use std::path::PathBuf;

use serde_json::{json, Value};

use crate::cors;
use crate::error::HarnessError;
use crate::flavour::Flavour;
use crate::paths::{self, Artifacts};
use crate::template::{render, Values};

/// Stats tag-extraction rules that give the Wasm flavour's metrics their Prometheus labels.
const WASM_STATS_TAGS: &str = "wasm-stats-tags.yaml";

/// One gateway filter in the chain: its name in the catalog and its JSON config.
#[derive(Debug, Clone)]
pub struct FilterEntry {
    /// Filter name, e.g. `a2a`.
    pub name: String,
    /// The filter's own config (what the adapters hand to the catalog).
    pub config: Value,
}

/// An A2A agent behind the gateway: the route `<path_prefix>/...` → `<upstream_path_prefix>...`.
#[derive(Debug, Clone)]
pub struct AgentRoute {
    /// Agent name, used as metric tag and in the cluster name.
    pub name: String,
    /// Gateway path prefix without trailing slash, e.g. `/a2a/demo`.
    pub path_prefix: String,
    /// What the prefix becomes upstream, e.g. `/`.
    pub upstream_path_prefix: String,
    /// Where the agent listens.
    pub upstream: SocketAddr,
}

impl AgentRoute {
    /// The usual layout: `/a2a/<name>/` on the gateway is `/` on the agent.
    pub fn new(name: &str, upstream: SocketAddr) -> Self {
        AgentRoute {
            name: name.to_string(),
            path_prefix: format!("/a2a/{name}"),
            upstream_path_prefix: "/".to_string(),
            upstream,
        }
    }

    fn cluster(&self) -> String {
        format!("agent_{}", self.name)
    }
}

/// The `a2a` filter config for these agents (contracts.md), to extend with more fields.
pub fn a2a_config(agents: &[AgentRoute]) -> Value {
    let agents: Vec<Value> = agents
        .iter()
        .map(|agent| {
            json!({
                "name": agent.name,
                "pathPrefix": agent.path_prefix,
                "upstreamPathPrefix": agent.upstream_path_prefix,
            })
        })
        .collect();
    json!({ "agents": agents })
}

/// An MCP server behind the gateway's MCP endpoint: the `mcp` filter routes to its cluster.
#[derive(Debug, Clone)]
pub struct McpBackendRoute {
    /// Backend name: the tool-name prefix, metric tag and part of the cluster name.
    pub name: String,
    /// Where the server listens.
    pub upstream: SocketAddr,
    /// Its MCP endpoint path.
    pub path: String,
}

impl McpBackendRoute {
    /// A backend serving MCP on `/mcp` (the SDKs' default).
    pub fn new(name: &str, upstream: SocketAddr) -> Self {
        McpBackendRoute {
            name: name.to_string(),
            upstream,
            path: MCP_ENDPOINT_PATH.to_string(),
        }
    }

    /// The Envoy cluster of this backend.
    pub fn cluster(&self) -> String {
        format!("mcp_{}", self.name)
    }
}

/// The gateway's MCP endpoint path (fixed in the `mcp` filter for now).
pub const MCP_ENDPOINT_PATH: &str = "/mcp";

/// The `mcp` filter config for these backends, sealing sessions with `session_key` (base64 of
/// 32 bytes), to extend with more fields.
pub fn mcp_config(backends: &[McpBackendRoute], session_key: &str) -> Value {
    let backends: Vec<Value> = backends
        .iter()
        .map(|backend| {
            json!({
                "name": backend.name,
                "cluster": backend.cluster(),
                "path": backend.path,
            })
        })
        .collect();
    json!({ "backends": backends, "session": { "keys": [session_key] } })
}

/// An LLM provider behind the gateway's `/v1/` endpoints: the `llm` filter routes to its cluster.
#[derive(Debug, Clone)]
pub struct LlmProviderRoute {
    /// Provider name, as keyed in the llm filter's `providers`; part of the cluster name.
    pub name: String,
    /// Where the provider (or its fake) listens.
    pub upstream: SocketAddr,
}

impl LlmProviderRoute {
    /// A provider `name` at `upstream`.
    pub fn new(name: &str, upstream: SocketAddr) -> Self {
        LlmProviderRoute {
            name: name.to_string(),
            upstream,
        }
    }

    /// The Envoy cluster of this provider (the `cluster` of its llm filter config entry).
    pub fn cluster(&self) -> String {
        format!("llm_{}", self.name)
    }
}

/// The path prefix of the LLM client APIs (OpenAI and Anthropic both serve under `/v1`).
pub const LLM_PATH_PREFIX: &str = "/v1";

/// An HTTPS upstream: a cluster whose TLS trusts only `ca_pem` and checks the server's name.
#[derive(Debug, Clone)]
pub struct TlsClusterRoute {
    /// The Envoy cluster name.
    pub name: String,
    /// Where the server listens.
    pub upstream: SocketAddr,
    /// The server's DNS name: sent as SNI and matched against its certificate.
    pub sni: String,
    /// The CA certificate (PEM) that signed the server's certificate.
    pub ca_pem: String,
}

/// Dynamic metadata `<namespace>/<key> = <value>` that Envoy's `set_metadata` filter sets ahead
/// of the gateway filters, as a filter upstream of ours would.
#[derive(Debug, Clone)]
pub struct PresetMetadata {
    /// Metadata namespace, e.g. `conformance`.
    pub namespace: String,
    /// Key inside the namespace.
    pub key: String,
    /// String value.
    pub value: String,
}

/// Everything a rendered bootstrap depends on.
#[derive(Debug, Clone)]
pub struct Bootstrap {
    /// Which build of the filters Envoy loads; `None` renders bare Envoy without gateway filters.
    pub flavour: Option<Flavour>,
    /// The gateway listener (port 0: any free port).
    pub listener: SocketAddr,
    /// Envoy's admin endpoint (port 0: any free port).
    pub admin: SocketAddr,
    /// Gateway filters, in chain order, ahead of the router.
    pub filters: Vec<FilterEntry>,
    /// A2A agents routed by the gateway.
    pub agents: Vec<AgentRoute>,
    /// MCP backends behind the MCP endpoint (none: no MCP route).
    pub mcp_backends: Vec<McpBackendRoute>,
    /// LLM providers behind the `/v1/` endpoints (none: no LLM route).
    pub llm_providers: Vec<LlmProviderRoute>,
    /// Which build of the adapters Envoy loads (per bootstrap, so parallel tests may differ).
    pub artifacts: Artifacts,
    /// Dynamic metadata set by Envoy's `set_metadata` filter ahead of the gateway filters.
    pub preset_metadata: Vec<PresetMetadata>,
    /// Envoy's worker threads (`--concurrency`); 1 unless a test needs several workers.
    pub concurrency: u32,
    /// Where the shipped llm access-log example (envoy/access-log-llm-<flavour>.yaml) writes.
    pub llm_access_log: Option<PathBuf>,
    /// A rate limit service that Envoy's `ratelimit` filter charges each LLM answer's total
    /// tokens to (envoy/filter-ratelimit-llm.yaml, route-llm-ratelimit-<flavour>.yaml).
    pub llm_ratelimit: Option<SocketAddr>,
    /// HTTPS upstreams (clusters only: filters reach them by callout or `cluster_header`).
    pub tls_clusters: Vec<TlsClusterRoute>,
    /// Browser origins Envoy's CORS filter allows (none: no CORS filter; envoy/filter-cors.yaml).
    pub cors_origins: Vec<String>,
}

/// The cluster of [`Bootstrap::llm_ratelimit`]'s service.
pub const LLM_RATELIMIT_CLUSTER: &str = "llm_ratelimit";

impl Bootstrap {
    /// Loopback listener and admin on free ports, no filters, no routes.
    pub fn new(flavour: Option<Flavour>) -> Self {
        let any_port = SocketAddr::from((Ipv4Addr::LOCALHOST, 0));
        Bootstrap {
            flavour,
            listener: any_port,
            admin: any_port,
            filters: Vec::new(),
            agents: Vec::new(),
            mcp_backends: Vec::new(),
            llm_providers: Vec::new(),
            artifacts: Artifacts::Release,
            preset_metadata: Vec::new(),
            concurrency: 1,
            llm_access_log: None,
            llm_ratelimit: None,
            tls_clusters: Vec::new(),
            cors_origins: Vec::new(),
        }
    }

    /// Runs Envoy with `workers` worker threads (e.g. 2, to test state shared across workers).
    pub fn concurrency(mut self, workers: u32) -> Self {
        self.concurrency = workers;
        self
    }

    /// Adds the shipped llm access-log example for the flavour, writing to `path`.
    pub fn llm_access_log(mut self, path: PathBuf) -> Self {
        self.llm_access_log = Some(path);
        self
    }

    /// Adds Envoy's `ratelimit` filter charging LLM tokens to the service at `service`.
    pub fn llm_ratelimit(mut self, service: SocketAddr) -> Self {
        self.llm_ratelimit = Some(service);
        self
    }

    /// Loads the diagnostics build (`target/diagnostics`), which also has the diagnostic filters.
    pub fn diagnostics(mut self) -> Self {
        self.artifacts = Artifacts::Diagnostics;
        self
    }

    /// Has Envoy set dynamic metadata `namespace/key = value` before the gateway filters run.
    pub fn preset_metadata(mut self, namespace: &str, key: &str, value: &str) -> Self {
        self.preset_metadata.push(PresetMetadata {
            namespace: namespace.to_string(),
            key: key.to_string(),
            value: value.to_string(),
        });
        self
    }

    /// Adds a gateway filter at the end of the chain.
    pub fn filter(mut self, name: &str, config: Value) -> Self {
        self.filters.push(FilterEntry {
            name: name.to_string(),
            config,
        });
        self
    }

    /// Adds an A2A agent route.
    pub fn agent(mut self, agent: AgentRoute) -> Self {
        self.agents.push(agent);
        self
    }

    /// Adds an MCP backend (and, with the first, the MCP endpoint route).
    pub fn mcp_backend(mut self, backend: McpBackendRoute) -> Self {
        self.mcp_backends.push(backend);
        self
    }

    /// Puts Envoy's CORS filter first in the chain and allows browser `origin` on every route.
    pub fn cors_origin(mut self, origin: &str) -> Self {
        self.cors_origins.push(origin.to_string());
        self
    }

    /// Adds an HTTPS upstream cluster.
    pub fn tls_cluster(mut self, cluster: TlsClusterRoute) -> Self {
        self.tls_clusters.push(cluster);
        self
    }

    /// Adds an LLM provider cluster (and, with the first, the LLM route).
    pub fn llm_provider(mut self, provider: LlmProviderRoute) -> Self {
        self.llm_providers.push(provider);
        self
    }

    /// The bootstrap YAML.
    pub fn render(&self) -> Result<String, HarnessError> {
        let values = Values::new()
            .set("ADMIN_ADDRESS", self.admin.ip().to_string())
            .set("ADMIN_PORT", self.admin.port().to_string())
            .set("LISTENER_ADDRESS", self.listener.ip().to_string())
            .set("LISTENER_PORT", self.listener.port().to_string())
            .set("STATS_CONFIG", self.stats_config()?)
            .set("ROUTES", self.routes()?)
            .set("HTTP_FILTERS", self.http_filters()?)
            .set("CLUSTERS", self.clusters()?)
            .set("ACCESS_LOG", self.access_log()?)
            .set("VIRTUAL_HOST_EXTRAS", cors::policy(&self.cors_origins)?);
        render_file("bootstrap.yaml", &values)
    }

    fn access_log(&self) -> Result<String, HarnessError> {
        match (&self.llm_access_log, self.flavour) {
            (Some(path), Some(flavour)) => {
                let values = Values::new().set("ACCESS_LOG_PATH", path.display().to_string());
                render_file(&llm_example("access-log-llm", flavour), &values)
            }
            _ => Ok(String::new()),
        }
    }

    fn stats_config(&self) -> Result<String, HarnessError> {
        match self.flavour {
            Some(Flavour::Wasm) => read_template(WASM_STATS_TAGS),
            _ => Ok(String::new()),
        }
    }

    fn routes(&self) -> Result<String, HarnessError> {
        let mut out = String::new();
        if !self.mcp_backends.is_empty() {
            out.push_str(&cors::routes(&self.cors_origins, MCP_ENDPOINT_PATH)?);
            let values = Values::new().set("PATH", MCP_ENDPOINT_PATH);
            out.push_str(&render_file("route-mcp.yaml", &values)?);
        }
        if !self.llm_providers.is_empty() {
            let extras = match (self.llm_ratelimit, self.flavour) {
                (Some(_), Some(flavour)) => {
                    render_file(&llm_example("route-llm-ratelimit", flavour), &Values::new())?
                }
                _ => String::new(),
            };
            let values = Values::new()
                .set("PATH_PREFIX", LLM_PATH_PREFIX)
                .set("ROUTE_EXTRAS", extras);
            out.push_str(&render_file("route-llm.yaml", &values)?);
        }
        for agent in &self.agents {
            let values = Values::new()
                .set("PATH_PREFIX", agent.path_prefix.clone())
                .set("UPSTREAM_PATH_PREFIX", agent.upstream_path_prefix.clone())
                .set("CLUSTER", agent.cluster());
            out.push_str(&render_file("route-a2a.yaml", &values)?);
        }
        Ok(out)
    }

    fn clusters(&self) -> Result<String, HarnessError> {
        let mut out = String::new();
        for agent in &self.agents {
            let values = Values::new()
                .set("NAME", agent.cluster())
                .set("ADDRESS", agent.upstream.ip().to_string())
                .set("PORT", agent.upstream.port().to_string());
            out.push_str(&render_file("cluster.yaml", &values)?);
        }
        for backend in &self.mcp_backends {
            let values = Values::new()
                .set("NAME", backend.cluster())
                .set("ADDRESS", backend.upstream.ip().to_string())
                .set("PORT", backend.upstream.port().to_string());
            out.push_str(&render_file("cluster.yaml", &values)?);
        }
        for provider in &self.llm_providers {
            let values = Values::new()
                .set("NAME", provider.cluster())
                .set("ADDRESS", provider.upstream.ip().to_string())
                .set("PORT", provider.upstream.port().to_string());
            out.push_str(&render_file("cluster.yaml", &values)?);
        }
        if let Some(service) = self.llm_ratelimit {
            let values = Values::new()
                .set("NAME", LLM_RATELIMIT_CLUSTER)
                .set("ADDRESS", service.ip().to_string())
                .set("PORT", service.port().to_string());
            out.push_str(&render_file("cluster-grpc.yaml", &values)?);
        }
        for cluster in &self.tls_clusters {
            let values = Values::new()
                .set("NAME", cluster.name.clone())
                .set("ADDRESS", cluster.upstream.ip().to_string())
                .set("PORT", cluster.upstream.port().to_string())
                .set("SNI", yaml_string(&cluster.sni))
                .set("CA_PEM", yaml_string(&cluster.ca_pem));
            out.push_str(&render_file("cluster-tls.yaml", &values)?);
        }
        Ok(out)
    }

    fn http_filters(&self) -> Result<String, HarnessError> {
        let mut out = cors::filter(&self.cors_origins)?;
        for metadata in &self.preset_metadata {
            let values = Values::new()
                .set("NAMESPACE", yaml_string(&metadata.namespace))
                .set("KEY", yaml_string(&metadata.key))
                .set("VALUE", yaml_string(&metadata.value));
            out.push_str(&render_file("filter-set-metadata.yaml", &values)?);
        }
        let Some(flavour) = self.flavour else {
            return Ok(out);
        };
        for filter in &self.filters {
            let values = match flavour {
                Flavour::DynamicModule => Values::new()
                    .set("FILTER_NAME", filter.name.clone())
                    .set("FILTER_CONFIG", yaml_string(&filter.config.to_string())),
                Flavour::Wasm => {
                    let plugin = json!({ "filter": filter.name, "config": filter.config });
                    Values::new()
                        .set("FILTER_NAME", filter.name.clone())
                        .set(
                            "WASM_FILE",
                            paths::wasm_plugin(self.artifacts)?.display().to_string(),
                        )
                        .set("PLUGIN_CONFIGURATION", yaml_string(&plugin.to_string()))
                }
            };
            out.push_str(&render_file(flavour.filter_template(), &values)?);
        }
        // After the llm filter, which picks the route the rate limit filter remembers.
        if self.llm_ratelimit.is_some() {
            let values = Values::new().set("RATELIMIT_CLUSTER", LLM_RATELIMIT_CLUSTER);
            out.push_str(&render_file("filter-ratelimit-llm.yaml", &values)?);
        }
        Ok(out)
    }
}

/// The llm example template `<stem>-<flavour>.yaml` (the two flavours publish the filter's
/// attributes differently: dynamic metadata or filter state).
fn llm_example(stem: &str, flavour: Flavour) -> String {
    match flavour {
        Flavour::DynamicModule => format!("{stem}-dynamic-module.yaml"),
        Flavour::Wasm => format!("{stem}-wasm.yaml"),
    }
}

/// A YAML double-quoted scalar holding `text`: JSON string escapes are valid YAML escapes.
fn yaml_string(text: &str) -> String {
    Value::String(text.to_string()).to_string()
}

fn read_template(name: &str) -> Result<String, HarnessError> {
    let path = paths::envoy_dir().join(name);
    std::fs::read_to_string(&path)
        .map_err(|e| HarnessError::io(format!("reading {}", path.display()), e))
}

pub(crate) fn render_file(name: &str, values: &Values) -> Result<String, HarnessError> {
    render(name, &read_template(name)?, values)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn demo() -> AgentRoute {
        AgentRoute::new("demo", "127.0.0.1:8001".parse().unwrap())
    }

    #[test]
    fn bare_bootstrap_has_route_and_cluster_but_no_gateway_filter() {
        let yaml = Bootstrap::new(None)
            .agent(demo())
            .filter("a2a", a2a_config(&[demo()]))
            .render()
            .unwrap();
        assert!(yaml.contains("prefix: \"/a2a/demo/\""), "{yaml}");
        assert!(yaml.contains("cluster: agent_demo"), "{yaml}");
        assert!(yaml.contains("port_value: 8001"), "{yaml}");
        assert!(!yaml.contains("DynamicModuleFilter"), "{yaml}");
        assert!(!yaml.contains("filters.http.wasm"), "{yaml}");
        assert!(!yaml.contains("{{"), "{yaml}");
    }

    #[test]
    fn dynamic_module_filter_carries_its_json_config_as_a_string() {
        let yaml = Bootstrap::new(Some(Flavour::DynamicModule))
            .agent(demo())
            .filter("a2a", json!({ "signedCards": "keep" }))
            .render()
            .unwrap();
        assert!(yaml.contains("filter_name: a2a"), "{yaml}");
        assert!(
            yaml.contains(r#"value: "{\"signedCards\":\"keep\"}""#),
            "{yaml}"
        );
    }

    #[test]
    fn mcp_backends_get_the_cluster_header_route_and_a_cluster_each() {
        let a = McpBackendRoute::new("a", "127.0.0.1:8101".parse().unwrap());
        let b = McpBackendRoute::new("b", "127.0.0.1:8102".parse().unwrap());
        let config = mcp_config(&[a.clone(), b.clone()], "a2V5");
        assert_eq!(config["backends"][1]["cluster"], "mcp_b");
        assert_eq!(config["session"]["keys"][0], "a2V5");
        let yaml = Bootstrap::new(Some(Flavour::DynamicModule))
            .agent(demo())
            .mcp_backend(a)
            .mcp_backend(b)
            .filter("mcp", config)
            .render()
            .unwrap();
        assert!(
            yaml.contains("cluster_header: x-ai-gateway-mcp-backend"),
            "{yaml}"
        );
        assert!(yaml.contains("path: \"/mcp\""), "{yaml}");
        assert!(yaml.contains("name: mcp_a"), "{yaml}");
        assert!(yaml.contains("port_value: 8102"), "{yaml}");
        // The MCP route comes first, so no agent prefix can shadow a routed backend.
        assert!(yaml.find("cluster_header").unwrap() < yaml.find("agent_demo").unwrap());
        assert!(!yaml.contains("{{"), "{yaml}");
    }

    #[test]
    fn llm_providers_get_the_cluster_header_route_and_a_cluster_each() {
        let claude = LlmProviderRoute::new("claude", "127.0.0.1:8201".parse().unwrap());
        let gpt = LlmProviderRoute::new("gpt", "127.0.0.1:8202".parse().unwrap());
        assert_eq!(claude.cluster(), "llm_claude");
        let yaml = Bootstrap::new(Some(Flavour::Wasm))
            .agent(demo())
            .llm_provider(claude)
            .llm_provider(gpt)
            .filter("llm", json!({ "providers": {} }))
            .render()
            .unwrap();
        assert!(
            yaml.contains("cluster_header: x-ai-gateway-llm-cluster"),
            "{yaml}"
        );
        assert!(yaml.contains("prefix: \"/v1/\""), "{yaml}");
        assert!(yaml.contains("name: llm_claude"), "{yaml}");
        assert!(yaml.contains("port_value: 8202"), "{yaml}");
        // Streams have no overall deadline.
        let route = &yaml[yaml.find("x-ai-gateway-llm-cluster").unwrap()..];
        assert!(route.contains("timeout: 0s"), "{yaml}");
        assert!(yaml.find("cluster_header").unwrap() < yaml.find("agent_demo").unwrap());
        assert!(!yaml.contains("{{"), "{yaml}");
    }

    #[test]
    fn llm_accounting_examples_render_per_flavour() {
        let provider = LlmProviderRoute::new("gpt", "127.0.0.1:8202".parse().unwrap());
        for (flavour, reads) in [
            (
                Flavour::DynamicModule,
                "%DYNAMIC_METADATA(ai_gateway.llm:total_tokens)%",
            ),
            (
                Flavour::Wasm,
                "%FILTER_STATE(wasm.ai_gateway.llm.total_tokens:PLAIN)%",
            ),
        ] {
            let yaml = Bootstrap::new(Some(flavour))
                .llm_provider(provider.clone())
                .filter("llm", json!({ "providers": {} }))
                .llm_access_log(PathBuf::from("/tmp/llm-access.log"))
                .llm_ratelimit("127.0.0.1:8301".parse().unwrap())
                .render()
                .unwrap();
            assert!(yaml.contains(r#"path: "/tmp/llm-access.log""#), "{yaml}");
            assert!(yaml.contains(&format!(r#"format: "{reads}""#)), "{yaml}");
            assert!(yaml.contains("apply_on_stream_done: true"), "{yaml}");
            assert!(yaml.contains("name: llm_ratelimit"), "{yaml}");
            assert!(yaml.contains("http2_protocol_options"), "{yaml}");
            // The rate limit filter follows the llm filter (it keeps the route it first saw).
            let llm = yaml.find("name: ai_gateway.llm").unwrap();
            let ratelimit = yaml.find("name: envoy.filters.http.ratelimit").unwrap();
            assert!(llm < ratelimit, "{yaml}");
            assert!(!yaml.contains("{{"), "{yaml}");
        }
        let plain = Bootstrap::new(Some(Flavour::Wasm))
            .llm_provider(provider)
            .render()
            .unwrap();
        assert!(!plain.contains("access_log"), "{plain}");
        assert!(!plain.contains("ratelimit"), "{plain}");
    }

    #[test]
    fn preset_metadata_is_set_ahead_of_the_gateway_filters() {
        let yaml = Bootstrap::new(Some(Flavour::DynamicModule))
            .preset_metadata("conformance", "tier", "gold")
            .filter("host-probe", json!({}))
            .render()
            .unwrap();
        let set_metadata = yaml.find("envoy.filters.http.set_metadata").unwrap();
        let probe = yaml.find("filter_name: host-probe").unwrap();
        assert!(set_metadata < probe, "{yaml}");
        assert!(
            yaml.contains(r#"metadata_namespace: "conformance""#),
            "{yaml}"
        );
        assert!(yaml.contains(r#""tier": "gold""#), "{yaml}");
    }
}
