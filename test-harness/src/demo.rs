//! The demo gateway's bootstrap (scripts/demo): one Envoy listener serving every capability at
//! once — authz in front (optional tokens, RFC 9728 metadata), `/mcp` (MCP servers and an OpenAPI REST API behind the mcp filter, CORS for browser
//! clients), `/a2a/demo/` (a2a filter), `/v1/chat/completions` and `/v1/messages` (llm filter,
//! to fake or real OpenAI and Anthropic) and `/inference/v1/…` (ext_proc + an endpoint picker +
//! the inference filter's two stages, switched on only on that route).
//!
//! It is the main bootstrap (envoy/bootstrap.yaml through [`Bootstrap`], with Envoy's CORS
//! filter) with the inference chain's filters, route and clusters (envoy/inference-*.yaml,
//! envoy/demo-*inference*.yaml) spliced in.

use std::net::{Ipv4Addr, SocketAddr};

use serde_json::{json, Value};

use crate::bootstrap::{
    a2a_config, mcp_config, AgentRoute, Bootstrap, LlmProviderRoute, McpBackendRoute,
    TlsClusterRoute,
};
use crate::error::HarnessError;
use crate::flavour::Flavour;
use crate::inference::{InferenceBootstrap, InferencePool};
use crate::paths;
use crate::rest_api::REST_API_HOST;
use crate::template::{render, Values};

/// The OpenAPI backend's name on `/mcp` (its tools are `clinic_<operationId>`).
pub const DEMO_OPENAPI_BACKEND: &str = "clinic";
/// The header the demo REST API requires, and its value (clients/rest_api.py).
const REST_API_KEY: (&str, &str) = ("x-api-key", "test-key");
/// The inference pool's name (metric tag, pool header value).
pub const DEMO_POOL: &str = "demo";
/// Gateway path prefix of the inference route: `/inference/v1/…` reaches the pool as `/v1/…`.
pub const DEMO_INFERENCE_PREFIX: &str = "/inference";

/// An LLM provider of the demo: a local fake, or the real API when a key is given.
#[derive(Debug, Clone)]
pub enum DemoLlm {
    /// A fake provider at `addr` accepting `api_key`.
    Fake { addr: SocketAddr, api_key: String },
    /// The provider's public API (api.openai.com, api.anthropic.com) with this key.
    Real { api_key: String },
}

/// The identity provider whose keys the authz filter checks tokens with.
#[derive(Debug, Clone)]
pub struct DemoIdp {
    /// Where its JWKS is served.
    pub addr: SocketAddr,
    /// The `iss` of its tokens.
    pub issuer: String,
    /// Its JWKS URL (fetched through the `demo_idp` cluster).
    pub jwks_url: String,
}

/// The `aud` the demo's authz filter accepts.
pub const DEMO_AUDIENCE: &str = "ai-gateway-demo";
/// The Envoy cluster of the demo's identity provider.
const IDP_CLUSTER: &str = "demo_idp";

/// The REST API behind the mcp filter's OpenAPI backend.
#[derive(Debug, Clone)]
pub struct DemoOpenApi {
    /// Where it listens (HTTPS, certificate for [`REST_API_HOST`]).
    pub addr: SocketAddr,
    /// The CA that signed its certificate (PEM).
    pub ca_pem: String,
    /// Its OpenAPI document.
    pub spec: Value,
}

/// Where the demo's upstreams listen, and what the filters need to know about them.
#[derive(Debug, Clone)]
pub struct DemoUpstreams {
    /// The A2A agent behind `/a2a/demo/`.
    pub agent: SocketAddr,
    /// MCP servers (name → address, serving `/mcp`).
    pub mcp_backends: Vec<(String, SocketAddr)>,
    /// The mcp filter's session key (base64 of 32 bytes).
    pub mcp_session_key: String,
    /// The OpenAPI backend, if any.
    pub openapi: Option<DemoOpenApi>,
    /// OpenAI (`/v1/chat/completions` for `gpt-*` models and the default).
    pub openai: DemoLlm,
    /// Anthropic (`claude-*` models).
    pub anthropic: DemoLlm,
    /// The inference pool's endpoint picker (ext_proc gRPC).
    pub epp: SocketAddr,
    /// The inference pool's model servers.
    pub model_servers: Vec<SocketAddr>,
    /// Browser origins allowed on `/mcp` (CORS and the mcp filter's `allowedOrigins`).
    pub cors_origins: Vec<String>,
    /// The identity provider of the authz filter (none: no authz filter).
    pub idp: Option<DemoIdp>,
}

/// The demo's Envoy bootstrap for one flavour.
#[derive(Debug, Clone)]
pub struct DemoBootstrap {
    /// Which build of the filters Envoy loads.
    pub flavour: Flavour,
    /// The gateway listener.
    pub listener: SocketAddr,
    /// Envoy's admin endpoint.
    pub admin: SocketAddr,
    /// The upstreams behind the routes.
    pub upstreams: DemoUpstreams,
}

impl DemoBootstrap {
    /// The demo on 127.0.0.1:10000 (admin 127.0.0.1:9901) in front of `upstreams`.
    pub fn new(flavour: Flavour, upstreams: DemoUpstreams) -> Self {
        DemoBootstrap {
            flavour,
            listener: SocketAddr::from((Ipv4Addr::LOCALHOST, 10000)),
            admin: SocketAddr::from((Ipv4Addr::LOCALHOST, 9901)),
            upstreams,
        }
    }

    /// The bootstrap YAML.
    pub fn render(&self) -> Result<String, HarnessError> {
        let main = self.main_bootstrap()?.render()?;
        let mut bootstrap: Value = from_yaml("the main bootstrap", &main)?;
        self.add_inference(&mut bootstrap)?;
        self.add_idp_cluster(&mut bootstrap)?;
        self.use_public_llm_clusters(&mut bootstrap)?;
        let yaml = serde_yaml_ng::to_string(&bootstrap)
            .map_err(|e| HarnessError::Usage(format!("writing the demo bootstrap: {e}")))?;
        Ok(format!(
            "# AI gateway demo ({}), rendered by `demo-gateway render` (scripts/demo).\n{yaml}",
            self.flavour
        ))
    }

    /// Listener, MCP/LLM/A2A routes and clusters, and the mcp, a2a and llm filters.
    fn main_bootstrap(&self) -> Result<Bootstrap, HarnessError> {
        let up = &self.upstreams;
        let agent = AgentRoute::new("demo", up.agent);
        let backends: Vec<McpBackendRoute> = up
            .mcp_backends
            .iter()
            .map(|(name, addr)| McpBackendRoute::new(name, *addr))
            .collect();
        let mut bootstrap = Bootstrap::new(Some(self.flavour));
        if let Some(idp) = &up.idp {
            bootstrap = bootstrap.filter("authz", self.authz_config(idp));
        }
        let mut bootstrap = bootstrap
            .filter("mcp", self.mcp_config(&backends))
            .filter("a2a", a2a_config(std::slice::from_ref(&agent)))
            .filter("llm", self.llm_config())
            .agent(agent);
        bootstrap.listener = self.listener;
        bootstrap.admin = self.admin;
        for backend in backends {
            bootstrap = bootstrap.mcp_backend(backend);
        }
        for origin in &up.cors_origins {
            bootstrap = bootstrap.cors_origin(origin);
        }
        if let Some(api) = &up.openapi {
            bootstrap = bootstrap.tls_cluster(TlsClusterRoute {
                name: openapi_cluster(),
                upstream: api.addr,
                sni: REST_API_HOST.to_string(),
                ca_pem: api.ca_pem.clone(),
            });
        }
        // A real provider's cluster is replaced by a public TLS one after rendering.
        let unused = SocketAddr::from((Ipv4Addr::LOCALHOST, 443));
        for (name, llm) in [("openai", &up.openai), ("anthropic", &up.anthropic)] {
            let addr = match llm {
                DemoLlm::Fake { addr, .. } => *addr,
                DemoLlm::Real { .. } => unused,
            };
            bootstrap = bootstrap.llm_provider(LlmProviderRoute::new(name, addr));
        }
        Ok(bootstrap)
    }

    /// Tokens are optional (anonymous requests pass); a token that is sent must verify, and its
    /// subject reaches the upstreams as `x-user`. The RFC 9728 metadata names the MCP endpoint.
    fn authz_config(&self, idp: &DemoIdp) -> Value {
        json!({
            "issuers": [idp.issuer],
            "audiences": [DEMO_AUDIENCE],
            "jwks": { "remote": { "cluster": IDP_CLUSTER, "url": idp.jwks_url } },
            "allowAnonymous": true,
            "claimHeaders": [{ "claim": "sub", "header": "x-user" }],
            "resourceMetadata": {
                "resource": format!("http://{}/mcp", self.listener),
                "authorizationServers": [idp.issuer],
            },
        })
    }

    fn mcp_config(&self, backends: &[McpBackendRoute]) -> Value {
        let up = &self.upstreams;
        let mut config = mcp_config(backends, &up.mcp_session_key);
        if let Some(api) = &up.openapi {
            let (header, value) = REST_API_KEY;
            config["backends"]
                .as_array_mut()
                .expect("mcp_config lists backends")
                .push(json!({
                    "name": DEMO_OPENAPI_BACKEND, "type": "openapi", "cluster": openapi_cluster(),
                    "host": REST_API_HOST, "spec": api.spec, "headers": { header: value }
                }));
        }
        config["allowedOrigins"] = json!(up.cors_origins);
        config
    }

    fn llm_config(&self) -> Value {
        let provider = |kind: &str, llm: &DemoLlm, host: &str| {
            let mut entry = json!({ "kind": kind, "cluster": format!("llm_{kind}") });
            match llm {
                DemoLlm::Fake { api_key, .. } => entry["apiKey"] = json!(api_key),
                DemoLlm::Real { api_key } => {
                    entry["apiKey"] = json!(api_key);
                    entry["host"] = json!(host);
                }
            }
            entry
        };
        let up = &self.upstreams;
        json!({
            "providers": {
                "openai": provider("openai", &up.openai, "api.openai.com"),
                "anthropic": provider("anthropic", &up.anthropic, "api.anthropic.com"),
            },
            "models": {
                "claude-haiku-4-5": { "provider": "anthropic", "model": "claude-haiku-4-5" },
                "claude-sonnet-4-5": { "provider": "anthropic", "model": "claude-sonnet-4-5" },
            },
            "defaultProvider": "openai",
        })
    }

    /// The inference chain (guard, pool header, ext_proc, [served metadata], route stage) before
    /// the router; ext_proc enabled and the route stage run only on the inference route.
    fn add_inference(&self, bootstrap: &mut Value) -> Result<(), HarnessError> {
        let up = &self.upstreams;
        let pool = InferencePool::new(DEMO_POOL, up.epp, &up.model_servers);
        let inference = InferenceBootstrap::new(self.flavour, vec![pool.clone()]);
        let mut filters = from_yaml_list("the inference filters", &inference.http_filters()?)?;
        for filter in filters.iter_mut() {
            if filter["name"] == "envoy.filters.http.ext_proc" {
                filter["disabled"] = json!(true);
            }
        }
        let route_stage = filters.pop().ok_or_else(|| {
            HarnessError::Usage("the inference chain ends with its route stage".into())
        })?;
        let stage_yaml = serde_yaml_ng::to_string(&route_stage)
            .map_err(|e| HarnessError::Usage(format!("the route stage: {e}")))?;
        let wrapped = render_template(
            "demo-filter-inference-route.yaml",
            &Values::new()
                .set("PATH_PREFIX", DEMO_INFERENCE_PREFIX)
                .set("FILTER", stage_yaml),
        )?;
        filters.extend(from_yaml_list("the wrapped route stage", &wrapped)?);
        let hcm = connection_manager(bootstrap)?;
        let chain = array(hcm, "http_filters")?;
        let router = chain.len() - 1;
        chain.splice(router..router, filters);
        let route = render_template(
            "demo-route-inference.yaml",
            &Values::new()
                .set("PATH_PREFIX", DEMO_INFERENCE_PREFIX)
                .set("CLUSTER", pool.cluster())
                .set("POOL", DEMO_POOL)
                .set("EPP_CLUSTER", pool.epp_cluster())
                .set("EPP_TIMEOUT", inference.timeout()),
        )?;
        let route = from_yaml_list("the inference route", &route)?;
        let routes = array(&mut hcm["route_config"]["virtual_hosts"][0], "routes")?;
        routes.splice(0..0, route);
        let clusters = from_yaml_list("the inference clusters", &inference.clusters()?)?;
        array(&mut bootstrap["static_resources"], "clusters")?.extend(clusters);
        Ok(())
    }

    /// The identity provider's cluster (the authz filter fetches its keys by callout).
    fn add_idp_cluster(&self, bootstrap: &mut Value) -> Result<(), HarnessError> {
        let Some(idp) = &self.upstreams.idp else {
            return Ok(());
        };
        let values = Values::new()
            .set("NAME", IDP_CLUSTER)
            .set("ADDRESS", idp.addr.ip().to_string())
            .set("PORT", idp.addr.port().to_string());
        let cluster = from_yaml_list(
            "the IdP cluster",
            &render_template("cluster.yaml", &values)?,
        )?;
        array(&mut bootstrap["static_resources"], "clusters")?.extend(cluster);
        Ok(())
    }

    /// Real providers reached over TLS by DNS name instead of a local cluster.
    fn use_public_llm_clusters(&self, bootstrap: &mut Value) -> Result<(), HarnessError> {
        let up = &self.upstreams;
        for (kind, llm, host) in [
            ("openai", &up.openai, "api.openai.com"),
            ("anthropic", &up.anthropic, "api.anthropic.com"),
        ] {
            if let DemoLlm::Real { .. } = llm {
                let name = format!("llm_{kind}");
                let values = Values::new().set("NAME", name.clone()).set("HOST", host);
                let public = from_yaml_list(
                    "a public TLS cluster",
                    &render_template("demo-cluster-public-tls.yaml", &values)?,
                )?;
                let clusters = array(&mut bootstrap["static_resources"], "clusters")?;
                clusters.retain(|cluster| cluster["name"] != name.as_str());
                clusters.extend(public);
            }
        }
        Ok(())
    }
}

/// The Envoy cluster of the OpenAPI backend (TLS to the REST API).
fn openapi_cluster() -> String {
    format!("rest_{DEMO_OPENAPI_BACKEND}")
}

fn connection_manager(bootstrap: &mut Value) -> Result<&mut Value, HarnessError> {
    bootstrap
        .pointer_mut("/static_resources/listeners/0/filter_chains/0/filters/0/typed_config")
        .ok_or_else(|| HarnessError::Usage("the main bootstrap has no connection manager".into()))
}

fn array<'a>(parent: &'a mut Value, key: &str) -> Result<&'a mut Vec<Value>, HarnessError> {
    if parent[key].is_null() {
        parent[key] = json!([]);
    }
    parent[key]
        .as_array_mut()
        .ok_or_else(|| HarnessError::Usage(format!("`{key}` is not a list")))
}

fn from_yaml(what: &str, yaml: &str) -> Result<Value, HarnessError> {
    serde_yaml_ng::from_str(yaml).map_err(|e| HarnessError::Usage(format!("{what}: {e}\n{yaml}")))
}

fn from_yaml_list(what: &str, yaml: &str) -> Result<Vec<Value>, HarnessError> {
    match from_yaml(what, yaml)? {
        Value::Array(items) => Ok(items),
        other => Err(HarnessError::Usage(format!("{what}: not a list: {other}"))),
    }
}

fn render_template(name: &str, values: &Values) -> Result<String, HarnessError> {
    let path = paths::envoy_dir().join(name);
    let template = std::fs::read_to_string(&path)
        .map_err(|e| HarnessError::io(format!("reading {}", path.display()), e))?;
    render(name, &template, values)
}
