//! Drives a filter through one HTTP exchange the way Envoy does, over `FakeHost`:
//! body callbacks see what is buffered plus the new chunk, a `Pause` keeps buffering, a
//! `Continue` releases the (possibly replaced) bytes to the next hop.

#![allow(dead_code)]

use std::sync::Arc;

use ai_gateway_core::fake_host::FakeHost;
use ai_gateway_core::{Action, FilterFactory, HttpFilter, LogLevel, MetricId};

/// One side of an exchange: headers and body chunks.
#[derive(Debug, Clone, Default)]
pub struct Message {
    pub headers: Vec<(String, String)>,
    pub chunks: Vec<Vec<u8>>,
}

impl Message {
    pub fn new(headers: &[(&str, &str)]) -> Self {
        Message {
            headers: headers
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            chunks: Vec::new(),
        }
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

/// A GET request.
pub fn get(path: &str) -> Message {
    Message::new(&[
        (":method", "GET"),
        (":path", path),
        (":authority", "gw.example:10000"),
    ])
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

/// A response with a status, content type and body.
pub fn response(status: u16, content_type: &str, body: impl AsRef<[u8]>) -> Message {
    let status = status.to_string();
    let len = body.as_ref().len().to_string();
    Message::new(&[
        (":status", &status),
        ("content-type", content_type),
        ("content-length", &len),
    ])
    .body(body)
}

/// What happened during the exchange.
pub struct Exchange {
    pub host: FakeHost,
    pub metrics: &'static [ai_gateway_core::MetricDef],
    /// Request headers as forwarded upstream.
    pub upstream_request_headers: Vec<(String, String)>,
    /// Request body as forwarded upstream.
    pub upstream_body: Vec<u8>,
    /// Response headers as sent to the client (None when a local reply replaced them).
    pub client_headers: Option<Vec<(String, String)>>,
    /// Response body as sent to the client (the local reply's body if one was sent).
    pub client_body: Vec<u8>,
    /// Status the client got.
    pub client_status: Option<u16>,
    /// Largest number of response bytes the filter held back at once.
    pub max_response_buffered: usize,
    /// Whether any request body callback paused.
    pub request_paused: bool,
}

impl Exchange {
    fn metric(&self, name: &str) -> MetricId {
        MetricId(
            self.metrics
                .iter()
                .position(|m| m.name == name)
                .unwrap_or_else(|| panic!("no metric {name}")),
        )
    }

    pub fn counter(&self, name: &str, tags: &[&str]) -> u64 {
        self.host.counter(self.metric(name), tags)
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

    pub fn histogram(&self, name: &str, tags: &[&str]) -> Vec<u64> {
        let key = (
            self.metric(name).0,
            tags.iter().map(|t| t.to_string()).collect::<Vec<_>>(),
        );
        self.host.histograms.get(&key).cloned().unwrap_or_default()
    }

    pub fn logged(&self, level: LogLevel, needle: &str) -> bool {
        self.host.logged(level, needle)
    }

    pub fn client_json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.client_body).expect("client body is JSON")
    }

    pub fn client_header(&self, name: &str) -> Option<String> {
        self.client_headers
            .as_ref()?
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
    }
}

/// Runs request then response through a filter of `factory`. `response` None = the upstream
/// reset the stream before answering. Time advances 5 ms between request and response.
pub fn exchange(
    factory: &Arc<dyn FilterFactory>,
    request: Message,
    response: Option<Message>,
) -> Exchange {
    let mut filter = factory.new_filter();
    let mut host = FakeHost {
        monotonic_nanos: 1_000_000_000,
        request_headers: request.headers.clone(),
        ..FakeHost::default()
    };
    let mut ex = Exchange {
        host: FakeHost::default(),
        metrics: factory.metrics(),
        upstream_request_headers: Vec::new(),
        upstream_body: Vec::new(),
        client_headers: None,
        client_body: Vec::new(),
        client_status: None,
        max_response_buffered: 0,
        request_paused: false,
    };

    let no_request_body = request.chunks.is_empty();
    assert_eq!(
        filter.on_request_headers(&mut host, no_request_body),
        Action::Continue,
        "request headers never pause"
    );
    ex.upstream_request_headers = host.request_headers.clone();
    let mut buffered: Vec<u8> = Vec::new();
    for (i, chunk) in request.chunks.iter().enumerate() {
        buffered.extend_from_slice(chunk);
        host.request_body = buffered.clone();
        let last = i + 1 == request.chunks.len();
        match filter.on_request_body(&mut host, last) {
            Action::Continue => {
                ex.upstream_body.extend_from_slice(&host.request_body);
                buffered.clear();
            }
            Action::Pause => ex.request_paused = true,
        }
    }

    host.monotonic_nanos += 5_000_000;
    if let Some(response) = response {
        drive_response(&mut *filter, &mut host, response, &mut ex);
    }
    filter.on_stream_done(&mut host);
    ex.host = host;
    ex
}

fn drive_response(
    filter: &mut dyn HttpFilter,
    host: &mut FakeHost,
    response: Message,
    ex: &mut Exchange,
) {
    host.response_headers = response.headers.clone();
    let no_body = response.chunks.is_empty();
    let mut headers_held = filter.on_response_headers(host, no_body) == Action::Pause;
    if !headers_held {
        ex.client_headers = Some(host.response_headers.clone());
    }
    let mut buffered: Vec<u8> = Vec::new();
    for (i, chunk) in response.chunks.iter().enumerate() {
        if host.local_reply.is_some() {
            break;
        }
        buffered.extend_from_slice(chunk);
        host.response_body = buffered.clone();
        ex.max_response_buffered = ex.max_response_buffered.max(buffered.len() - chunk.len());
        let last = i + 1 == response.chunks.len();
        let action = filter.on_response_body(host, last);
        if host.local_reply.is_some() {
            break;
        }
        if action == Action::Continue {
            if headers_held {
                ex.client_headers = Some(host.response_headers.clone());
                headers_held = false;
            }
            ex.client_body.extend_from_slice(&host.response_body);
            buffered.clear();
        }
    }
    match &host.local_reply {
        Some(reply) => {
            ex.client_headers = None;
            ex.client_status = Some(reply.status);
            ex.client_body = reply.body.clone();
        }
        None => {
            ex.client_status = ex
                .client_headers
                .as_ref()
                .and_then(|h| h.iter().find(|(k, _)| k == ":status"))
                .and_then(|(_, v)| v.parse().ok());
        }
    }
}
