//! Parsers and translators never panic (a panic aborts the Wasm VM): arbitrary bytes in any
//! body, split anywhere, give errors or error events.

use ai_gateway_llm::bedrock::eventstream::Decoder;
use ai_gateway_llm::bedrock::ConverseStream;
use ai_gateway_llm::stream::{
    AnthropicSse, AnthropicToOpenAi, OpenAiToAnthropic, StreamTranslator,
};
use ai_gateway_llm::translate::ResponseContext;

/// A small deterministic generator (xorshift), so failures reproduce.
struct Bytes(u64);

impl Bytes {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    /// Random bytes biased towards the characters the formats use.
    fn fill(&mut self, len: usize) -> Vec<u8> {
        const ALPHABET: &[u8] =
            b"data: event:{}[]\",:\n\r0123456789abcdefmessage_starttypeindexchoices";
        (0..len)
            .map(|_| match self.next() % 4 {
                0 => (self.next() & 0xff) as u8,
                _ => ALPHABET[(self.next() % ALPHABET.len() as u64) as usize],
            })
            .collect()
    }
}

fn translators() -> Vec<Box<dyn StreamTranslator>> {
    vec![
        Box::new(AnthropicToOpenAi::new(ResponseContext::default(), 0)),
        Box::new(OpenAiToAnthropic::new()),
        Box::new(ConverseStream::new(
            AnthropicSse::default(),
            "id".into(),
            "m".into(),
        )),
        Box::new(ConverseStream::new(
            AnthropicToOpenAi::new(ResponseContext::default(), 0),
            "id".into(),
            "m".into(),
        )),
    ]
}

#[test]
fn stream_translators_survive_garbage() {
    let mut gen = Bytes(0x9E37_79B9_7F4A_7C15);
    for _ in 0..300 {
        let len = (gen.next() % 400) as usize;
        let input = gen.fill(len);
        let cut = (gen.next() as usize) % (input.len() + 1);
        for mut t in translators() {
            let mut out = t.feed(&input[..cut]);
            out.extend(t.feed(&input[cut..]));
            out.extend(t.finish());
            // Garbage never completes a message: the client's stream ends in an error event.
            assert!(!t.completed());
            let text = String::from_utf8_lossy(&out);
            assert!(
                text.trim_end().ends_with('}') && text.contains("error"),
                "{text}"
            );
        }
        let mut decoder = Decoder::new(1 << 16);
        decoder.feed(&input);
    }
}

#[test]
fn request_and_response_parsers_survive_garbage() {
    let mut gen = Bytes(42);
    for _ in 0..500 {
        let len = (gen.next() % 300) as usize;
        let input = gen.fill(len);
        let _ =
            ai_gateway_llm::translate::parse_body::<ai_gateway_llm::openai::ChatRequest>(&input);
        let _ = ai_gateway_llm::translate::parse_body::<ai_gateway_llm::anthropic::MessagesRequest>(
            &input,
        );
        let _ = ai_gateway_llm::bedrock::converse::converse_to_message(&input, "id", "m");
    }
}
