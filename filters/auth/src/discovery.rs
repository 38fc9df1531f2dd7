//! OIDC discovery (OpenID Connect Discovery 1.0 §4): the provider configuration at
//! `<issuer>/.well-known/openid-configuration` names the `jwks_uri`; and the URL pieces an
//! HTTP callout needs.

use serde::Deserialize;

/// Where providers publish their configuration, below the issuer's path.
pub const OPENID_CONFIGURATION: &str = "/.well-known/openid-configuration";

/// Why a discovery document or URL was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DiscoveryError {
    /// Not JSON, or no string `jwks_uri`.
    #[error("not an OpenID provider configuration: {0}")]
    NotConfiguration(String),
    /// Not an absolute http(s) URL.
    #[error("not an absolute http(s) URL: {0}")]
    BadUrl(String),
}

#[derive(Deserialize)]
struct ProviderConfiguration {
    jwks_uri: String,
}

/// The `jwks_uri` of a provider configuration document.
pub fn jwks_uri(body: &[u8]) -> Result<String, DiscoveryError> {
    let config: ProviderConfiguration = serde_json::from_slice(body)
        .map_err(|e| DiscoveryError::NotConfiguration(e.to_string()))?;
    Ok(config.jwks_uri)
}

/// An absolute URL split for a callout: `:authority` and `:path` (with query).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UrlParts {
    /// `https` or `http`.
    pub scheme: String,
    /// Host and optional port.
    pub authority: String,
    /// Path and query, at least `/`.
    pub path: String,
}

/// Splits an absolute http(s) URL.
pub fn split_url(url: &str) -> Result<UrlParts, DiscoveryError> {
    let bad = || DiscoveryError::BadUrl(url.to_string());
    let (scheme, rest) = url.split_once("://").ok_or_else(bad)?;
    let scheme = scheme.to_ascii_lowercase();
    if scheme != "http" && scheme != "https" {
        return Err(bad());
    }
    let rest = rest.split('#').next().unwrap_or_default();
    let (authority, path) = match rest.find(['/', '?']) {
        Some(i) if rest.as_bytes()[i] == b'/' => (&rest[..i], rest[i..].to_string()),
        Some(i) => (&rest[..i], format!("/{}", &rest[i..])),
        None => (rest, "/".to_string()),
    };
    if authority.is_empty() || authority.contains('@') || authority.contains(char::is_whitespace) {
        return Err(bad());
    }
    Ok(UrlParts {
        scheme,
        authority: authority.to_string(),
        path,
    })
}

/// The discovery document's URL path for an issuer path (`/realms/x` → `/realms/x/.well-known/…`).
pub fn configuration_path(issuer_path: &str) -> String {
    format!(
        "{}{OPENID_CONFIGURATION}",
        issuer_path.trim_end_matches('/')
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jwks_uri_from_provider_configuration() {
        // Shape of OpenID Connect Discovery 1.0 §4.2's example response.
        let body = br#"{
            "issuer": "https://server.example.com",
            "authorization_endpoint": "https://server.example.com/connect/authorize",
            "token_endpoint": "https://server.example.com/connect/token",
            "jwks_uri": "https://server.example.com/jwks.json",
            "response_types_supported": ["code", "code id_token", "id_token", "token id_token"],
            "subject_types_supported": ["public", "pairwise"],
            "id_token_signing_alg_values_supported": ["RS256", "ES256", "HS256"]
        }"#;
        assert_eq!(
            jwks_uri(body).unwrap(),
            "https://server.example.com/jwks.json"
        );
        assert!(jwks_uri(b"{}").is_err());
        assert!(jwks_uri(b"<html>").is_err());
    }

    #[test]
    fn urls_split_for_callouts() {
        let cases: &[(&str, Option<(&str, &str)>)] = &[
            (
                "https://idp.example.com/jwks.json",
                Some(("idp.example.com", "/jwks.json")),
            ),
            ("http://127.0.0.1:8080", Some(("127.0.0.1:8080", "/"))),
            (
                "https://idp.example.com?x=1",
                Some(("idp.example.com", "/?x=1")),
            ),
            ("https://idp/a/b?c=d#frag", Some(("idp", "/a/b?c=d"))),
            ("ftp://idp/x", None),
            ("/relative", None),
            ("https:///nohost", None),
            ("https://user@idp/x", None),
        ];
        for (url, expected) in cases {
            let got = split_url(url).ok().map(|p| (p.authority, p.path));
            let expected = expected.map(|(a, p)| (a.to_string(), p.to_string()));
            assert_eq!(got, expected, "{url}");
        }
    }

    #[test]
    fn configuration_path_below_the_issuer() {
        assert_eq!(configuration_path(""), "/.well-known/openid-configuration");
        assert_eq!(configuration_path("/"), "/.well-known/openid-configuration");
        assert_eq!(
            configuration_path("/realms/demo/"),
            "/realms/demo/.well-known/openid-configuration"
        );
    }
}
