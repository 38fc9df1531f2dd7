//! The `llm` gateway in front of the three provider fakes (Anthropic, OpenAI, Bedrock), for the
//! LLM e2e suites: model aliases send each client API to the other provider.

use ai_gateway_test_harness::{Bootstrap, Envoy, Flavour, LlmFake, LlmProviderRoute};
use serde_json::{json, Value};

/// The keys the fakes accept, configured in the filter (clients send others).
pub const ANTHROPIC_KEY: &str = "sk-ant-gateway-owned";
pub const OPENAI_KEY: &str = "sk-openai-gateway-owned";
pub const AWS_KEY_ID: &str = "AKIDGATEWAYOWNED";
pub const AWS_SECRET: &str = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";
pub const AWS_REGION: &str = "us-east-1";
/// What clients send as their own key: the gateway must not forward it.
pub const CLIENT_KEY: &str = "sk-client-own-key";

/// OpenAI clients ask for this model; it is Anthropic's `claude-sonnet-4-5`.
pub const GPT_ON_ANTHROPIC: &str = "gpt-4o";
/// Anthropic clients ask for this model; it is OpenAI's `gpt-4o`.
pub const CLAUDE_ON_OPENAI: &str = "claude-sonnet-4-5";
/// Anthropic clients ask for this model; it is the same model on Anthropic (no translation).
pub const CLAUDE_ON_ANTHROPIC: &str = "claude-haiku-4-5";
/// OpenAI clients ask for this model; it is the same model on OpenAI (no translation).
pub const GPT_ON_OPENAI: &str = "gpt-4o-mini";
/// Either client asks for this model; it is `gpt-4o-mini` on an OpenAI-compatible server
/// (vLLM/Ollama style: under `/openai/v1`, no key).
pub const COMPAT_ALIAS: &str = "local-llama";
/// Where the OpenAI-compatible fake serves `/v1/...`.
pub const COMPAT_PREFIX: &str = "/openai";
/// Either client asks for this model; it is Bedrock's Claude 3.5 Haiku.
pub const BEDROCK_ALIAS: &str = "bedrock-haiku";
/// The `defaultMaxTokens` configured (Anthropic and Bedrock require a max).
pub const DEFAULT_MAX_TOKENS: u64 = 1024;

/// The fakes and Envoy with the llm filter in front of them.
pub struct LlmGateway {
    pub anthropic: LlmFake,
    pub openai: LlmFake,
    pub bedrock: LlmFake,
    pub compat: LlmFake,
    pub envoy: Envoy,
}

/// The llm filter config for the three fakes (clusters `llm_<provider>`).
pub fn config() -> Value {
    json!({
        "providers": {
            "anthropic": { "kind": "anthropic", "cluster": "llm_anthropic", "apiKey": ANTHROPIC_KEY },
            "openai": { "kind": "openai", "cluster": "llm_openai", "apiKey": OPENAI_KEY },
            "bedrock": { "kind": "bedrock", "cluster": "llm_bedrock", "region": AWS_REGION,
                         "accessKeyId": AWS_KEY_ID, "secretAccessKey": AWS_SECRET },
            "compat": { "kind": "openai-compatible", "cluster": "llm_compat",
                        "pathPrefix": format!("{COMPAT_PREFIX}/v1") },
        },
        "models": {
            GPT_ON_ANTHROPIC: { "provider": "anthropic", "model": "claude-sonnet-4-5" },
            CLAUDE_ON_OPENAI: { "provider": "openai", "model": "gpt-4o" },
            BEDROCK_ALIAS: { "provider": "bedrock", "model": "anthropic.claude-3-5-haiku-20241022-v1:0" },
            COMPAT_ALIAS: { "provider": "compat", "model": "gpt-4o-mini" },
            CLAUDE_ON_ANTHROPIC: { "provider": "anthropic", "model": "claude-haiku-4-5" },
            GPT_ON_OPENAI: { "provider": "openai", "model": "gpt-4o-mini" },
        },
        "defaultMaxTokens": DEFAULT_MAX_TOKENS,
    })
}

impl LlmGateway {
    pub async fn start(flavour: Flavour) -> LlmGateway {
        let anthropic = LlmFake::anthropic(ANTHROPIC_KEY).await.unwrap();
        let openai = LlmFake::openai(OPENAI_KEY).await.unwrap();
        let bedrock = LlmFake::bedrock(AWS_KEY_ID, AWS_SECRET, AWS_REGION)
            .await
            .unwrap();
        let compat = LlmFake::openai_compatible(None, COMPAT_PREFIX)
            .await
            .unwrap();
        let bootstrap = Bootstrap::new(Some(flavour))
            .llm_provider(LlmProviderRoute::new("anthropic", anthropic.addr()))
            .llm_provider(LlmProviderRoute::new("openai", openai.addr()))
            .llm_provider(LlmProviderRoute::new("bedrock", bedrock.addr()))
            .llm_provider(LlmProviderRoute::new("compat", compat.addr()))
            .filter("llm", config());
        let envoy = Envoy::start(&bootstrap)
            .await
            .expect("Envoy starts with the llm filter");
        LlmGateway {
            anthropic,
            openai,
            bedrock,
            compat,
            envoy,
        }
    }

    /// The environment the Python gateway suites read.
    pub fn env(&self) -> Vec<(&'static str, String)> {
        vec![
            ("GATEWAY_URL", self.envoy.gateway_url()),
            ("CLIENT_KEY", CLIENT_KEY.to_string()),
            ("ANTHROPIC_FAKE_URL", self.anthropic.url()),
            ("ANTHROPIC_FAKE_KEY", ANTHROPIC_KEY.to_string()),
            ("OPENAI_FAKE_URL", self.openai.url()),
            ("OPENAI_FAKE_KEY", OPENAI_KEY.to_string()),
            ("BEDROCK_FAKE_URL", self.bedrock.url()),
            ("GPT_ON_ANTHROPIC", GPT_ON_ANTHROPIC.to_string()),
            ("CLAUDE_ON_OPENAI", CLAUDE_ON_OPENAI.to_string()),
            ("BEDROCK_ALIAS", BEDROCK_ALIAS.to_string()),
        ]
    }

    /// `POST <gateway><path>` with `body` as is and the client's own key in both API styles.
    pub async fn post(&self, path: &str, body: impl Into<String>) -> reqwest::Response {
        super::http()
            .post(format!("{}{path}", self.envoy.gateway_url()))
            .header("content-type", "application/json")
            .header("authorization", format!("Bearer {CLIENT_KEY}"))
            .header("x-api-key", CLIENT_KEY)
            .header("anthropic-version", "2023-06-01")
            .body(body.into())
            .send()
            .await
            .expect("the gateway answers")
    }
}

/// Generates, for each named `async fn name(flavour: Flavour)`, one test per flavour
/// (`dynmod::name`, `wasm::name`), each carrying the attributes written before its name (e.g.
/// `#[ignore = "..."]`).
#[macro_export]
macro_rules! per_flavour_with_attrs {
    ($($(#[$attr:meta])* $test:ident),+ $(,)?) => {
        mod dynmod {
            $(
                $(#[$attr])*
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $test() {
                    super::support::bounded(super::$test(ai_gateway_test_harness::Flavour::DynamicModule)).await;
                }
            )+
        }
        mod wasm {
            $(
                $(#[$attr])*
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $test() {
                    super::support::bounded(super::$test(ai_gateway_test_harness::Flavour::Wasm)).await;
                }
            )+
        }
    };
}
