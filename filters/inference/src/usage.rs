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

/// The `usage` of a completion (or chunk). Only the `usage` value is parsed: a byte scan finds
/// it among the top-level keys, skipping strings and nested values, which costs a fraction of
/// deserializing the choices around it (this runs on every answer).
fn decode(json: &[u8]) -> Option<Usage> {
    let start = top_level_value(json, b"usage")?;
    // An object or null: serde would read an array as a struct of defaults (zero usage).
    let rest = json[start..].trim_ascii_start();
    if !rest.starts_with(b"{") && !rest.starts_with(b"null") {
        return None;
    }
    // What follows the value (the rest of the object) is not read: no `end()` check.
    let mut value = serde_json::Deserializer::from_slice(rest);
    let raw = Option::<RawUsage>::deserialize(&mut value).ok()??;
    Some(Usage {
        prompt_tokens: raw.prompt_tokens,
        completion_tokens: raw.completion_tokens,
    })
}

/// Offset just past the last `"key":` among the keys of the top-level object of `json`, if
/// present: the last, as JSON parsers keep the last of duplicate members (an answer cannot
/// hide its usage behind an earlier decoy).
fn top_level_value(json: &[u8], key: &[u8]) -> Option<usize> {
    let mut depth = 0usize;
    let mut found = None;
    let mut i = 0;
    while i < json.len() {
        match json[i] {
            b'"' => {
                let start = i + 1;
                i = string_end(json, start)?;
                if depth == 1 && &json[start..i] == key {
                    let colon = i
                        + 1
                        + json[i + 1..]
                            .iter()
                            .take_while(|b| b.is_ascii_whitespace())
                            .count();
                    if json.get(colon) == Some(&b':') {
                        found = Some(colon + 1);
                    }
                }
            }
            b'{' | b'[' => depth += 1,
            b'}' | b']' => depth = depth.checked_sub(1)?,
            _ => {}
        }
        i += 1;
    }
    found
}

/// Index of the quote closing the string whose first byte is at `start`.
fn string_end(json: &[u8], start: usize) -> Option<usize> {
    let mut i = start;
    while i < json.len() {
        match json[i] {
            b'\\' => i += 2,
            b'"' => return Some(i),
            _ => i += 1,
        }
    }
    None
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

    #[test]
    fn only_the_top_level_usage_is_read() {
        let usage = |p, c| {
            Some(Usage {
                prompt_tokens: p,
                completion_tokens: c,
            })
        };
        let cases: &[(&str, Option<Usage>)] = &[
            (JSON_ANSWER, usage(9, 12)),
            // A nested `usage` (in a tool call's arguments, say) is not the answer's.
            (
                r#"{"choices":[{"usage":{"prompt_tokens":1}}],"usage":{"prompt_tokens":2}}"#,
                usage(2, 0),
            ),
            (r#"{"choices":[{"usage":{"prompt_tokens":1}}]}"#, None),
            // Quotes and the key's name inside strings do not confuse the scan.
            (
                r#"{"c":"say \"usage\": {\"prompt_tokens\":7}","usage" : {"completion_tokens":5}}"#,
                usage(0, 5),
            ),
            (
                r#"{"c":"\\","usage":{"prompt_tokens":4,"completion_tokens":1}}"#,
                usage(4, 1),
            ),
            (r#"{"usage":"usage"}"#, None),
            (r#"{"usage":null}"#, None),
            (r#"{"usage""#, None),
            (r#"["usage",{"prompt_tokens":1}]"#, None),
            (r#"{"a":"unterminated"#, None),
            ("", None),
        ];
        for (json, want) in cases {
            assert_eq!(decode(json.as_bytes()), *want, "{json}");
        }
    }
}
