//! What Istio makes of the manifests in `envoy/istio/`, reduced to the parts that reach Envoy, for
//! tests/istio_manifests.rs (no Kubernetes here: this is the translation istiod and istio-agent
//! would do for the `istio: ai-gateway` proxies, written down from Istio's pilot code):
//! - a WasmPlugin becomes an `envoy.filters.http.wasm` filter (see [`wasm_plugin_filter`]);
//! - an EnvoyFilter patch is applied to the gateway's listener: HTTP_FILTER INSERT_BEFORE the
//!   router, HTTP_ROUTE INSERT_FIRST into the route table, CLUSTER ADD (anything else fails the
//!   test);
//! - a VirtualService route (uri prefix, rewrite, one destination) becomes an Envoy route to the
//!   outbound cluster `outbound|<port>||<host>`;
//! - the pod annotation `proxy.istio.io/config` `proxyStatsMatcher` joins Istio's default stats
//!   inclusions in `stats_config.stats_matcher`; the `sidecar.istio.io/bootstrapOverride`
//!   ConfigMap's `custom_bootstrap.json` is merged into the bootstrap (repeated fields appended).

use std::path::Path;

use ai_gateway_test_harness::paths;
use serde::Deserialize;
use serde_json::{json, Value};

/// Every document of every manifest in `envoy/istio/`.
pub struct Manifests {
    docs: Vec<Value>,
}

impl Manifests {
    /// Reads and parses `envoy/istio/*.yaml` (multi-document files).
    pub fn load() -> Manifests {
        let dir = paths::envoy_dir().join("istio");
        let mut files: Vec<_> = std::fs::read_dir(&dir)
            .expect("envoy/istio exists")
            .filter_map(Result::ok)
            .map(|entry| entry.path())
            .filter(|path| path.extension().is_some_and(|ext| ext == "yaml"))
            .collect();
        files.sort();
        let mut docs = Vec::new();
        for file in files {
            let text = std::fs::read_to_string(&file).expect("a readable manifest");
            for document in serde_yaml_ng::Deserializer::from_str(&text) {
                let doc = Value::deserialize(document)
                    .unwrap_or_else(|e| panic!("{} is not valid YAML: {e}", file.display()));
                if !doc.is_null() {
                    docs.push(doc);
                }
            }
        }
        Manifests { docs }
    }

    /// The one document of `kind` named `name`.
    pub fn named(&self, kind: &str, name: &str) -> &Value {
        self.docs
            .iter()
            .find(|d| d["kind"] == kind && d["metadata"]["name"] == name)
            .unwrap_or_else(|| panic!("no {kind} {name} in envoy/istio"))
    }
}

/// Applies every patch of `envoy_filter` to the gateway's connection manager `hcm`; returns the
/// clusters it adds.
pub fn apply_envoy_filter(envoy_filter: &Value, hcm: &mut Value) -> Vec<Value> {
    let mut clusters = Vec::new();
    let name = envoy_filter["metadata"]["name"].as_str().unwrap_or("?");
    let patches = envoy_filter["spec"]["configPatches"]
        .as_array()
        .unwrap_or_else(|| panic!("EnvoyFilter {name} has no configPatches"));
    for patch in patches {
        let operation = patch["patch"]["operation"].as_str().unwrap_or("?");
        let value = patch["patch"]["value"].clone();
        assert_eq!(
            patch["match"]["context"], "GATEWAY",
            "EnvoyFilter {name}: every patch targets the gateway"
        );
        match (patch["applyTo"].as_str().unwrap_or("?"), operation) {
            ("HTTP_FILTER", "INSERT_BEFORE") => {
                let sub_filter =
                    &patch["match"]["listener"]["filterChain"]["filter"]["subFilter"]["name"];
                let filters = hcm["http_filters"].as_array_mut().expect("http_filters");
                let at = filters
                    .iter()
                    .position(|f| f["name"] == *sub_filter)
                    .unwrap_or_else(|| panic!("EnvoyFilter {name}: no filter {sub_filter}"));
                filters.insert(at, value);
            }
            ("HTTP_ROUTE", "INSERT_FIRST") => {
                for vhost in hcm["route_config"]["virtual_hosts"]
                    .as_array_mut()
                    .expect("virtual_hosts")
                {
                    vhost["routes"]
                        .as_array_mut()
                        .expect("routes")
                        .insert(0, value.clone());
                }
            }
            ("CLUSTER", "ADD") => clusters.push(value),
            (apply_to, operation) => {
                panic!("EnvoyFilter {name}: {apply_to}/{operation} is not translated by this test")
            }
        }
    }
    clusters
}

/// The Envoy routes of a VirtualService's `http` entries (prefix match, rewrite, one destination).
pub fn virtual_service_routes(service: &Value) -> Vec<Value> {
    let entries = service["spec"]["http"].as_array().expect("http routes");
    entries
        .iter()
        .map(|entry| {
            let [matcher] = entry["match"].as_array().expect("a match").as_slice() else {
                panic!("one match per route in this test's translation");
            };
            let [destination] = entry["route"].as_array().expect("a route").as_slice() else {
                panic!("one destination per route in this test's translation");
            };
            let destination = &destination["destination"];
            let cluster = format!(
                "outbound|{}||{}",
                destination["port"]["number"],
                destination["host"].as_str().expect("a host")
            );
            let mut route = json!({ "cluster": cluster });
            if let Some(rewrite) = entry["rewrite"]["uri"].as_str() {
                route["prefix_rewrite"] = json!(rewrite);
            }
            if let Some(timeout) = entry["timeout"].as_str() {
                route["timeout"] = json!(timeout);
            }
            json!({
                "name": entry["name"],
                "match": { "prefix": matcher["uri"]["prefix"].as_str().expect("a uri prefix") },
                "route": route,
            })
        })
        .collect()
}

/// A subset of the stats Istio's bootstrap keeps by default (proxyStatsMatcher adds to them).
const ISTIO_DEFAULT_INCLUSION_PREFIXES: [&str; 5] = [
    "cluster_manager",
    "listener_manager",
    "server",
    "cluster.xds-grpc",
    "wasm",
];

/// `stats_matcher` for a pod whose `proxy.istio.io/config` annotation is `proxy_config` (YAML).
pub fn stats_matcher(proxy_config: &str) -> Value {
    let config: Value = serde_yaml_ng::from_str(proxy_config).expect("proxy.istio.io/config YAML");
    let matcher = &config["proxyStatsMatcher"];
    let mut patterns: Vec<Value> = ISTIO_DEFAULT_INCLUSION_PREFIXES
        .iter()
        .map(|prefix| json!({ "prefix": prefix }))
        .collect();
    for (field, key) in [
        ("inclusionPrefixes", "prefix"),
        ("inclusionSuffixes", "suffix"),
    ] {
        for value in matcher[field].as_array().into_iter().flatten() {
            patterns.push(json!({ key: value }));
        }
    }
    for regex in matcher["inclusionRegexps"].as_array().into_iter().flatten() {
        patterns.push(json!({ "safe_regex": { "regex": regex } }));
    }
    json!({ "inclusion_list": { "patterns": patterns } })
}

/// Merges `overlay` into `base` as protobuf merging does: objects field by field, arrays
/// appended, scalars replaced.
pub fn merge_bootstrap(base: &mut Value, overlay: &Value) {
    match (base, overlay) {
        (Value::Object(base), Value::Object(overlay)) => {
            for (key, value) in overlay {
                merge_bootstrap(base.entry(key.clone()).or_insert(Value::Null), value);
            }
        }
        (Value::Array(base), Value::Array(overlay)) => base.extend(overlay.iter().cloned()),
        (base, overlay) => *base = overlay.clone(),
    }
}

/// Every Istio outbound cluster name (`outbound|<port>||<host>`) mentioned in `config`,
/// including inside the filters' JSON configs.
pub fn outbound_clusters(config: &Value) -> Vec<String> {
    let text = config.to_string().replace("\\\"", "\"");
    let mut names: Vec<String> = text
        .match_indices("outbound|")
        .map(|(at, _)| {
            text[at..]
                .chars()
                .take_while(|c| *c != '"' && *c != '\\')
                .collect()
        })
        .collect();
    names.sort();
    names.dedup();
    names
}

/// The HTTP filter istiod generates (and delivers over ECDS) for a WasmPlugin, its code loaded
/// from `wasm_file` (pilot's WasmPluginWrapper.buildPluginConfig): root_id = pluginName,
/// configuration = pluginConfig as JSON in a StringValue, a V8 VM with the resource-version
/// environment variable, failStrategy → failure_policy, and nothing else — in particular no
/// `allow_on_headers_stop_iteration`, which the WasmPlugin API has no field for.
pub fn wasm_plugin_filter(plugin: &Value, wasm_file: &Path) -> Value {
    let spec = &plugin["spec"];
    let name = format!(
        "{}.{}",
        plugin["metadata"]["namespace"]
            .as_str()
            .expect("a namespace"),
        plugin["metadata"]["name"].as_str().expect("a name")
    );
    let failure_policy = match spec["failStrategy"].as_str().unwrap_or("FAIL_CLOSE") {
        "FAIL_OPEN" => "FAIL_OPEN",
        "FAIL_CLOSE" => "FAIL_CLOSED",
        "FAIL_RELOAD" => "FAIL_RELOAD",
        other => panic!("{name}: unknown failStrategy {other}"),
    };
    json!({
        "name": format!("extensions.istio.io/wasmplugin/{name}"),
        "typed_config": {
            "@type": "type.googleapis.com/envoy.extensions.filters.http.wasm.v3.Wasm",
            "config": {
                "name": name,
                "root_id": spec["pluginName"],
                "configuration": {
                    "@type": "type.googleapis.com/google.protobuf.StringValue",
                    "value": spec["pluginConfig"].to_string(),
                },
                "vm_config": {
                    "runtime": "envoy.wasm.runtime.v8",
                    "code": { "local": { "filename": wasm_file.display().to_string() } },
                    "environment_variables": {
                        "key_values": { "ISTIO_META_WASM_PLUGIN_RESOURCE_VERSION": "1" }
                    }
                },
                "failure_policy": failure_policy,
            }
        }
    })
}

/// An Istio gateway's listener on port 8080 before any patch: a route table whose requests
/// match nothing get 404 (Istio's gateway answers so for unknown routes) and the router.
pub fn gateway_bootstrap() -> Value {
    json!({
        "admin": { "address": { "socket_address": { "address": "127.0.0.1", "port_value": 0 } } },
        "stats_flush_on_admin": true,
        "layered_runtime": { "layers": [
            { "name": "global config", "static_layer": {} },
            { "name": "admin", "admin_layer": {} }
        ] },
        "static_resources": {
            "listeners": [{
                "name": "gateway",
                "address": { "socket_address": { "address": "127.0.0.1", "port_value": 0 } },
                "filter_chains": [{ "filters": [{
                    "name": "envoy.filters.network.http_connection_manager",
                    "typed_config": {
                        "@type": "type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager",
                        "stat_prefix": "outbound_0.0.0.0_8080",
                        "route_config": { "name": "http.8080", "virtual_hosts": [{
                            "name": "*:8080",
                            "domains": ["*"],
                            "routes": [{
                                "name": "no-route",
                                "match": { "prefix": "/" },
                                "direct_response": { "status": 404 }
                            }]
                        }] },
                        "http_filters": [{
                            "name": "envoy.filters.http.router",
                            "typed_config": { "@type": "type.googleapis.com/envoy.extensions.filters.http.router.v3.Router" }
                        }]
                    }
                }] }]
            }],
            "clusters": []
        }
    })
}

/// The WasmPlugin a user would write for the Wasm filter entry `filter` (same plugin, file and
/// configuration); None for Envoy's own filters.
pub fn as_wasm_plugin(filter: &Value) -> Option<Value> {
    let config = filter.pointer("/typed_config/config")?;
    let plugin_config: Value =
        serde_json::from_str(config["configuration"]["value"].as_str()?).ok()?;
    Some(json!({
        "apiVersion": "extensions.istio.io/v1alpha1",
        "kind": "WasmPlugin",
        "metadata": { "name": format!("ai-gateway-{}", config["name"].as_str()?),
                      "namespace": "ai-gateway" },
        "spec": {
            "selector": { "matchLabels": { "istio": "ai-gateway" } },
            "url": format!("file://{}", config["vm_config"]["code"]["local"]["filename"].as_str()?),
            "pluginName": config["root_id"],
            "failStrategy": "FAIL_RELOAD",
            "pluginConfig": plugin_config,
        }
    }))
}
