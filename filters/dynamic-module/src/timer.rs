//! Stream timers (`Host::start_timer`). Envoy's per-stream scheduler runs an event on the
//! stream's worker thread when committed, from any thread, but has no delay of its own; so one
//! process-wide thread keeps every armed deadline and commits the stream's event when it passes.
//!
//! Lifetime: the stream owns its Envoy scheduler through a [`Slot`] it shares with the timer
//! thread. The thread commits under the slot's lock; the stream deletes the scheduler under the
//! same lock when it is destroyed, so a commit never meets a deleted scheduler. An event posted
//! just before the stream was destroyed is dropped by Envoy (its scheduler only holds a weak
//! reference to the filter).

use std::cmp::Ordering as CmpOrdering;
use std::collections::BinaryHeap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, OnceLock, Weak};
use std::thread;
use std::time::{Duration, Instant};

use ai_gateway_core::HostError;

use crate::abi::{self, HttpFilterEnvoyPtr, HttpFilterSchedulerPtr};

/// The per-stream event id of a fired timer (`on_http_filter_scheduled`).
pub const TIMER_EVENT: u64 = 0;

/// How late a timer may fire: the thread sleeps at least this long between rounds, so under
/// load (a deadline per request) it wakes about a hundred times a second, not once per request.
const RESOLUTION: Duration = Duration::from_millis(10);

/// One stream's timer: its Envoy scheduler, created at the first arming.
#[derive(Default)]
pub struct StreamTimer {
    slot: Option<Arc<Slot>>,
}

/// What the stream shares with the timer thread.
struct Slot {
    state: Mutex<SlotState>,
}

struct SlotState {
    /// `None` once the stream deleted it.
    scheduler: Option<Scheduler>,
    /// Bumped by every arming: only the latest deadline fires.
    generation: u64,
}

/// An Envoy HTTP-filter scheduler.
struct Scheduler(HttpFilterSchedulerPtr);

// SAFETY: Envoy documents `commit` as callable from any thread (it posts to the stream's worker
// dispatcher); `delete` happens once, on the worker thread, under the slot's lock.
unsafe impl Send for Scheduler {}

impl StreamTimer {
    /// Arms (or re-arms) the stream's timer to fire once, `delay` from now.
    ///
    /// # Safety
    /// `envoy` must be the filter pointer of the current hook of this timer's stream.
    pub unsafe fn arm(
        &mut self,
        envoy: HttpFilterEnvoyPtr,
        delay: Duration,
    ) -> Result<(), HostError> {
        let timers = timers().ok_or(HostError::NotAvailable("the stream timer thread"))?;
        let slot = match &self.slot {
            Some(slot) => slot.clone(),
            None => {
                // SAFETY: per the contract above.
                let raw =
                    unsafe { abi::envoy_dynamic_module_callback_http_filter_scheduler_new(envoy) };
                if raw.is_null() {
                    return Err(HostError::NotAvailable("Envoy gave no stream scheduler"));
                }
                let slot = Arc::new(Slot {
                    state: Mutex::new(SlotState {
                        scheduler: Some(Scheduler(raw)),
                        generation: 0,
                    }),
                });
                self.slot = Some(slot.clone());
                slot
            }
        };
        let generation = {
            let mut state = lock(&slot.state);
            state.generation += 1;
            state.generation
        };
        timers.add(Instant::now() + delay, Arc::downgrade(&slot), generation);
        Ok(())
    }
}

impl Drop for StreamTimer {
    fn drop(&mut self) {
        if let Some(slot) = self.slot.take() {
            if let Some(scheduler) = lock(&slot.state).scheduler.take() {
                // SAFETY: created by `scheduler_new`, deleted once, under the lock the timer
                // thread commits under.
                unsafe {
                    abi::envoy_dynamic_module_callback_http_filter_scheduler_delete(scheduler.0)
                };
            }
        }
    }
}

/// A lock that survives a panicked holder (the state stays consistent: plain fields).
fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// One armed deadline.
struct Entry {
    at: Instant,
    /// Arming order, to keep the heap order total.
    seq: u64,
    slot: Weak<Slot>,
    generation: u64,
}

impl PartialEq for Entry {
    fn eq(&self, other: &Self) -> bool {
        self.seq == other.seq
    }
}
impl Eq for Entry {}
impl PartialOrd for Entry {
    fn partial_cmp(&self, other: &Self) -> Option<CmpOrdering> {
        Some(self.cmp(other))
    }
}
impl Ord for Entry {
    /// Reversed: the earliest deadline is the max-heap's top.
    fn cmp(&self, other: &Self) -> CmpOrdering {
        (other.at, other.seq).cmp(&(self.at, self.seq))
    }
}

/// The process's pending deadlines and the thread that fires them.
struct Timers {
    heap: Mutex<BinaryHeap<Entry>>,
    wake: Condvar,
    seq: AtomicU64,
}

/// The timer thread, started at the first arming; `None` if it could not be started.
fn timers() -> Option<&'static Timers> {
    static TIMERS: OnceLock<Option<&'static Timers>> = OnceLock::new();
    *TIMERS.get_or_init(|| {
        let timers: &'static Timers = Box::leak(Box::new(Timers {
            heap: Mutex::new(BinaryHeap::new()),
            wake: Condvar::new(),
            seq: AtomicU64::new(0),
        }));
        thread::Builder::new()
            .name("ai-gateway-timers".into())
            .spawn(move || timers.run())
            .ok()
            .map(|_| timers)
    })
}

impl Timers {
    fn add(&self, at: Instant, slot: Weak<Slot>, generation: u64) {
        let seq = self.seq.fetch_add(1, Ordering::Relaxed);
        let mut heap = lock(&self.heap);
        heap.push(Entry {
            at,
            seq,
            slot,
            generation,
        });
        // Only an earlier first deadline changes how long the thread sleeps.
        if heap.peek().is_some_and(|top| top.seq == seq) {
            self.wake.notify_one();
        }
    }

    fn run(&self) {
        let mut due = Vec::new();
        loop {
            {
                let mut heap = lock(&self.heap);
                loop {
                    let now = Instant::now();
                    match heap.peek() {
                        None => heap = self.wake.wait(heap).unwrap_or_else(|e| e.into_inner()),
                        Some(top) if top.at <= now => break,
                        Some(top) => {
                            let left = (top.at - now).max(RESOLUTION);
                            heap = self
                                .wake
                                .wait_timeout(heap, left)
                                .map(|(guard, _)| guard)
                                .unwrap_or_else(|e| e.into_inner().0);
                        }
                    }
                }
                let now = Instant::now();
                while heap.peek().is_some_and(|top| top.at <= now) {
                    due.extend(heap.pop());
                }
            }
            // Fired outside the heap's lock: arming never waits for a commit.
            for entry in due.drain(..) {
                let Some(slot) = entry.slot.upgrade() else {
                    continue;
                };
                let state = lock(&slot.state);
                if let (Some(scheduler), true) =
                    (&state.scheduler, state.generation == entry.generation)
                {
                    // SAFETY: alive while the slot's lock is held (see `Drop`).
                    unsafe {
                        abi::envoy_dynamic_module_callback_http_filter_scheduler_commit(
                            scheduler.0,
                            TIMER_EVENT,
                        )
                    };
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(at: Instant, seq: u64) -> Entry {
        Entry {
            at,
            seq,
            slot: Weak::new(),
            generation: 0,
        }
    }

    #[test]
    fn the_earliest_deadline_is_on_top() {
        let now = Instant::now();
        let mut heap = BinaryHeap::new();
        heap.push(entry(now + Duration::from_millis(30), 0));
        heap.push(entry(now + Duration::from_millis(10), 1));
        heap.push(entry(now + Duration::from_millis(20), 2));
        let order: Vec<u64> = std::iter::from_fn(|| heap.pop().map(|e| e.seq)).collect();
        assert_eq!(order, vec![1, 2, 0]);
    }

    #[test]
    fn a_stream_never_armed_deletes_nothing() {
        // The test binary's Envoy stubs panic if a scheduler call is made.
        drop(StreamTimer::default());
    }
}
