//! The filter's JSON configuration (see the README's "LLM filter" section) and its validation.

use std::collections::BTreeMap;

use ai_gateway_core::{parse_config, ConfigError, TagLimiter};
use serde::Deserialize;

use crate::accounting::{Accounting, RawAccounting};
use crate::bedrock::sigv4::Credentials;
use crate::translate::StructuredOutput;

/// Which API a provider speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ProviderKind {
    /// api.openai.com: Chat Completions, `Authorization: Bearer`.
    Openai,
    /// api.anthropic.com: Messages, `x-api-key` + `anthropic-version`.
    Anthropic,
    /// AWS Bedrock Converse / ConverseStream, SigV4-signed.
    Bedrock,
    /// A server speaking the Chat Completions API (vLLM, Ollama, Azure-style endpoints).
    OpenaiCompatible,
}

impl ProviderKind {
    /// Metric/log label.
    pub fn as_str(self) -> &'static str {
        match self {
            ProviderKind::Openai => "openai",
            ProviderKind::Anthropic => "anthropic",
            ProviderKind::Bedrock => "bedrock",
            ProviderKind::OpenaiCompatible => "openai-compatible",
        }
    }
}

/// `structuredOutput` of an Anthropic provider.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
enum RawStructuredOutput {
    #[default]
    Native,
    Tool,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct RawProvider {
    kind: ProviderKind,
    cluster: String,
    #[serde(default)]
    host: Option<String>,
    #[serde(default)]
    path_prefix: Option<String>,
    #[serde(default)]
    api_key: Option<String>,
    #[serde(default)]
    anthropic_version: Option<String>,
    #[serde(default)]
    structured_output: RawStructuredOutput,
    #[serde(default)]
    region: Option<String>,
    #[serde(default)]
    access_key_id: Option<String>,
    #[serde(default)]
    secret_access_key: Option<String>,
    #[serde(default)]
    session_token: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct RawModel {
    provider: String,
    model: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct RawConfig {
    providers: BTreeMap<String, RawProvider>,
    #[serde(default)]
    models: BTreeMap<String, RawModel>,
    #[serde(default)]
    default_provider: Option<String>,
    #[serde(default = "default_max_tokens")]
    default_max_tokens: u32,
    #[serde(default)]
    passthrough_client_keys: bool,
    #[serde(default = "default_max_request_bytes")]
    max_request_bytes: usize,
    #[serde(default = "default_max_response_bytes")]
    max_response_bytes: usize,
    #[serde(default)]
    accounting: RawAccounting,
}

fn default_max_tokens() -> u32 {
    4096
}

fn default_max_request_bytes() -> usize {
    1024 * 1024
}

fn default_max_response_bytes() -> usize {
    8 * 1024 * 1024
}

/// The `anthropic-version` sent when the config names none.
pub const DEFAULT_ANTHROPIC_VERSION: &str = "2023-06-01";

/// A validated provider.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Provider {
    /// Name from the config: metric tag and `owned_by` in `/v1/models`.
    pub name: String,
    pub kind: ProviderKind,
    /// Envoy cluster, set as the routing header.
    pub cluster: String,
    /// `:authority` to send, when set.
    pub host: Option<String>,
    /// Path before `/chat/completions` (OpenAI kinds) or `/messages` (Anthropic); no trailing `/`.
    pub path_prefix: String,
    pub api_key: Option<String>,
    pub anthropic_version: String,
    pub structured_output: StructuredOutput,
    /// Region and credentials of a Bedrock provider.
    pub bedrock: Option<BedrockAuth>,
}

/// What a Bedrock provider signs with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BedrockAuth {
    pub region: String,
    pub credentials: Credentials,
}

impl Provider {
    /// The upstream path for a chat request (`model` and `stream` matter to Bedrock only).
    pub fn chat_path(&self, model: &str, stream: bool) -> String {
        match self.kind {
            ProviderKind::Anthropic => format!("{}/messages", self.path_prefix),
            ProviderKind::Bedrock => format!(
                "{}/model/{}/{}",
                self.path_prefix,
                crate::bedrock::sigv4::encode_segment(model),
                if stream {
                    "converse-stream"
                } else {
                    "converse"
                }
            ),
            _ => format!("{}/chat/completions", self.path_prefix),
        }
    }

    /// The `:authority` to send, when it must change.
    pub fn authority(&self) -> Option<String> {
        match (&self.host, &self.bedrock) {
            (Some(host), _) => Some(host.clone()),
            (None, Some(auth)) => Some(format!("bedrock-runtime.{}.amazonaws.com", auth.region)),
            (None, None) => None,
        }
    }
}

/// Where a client model goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModelRoute {
    /// Index into [`Settings::providers`].
    pub provider: usize,
    /// The provider's model name.
    pub model: String,
}

/// The parsed, validated configuration shared by every stream.
#[derive(Debug)]
pub struct Settings {
    /// Providers, sorted by name.
    pub providers: Vec<Provider>,
    /// Client model alias → route, sorted by alias.
    pub models: BTreeMap<String, ModelRoute>,
    /// Provider for models without an alias.
    pub default_provider: Option<usize>,
    pub default_max_tokens: u32,
    pub passthrough_client_keys: bool,
    pub max_request_bytes: usize,
    pub max_response_bytes: usize,
    /// Model tag values: configured aliases and provider model names.
    pub model_tags: TagLimiter,
    /// Token accounting (usage, gen_ai metrics, request attributes, budgets).
    pub accounting: Accounting,
}

impl Settings {
    /// Parses and validates the JSON configuration.
    pub fn from_json(json: &str) -> Result<Self, ConfigError> {
        let raw: RawConfig = parse_config(json)?;
        if raw.providers.is_empty() {
            return Err(ConfigError::invalid("providers", "at least one provider"));
        }
        let mut providers = Vec::new();
        for (name, p) in raw.providers {
            providers.push(provider(name, p)?);
        }
        let index_of = |name: &str| providers.iter().position(|p| p.name == name);
        let mut models = BTreeMap::new();
        let mut tags: Vec<String> = Vec::new();
        for (alias, m) in raw.models {
            let provider = index_of(&m.provider).ok_or_else(|| {
                ConfigError::invalid(
                    format!("models.{alias}.provider"),
                    format!("no provider named {:?}", m.provider),
                )
            })?;
            if m.model.is_empty() {
                return Err(ConfigError::invalid(
                    format!("models.{alias}.model"),
                    "must not be empty",
                ));
            }
            tags.push(alias.clone());
            tags.push(m.model.clone());
            models.insert(
                alias,
                ModelRoute {
                    provider,
                    model: m.model,
                },
            );
        }
        let default_provider = match raw.default_provider {
            None => None,
            Some(name) => Some(index_of(&name).ok_or_else(|| {
                ConfigError::invalid("defaultProvider", format!("no provider named {name:?}"))
            })?),
        };
        if raw.default_max_tokens == 0 {
            return Err(ConfigError::invalid("defaultMaxTokens", "must be positive"));
        }
        if raw.max_request_bytes == 0 {
            return Err(ConfigError::invalid("maxRequestBytes", "must be positive"));
        }
        if raw.max_response_bytes == 0 {
            return Err(ConfigError::invalid("maxResponseBytes", "must be positive"));
        }
        Ok(Settings {
            providers,
            models,
            default_provider,
            default_max_tokens: raw.default_max_tokens,
            passthrough_client_keys: raw.passthrough_client_keys,
            max_request_bytes: raw.max_request_bytes,
            max_response_bytes: raw.max_response_bytes,
            model_tags: TagLimiter::new(tags),
            accounting: raw.accounting.validate()?,
        })
    }

    /// The provider and provider model for a client's model, if any route takes it.
    pub fn route(&self, model: &str) -> Option<(usize, String)> {
        match self.models.get(model) {
            Some(route) => Some((route.provider, route.model.clone())),
            None => self.default_provider.map(|p| (p, model.to_string())),
        }
    }
}

fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'))
}

fn provider(name: String, p: RawProvider) -> Result<Provider, ConfigError> {
    let field = |f: &str| format!("providers.{name}.{f}");
    if !valid_name(&name) {
        return Err(ConfigError::invalid(
            format!("providers.{name}"),
            "provider names are [A-Za-z0-9_.-]+ (they become metric tags)",
        ));
    }
    if p.cluster.is_empty() {
        return Err(ConfigError::invalid(field("cluster"), "must not be empty"));
    }
    // Bedrock's paths start at the root (`/model/...`).
    let default_prefix = if p.kind == ProviderKind::Bedrock {
        ""
    } else {
        "/v1"
    };
    let path_prefix = match p.path_prefix {
        Some(prefix) if !prefix.starts_with('/') => {
            return Err(ConfigError::invalid(
                field("pathPrefix"),
                "must start with '/'",
            ))
        }
        Some(prefix) => prefix.trim_end_matches('/').to_string(),
        None => default_prefix.to_string(),
    };
    let bedrock = match p.kind {
        ProviderKind::Bedrock => {
            let required = |value: Option<String>, name: &str| {
                value
                    .filter(|v| !v.is_empty())
                    .ok_or_else(|| ConfigError::invalid(field(name), "required for bedrock"))
            };
            Some(BedrockAuth {
                region: required(p.region, "region")?,
                credentials: Credentials {
                    access_key_id: required(p.access_key_id, "accessKeyId")?,
                    secret_access_key: required(p.secret_access_key, "secretAccessKey")?,
                    session_token: p.session_token.filter(|t| !t.is_empty()),
                },
            })
        }
        _ => None,
    };
    Ok(Provider {
        name,
        kind: p.kind,
        cluster: p.cluster,
        host: p.host.filter(|h| !h.is_empty()),
        path_prefix,
        api_key: p.api_key.filter(|k| !k.is_empty()),
        anthropic_version: p
            .anthropic_version
            .unwrap_or_else(|| DEFAULT_ANTHROPIC_VERSION.to_string()),
        structured_output: match p.structured_output {
            RawStructuredOutput::Native => StructuredOutput::Native,
            RawStructuredOutput::Tool => StructuredOutput::ForcedTool,
        },
        bedrock,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const FULL: &str = r#"{
        "providers": {
            "claude": {"kind": "anthropic", "cluster": "anthropic_api", "host": "api.anthropic.com",
                       "apiKey": "sk-ant", "anthropicVersion": "2023-06-01"},
            "gpt": {"kind": "openai", "cluster": "openai_api", "apiKey": "sk-oa"},
            "local": {"kind": "openai-compatible", "cluster": "vllm", "pathPrefix": "/openai/v1/"},
            "aws": {"kind": "bedrock", "cluster": "bedrock", "region": "us-east-1",
                    "accessKeyId": "AKID", "secretAccessKey": "secret"}
        },
        "models": {"fast": {"provider": "claude", "model": "claude-haiku-4-5"}},
        "defaultProvider": "gpt", "defaultMaxTokens": 1000, "passthroughClientKeys": true,
        "maxRequestBytes": 10, "maxResponseBytes": 20
    }"#;

    #[test]
    fn the_contract_shape_parses() {
        let s = Settings::from_json(FULL).unwrap();
        let names: Vec<_> = s.providers.iter().map(|p| p.name.as_str()).collect();
        assert_eq!(names, ["aws", "claude", "gpt", "local"]);
        assert_eq!(
            s.providers[3].chat_path("m", false),
            "/openai/v1/chat/completions"
        );
        assert_eq!(s.providers[1].chat_path("m", true), "/v1/messages");
        assert_eq!(
            s.providers[0].chat_path("a.b:0", true),
            "/model/a.b%3A0/converse-stream"
        );
        assert_eq!(
            s.providers[0].chat_path("a.b:0", false),
            "/model/a.b%3A0/converse"
        );
        assert_eq!(
            s.providers[0].authority().as_deref(),
            Some("bedrock-runtime.us-east-1.amazonaws.com")
        );
        assert_eq!(
            s.providers[1].authority().as_deref(),
            Some("api.anthropic.com")
        );
        assert_eq!(s.providers[2].authority(), None);
        assert_eq!(s.route("fast"), Some((1, "claude-haiku-4-5".to_string())));
        assert_eq!(s.route("gpt-4o"), Some((2, "gpt-4o".to_string())));
        assert_eq!(
            (
                s.default_max_tokens,
                s.passthrough_client_keys,
                s.max_request_bytes,
                s.max_response_bytes
            ),
            (1000, true, 10, 20)
        );
    }

    #[test]
    fn defaults_apply() {
        let s =
            Settings::from_json(r#"{"providers": {"a": {"kind": "anthropic", "cluster": "c"}}}"#)
                .unwrap();
        assert_eq!(s.default_max_tokens, 4096);
        assert_eq!(s.max_request_bytes, 1048576);
        assert_eq!(s.max_response_bytes, 8388608);
        assert_eq!(s.providers[0].anthropic_version, "2023-06-01");
        assert_eq!(s.route("x"), None);
    }

    #[test]
    fn errors_name_the_field() {
        let cases = [
            (r#"{"providers": {}}"#, "providers"),
            (
                r#"{"providers": {"a": {"kind": "gemini", "cluster": "c"}}}"#,
                "providers.a.kind",
            ),
            (
                r#"{"providers": {"a": {"kind": "openai"}}}"#,
                "providers.a.cluster",
            ),
            (
                r#"{"providers": {"a": {"kind": "openai", "cluster": ""}}}"#,
                "providers.a.cluster",
            ),
            (
                r#"{"providers": {"a": {"kind": "openai", "cluster": "c", "bogus": 1}}}"#,
                "providers.a.bogus",
            ),
            (
                r#"{"providers": {"a": {"kind": "openai", "cluster": "c", "pathPrefix": "v1"}}}"#,
                "providers.a.pathPrefix",
            ),
            (
                r#"{"providers": {"a": {"kind": "bedrock", "cluster": "c"}}}"#,
                "providers.a.region",
            ),
            (
                r#"{"providers": {"a b": {"kind": "openai", "cluster": "c"}}}"#,
                "providers.a b",
            ),
            (
                r#"{"providers": {"a": {"kind": "openai", "cluster": "c"}}, "models": {"m": {"provider": "z", "model": "x"}}}"#,
                "models.m.provider",
            ),
            (
                r#"{"providers": {"a": {"kind": "openai", "cluster": "c"}}, "defaultProvider": "z"}"#,
                "defaultProvider",
            ),
            (
                r#"{"providers": {"a": {"kind": "openai", "cluster": "c"}}, "defaultMaxTokens": 0}"#,
                "defaultMaxTokens",
            ),
            (
                r#"{"providers": {"a": {"kind": "openai", "cluster": "c"}}, "maxRequestBytes": 0}"#,
                "maxRequestBytes",
            ),
        ];
        for (json, field) in cases {
            match Settings::from_json(json) {
                Err(ConfigError::Invalid { field: got, .. }) => assert_eq!(got, field, "{json}"),
                other => panic!("{json}: {other:?}"),
            }
        }
    }
}
