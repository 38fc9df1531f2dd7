//! Fuzz target: the LLM stream translators (Anthropic → OpenAI chunks, OpenAI → Anthropic
//! events, Bedrock ConverseStream → either). Inputs are the documented example streams under
//! byte-level (SSE) or structural (eventstream frames) mutation, cut into random chunks. The
//! output is always a well-formed SSE stream of the client API's events, bounded in size, and
//! independent of how the input was chunked.

use std::path::Path;

use ai_gateway_core::fuzz::{self, check};
use ai_gateway_core::sse::SseParser;
use ai_gateway_llm::anthropic::StreamEvent;
use ai_gateway_llm::bedrock::eventstream::encode;
use ai_gateway_llm::bedrock::ConverseStream;
use ai_gateway_llm::openai::ChatChunk;
use ai_gateway_llm::stream::{
    AnthropicSse, AnthropicToOpenAi, OpenAiToAnthropic, StreamTranslator,
};
use ai_gateway_llm::translate::ResponseContext;
use proptest::prelude::*;
use proptest::sample::Index;
use proptest::test_runner::TestCaseError;
use serde_json::Value;

fn testdata(dir: &str, suffix: &str) -> Vec<Vec<u8>> {
    fuzz::captures(
        &Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("testdata")
            .join(dir),
        &[suffix],
    )
}

/// The client API a translator writes.
#[derive(Debug, Clone, Copy)]
enum Client {
    OpenAi,
    Anthropic,
}

fn run(translator: &mut dyn StreamTranslator, chunks: &[&[u8]]) -> Vec<u8> {
    let mut out: Vec<u8> = chunks.iter().flat_map(|c| translator.feed(c)).collect();
    out.extend(translator.finish());
    out
}

/// Every event of `output` is one the client's SDK reads: OpenAI `data:` chunks (or an error
/// object, or `[DONE]`), Anthropic events whose name matches their JSON `type`.
fn valid_stream(client: Client, output: &[u8]) -> Result<(), TestCaseError> {
    let events = SseParser::new(usize::MAX).feed(output);
    check(output.is_empty() || output.ends_with(b"\n\n"), || {
        "unterminated event".into()
    })?;
    for event in events {
        let event = event.map_err(|e| TestCaseError::fail(e.to_string()))?;
        let valid = match client {
            Client::OpenAi => {
                event.data == "[DONE]"
                    || serde_json::from_str::<ChatChunk>(&event.data).is_ok()
                    || serde_json::from_str::<Value>(&event.data)
                        .is_ok_and(|v| v["error"]["message"].is_string())
            }
            Client::Anthropic => serde_json::from_str::<StreamEvent>(&event.data)
                .is_ok_and(|e| event.event.as_deref() == Some(e.name())),
        };
        check(valid, || format!("{client:?} client cannot read {event:?}"))?;
    }
    Ok(())
}

/// Translates `input` whole and in the given chunks: both outputs valid, equal and bounded.
fn check_translation(
    client: Client,
    make: &dyn Fn() -> Box<dyn StreamTranslator>,
    input: &[u8],
    cuts: &[Index],
) -> Result<(), TestCaseError> {
    let whole = run(make().as_mut(), &[input]);
    let chunked = run(make().as_mut(), &fuzz::split_at(input, cuts));
    check(whole == chunked, || "chunking changed the output".into())?;
    check(whole.len() <= 8 * input.len() + 4096, || {
        format!("{} bytes out of {}", whole.len(), input.len())
    })?;
    valid_stream(client, &whole)
}

fn context() -> impl Strategy<Value = ResponseContext> {
    (
        any::<bool>(),
        proptest::option::of(Just("calendar_event".to_string())),
    )
        .prop_map(|(include_usage, forced_tool)| ResponseContext {
            include_usage,
            forced_tool,
            stream: true,
        })
}

#[test]
fn fuzz_llm_stream_anthropic_to_openai() {
    let seeds = testdata("streams_anthropic_to_openai", ".in.sse");
    let input = (
        fuzz::mutated(seeds, 10),
        proptest::collection::vec(any::<Index>(), 0..6),
        context(),
    );
    fuzz::run(
        "llm_stream_anthropic_to_openai",
        input,
        |(bytes, cuts, ctx)| {
            check_translation(
                Client::OpenAi,
                &|| Box::new(AnthropicToOpenAi::new(ctx.clone(), 1_700_000_000)),
                &bytes,
                &cuts,
            )
        },
    );
}

#[test]
fn fuzz_llm_stream_openai_to_anthropic() {
    let seeds = testdata("streams_openai_to_anthropic", ".in.sse");
    let input = (
        fuzz::mutated(seeds, 10),
        proptest::collection::vec(any::<Index>(), 0..6),
    );
    fuzz::run("llm_stream_openai_to_anthropic", input, |(bytes, cuts)| {
        check_translation(
            Client::Anthropic,
            &|| Box::new(OpenAiToAnthropic::new()),
            &bytes,
            &cuts,
        )
    });
}

/// The eventstream bytes a frame list (`[[event-type, payload], …]`) describes.
fn eventstream(frames: &Value) -> Vec<u8> {
    let mut out = Vec::new();
    for frame in frames.as_array().into_iter().flatten() {
        let kind = frame[0].as_str().unwrap_or("");
        let payload = frame[1].to_string();
        let headers = if kind == "__exception__" {
            [
                (":exception-type", "throttlingException"),
                (":message-type", "exception"),
            ]
        } else {
            [(":event-type", kind), (":message-type", "event")]
        };
        out.extend(encode(&headers, payload.as_bytes()));
    }
    out
}

#[test]
fn fuzz_llm_stream_converse() {
    let seeds: Vec<Value> =
        fuzz::json_captures(testdata("streams_bedrock_to_anthropic", ".in.json"))
            .into_iter()
            .map(|case| case["frames"].clone())
            .collect();
    let input = (
        fuzz::json_mutated(seeds, 8),
        proptest::collection::vec(fuzz::mutation(), 0..3),
        proptest::collection::vec(any::<Index>(), 0..6),
        any::<bool>(),
    );
    fuzz::run(
        "llm_stream_converse",
        input,
        |(frames, damage, cuts, to_openai)| {
            // Frames that no longer parse as JSON stand for an empty stream.
            let frames: Value = serde_json::from_slice(&frames).unwrap_or(Value::Null);
            let bytes = fuzz::apply(eventstream(&frames), &damage);
            if to_openai {
                let make = || -> Box<dyn StreamTranslator> {
                    let sink = AnthropicToOpenAi::new(ResponseContext::default(), 1_700_000_000);
                    Box::new(ConverseStream::new(sink, "id".into(), "model".into()))
                };
                check_translation(Client::OpenAi, &make, &bytes, &cuts)
            } else {
                let make = || -> Box<dyn StreamTranslator> {
                    Box::new(ConverseStream::new(
                        AnthropicSse::default(),
                        "id".into(),
                        "model".into(),
                    ))
                };
                check_translation(Client::Anthropic, &make, &bytes, &cuts)
            }
        },
    );
}
