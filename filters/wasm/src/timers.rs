//! Stream timers (`Host::start_timer`). proxy-wasm has no per-stream timer, only the root
//! context's tick; so the plugin keeps each stream's deadline here, the root ticks fast while any
//! is pending (see `MetricIds::hold_fast_tick`), and on a tick past a deadline it makes the
//! stream the effective context (`proxy_set_effective_context`: headers and local replies then
//! act on that stream) and runs the stream's filter's `on_timer`.

use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::{Rc, Weak};

use ai_gateway_core::HttpFilter;

/// A stream's filter, shared between the stream (which owns it) and the pending timers.
pub(crate) type FilterCell = RefCell<Box<dyn HttpFilter>>;

/// One plugin's pending stream deadlines, by stream context id.
#[derive(Default)]
pub(crate) struct StreamTimers {
    pending: HashMap<u32, Pending>,
}

struct Pending {
    at_ms: u64,
    filter: Weak<FilterCell>,
}

impl StreamTimers {
    /// Arms (or re-arms) the timer of stream `context_id` for `at_ms` (monotonic milliseconds).
    pub(crate) fn arm(&mut self, context_id: u32, at_ms: u64, filter: &Rc<FilterCell>) {
        let filter = Rc::downgrade(filter);
        self.pending.insert(context_id, Pending { at_ms, filter });
    }

    /// Forgets the stream's timer (the stream ended).
    pub(crate) fn cancel(&mut self, context_id: u32) {
        self.pending.remove(&context_id);
    }

    /// Whether any timer is pending.
    pub(crate) fn any(&self) -> bool {
        !self.pending.is_empty()
    }

    /// Removes and returns the timers due at `now_ms` whose stream still exists.
    pub(crate) fn take_due(&mut self, now_ms: u64) -> Vec<(u32, Rc<FilterCell>)> {
        let mut due = Vec::new();
        self.pending.retain(|&context_id, pending| {
            if pending.at_ms > now_ms {
                return true;
            }
            if let Some(filter) = pending.filter.upgrade() {
                due.push((context_id, filter));
            }
            false
        });
        due
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Nothing;
    impl HttpFilter for Nothing {}

    fn cell() -> Rc<FilterCell> {
        Rc::new(RefCell::new(Box::new(Nothing)))
    }

    #[test]
    fn only_due_timers_of_live_streams_fire_once() {
        let (live, late, gone) = (cell(), cell(), cell());
        let mut timers = StreamTimers::default();
        timers.arm(1, 100, &live);
        timers.arm(2, 300, &late);
        timers.arm(3, 100, &gone);
        drop(gone);
        let due: Vec<u32> = timers.take_due(150).into_iter().map(|(id, _)| id).collect();
        assert_eq!(due, vec![1]);
        assert!(timers.any());
        assert!(timers.take_due(150).is_empty());
        timers.cancel(2);
        assert!(!timers.any());
    }

    #[test]
    fn arming_again_replaces_the_deadline() {
        let filter = cell();
        let mut timers = StreamTimers::default();
        timers.arm(7, 100, &filter);
        timers.arm(7, 500, &filter);
        assert!(timers.take_due(200).is_empty());
        assert_eq!(timers.take_due(500).len(), 1);
    }
}
