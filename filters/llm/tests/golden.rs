//! Golden tests: every `testdata/<dir>/<case>.in.*` translates to `<case>.out.*`. The inputs
//! are the providers' documented examples (each file names its source in `_source` or a
//! leading SSE comment); streams must translate the same however they are split into chunks.

use std::fs;
use std::path::{Path, PathBuf};

use ai_gateway_core::sse::SseParser;
use ai_gateway_llm::anthropic::{MessageResponse, MessagesRequest};
use ai_gateway_llm::bedrock::converse::{converse_to_message, messages_to_converse};
use ai_gateway_llm::bedrock::eventstream::encode;
use ai_gateway_llm::bedrock::ConverseStream;
use ai_gateway_llm::openai::{ChatCompletion, ChatRequest};
use ai_gateway_llm::stream::AnthropicSse;
use ai_gateway_llm::stream::{AnthropicToOpenAi, OpenAiToAnthropic, StreamTranslator};
use ai_gateway_llm::translate::request_to_anthropic::{chat_to_messages, AnthropicTarget};
use ai_gateway_llm::translate::request_to_openai::{messages_to_chat, OpenAiTarget};
use ai_gateway_llm::translate::response_to_anthropic::completion_to_message;
use ai_gateway_llm::translate::response_to_openai::message_to_completion;
use ai_gateway_llm::translate::{parse_body, ResponseContext, StructuredOutput};
use serde_json::Value;

const CREATED: u64 = 1_700_000_000;

/// (case name, input path, expected-output path) of every case in a testdata directory.
fn cases(dir: &str) -> Vec<(String, PathBuf, PathBuf)> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("testdata")
        .join(dir);
    let mut out: Vec<_> = fs::read_dir(&root)
        .unwrap_or_else(|e| panic!("{}: {e}", root.display()))
        .filter_map(|entry| {
            let path = entry.ok()?.path();
            let name = path.file_name()?.to_str()?.to_string();
            let (case, ext) = name.split_once(".in.")?;
            // A stream described as JSON frames is expected as SSE.
            let out_ext = if dir.starts_with("streams_bedrock") {
                "sse"
            } else {
                ext
            };
            Some((
                case.to_string(),
                path.clone(),
                root.join(format!("{case}.out.{out_ext}")),
            ))
        })
        .collect();
    out.sort();
    assert!(!out.is_empty(), "no cases in {dir}");
    out
}

/// The input JSON without its `_source` note, as bytes a client would send.
fn input_body(path: &Path) -> Vec<u8> {
    let mut value: Value = serde_json::from_slice(&fs::read(path).unwrap()).unwrap();
    value.as_object_mut().unwrap().remove("_source");
    serde_json::to_vec(&value).unwrap()
}

fn expected_json(path: &Path) -> Value {
    serde_json::from_slice(&fs::read(path).unwrap()).unwrap()
}

#[test]
fn openai_requests_translate_to_anthropic() {
    for (case, input, expected) in cases("requests_openai_to_anthropic") {
        let req: ChatRequest = parse_body(&input_body(&input)).unwrap();
        let target = AnthropicTarget {
            model: "claude-sonnet-4-5",
            default_max_tokens: 4096,
            structured_output: if case.contains("forced_tool") {
                StructuredOutput::ForcedTool
            } else {
                StructuredOutput::Native
            },
        };
        let (out, ctx) = chat_to_messages(req, &target).unwrap_or_else(|e| panic!("{case}: {e}"));
        assert_eq!(
            serde_json::to_value(&out).unwrap(),
            expected_json(&expected),
            "case {case}"
        );
        assert_eq!(
            ctx.forced_tool.is_some(),
            case.contains("forced_tool"),
            "case {case}"
        );
    }
}

#[test]
fn anthropic_requests_translate_to_openai() {
    for (case, input, expected) in cases("requests_anthropic_to_openai") {
        let req: MessagesRequest = parse_body(&input_body(&input)).unwrap();
        let target = OpenAiTarget {
            model: "gpt-4.1",
            compatible: case.contains("openai_compatible"),
        };
        let (out, _) = messages_to_chat(req, &target).unwrap_or_else(|e| panic!("{case}: {e}"));
        assert_eq!(
            serde_json::to_value(&out).unwrap(),
            expected_json(&expected),
            "case {case}"
        );
    }
}

#[test]
fn anthropic_responses_translate_to_openai() {
    for (case, input, expected) in cases("responses_anthropic_to_openai") {
        let msg: MessageResponse = parse_body(&input_body(&input)).unwrap();
        let ctx = ResponseContext {
            forced_tool: case
                .contains("forced_tool")
                .then(|| "calendar_event".to_string()),
            ..ResponseContext::default()
        };
        let out =
            message_to_completion(msg, &ctx, CREATED).unwrap_or_else(|e| panic!("{case}: {e}"));
        assert_eq!(
            serde_json::to_value(&out).unwrap(),
            expected_json(&expected),
            "case {case}"
        );
    }
}

#[test]
fn openai_responses_translate_to_anthropic() {
    for (case, input, expected) in cases("responses_openai_to_anthropic") {
        let completion: ChatCompletion = parse_body(&input_body(&input)).unwrap();
        let out = completion_to_message(completion).unwrap_or_else(|e| panic!("{case}: {e}"));
        assert_eq!(
            serde_json::to_value(&out).unwrap(),
            expected_json(&expected),
            "case {case}"
        );
    }
}

/// A stream as (event name, data as JSON or, when not JSON, as a string) pairs.
fn events(bytes: &[u8]) -> Vec<(Option<String>, Value)> {
    SseParser::new(1 << 20)
        .feed(bytes)
        .into_iter()
        .map(|e| {
            let e = e.unwrap();
            let data = serde_json::from_str(&e.data).unwrap_or(Value::String(e.data));
            (e.event, data)
        })
        .collect()
}

/// Feeds the input in the given pieces, then ends the stream.
fn run(mut translator: Box<dyn StreamTranslator>, pieces: &[&[u8]]) -> Vec<u8> {
    let mut out = Vec::new();
    for piece in pieces {
        out.extend(translator.feed(piece));
    }
    out.extend(translator.finish());
    out
}

/// The response context an Anthropic stream case declares in its `: context:` comment.
fn stream_context(input: &[u8]) -> ResponseContext {
    let text = String::from_utf8_lossy(input);
    let line = text
        .lines()
        .find_map(|l| l.strip_prefix(": context: "))
        .expect("a context comment");
    let v: Value = serde_json::from_str(line).unwrap();
    ResponseContext {
        include_usage: v["include_usage"].as_bool().unwrap(),
        forced_tool: v["forced_tool"].as_str().map(str::to_string),
        stream: true,
    }
}

fn check_stream(dir: &str, make: &dyn Fn(&[u8]) -> Box<dyn StreamTranslator>) {
    for (case, input, expected) in cases(dir) {
        let input = fs::read(&input).unwrap();
        let whole = run(make(&input), &[&input]);
        assert_eq!(
            events(&whole),
            events(&fs::read(&expected).unwrap()),
            "case {case}:\n{}",
            String::from_utf8_lossy(&whole)
        );
        for cut in 0..=input.len() {
            let split = run(make(&input), &[&input[..cut], &input[cut..]]);
            assert_eq!(split, whole, "case {case}, cut at {cut}");
        }
        let bytes: Vec<&[u8]> = input.chunks(1).collect();
        assert_eq!(
            run(make(&input), &bytes),
            whole,
            "case {case}, byte by byte"
        );
    }
}

#[test]
fn anthropic_streams_translate_to_openai_chunks() {
    check_stream("streams_anthropic_to_openai", &|input| {
        Box::new(AnthropicToOpenAi::new(stream_context(input), CREATED))
    });
}

#[test]
fn openai_streams_translate_to_anthropic_events() {
    check_stream("streams_openai_to_anthropic", &|_| {
        Box::new(OpenAiToAnthropic::new())
    });
}

#[test]
fn anthropic_requests_translate_to_converse() {
    for (case, input, expected) in cases("requests_anthropic_to_bedrock") {
        let req: MessagesRequest = parse_body(&input_body(&input)).unwrap();
        let out = messages_to_converse(req, 4096).unwrap_or_else(|e| panic!("{case}: {e}"));
        assert_eq!(out, expected_json(&expected), "case {case}");
    }
}

#[test]
fn converse_responses_translate_to_anthropic() {
    for (case, input, expected) in cases("responses_bedrock_to_anthropic") {
        let out = converse_to_message(&input_body(&input), "msg_bdrk_test", "bedrock-model")
            .unwrap_or_else(|e| panic!("{case}: {e}"));
        assert_eq!(
            serde_json::to_value(&out).unwrap(),
            expected_json(&expected),
            "case {case}"
        );
    }
}

/// The eventstream a JSON frame list describes (`__exception__` frames are exceptions).
fn eventstream(path: &Path) -> Vec<u8> {
    let value: Value = serde_json::from_slice(&fs::read(path).unwrap()).unwrap();
    let mut out = Vec::new();
    for frame in value["frames"].as_array().unwrap() {
        let kind = frame[0].as_str().unwrap();
        let payload = frame[1].to_string();
        let headers: Vec<(&str, &str)> = if kind == "__exception__" {
            vec![
                (":exception-type", "throttlingException"),
                (":content-type", "application/json"),
                (":message-type", "exception"),
            ]
        } else {
            vec![
                (":event-type", kind),
                (":content-type", "application/json"),
                (":message-type", "event"),
            ]
        };
        out.extend(encode(&headers, payload.as_bytes()));
    }
    out
}

#[test]
fn converse_streams_translate_to_anthropic_events() {
    for (case, input, expected) in cases("streams_bedrock_to_anthropic") {
        let stream = eventstream(&input);
        let make = || -> Box<dyn StreamTranslator> {
            Box::new(ConverseStream::new(
                AnthropicSse::default(),
                "msg_bdrk_test".into(),
                "bedrock-model".into(),
            ))
        };
        let whole = run(make(), &[&stream]);
        assert_eq!(
            events(&whole),
            events(&fs::read(&expected).unwrap()),
            "case {case}:\n{}",
            String::from_utf8_lossy(&whole)
        );
        for cut in 0..=stream.len() {
            assert_eq!(
                run(make(), &[&stream[..cut], &stream[cut..]]),
                whole,
                "case {case}, cut at {cut}"
            );
        }
    }
}

#[test]
fn provider_errors_translate_to_the_clients_format() {
    use ai_gateway_llm::translate::errors::{translate_error, Api};
    for (case, input, expected) in cases("errors") {
        let input: Value = serde_json::from_slice(&fs::read(&input).unwrap()).unwrap();
        let client = match input["client"].as_str().unwrap() {
            "openai" => Api::OpenAi,
            _ => Api::Anthropic,
        };
        let status = input["status"].as_u64().unwrap() as u16;
        let (got_status, body) =
            translate_error(client, status, input["body"].to_string().as_bytes());
        let got = serde_json::json!({"status": got_status, "body": serde_json::from_slice::<Value>(&body).unwrap()});
        assert_eq!(got, expected_json(&expected), "case {case}");
    }
}
