//! OAuth 2.0 Protected Resource Metadata (RFC 9728) and the `WWW-Authenticate` challenges of
//! RFC 6750 §3 that point clients at it, as MCP's authorization spec requires.

use serde::Serialize;

use crate::discovery::{split_url, DiscoveryError};

/// The well-known path of RFC 9728 §3.
pub const WELL_KNOWN: &str = "/.well-known/oauth-protected-resource";

/// The metadata document's content (RFC 9728 §2), from config.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ResourceMetadata {
    /// The resource identifier: the public URL clients use (e.g. `https://gw.example/mcp`).
    pub resource: String,
    /// Issuers of tokens this resource accepts.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub authorization_servers: Vec<String>,
    /// Scopes clients may request.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub scopes_supported: Vec<String>,
    /// How the token may be sent (`header`, RFC 6750 §2.1).
    pub bearer_methods_supported: Vec<String>,
    /// Human-readable name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resource_name: Option<String>,
    /// Documentation URL.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resource_documentation: Option<String>,
}

/// The metadata, rendered once: where it is served and what is served.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MetadataEndpoint {
    /// Request paths answered with the document: the path-suffixed form (RFC 9728 §3.1) and,
    /// when the resource has a path, the bare well-known path too.
    pub paths: Vec<String>,
    /// Absolute URL of the document, for `resource_metadata=` in challenges.
    pub url: String,
    /// The JSON document.
    pub body: String,
}

impl ResourceMetadata {
    /// Renders the endpoint; the `resource` must be an absolute http(s) URL without fragment.
    pub fn endpoint(&self) -> Result<MetadataEndpoint, DiscoveryError> {
        if self.resource.contains('#') {
            return Err(DiscoveryError::BadUrl(self.resource.clone()));
        }
        let parts = split_url(&self.resource)?;
        let path = parts.path.split('?').next().unwrap_or_default();
        let path = path.trim_end_matches('/');
        let suffixed = format!("{WELL_KNOWN}{path}");
        let mut paths = vec![suffixed.clone()];
        if !path.is_empty() {
            paths.push(WELL_KNOWN.to_string());
        }
        let body =
            serde_json::to_string(self).map_err(|e| DiscoveryError::BadUrl(e.to_string()))?;
        Ok(MetadataEndpoint {
            paths,
            url: format!("{}://{}{suffixed}", parts.scheme, parts.authority),
            body,
        })
    }
}

/// Why a request is refused, as RFC 6750 §3.1 names it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Challenge<'a> {
    /// No credentials: no `error` attribute (§3.1, last paragraph).
    NoToken,
    /// `invalid_token` (401).
    InvalidToken { description: &'a str },
    /// `insufficient_scope` (403), with the scope that would be needed, if known.
    InsufficientScope { scope: Option<&'a str> },
}

/// A `WWW-Authenticate: Bearer …` value, with `resource_metadata` (RFC 9728 §5.1) when the
/// metadata is served.
pub fn www_authenticate(metadata_url: Option<&str>, challenge: &Challenge<'_>) -> String {
    let mut value = String::from("Bearer ");
    match challenge {
        Challenge::NoToken => {}
        Challenge::InvalidToken { description } => {
            value.push_str(&format!(
                "error=\"invalid_token\", error_description=\"{}\", ",
                quoted(description)
            ));
        }
        Challenge::InsufficientScope { scope } => {
            value.push_str("error=\"insufficient_scope\", ");
            if let Some(scope) = scope {
                value.push_str(&format!("scope=\"{}\", ", quoted(scope)));
            }
        }
    }
    match metadata_url {
        Some(url) => value.push_str(&format!("resource_metadata=\"{}\"", quoted(url))),
        None => {
            let trimmed = value.trim_end_matches([' ', ',']).len();
            value.truncate(trimmed);
        }
    }
    value
}

/// RFC 6750 §3 restricts attribute values to printable ASCII without `"` and `\`.
fn quoted(text: &str) -> String {
    text.chars()
        .filter(|c| (' '..='~').contains(c) && *c != '"' && *c != '\\')
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{json, Value};

    fn metadata(resource: &str) -> ResourceMetadata {
        ResourceMetadata {
            resource: resource.into(),
            authorization_servers: vec!["https://as.example.com".into()],
            scopes_supported: vec!["tools:read".into(), "tools:write".into()],
            bearer_methods_supported: vec!["header".into()],
            resource_name: None,
            resource_documentation: None,
        }
    }

    #[test]
    fn document_follows_rfc_9728() {
        let endpoint = metadata("https://gw.example.com/mcp").endpoint().unwrap();
        let doc: Value = serde_json::from_str(&endpoint.body).unwrap();
        assert_eq!(
            doc,
            json!({
                "resource": "https://gw.example.com/mcp",
                "authorization_servers": ["https://as.example.com"],
                "scopes_supported": ["tools:read", "tools:write"],
                "bearer_methods_supported": ["header"],
            })
        );
    }

    #[test]
    fn served_at_the_path_suffixed_and_bare_well_known_paths() {
        let cases: &[(&str, &[&str], &str)] = &[
            (
                "https://gw.example.com/mcp",
                &[
                    "/.well-known/oauth-protected-resource/mcp",
                    "/.well-known/oauth-protected-resource",
                ],
                "https://gw.example.com/.well-known/oauth-protected-resource/mcp",
            ),
            (
                "https://gw.example.com",
                &["/.well-known/oauth-protected-resource"],
                "https://gw.example.com/.well-known/oauth-protected-resource",
            ),
            (
                "http://127.0.0.1:8080/a/b/",
                &[
                    "/.well-known/oauth-protected-resource/a/b",
                    "/.well-known/oauth-protected-resource",
                ],
                "http://127.0.0.1:8080/.well-known/oauth-protected-resource/a/b",
            ),
        ];
        for (resource, paths, url) in cases {
            let endpoint = metadata(resource).endpoint().unwrap();
            assert_eq!(endpoint.paths, *paths, "{resource}");
            assert_eq!(endpoint.url, *url, "{resource}");
        }
        assert!(metadata("gw.example.com/mcp").endpoint().is_err());
        assert!(metadata("https://gw.example.com/mcp#x").endpoint().is_err());
    }

    #[test]
    fn challenges_per_rfc_6750() {
        let url = "https://gw/.well-known/oauth-protected-resource/mcp";
        let cases: &[(Challenge<'_>, &str)] = &[
            (
                Challenge::NoToken,
                "Bearer resource_metadata=\"https://gw/.well-known/oauth-protected-resource/mcp\"",
            ),
            (
                Challenge::InvalidToken { description: "token \"expired\"" },
                "Bearer error=\"invalid_token\", error_description=\"token expired\", resource_metadata=\"https://gw/.well-known/oauth-protected-resource/mcp\"",
            ),
            (
                Challenge::InsufficientScope { scope: Some("tools:write") },
                "Bearer error=\"insufficient_scope\", scope=\"tools:write\", resource_metadata=\"https://gw/.well-known/oauth-protected-resource/mcp\"",
            ),
            (
                Challenge::InsufficientScope { scope: None },
                "Bearer error=\"insufficient_scope\", resource_metadata=\"https://gw/.well-known/oauth-protected-resource/mcp\"",
            ),
        ];
        for (challenge, expected) in cases {
            assert_eq!(www_authenticate(Some(url), challenge), *expected);
        }
        assert_eq!(www_authenticate(None, &Challenge::NoToken), "Bearer");
        assert_eq!(
            www_authenticate(None, &Challenge::InsufficientScope { scope: Some("a b") }),
            "Bearer error=\"insufficient_scope\", scope=\"a b\""
        );
    }
}
