//! Sending a planned request upstream: path, authority, credentials (or SigV4), the cluster
//! header and the route cache.

use ai_gateway_core::{Direction, Host};

use super::{LlmFilter, Phase, CLIENT_KEY_HEADERS, CLUSTER_HEADER, METADATA_NAMESPACE};
use crate::bedrock::sigv4;
use crate::config::{Provider, ProviderKind};
use crate::plan::{Plan, Translation};
use crate::translate::errors::Api;

impl LlmFilter {
    pub(super) fn forward(&mut self, host: &mut dyn Host, plan: Plan) {
        let settings = self.settings.clone();
        let provider = &settings.providers[plan.provider];
        self.provider = Some(plan.provider);
        self.phase = Phase::Forwarded;
        host.set_metadata(METADATA_NAMESPACE, "provider", &provider.name);
        host.set_metadata(METADATA_NAMESPACE, "model", &plan.model);
        if settings.accounting.enabled {
            if let Some(endpoint) = self.endpoint {
                let operation = crate::accounting::operation(endpoint);
                host.set_metadata(METADATA_NAMESPACE, "operation", operation);
            }
            if let Some(model) = &self.model {
                host.set_metadata(METADATA_NAMESPACE, "request_model", model);
            }
        }
        self.provider_model = Some(plan.model.clone());
        self.strip_usage = plan.strip_usage;
        host.set_header(
            Direction::Request,
            "content-length",
            &plan.body.len().to_string(),
        );
        host.set_header(Direction::Request, ":path", &plan.path);
        if let Some(authority) = provider.authority() {
            host.set_header(Direction::Request, ":authority", &authority);
        }
        self.credentials(host, provider);
        if let Some(auth) = &provider.bedrock {
            let stream =
                matches!(&plan.translation, Translation::ToBedrock { ctx, .. } if ctx.stream);
            let accept = if stream {
                "application/vnd.amazon.eventstream"
            } else {
                "application/json"
            };
            host.set_header(Direction::Request, "content-type", "application/json");
            host.set_header(Direction::Request, "accept", accept);
            let authority = host
                .header(Direction::Request, ":authority")
                .unwrap_or_default();
            let request = sigv4::Request {
                method: "POST",
                host: &authority,
                path: &plan.path,
                content_type: "application/json",
                body: &plan.body,
            };
            let signed = sigv4::sign(
                &request,
                &auth.credentials,
                &auth.region,
                "bedrock",
                host.unix_seconds(),
            );
            for (name, value) in signed {
                host.set_header(Direction::Request, name, &value);
            }
        }
        if plan.translation != Translation::Passthrough {
            // The response body is parsed and rewritten: it must arrive uncompressed.
            host.remove_header(Direction::Request, "accept-encoding");
        }
        host.set_header(Direction::Request, CLUSTER_HEADER, &provider.cluster);
        host.clear_route_cache();
        self.translation = plan.translation;
    }

    /// The provider's key replaces the client's (kept only with `passthroughClientKeys`, and
    /// then moved to the header the provider reads when the client's API uses another).
    pub(super) fn credentials(&self, host: &mut dyn Host, provider: &Provider) {
        let client_key = client_key(host);
        for name in CLIENT_KEY_HEADERS {
            host.remove_header(Direction::Request, name);
        }
        let key = match (&provider.api_key, self.settings.passthrough_client_keys) {
            (Some(key), _) => Some(key.clone()),
            (None, true) => client_key,
            (None, false) => None,
        };
        match provider.kind {
            ProviderKind::Anthropic => {
                if let Some(key) = key {
                    host.set_header(Direction::Request, "x-api-key", &key);
                }
                if self.api != Api::Anthropic
                    || host
                        .header(Direction::Request, "anthropic-version")
                        .is_none()
                {
                    host.set_header(
                        Direction::Request,
                        "anthropic-version",
                        &provider.anthropic_version,
                    );
                }
            }
            // Bedrock takes no key: requests are signed (see `forward`).
            ProviderKind::Bedrock => {
                host.remove_header(Direction::Request, "anthropic-version");
                host.remove_header(Direction::Request, "anthropic-beta");
            }
            ProviderKind::Openai | ProviderKind::OpenaiCompatible => {
                if let Some(key) = key {
                    host.set_header(
                        Direction::Request,
                        "authorization",
                        &format!("Bearer {key}"),
                    );
                }
                host.remove_header(Direction::Request, "anthropic-version");
                host.remove_header(Direction::Request, "anthropic-beta");
            }
        }
    }
}

/// The key the client sent: a bearer token or an `x-api-key`/`api-key` value.
fn client_key(host: &dyn Host) -> Option<String> {
    if let Some(auth) = host.header(Direction::Request, "authorization") {
        let token = auth.strip_prefix("Bearer ").unwrap_or(&auth).trim();
        if !token.is_empty() {
            return Some(token.to_string());
        }
    }
    host.header(Direction::Request, "x-api-key")
        .or_else(|| host.header(Direction::Request, "api-key"))
        .filter(|k| !k.is_empty())
}
