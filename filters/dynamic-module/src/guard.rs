//! The panic barrier: no panic may unwind across the C ABI into Envoy.

use std::any::Any;
use std::cell::{Cell, RefCell};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::Once;

thread_local! {
    /// How many [`catch`] calls are active on this thread.
    static GUARD_DEPTH: Cell<u32> = const { Cell::new(0) };
    /// Where the last panic caught by [`catch`] was raised (`file:line:column`).
    static PANIC_LOCATION: RefCell<Option<String>> = const { RefCell::new(None) };
}

/// Replaces the default panic hook for panics raised inside [`catch`]: their location is kept
/// for the error message (which goes to Envoy's log) instead of being printed to stderr, and no
/// backtrace is captured (with `RUST_BACKTRACE` set that costs milliseconds per request).
/// Panics outside [`catch`] still reach the previous hook. Idempotent.
pub fn install_panic_hook() {
    static INSTALL: Once = Once::new();
    INSTALL.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if GUARD_DEPTH.get() > 0 {
                PANIC_LOCATION.set(info.location().map(|l| l.to_string()));
            } else {
                previous(info);
            }
        }));
    });
}

/// Runs `body`, turning a panic into `Err(message)`; the message ends with the panic's
/// location when [`install_panic_hook`] was called.
///
/// `AssertUnwindSafe` is sound here because a caller that gets `Err` never touches the state
/// the closure was mutating again: a stream whose filter panicked is marked failed and its
/// filter is no longer called, and a config or stream that panicked while being built is
/// dropped (Envoy gets null).
pub fn catch<R>(body: impl FnOnce() -> R) -> Result<R, String> {
    let depth = GUARD_DEPTH.get();
    GUARD_DEPTH.set(depth + 1);
    let result = catch_unwind(AssertUnwindSafe(body));
    GUARD_DEPTH.set(depth);
    result.map_err(|payload| {
        let message = panic_message(payload.as_ref());
        match PANIC_LOCATION.take() {
            Some(location) => format!("{message} (at {location})"),
            None => message,
        }
    })
}

/// The text a panic was raised with (`panic!("...")` yields `&str` or `String`).
fn panic_message(payload: &(dyn Any + Send)) -> String {
    if let Some(text) = payload.downcast_ref::<&str>() {
        (*text).to_string()
    } else if let Some(text) = payload.downcast_ref::<String>() {
        text.clone()
    } else {
        "panic with a non-string payload".to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn returns_the_value_when_nothing_panics() {
        assert_eq!(catch(|| 7), Ok(7));
    }

    /// The message without the location suffix the hook may add.
    fn message_of<R: std::fmt::Debug>(result: Result<R, String>) -> String {
        let text = result.expect_err("expected a caught panic");
        match text.find(" (at ") {
            Some(end) => text[..end].to_string(),
            None => text,
        }
    }

    #[test]
    fn static_str_panic_becomes_its_message() {
        assert_eq!(message_of(catch(|| -> u8 { panic!("boom") })), "boom");
    }

    #[test]
    fn formatted_panic_becomes_its_message() {
        let n = 3;
        assert_eq!(
            message_of(catch(|| -> u8 { panic!("index {n} out of range") })),
            "index 3 out of range"
        );
    }

    #[test]
    fn non_string_payload_is_still_caught() {
        let result = catch(|| -> u8 { std::panic::panic_any(42_u32) });
        assert_eq!(message_of(result), "panic with a non-string payload");
    }

    #[test]
    fn hook_adds_the_location() {
        install_panic_hook();
        let text = catch(|| -> u8 { panic!("located") }).expect_err("caught");
        assert!(text.starts_with("located (at "), "{text}");
        assert!(text.contains("guard.rs:"), "{text}");
    }

    #[test]
    fn nested_catch_restores_the_depth() {
        let outer = catch(|| catch(|| -> u8 { panic!("inner") }).is_err());
        assert_eq!(outer, Ok(true));
        assert_eq!(GUARD_DEPTH.get(), 0);
    }

    #[test]
    fn arithmetic_and_indexing_panics_are_caught() {
        let empty: Vec<u8> = Vec::new();
        let index = empty.len() + 1;
        assert!(catch(|| empty[index]).is_err());
    }
}
