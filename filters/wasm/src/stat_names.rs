//! proxy-wasm metrics have no labels, so tags travel inside the stat name and Envoy's
//! `stats_config.stats_tags` rules (shipped in `envoy/wasm-stats-tags.yaml`) cut them out again:
//!
//! `a2a_requests_total` + [agent=demo, method=SendMessage, outcome=2xx] is defined as
//! `a2a_requests_total.agent=demo.method=SendMessage.outcome=2xx`; Envoy prefixes
//! `wasmcustom.`, the rule for tag `agent` (`^wasmcustom\..*(\.agent=([^.]*))`) removes
//! `.agent=demo` and records `agent="demo"`, and so on, leaving `wasmcustom.a2a_requests_total`,
//! which `/stats/prometheus` renders without its custom namespace.
//!
//! A tag value must not contain `.` (Envoy's stat-name separator, which would end the value
//! early). `:` and control characters are also replaced, as Envoy sanitizes them elsewhere
//! in stat names: each becomes `_`, deterministically.

/// The character that replaces anything a tag value may not contain.
pub(crate) const REPLACEMENT: char = '_';

/// Whether `c` would break tag extraction or stat rendering inside a tag value.
fn is_reserved(c: char) -> bool {
    c == '.' || c == ':' || c.is_ascii_control()
}

/// Appends `value` to `out` with reserved characters replaced by [`REPLACEMENT`].
pub(crate) fn push_sanitized(out: &mut String, value: &str) {
    out.extend(
        value
            .chars()
            .map(|c| if is_reserved(c) { REPLACEMENT } else { c }),
    );
}

/// Writes the stat name encoding `name` and its tags into `out` (cleared first).
/// Values beyond the number of keys are ignored; missing values are encoded as empty.
pub(crate) fn encode_into(out: &mut String, name: &str, keys: &[&str], values: &[&str]) {
    out.clear();
    out.push_str(name);
    for (n, key) in keys.iter().enumerate() {
        out.push('.');
        out.push_str(key);
        out.push('=');
        push_sanitized(out, values.get(n).copied().unwrap_or(""));
    }
}

#[cfg(test)]
/// The `stats_tags` regex that extracts tag `key` from names built by [`encode_into`].
pub(crate) fn extraction_regex(key: &str) -> String {
    format!(r"^wasmcustom\..*(\.{key}=([^.]*))")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn encode(name: &str, keys: &[&str], values: &[&str]) -> String {
        let mut out = String::new();
        encode_into(&mut out, name, keys, values);
        out
    }

    #[test]
    fn tags_follow_the_name_in_key_order() {
        assert_eq!(
            encode(
                "a2a_requests_total",
                &["agent", "method", "outcome"],
                &["demo", "message/send", "jsonrpc_-32601"]
            ),
            "a2a_requests_total.agent=demo.method=message/send.outcome=jsonrpc_-32601"
        );
        assert_eq!(encode("plain_total", &[], &[]), "plain_total");
    }

    #[test]
    fn reserved_characters_are_replaced() {
        assert_eq!(
            encode("m", &["model"], &["gpt-4.1:free\nx"]),
            "m.model=gpt-4_1_free_x"
        );
    }

    #[test]
    fn missing_and_extra_values_are_tolerated() {
        assert_eq!(encode("m", &["a", "b"], &["1"]), "m.a=1.b=");
        assert_eq!(encode("m", &["a"], &["1", "2"]), "m.a=1");
    }

    #[test]
    fn buffer_is_reused() {
        let mut out = String::from("stale");
        encode_into(&mut out, "m", &["a"], &["1"]);
        assert_eq!(out, "m.a=1");
    }

    /// The shipped Envoy rules must be exactly the ones this encoding needs.
    #[test]
    fn shipped_rules_match_the_encoding() {
        let yaml = include_str!("../../../envoy/wasm-stats-tags.yaml");
        for key in ["agent", "method", "outcome", "result"] {
            let rule = format!("tag_name: {key}\n    regex: '{}'", extraction_regex(key));
            assert!(
                yaml.contains(&rule),
                "missing or different rule for `{key}`:\n{rule}"
            );
        }
    }
}
