//! Byte-level encodings of request parts: RFC 3986 percent-encoding, HTML form encoding
//! (`application/x-www-form-urlencoded`) and `multipart/form-data` (RFC 7578) text fields.

use serde_json::Value;

/// RFC 3986 unreserved characters: never encoded.
fn is_unreserved(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~')
}

/// RFC 3986 reserved characters (`allowReserved` lets them through in a query).
fn is_reserved(b: u8) -> bool {
    b":/?#[]@!$&'()*+,;=".contains(&b)
}

fn push_escaped(out: &mut String, b: u8) {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    out.push('%');
    out.push(char::from(HEX[usize::from(b >> 4)]));
    out.push(char::from(HEX[usize::from(b & 0xF)]));
}

/// Everything but unreserved characters percent-encoded (a path segment or query component).
pub fn percent(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for b in text.bytes() {
        if is_unreserved(b) {
            out.push(char::from(b));
        } else {
            push_escaped(&mut out, b);
        }
    }
    out
}

/// A query value with `allowReserved`: reserved characters kept, except the ones that would
/// end or split the query component (`#`, `&`, `=`... stay meaningful, so `&` and `#` are
/// still encoded).
pub fn percent_allow_reserved(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for b in text.bytes() {
        if is_unreserved(b) || (is_reserved(b) && !matches!(b, b'&' | b'#')) {
            out.push(char::from(b));
        } else {
            push_escaped(&mut out, b);
        }
    }
    out
}

/// `application/x-www-form-urlencoded` byte serializer (WHATWG URL): space → `+`.
pub fn form_component(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for b in text.bytes() {
        match b {
            b' ' => out.push('+'),
            b'*' | b'-' | b'.' | b'_' => out.push(char::from(b)),
            b if b.is_ascii_alphanumeric() => out.push(char::from(b)),
            b => push_escaped(&mut out, b),
        }
    }
    out
}

/// A primitive as text (strings bare, numbers and booleans as JSON writes them); arrays and
/// objects as JSON text. `None` for null: the value is left out.
pub fn scalar(value: &Value) -> Option<String> {
    match value {
        Value::Null => None,
        Value::String(s) => Some(s.clone()),
        Value::Bool(_) | Value::Number(_) => Some(value.to_string()),
        Value::Array(_) | Value::Object(_) => Some(value.to_string()),
    }
}

/// The `name=value` pairs of a form-like body object: arrays repeat their key, nested
/// objects are sent as JSON text, nulls are left out.
pub fn fields(body: &serde_json::Map<String, Value>) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for (name, value) in body {
        match value {
            Value::Array(items) => out.extend(
                items
                    .iter()
                    .filter_map(|v| Some((name.clone(), scalar(v)?))),
            ),
            other => out.extend(scalar(other).map(|v| (name.clone(), v))),
        }
    }
    out
}

/// An `application/x-www-form-urlencoded` body.
pub fn form(fields: &[(String, String)]) -> String {
    fields
        .iter()
        .map(|(n, v)| format!("{}={}", form_component(n), form_component(v)))
        .collect::<Vec<_>>()
        .join("&")
}

/// A `multipart/form-data` body of text fields with `boundary` (which must not occur in
/// any field: see [`boundary`]).
pub fn multipart(fields: &[(String, String)], boundary: &str) -> Vec<u8> {
    let mut out = Vec::new();
    for (name, value) in fields {
        // RFC 7578 §4.2 / WHATWG: `"`, CR and LF in a field name are percent-encoded.
        let name = name
            .replace('"', "%22")
            .replace('\r', "%0D")
            .replace('\n', "%0A");
        out.extend_from_slice(format!("--{boundary}\r\n").as_bytes());
        out.extend_from_slice(
            format!("Content-Disposition: form-data; name=\"{name}\"\r\n\r\n").as_bytes(),
        );
        out.extend_from_slice(value.as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
    out
}

/// A multipart boundary from `seed` that occurs in none of the fields.
pub fn boundary(fields: &[(String, String)], mut seed: u64) -> String {
    loop {
        let candidate = format!("ai-gateway-{seed:016x}");
        if !fields
            .iter()
            .any(|(n, v)| n.contains(&candidate) || v.contains(&candidate))
        {
            return candidate;
        }
        seed = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn percent_encoding_keeps_only_unreserved() {
        assert_eq!(percent("a b/c?d=é~"), "a%20b%2Fc%3Fd%3D%C3%A9~");
        assert_eq!(percent_allow_reserved("a/b?c&d"), "a/b?c%26d");
        assert_eq!(form_component("a b&c=d*"), "a+b%26c%3Dd*");
    }

    #[test]
    fn form_fields_repeat_arrays_and_skip_nulls() {
        let body = json!({"name": "Rex", "tags": ["a", "b"], "age": 3, "x": null,
                          "meta": {"k": 1}});
        let fields = fields(body.as_object().unwrap());
        assert_eq!(
            form(&fields),
            "name=Rex&tags=a&tags=b&age=3&meta=%7B%22k%22%3A1%7D"
        );
    }

    #[test]
    fn multipart_bodies_follow_rfc_7578() {
        let fields = vec![("name".to_string(), "Rex".to_string())];
        let body = multipart(&fields, "B");
        assert_eq!(
            String::from_utf8(body).unwrap(),
            "--B\r\nContent-Disposition: form-data; name=\"name\"\r\n\r\nRex\r\n--B--\r\n"
        );
        let taken = vec![(
            "v".to_string(),
            "x ai-gateway-0000000000000001 y".to_string(),
        )];
        let chosen = boundary(&taken, 1);
        assert_ne!(chosen, "ai-gateway-0000000000000001");
        assert!(!taken[0].1.contains(&chosen));
    }
}
