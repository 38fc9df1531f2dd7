//! The proxy-wasm ABI's byte encodings of header maps and property paths. Pure functions, so
//! they are unit-tested natively; decoding never panics on malformed input.

/// Encodes header pairs as the ABI expects: a little-endian pair count, then each pair's key
/// and value lengths, then each key and value followed by a NUL byte.
pub(crate) fn encode_pairs(pairs: &[(&str, &str)]) -> Vec<u8> {
    let payload: usize = pairs.iter().map(|(k, v)| k.len() + v.len() + 2).sum();
    let mut out = Vec::with_capacity(4 + pairs.len() * 8 + payload);
    out.extend_from_slice(&len_u32(pairs.len()).to_le_bytes());
    for (key, value) in pairs {
        out.extend_from_slice(&len_u32(key.len()).to_le_bytes());
        out.extend_from_slice(&len_u32(value.len()).to_le_bytes());
    }
    for (key, value) in pairs {
        out.extend_from_slice(key.as_bytes());
        out.push(0);
        out.extend_from_slice(value.as_bytes());
        out.push(0);
    }
    out
}

/// Decodes header pairs; bytes that are not UTF-8 (legal in HTTP header values) are replaced
/// with U+FFFD. A truncated or inconsistent buffer yields the pairs decoded before the fault.
pub(crate) fn decode_pairs(bytes: &[u8]) -> Vec<(String, String)> {
    raw_pairs(bytes)
        .map(|(key, value)| (text(key), text(value)))
        .collect()
}

/// The value of the first pair named like each of `names` (ASCII case-insensitively), decoded
/// as [`decode_pairs`] does; only those values are copied out of the buffer.
pub(crate) fn find_values(bytes: &[u8], names: &[&str]) -> Vec<Option<String>> {
    let mut values = vec![None; names.len()];
    for (key, value) in raw_pairs(bytes) {
        for (slot, name) in values.iter_mut().zip(names) {
            if slot.is_none() && key.eq_ignore_ascii_case(name.as_bytes()) {
                *slot = Some(text(value));
            }
        }
    }
    values
}

fn text(bytes: &[u8]) -> String {
    ai_gateway_core::text::lossy(bytes).into_owned()
}

/// The pairs of an encoded map as they lie in the buffer, up to the first fault.
fn raw_pairs(bytes: &[u8]) -> impl Iterator<Item = (&[u8], &[u8])> {
    let count = read_u32(bytes, 0).unwrap_or(0) as usize;
    let mut data = 4usize.saturating_add(count.saturating_mul(8));
    (0..count).map_while(move |n| {
        let lens = 4 + n * 8;
        let key_len = read_u32(bytes, lens)? as usize;
        let value_len = read_u32(bytes, lens + 4)? as usize;
        let (key, after_key) = take(bytes, data, key_len)?;
        let (value, after_value) = take(bytes, after_key, value_len)?;
        data = after_value;
        Some((key, value))
    })
}

/// Encodes a property path: its segments joined by NUL bytes.
pub(crate) fn encode_path(segments: &[&str]) -> Vec<u8> {
    segments.join("\0").into_bytes()
}

fn len_u32(len: usize) -> u32 {
    u32::try_from(len).unwrap_or(u32::MAX)
}

fn read_u32(bytes: &[u8], at: usize) -> Option<u32> {
    let raw = bytes.get(at..at.checked_add(4)?)?;
    Some(u32::from_le_bytes([raw[0], raw[1], raw[2], raw[3]]))
}

/// `len` bytes at `at`, and the offset after them and their NUL terminator.
fn take(bytes: &[u8], at: usize, len: usize) -> Option<(&[u8], usize)> {
    let end = at.checked_add(len)?;
    Some((bytes.get(at..end)?, end.checked_add(1)?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pairs_round_trip() {
        let pairs = [
            (":path", "/a2a/demo"),
            ("x-empty", ""),
            ("content-type", "application/json"),
        ];
        let decoded = decode_pairs(&encode_pairs(&pairs));
        let expected: Vec<(String, String)> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        assert_eq!(decoded, expected);
    }

    #[test]
    fn empty_and_truncated_buffers_do_not_panic() {
        assert!(decode_pairs(&[]).is_empty());
        assert!(decode_pairs(&[1, 0]).is_empty());
        let full = encode_pairs(&[("a", "1"), ("b", "2")]);
        // Only the final NUL terminator may be missing for both pairs to decode.
        for cut in 0..full.len() - 1 {
            let partial = decode_pairs(&full[..cut]);
            assert!(partial.len() < 2, "cut at {cut} decoded {partial:?}");
        }
        // A count far larger than the buffer stops at the first missing length.
        assert!(decode_pairs(&u32::MAX.to_le_bytes()).is_empty());
    }

    #[test]
    fn non_utf8_values_are_replaced_not_rejected() {
        let mut raw = encode_pairs(&[("x", "ab")]);
        let at = raw.len() - 3;
        raw[at] = 0xff;
        assert_eq!(
            decode_pairs(&raw),
            vec![("x".to_string(), "\u{fffd}b".to_string())]
        );
    }

    #[test]
    fn finds_the_first_value_of_each_name_whatever_its_case() {
        let raw = encode_pairs(&[
            (":path", "/a"),
            ("Authorization", "Bearer t"),
            ("x-dup", "1"),
            ("x-dup", "2"),
        ]);
        let names = [":method", "authorization", ":path", "x-dup"];
        let expected = [None, Some("Bearer t"), Some("/a"), Some("1")];
        assert_eq!(
            find_values(&raw, &names),
            expected.map(|v| v.map(str::to_string))
        );
        assert_eq!(find_values(&raw[..7], &[":path"]), vec![None]);
    }

    #[test]
    fn path_segments_are_nul_separated() {
        assert_eq!(
            encode_path(&["metadata", "filter_metadata", "ns"]),
            b"metadata\0filter_metadata\0ns"
        );
    }
}
