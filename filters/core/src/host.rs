//! What a filter may ask of the proxy hosting it. The adapters implement this trait over
//! proxy-wasm and over Envoy's dynamic-module ABI; [`crate::fake_host`] implements it in memory.

use std::fmt;

/// Which half of the exchange a header/body call addresses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Direction {
    /// Downstream client → upstream.
    Request,
    /// Upstream → downstream client.
    Response,
}

/// Where [`Host::set_metadata`] lands in this flavour.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MetadataSink {
    /// Envoy dynamic metadata `<namespace>/<key>` (dynamic module): readable by rate limiting,
    /// access logs (`%DYNAMIC_METADATA(ns:key)%`) and later filters.
    DynamicMetadata,
    /// Filter state `wasm.<namespace>.<key>` (proxy-wasm cannot write dynamic metadata):
    /// readable by access logs as `%FILTER_STATE(wasm.<namespace>.<key>:PLAIN)%`.
    FilterState,
}

/// What the hosting flavour can do; filters that need more degrade explicitly.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Capabilities {
    /// Where written metadata goes.
    pub metadata_sink: MetadataSink,
    /// Whether HTTP callouts can stream (dynamic module) or only deliver whole responses (Wasm).
    pub streaming_callouts: bool,
}

/// Log severity, mapped onto Envoy's levels.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum LogLevel {
    Trace,
    Debug,
    Info,
    Warn,
    Error,
}

/// Identifies one outstanding HTTP callout of a stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct CalloutId(pub u64);

/// Identifies a streamed callout within its stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct StreamId(pub u64);

/// An HTTP request sent by the filter to an Envoy cluster.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CalloutRequest {
    /// Envoy cluster name.
    pub cluster: String,
    /// Headers, including the pseudo-headers `:method`, `:path`, `:authority`.
    pub headers: Vec<(String, String)>,
    /// Request body, empty for none.
    pub body: Vec<u8>,
    /// Overall timeout.
    pub timeout_ms: u64,
}

/// A callout's whole response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CalloutResponse {
    /// HTTP status code.
    pub status: u16,
    /// Response headers (lower-case names).
    pub headers: Vec<(String, String)>,
    /// Response body.
    pub body: Vec<u8>,
}

/// Why a callout produced no response.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CalloutFailure {
    /// The cluster could not be reached or reset the stream.
    #[error("upstream reset or unreachable")]
    Reset,
    /// The callout's timeout fired.
    #[error("timed out")]
    Timeout,
    /// The response was larger than the host's buffer limit.
    #[error("response exceeded the buffer limit")]
    TooLarge,
}

/// Outcome of a callout.
pub type CalloutResult = Result<CalloutResponse, CalloutFailure>;

/// A host call that could not be carried out.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HostError {
    /// The call is not possible in the current phase (e.g. body access after the stream ended).
    #[error("not available in this phase: {0}")]
    NotAvailable(&'static str),
    /// The named cluster does not exist or the callout was refused.
    #[error("callout refused: {0}")]
    CalloutRefused(String),
    /// [`Host::shared_set`] with a compare-and-swap token that is no longer current: another
    /// worker wrote the key since it was read.
    #[error("shared value changed since it was read")]
    CasMismatch,
    /// The shared store refused the call (with the host's reason).
    #[error("shared store: {0}")]
    SharedStore(String),
}

/// A value of the cross-worker shared store, with the token [`Host::shared_set`] checks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SharedValue {
    /// The stored bytes.
    pub bytes: Vec<u8>,
    /// Compare-and-swap token: changes on every write of the key.
    pub cas: u32,
}

/// The proxy as seen by one HTTP stream. Header names are lower-case; pseudo-headers
/// (`:method`, `:path`, `:authority`, `:scheme`, `:status`) are ordinary entries.
pub trait Host {
    /// What this flavour supports.
    fn capabilities(&self) -> Capabilities;

    /// The first value of a header, if present.
    fn header(&self, dir: Direction, name: &str) -> Option<String>;
    /// The first values of several headers at once, in the order of `names` (lowercase).
    /// Filters that need a few headers ask once: a flavour whose host calls are costly (Wasm)
    /// answers from one fetch of the whole map.
    fn header_values(&self, dir: Direction, names: &[&str]) -> Vec<Option<String>> {
        names.iter().map(|name| self.header(dir, name)).collect()
    }
    /// Every header, in order, repeated names included.
    fn headers(&self, dir: Direction) -> Vec<(String, String)>;
    /// Replaces all values of a header with one value.
    fn set_header(&mut self, dir: Direction, name: &str, value: &str);
    /// Removes every value of a header.
    fn remove_header(&mut self, dir: Direction, name: &str);

    /// Every body byte the filter may currently see: what was buffered by earlier
    /// [`crate::Action::Pause`] returns plus the current chunk.
    fn body(&self, dir: Direction) -> Vec<u8>;
    /// Replaces the bytes [`Host::body`] returned.
    fn set_body(&mut self, dir: Direction, data: &[u8]) -> Result<(), HostError>;

    /// Answers the request locally; the filter then returns [`crate::Action::Pause`].
    /// `details` is recorded as the response-code details (`%RESPONSE_CODE_DETAILS%`).
    fn send_local_reply(
        &mut self,
        status: u16,
        headers: &[(&str, &str)],
        body: &[u8],
        details: &str,
    );
    /// Resumes a direction that a callback paused (after a callout, typically).
    fn resume(&mut self, dir: Direction);
    /// Makes Envoy re-evaluate the route after a header change.
    fn clear_route_cache(&mut self);

    /// Starts an HTTP callout; the result arrives in [`crate::HttpFilter::on_callout_done`].
    fn http_callout(&mut self, request: CalloutRequest) -> Result<CalloutId, HostError>;

    /// Starts a streamed callout (`request.body` sent whole, ending the request): the answer
    /// arrives piece by piece in [`crate::HttpFilter::on_stream_headers`], `on_stream_data` and
    /// `on_stream_end`, and lives as long as the stream that started it. Only where
    /// [`Capabilities::streaming_callouts`] says so; elsewhere `NotAvailable`.
    fn start_stream(&mut self, _request: CalloutRequest) -> Result<StreamId, HostError> {
        Err(HostError::NotAvailable("streamed callouts"))
    }

    /// Starts a locally generated response whose body follows in
    /// [`Host::send_response_data`] (a stream the filter produces, e.g. merged events). Only
    /// where [`Capabilities::streaming_callouts`] says so.
    fn send_response_headers(
        &mut self,
        _status: u16,
        _headers: &[(&str, &str)],
        _end_of_stream: bool,
    ) -> Result<(), HostError> {
        Err(HostError::NotAvailable("streamed local responses"))
    }

    /// More body of the response begun with [`Host::send_response_headers`].
    fn send_response_data(&mut self, _data: &[u8], _end_of_stream: bool) -> Result<(), HostError> {
        Err(HostError::NotAvailable("streamed local responses"))
    }

    /// Arms this stream's timer: [`crate::HttpFilter::on_timer`] runs once, about `delay_ms`
    /// from now, on the stream's thread. One timer per stream: arming again replaces it. It never
    /// fires after the stream was destroyed.
    fn start_timer(&mut self, _delay_ms: u64) -> Result<(), HostError> {
        Err(HostError::NotAvailable("stream timers"))
    }

    /// A string value of Envoy dynamic metadata `namespace/key`, if set; also what this
    /// stream's filters wrote with [`Host::set_metadata`] where the sink is filter state.
    fn metadata(&self, namespace: &str, key: &str) -> Option<String>;
    /// Records a string for later filters, access logs and rate limiting; see [`MetadataSink`].
    fn set_metadata(&mut self, namespace: &str, key: &str, value: &str);

    /// Adds to a counter. `tags` are the values of the metric's tag keys, in order.
    fn counter_add(&mut self, metric: crate::MetricId, tags: &[&str], delta: u64);
    /// Adds to (or, with a negative delta, subtracts from) a gauge.
    fn gauge_add(&mut self, metric: crate::MetricId, tags: &[&str], delta: i64);
    /// Records one histogram sample.
    fn histogram_record(&mut self, metric: crate::MetricId, tags: &[&str], value: u64);

    /// Monotonic time in nanoseconds, for latencies.
    fn monotonic_nanos(&self) -> u64;
    /// Wall-clock time in seconds since the Unix epoch.
    fn unix_seconds(&self) -> u64;
    /// Wall-clock time in milliseconds since the Unix epoch (comparable across processes, unlike
    /// [`Host::monotonic_nanos`]).
    fn unix_millis(&self) -> u64 {
        self.unix_seconds().saturating_mul(1000)
    }

    /// The upstream host the router connected to (`ip:port`, IPv6 in brackets), once known
    /// (response phase; after retries, the last attempt's host). `None` where the flavour
    /// cannot tell.
    fn upstream_address(&self) -> Option<String> {
        None
    }

    /// Asks the load balancer of the route's cluster to send this request to `host`
    /// (`ip:port`). `strict`: when `host` is not in the cluster, fail (503 "no healthy upstream")
    /// instead of balancing normally. Only the dynamic module can; elsewhere `NotAvailable`.
    fn set_upstream_override_host(&mut self, _host: &str, _strict: bool) -> Result<(), HostError> {
        Err(HostError::NotAvailable("upstream override host"))
    }

    /// Fills `buf` with cryptographic-quality random bytes (OS or host CSPRNG), e.g. for AEAD
    /// nonces. On error `buf` must not be used: a predictable nonce breaks AES-GCM.
    fn random_bytes(&self, buf: &mut [u8]) -> Result<(), HostError>;

    /// A key of the store shared by every worker of this Envoy process (Wasm: proxy-wasm shared
    /// data of the VM id; dynamic module: a process-wide map). `None` when the key was never set.
    fn shared_get(&self, key: &str) -> Option<SharedValue>;
    /// Writes a shared key. With `cas`, only if the key still carries that token (else
    /// [`HostError::CasMismatch`]); without, unconditionally. Creating a missing key is never
    /// conditional (proxy-wasm ignores the token then): see [`crate::shared::add_i64`].
    fn shared_set(&self, key: &str, value: &[u8], cas: Option<u32>) -> Result<(), HostError>;

    /// Writes to Envoy's log.
    fn log(&self, level: LogLevel, message: fmt::Arguments<'_>);
}
