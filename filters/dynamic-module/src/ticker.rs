//! The filter factory's background tick: a thread commits a [`TICK_EVENT`] to the config
//! scheduler right away and then every period, so `FilterFactory::on_tick` runs on Envoy's
//! main thread (the dynamic-module ABI has no timer of its own).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use ai_gateway_core::LogLevel;

use crate::abi::HttpFilterConfigEnvoyPtr;
use crate::envoy_log;
use crate::scheduler::{Scheduler, TICK_EVENT};

/// Why the tick could not be set up.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum TickerError {
    #[error("Envoy did not create a config scheduler for the background tick")]
    NoScheduler,
    #[error("could not start the background tick thread: {0}")]
    Thread(String),
}

/// The running tick of one config; stopped when dropped.
pub struct Ticker {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Ticker {
    /// Starts ticking every `period` (the first tick at once).
    pub fn start(
        config_envoy: HttpFilterConfigEnvoyPtr,
        period: Duration,
    ) -> Result<Ticker, TickerError> {
        // Moved into the thread: deleted when the thread ends.
        let scheduler = Scheduler::new(config_envoy).ok_or(TickerError::NoScheduler)?;
        let stop = Arc::new(AtomicBool::new(false));
        let thread = thread::Builder::new()
            .name("ai-gateway-tick".into())
            .spawn({
                let stop = stop.clone();
                move || tick_loop(&stop, &scheduler, period)
            })
            .map_err(|err| TickerError::Thread(err.to_string()))?;
        Ok(Ticker {
            stop,
            thread: Some(thread),
        })
    }
}

fn tick_loop(stop: &AtomicBool, scheduler: &Scheduler, period: Duration) {
    while !stop.load(Ordering::Acquire) {
        scheduler.commit(TICK_EVENT);
        let deadline = Instant::now() + period;
        // Parked until the period ends, or until `Drop` unparks to stop.
        while !stop.load(Ordering::Acquire) {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                break;
            }
            thread::park_timeout(left);
        }
    }
}

impl Drop for Ticker {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Release);
        if let Some(thread) = self.thread.take() {
            thread.thread().unpark();
            if thread.join().is_err() {
                envoy_log::log(LogLevel::Error, format_args!("background tick panicked"));
            }
        }
    }
}
