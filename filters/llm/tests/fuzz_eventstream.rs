//! Fuzz target: the AWS eventstream decoder. Encoded messages decode back however the bytes
//! are chunked; mutated streams never panic, never hold more than one message's bound, and
//! decode nothing after the first error (the framing cannot resynchronize).

use ai_gateway_core::fuzz::{self, check};
use ai_gateway_llm::bedrock::eventstream::{crc32, encode, Decoder, FrameError, Message};
use proptest::prelude::*;
use proptest::sample::Index;

const MAX_MESSAGE: usize = 4096;

fn message() -> impl Strategy<Value = (Vec<(String, String)>, Vec<u8>)> {
    (
        proptest::collection::vec((":?[a-z-]{1,16}", ".{0,24}"), 0..4),
        proptest::collection::vec(any::<u8>(), 0..200),
    )
}

fn decode(chunks: &[&[u8]], max: usize) -> (Vec<Result<Message, FrameError>>, usize) {
    let mut decoder = Decoder::new(max);
    let mut out = Vec::new();
    let mut most_pending = 0;
    for chunk in chunks {
        out.extend(decoder.feed(chunk));
        most_pending = most_pending.max(decoder.pending());
    }
    (out, most_pending)
}

/// A prelude with the given lengths and a valid CRC: reaches the length checks behind it.
fn prelude(total: u32, headers: u32) -> Vec<u8> {
    let mut out = [total.to_be_bytes(), headers.to_be_bytes()].concat();
    let crc = crc32(&out);
    out.extend_from_slice(&crc.to_be_bytes());
    out
}

#[test]
fn fuzz_eventstream_round_trip() {
    let input = (
        proptest::collection::vec(message(), 0..6),
        proptest::collection::vec(any::<Index>(), 0..8),
    );
    fuzz::run("eventstream_round_trip", input, |(messages, cuts)| {
        let mut bytes = Vec::new();
        for (headers, payload) in &messages {
            let headers: Vec<(&str, &str)> = headers
                .iter()
                .map(|(k, v)| (k.as_str(), v.as_str()))
                .collect();
            bytes.extend(encode(&headers, payload));
        }
        let (got, _) = decode(&fuzz::split_at(&bytes, &cuts), 1 << 20);
        let want: Vec<Result<Message, FrameError>> = messages
            .into_iter()
            .map(|(headers, payload)| Ok(Message { headers, payload }))
            .collect();
        check(got == want, || format!("decoded {got:?}"))
    });
}

#[test]
fn fuzz_eventstream_mutated() {
    let seeds = vec![
        [
            encode(
                &[(":event-type", "messageStart"), (":message-type", "event")],
                br#"{"role":"assistant"}"#,
            ),
            encode(
                &[(":event-type", "contentBlockDelta")],
                br#"{"contentBlockIndex":0,"delta":{"text":"Hi"}}"#,
            ),
        ]
        .concat(),
        encode(
            &[
                (":exception-type", "throttlingException"),
                (":message-type", "exception"),
            ],
            br#"{"message":"slow down"}"#,
        ),
        [
            prelude(16, 0),
            crc32(&prelude(16, 0)).to_be_bytes().to_vec(),
        ]
        .concat(),
        prelude(u32::MAX, u32::MAX - 8),
    ];
    let input = (
        fuzz::mutated(seeds, 8),
        proptest::collection::vec(any::<Index>(), 0..6),
    );
    fuzz::run("eventstream_mutated", input, |(bytes, cuts)| {
        let (got, most_pending) = decode(&fuzz::split_at(&bytes, &cuts), MAX_MESSAGE);
        check(
            most_pending < MAX_MESSAGE + bytes.len().min(MAX_MESSAGE),
            || format!("{most_pending} bytes held"),
        )?;
        if let Some(first_error) = got.iter().position(Result::is_err) {
            check(first_error == got.len() - 1, || {
                "decoded past an error".into()
            })?;
        }
        let payload: usize = got.iter().flatten().map(|m| m.payload.len()).sum();
        check(payload <= bytes.len(), || "more payload than input".into())
    });
}

#[test]
fn header_lengths_near_u32_max_are_refused_not_wrapped() {
    // On wasm32 (usize = u32) `12 + 4 + headers_len` wrapped: a debug build trapped and a
    // release build read a 100-byte message with a 4 GiB header block as a valid frame.
    for headers in [u32::MAX, u32::MAX - 10, u32::MAX - 15] {
        let got = Decoder::new(MAX_MESSAGE).feed(&prelude(100, headers));
        assert_eq!(
            got,
            vec![Err(FrameError::BadLength(100))],
            "headers {headers}"
        );
    }
}
