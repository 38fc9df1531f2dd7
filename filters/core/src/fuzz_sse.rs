//! Fuzz target: the incremental SSE parser. Written events parse back (however the bytes are
//! chunked); mutated streams never panic and never yield an event past the size bound.

use proptest::prelude::*;
use proptest::sample::Index;

use crate::fuzz::{self, check};
use crate::sse::{Event, SseError, SseParser};

/// Text with line breaks of every kind SSE knows.
fn multiline() -> impl Strategy<Value = String> {
    proptest::collection::vec(
        prop_oneof![
            ".{0,8}",
            Just("\n".into()),
            Just("\r".into()),
            Just("\r\n".into())
        ],
        0..6,
    )
    .prop_map(|parts| parts.concat())
}

fn event() -> impl Strategy<Value = Event> {
    (
        proptest::option::of(multiline()),
        multiline(),
        proptest::option::of(multiline()),
        proptest::option::of(any::<u64>()),
    )
        .prop_map(|(event, data, id, retry)| Event {
            event,
            data,
            id,
            retry,
        })
}

/// What a reader sees of `event` once written: field line breaks became spaces, data line
/// breaks became LF, and an id holding NUL is ignored (the WHATWG rule).
fn as_read(event: &Event) -> Event {
    let one_line = |s: &String| s.replace(['\r', '\n'], " ");
    Event {
        event: event.event.as_ref().map(one_line),
        data: event.data.replace("\r\n", "\n").replace('\r', "\n"),
        id: event
            .id
            .as_ref()
            .map(one_line)
            .filter(|id| !id.contains('\0')),
        retry: event.retry,
    }
}

fn feed_all(parser: &mut SseParser, chunks: &[&[u8]]) -> Vec<Result<Event, SseError>> {
    chunks.iter().flat_map(|c| parser.feed(c)).collect()
}

#[test]
fn fuzz_sse_round_trip() {
    let input = (
        proptest::collection::vec(event(), 0..8),
        proptest::collection::vec(any::<Index>(), 0..8),
    );
    fuzz::run("sse_round_trip", input, |(events, cuts)| {
        let mut bytes = Vec::new();
        events.iter().for_each(|e| e.write_to(&mut bytes));
        let got = feed_all(&mut SseParser::new(1 << 20), &fuzz::split_at(&bytes, &cuts));
        let want: Vec<_> = events.iter().map(|e| Ok(as_read(e))).collect();
        check(got == want, || format!("read back {got:?}"))
    });
}

#[test]
fn fuzz_sse_mutated() {
    let seeds: Vec<Vec<u8>> = [
        // A keep-alive, a multi-line event, an id, a retry, CRLF and CR endings, a BOM.
        &b"\xEF\xBB\xBF: ping\n\nevent: message\nid: 1\ndata: {\"a\":1}\ndata: x\n\n"[..],
        b"retry: 3000\r\ndata: one\r\n\r\ndata: two\r\rdata\n\n",
        b"event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0}\n\n",
    ]
    .iter()
    .map(|s| s.to_vec())
    .collect();
    let input = (
        fuzz::mutated(seeds, 12),
        proptest::collection::vec(any::<Index>(), 0..6),
        16usize..256,
    );
    fuzz::run("sse_mutated", input, |(bytes, cuts, limit)| {
        let events = feed_all(&mut SseParser::new(limit), &fuzz::split_at(&bytes, &cuts));
        let whole = SseParser::new(limit).feed(&bytes);
        check(events == whole, || "chunking changed the events".into())?;
        for event in events.iter().flatten() {
            let size = event.data.len()
                + event.event.as_ref().map_or(0, String::len)
                + event.id.as_ref().map_or(0, String::len);
            // Invalid UTF-8 is read as U+FFFD (3 bytes for 1): the bound is on input bytes.
            check(size <= 3 * limit, || {
                format!("{size}-byte event over limit {limit}")
            })?;
        }
        Ok(())
    });
}
