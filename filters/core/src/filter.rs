//! The per-request filter trait: one method per phase, each defaulting to "pass through".

use crate::host::{CalloutId, CalloutResult, Host, StreamId};

/// What the host does after a callback returns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Let the data go on to the next filter.
    Continue,
    /// Stop iteration. From a body callback the host keeps buffering the body, so that a later
    /// callback (usually the one with `end_of_stream`) sees everything received so far.
    Pause,
}

/// One instance per HTTP stream; it owns all per-request state. The shared, immutable
/// configuration lives in the [`crate::FilterFactory`] that created it.
///
/// Every method receives the host for this stream. A method must not panic: the Wasm flavour
/// cannot unwind, and a panic aborts the VM (the dynamic module catches it and answers 500).
pub trait HttpFilter {
    /// Request headers arrived. `end_of_stream` is true when the request has no body.
    /// May read/modify request headers, send a local reply, start callouts.
    fn on_request_headers(&mut self, _host: &mut dyn Host, _end_of_stream: bool) -> Action {
        Action::Continue
    }

    /// A request body chunk arrived. [`Host::body`] returns every byte buffered so far
    /// (including this chunk); [`Host::set_body`] replaces exactly that span.
    fn on_request_body(&mut self, _host: &mut dyn Host, _end_of_stream: bool) -> Action {
        Action::Continue
    }

    /// Response headers arrived from upstream (or from a local reply).
    fn on_response_headers(&mut self, _host: &mut dyn Host, _end_of_stream: bool) -> Action {
        Action::Continue
    }

    /// A response body chunk arrived; same body semantics as [`HttpFilter::on_request_body`].
    fn on_response_body(&mut self, _host: &mut dyn Host, _end_of_stream: bool) -> Action {
        Action::Continue
    }

    /// An HTTP callout started with [`Host::http_callout`] finished. A filter that paused the
    /// stream for it must either resume it ([`Host::resume`]) or send a local reply.
    fn on_callout_done(&mut self, _host: &mut dyn Host, _id: CalloutId, _result: CalloutResult) {}

    /// A streamed callout ([`Host::start_stream`]) got its response headers.
    fn on_stream_headers(
        &mut self,
        _host: &mut dyn Host,
        _id: StreamId,
        _status: u16,
        _end_of_stream: bool,
    ) {
    }

    /// More response body of a streamed callout.
    fn on_stream_data(
        &mut self,
        _host: &mut dyn Host,
        _id: StreamId,
        _data: &[u8],
        _end_of_stream: bool,
    ) {
    }

    /// A streamed callout is over: completed, or `reset` (failed, refused, cancelled).
    fn on_stream_end(&mut self, _host: &mut dyn Host, _id: StreamId, _reset: bool) {}

    /// The timer armed with [`Host::start_timer`] fired. The stream may have moved on since it
    /// was armed (even ended, where the flavour cannot cancel in time): check before acting.
    fn on_timer(&mut self, _host: &mut dyn Host) {}

    /// The stream is finished (completed, reset or answered locally): the place to record
    /// latency and outcome metrics. Header and body access may no longer be available.
    fn on_stream_done(&mut self, _host: &mut dyn Host) {}
}
