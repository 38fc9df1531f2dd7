//! Reads Envoy's `/stats/prometheus` text so tests can look up one series.

use std::collections::BTreeMap;

/// One sample line: metric name, labels and value.
#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    /// Metric name, e.g. `envoy_a2a_requests_total`.
    pub name: String,
    /// Label name → value.
    pub labels: BTreeMap<String, String>,
    /// The sample value.
    pub value: f64,
    /// The line as Envoy wrote it.
    pub line: String,
}

/// All samples of one `/stats/prometheus` answer.
#[derive(Debug, Clone, Default)]
pub struct Prometheus {
    /// Samples in Envoy's order (comment lines left out).
    pub samples: Vec<Sample>,
}

impl Prometheus {
    /// Parses the text exposition format; lines it cannot read are skipped.
    pub fn parse(text: &str) -> Prometheus {
        let samples = text
            .lines()
            .filter(|line| !line.starts_with('#') && !line.trim().is_empty())
            .filter_map(parse_line)
            .collect();
        Prometheus { samples }
    }

    /// The value of the series `name` whose labels are exactly `labels`.
    pub fn value(&self, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
        let wanted: BTreeMap<String, String> = labels
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        self.samples
            .iter()
            .find(|s| s.name == name && s.labels == wanted)
            .map(|s| s.value)
    }

    /// Samples whose name starts with `prefix`.
    pub fn with_prefix<'a>(&'a self, prefix: &'a str) -> impl Iterator<Item = &'a Sample> + 'a {
        self.samples
            .iter()
            .filter(move |s| s.name.starts_with(prefix))
    }
}

fn parse_line(line: &str) -> Option<Sample> {
    let (series, value) = line.rsplit_once(' ')?;
    let value = value.parse().ok()?;
    let (name, labels) = match series.split_once('{') {
        Some((name, rest)) => (name, parse_labels(rest.strip_suffix('}')?)?),
        None => (series, BTreeMap::new()),
    };
    Some(Sample {
        name: name.to_string(),
        labels,
        value,
        line: line.to_string(),
    })
}

/// `a="x",b="y\"z"` → map; label values may hold escaped quotes, backslashes and newlines.
fn parse_labels(text: &str) -> Option<BTreeMap<String, String>> {
    let mut labels = BTreeMap::new();
    let mut rest = text;
    while !rest.is_empty() {
        let (key, after) = rest.split_once("=\"")?;
        let mut value = String::new();
        let mut chars = after.char_indices();
        let end = loop {
            match chars.next()? {
                (i, '"') => break i,
                (_, '\\') => match chars.next()?.1 {
                    'n' => value.push('\n'),
                    other => value.push(other),
                },
                (_, c) => value.push(c),
            }
        };
        labels.insert(key.trim_start_matches(',').to_string(), value);
        rest = &after[end + 1..];
    }
    Some(labels)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_labelled_and_plain_series() {
        let text = "# TYPE envoy_a2a_requests_total counter\n\
                    envoy_a2a_requests_total{agent=\"demo\",method=\"message/send\",outcome=\"2xx\"} 3\n\
                    envoy_server_live 1\n\
                    envoy_x{v=\"a\\\"b,c\"} 2.5\n";
        let p = Prometheus::parse(text);
        assert_eq!(
            p.value(
                "envoy_a2a_requests_total",
                &[
                    ("agent", "demo"),
                    ("method", "message/send"),
                    ("outcome", "2xx")
                ]
            ),
            Some(3.0)
        );
        assert_eq!(
            p.value("envoy_a2a_requests_total", &[("agent", "demo")]),
            None
        );
        assert_eq!(p.value("envoy_server_live", &[]), Some(1.0));
        assert_eq!(p.value("envoy_x", &[("v", "a\"b,c")]), Some(2.5));
        assert_eq!(p.with_prefix("envoy_a2a_").count(), 1);
    }
}
