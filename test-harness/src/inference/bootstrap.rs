//! Renders `envoy/inference-bootstrap.yaml`: the inference filter's guard and route stages
//! around Envoy's ext_proc, one cluster per pool (override_host or ORIGINAL_DST), one HTTP/2
//! cluster per endpoint picker.

use std::net::{Ipv4Addr, SocketAddr};

use serde_json::{json, Value};

use crate::error::HarnessError;
use crate::flavour::Flavour;
use crate::paths::{self, Artifacts};
use crate::template::{render, Values};

/// How the chosen endpoint reaches the router (the inference filter's `finalHop`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FinalHop {
    /// A STATIC cluster of the pool's servers with the `override_host` policy.
    OverrideHost,
    /// An `ORIGINAL_DST` cluster reading `x-envoy-original-dst-host`.
    OriginalDst,
    /// A plain STATIC cluster; the filter sets the upstream override host (dynamic module).
    HostOverride,
}

impl FinalHop {
    fn config_name(self) -> &'static str {
        match self {
            FinalHop::OverrideHost => "overrideHost",
            FinalHop::OriginalDst => "originalDst",
            FinalHop::HostOverride => "hostOverride",
        }
    }
}

/// One inference pool: its servers, its EPP and how requests reach it.
#[derive(Debug, Clone)]
pub struct InferencePool {
    /// Pool name (metric tag, pool header value, cluster name suffix).
    pub name: String,
    /// The pool's endpoint picker.
    pub epp: SocketAddr,
    /// Model servers: the override_host cluster's endpoints and the FailOpen picker's choices.
    pub members: Vec<SocketAddr>,
    /// Address ranges the filter accepts picks in.
    pub cidrs: Vec<String>,
    /// Ports the filter accepts picks on.
    pub target_ports: Vec<u16>,
    /// `FailClose` or `FailOpen`.
    pub failure_mode: &'static str,
    /// Route weight among the pools sharing a route.
    pub weight: u32,
    /// With body routing: the `model` whose requests go to this pool.
    pub model: Option<String>,
}

impl InferencePool {
    /// A FailClose pool of `members`, accepting exactly their addresses and ports.
    pub fn new(name: &str, epp: SocketAddr, members: &[SocketAddr]) -> Self {
        let mut cidrs: Vec<String> = members.iter().map(|m| m.ip().to_string()).collect();
        cidrs.dedup();
        let mut target_ports: Vec<u16> = members.iter().map(SocketAddr::port).collect();
        target_ports.sort_unstable();
        target_ports.dedup();
        InferencePool {
            name: name.to_string(),
            epp,
            members: members.to_vec(),
            cidrs,
            target_ports,
            failure_mode: "FailClose",
            weight: 1,
            model: None,
        }
    }

    /// The pool's cluster.
    pub fn cluster(&self) -> String {
        format!("pool_{}", self.name)
    }

    pub(crate) fn epp_cluster(&self) -> String {
        format!("epp_{}", self.name)
    }
}

/// Everything an inference gateway's bootstrap depends on.
#[derive(Debug, Clone)]
pub struct InferenceBootstrap {
    pub flavour: Flavour,
    pub pools: Vec<InferencePool>,
    pub final_hop: FinalHop,
    /// Guard stage reads `model` from the body into `x-gateway-model-name`.
    pub body_routing: bool,
    /// How long ext_proc waits for the EPP.
    pub epp_timeout_ms: u64,
    pub artifacts: Artifacts,
    /// Gateway listener (port 0: any free port).
    pub listener: SocketAddr,
    /// Admin endpoint (port 0: any free port).
    pub admin: SocketAddr,
    /// The inference filter's two stages in the chain; without, ext_proc and the EPP alone
    /// (override_host then trusts the EPP's header as is: the benchmark's baseline).
    pub gateway_filters: bool,
    /// The two stages' places taken by the do-nothing `empty` filter (diagnostics build): the
    /// floor Envoy's filter machinery costs before any inference logic, for the benchmark.
    pub floor: bool,
    /// Envoy worker threads.
    pub concurrency: u32,
}

impl InferenceBootstrap {
    /// One flavour, these pools, override_host, no body routing.
    pub fn new(flavour: Flavour, pools: Vec<InferencePool>) -> Self {
        InferenceBootstrap {
            flavour,
            pools,
            final_hop: FinalHop::OverrideHost,
            body_routing: false,
            epp_timeout_ms: 2000,
            artifacts: Artifacts::Release,
            listener: SocketAddr::from((Ipv4Addr::LOCALHOST, 0)),
            admin: SocketAddr::from((Ipv4Addr::LOCALHOST, 0)),
            gateway_filters: true,
            floor: false,
            concurrency: 1,
        }
    }

    /// The guard stage's filter config. Its `eppTimeoutMs` (the bound on the whole EPP exchange,
    /// which ext_proc lacks in FULL_DUPLEX_STREAMED mode) is twice ext_proc's message timeout: a
    /// backstop behind it, so a BUFFERED (FailOpen) pool still fails open through ext_proc first.
    pub fn guard_config(&self) -> Value {
        let mut config = json!({ "stage": "guard", "eppTimeoutMs": self.epp_timeout_ms * 2 });
        if self.body_routing {
            config["bodyRouting"] = json!({});
        }
        config
    }

    /// The route stage's filter config.
    pub fn route_config(&self) -> Value {
        let pools: Vec<Value> = self
            .pools
            .iter()
            .map(|pool| {
                json!({
                    "name": pool.name,
                    "cidrs": pool.cidrs,
                    "targetPorts": pool.target_ports,
                    "endpoints": pool.members.iter().map(ToString::to_string).collect::<Vec<_>>(),
                    "failureMode": pool.failure_mode,
                })
            })
            .collect();
        json!({ "stage": "route", "finalHop": self.final_hop.config_name(), "pools": pools })
    }

    /// The bootstrap YAML.
    pub fn render(&self) -> Result<String, HarnessError> {
        let stats = match self.flavour {
            Flavour::Wasm => read_template("wasm-stats-tags.yaml")?,
            Flavour::DynamicModule => String::new(),
        };
        let values = Values::new()
            .set("ADMIN_ADDRESS", self.admin.ip().to_string())
            .set("ADMIN_PORT", self.admin.port().to_string())
            .set("LISTENER_ADDRESS", self.listener.ip().to_string())
            .set("LISTENER_PORT", self.listener.port().to_string())
            .set("STATS_CONFIG", stats)
            .set("ROUTES", self.routes()?)
            .set("HTTP_FILTERS", self.http_filters()?)
            .set("CLUSTERS", self.clusters()?);
        render_file("inference-bootstrap.yaml", &values)
    }

    pub(crate) fn timeout(&self) -> String {
        format!("{}s", self.epp_timeout_ms as f64 / 1000.0)
    }

    fn routes(&self) -> Result<String, HarnessError> {
        let mut out = String::new();
        let (by_model, shared): (Vec<&InferencePool>, Vec<&InferencePool>) =
            self.pools.iter().partition(|p| p.model.is_some());
        for pool in by_model {
            let model = pool.model.clone().unwrap_or_default();
            let matcher = format!(
                "prefix: \"/v1/\"\nheaders:\n- name: x-gateway-model-name\n  string_match: {{ exact: {} }}",
                Value::String(model)
            );
            out.push_str(&self.route(&matcher, &[pool])?);
        }
        if !shared.is_empty() {
            out.push_str(&self.route("prefix: \"/v1/\"", &shared)?);
        }
        Ok(out)
    }

    fn route(&self, matcher: &str, pools: &[&InferencePool]) -> Result<String, HarnessError> {
        let mut clusters = String::new();
        for pool in pools {
            let values = Values::new()
                .set("CLUSTER", pool.cluster())
                .set("WEIGHT", pool.weight.to_string())
                .set("POOL", pool.name.clone())
                .set("EPP_CLUSTER", pool.epp_cluster())
                .set("EPP_TIMEOUT", self.timeout());
            clusters.push_str(&render_file("inference-route-pool.yaml", &values)?);
        }
        let values = Values::new()
            .set("MATCH", matcher)
            .set("POOL_CLUSTERS", clusters);
        render_file("inference-route.yaml", &values)
    }

    pub(crate) fn http_filters(&self) -> Result<String, HarnessError> {
        let mut out = String::new();
        if self.gateway_filters {
            out.push_str(&self.gateway_filter(&self.guard_config())?);
        }
        out.push_str(&render_file(
            "inference-filter-pool-header.yaml",
            &Values::new(),
        )?);
        let first = self.pools.first().ok_or_else(|| {
            HarnessError::Usage("an inference bootstrap needs at least one pool".into())
        })?;
        // Envoy 1.40's ext_proc fails open only in BUFFERED mode (see the template).
        let body_mode = if self.pools.iter().any(|p| p.failure_mode == "FailOpen") {
            "BUFFERED"
        } else {
            "FULL_DUPLEX_STREAMED"
        };
        let values = Values::new()
            .set("EPP_CLUSTER", first.epp_cluster())
            .set("EPP_TIMEOUT", self.timeout())
            .set("BODY_MODE", body_mode);
        out.push_str(&render_file("inference-filter-ext-proc.yaml", &values)?);
        if self.gateway_filters {
            if self.flavour == Flavour::Wasm && !self.floor {
                // Proxy-wasm cannot write dynamic metadata: the served header becomes envoy.lb
                // metadata here, on its way back to ext_proc.
                out.push_str(&render_file(
                    "inference-filter-served-metadata.yaml",
                    &Values::new(),
                )?);
            }
            out.push_str(&self.gateway_filter(&self.route_config())?);
        }
        Ok(out)
    }

    fn gateway_filter(&self, config: &Value) -> Result<String, HarnessError> {
        let (name, config) = if self.floor {
            ("empty", &json!({}))
        } else {
            ("inference", config)
        };
        let values = match self.flavour {
            Flavour::DynamicModule => Values::new()
                .set("FILTER_NAME", name)
                .set("FILTER_CONFIG", yaml_string(&config.to_string())),
            Flavour::Wasm => {
                let plugin = json!({ "filter": name, "config": config });
                Values::new()
                    .set("FILTER_NAME", name)
                    .set(
                        "WASM_FILE",
                        paths::wasm_plugin(self.artifacts)?.display().to_string(),
                    )
                    .set("PLUGIN_CONFIGURATION", yaml_string(&plugin.to_string()))
            }
        };
        render_file(self.flavour.filter_template(), &values)
    }

    pub(crate) fn clusters(&self) -> Result<String, HarnessError> {
        let mut out = String::new();
        for pool in &self.pools {
            let values = Values::new().set("NAME", pool.cluster());
            let cluster = match self.final_hop {
                FinalHop::OverrideHost => render_file(
                    "inference-cluster-override-host.yaml",
                    &values.set("ENDPOINTS", endpoints_block(&pool.members)),
                )?,
                FinalHop::OriginalDst => {
                    render_file("inference-cluster-original-dst.yaml", &values)?
                }
                FinalHop::HostOverride => render_file(
                    "inference-cluster-static.yaml",
                    &values.set("ENDPOINTS", endpoints_block(&pool.members)),
                )?,
            };
            out.push_str(&cluster);
            let values = Values::new()
                .set("NAME", pool.epp_cluster())
                .set("ADDRESS", pool.epp.ip().to_string())
                .set("PORT", pool.epp.port().to_string());
            out.push_str(&render_file("inference-cluster-epp.yaml", &values)?);
        }
        Ok(out)
    }
}

/// `lb_endpoints` entries for these addresses.
fn endpoints_block(members: &[SocketAddr]) -> String {
    members
        .iter()
        .map(|m| {
            format!(
                "- endpoint: {{ address: {{ socket_address: {{ address: \"{}\", port_value: {} }} }} }}\n",
                m.ip(),
                m.port()
            )
        })
        .collect()
}

/// A YAML double-quoted scalar holding `text`.
fn yaml_string(text: &str) -> String {
    Value::String(text.to_string()).to_string()
}

fn read_template(name: &str) -> Result<String, HarnessError> {
    let path = paths::envoy_dir().join(name);
    std::fs::read_to_string(&path)
        .map_err(|e| HarnessError::io(format!("reading {}", path.display()), e))
}

fn render_file(name: &str, values: &Values) -> Result<String, HarnessError> {
    render(name, &read_template(name)?, values)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pools() -> Vec<InferencePool> {
        let epp: SocketAddr = "127.0.0.1:9000".parse().unwrap();
        let a = InferencePool::new(
            "a",
            epp,
            &[
                "127.0.0.2:8000".parse().unwrap(),
                "[::1]:8000".parse().unwrap(),
            ],
        );
        let mut b = InferencePool::new(
            "b",
            "127.0.0.1:9001".parse().unwrap(),
            &["127.0.0.3:8001".parse().unwrap()],
        );
        b.weight = 3;
        vec![a, b]
    }

    #[test]
    fn pools_share_one_weighted_route_with_their_own_epp_and_pool_header() {
        let yaml = InferenceBootstrap::new(Flavour::DynamicModule, pools())
            .render()
            .unwrap();
        assert!(!yaml.contains("{{"), "{yaml}");
        assert!(yaml.contains("weight: 3"), "{yaml}");
        assert!(yaml.contains("cluster_name: epp_b"), "{yaml}");
        assert!(yaml.contains(r#"value: "b""#), "{yaml}");
        assert!(
            yaml.contains(r#"address: "::1", port_value: 8000"#),
            "{yaml}"
        );
        assert!(
            yaml.contains("envoy.load_balancing_policies.override_host"),
            "{yaml}"
        );
        let guard = yaml.find(r#"\"stage\":\"guard\""#).unwrap();
        let ext_proc = yaml.find("envoy.filters.http.ext_proc\n").unwrap();
        let route = yaml.find(r#"\"stage\":\"route\""#).unwrap();
        assert!(guard < ext_proc && ext_proc < route, "{yaml}");
    }

    #[test]
    fn body_routing_gives_each_model_its_route() {
        let mut pools = pools();
        pools[0].model = Some("llama".into());
        pools[1].model = Some("qwen".into());
        let mut bootstrap = InferenceBootstrap::new(Flavour::DynamicModule, pools);
        bootstrap.body_routing = true;
        bootstrap.final_hop = FinalHop::OriginalDst;
        let yaml = bootstrap.render().unwrap();
        assert!(
            yaml.contains(r#"string_match: { exact: "qwen" }"#),
            "{yaml}"
        );
        assert!(yaml.contains("type: ORIGINAL_DST"), "{yaml}");
        assert!(yaml.contains(r#"bodyRouting"#), "{yaml}");
    }
}
