//! AWS eventstream binary framing (`application/vnd.amazon.eventstream`), as Bedrock's
//! ConverseStream sends it: a prelude (total length, headers length, prelude CRC32), headers,
//! the payload and a CRC32 of the whole message. Written from the framing's public description,
//! independently of the filter's decoder, so each checks the other.

/// Bytes before the headers: total length, headers length, prelude CRC.
const PRELUDE: usize = 12;
/// The trailing message CRC.
const TRAILER: usize = 4;
/// Header value type 7: a string with a 2-byte length.
const STRING_TYPE: u8 = 7;

/// CRC-32 (IEEE 802.3, reflected, as zlib computes it).
pub fn crc32(bytes: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &byte in bytes {
        crc ^= u32::from(byte);
        for _ in 0..8 {
            let mask = (crc & 1).wrapping_neg();
            crc = (crc >> 1) ^ (0xEDB8_8320 & mask);
        }
    }
    !crc
}

/// One message with string headers and `payload`.
pub fn encode(headers: &[(&str, &str)], payload: &[u8]) -> Vec<u8> {
    let mut header_bytes = Vec::new();
    for (name, value) in headers {
        header_bytes.push(name.len() as u8);
        header_bytes.extend_from_slice(name.as_bytes());
        header_bytes.push(STRING_TYPE);
        header_bytes.extend_from_slice(&(value.len() as u16).to_be_bytes());
        header_bytes.extend_from_slice(value.as_bytes());
    }
    let total = PRELUDE + header_bytes.len() + payload.len() + TRAILER;
    let mut out = Vec::with_capacity(total);
    out.extend_from_slice(&(total as u32).to_be_bytes());
    out.extend_from_slice(&(header_bytes.len() as u32).to_be_bytes());
    let prelude_crc = crc32(&out);
    out.extend_from_slice(&prelude_crc.to_be_bytes());
    out.extend_from_slice(&header_bytes);
    out.extend_from_slice(payload);
    let message_crc = crc32(&out);
    out.extend_from_slice(&message_crc.to_be_bytes());
    out
}

/// A decoded message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    /// String headers, in order (other value types are skipped).
    pub headers: Vec<(String, String)>,
    /// The payload bytes.
    pub payload: Vec<u8>,
}

impl Message {
    /// The value of header `name`.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

/// Why bytes are not a valid eventstream.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    /// The bytes end inside a message.
    #[error("truncated message at byte {0}")]
    Truncated(usize),
    /// A CRC does not match.
    #[error("{which} CRC mismatch at byte {at}")]
    Crc { which: &'static str, at: usize },
    /// Lengths or headers do not add up.
    #[error("malformed message at byte {0}")]
    Malformed(usize),
}

/// Every message in `bytes`, checking both CRCs of each.
pub fn decode_all(bytes: &[u8]) -> Result<Vec<Message>, DecodeError> {
    let mut out = Vec::new();
    let mut at = 0;
    while at < bytes.len() {
        let rest = &bytes[at..];
        if rest.len() < PRELUDE {
            return Err(DecodeError::Truncated(at));
        }
        let word = |i: usize| u32::from_be_bytes([rest[i], rest[i + 1], rest[i + 2], rest[i + 3]]);
        let total = word(0) as usize;
        let headers_len = word(4) as usize;
        if word(8) != crc32(&rest[..8]) {
            return Err(DecodeError::Crc {
                which: "prelude",
                at,
            });
        }
        if total < PRELUDE + headers_len + TRAILER {
            return Err(DecodeError::Malformed(at));
        }
        if rest.len() < total {
            return Err(DecodeError::Truncated(at));
        }
        if word(total - TRAILER) != crc32(&rest[..total - TRAILER]) {
            return Err(DecodeError::Crc {
                which: "message",
                at,
            });
        }
        let headers =
            headers(&rest[PRELUDE..PRELUDE + headers_len]).ok_or(DecodeError::Malformed(at))?;
        let payload = rest[PRELUDE + headers_len..total - TRAILER].to_vec();
        out.push(Message { headers, payload });
        at += total;
    }
    Ok(out)
}

fn headers(mut bytes: &[u8]) -> Option<Vec<(String, String)>> {
    let mut out = Vec::new();
    while !bytes.is_empty() {
        let name_len = usize::from(*bytes.first()?);
        let name = std::str::from_utf8(bytes.get(1..1 + name_len)?).ok()?;
        let kind = *bytes.get(1 + name_len)?;
        let rest = bytes.get(2 + name_len..)?;
        let (value, used) = match kind {
            0 | 1 => (None, 0),
            2 => (None, 1),
            3 => (None, 2),
            4 => (None, 4),
            5 | 8 => (None, 8),
            9 => (None, 16),
            6 | 7 => {
                let len = usize::from(u16::from_be_bytes([*rest.first()?, *rest.get(1)?]));
                let value = rest.get(2..2 + len)?;
                let text =
                    (kind == STRING_TYPE).then(|| String::from_utf8_lossy(value).into_owned());
                (text, 2 + len)
            }
            _ => return None,
        };
        if let Some(value) = value {
            out.push((name.to_string(), value));
        }
        bytes = rest.get(used..)?;
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crc32_matches_the_standard_check_value() {
        assert_eq!(crc32(b"123456789"), 0xCBF4_3926);
        assert_eq!(crc32(b""), 0);
    }

    #[test]
    fn the_empty_message_is_the_published_16_byte_frame() {
        // total 16, headers 0, prelude CRC, message CRC: the framing's documented empty message.
        assert_eq!(
            encode(&[], b""),
            [0, 0, 0, 16, 0, 0, 0, 0, 0x05, 0xc2, 0x48, 0xeb, 0x7d, 0x98, 0xc8, 0xff]
        );
    }

    #[test]
    fn messages_round_trip_and_a_flipped_bit_is_caught() {
        let mut bytes = encode(
            &[(":event-type", "messageStart")],
            br#"{"role":"assistant"}"#,
        );
        bytes.extend(encode(&[(":message-type", "event")], b"{}"));
        let messages = decode_all(&bytes).unwrap();
        assert_eq!(messages[0].header(":event-type"), Some("messageStart"));
        assert_eq!(messages[1].payload, b"{}");
        bytes[20] ^= 1;
        assert!(matches!(
            decode_all(&bytes),
            Err(DecodeError::Crc {
                which: "message",
                ..
            })
        ));
        assert!(matches!(
            decode_all(&bytes[..10]),
            Err(DecodeError::Truncated(0))
        ));
    }
}
