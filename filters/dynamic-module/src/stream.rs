//! Per-stream state and the panic policy: a filter that panics is answered with a 500 local
//! reply (when the stream can still take one), logged, and never called again.

use std::sync::Arc;

use ai_gateway_core::{Action, Host, HttpFilter, LogLevel};

use crate::config::FilterConfig;
use crate::guard;
use crate::timer::StreamTimer;

/// Response-code details of the local reply sent after a panic (`%RESPONSE_CODE_DETAILS%`).
pub const PANIC_DETAILS: &str = "ai_gateway_filter_panic";

/// What a hook tells Envoy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// The filter's own decision.
    Filter(Action),
    /// The filter panicked in this hook and a 500 was sent: stop this hook's iteration.
    Failed,
    /// The filter panicked earlier: stay out of the way so the local reply gets through.
    Bypassed,
}

/// Whether a panic in a hook may still answer the client. After the stream completed there is
/// nobody left to answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// Request or response processing: a panic sends a 500.
    Active,
    /// Stream complete: a panic is only logged.
    Done,
}

/// One HTTP stream: the config it came from plus the filter instance and its timer.
pub struct Stream {
    config: Arc<FilterConfig>,
    runner: Runner,
    timer: StreamTimer,
}

impl Stream {
    /// A stream running `filter`, created from `config`.
    pub fn new(filter: Box<dyn HttpFilter>, config: Arc<FilterConfig>) -> Self {
        Stream {
            config,
            runner: Runner {
                filter,
                failed: false,
            },
            timer: StreamTimer::default(),
        }
    }

    /// The config (read-only, for the host's metric table), the runner and the stream's timer
    /// (mutable), borrowed together.
    pub fn split(&mut self) -> (&FilterConfig, &mut Runner, &mut StreamTimer) {
        (&self.config, &mut self.runner, &mut self.timer)
    }
}

/// The filter instance and whether it has panicked.
pub struct Runner {
    filter: Box<dyn HttpFilter>,
    failed: bool,
}

impl Runner {
    /// Runs one filter callback under the panic barrier.
    pub fn run<H: Host>(
        &mut self,
        host: &mut H,
        filter_name: &str,
        hook: &str,
        phase: Phase,
        callback: impl FnOnce(&mut dyn HttpFilter, &mut dyn Host) -> Action,
    ) -> Outcome {
        if self.failed {
            return Outcome::Bypassed;
        }
        let filter = self.filter.as_mut();
        let result = guard::catch(|| callback(filter, &mut *host));
        match result {
            Ok(action) => Outcome::Filter(action),
            Err(message) => {
                self.failed = true;
                on_panic(host, filter_name, hook, phase, &message);
                Outcome::Failed
            }
        }
    }
}

/// Logs the panic and, while the client can still be answered, sends the 500.
fn on_panic<H: Host>(host: &mut H, filter_name: &str, hook: &str, phase: Phase, message: &str) {
    host.log(
        LogLevel::Error,
        format_args!("filter `{filter_name}` panicked in {hook}: {message}"),
    );
    if phase == Phase::Active {
        // The reply itself crosses into Envoy; a panic there must not escape either.
        let reply = guard::catch(|| {
            host.send_local_reply(
                500,
                &[("content-type", "text/plain")],
                b"internal filter error\n",
                PANIC_DETAILS,
            )
        });
        if let Err(again) = reply {
            host.log(
                LogLevel::Error,
                format_args!("sending the 500 after a panic failed: {again}"),
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::Metrics;
    use ai_gateway_core::fake_host::FakeHost;
    use ai_gateway_core::{FilterFactory, MetricDef};

    struct Factory;

    impl FilterFactory for Factory {
        fn metrics(&self) -> &'static [MetricDef] {
            &[]
        }
        fn new_filter(&self) -> Box<dyn HttpFilter> {
            Box::new(PanicsOnBody)
        }
    }

    /// Passes headers, panics on the first body chunk.
    struct PanicsOnBody;

    impl HttpFilter for PanicsOnBody {
        fn on_request_headers(&mut self, _host: &mut dyn Host, _eos: bool) -> Action {
            Action::Pause
        }
        fn on_request_body(&mut self, host: &mut dyn Host, _eos: bool) -> Action {
            let body = host.body(ai_gateway_core::Direction::Request);
            // Indexes past the end: a bug of the kind the barrier exists for.
            let _ = body[body.len()];
            Action::Continue
        }
    }

    fn stream() -> Stream {
        let config = Arc::new(FilterConfig {
            filter_name: "probe".to_string(),
            factory: Arc::new(Factory),
            metrics: Metrics::none(),
            ticker: None,
        });
        Stream::new(config.factory.new_filter(), config)
    }

    /// Runs one hook the way the exports do.
    fn run(
        stream: &mut Stream,
        host: &mut FakeHost,
        hook: &str,
        phase: Phase,
        callback: impl FnOnce(&mut dyn HttpFilter, &mut dyn Host) -> Action,
    ) -> Outcome {
        let (config, runner, _) = stream.split();
        runner.run(host, &config.filter_name, hook, phase, callback)
    }

    #[test]
    fn filter_decision_passes_through() {
        let mut host = FakeHost::default();
        let outcome = run(
            &mut stream(),
            &mut host,
            "request_headers",
            Phase::Active,
            |f, h| f.on_request_headers(h, false),
        );
        assert_eq!(outcome, Outcome::Filter(Action::Pause));
        assert!(host.local_reply.is_none());
    }

    #[test]
    fn panic_answers_500_and_logs() {
        let mut host = FakeHost::default();
        let mut stream = stream();
        let outcome = run(
            &mut stream,
            &mut host,
            "request_body",
            Phase::Active,
            |f, h| f.on_request_body(h, true),
        );
        assert_eq!(outcome, Outcome::Failed);
        let reply = host.local_reply.as_ref().expect("a local reply");
        assert_eq!(reply.status, 500);
        assert_eq!(reply.details, PANIC_DETAILS);
        assert!(host.logged(LogLevel::Error, "filter `probe` panicked in request_body"));
    }

    #[test]
    fn after_a_panic_the_filter_is_bypassed() {
        let mut host = FakeHost::default();
        let mut stream = stream();
        run(
            &mut stream,
            &mut host,
            "request_body",
            Phase::Active,
            |f, h| f.on_request_body(h, true),
        );
        let mut called = false;
        let outcome = run(
            &mut stream,
            &mut host,
            "response_headers",
            Phase::Active,
            |_, _| {
                called = true;
                Action::Continue
            },
        );
        assert_eq!(outcome, Outcome::Bypassed);
        assert!(!called);
    }

    #[test]
    fn panic_after_completion_only_logs() {
        let mut host = FakeHost::default();
        let mut stream = stream();
        let outcome = run(
            &mut stream,
            &mut host,
            "stream_complete",
            Phase::Done,
            |f, h| f.on_request_body(h, true),
        );
        assert_eq!(outcome, Outcome::Failed);
        assert!(host.local_reply.is_none());
        assert!(host.logged(LogLevel::Error, "panicked in stream_complete"));
    }
}
