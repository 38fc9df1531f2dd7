//! One proxy-wasm HTTP context per stream, driving the filter's `HttpFilter` callbacks.

use std::cell::RefCell;
use std::rc::Rc;

use ai_gateway_core::{Action as FilterAction, CalloutId, Direction, Host, HttpFilter};
use proxy_wasm::traits::{Context, HttpContext};
use proxy_wasm::types::Action;

use crate::callout;
use crate::host::{BodyWindow, TimerRef, WasmHost};
use crate::root::Plugin;
use crate::timers::FilterCell;

/// A stream's filter plus what the adapter must remember between callbacks.
pub(crate) struct Stream {
    /// This stream's proxy-wasm context id (its key among the plugin's stream timers).
    context_id: u32,
    /// `None` when the plugin has no valid configuration: the stream passes through. The
    /// filter is shared with the plugin's stream timers (see `timers`), which hold it weakly.
    active: Option<(Rc<Plugin>, Rc<FilterCell>)>,
    body: BodyWindow,
    /// Per direction: the buffered size when the last body callback paused. Trailers then end
    /// the stream without a final body callback, so the filter gets one from the trailers.
    paused_body: [Option<usize>; 2],
    done: bool,
}

fn slot(dir: Direction) -> usize {
    match dir {
        Direction::Request => 0,
        Direction::Response => 1,
    }
}

fn action(action: Option<FilterAction>) -> Action {
    match action {
        Some(FilterAction::Pause) => Action::Pause,
        Some(FilterAction::Continue) | None => Action::Continue,
    }
}

impl Stream {
    /// A stream served by the plugin's filter, or a pass-through one without a plugin.
    pub(crate) fn new(context_id: u32, plugin: Option<Rc<Plugin>>) -> Self {
        let active = plugin.map(|plugin| {
            let filter = Rc::new(RefCell::new(plugin.factory.new_filter()));
            (plugin, filter)
        });
        Stream {
            context_id,
            active,
            body: BodyWindow::default(),
            paused_body: [None, None],
            done: false,
        }
    }

    /// Runs one filter callback with a host whose body window is `body`; also returns the
    /// body size after the callback (a `set_body` changes it).
    fn run_with_body<R>(
        &mut self,
        body: BodyWindow,
        callback: impl FnOnce(&mut dyn HttpFilter, &mut dyn Host) -> R,
    ) -> Option<(R, usize)> {
        let (plugin, filter) = self.active.as_ref()?;
        // Busy only when Envoy re-enters the stream from the filter's own timer callback (its
        // local reply's response headers): that callback passes.
        let mut guard = filter.try_borrow_mut().ok()?;
        self.body = body;
        let mut host = WasmHost {
            metrics: &plugin.metrics,
            body: &mut self.body,
            timer: TimerRef {
                timers: &plugin.timers,
                context_id: self.context_id,
                filter,
            },
        };
        let result = callback(guard.as_mut(), &mut host);
        let size = self.body.size;
        self.body = BodyWindow::default();
        Some((result, size))
    }

    /// Runs one filter callback outside any body callback.
    fn run<R>(
        &mut self,
        callback: impl FnOnce(&mut dyn HttpFilter, &mut dyn Host) -> R,
    ) -> Option<R> {
        self.run_with_body(BodyWindow::default(), callback)
            .map(|(result, _)| result)
    }

    fn on_body(&mut self, dir: Direction, size: usize, end_of_stream: bool) -> Action {
        let window = BodyWindow {
            direction: Some(dir),
            size,
        };
        let outcome = self.run_with_body(window, |filter, host| match dir {
            Direction::Request => filter.on_request_body(host, end_of_stream),
            Direction::Response => filter.on_response_body(host, end_of_stream),
        });
        self.paused_body[slot(dir)] = match outcome {
            Some((FilterAction::Pause, buffered)) if !end_of_stream => Some(buffered),
            _ => None,
        };
        action(outcome.map(|(result, _)| result))
    }

    fn on_trailers(&mut self, dir: Direction) -> Action {
        match self.paused_body[slot(dir)].take() {
            Some(size) => self.on_body(dir, size, true),
            None => Action::Continue,
        }
    }
}

impl Context for Stream {
    fn on_http_call_response(
        &mut self,
        token_id: u32,
        num_headers: usize,
        body_size: usize,
        _num_trailers: usize,
    ) {
        let result = callout::result(num_headers, body_size);
        let id = CalloutId(u64::from(token_id));
        self.run(|filter, host| filter.on_callout_done(host, id, result));
    }
}

impl HttpContext for Stream {
    fn on_http_request_headers(&mut self, _num_headers: usize, end_of_stream: bool) -> Action {
        action(self.run(|filter, host| filter.on_request_headers(host, end_of_stream)))
    }

    fn on_http_request_body(&mut self, body_size: usize, end_of_stream: bool) -> Action {
        self.on_body(Direction::Request, body_size, end_of_stream)
    }

    fn on_http_request_trailers(&mut self, _num_trailers: usize) -> Action {
        self.on_trailers(Direction::Request)
    }

    fn on_http_response_headers(&mut self, _num_headers: usize, end_of_stream: bool) -> Action {
        action(self.run(|filter, host| filter.on_response_headers(host, end_of_stream)))
    }

    fn on_http_response_body(&mut self, body_size: usize, end_of_stream: bool) -> Action {
        self.on_body(Direction::Response, body_size, end_of_stream)
    }

    fn on_http_response_trailers(&mut self, _num_trailers: usize) -> Action {
        self.on_trailers(Direction::Response)
    }

    /// Envoy calls this once the stream is over (answered, reset or locally replied), with
    /// request and response headers still readable: the filter's `on_stream_done`.
    fn on_log(&mut self) {
        if !self.done {
            self.done = true;
            self.run(|filter, host| filter.on_stream_done(host));
            if let Some((plugin, _)) = &self.active {
                if let Ok(mut timers) = plugin.timers.try_borrow_mut() {
                    timers.cancel(self.context_id);
                }
            }
        }
    }
}
