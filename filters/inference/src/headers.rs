//! Header and metadata names of the Inference Extension's endpoint-picker protocol.

use ai_gateway_core::{Host, MetadataSink};

/// The EPP's pick: request header and `envoy.lb` metadata key (same value).
pub const DESTINATION: &str = "x-gateway-destination-endpoint";
/// The endpoint that served the request: `envoy.lb` metadata key (and, here, a response header
/// that ext_proc shows the EPP and the guard stage removes before the client sees it).
pub const SERVED: &str = "x-gateway-destination-endpoint-served";
/// The dynamic-metadata namespace of both keys.
pub const LB_NAMESPACE: &str = "envoy.lb";
/// The header an `ORIGINAL_DST` cluster with `use_http_header` connects to.
pub const ORIGINAL_DST_HOST: &str = "x-envoy-original-dst-host";
/// The request's model, exposed for route matching by body-based routing.
pub const MODEL_NAME: &str = "x-gateway-model-name";

/// The request's pool, when the route stage serves several: set per route by Envoy's
/// `header_mutation` filter (route or weighted-cluster config), after the guard.
pub const POOL: &str = "x-ai-gateway-inference-pool";

/// Request headers that choose a pool or a pod: never accepted from a client.
pub const CLIENT_FORBIDDEN: [&str; 4] = [DESTINATION, ORIGINAL_DST_HOST, SERVED, POOL];

/// Whether the route stage reports the served endpoint in the [`SERVED`] response header too:
/// only where the flavour cannot write `envoy.lb` metadata itself (Wasm), so that Envoy's
/// header_to_metadata writes it; the guard stage then removes the header before the client.
pub fn served_header_used(host: &dyn Host) -> bool {
    host.capabilities().metadata_sink != MetadataSink::DynamicMetadata
}
