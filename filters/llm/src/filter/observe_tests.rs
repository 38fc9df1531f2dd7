//! Usage read from the providers' documented examples (testdata/usage), fed in small pieces
//! so events split across chunks are exercised.

use super::*;

fn fixture(name: &str) -> String {
    let path = format!("{}/testdata/usage/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn observe(observer: &mut Observer, body: &str) -> Vec<u8> {
    let mut out = Vec::new();
    for piece in body.as_bytes().chunks(7) {
        match observer.chunk(piece).replacement {
            Some(bytes) => out.extend(bytes),
            None => out.extend_from_slice(piece),
        }
    }
    out
}

fn tokens(input: u64, output: u64, cached: u64, reasoning: u64) -> StreamTokens {
    StreamTokens {
        input,
        output,
        cached,
        reasoning,
    }
}

#[test]
fn documented_examples_give_their_figures_and_model() {
    let cases = [
        (
            Observer::json(Wire::Chat, 1 << 20),
            "openai_chat.json",
            tokens(19, 10, 0, 0),
            "gpt-4.1-2025-04-14",
        ),
        (
            Observer::json(Wire::Chat, 1 << 20),
            "openai_chat_reasoning.json",
            tokens(2006, 300, 1920, 256),
            "o3-mini-2025-01-31",
        ),
        (
            Observer::stream(Wire::Chat, false),
            "openai_chat_stream_usage.sse",
            tokens(9, 12, 0, 0),
            "gpt-4o-mini",
        ),
        (
            // Cache reads and writes are input too.
            Observer::json(Wire::Messages, 1 << 20),
            "anthropic_message.json",
            tokens(2095 + 2051 + 2051, 503, 2051, 0),
            "claude-sonnet-4-5-20250929",
        ),
        (
            // message_delta's output figure is cumulative: 15, not 1 + 15.
            Observer::stream(Wire::Messages, false),
            "anthropic_stream.sse",
            tokens(25, 15, 0, 0),
            "claude-sonnet-4-5-20250929",
        ),
        (
            Observer::json(Wire::Embeddings, 1 << 20),
            "openai_embeddings.json",
            tokens(8, 0, 0, 0),
            "text-embedding-ada-002",
        ),
        (
            Observer::json(Wire::Responses, 1 << 20),
            "openai_responses.json",
            tokens(36, 87, 0, 0),
            "gpt-4.1-2025-04-14",
        ),
        (
            Observer::stream(Wire::Responses, false),
            "openai_responses_stream.sse",
            tokens(37, 11, 0, 0),
            "gpt-4.1-2025-04-14",
        ),
    ];
    for (mut observer, name, want, model) in cases {
        let body = fixture(name);
        let out = observe(&mut observer, &body);
        assert_eq!(observer.tokens(), want, "{name}");
        assert_eq!(observer.model().as_deref(), Some(model), "{name}");
        assert_eq!(out, body.as_bytes(), "{name}: passed through unchanged");
    }
}

#[test]
fn a_json_answer_over_the_limit_is_not_counted() {
    let mut observer = Observer::json(Wire::Chat, 10);
    observe(&mut observer, &fixture("openai_chat.json"));
    assert_eq!(observer.tokens(), StreamTokens::default());
}

#[test]
fn the_usage_the_client_did_not_ask_for_is_stripped_yet_counted() {
    let mut observer = Observer::stream(Wire::Chat, true);
    let out = observe(&mut observer, &fixture("openai_chat_stream_usage.sse"));
    assert_eq!(
        String::from_utf8(out).unwrap(),
        fixture("openai_chat_stream_usage.stripped.sse")
    );
    assert_eq!(observer.tokens(), tokens(9, 12, 0, 0));
}

#[test]
fn anthropic_input_is_known_at_message_start() {
    let body = fixture("anthropic_stream.sse");
    let split = body.find("event: content_block_start").unwrap();
    let mut observer = Observer::stream(Wire::Messages, false);
    assert!(observer.chunk(&body.as_bytes()[..split]).input_known);
    assert_eq!(observer.tokens().input, 25);
    assert!(!observer.chunk(&body.as_bytes()[split..]).input_known);
}

#[test]
fn stripping_applies_to_chat_streams_only() {
    let body = fixture("anthropic_stream.sse");
    let mut observer = Observer::stream(Wire::Messages, true);
    assert_eq!(observe(&mut observer, &body), body.as_bytes());
}
