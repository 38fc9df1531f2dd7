//! An in-memory [`Host`] for unit tests: records everything a filter does.

use std::cell::{Cell, RefCell};
use std::collections::BTreeMap;
use std::fmt;
use std::rc::Rc;

use crate::background::BackgroundHost;
use crate::host::{
    CalloutId, CalloutRequest, Capabilities, Direction, Host, HostError, LogLevel, MetadataSink,
    SharedValue, StreamId,
};
use crate::metrics::MetricId;

/// A local reply the filter sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LocalReply {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    pub details: String,
}

/// Everything a filter can observe and change, held in plain fields tests inspect.
#[derive(Debug)]
pub struct FakeHost {
    pub capabilities: Capabilities,
    pub request_headers: Vec<(String, String)>,
    pub response_headers: Vec<(String, String)>,
    pub request_body: Vec<u8>,
    pub response_body: Vec<u8>,
    pub local_reply: Option<LocalReply>,
    pub resumed: Vec<Direction>,
    pub route_cache_cleared: usize,
    pub callouts: Vec<CalloutRequest>,
    /// Streamed callouts started, in order (stream id = index + 1); only with the
    /// `streaming_callouts` capability.
    pub streams: Vec<CalloutRequest>,
    /// A streamed local response: its status and headers, once sent.
    pub streamed_response: Option<(u16, Vec<(String, String)>)>,
    /// The streamed local response's body so far, and whether it ended.
    pub streamed_body: Vec<u8>,
    pub streamed_ended: bool,
    /// The delay of the stream timer the filter armed last (tests fire it by calling
    /// `on_timer` themselves).
    pub timer_ms: Option<u64>,
    /// Dynamic metadata the filter may read, by (namespace, key).
    pub metadata_in: BTreeMap<(String, String), String>,
    /// Metadata the filter wrote, by (namespace, key).
    pub metadata_out: BTreeMap<(String, String), String>,
    /// Counter totals by (metric, tag values).
    pub counters: BTreeMap<(usize, Vec<String>), u64>,
    /// Gauge values by (metric, tag values).
    pub gauges: BTreeMap<(usize, Vec<String>), i64>,
    /// Histogram samples by (metric, tag values).
    pub histograms: BTreeMap<(usize, Vec<String>), Vec<u64>>,
    pub monotonic_nanos: u64,
    pub unix_seconds: u64,
    pub logs: RefCell<Vec<(LogLevel, String)>>,
    /// Calls to [`Host::random_bytes`] so far. The fill is deterministic, NOT random: call `n`
    /// (from 1) repeats the 8 little-endian bytes of `n`, so no two calls give the same bytes
    /// (for buffers of 8 bytes or more) and tests are reproducible.
    pub random_calls: Cell<u64>,
    /// When set, [`Host::random_bytes`] fails (to test a filter's handling of that).
    pub random_fails: bool,
    /// The cross-worker shared store; clone the `Rc` into another `FakeHost` to play two
    /// workers of one process.
    pub shared: Rc<RefCell<BTreeMap<String, SharedValue>>>,
    /// A foreign write applied just before the next conditional [`Host::shared_set`] of its key
    /// (another worker winning the race), see [`FakeHost::shared_interleave_once`]. Public
    /// (like every field) so tests in other crates can build hosts with `..FakeHost::default()`.
    pub shared_interleave: RefCell<Option<(String, Vec<u8>)>>,
}

impl Default for FakeHost {
    fn default() -> Self {
        FakeHost {
            capabilities: Capabilities {
                metadata_sink: MetadataSink::DynamicMetadata,
                streaming_callouts: true,
            },
            request_headers: Vec::new(),
            response_headers: Vec::new(),
            request_body: Vec::new(),
            response_body: Vec::new(),
            local_reply: None,
            resumed: Vec::new(),
            route_cache_cleared: 0,
            callouts: Vec::new(),
            streams: Vec::new(),
            streamed_response: None,
            streamed_body: Vec::new(),
            streamed_ended: false,
            timer_ms: None,
            metadata_in: BTreeMap::new(),
            metadata_out: BTreeMap::new(),
            counters: BTreeMap::new(),
            gauges: BTreeMap::new(),
            histograms: BTreeMap::new(),
            monotonic_nanos: 0,
            unix_seconds: 1_700_000_000,
            logs: RefCell::new(Vec::new()),
            random_calls: Cell::new(0),
            random_fails: false,
            shared: Rc::default(),
            shared_interleave: RefCell::new(None),
        }
    }
}

fn tag_key(metric: MetricId, tags: &[&str]) -> (usize, Vec<String>) {
    (metric.0, tags.iter().map(|t| t.to_string()).collect())
}

impl FakeHost {
    /// Makes another worker write `value` to `key` between this worker's next read and its
    /// conditional write of that key, so the write meets a stale compare-and-swap token.
    pub fn shared_interleave_once(&self, key: &str, value: &[u8]) {
        *self.shared_interleave.borrow_mut() = Some((key.to_owned(), value.to_vec()));
    }

    fn shared_write(&self, key: &str, value: &[u8]) {
        let mut store = self.shared.borrow_mut();
        let cas = store
            .get(key)
            .map_or(1, |old| old.cas.wrapping_add(1).max(1));
        store.insert(
            key.to_owned(),
            SharedValue {
                bytes: value.to_vec(),
                cas,
            },
        );
    }

    /// A host whose request carries these headers.
    pub fn with_request_headers(headers: &[(&str, &str)]) -> Self {
        FakeHost {
            request_headers: headers
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            ..FakeHost::default()
        }
    }

    /// The counter total for a metric and tag values (0 when never touched).
    pub fn counter(&self, metric: MetricId, tags: &[&str]) -> u64 {
        self.counters
            .get(&tag_key(metric, tags))
            .copied()
            .unwrap_or(0)
    }

    /// Whether any log line at `level` contains `needle`.
    pub fn logged(&self, level: LogLevel, needle: &str) -> bool {
        self.logs
            .borrow()
            .iter()
            .any(|(l, m)| *l == level && m.contains(needle))
    }

    fn header_list(&self, dir: Direction) -> &Vec<(String, String)> {
        match dir {
            Direction::Request => &self.request_headers,
            Direction::Response => &self.response_headers,
        }
    }

    fn header_list_mut(&mut self, dir: Direction) -> &mut Vec<(String, String)> {
        match dir {
            Direction::Request => &mut self.request_headers,
            Direction::Response => &mut self.response_headers,
        }
    }
}

impl Host for FakeHost {
    fn capabilities(&self) -> Capabilities {
        self.capabilities
    }

    fn header(&self, dir: Direction, name: &str) -> Option<String> {
        self.header_list(dir)
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.clone())
    }

    fn headers(&self, dir: Direction) -> Vec<(String, String)> {
        self.header_list(dir).clone()
    }

    fn set_header(&mut self, dir: Direction, name: &str, value: &str) {
        self.remove_header(dir, name);
        self.header_list_mut(dir)
            .push((name.to_ascii_lowercase(), value.to_string()));
    }

    fn remove_header(&mut self, dir: Direction, name: &str) {
        self.header_list_mut(dir)
            .retain(|(k, _)| !k.eq_ignore_ascii_case(name));
    }

    fn body(&self, dir: Direction) -> Vec<u8> {
        match dir {
            Direction::Request => self.request_body.clone(),
            Direction::Response => self.response_body.clone(),
        }
    }

    fn set_body(&mut self, dir: Direction, data: &[u8]) -> Result<(), HostError> {
        match dir {
            Direction::Request => self.request_body = data.to_vec(),
            Direction::Response => self.response_body = data.to_vec(),
        }
        Ok(())
    }

    fn send_local_reply(
        &mut self,
        status: u16,
        headers: &[(&str, &str)],
        body: &[u8],
        details: &str,
    ) {
        self.local_reply = Some(LocalReply {
            status,
            headers: headers
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            body: body.to_vec(),
            details: details.to_string(),
        });
    }

    fn resume(&mut self, dir: Direction) {
        self.resumed.push(dir);
    }

    fn clear_route_cache(&mut self) {
        self.route_cache_cleared += 1;
    }

    fn http_callout(&mut self, request: CalloutRequest) -> Result<CalloutId, HostError> {
        self.callouts.push(request);
        Ok(CalloutId(self.callouts.len() as u64))
    }

    fn start_stream(&mut self, request: CalloutRequest) -> Result<StreamId, HostError> {
        if !self.capabilities.streaming_callouts {
            return Err(HostError::NotAvailable("streamed callouts"));
        }
        self.streams.push(request);
        Ok(StreamId(self.streams.len() as u64))
    }

    fn send_response_headers(
        &mut self,
        status: u16,
        headers: &[(&str, &str)],
        end_of_stream: bool,
    ) -> Result<(), HostError> {
        if !self.capabilities.streaming_callouts {
            return Err(HostError::NotAvailable("streamed local responses"));
        }
        let headers = headers
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        self.streamed_response = Some((status, headers));
        self.streamed_ended |= end_of_stream;
        Ok(())
    }

    fn send_response_data(&mut self, data: &[u8], end_of_stream: bool) -> Result<(), HostError> {
        if self.streamed_response.is_none() || self.streamed_ended {
            return Err(HostError::NotAvailable("no open streamed response"));
        }
        self.streamed_body.extend_from_slice(data);
        self.streamed_ended |= end_of_stream;
        Ok(())
    }

    fn metadata(&self, namespace: &str, key: &str) -> Option<String> {
        let key = (namespace.to_string(), key.to_string());
        self.metadata_in
            .get(&key)
            .or_else(|| self.metadata_out.get(&key))
            .cloned()
    }

    fn start_timer(&mut self, delay_ms: u64) -> Result<(), HostError> {
        self.timer_ms = Some(delay_ms);
        Ok(())
    }

    fn set_metadata(&mut self, namespace: &str, key: &str, value: &str) {
        self.metadata_out
            .insert((namespace.to_string(), key.to_string()), value.to_string());
    }

    fn counter_add(&mut self, metric: MetricId, tags: &[&str], delta: u64) {
        *self.counters.entry(tag_key(metric, tags)).or_default() += delta;
    }

    fn gauge_add(&mut self, metric: MetricId, tags: &[&str], delta: i64) {
        *self.gauges.entry(tag_key(metric, tags)).or_default() += delta;
    }

    fn histogram_record(&mut self, metric: MetricId, tags: &[&str], value: u64) {
        self.histograms
            .entry(tag_key(metric, tags))
            .or_default()
            .push(value);
    }

    fn monotonic_nanos(&self) -> u64 {
        self.monotonic_nanos
    }

    fn unix_seconds(&self) -> u64 {
        self.unix_seconds
    }

    fn shared_get(&self, key: &str) -> Option<SharedValue> {
        self.shared.borrow().get(key).cloned()
    }

    fn shared_set(&self, key: &str, value: &[u8], cas: Option<u32>) -> Result<(), HostError> {
        let interleaved = self
            .shared_interleave
            .borrow_mut()
            .take_if(|(pending, _)| cas.is_some() && pending == key);
        if let Some((_, foreign)) = interleaved {
            self.shared_write(key, &foreign);
        }
        let current = self.shared.borrow().get(key).map(|value| value.cas);
        if let (Some(expected), Some(current)) = (cas, current) {
            if expected != current {
                return Err(HostError::CasMismatch);
            }
        }
        self.shared_write(key, value);
        Ok(())
    }

    fn random_bytes(&self, buf: &mut [u8]) -> Result<(), HostError> {
        if self.random_fails {
            return Err(HostError::NotAvailable(
                "random bytes (FakeHost::random_fails)",
            ));
        }
        let call = self.random_calls.get() + 1;
        self.random_calls.set(call);
        for (byte, value) in buf.iter_mut().zip(call.to_le_bytes().iter().cycle()) {
            *byte = *value;
        }
        Ok(())
    }

    fn log(&self, level: LogLevel, message: fmt::Arguments<'_>) {
        self.logs.borrow_mut().push((level, message.to_string()));
    }
}

/// Background work sees the same recording host: callouts and counters land in the same fields.
impl BackgroundHost for FakeHost {
    fn http_callout(&mut self, request: CalloutRequest) -> Result<CalloutId, HostError> {
        Host::http_callout(self, request)
    }

    fn counter_add(&mut self, metric: MetricId, tags: &[&str], delta: u64) {
        Host::counter_add(self, metric, tags, delta)
    }

    fn unix_seconds(&self) -> u64 {
        Host::unix_seconds(self)
    }

    fn log(&self, level: LogLevel, message: fmt::Arguments<'_>) {
        Host::log(self, level, message)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn random_bytes_differ_between_calls_and_can_fail() {
        let mut host = FakeHost::default();
        let (mut first, mut second) = ([0u8; 12], [0u8; 12]);
        host.random_bytes(&mut first).unwrap();
        host.random_bytes(&mut second).unwrap();
        assert_ne!(first, second);
        host.random_fails = true;
        assert!(host.random_bytes(&mut first).is_err());
    }
}
