//! Fuzz target: the token-usage reader of model-server answers (a JSON body or an SSE stream,
//! scanned by hand for the top-level `usage`). No panic; the same usage however the body is
//! chunked; for a JSON answer, never other counts than the top-level `usage` a JSON parser reads.

use ai_gateway_core::fuzz::{self, check};
use proptest::prelude::*;
use proptest::sample::Index;
use serde_json::{json, Value};

use crate::usage::{Usage, UsageReader};

const LIMIT: usize = 64 * 1024;

/// OpenAI's documented chat completion answer (with `usage`), and one chunk of a stream.
fn seeds() -> Vec<Value> {
    vec![
        json!({"id": "chatcmpl-123", "object": "chat.completion", "created": 1677652288,
               "model": "gpt-4o-mini", "choices": [{"index": 0, "message": {"role": "assistant",
               "content": "Hello there, \"usage\": {}"}, "finish_reason": "stop"}],
               "usage": {"prompt_tokens": 9, "completion_tokens": 12, "total_tokens": 21}}),
        json!({"id": "chatcmpl-123", "object": "chat.completion.chunk", "choices": [],
               "usage": {"prompt_tokens": 5, "completion_tokens": 7}}),
    ]
}

fn read(content_type: &str, chunks: &[&[u8]]) -> Option<Usage> {
    let mut reader = UsageReader::new(content_type, LIMIT);
    chunks.iter().for_each(|c| reader.feed(c));
    reader.finish()
}

#[test]
fn fuzz_usage_reader() {
    let input = (
        fuzz::json_mutated(seeds(), 4),
        proptest::collection::vec(any::<Index>(), 0..4),
        any::<bool>(),
    );
    fuzz::run("inference_usage_reader", input, |(body, cuts, as_sse)| {
        if as_sse {
            let stream = [b"data: ".as_slice(), &body, b"\n\ndata: [DONE]\n\n"].concat();
            let whole = read("text/event-stream", &[&stream]);
            let chunked = read("text/event-stream", &fuzz::split_at(&stream, &cuts));
            return check(whole == chunked, || "chunking changed the usage".into());
        }
        let got = read("application/json", &fuzz::split_at(&body, &cuts));
        // What a JSON parser reads, when the answer is a JSON object with a usage object.
        let parsed: Option<Value> = serde_json::from_slice(&body).ok();
        let usage = parsed
            .as_ref()
            .and_then(|v| v.get("usage"))
            .filter(|u| u.is_object());
        let counts = usage.map(|u| (u.get("prompt_tokens"), u.get("completion_tokens")));
        if let Some((prompt, completion)) = counts {
            let field = |v: Option<&Value>| match v {
                None => Some(0),
                Some(v) => v.as_u64(),
            };
            if let (Some(prompt_tokens), Some(completion_tokens)) =
                (field(prompt), field(completion))
            {
                // The scan may decline what it cannot read unambiguously (duplicate members,
                // which serde_json's Value resolves as the last), never read other counts.
                let want = Some(Usage {
                    prompt_tokens,
                    completion_tokens,
                });
                check(got.is_none() || got == want, || {
                    format!(
                        "read {got:?}, want {want:?}: {}",
                        String::from_utf8_lossy(&body)
                    )
                })?;
            }
        }
        Ok(())
    });
}

#[test]
fn a_decoy_usage_before_the_real_one_is_not_read() {
    // Found by fuzz_usage_reader: the scan stopped at the first `usage`, and serde reads `[]`
    // as a struct of defaults, so an answer could report zero tokens.
    for decoy in [r#"[]"#, r#"{"prompt_tokens":0}"#] {
        let body =
            format!(r#"{{"usage":{decoy},"usage":{{"prompt_tokens":5,"completion_tokens":7}}}}"#);
        let want = Usage {
            prompt_tokens: 5,
            completion_tokens: 7,
        };
        assert_eq!(
            read("application/json", &[body.as_bytes()]),
            Some(want),
            "{body}"
        );
    }
    assert_eq!(read("application/json", &[br#"{"usage":[]}"#]), None);
}
