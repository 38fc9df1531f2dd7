//! `host-probe` (catalog feature `diagnostic-filters`, never in release builds): a diagnostic
//! filter that exercises every `Host` method from request headers, so each adapter's mapping
//! can be checked against real Envoy (test-harness/tests/host_conformance.rs does, for both
//! flavours). It only uses `ai_gateway_core::Host`, so it runs unchanged in every adapter.
//! Configuration: `{}` (the Wasm plugin configuration is `{"filter": "host-probe"}`).
//!
//! Request headers it obeys:
//! - `x-probe-local-reply`: answer 418 locally (details `probe_local_reply`).
//! - `x-probe-set-path: <path>`: rewrite `:path` and clear the route cache (not with
//!   `x-probe-no-clear`, to observe Envoy's own clearing on header writes).
//! - `x-probe-remove: <name>`: remove that request header.
//! - `x-probe-panic`: panic, to observe the panic hook's log line and the failure policy.
//! - `x-probe-bad-write`: write a response header during the request (the host refuses; the
//!   adapter logs it at debug level and carries on).
//! - `x-probe-metadata: <namespace>/<key>`: read dynamic metadata, echoed in the response.
//! - `x-probe-callout: <cluster>`: GET `/` on the cluster before forwarding the request.
//! - `x-probe-upper-body`: buffer the request body and forward it upper-cased.
//! - `x-probe-append: <text>`: hold the response headers, buffer the response body, append the
//!   text and fix `content-length` from the body callback.
//! - `x-probe-shared-add: <key>`: add 1 to the cross-worker shared counter `key`; the new value
//!   is reported in `x-probe-shared-value`.
//! - `x-probe-agent`/`x-probe-method`/`x-probe-outcome`: tag values of `probe_requests_total`.
//!
//! Every response carries `x-probe-*` headers reporting what the filter observed (among them
//! `x-probe-values`: `header_values` of `:method`, an absent header and `:path`); metadata
//! `probe/seen` is set to the request path (dynamic metadata or filter state
//! `wasm.probe.seen`, per the flavour's `MetadataSink`).

use std::sync::Arc;

use ai_gateway_core::{
    Action, CalloutId, CalloutRequest, CalloutResult, ConfigError, Direction, FilterFactory, Host,
    HttpFilter, LogLevel, MetricDef, MetricId, MetricKind,
};

/// The probe's metrics: tags match the A2A ones, so the shipped extraction rules apply.
const METRICS: &[MetricDef] = &[
    MetricDef {
        name: "probe_requests_total",
        kind: MetricKind::Counter,
        tag_keys: &["agent", "method", "outcome"],
    },
    MetricDef {
        name: "probe_duration_ms",
        kind: MetricKind::Histogram,
        tag_keys: &["agent"],
    },
];

struct Factory;

impl FilterFactory for Factory {
    fn metrics(&self) -> &'static [MetricDef] {
        METRICS
    }

    fn new_filter(&self) -> Box<dyn HttpFilter> {
        Box::<Probe>::default()
    }
}

/// The probe's factory; it accepts only an empty configuration.
pub fn factory(config: &str) -> Result<Arc<dyn FilterFactory>, ConfigError> {
    ai_gateway_core::parse_config::<ProbeConfig>(config)?;
    Ok(Arc::new(Factory))
}

/// No fields: anything else is a mistake worth refusing.
#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct ProbeConfig {}

#[derive(Default)]
struct Probe {
    tags: [String; 3],
    started_nanos: u64,
    report: Vec<(&'static str, String)>,
    upper_body: bool,
    append: Option<String>,
    request_body_calls: usize,
    response_body_calls: usize,
}

impl Probe {
    fn note(&mut self, name: &'static str, value: impl Into<String>) {
        self.report.push((name, value.into()));
    }
}

impl HttpFilter for Probe {
    fn on_request_headers(&mut self, host: &mut dyn Host, end_of_stream: bool) -> Action {
        self.started_nanos = host.monotonic_nanos();
        self.note("x-probe-monotonic", self.started_nanos.to_string());
        self.note("x-probe-unix", host.unix_seconds().to_string());
        self.note(
            "x-probe-sink",
            format!("{:?}", host.capabilities().metadata_sink),
        );
        let req = |name: &str| host.header(Direction::Request, name);
        let (metadata_spec, remove, set_path, local_reply, callout) = (
            req("x-probe-metadata"),
            req("x-probe-remove"),
            req("x-probe-set-path"),
            req("x-probe-local-reply").is_some(),
            req("x-probe-callout"),
        );
        let clear = req("x-probe-no-clear").is_none();
        let bad_write = req("x-probe-bad-write").is_some();
        if req("x-probe-panic").is_some() {
            panic!("probe panic requested");
        }
        for (slot, name) in ["x-probe-agent", "x-probe-method", "x-probe-outcome"]
            .iter()
            .enumerate()
        {
            self.tags[slot] = req(name).unwrap_or_default();
        }
        if let Some(key) = req("x-probe-shared-add") {
            let value = ai_gateway_core::shared::add_i64(host, &key, 1);
            self.note("x-probe-shared-value", format!("{value:?}"));
        }
        self.upper_body = req("x-probe-upper-body").is_some();
        self.append = req("x-probe-append");
        let path = req(":path").unwrap_or_default();
        self.note("x-probe-path", path.clone());
        let values =
            host.header_values(Direction::Request, &[":method", "x-probe-absent", ":path"]);
        self.note("x-probe-values", format!("{values:?}"));
        self.note(
            "x-probe-header-count",
            host.headers(Direction::Request).len().to_string(),
        );
        self.note(
            "x-probe-response-header-now",
            format!("{:?}", host.header(Direction::Response, ":status")),
        );
        host.set_metadata("probe", "seen", &path);
        if let Some(spec) = metadata_spec {
            let (ns, key) = spec.split_once('/').unwrap_or((spec.as_str(), ""));
            let value = host.metadata(ns, key);
            self.note("x-probe-metadata-value", format!("{value:?}"));
        }
        if bad_write {
            host.set_header(Direction::Response, "x-too-early", "1");
        }
        if let Some(name) = remove {
            host.remove_header(Direction::Request, &name);
        }
        if let Some(new_path) = set_path {
            host.set_header(Direction::Request, ":path", &new_path);
            if clear {
                host.clear_route_cache();
            }
        }
        if local_reply {
            host.log(
                LogLevel::Info,
                format_args!("probe: local reply for {path}"),
            );
            host.send_local_reply(
                418,
                &[("x-probe", "local")],
                b"probe local reply\n",
                "probe_local_reply",
            );
            return Action::Pause;
        }
        if let Some(cluster) = callout {
            let request = CalloutRequest {
                cluster,
                headers: vec![
                    (":method".into(), "GET".into()),
                    (":path".into(), "/".into()),
                    (":authority".into(), "probe-callout".into()),
                ],
                body: Vec::new(),
                timeout_ms: 2000,
            };
            match host.http_callout(request) {
                Ok(_) => return Action::Pause,
                Err(err) => self.note("x-probe-callout", format!("refused: {err}")),
            }
        }
        if self.upper_body && !end_of_stream {
            return Action::Pause;
        }
        Action::Continue
    }

    fn on_request_body(&mut self, host: &mut dyn Host, end_of_stream: bool) -> Action {
        self.request_body_calls += 1;
        if !self.upper_body {
            return Action::Continue;
        }
        if !end_of_stream {
            return Action::Pause;
        }
        let upper = host.body(Direction::Request).to_ascii_uppercase();
        let outcome = host.set_body(Direction::Request, &upper);
        self.note(
            "x-probe-set-request-body",
            format!("{} bytes {outcome:?}", upper.len()),
        );
        Action::Continue
    }

    fn on_callout_done(&mut self, host: &mut dyn Host, _id: CalloutId, result: CalloutResult) {
        let summary = match result {
            Ok(response) => format!(
                "status {} body {} bytes",
                response.status,
                response.body.len()
            ),
            Err(failure) => format!("failed: {failure}"),
        };
        self.note("x-probe-callout", summary);
        host.resume(Direction::Request);
    }

    fn on_response_headers(&mut self, host: &mut dyn Host, end_of_stream: bool) -> Action {
        self.note(
            "x-probe-request-body-calls",
            self.request_body_calls.to_string(),
        );
        self.note(
            "x-probe-request-path-in-response",
            format!("{:?}", host.header(Direction::Request, ":path")),
        );
        for (name, value) in &self.report {
            host.set_header(Direction::Response, name, value);
        }
        if self.append.is_some() && !end_of_stream {
            return Action::Pause;
        }
        Action::Continue
    }

    fn on_response_body(&mut self, host: &mut dyn Host, end_of_stream: bool) -> Action {
        self.response_body_calls += 1;
        let Some(text) = &self.append else {
            return Action::Continue;
        };
        if !end_of_stream {
            return Action::Pause;
        }
        let mut body = host.body(Direction::Response);
        body.extend_from_slice(text.as_bytes());
        let outcome = host.set_body(Direction::Response, &body);
        host.set_header(
            Direction::Response,
            "content-length",
            &body.len().to_string(),
        );
        host.set_header(
            Direction::Response,
            "x-probe-set-response-body",
            &format!("{outcome:?}"),
        );
        Action::Continue
    }

    fn on_stream_done(&mut self, host: &mut dyn Host) {
        let tags: Vec<&str> = self.tags.iter().map(String::as_str).collect();
        host.counter_add(MetricId(0), &tags, 1);
        let elapsed_ms = host.monotonic_nanos().saturating_sub(self.started_nanos) / 1_000_000;
        host.histogram_record(MetricId(1), &tags[..1], elapsed_ms);
        host.log(
            LogLevel::Info,
            format_args!(
                "probe: done, status {:?}, {} response body calls",
                host.header(Direction::Response, ":status"),
                self.response_body_calls
            ),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_only_an_empty_config() {
        assert!(factory("{}").is_ok());
        let err = factory(r#"{"verbose": true}"#).err().unwrap();
        assert!(err.to_string().contains("verbose"), "{err}");
    }
}
