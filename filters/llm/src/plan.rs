//! What to do with one buffered client request: pass it to a provider of the same API,
//! translate it, or refuse it with an error in the client's format. Pure: no host calls.

use serde_json::Value;

use crate::anthropic::MessagesRequest;
use crate::bedrock::converse::messages_to_converse;
use crate::config::{ProviderKind, Settings};
use crate::openai::ChatRequest;
use crate::translate::errors::{error_body, Api};
use crate::translate::request_to_anthropic::{chat_to_messages, AnthropicTarget};
use crate::translate::request_to_openai::{messages_to_chat, OpenAiTarget};
use crate::translate::{parse_body, ResponseContext, StructuredOutput, TranslateError};

/// The endpoint the client called.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Endpoint {
    /// `POST /v1/chat/completions`.
    ChatCompletions,
    /// `POST /v1/messages`.
    Messages,
    /// `POST /v1/messages/count_tokens`.
    CountTokens,
    /// `POST /v1/embeddings` (OpenAI-style providers only, passed through).
    Embeddings,
    /// `POST /v1/responses` (OpenAI-style providers only, passed through).
    Responses,
}

impl Endpoint {
    /// The endpoint of a request path (query ignored).
    pub fn of_path(path: &str) -> Option<Endpoint> {
        match path.split(['?', '#']).next().unwrap_or_default() {
            "/v1/chat/completions" => Some(Endpoint::ChatCompletions),
            "/v1/messages" => Some(Endpoint::Messages),
            "/v1/messages/count_tokens" => Some(Endpoint::CountTokens),
            "/v1/embeddings" => Some(Endpoint::Embeddings),
            "/v1/responses" => Some(Endpoint::Responses),
            _ => None,
        }
    }

    /// The client-facing path.
    pub fn path(self) -> &'static str {
        match self {
            Endpoint::ChatCompletions => "/v1/chat/completions",
            Endpoint::Messages => "/v1/messages",
            Endpoint::CountTokens => "/v1/messages/count_tokens",
            Endpoint::Embeddings => "/v1/embeddings",
            Endpoint::Responses => "/v1/responses",
        }
    }

    /// The API its clients speak.
    pub fn api(self) -> Api {
        match self {
            Endpoint::ChatCompletions | Endpoint::Embeddings | Endpoint::Responses => Api::OpenAi,
            Endpoint::Messages | Endpoint::CountTokens => Api::Anthropic,
        }
    }
}

/// How the response must be treated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Translation {
    /// Same API on both sides: forwarded as is.
    Passthrough,
    /// OpenAI client, Anthropic provider.
    OpenAiToAnthropic(ResponseContext),
    /// Anthropic client, OpenAI provider.
    AnthropicToOpenAi(ResponseContext),
    /// Either client, Bedrock provider (`model`: the Bedrock model id).
    ToBedrock { ctx: ResponseContext, model: String },
}

/// A request ready to forward.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    /// Index into [`Settings::providers`].
    pub provider: usize,
    /// The body to send.
    pub body: Vec<u8>,
    /// The upstream `:path`.
    pub path: String,
    /// The provider's model name.
    pub model: String,
    pub translation: Translation,
    /// The gateway asked the provider for the stream's usage chunk the client did not want:
    /// it must be removed from the client's stream.
    pub strip_usage: bool,
}

/// A refusal in the client's format.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    pub status: u16,
    pub body: Vec<u8>,
    /// Response-code details for Envoy's access log.
    pub details: &'static str,
    /// Seconds for a `retry-after` header, when the refusal is temporary.
    pub retry_after: Option<u64>,
}

impl Refusal {
    /// An error reply to a client of `api`.
    pub fn new(
        api: Api,
        status: u16,
        message: &str,
        param: Option<&str>,
        details: &'static str,
    ) -> Self {
        Refusal {
            status,
            body: error_body(api, status, message, param),
            details,
            retry_after: None,
        }
    }

    fn translation(api: Api, err: &TranslateError) -> Self {
        Refusal::new(
            api,
            400,
            &err.to_string(),
            Some(err.field()),
            "llm_request_not_translatable",
        )
    }
}

/// The outcome of planning: also the client's model (for metrics) when the body named one.
pub struct Decision {
    pub model: Option<String>,
    /// The client's output-token ceiling (0 when unset): a budget's estimate.
    pub max_tokens: u64,
    pub result: Result<Plan, Refusal>,
}

/// Decides what to do with a complete request body.
pub fn plan(settings: &Settings, endpoint: Endpoint, body: &[u8]) -> Decision {
    let api = endpoint.api();
    let mut value: Value = match serde_json::from_slice(body) {
        Ok(v) => v,
        Err(e) => {
            return Decision {
                model: None,
                max_tokens: 0,
                result: Err(Refusal::new(
                    api,
                    400,
                    &format!("the request body is not valid JSON: {e}"),
                    None,
                    "llm_invalid_json",
                )),
            }
        }
    };
    let Some(model) = value
        .get("model")
        .and_then(Value::as_str)
        .map(str::to_string)
    else {
        return Decision {
            model: None,
            max_tokens: 0,
            result: Err(Refusal::new(
                api,
                400,
                "`model` is required and must be a string",
                Some("model"),
                "llm_invalid_request",
            )),
        };
    };
    let max_tokens = crate::accounting::requested_max_tokens(&value);
    let result = plan_for_model(settings, endpoint, &model, &mut value, body);
    Decision {
        model: Some(model),
        max_tokens,
        result,
    }
}

fn plan_for_model(
    settings: &Settings,
    endpoint: Endpoint,
    model: &str,
    value: &mut Value,
    body: &[u8],
) -> Result<Plan, Refusal> {
    let api = endpoint.api();
    let Some((index, provider_model)) = settings.route(model) else {
        return Err(Refusal::new(
            api,
            404,
            &format!("the model `{model}` is not served by this gateway"),
            Some("model"),
            "llm_unknown_model",
        ));
    };
    let provider = &settings.providers[index];
    let same_api = matches!(
        (api, provider.kind),
        (
            Api::OpenAi,
            ProviderKind::Openai | ProviderKind::OpenaiCompatible
        ) | (Api::Anthropic, ProviderKind::Anthropic)
    );
    if matches!(endpoint, Endpoint::Embeddings | Endpoint::Responses) {
        if !same_api {
            return Err(Refusal::new(
                api,
                404,
                &format!(
                    "{} is not available for the {} provider `{}`",
                    endpoint.path(),
                    provider.kind.as_str(),
                    provider.name
                ),
                Some("model"),
                "llm_endpoint_unsupported",
            ));
        }
        return Ok(Plan {
            provider: index,
            body: with_model(value, &provider_model, model, body),
            path: format!("{}{}", provider.path_prefix, &endpoint.path()[3..]),
            model: provider_model,
            translation: Translation::Passthrough,
            strip_usage: false,
        });
    }
    if endpoint == Endpoint::CountTokens {
        if !same_api {
            return Err(Refusal::new(
                api,
                404,
                &format!(
                    "token counting is not available for the {} provider `{}`",
                    provider.kind.as_str(),
                    provider.name
                ),
                None,
                "llm_count_tokens_unsupported",
            ));
        }
        return Ok(Plan {
            provider: index,
            body: with_model(value, &provider_model, model, body),
            path: format!("{}/messages/count_tokens", provider.path_prefix),
            model: provider_model,
            translation: Translation::Passthrough,
            strip_usage: false,
        });
    }
    if same_api {
        // An OpenAI stream reports usage only when asked: ask, and hide the answer.
        let strip_usage = api == Api::OpenAi
            && settings.accounting.enabled
            && crate::accounting::inject_include_usage(value);
        let body = if strip_usage {
            value["model"] = Value::String(provider_model.clone());
            serde_json::to_vec(value).unwrap_or_else(|_| body.to_vec())
        } else {
            with_model(value, &provider_model, model, body)
        };
        return Ok(Plan {
            provider: index,
            body,
            path: provider.chat_path(&provider_model, false),
            model: provider_model,
            translation: Translation::Passthrough,
            strip_usage,
        });
    }
    if provider.kind == ProviderKind::Bedrock {
        return plan_bedrock(settings, index, api, &provider_model, body);
    }
    let path = provider.chat_path(&provider_model, false);
    let (body, translation) = match api {
        Api::OpenAi => {
            let req: ChatRequest = parse_body(body).map_err(|e| Refusal::translation(api, &e))?;
            let target = AnthropicTarget {
                model: &provider_model,
                default_max_tokens: settings.default_max_tokens,
                structured_output: provider.structured_output,
            };
            let (out, ctx) =
                chat_to_messages(req, &target).map_err(|e| Refusal::translation(api, &e))?;
            (
                serde_json::to_vec(&out),
                Translation::OpenAiToAnthropic(ctx),
            )
        }
        Api::Anthropic => {
            let req: MessagesRequest =
                parse_body(body).map_err(|e| Refusal::translation(api, &e))?;
            let target = OpenAiTarget {
                model: &provider_model,
                compatible: provider.kind == ProviderKind::OpenaiCompatible,
            };
            let (out, ctx) =
                messages_to_chat(req, &target).map_err(|e| Refusal::translation(api, &e))?;
            (
                serde_json::to_vec(&out),
                Translation::AnthropicToOpenAi(ctx),
            )
        }
    };
    let body = body.map_err(|e| {
        Refusal::new(
            api,
            500,
            &format!("could not encode the request: {e}"),
            None,
            "llm_internal",
        )
    })?;
    Ok(Plan {
        provider: index,
        body,
        path,
        model: provider_model,
        translation,
        strip_usage: false,
    })
}

/// Either client's request as a Converse body, through the Anthropic request types.
fn plan_bedrock(
    settings: &Settings,
    index: usize,
    api: Api,
    provider_model: &str,
    body: &[u8],
) -> Result<Plan, Refusal> {
    let refuse = |e: TranslateError| Refusal::translation(api, &e);
    let (request, ctx) = match api {
        Api::OpenAi => {
            let req: ChatRequest = parse_body(body).map_err(refuse)?;
            // Converse has no JSON-schema output: structured output rides on a forced tool.
            let target = AnthropicTarget {
                model: provider_model,
                default_max_tokens: settings.default_max_tokens,
                structured_output: StructuredOutput::ForcedTool,
            };
            chat_to_messages(req, &target).map_err(refuse)?
        }
        Api::Anthropic => {
            let req: MessagesRequest = parse_body(body).map_err(refuse)?;
            let ctx = ResponseContext {
                stream: req.stream.unwrap_or(false),
                ..ResponseContext::default()
            };
            (req, ctx)
        }
    };
    let converse = messages_to_converse(request, settings.default_max_tokens).map_err(refuse)?;
    let provider = &settings.providers[index];
    Ok(Plan {
        provider: index,
        body: serde_json::to_vec(&converse).unwrap_or_default(),
        path: provider.chat_path(provider_model, ctx.stream),
        model: provider_model.to_string(),
        translation: Translation::ToBedrock {
            ctx,
            model: provider_model.to_string(),
        },
        strip_usage: false,
    })
}

/// The body with the provider's model name; unchanged bytes when the name is the same.
fn with_model(value: &mut Value, provider_model: &str, client_model: &str, body: &[u8]) -> Vec<u8> {
    if provider_model == client_model {
        return body.to_vec();
    }
    value["model"] = Value::String(provider_model.to_string());
    serde_json::to_vec(value).unwrap_or_else(|_| body.to_vec())
}
