//! Envoy's CORS filter for browser clients of the gateway: the filter entry (envoy/filter-cors.yaml)
//! first in the chain, its policy (envoy/filter-cors-policy.yaml) on the virtual host, and the
//! forwarding routes it needs for the MCP endpoint (envoy/filter-cors-routes.yaml).

use serde_json::Value;

use crate::bootstrap::render_file;
use crate::error::HarnessError;
use crate::template::Values;

/// The CORS filter's http_filters entry when any origin is allowed; else nothing.
pub(crate) fn filter(origins: &[String]) -> Result<String, HarnessError> {
    if origins.is_empty() {
        return Ok(String::new());
    }
    render_file("filter-cors.yaml", &Values::new())
}

/// The routes that let the CORS filter act on the MCP endpoint, when any origin is allowed.
pub(crate) fn routes(origins: &[String], mcp_path: &str) -> Result<String, HarnessError> {
    if origins.is_empty() {
        return Ok(String::new());
    }
    render_file(
        "filter-cors-routes.yaml",
        &Values::new().set("PATH", mcp_path),
    )
}

/// The virtual host's CORS policy allowing exactly `origins`; nothing when there are none.
pub(crate) fn policy(origins: &[String]) -> Result<String, HarnessError> {
    if origins.is_empty() {
        return Ok(String::new());
    }
    let matchers: String = origins
        .iter()
        .map(|origin| format!("- exact: {}\n", Value::String(origin.clone())))
        .collect();
    render_file(
        "filter-cors-policy.yaml",
        &Values::new().set("ALLOWED_ORIGINS", matchers),
    )
}

#[cfg(test)]
mod tests {
    use crate::{Bootstrap, Flavour, McpBackendRoute};

    #[test]
    fn allowed_origins_put_the_cors_filter_first_and_the_policy_on_the_virtual_host() {
        let yaml = Bootstrap::new(Some(Flavour::DynamicModule))
            .mcp_backend(McpBackendRoute::new("a", "127.0.0.1:8101".parse().unwrap()))
            .filter("mcp", serde_json::json!({}))
            .cors_origin("http://127.0.0.1:8080")
            .render()
            .unwrap();
        let cors = yaml.find("name: envoy.filters.http.cors").unwrap();
        assert!(cors < yaml.find("filter_name: mcp").unwrap(), "{yaml}");
        let policy = yaml.find("cors.v3.CorsPolicy").unwrap();
        assert!(policy < yaml.find("routes:").unwrap(), "{yaml}");
        assert!(
            yaml.contains(r#"- exact: "http://127.0.0.1:8080""#),
            "{yaml}"
        );
        assert!(yaml.contains("mcp-session-id"), "{yaml}");
        // The MCP endpoint forwards (the CORS filter ignores direct_response routes).
        let endpoint = yaml.find(r#"- match: { path: "/mcp" }"#).unwrap();
        assert!(
            yaml[endpoint..].starts_with("- match: { path: \"/mcp\" }\n                route:"),
            "{yaml}"
        );
        assert!(!yaml.contains("{{"), "{yaml}");
    }

    #[test]
    fn without_origins_there_is_no_cors() {
        let yaml = Bootstrap::new(Some(Flavour::Wasm)).render().unwrap();
        assert!(!yaml.contains("cors"), "{yaml}");
    }
}
