//! AWS eventstream (`application/vnd.amazon.eventstream`) framing, decoded incrementally:
//! each message is a prelude (total length u32, headers length u32, prelude CRC32), headers,
//! a payload and a message CRC32, all big-endian. Both CRCs are checked; a message may be split
//! anywhere across body chunks, and its size is bounded.

/// One decoded message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    /// String-valued headers (`:event-type`, `:message-type`, `:exception-type`, …); headers of
    /// other value types are skipped.
    pub headers: Vec<(String, String)>,
    pub payload: Vec<u8>,
}

impl Message {
    /// A header's string value.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

/// Why a stream is broken; it cannot resynchronize after any of these.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FrameError {
    #[error("eventstream prelude CRC mismatch")]
    PreludeCrc,
    #[error("eventstream message CRC mismatch")]
    MessageCrc,
    #[error("eventstream message of {0} bytes is outside the allowed size")]
    BadLength(usize),
    #[error("eventstream header block is malformed")]
    BadHeaders,
}

const PRELUDE: usize = 12;
const TRAILER: usize = 4;

/// The incremental decoder.
#[derive(Debug)]
pub struct Decoder {
    buffer: Vec<u8>,
    max_message: usize,
    broken: bool,
}

impl Decoder {
    /// A decoder refusing messages larger than `max_message` bytes.
    pub fn new(max_message: usize) -> Self {
        Decoder {
            buffer: Vec::new(),
            max_message,
            broken: false,
        }
    }

    /// Bytes held for an incomplete message.
    pub fn pending(&self) -> usize {
        self.buffer.len()
    }

    /// Decodes the messages `chunk` completes. After an error nothing more is decoded.
    pub fn feed(&mut self, chunk: &[u8]) -> Vec<Result<Message, FrameError>> {
        let mut out = Vec::new();
        if self.broken {
            return out;
        }
        self.buffer.extend_from_slice(chunk);
        let mut start = 0;
        loop {
            let rest = &self.buffer[start..];
            if rest.len() < PRELUDE {
                break;
            }
            let total = be32(&rest[0..4]) as usize;
            let headers_len = be32(&rest[4..8]) as usize;
            if crc32(&rest[0..8]) != be32(&rest[8..12]) {
                out.push(Err(FrameError::PreludeCrc));
                self.broken = true;
                break;
            }
            // Checked: on wasm32 (usize = u32) a header length near u32::MAX wrapped around.
            let least = headers_len.checked_add(PRELUDE + TRAILER);
            if least.is_none_or(|least| total < least) || total > self.max_message {
                out.push(Err(FrameError::BadLength(total)));
                self.broken = true;
                break;
            }
            if rest.len() < total {
                break;
            }
            let frame = &rest[..total];
            if crc32(&frame[..total - TRAILER]) != be32(&frame[total - TRAILER..]) {
                out.push(Err(FrameError::MessageCrc));
                self.broken = true;
                break;
            }
            let headers = &frame[PRELUDE..PRELUDE + headers_len];
            let payload = frame[PRELUDE + headers_len..total - TRAILER].to_vec();
            match parse_headers(headers) {
                Some(headers) => out.push(Ok(Message { headers, payload })),
                None => {
                    out.push(Err(FrameError::BadHeaders));
                    self.broken = true;
                    break;
                }
            }
            start += total;
        }
        if self.broken {
            self.buffer.clear();
        } else {
            self.buffer.drain(..start);
        }
        out
    }
}

fn be32(bytes: &[u8]) -> u32 {
    u32::from_be_bytes([bytes[0], bytes[1], bytes[2], bytes[3]])
}

/// Header value types and the size of their fixed-length values.
fn parse_headers(mut bytes: &[u8]) -> Option<Vec<(String, String)>> {
    let mut out = Vec::new();
    while !bytes.is_empty() {
        let name_len = *bytes.first()? as usize;
        let name = std::str::from_utf8(bytes.get(1..1 + name_len)?)
            .ok()?
            .to_string();
        bytes = &bytes[1 + name_len..];
        let kind = *bytes.first()?;
        bytes = &bytes[1..];
        let fixed = match kind {
            0 | 1 => Some(0),
            2 => Some(1),
            3 => Some(2),
            4 => Some(4),
            5 | 8 => Some(8),
            9 => Some(16),
            6 | 7 => None,
            _ => return None,
        };
        match fixed {
            Some(len) => bytes = bytes.get(len..)?,
            None => {
                let len = u16::from_be_bytes([*bytes.first()?, *bytes.get(1)?]) as usize;
                let value = bytes.get(2..2 + len)?;
                if kind == 7 {
                    out.push((name, std::str::from_utf8(value).ok()?.to_string()));
                }
                bytes = &bytes[2 + len..];
            }
        }
    }
    Some(out)
}

/// CRC-32 (IEEE 802.3, reflected, polynomial 0xEDB88320), as eventstream uses.
pub fn crc32(bytes: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &byte in bytes {
        crc = CRC_TABLE[((crc ^ byte as u32) & 0xff) as usize] ^ (crc >> 8);
    }
    !crc
}

const CRC_TABLE: [u32; 256] = {
    let mut table = [0u32; 256];
    let mut i = 0;
    while i < 256 {
        let mut c = i as u32;
        let mut k = 0;
        while k < 8 {
            c = if c & 1 != 0 {
                0xEDB8_8320 ^ (c >> 1)
            } else {
                c >> 1
            };
            k += 1;
        }
        table[i] = c;
        i += 1;
    }
    table
};

/// Encodes a message with string headers (tests and fakes build streams with it).
pub fn encode(headers: &[(&str, &str)], payload: &[u8]) -> Vec<u8> {
    let mut head = Vec::new();
    for (name, value) in headers {
        head.push(name.len() as u8);
        head.extend_from_slice(name.as_bytes());
        head.push(7);
        head.extend_from_slice(&(value.len() as u16).to_be_bytes());
        head.extend_from_slice(value.as_bytes());
    }
    let total = PRELUDE + head.len() + payload.len() + TRAILER;
    let mut out = Vec::with_capacity(total);
    out.extend_from_slice(&(total as u32).to_be_bytes());
    out.extend_from_slice(&(head.len() as u32).to_be_bytes());
    let prelude_crc = crc32(&out);
    out.extend_from_slice(&prelude_crc.to_be_bytes());
    out.extend_from_slice(&head);
    out.extend_from_slice(payload);
    let crc = crc32(&out);
    out.extend_from_slice(&crc.to_be_bytes());
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crc32_matches_the_standard_check_value() {
        assert_eq!(crc32(b"123456789"), 0xCBF4_3926);
        assert_eq!(crc32(b""), 0);
    }

    /// The empty-message example of the AWS eventstream specification (smithy test vectors):
    /// total 16, no headers, no payload.
    #[test]
    fn decodes_the_empty_message_vector() {
        let bytes = [
            0x00, 0x00, 0x00, 0x10, 0x00, 0x00, 0x00, 0x00, 0x05, 0xc2, 0x48, 0xeb, 0x7d, 0x98,
            0xc8, 0xff,
        ];
        let got = Decoder::new(1024).feed(&bytes);
        assert_eq!(
            got,
            vec![Ok(Message {
                headers: vec![],
                payload: vec![]
            })]
        );
    }

    #[test]
    fn messages_split_anywhere_decode_the_same() {
        let mut stream = encode(
            &[(":event-type", "messageStart"), (":message-type", "event")],
            br#"{"role":"assistant"}"#,
        );
        stream.extend(encode(
            &[(":event-type", "messageStop")],
            br#"{"stopReason":"end_turn"}"#,
        ));
        let whole = Decoder::new(1024).feed(&stream);
        assert_eq!(whole.len(), 2);
        assert_eq!(
            whole[0].as_ref().unwrap().header(":event-type"),
            Some("messageStart")
        );
        for cut in 0..=stream.len() {
            let mut d = Decoder::new(1024);
            let mut got = d.feed(&stream[..cut]);
            got.extend(d.feed(&stream[cut..]));
            assert_eq!(got, whole, "cut at {cut}");
            assert_eq!(d.pending(), 0);
        }
    }

    #[test]
    fn corrupted_or_oversized_messages_are_errors() {
        let good = encode(&[(":event-type", "x")], b"{}");
        let mut bad_prelude = good.clone();
        bad_prelude[9] ^= 1;
        assert_eq!(
            Decoder::new(1024).feed(&bad_prelude),
            vec![Err(FrameError::PreludeCrc)]
        );
        let mut bad_body = good.clone();
        let last = bad_body.len() - 5;
        bad_body[last] ^= 1;
        assert_eq!(
            Decoder::new(1024).feed(&bad_body),
            vec![Err(FrameError::MessageCrc)]
        );
        assert_eq!(
            Decoder::new(10).feed(&good),
            vec![Err(FrameError::BadLength(good.len()))]
        );
    }

    #[test]
    fn non_string_headers_are_skipped() {
        // A bool header (type 0) before a string header.
        let mut head = vec![4];
        head.extend_from_slice(b"flag");
        head.push(0);
        head.push(11);
        head.extend_from_slice(b":event-type");
        head.push(7);
        head.extend_from_slice(&2u16.to_be_bytes());
        head.extend_from_slice(b"ok");
        assert_eq!(
            parse_headers(&head),
            Some(vec![(":event-type".to_string(), "ok".to_string())])
        );
        assert_eq!(parse_headers(&[3, b'a']), None);
    }
}
