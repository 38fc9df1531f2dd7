//! Fuzz targets: the LLM request and response translators. Inputs are the documented examples
//! in `testdata/` under structural and byte-level mutation; whatever a translator accepts, its
//! output must be valid for the target API (it parses back as the target type) and bounded.

use std::path::Path;

use ai_gateway_core::fuzz::{self, check};
use ai_gateway_llm::anthropic::{MessageResponse, MessagesRequest};
use ai_gateway_llm::bedrock::converse::{converse_to_message, messages_to_converse};
use ai_gateway_llm::openai::{ChatCompletion, ChatRequest};
use ai_gateway_llm::translate::request_to_anthropic::{chat_to_messages, AnthropicTarget};
use ai_gateway_llm::translate::request_to_openai::{messages_to_chat, OpenAiTarget};
use ai_gateway_llm::translate::response_to_anthropic::completion_to_message;
use ai_gateway_llm::translate::response_to_openai::message_to_completion;
use ai_gateway_llm::translate::{parse_body, StructuredOutput};
use proptest::prelude::*;
use proptest::test_runner::TestCaseError;
use serde::de::DeserializeOwned;
use serde::Serialize;

fn seeds(dir: &str) -> Vec<serde_json::Value> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("testdata")
        .join(dir);
    fuzz::json_captures(fuzz::captures(&root, &[".in.json"]))
}

/// `output` serialized must parse as `T` (the target API's type) and stay within a bound of
/// the input's size.
fn valid_as<T: DeserializeOwned>(
    output: &impl Serialize,
    input: &[u8],
) -> Result<T, TestCaseError> {
    let bytes = serde_json::to_vec(output).map_err(|e| TestCaseError::fail(e.to_string()))?;
    check(bytes.len() <= 4 * input.len() + 4096, || {
        format!("{} bytes out of {}", bytes.len(), input.len())
    })?;
    parse_body::<T>(&bytes).map_err(|e| TestCaseError::fail(format!("invalid output: {e}")))
}

/// Structural edits per case.
const EDITS: usize = 6;

/// An input in a failure message.
fn text(body: &[u8]) -> String {
    String::from_utf8_lossy(body).into_owned()
}

#[test]
fn fuzz_llm_openai_request_to_anthropic() {
    let seeds = seeds("requests_openai_to_anthropic");
    let input = (fuzz::json_mutated(seeds, EDITS), any::<bool>());
    fuzz::run(
        "llm_request_openai_to_anthropic",
        input,
        |(body, forced)| {
            let Ok(req) = parse_body::<ChatRequest>(&body) else {
                return Ok(());
            };
            let structured_output = match forced {
                true => StructuredOutput::ForcedTool,
                false => StructuredOutput::Native,
            };
            let target = AnthropicTarget {
                model: "claude-sonnet-4-5",
                default_max_tokens: 4096,
                structured_output,
            };
            if let Ok((out, _)) = chat_to_messages(req, &target) {
                // Anthropic requires `model` and `max_tokens`.
                let out: MessagesRequest = valid_as(&out, &body)?;
                check(
                    out.model == target.model && out.max_tokens.is_some(),
                    || format!("{out:?} from {}", text(&body)),
                )?;
            }
            Ok(())
        },
    );
}

#[test]
fn fuzz_llm_anthropic_request_to_openai() {
    let seeds = seeds("requests_anthropic_to_openai");
    let input = (fuzz::json_mutated(seeds, EDITS), any::<bool>());
    fuzz::run(
        "llm_request_anthropic_to_openai",
        input,
        |(body, compatible)| {
            let Ok(req) = parse_body::<MessagesRequest>(&body) else {
                return Ok(());
            };
            let target = OpenAiTarget {
                model: "gpt-4.1",
                compatible,
            };
            if let Ok((out, _)) = messages_to_chat(req, &target) {
                let out: ChatRequest = valid_as(&out, &body)?;
                check(out.model == target.model, || {
                    format!("{out:?} from {}", text(&body))
                })?;
            }
            Ok(())
        },
    );
}

#[test]
fn fuzz_llm_anthropic_request_to_converse() {
    let input = fuzz::json_mutated(seeds("requests_anthropic_to_bedrock"), EDITS);
    fuzz::run("llm_request_anthropic_to_converse", input, |body| {
        let Ok(req) = parse_body::<MessagesRequest>(&body) else {
            return Ok(());
        };
        if let Ok(out) = messages_to_converse(req, 4096) {
            let out: serde_json::Value = valid_as(&out, &body)?;
            // Converse requires `messages`: role/content turns, content a list of blocks.
            let turns = out["messages"].as_array();
            let turn = |t: &serde_json::Value| t["role"].is_string() && t["content"].is_array();
            check(turns.is_some_and(|t| t.iter().all(turn)), || {
                format!("{out} from {}", text(&body))
            })?;
        }
        Ok(())
    });
}

#[test]
fn fuzz_llm_responses() {
    let all: Vec<serde_json::Value> = [
        "responses_anthropic_to_openai",
        "responses_openai_to_anthropic",
        "responses_bedrock_to_anthropic",
    ]
    .into_iter()
    .flat_map(seeds)
    .collect();
    fuzz::run("llm_responses", fuzz::json_mutated(all, EDITS), |body| {
        if let Ok(message) = parse_body::<MessageResponse>(&body) {
            if let Ok(out) = message_to_completion(message, &Default::default(), 1_700_000_000) {
                let out: ChatCompletion = valid_as(&out, &body)?;
                check(!out.choices.is_empty(), || format!("{out:?}"))?;
            }
        }
        if let Ok(completion) = parse_body::<ChatCompletion>(&body) {
            if let Ok(out) = completion_to_message(completion) {
                valid_as::<MessageResponse>(&out, &body)?;
            }
        }
        if let Ok(out) = converse_to_message(&body, "msg_fuzz", "model") {
            valid_as::<MessageResponse>(&out, &body)?;
        }
        Ok(())
    });
}

#[test]
fn huge_provider_usage_figures_saturate() {
    // Found by fuzz_llm_responses: input + cache + output tokens overflowed u64 (a trap in a
    // Wasm VM's debug build, a wrapped total in release).
    let body = serde_json::json!({
        "id": "msg_01", "type": "message", "role": "assistant", "model": "claude-sonnet-4-5",
        "content": [{"type": "text", "text": "hi"}], "stop_reason": "end_turn",
        "usage": {"input_tokens": u64::MAX - 1, "output_tokens": 7, "cache_read_input_tokens": 5}
    });
    let message: MessageResponse = parse_body(body.to_string().as_bytes()).unwrap();
    let out = message_to_completion(message, &Default::default(), 1_700_000_000).unwrap();
    let usage = serde_json::to_value(&out).unwrap()["usage"].clone();
    assert_eq!(usage["prompt_tokens"], u64::MAX);
    assert_eq!(usage["total_tokens"], u64::MAX);
}
