//! Drives the LLM filter through one HTTP exchange the way Envoy does, over `FakeHost`:
//! a paused phase keeps buffering (body callbacks see everything buffered plus the new chunk),
//! `Continue` releases the (possibly replaced) headers and bytes to the next hop.

#![allow(dead_code)]

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::rc::Rc;
use std::sync::Arc;

use ai_gateway_core::fake_host::FakeHost;
use ai_gateway_core::SharedValue;
use ai_gateway_core::{Action, FilterFactory, MetricId};

/// Headers and body chunks of one side.
#[derive(Debug, Clone, Default)]
pub struct Message {
    pub headers: Vec<(String, String)>,
    pub chunks: Vec<Vec<u8>>,
    /// The peer reset the stream after the last chunk: no callback sees `end_of_stream`.
    pub reset: bool,
}

impl Message {
    pub fn new(headers: &[(&str, &str)]) -> Self {
        Message {
            headers: headers
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            chunks: Vec::new(),
            reset: false,
        }
    }

    /// Marks the message as cut off by a reset after its chunks.
    pub fn reset(mut self) -> Self {
        self.reset = true;
        self
    }

    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.headers.push((name.to_string(), value.to_string()));
        self
    }

    pub fn body(mut self, body: impl AsRef<[u8]>) -> Self {
        self.chunks.push(body.as_ref().to_vec());
        self
    }

    /// The body split into chunks of `size` bytes.
    pub fn chunked(mut self, body: impl AsRef<[u8]>, size: usize) -> Self {
        self.chunks
            .extend(body.as_ref().chunks(size.max(1)).map(<[u8]>::to_vec));
        self
    }
}

/// A POST with a JSON body.
pub fn post(path: &str, body: impl AsRef<[u8]>) -> Message {
    Message::new(&[
        (":method", "POST"),
        (":path", path),
        (":authority", "gw.example:10000"),
        ("content-type", "application/json"),
    ])
    .body(body)
}

/// A response.
pub fn response(status: u16, content_type: &str, body: impl AsRef<[u8]>) -> Message {
    let len = body.as_ref().len().to_string();
    Message::new(&[
        (":status", &status.to_string()),
        ("content-type", content_type),
        ("content-length", &len),
    ])
    .body(body)
}

/// What happened.
pub struct Exchange {
    pub host: FakeHost,
    pub metrics: &'static [ai_gateway_core::MetricDef],
    /// Request headers as forwarded upstream (None when answered locally).
    pub upstream_headers: Option<Vec<(String, String)>>,
    pub upstream_body: Vec<u8>,
    pub client_headers: Vec<(String, String)>,
    pub client_body: Vec<u8>,
    pub client_status: Option<u16>,
    /// Most response bytes the filter held back at once.
    pub max_response_held: usize,
}

impl Exchange {
    pub fn upstream_header(&self, name: &str) -> Option<String> {
        find(self.upstream_headers.as_ref()?, name)
    }

    pub fn client_header(&self, name: &str) -> Option<String> {
        find(&self.client_headers, name)
    }

    pub fn upstream_json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.upstream_body).expect("upstream body is JSON")
    }

    pub fn client_json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.client_body).expect("client body is JSON")
    }

    fn metric(&self, name: &str) -> MetricId {
        MetricId(
            self.metrics
                .iter()
                .position(|m| m.name == name)
                .expect("metric"),
        )
    }

    pub fn counter(&self, name: &str, tags: &[&str]) -> u64 {
        self.host.counter(self.metric(name), tags)
    }

    /// The samples of a histogram.
    pub fn histogram(&self, name: &str, tags: &[&str]) -> Vec<u64> {
        let key = (
            self.metric(name).0,
            tags.iter().map(|t| t.to_string()).collect::<Vec<_>>(),
        );
        self.host.histograms.get(&key).cloned().unwrap_or_default()
    }

    /// Every (tags, value) of a counter.
    pub fn counters(&self, name: &str) -> Vec<(Vec<String>, u64)> {
        let id = self.metric(name).0;
        self.host
            .counters
            .iter()
            .filter(|((m, _), _)| *m == id)
            .map(|((_, t), v)| (t.clone(), *v))
            .collect()
    }
}

fn find(headers: &[(String, String)], name: &str) -> Option<String> {
    headers
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.clone())
}

/// Runs the request, then (unless answered locally) the response. `None` response: the
/// upstream reset the stream.
pub fn exchange(
    factory: &Arc<dyn FilterFactory>,
    request: Message,
    response: Option<Message>,
) -> Exchange {
    exchange_on(factory, FakeHost::default(), request, response)
}

/// [`exchange`] on a worker whose shared store is `shared` (another worker's, to play two
/// workers of one Envoy) at wall-clock second `unix_seconds`.
pub fn exchange_sharing(
    factory: &Arc<dyn FilterFactory>,
    shared: Rc<RefCell<BTreeMap<String, SharedValue>>>,
    unix_seconds: u64,
    request: Message,
    response: Option<Message>,
) -> Exchange {
    let mut host = FakeHost::with_request_headers(&[]);
    host.shared = shared;
    host.unix_seconds = unix_seconds;
    exchange_on(factory, host, request, response)
}

fn exchange_on(
    factory: &Arc<dyn FilterFactory>,
    host: FakeHost,
    request: Message,
    response: Option<Message>,
) -> Exchange {
    let mut filter = factory.new_filter();
    let mut host = host;
    host.monotonic_nanos = 1_000_000_000;
    host.request_headers = request.headers.clone();
    let mut ex = Exchange {
        host: FakeHost::default(),
        metrics: factory.metrics(),
        upstream_headers: None,
        upstream_body: Vec::new(),
        client_headers: Vec::new(),
        client_body: Vec::new(),
        client_status: None,
        max_response_held: 0,
    };
    let mut released =
        filter.on_request_headers(&mut host, request.chunks.is_empty()) == Action::Continue;
    if released {
        ex.upstream_headers = Some(host.request_headers.clone());
    }
    let mut buffered = Vec::new();
    for (i, chunk) in request.chunks.iter().enumerate() {
        if host.local_reply.is_some() {
            break;
        }
        buffered.extend_from_slice(chunk);
        host.request_body = buffered.clone();
        let last = i + 1 == request.chunks.len();
        if filter.on_request_body(&mut host, last) == Action::Continue && host.local_reply.is_none()
        {
            if !released {
                ex.upstream_headers = Some(host.request_headers.clone());
                released = true;
            }
            ex.upstream_body.extend_from_slice(&host.request_body);
            buffered.clear();
        }
    }
    host.monotonic_nanos += 7_000_000;
    if host.local_reply.is_none() {
        if let Some(response) = response {
            drive_response(&mut *filter, &mut host, response, &mut ex);
        }
    }
    if let Some(reply) = &host.local_reply {
        ex.upstream_headers = ex.upstream_headers.take().filter(|_| released);
        ex.client_status = Some(reply.status);
        ex.client_headers = reply.headers.clone();
        ex.client_body = reply.body.clone();
    }
    filter.on_stream_done(&mut host);
    ex.host = host;
    ex
}

fn drive_response(
    filter: &mut dyn ai_gateway_core::HttpFilter,
    host: &mut FakeHost,
    response: Message,
    ex: &mut Exchange,
) {
    host.response_headers = response.headers.clone();
    let mut held = filter.on_response_headers(host, response.chunks.is_empty()) == Action::Pause;
    if !held {
        ex.client_headers = host.response_headers.clone();
    }
    let mut buffered: Vec<u8> = Vec::new();
    for (i, chunk) in response.chunks.iter().enumerate() {
        buffered.extend_from_slice(chunk);
        host.response_body = buffered.clone();
        ex.max_response_held = ex.max_response_held.max(buffered.len() - chunk.len());
        let last = i + 1 == response.chunks.len() && !response.reset;
        let action = filter.on_response_body(host, last);
        if host.local_reply.is_some() {
            return;
        }
        if action == Action::Continue {
            if held {
                ex.client_headers = host.response_headers.clone();
                held = false;
            }
            ex.client_body.extend_from_slice(&host.response_body);
            buffered.clear();
        }
    }
    if response.chunks.is_empty() {
        ex.client_headers = host.response_headers.clone();
    }
    ex.client_status = find(&ex.client_headers, ":status").and_then(|s| s.parse().ok());
}
