//! Server-Sent Events: an incremental parser fed arbitrary body chunks, and a writer.
//!
//! The parser follows the WHATWG "event stream interpretation": lines end with CRLF, LF or
//! CR; `data` lines accumulate (joined by LF); `event`, `id` and `retry` set fields; lines
//! starting with `:` are comments; a blank line dispatches the event; an event without data is
//! not dispatched. Events may be split anywhere across chunks, including between the CR and
//! LF of one line ending.
//!
//! Memory is bounded: an event (its pending line plus accumulated fields) larger than the
//! configured maximum yields [`SseError::EventTooLarge`]; the parser then skips the rest of that
//! event and resynchronizes at the next blank line.

/// One dispatched event.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Event {
    /// The `event` field (the event type), when the block set one.
    pub event: Option<String>,
    /// The data lines, joined with LF (no trailing LF).
    pub data: String,
    /// The `id` field, when the block set one.
    pub id: Option<String>,
    /// The `retry` field in milliseconds, when the block set a valid one.
    pub retry: Option<u64>,
}

impl Event {
    /// An event with only data.
    pub fn data(data: impl Into<String>) -> Self {
        Event {
            data: data.into(),
            ..Event::default()
        }
    }

    /// The event in wire form, ending with the blank line that dispatches it.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.data.len() + 32);
        self.write_to(&mut out);
        out
    }

    /// Appends the event in wire form to `out`. Line breaks inside `event` or `id` would end
    /// the field early, so they are written as spaces.
    pub fn write_to(&self, out: &mut Vec<u8>) {
        if let Some(event) = &self.event {
            write_field(out, "event", &single_line(event));
        }
        if let Some(id) = &self.id {
            write_field(out, "id", &single_line(id));
        }
        if let Some(retry) = self.retry {
            write_field(out, "retry", &retry.to_string());
        }
        for line in split_lines(&self.data) {
            write_field(out, "data", line);
        }
        out.push(b'\n');
    }
}

/// A comment line (`: text`), e.g. a keep-alive; each line of `text` becomes one comment.
pub fn comment_bytes(text: &str) -> Vec<u8> {
    let mut out = Vec::new();
    for line in split_lines(text) {
        out.push(b':');
        if !line.is_empty() {
            out.push(b' ');
            out.extend_from_slice(line.as_bytes());
        }
        out.push(b'\n');
    }
    out
}

fn write_field(out: &mut Vec<u8>, name: &str, value: &str) {
    out.extend_from_slice(name.as_bytes());
    out.push(b':');
    if !value.is_empty() {
        out.push(b' ');
        out.extend_from_slice(value.as_bytes());
    }
    out.push(b'\n');
}

fn single_line(s: &str) -> String {
    s.replace(['\r', '\n'], " ")
}

/// Splits on CRLF, LF or CR; an empty string is one empty line.
fn split_lines(s: &str) -> impl Iterator<Item = &str> {
    let mut rest = Some(s);
    std::iter::from_fn(move || {
        let current = rest?;
        match current.find(['\r', '\n']) {
            None => {
                rest = None;
                Some(current)
            }
            Some(i) => {
                let skip = if current[i..].starts_with("\r\n") {
                    2
                } else {
                    1
                };
                rest = Some(&current[i + skip..]);
                Some(&current[..i])
            }
        }
    })
}

/// Why the parser refused part of a stream.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SseError {
    /// An event grew past the limit; the parser skips it and resumes at the next event.
    #[error("SSE event exceeds {limit} bytes")]
    EventTooLarge { limit: usize },
}

/// Incremental SSE parser. Feed it body chunks as they arrive.
#[derive(Debug, Clone)]
pub struct SseParser {
    max_event_bytes: usize,
    /// Bytes of the current, not yet terminated line.
    line: Vec<u8>,
    /// The previous chunk ended with CR: a leading LF in the next chunk belongs to it.
    after_cr: bool,
    /// Still at the very start of the stream, where a UTF-8 BOM is dropped.
    at_stream_start: bool,
    /// Skipping the remainder of an oversized event.
    skipping: bool,
    pending: Event,
    /// Bytes held by `pending` (data + event + id), for the size bound.
    pending_bytes: usize,
    has_data: bool,
    last_event_id: String,
}

const BOM: &[u8] = b"\xEF\xBB\xBF";

impl SseParser {
    /// A parser refusing events larger than `max_event_bytes`.
    pub fn new(max_event_bytes: usize) -> Self {
        SseParser {
            max_event_bytes,
            line: Vec::new(),
            after_cr: false,
            at_stream_start: true,
            skipping: false,
            pending: Event::default(),
            pending_bytes: 0,
            has_data: false,
            last_event_id: String::new(),
        }
    }

    /// The last event id seen (the value a client would send as `Last-Event-ID`).
    pub fn last_event_id(&self) -> &str {
        &self.last_event_id
    }

    /// Parses one more chunk and returns the events it completed, in order. An oversized
    /// event is reported once, as an `Err` item in its place.
    pub fn feed(&mut self, mut chunk: &[u8]) -> Vec<Result<Event, SseError>> {
        let mut out = Vec::new();
        if self.at_stream_start {
            // The BOM itself may be split across chunks: wait until 3 bytes are known.
            let known = self.line.len() + chunk.len();
            if known < BOM.len() && BOM.starts_with(&[&self.line[..], chunk].concat()) {
                self.line.extend_from_slice(chunk);
                return out;
            }
            self.at_stream_start = false;
            let mut head = std::mem::take(&mut self.line);
            head.extend_from_slice(chunk);
            let start = if head.starts_with(BOM) { BOM.len() } else { 0 };
            self.process(&head[start..], &mut out);
            return out;
        }
        if self.after_cr && !chunk.is_empty() {
            self.after_cr = false;
            if let Some(rest) = chunk.strip_prefix(b"\n") {
                chunk = rest;
            }
        }
        self.process(chunk, &mut out);
        out
    }

    fn process(&mut self, mut chunk: &[u8], out: &mut Vec<Result<Event, SseError>>) {
        while let Some(pos) = chunk.iter().position(|&b| b == b'\n' || b == b'\r') {
            let (head, tail) = chunk.split_at(pos);
            let ending = if tail.starts_with(b"\r\n") {
                2
            } else if tail == b"\r" {
                // A CR at the end of the chunk: the next chunk may begin with its LF.
                self.after_cr = true;
                1
            } else {
                1
            };
            self.append_to_line(head, out);
            // Reuse the line's allocation for the next line.
            let line = std::mem::take(&mut self.line);
            self.take_line(&line, out);
            self.line = line;
            self.line.clear();
            chunk = &tail[ending..];
        }
        self.append_to_line(chunk, out);
    }

    /// Adds bytes to the pending line, or starts skipping when the event grows too large.
    fn append_to_line(&mut self, bytes: &[u8], out: &mut Vec<Result<Event, SseError>>) {
        if !self.skipping
            && self.pending_bytes + self.line.len() + bytes.len() > self.max_event_bytes
        {
            self.start_skipping(out);
        }
        if self.skipping {
            // Only an empty line matters while skipping: one marker byte records that this
            // line is not empty, without storing it.
            if !bytes.is_empty() && self.line.is_empty() {
                self.line.push(b'x');
            }
            return;
        }
        self.line.extend_from_slice(bytes);
    }

    fn start_skipping(&mut self, out: &mut Vec<Result<Event, SseError>>) {
        out.push(Err(SseError::EventTooLarge {
            limit: self.max_event_bytes,
        }));
        self.skipping = true;
        self.line.clear();
        self.reset_pending();
    }

    fn reset_pending(&mut self) {
        self.pending = Event::default();
        self.pending_bytes = 0;
        self.has_data = false;
    }

    /// Interprets one complete line.
    fn take_line(&mut self, line: &[u8], out: &mut Vec<Result<Event, SseError>>) {
        if line.is_empty() {
            if self.skipping {
                self.skipping = false;
            } else {
                self.dispatch(out);
            }
            return;
        }
        if self.skipping || line[0] == b':' {
            return;
        }
        let (name, value) = match line.iter().position(|&b| b == b':') {
            Some(i) => {
                let value = &line[i + 1..];
                (&line[..i], value.strip_prefix(b" ").unwrap_or(value))
            }
            None => (line, &line[line.len()..]),
        };
        let value = crate::text::lossy(value);
        match name {
            b"data" => {
                if self.has_data {
                    self.pending.data.push('\n');
                    self.pending_bytes += 1;
                }
                self.pending.data.push_str(&value);
                self.pending_bytes += value.len();
                self.has_data = true;
            }
            b"event" => {
                self.pending_bytes += value.len();
                self.pending.event = Some(value.into_owned());
            }
            b"id" if !value.contains('\0') => {
                self.pending_bytes += value.len();
                self.last_event_id = value.to_string();
                self.pending.id = Some(value.into_owned());
            }
            b"retry" if !value.is_empty() && value.bytes().all(|b| b.is_ascii_digit()) => {
                self.pending.retry = value.parse().ok();
            }
            _ => {}
        }
    }

    fn dispatch(&mut self, out: &mut Vec<Result<Event, SseError>>) {
        if self.has_data {
            out.push(Ok(std::mem::take(&mut self.pending)));
        }
        self.reset_pending();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIMIT: usize = 1024;

    /// A named stream and the items parsing it must produce.
    type Case = (&'static str, &'static [u8], Vec<Result<Event, SseError>>);

    fn feed_all(parser: &mut SseParser, chunks: &[&[u8]]) -> Vec<Result<Event, SseError>> {
        chunks.iter().flat_map(|c| parser.feed(c)).collect()
    }

    fn parse_whole(stream: &[u8]) -> Vec<Result<Event, SseError>> {
        SseParser::new(LIMIT).feed(stream)
    }

    fn ev(
        event: Option<&str>,
        data: &str,
        id: Option<&str>,
        retry: Option<u64>,
    ) -> Result<Event, SseError> {
        Ok(Event {
            event: event.map(str::to_string),
            data: data.to_string(),
            id: id.map(str::to_string),
            retry,
        })
    }

    fn cases() -> Vec<Case> {
        vec![
            (
                "single data line",
                b"data: hello\n\n",
                vec![ev(None, "hello", None, None)],
            ),
            (
                "no space after colon",
                b"data:hello\n\n",
                vec![ev(None, "hello", None, None)],
            ),
            (
                "only one space stripped",
                b"data:  two\n\n",
                vec![ev(None, " two", None, None)],
            ),
            (
                "multi-line data",
                b"data: a\ndata: b\ndata:\n\n",
                vec![ev(None, "a\nb\n", None, None)],
            ),
            (
                "crlf endings",
                b"event: e\r\ndata: x\r\n\r\n",
                vec![ev(Some("e"), "x", None, None)],
            ),
            (
                "cr endings",
                b"id: 7\rdata: y\r\r",
                vec![ev(None, "y", Some("7"), None)],
            ),
            (
                "mixed endings",
                b"data: 1\r\ndata: 2\rdata: 3\n\r\n",
                vec![ev(None, "1\n2\n3", None, None)],
            ),
            (
                "comments ignored",
                b": keepalive\n\n:x\ndata: d\n\n",
                vec![ev(None, "d", None, None)],
            ),
            (
                "retry",
                b"retry: 1500\ndata: r\n\n",
                vec![ev(None, "r", None, Some(1500))],
            ),
            (
                "bad retry ignored",
                b"retry: 15x\ndata: r\n\n",
                vec![ev(None, "r", None, None)],
            ),
            (
                "no data, no event",
                b"event: ping\n\ndata: z\n\n",
                vec![ev(None, "z", None, None)],
            ),
            (
                "field without colon",
                b"data\n\n",
                vec![ev(None, "", None, None)],
            ),
            (
                "unknown field ignored",
                b"foo: bar\ndata: k\n\n",
                vec![ev(None, "k", None, None)],
            ),
            (
                "id with NUL ignored",
                b"id: a\0b\ndata: n\n\n",
                vec![ev(None, "n", None, None)],
            ),
            (
                "leading BOM dropped",
                b"\xEF\xBB\xBFdata: bom\n\n",
                vec![ev(None, "bom", None, None)],
            ),
            (
                "unterminated event not dispatched",
                b"data: a\n\ndata: partial\n",
                vec![ev(None, "a", None, None)],
            ),
            (
                "two events",
                b"event: message\nid: 1\ndata: {\"a\":1}\n\nid: 2\ndata: {\"b\":2}\n\n",
                vec![
                    ev(Some("message"), "{\"a\":1}", Some("1"), None),
                    ev(None, "{\"b\":2}", Some("2"), None),
                ],
            ),
        ]
    }

    #[test]
    fn whole_streams_parse_as_expected() {
        for (name, stream, expected) in cases() {
            assert_eq!(parse_whole(stream), expected, "case: {name}");
        }
    }

    #[test]
    fn splitting_at_every_offset_gives_the_same_events() {
        for (name, stream, expected) in cases() {
            for cut in 0..=stream.len() {
                let mut parser = SseParser::new(LIMIT);
                let got = feed_all(&mut parser, &[&stream[..cut], &stream[cut..]]);
                assert_eq!(got, expected, "case: {name}, cut at {cut}");
            }
        }
    }

    #[test]
    fn feeding_one_byte_at_a_time_gives_the_same_events() {
        for (name, stream, expected) in cases() {
            let mut parser = SseParser::new(LIMIT);
            let chunks: Vec<&[u8]> = stream.chunks(1).collect();
            assert_eq!(feed_all(&mut parser, &chunks), expected, "case: {name}");
        }
    }

    #[test]
    fn splitting_at_every_pair_of_offsets_gives_the_same_events() {
        let stream: &[u8] = b"event: a\r\nid: 1\r\ndata: x\r\ndata: y\r\r: c\ndata: z\n\n";
        let expected = parse_whole(stream);
        assert_eq!(expected.len(), 2);
        for i in 0..=stream.len() {
            for j in i..=stream.len() {
                let mut parser = SseParser::new(LIMIT);
                let got = feed_all(&mut parser, &[&stream[..i], &stream[i..j], &stream[j..]]);
                assert_eq!(got, expected, "cuts at {i}, {j}");
            }
        }
    }

    #[test]
    fn oversized_event_is_refused_and_the_stream_resumes() {
        let big = "x".repeat(100);
        let stream = format!("data: ok\n\ndata: {big}\ndata: {big}\n\ndata: after\n\n");
        let expected = vec![
            ev(None, "ok", None, None),
            Err(SseError::EventTooLarge { limit: 150 }),
            ev(None, "after", None, None),
        ];
        for cut in 0..=stream.len() {
            let mut parser = SseParser::new(150);
            let bytes = stream.as_bytes();
            let got = feed_all(&mut parser, &[&bytes[..cut], &bytes[cut..]]);
            assert_eq!(got, expected, "cut at {cut}");
        }
    }

    #[test]
    fn a_line_without_end_cannot_grow_past_the_limit() {
        let mut parser = SseParser::new(64);
        let mut errors = 0;
        for _ in 0..10_000 {
            errors += parser
                .feed(b"data: aaaaaaaaaaaaaaaa")
                .iter()
                .filter(|r| r.is_err())
                .count();
        }
        assert_eq!(errors, 1);
        assert!(parser.line.len() <= 64);
    }

    #[test]
    fn last_event_id_persists_across_events() {
        let mut parser = SseParser::new(LIMIT);
        parser.feed(b"id: 5\ndata: a\n\ndata: b\n\n");
        assert_eq!(parser.last_event_id(), "5");
    }

    #[test]
    fn writer_output_parses_back_to_the_same_event() {
        let events = [
            Event::data("plain"),
            Event::data(""),
            Event::data("multi\nline\n"),
            Event {
                event: Some("message".into()),
                data: "{\"jsonrpc\":\"2.0\"}".into(),
                id: Some("42".into()),
                retry: Some(3000),
            },
        ];
        for event in events {
            let bytes = event.to_bytes();
            assert_eq!(
                parse_whole(&bytes),
                vec![Ok(event.clone())],
                "{}",
                String::from_utf8_lossy(&bytes)
            );
        }
    }

    #[test]
    fn writer_normalizes_line_breaks_in_data_and_fields() {
        let event = Event {
            event: Some("a\nb".into()),
            data: "1\r\n2\r3".into(),
            id: None,
            retry: None,
        };
        assert_eq!(
            event.to_bytes(),
            b"event: a b\ndata: 1\ndata: 2\ndata: 3\n\n"
        );
    }

    #[test]
    fn comments_are_written_as_colon_lines_and_ignored_by_the_parser() {
        let mut stream = comment_bytes("keep\nalive");
        assert_eq!(stream, b": keep\n: alive\n");
        stream.extend_from_slice(&Event::data("d").to_bytes());
        assert_eq!(parse_whole(&stream), vec![ev(None, "d", None, None)]);
    }
}
