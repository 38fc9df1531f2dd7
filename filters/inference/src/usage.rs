//! Token usage of an OpenAI-style completion, read from the response as it passes (never held):
//! the `usage` object of a JSON answer, or of the last SSE chunk carrying one (the model server
//! sends it when the client asked for `stream_options.include_usage`).

use ai_gateway_core::sse::SseParser;
use serde::Deserialize;

/// Prompt and completion tokens of one answer.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Usage {
    pub prompt_tokens: u64,
    pub completion_tokens: u64,
}

#[derive(Deserialize)]
struct WithUsage {
    usage: Option<RawUsage>,
}

#[derive(Deserialize)]
struct RawUsage {
    #[serde(default)]
    prompt_tokens: u64,
    #[serde(default)]
    completion_tokens: u64,
}

/// Watches one response body for its usage, within a byte bound.
#[derive(Debug)]
pub enum UsageReader {
    /// A JSON answer: a bounded copy, parsed at the end (abandoned past the bound).
    Json {
        copy: Vec<u8>,
        limit: usize,
        over: bool,
    },
    /// An SSE stream: events parsed as they complete; only events mentioning usage are decoded.
    Sse {
        parser: Box<SseParser>,
        usage: Option<Usage>,
    },
}

impl UsageReader {
    /// A reader for a response of this content type; `limit` bounds the JSON copy and one SSE event.
    pub fn new(content_type: &str, limit: usize) -> UsageReader {
        if content_type.starts_with("text/event-stream") {
            UsageReader::Sse {
                parser: Box::new(SseParser::new(limit)),
                usage: None,
            }
        } else {
            UsageReader::Json {
                copy: Vec::new(),
                limit,
                over: false,
            }
        }
    }

    /// Feeds the next body chunk.
    pub fn feed(&mut self, chunk: &[u8]) {
        match self {
            UsageReader::Json { copy, limit, over } => {
                // A host may hand the whole body again (a later filter buffered it and the last
                // call repeats it): what starts with everything seen so far replaces it.
                if !copy.is_empty() && chunk.starts_with(copy) {
                    copy.clear();
                }
                if *over || copy.len() + chunk.len() > *limit {
                    *over = true;
                    copy.clear();
                } else {
                    copy.extend_from_slice(chunk);
                }
            }
            UsageReader::Sse { parser, usage } => {
                for event in parser.feed(chunk).into_iter().flatten() {
                    if event.data.contains("\"usage\"") {
                        if let Some(found) = decode(event.data.as_bytes()) {
                            *usage = Some(found);
                        }
                    }
                }
            }
        }
    }

    /// The usage, once the body is complete.
    pub fn finish(&self) -> Option<Usage> {
        match self {
            UsageReader::Json { copy, over, .. } => (!over).then(|| decode(copy)).flatten(),
            UsageReader::Sse { usage, .. } => *usage,
        }
    }
}

fn decode(json: &[u8]) -> Option<Usage> {
    let raw = serde_json::from_slice::<WithUsage>(json).ok()?.usage?;
    Some(Usage {
        prompt_tokens: raw.prompt_tokens,
        completion_tokens: raw.completion_tokens,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const JSON_ANSWER: &str = r#"{"id":"chatcmpl-1","object":"chat.completion","choices":[{"index":0,"message":{"role":"assistant","content":"hi"},"finish_reason":"stop"}],"usage":{"prompt_tokens":9,"completion_tokens":12,"total_tokens":21}}"#;

    #[test]
    fn a_json_answer_split_across_chunks_gives_its_usage() {
        let mut reader = UsageReader::new("application/json", 4096);
        let (a, b) = JSON_ANSWER.as_bytes().split_at(40);
        reader.feed(a);
        reader.feed(b);
        assert_eq!(
            reader.finish(),
            Some(Usage {
                prompt_tokens: 9,
                completion_tokens: 12
            })
        );
    }

    #[test]
    fn a_json_answer_handed_again_whole_is_read_once() {
        let mut reader = UsageReader::new("application/json", 4096);
        reader.feed(JSON_ANSWER.as_bytes());
        reader.feed(JSON_ANSWER.as_bytes());
        assert_eq!(reader.finish().map(|u| u.completion_tokens), Some(12));
        let mut reader = UsageReader::new("application/json", 4096);
        let (a, b) = JSON_ANSWER.as_bytes().split_at(40);
        reader.feed(a);
        reader.feed(b);
        reader.feed(JSON_ANSWER.as_bytes());
        assert_eq!(reader.finish().map(|u| u.prompt_tokens), Some(9));
    }

    #[test]
    fn a_json_answer_over_the_bound_is_not_counted() {
        let mut reader = UsageReader::new("application/json", 16);
        reader.feed(JSON_ANSWER.as_bytes());
        assert_eq!(reader.finish(), None);
    }

    #[test]
    fn the_usage_chunk_of_a_stream_is_found_across_chunk_boundaries() {
        let stream = concat!(
            "data: {\"object\":\"chat.completion.chunk\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"he\"}}]}\n\n",
            "data: {\"object\":\"chat.completion.chunk\",\"choices\":[],\"usage\":{\"prompt_tokens\":5,\"completion_tokens\":2,\"total_tokens\":7}}\n\n",
            "data: [DONE]\n\n"
        );
        let mut reader = UsageReader::new("text/event-stream; charset=utf-8", 4096);
        for chunk in stream.as_bytes().chunks(7) {
            reader.feed(chunk);
        }
        assert_eq!(
            reader.finish(),
            Some(Usage {
                prompt_tokens: 5,
                completion_tokens: 2
            })
        );
    }

    #[test]
    fn a_stream_without_usage_gives_none() {
        let mut reader = UsageReader::new("text/event-stream", 4096);
        reader.feed(b"data: {\"choices\":[]}\n\ndata: [DONE]\n\n");
        assert_eq!(reader.finish(), None);
    }
}
