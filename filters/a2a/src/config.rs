//! The filter's JSON configuration (see the README's A2A section) and its validation.

use ai_gateway_core::{parse_config, ConfigError, TagLimiter};
use serde::Deserialize;

use crate::methods;

/// What to do with a card carrying `signatures[]`, which no longer verify once URLs change.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum SignedCards {
    /// Remove `signatures` and serve the rewritten card (logged and counted).
    #[default]
    Strip,
    /// Rewrite and keep the now-invalid signatures.
    Keep,
    /// Answer 502 instead of serving the card.
    Reject,
}

/// One agent behind the gateway.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct RawAgent {
    name: String,
    path_prefix: String,
    #[serde(default = "default_upstream_path_prefix")]
    upstream_path_prefix: String,
}

/// The configuration exactly as written.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct RawConfig {
    agents: Vec<RawAgent>,
    #[serde(default)]
    public_base_url: Option<String>,
    #[serde(default)]
    signed_cards: SignedCards,
    #[serde(default = "default_max_card_bytes")]
    max_card_bytes: usize,
    #[serde(default = "default_max_inspect_bytes")]
    max_inspect_bytes: usize,
    #[serde(default)]
    extra_methods: Vec<String>,
}

fn default_upstream_path_prefix() -> String {
    "/".to_string()
}

fn default_max_card_bytes() -> usize {
    1024 * 1024
}

fn default_max_inspect_bytes() -> usize {
    64 * 1024
}

/// Upper bound on `extraMethods`: each entry may become a stat, and stats are never freed.
const MAX_EXTRA_METHODS: usize = 256;

/// A validated agent, with prefixes normalized for matching and rewriting.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Agent {
    /// Metric tag value.
    pub name: String,
    /// Gateway path prefix without a trailing slash ("" for "/").
    pub path_prefix: String,
    /// Upstream path prefix, always ending with a slash.
    pub upstream_path_prefix: String,
}

/// The parsed, validated configuration shared by every stream.
#[derive(Debug)]
pub struct Settings {
    /// Agents, longest path prefix first so the first match is the most specific.
    pub agents: Vec<Agent>,
    /// Public base URL without a trailing slash, when configured.
    pub public_base_url: Option<String>,
    pub signed_cards: SignedCards,
    pub max_card_bytes: usize,
    pub max_inspect_bytes: usize,
    /// Bounds the `method` tag to known and configured method names.
    pub method_tags: TagLimiter,
}

impl Settings {
    /// Parses and validates the JSON configuration; errors name the offending field.
    pub fn from_json(json: &str) -> Result<Settings, ConfigError> {
        let raw: RawConfig = parse_config(json)?;
        let agents = validate_agents(&raw.agents)?;
        let public_base_url = match &raw.public_base_url {
            Some(url) => Some(validate_base_url(url)?),
            None => None,
        };
        if raw.max_card_bytes == 0 {
            return Err(ConfigError::invalid(
                "maxCardBytes",
                "must be greater than 0",
            ));
        }
        if raw.max_inspect_bytes == 0 {
            return Err(ConfigError::invalid(
                "maxInspectBytes",
                "must be greater than 0",
            ));
        }
        validate_extra_methods(&raw.extra_methods)?;
        Ok(Settings {
            agents,
            public_base_url,
            signed_cards: raw.signed_cards,
            max_card_bytes: raw.max_card_bytes,
            max_inspect_bytes: raw.max_inspect_bytes,
            method_tags: methods::method_tag_limiter(&raw.extra_methods),
        })
    }

    /// Index of the agent whose path prefix covers `path` (query string ignored); the most
    /// specific prefix wins.
    pub fn agent_for_path(&self, path: &str) -> Option<usize> {
        let path = crate::url::path_only(path);
        self.agents.iter().position(|a| {
            path.strip_prefix(a.path_prefix.as_str())
                .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
        })
    }
}

fn validate_agents(raw: &[RawAgent]) -> Result<Vec<Agent>, ConfigError> {
    if raw.is_empty() {
        return Err(ConfigError::invalid(
            "agents",
            "at least one agent is required",
        ));
    }
    let mut agents: Vec<Agent> = Vec::with_capacity(raw.len());
    for (i, a) in raw.iter().enumerate() {
        let field = |name: &str| format!("agents[{i}].{name}");
        if a.name.is_empty()
            || !a
                .name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        {
            return Err(ConfigError::invalid(
                field("name"),
                "must be non-empty and contain only ASCII letters, digits, '-' and '_' (it is a metric tag value)",
            ));
        }
        if a.name == ai_gateway_core::metrics::OTHER {
            return Err(ConfigError::invalid(
                field("name"),
                "\"other\" is reserved for unmatched requests",
            ));
        }
        if agents.iter().any(|b| b.name == a.name) {
            return Err(ConfigError::invalid(
                field("name"),
                format!("duplicate agent name {:?}", a.name),
            ));
        }
        let path_prefix = validate_path(&a.path_prefix, &field("pathPrefix"))?;
        let path_prefix = path_prefix.trim_end_matches('/').to_string();
        if agents.iter().any(|b| b.path_prefix == path_prefix) {
            return Err(ConfigError::invalid(
                field("pathPrefix"),
                format!("duplicate path prefix {:?}", a.path_prefix),
            ));
        }
        let upstream = validate_path(&a.upstream_path_prefix, &field("upstreamPathPrefix"))?;
        let upstream_path_prefix = format!("{}/", upstream.trim_end_matches('/'));
        agents.push(Agent {
            name: a.name.clone(),
            path_prefix,
            upstream_path_prefix,
        });
    }
    agents.sort_by_key(|a| std::cmp::Reverse(a.path_prefix.len()));
    Ok(agents)
}

fn validate_path<'a>(path: &'a str, field: &str) -> Result<&'a str, ConfigError> {
    if !path.starts_with('/') {
        return Err(ConfigError::invalid(field, "must start with '/'"));
    }
    if path.contains(['?', '#']) || path.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(ConfigError::invalid(
            field,
            "must be a plain path (no query, fragment or whitespace)",
        ));
    }
    Ok(path)
}

/// Accepts `http(s)://authority[/path]` and returns it without a trailing slash.
fn validate_base_url(url: &str) -> Result<String, ConfigError> {
    let field = "publicBaseUrl";
    let Some(parts) = crate::url::AbsoluteUrl::parse(url) else {
        return Err(ConfigError::invalid(
            field,
            "must be an absolute http:// or https:// URL",
        ));
    };
    if parts.authority.is_empty() || !crate::url::is_valid_authority(parts.authority) {
        return Err(ConfigError::invalid(field, "must name a host"));
    }
    if !parts.suffix.is_empty() {
        return Err(ConfigError::invalid(
            field,
            "must not have a query or fragment",
        ));
    }
    Ok(url.trim_end_matches('/').to_string())
}

fn validate_extra_methods(extra: &[String]) -> Result<(), ConfigError> {
    if extra.len() > MAX_EXTRA_METHODS {
        return Err(ConfigError::invalid(
            "extraMethods",
            format!("at most {MAX_EXTRA_METHODS} entries (each may become a stat)"),
        ));
    }
    for (i, m) in extra.iter().enumerate() {
        if m.is_empty() || m.len() > 128 || m.chars().any(|c| c.is_control() || c.is_whitespace()) {
            return Err(ConfigError::invalid(
                format!("extraMethods[{i}]"),
                "must be 1 to 128 characters without whitespace or control characters",
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn field_of(json: &str) -> String {
        match Settings::from_json(json).unwrap_err() {
            ConfigError::Invalid { field, .. } => field,
            other => panic!("unexpected {other:?}"),
        }
    }

    const AGENT: &str = r#"{"name":"demo","pathPrefix":"/a2a/demo","upstreamPathPrefix":"/"}"#;

    #[test]
    fn minimal_config_gets_the_documented_defaults() {
        let s = Settings::from_json(&format!(r#"{{"agents":[{AGENT}]}}"#)).unwrap();
        assert_eq!(s.signed_cards, SignedCards::Strip);
        assert_eq!(s.max_card_bytes, 1_048_576);
        assert_eq!(s.max_inspect_bytes, 65_536);
        assert_eq!(s.public_base_url, None);
        assert_eq!(
            s.agents,
            vec![Agent {
                name: "demo".into(),
                path_prefix: "/a2a/demo".into(),
                upstream_path_prefix: "/".into()
            }]
        );
    }

    #[test]
    fn full_config_is_accepted_and_normalized() {
        let s = Settings::from_json(
            r#"{"agents":[{"name":"a","pathPrefix":"/x/","upstreamPathPrefix":"/v1"},
                          {"name":"b","pathPrefix":"/x/long"}],
                "publicBaseUrl":"https://gw.example.com/",
                "signedCards":"reject","maxCardBytes":10,"maxInspectBytes":20,
                "extraMethods":["MyMethod"]}"#,
        )
        .unwrap();
        assert_eq!(s.public_base_url.as_deref(), Some("https://gw.example.com"));
        assert_eq!(s.signed_cards, SignedCards::Reject);
        assert_eq!(s.agents[0].name, "b", "longest prefix first");
        assert_eq!(s.agents[1].path_prefix, "/x");
        assert_eq!(s.agents[1].upstream_path_prefix, "/v1/");
        assert_eq!(s.method_tags.limit("MyMethod"), "MyMethod");
    }

    #[test]
    fn invalid_configs_name_the_field() {
        let cases: &[(&str, &str)] = &[
            (r#"{}"#, "agents"),
            (r#"{"agents":[]}"#, "agents"),
            (r#"{"agents":[{"name":"a"}]}"#, "agents[0].pathPrefix"),
            (
                r#"{"agents":[{"name":"a","pathPrefix":"nope"}]}"#,
                "agents[0].pathPrefix",
            ),
            (
                r#"{"agents":[{"name":"a","pathPrefix":"/a","upstreamPathPrefix":"x"}]}"#,
                "agents[0].upstreamPathPrefix",
            ),
            (
                r#"{"agents":[{"name":"a b","pathPrefix":"/a"}]}"#,
                "agents[0].name",
            ),
            (
                r#"{"agents":[{"name":"other","pathPrefix":"/a"}]}"#,
                "agents[0].name",
            ),
            (
                r#"{"agents":[{"name":"a","pathPrefix":"/a"},{"name":"a","pathPrefix":"/b"}]}"#,
                "agents[1].name",
            ),
            (
                r#"{"agents":[{"name":"a","pathPrefix":"/a"},{"name":"b","pathPrefix":"/a/"}]}"#,
                "agents[1].pathPrefix",
            ),
            (
                r#"{"agents":[{"name":"a","pathPrefix":"/a","bogus":1}]}"#,
                "agents[0].bogus",
            ),
            (
                &format!(r#"{{"agents":[{AGENT}],"publicBaseUrl":"ftp://x"}}"#),
                "publicBaseUrl",
            ),
            (
                &format!(r#"{{"agents":[{AGENT}],"publicBaseUrl":"/relative"}}"#),
                "publicBaseUrl",
            ),
            (
                &format!(r#"{{"agents":[{AGENT}],"publicBaseUrl":"http://"}}"#),
                "publicBaseUrl",
            ),
            (
                &format!(r#"{{"agents":[{AGENT}],"publicBaseUrl":"http://h/?q"}}"#),
                "publicBaseUrl",
            ),
            (
                &format!(r#"{{"agents":[{AGENT}],"signedCards":"maybe"}}"#),
                "signedCards",
            ),
            (
                &format!(r#"{{"agents":[{AGENT}],"maxCardBytes":0}}"#),
                "maxCardBytes",
            ),
            (
                &format!(r#"{{"agents":[{AGENT}],"maxInspectBytes":-1}}"#),
                "maxInspectBytes",
            ),
            (
                &format!(r#"{{"agents":[{AGENT}],"extraMethods":[""]}}"#),
                "extraMethods[0]",
            ),
            (
                &format!(r#"{{"agents":[{AGENT}],"unknown":true}}"#),
                "unknown",
            ),
        ];
        for (json, field) in cases {
            assert_eq!(&field_of(json), field, "config: {json}");
        }
    }

    #[test]
    fn agent_matching_respects_segment_boundaries_and_specificity() {
        let s = Settings::from_json(
            r#"{"agents":[{"name":"a","pathPrefix":"/a2a"},{"name":"d","pathPrefix":"/a2a/demo"}]}"#,
        )
        .unwrap();
        let name = |p: &str| s.agent_for_path(p).map(|i| s.agents[i].name.as_str());
        assert_eq!(name("/a2a/demo/x"), Some("d"));
        assert_eq!(name("/a2a/demo"), Some("d"));
        assert_eq!(name("/a2a/demo?x=1"), Some("d"));
        assert_eq!(name("/a2a/demonstration"), Some("a"));
        assert_eq!(name("/a2a"), Some("a"));
        assert_eq!(name("/a2ab"), None);
        assert_eq!(name("/other"), None);
    }
}
