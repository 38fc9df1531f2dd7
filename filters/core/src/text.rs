//! Bytes from the wire as text. Invalid UTF-8 (legal in header values, possible in any body)
//! is replaced with U+FFFD rather than refused; valid text, the common case, takes the fast
//! path: `String::from_utf8_lossy` walks even valid text one byte at a time, which made it
//! most of the cost of reading an 800-byte bearer token in Wasm (9k of V8's instructions per
//! request), where `str::from_utf8` checks ASCII a word at a time.

use std::borrow::Cow;

/// `bytes` as text, borrowed when valid.
pub fn lossy(bytes: &[u8]) -> Cow<'_, str> {
    match std::str::from_utf8(bytes) {
        Ok(text) => Cow::Borrowed(text),
        Err(_) => String::from_utf8_lossy(bytes),
    }
}

/// `bytes` as text, reusing their allocation when valid.
pub fn lossy_owned(bytes: Vec<u8>) -> String {
    String::from_utf8(bytes).unwrap_or_else(|e| lossy(e.as_bytes()).into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn valid_text_is_kept_and_invalid_bytes_replaced() {
        for (bytes, text) in [
            (&b"Bearer abc"[..], "Bearer abc"),
            ("caf\u{e9}".as_bytes(), "caf\u{e9}"),
            (b"a\xffb", "a\u{fffd}b"),
            (b"\xe2\x82", "\u{fffd}"),
            (b"", ""),
        ] {
            assert_eq!(lossy(bytes), text);
            assert_eq!(lossy_owned(bytes.to_vec()), text);
        }
        assert!(matches!(lossy(b"ok"), Cow::Borrowed("ok")));
    }
}
