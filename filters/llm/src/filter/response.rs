//! The provider's answer on its way back: held and translated whole (JSON, errors) or
//! translated chunk by chunk (streams).

use ai_gateway_core::{Action, Direction, Host, LogLevel};

use super::observe::{Observer, Wire};
use super::{LlmFilter, ResponseMode};
use crate::bedrock::converse::converse_to_message;
use crate::bedrock::ConverseStream;
use crate::plan::Endpoint;
use crate::plan::Translation;
use crate::stream::{
    AnthropicSse, AnthropicToOpenAi, OpenAiToAnthropic, StreamTokens, StreamTranslator,
};
use crate::translate::errors::{error_body, translate_error, Api};
use crate::translate::response_to_anthropic::completion_to_message;
use crate::translate::response_to_openai::message_to_completion;
use crate::translate::TranslateError;

impl LlmFilter {
    pub(super) fn start_response(&mut self, host: &mut dyn Host, end_of_stream: bool) -> Action {
        let status = self.status.unwrap_or(0);
        let content_type = host
            .header(Direction::Response, "content-type")
            .unwrap_or_default();
        let content_type = content_type.trim_start();
        let event_stream = content_type.starts_with("text/event-stream")
            || content_type.starts_with("application/vnd.amazon.eventstream");
        self.streaming = (200..300).contains(&status) && event_stream && !end_of_stream;
        if self.translation == Translation::Passthrough {
            let wire = match self.endpoint {
                Some(Endpoint::ChatCompletions) => Some(Wire::Chat),
                Some(Endpoint::Messages) => Some(Wire::Messages),
                Some(Endpoint::Embeddings) => Some(Wire::Embeddings),
                Some(Endpoint::Responses) => Some(Wire::Responses),
                // Token counting is not a completion: its answer holds no usage to count.
                Some(Endpoint::CountTokens) | None => None,
            };
            let observed =
                (200..300).contains(&status) && !end_of_stream && self.settings.accounting.enabled;
            if let (Some(wire), true) = (wire, observed) {
                if self.streaming && self.strip_usage {
                    // Stripped events change the length.
                    host.remove_header(Direction::Response, "content-length");
                }
                self.response = ResponseMode::Observe(Box::new(if self.streaming {
                    Observer::stream(wire, self.strip_usage)
                } else {
                    Observer::json(wire, self.settings.max_response_bytes)
                }));
            }
            return Action::Continue;
        }
        host.remove_header(Direction::Response, "content-length");
        if self.streaming {
            let translator = self.stream_translator(host);
            self.response = ResponseMode::Stream(translator);
            host.set_header(Direction::Response, "content-type", "text/event-stream");
            return Action::Continue;
        }
        self.response = ResponseMode::Buffer {
            error: !(200..300).contains(&status),
        };
        if end_of_stream {
            self.finish_buffered(host, &[]);
            return Action::Continue;
        }
        Action::Pause
    }

    pub(super) fn stream_translator(&self, host: &dyn Host) -> Box<dyn StreamTranslator> {
        let created = host.unix_seconds();
        match &self.translation {
            Translation::OpenAiToAnthropic(ctx) => {
                Box::new(AnthropicToOpenAi::new(ctx.clone(), created))
            }
            Translation::ToBedrock { ctx, model } => {
                let id = bedrock_message_id(host);
                match self.api {
                    Api::OpenAi => Box::new(ConverseStream::new(
                        AnthropicToOpenAi::new(ctx.clone(), created),
                        id,
                        model.clone(),
                    )),
                    Api::Anthropic => Box::new(ConverseStream::new(
                        AnthropicSse::default(),
                        id,
                        model.clone(),
                    )),
                }
            }
            Translation::AnthropicToOpenAi(_) | Translation::Passthrough => {
                Box::new(OpenAiToAnthropic::new())
            }
        }
    }

    /// Translates a held body and sets the headers that describe the new one.
    pub(super) fn finish_buffered(&mut self, host: &mut dyn Host, body: &[u8]) {
        let ResponseMode::Buffer { error } = self.response else {
            return;
        };
        let (status, out) = if error {
            let status = self.status.unwrap_or(502);
            translate_error(self.api, status, body)
        } else {
            match self.translate_success(host, body) {
                Ok(out) => (self.status.unwrap_or(200), out),
                Err(err) => {
                    host.log(
                        LogLevel::Warn,
                        format_args!("llm: provider response not translated: {err}"),
                    );
                    let message = format!("the provider's response could not be translated: {err}");
                    (502, error_body(self.api, 502, &message, None))
                }
            }
        };
        self.status = Some(status);
        host.set_header(Direction::Response, ":status", &status.to_string());
        host.set_header(Direction::Response, "content-type", "application/json");
        host.set_header(
            Direction::Response,
            "content-length",
            &out.len().to_string(),
        );
        if let Err(err) = host.set_body(Direction::Response, &out) {
            host.log(
                LogLevel::Error,
                format_args!("llm: could not replace the response body: {err}"),
            );
        }
        self.publish_tokens(host);
    }

    pub(super) fn translate_success(
        &mut self,
        host: &dyn Host,
        body: &[u8],
    ) -> Result<Vec<u8>, TranslateError> {
        let encoded = match &self.translation {
            Translation::OpenAiToAnthropic(ctx) => {
                let msg = crate::translate::parse_body(body)?;
                let out = message_to_completion(msg, ctx, host.unix_seconds())?;
                if let Some(usage) = &out.usage {
                    self.tokens = StreamTokens::from_openai(usage);
                }
                serde_json::to_vec(&out)
            }
            Translation::AnthropicToOpenAi(_) => {
                let completion: crate::openai::ChatCompletion = crate::translate::parse_body(body)?;
                // The provider's own figures: reasoning tokens have no Anthropic field.
                if let Some(usage) = &completion.usage {
                    self.tokens = StreamTokens::from_openai(usage);
                }
                let out = completion_to_message(completion)?;
                serde_json::to_vec(&out)
            }
            Translation::ToBedrock { ctx, model } => {
                let msg = converse_to_message(body, &bedrock_message_id(host), model)?;
                self.tokens = StreamTokens::from_anthropic(&msg.usage);
                match self.api {
                    Api::OpenAi => {
                        serde_json::to_vec(&message_to_completion(msg, ctx, host.unix_seconds())?)
                    }
                    Api::Anthropic => serde_json::to_vec(&msg),
                }
            }
            Translation::Passthrough => return Ok(body.to_vec()),
        };
        encoded.map_err(|e| TranslateError::invalid("body", e.to_string()))
    }

    pub(super) fn response_too_large(&mut self, host: &mut dyn Host) -> Action {
        let limit = self.settings.max_response_bytes;
        host.log(
            LogLevel::Warn,
            format_args!("llm: provider response exceeds maxResponseBytes ({limit})"),
        );
        self.response = ResponseMode::Pass;
        self.status = Some(502);
        let body = error_body(
            self.api,
            502,
            &format!("the provider's response exceeds the gateway's limit of {limit} bytes"),
            None,
        );
        host.send_local_reply(
            502,
            &[("content-type", "application/json")],
            &body,
            "llm_response_too_large",
        );
        Action::Pause
    }
}

/// The id of a Bedrock answer: Bedrock's request id (Converse has no message id).
fn bedrock_message_id(host: &dyn Host) -> String {
    match host.header(Direction::Response, "x-amzn-requestid") {
        Some(id) if !id.is_empty() => format!("msg_bdrk_{id}"),
        _ => "msg_bdrk".to_string(),
    }
}
