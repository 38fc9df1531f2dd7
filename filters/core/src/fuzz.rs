//! Property/fuzz test support shared by the filter crates' fuzz tests (feature `fuzz`, test
//! builds only): a runner that counts the cases it actually executed and the panics it caught,
//! and byte-level mutation of real captures. `FUZZ_CASES` sets the case count (default
//! [`DEFAULT_CASES`], small enough for `cargo test`); `scripts/fuzz` runs 10⁶ per target.

use std::cell::Cell;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::Path;
use std::time::Instant;

use proptest::prelude::*;
use proptest::sample::Index;
use proptest::test_runner::{Config, TestCaseError, TestError, TestRunner};

/// Cases per target when `FUZZ_CASES` is not set.
pub const DEFAULT_CASES: u32 = 512;

/// The case count: `FUZZ_CASES`, or [`DEFAULT_CASES`].
pub fn cases() -> u32 {
    std::env::var("FUZZ_CASES")
        .ok()
        .and_then(|v| v.trim().replace('_', "").parse().ok())
        .unwrap_or(DEFAULT_CASES)
}

/// Runs `test` on [`cases`] inputs drawn from `strategy` and prints one summary line
/// (`fuzz <target>: <n> cases, <p> panics, <secs>s`, read by `scripts/fuzz`). A panic inside
/// `test` is counted and fails the target like a failed invariant; the failure names the
/// smallest input proptest shrank it to.
pub fn run<S: Strategy>(
    target: &str,
    strategy: S,
    test: impl Fn(S::Value) -> Result<(), TestCaseError>,
) where
    S::Value: std::fmt::Debug,
{
    let config = Config {
        cases: cases(),
        // Regressions are reported in the failure message; no files next to the sources
        // (the Wasm run has no writable source tree).
        failure_persistence: None,
        max_shrink_iters: 4096,
        ..Config::default()
    };
    let executed = Cell::new(0u64);
    let panics = Cell::new(0u64);
    let started = Instant::now();
    let result = TestRunner::new(config).run(&strategy, |input| {
        executed.set(executed.get() + 1);
        match catch_unwind(AssertUnwindSafe(|| test(input))) {
            Ok(outcome) => outcome,
            Err(payload) => {
                panics.set(panics.get() + 1);
                Err(TestCaseError::fail(format!(
                    "panic: {}",
                    panic_text(&payload)
                )))
            }
        }
    });
    println!(
        "fuzz {target}: {} cases, {} panics, {:.1}s",
        executed.get(),
        panics.get(),
        started.elapsed().as_secs_f64()
    );
    match result {
        Ok(()) => {}
        Err(TestError::Fail(why, input)) => panic!("fuzz {target} failed: {why}\ninput: {input:?}"),
        Err(TestError::Abort(why)) => panic!("fuzz {target} aborted: {why}"),
    }
}

fn panic_text(payload: &Box<dyn std::any::Any + Send>) -> String {
    payload
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "(non-string panic)".into())
}

/// Fails the case with `message` unless `condition` holds.
pub fn check(condition: bool, message: impl FnOnce() -> String) -> Result<(), TestCaseError> {
    if condition {
        Ok(())
    } else {
        Err(TestCaseError::fail(message()))
    }
}

/// Every file under `dir` (recursively) whose name ends with one of `suffixes`, sorted by path.
pub fn captures(dir: &Path, suffixes: &[&str]) -> Vec<Vec<u8>> {
    let mut paths = Vec::new();
    collect(dir, suffixes, &mut paths);
    paths.sort();
    assert!(!paths.is_empty(), "no captures under {}", dir.display());
    paths
        .iter()
        .map(|p| std::fs::read(p).unwrap_or_else(|e| panic!("{}: {e}", p.display())))
        .collect()
}

fn collect(dir: &Path, suffixes: &[&str], out: &mut Vec<std::path::PathBuf>) {
    let entries = std::fs::read_dir(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            collect(&path, suffixes, out);
        } else if path
            .file_name()
            .and_then(|n| n.to_str())
            .is_some_and(|n| suffixes.iter().any(|s| n.ends_with(s)))
        {
            out.push(path);
        }
    }
}

/// One byte-level edit of an input.
#[derive(Debug, Clone)]
pub enum Mutation {
    /// Flips one bit of the byte at the index.
    Flip(Index, u8),
    /// Inserts a byte.
    Insert(Index, u8),
    /// Inserts a token that tends to matter to parsers (delimiters, line ends, escapes).
    Token(Index, &'static str),
    /// Deletes up to `n` bytes.
    Delete(Index, usize),
    /// Repeats a slice of up to `n` bytes in place.
    Repeat(Index, usize),
    /// Cuts the input at the index.
    Truncate(Index),
}

const TOKENS: &[&str] = &[
    "\"",
    "{",
    "}",
    "[",
    "]",
    ":",
    ",",
    "\\",
    "\\u",
    "\\ud800",
    "\n",
    "\r",
    "\r\n",
    "\n\n",
    "\0",
    "\u{ff}",
    "0",
    "-1",
    "1e999",
    "18446744073709551616",
    "null",
    "true",
    "\"\"",
    "{}",
    "[]",
    "data: ",
    "event: ",
    "id: ",
    "%",
    "%zz",
    "/",
    "?",
    "#",
    "..",
    "\u{202e}",
    "é",
];

/// Strategy for one [`Mutation`].
pub fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        (any::<Index>(), 0u8..8).prop_map(|(i, bit)| Mutation::Flip(i, bit)),
        (any::<Index>(), any::<u8>()).prop_map(|(i, b)| Mutation::Insert(i, b)),
        (any::<Index>(), proptest::sample::select(TOKENS)).prop_map(|(i, t)| Mutation::Token(i, t)),
        (any::<Index>(), 1usize..16).prop_map(|(i, n)| Mutation::Delete(i, n)),
        (any::<Index>(), 1usize..32).prop_map(|(i, n)| Mutation::Repeat(i, n)),
        any::<Index>().prop_map(Mutation::Truncate),
    ]
}

/// Applies `edits` to `input` in order.
pub fn apply(mut input: Vec<u8>, edits: &[Mutation]) -> Vec<u8> {
    for edit in edits {
        let at = |i: &Index, len: usize| if len == 0 { 0 } else { i.index(len) };
        let len = input.len();
        match edit {
            Mutation::Flip(i, bit) if len > 0 => input[at(i, len)] ^= 1 << bit,
            Mutation::Flip(..) => {}
            Mutation::Insert(i, b) => input.insert(at(i, len + 1), *b),
            Mutation::Token(i, t) => {
                let pos = at(i, len + 1);
                input.splice(pos..pos, t.bytes());
            }
            Mutation::Delete(i, n) => {
                let pos = at(i, len);
                input.drain(pos..(pos + n).min(len));
            }
            Mutation::Repeat(i, n) => {
                let pos = at(i, len);
                let slice = input[pos..(pos + n).min(len)].to_vec();
                input.splice(pos..pos, slice);
            }
            Mutation::Truncate(i) => input.truncate(at(i, len + 1)),
        }
    }
    input
}

/// Strategy: one of `seeds`, with up to `max_edits` byte-level mutations applied.
pub fn mutated(seeds: Vec<Vec<u8>>, max_edits: usize) -> impl Strategy<Value = Vec<u8>> {
    (
        proptest::sample::select(seeds),
        proptest::collection::vec(mutation(), 0..=max_edits),
    )
        .prop_map(|(seed, edits)| apply(seed, &edits))
}

/// Splits `bytes` into chunks at the given cut points (sorted, deduplicated), as a body
/// arrives from the network.
pub fn split_at<'a>(bytes: &'a [u8], cuts: &[Index]) -> Vec<&'a [u8]> {
    let mut points: Vec<usize> = cuts.iter().map(|c| c.index(bytes.len() + 1)).collect();
    points.sort_unstable();
    points.dedup();
    let mut out = Vec::with_capacity(points.len() + 1);
    let mut start = 0;
    for p in points {
        out.push(&bytes[start..p]);
        start = p;
    }
    out.push(&bytes[start..]);
    out
}

/// Strategy: arbitrary JSON values up to `depth` levels deep, with small collections. No
/// floats: serde_json's default float parsing is not exact to the last bit, which would make
/// round-trip comparisons fail on the codec rather than on the code under test.
pub fn json_value(depth: u32) -> impl Strategy<Value = serde_json::Value> {
    use serde_json::Value;
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        ".{0,12}".prop_map(Value::String),
    ];
    leaf.prop_recursive(depth, 64, 6, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            proptest::collection::btree_map("[a-z_]{0,8}", inner, 0..6)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// One structural edit of a JSON document: at the node with the given pre-order index,
/// replace it, drop it from its parent, or duplicate it into an array.
#[derive(Debug, Clone)]
pub enum JsonEdit {
    /// Replaces the node.
    Replace(Index, serde_json::Value),
    /// Removes the node from its parent (the root stays).
    Remove(Index),
    /// Wraps the node in a one-element array.
    Wrap(Index),
}

/// Strategy for one [`JsonEdit`].
pub fn json_edit() -> impl Strategy<Value = JsonEdit> {
    prop_oneof![
        (any::<Index>(), json_value(2)).prop_map(|(i, v)| JsonEdit::Replace(i, v)),
        any::<Index>().prop_map(JsonEdit::Remove),
        any::<Index>().prop_map(JsonEdit::Wrap),
    ]
}

fn node_count(value: &serde_json::Value) -> usize {
    use serde_json::Value;
    1 + match value {
        Value::Array(items) => items.iter().map(node_count).sum(),
        Value::Object(map) => map.values().map(node_count).sum(),
        _ => 0,
    }
}

/// Applies `edit` to the node numbered `target` (pre-order, root 0); `counter` is the number of
/// the node at `value`. Returns true once applied.
fn edit_at(
    value: &mut serde_json::Value,
    target: usize,
    counter: &mut usize,
    edit: &JsonEdit,
) -> bool {
    use serde_json::Value;
    if *counter == target {
        match edit {
            JsonEdit::Replace(_, new) => *value = new.clone(),
            JsonEdit::Wrap(_) => *value = Value::Array(vec![value.take()]),
            JsonEdit::Remove(_) => {}
        }
        return true;
    }
    *counter += 1;
    match value {
        Value::Array(items) => {
            for i in 0..items.len() {
                if matches!(edit, JsonEdit::Remove(_)) && *counter == target {
                    items.remove(i);
                    return true;
                }
                if edit_at(&mut items[i], target, counter, edit) {
                    return true;
                }
            }
        }
        Value::Object(map) => {
            let keys: Vec<String> = map.keys().cloned().collect();
            for key in keys {
                if matches!(edit, JsonEdit::Remove(_)) && *counter == target {
                    map.remove(&key);
                    return true;
                }
                if edit_at(&mut map[&key], target, counter, edit) {
                    return true;
                }
            }
        }
        _ => {}
    }
    false
}

/// Applies `edits` to `value` in order.
pub fn apply_json(mut value: serde_json::Value, edits: &[JsonEdit]) -> serde_json::Value {
    for edit in edits {
        let (JsonEdit::Replace(at, _) | JsonEdit::Remove(at) | JsonEdit::Wrap(at)) = edit;
        let target = at.index(node_count(&value));
        edit_at(&mut value, target, &mut 0, edit);
    }
    value
}

/// Strategy: one of the JSON `seeds` with up to `max_edits` structural edits, serialized, then
/// (sometimes) byte-mutated too: mostly-valid documents that reach past the JSON parser.
pub fn json_mutated(
    seeds: Vec<serde_json::Value>,
    max_edits: usize,
) -> impl Strategy<Value = Vec<u8>> {
    (
        proptest::sample::select(seeds),
        proptest::collection::vec(json_edit(), 0..=max_edits),
        proptest::collection::vec(mutation(), 0..=2),
        0u8..4,
    )
        .prop_map(|(seed, edits, bytes, byte_level)| {
            let json = serde_json::to_vec(&apply_json(seed, &edits)).unwrap_or_default();
            // One case in four also takes byte-level damage.
            if byte_level == 0 {
                apply(json, &bytes)
            } else {
                json
            }
        })
}

/// The JSON files among `captures`, without their `_source` notes.
pub fn json_captures(captures: Vec<Vec<u8>>) -> Vec<serde_json::Value> {
    captures
        .iter()
        .map(|bytes| {
            let mut value: serde_json::Value =
                serde_json::from_slice(bytes).expect("captures are JSON");
            if let Some(map) = value.as_object_mut() {
                map.remove("_source");
            }
            value
        })
        .collect()
}

/// Equal JSON, floats compared to within 2 ulp: serde_json's default (not `float_roundtrip`)
/// parsing may read a long mantissa 1 ulp off, so a re-serialized document can move a float's
/// last digit — a fidelity limit of the codec (reported), not of the code under test.
pub fn same_json(a: &serde_json::Value, b: &serde_json::Value) -> bool {
    use serde_json::Value;
    match (a, b) {
        (Value::Number(x), Value::Number(y)) if x.is_f64() || y.is_f64() => {
            let (x, y) = (
                x.as_f64().unwrap_or(f64::NAN),
                y.as_f64().unwrap_or(f64::NAN),
            );
            x == y || (x - y).abs() <= 2.0 * f64::EPSILON * x.abs().max(y.abs())
        }
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(x, y)| same_json(x, y))
        }
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len()
                && x.iter()
                    .all(|(k, v)| y.get(k).is_some_and(|w| same_json(v, w)))
        }
        _ => a == b,
    }
}
