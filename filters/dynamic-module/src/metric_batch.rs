//! Metric updates that streams record on worker threads, held until the main thread applies
//! them to Envoy in one batch.
//!
//! Envoy 1.40 resolves the tags of a labelled metric on every update (a few thousand
//! instructions: stat-name encoding, joining, a map lookup), which would cost a filter more
//! than everything else it does per request. So the hot path only adds to a batch: updates of
//! a counter or gauge with the same tags merge into one sum; histogram samples queue. Both are
//! bounded; what does not fit is counted as dropped and reported when the batch is applied.

use std::cell::Cell;
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Mutex, MutexGuard, PoisonError};

/// Shards, so that workers rarely share a lock (a worker always uses the same shard).
const SHARDS: usize = 16;
/// Distinct (metric, tags) sums one shard holds between applications.
const MAX_SUMS_PER_SHARD: usize = 16_384;
/// Histogram samples one shard holds between applications.
const MAX_SAMPLES_PER_SHARD: usize = 65_536;

/// Hands each thread its shard, round robin.
static NEXT_SHARD: AtomicUsize = AtomicUsize::new(0);

thread_local! {
    static SHARD: Cell<Option<usize>> = const { Cell::new(None) };
}

fn my_shard() -> usize {
    SHARD.with(|shard| {
        shard.get().unwrap_or_else(|| {
            let index = NEXT_SHARD.fetch_add(1, Ordering::Relaxed) % SHARDS;
            shard.set(Some(index));
            index
        })
    })
}

/// One pending update, as the applier receives it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Update {
    /// The sum of the counter/gauge deltas recorded since the last application.
    Sum(i64),
    /// One histogram sample.
    Sample(u64),
}

/// A metric index (u32 little-endian) and its tag values packed as (u32 little-endian length,
/// bytes)*: values may contain any byte, and a lookup needs no allocation.
type Key = Vec<u8>;

#[derive(Default)]
struct Shard {
    /// Where the key of the current update is packed (reused: no allocation per update).
    scratch: Key,
    sums: HashMap<Key, i64>,
    /// Histogram keys interned, so that a queued sample is two integers.
    sample_keys: HashMap<Key, u32>,
    sample_key_list: Vec<Key>,
    samples: Vec<(u32, u64)>,
    dropped: u64,
}

impl Shard {
    fn pack(&mut self, metric: usize, tags: &[&str]) {
        pack_into(&mut self.scratch, metric, tags);
    }

    fn sample_key(&mut self) -> Option<u32> {
        if let Some(index) = self.sample_keys.get(self.scratch.as_slice()) {
            return Some(*index);
        }
        if self.sample_key_list.len() >= MAX_SUMS_PER_SHARD {
            return None;
        }
        let index = u32::try_from(self.sample_key_list.len()).ok()?;
        self.sample_keys.insert(self.scratch.clone(), index);
        self.sample_key_list.push(self.scratch.clone());
        Some(index)
    }
}

/// The pending updates of one filter config.
pub struct MetricBatch {
    shards: Box<[Mutex<Shard>]>,
    /// Set by the first update after an application; tells the flusher there is work.
    dirty: AtomicBool,
}

impl Default for MetricBatch {
    fn default() -> Self {
        MetricBatch {
            shards: (0..SHARDS).map(|_| Mutex::default()).collect(),
            dirty: AtomicBool::new(false),
        }
    }
}

fn pack_into(out: &mut Key, metric: usize, tags: &[&str]) {
    out.clear();
    out.extend_from_slice(&u32::try_from(metric).unwrap_or(u32::MAX).to_le_bytes());
    for tag in tags {
        let len = u32::try_from(tag.len()).unwrap_or(u32::MAX);
        out.extend_from_slice(&len.to_le_bytes());
        out.extend_from_slice(&tag.as_bytes()[..len as usize]);
    }
}

/// The metric index and the packed tag values of a key.
fn split_key(key: &[u8]) -> (usize, &[u8]) {
    match key.split_first_chunk::<4>() {
        Some((metric, tags)) => (u32::from_le_bytes(*metric) as usize, tags),
        None => (usize::MAX, &[]),
    }
}

/// The tag values of a packed set, in order.
pub fn unpack(mut packed: &[u8]) -> impl Iterator<Item = &[u8]> {
    std::iter::from_fn(move || {
        let (len, rest) = packed.split_first_chunk::<4>()?;
        let len = (u32::from_le_bytes(*len) as usize).min(rest.len());
        let (value, rest) = rest.split_at(len);
        packed = rest;
        Some(value)
    })
}

fn lock(shard: &Mutex<Shard>) -> MutexGuard<'_, Shard> {
    // A panic while holding the lock cannot leave a shard inconsistent (every update is one
    // insert or push), so a poisoned lock is still usable.
    shard.lock().unwrap_or_else(PoisonError::into_inner)
}

impl MetricBatch {
    /// Adds `delta` to the sum for `metric` with `tags`; true when this made the batch dirty
    /// (the caller wakes the flusher).
    pub fn add(&self, metric: usize, tags: &[&str], delta: i64) -> bool {
        {
            let mut shard = lock(&self.shards[my_shard()]);
            let shard = &mut *shard;
            shard.pack(metric, tags);
            if let Some(sum) = shard.sums.get_mut(shard.scratch.as_slice()) {
                *sum = sum.saturating_add(delta);
            } else if shard.sums.len() >= MAX_SUMS_PER_SHARD {
                shard.dropped += 1;
            } else {
                shard.sums.insert(shard.scratch.clone(), delta);
            }
        }
        self.mark_dirty()
    }

    /// Queues one histogram sample; true when this made the batch dirty.
    pub fn sample(&self, metric: usize, tags: &[&str], value: u64) -> bool {
        {
            let mut shard = lock(&self.shards[my_shard()]);
            shard.pack(metric, tags);
            match shard.sample_key() {
                Some(key) if shard.samples.len() < MAX_SAMPLES_PER_SHARD => {
                    shard.samples.push((key, value));
                }
                _ => shard.dropped += 1,
            }
        }
        self.mark_dirty()
    }

    fn mark_dirty(&self) -> bool {
        // A plain load first: while the batch is dirty, workers only read the shared flag.
        !self.dirty.load(Ordering::Relaxed) && !self.dirty.swap(true, Ordering::AcqRel)
    }

    /// Whether updates are waiting.
    pub fn is_dirty(&self) -> bool {
        self.dirty.load(Ordering::Acquire)
    }

    /// Takes every pending update, handing each to `apply(metric, packed tags, update)`;
    /// returns how many updates were dropped for lack of room since the last drain.
    pub fn drain(&self, mut apply: impl FnMut(usize, &[u8], Update)) -> u64 {
        // Cleared before taking the shards: an update racing with the drain either lands in
        // this drain or marks the batch dirty again.
        self.dirty.store(false, Ordering::Release);
        let mut dropped = 0;
        for shard in self.shards.iter() {
            let taken = {
                let mut shard = lock(shard);
                let scratch = std::mem::take(&mut shard.scratch);
                let taken = std::mem::take(&mut *shard);
                shard.scratch = scratch;
                taken
            };
            for (key, sum) in &taken.sums {
                let (metric, tags) = split_key(key);
                apply(metric, tags, Update::Sum(*sum));
            }
            for (key, value) in &taken.samples {
                let (metric, tags) = split_key(&taken.sample_key_list[*key as usize]);
                apply(metric, tags, Update::Sample(*value));
            }
            dropped += taken.dropped;
        }
        dropped
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn drained(batch: &MetricBatch) -> (Vec<(usize, Vec<String>, Update)>, u64) {
        let mut seen = Vec::new();
        let dropped = batch.drain(|metric, tags, update| {
            let tags = unpack(tags)
                .map(|t| String::from_utf8(t.to_vec()).unwrap())
                .collect();
            seen.push((metric, tags, update));
        });
        seen.sort_by(|a, b| format!("{a:?}").cmp(&format!("{b:?}")));
        (seen, dropped)
    }

    fn strings(tags: &[&str]) -> Vec<String> {
        tags.iter().map(|t| t.to_string()).collect()
    }

    #[test]
    fn sums_with_the_same_tags_merge_and_samples_queue() {
        let batch = MetricBatch::default();
        assert!(batch.add(0, &["demo", "SendMessage", "2xx"], 1));
        assert!(!batch.add(0, &["demo", "SendMessage", "2xx"], 2));
        batch.add(0, &["demo", "GetTask", "2xx"], 1);
        batch.add(2, &["up"], -1);
        batch.sample(1, &["demo", "SendMessage"], 7);
        batch.sample(1, &["demo", "SendMessage"], 7);
        let (seen, dropped) = drained(&batch);
        assert_eq!(dropped, 0);
        assert_eq!(
            seen,
            vec![
                (0, strings(&["demo", "GetTask", "2xx"]), Update::Sum(1)),
                (0, strings(&["demo", "SendMessage", "2xx"]), Update::Sum(3)),
                (1, strings(&["demo", "SendMessage"]), Update::Sample(7)),
                (1, strings(&["demo", "SendMessage"]), Update::Sample(7)),
                (2, strings(&["up"]), Update::Sum(-1)),
            ]
        );
    }

    #[test]
    fn a_drain_empties_the_batch_and_clears_dirty() {
        let batch = MetricBatch::default();
        batch.add(0, &["a"], 1);
        assert!(batch.is_dirty());
        drained(&batch);
        assert!(!batch.is_dirty());
        assert_eq!(drained(&batch), (Vec::new(), 0));
        assert!(
            batch.add(0, &["a"], 1),
            "the first update after a drain wakes the flusher"
        );
    }

    #[test]
    fn tag_values_keep_any_bytes_and_boundaries() {
        let tags = ["", "a\0b", "x;y=z", "ünïcode"];
        let mut key = Vec::new();
        pack_into(&mut key, 7, &tags);
        let (metric, packed) = split_key(&key);
        assert_eq!(metric, 7);
        let back: Vec<&[u8]> = unpack(packed).collect();
        let want: Vec<&[u8]> = tags.iter().map(|t| t.as_bytes()).collect();
        assert_eq!(back, want);
        pack_into(&mut key, 0, &[]);
        assert_eq!(unpack(split_key(&key).1).count(), 0);
    }

    #[test]
    fn updates_beyond_the_bounds_are_dropped_and_counted() {
        let batch = MetricBatch::default();
        for i in 0..MAX_SAMPLES_PER_SHARD + 3 {
            batch.sample(1, &["demo"], i as u64);
        }
        for i in 0..MAX_SUMS_PER_SHARD + 2 {
            batch.add(0, &[&i.to_string()], 1);
        }
        batch.add(0, &["0"], 1);
        let (seen, dropped) = drained(&batch);
        assert_eq!(dropped, 5);
        assert_eq!(seen.len(), MAX_SAMPLES_PER_SHARD + MAX_SUMS_PER_SHARD);
        assert!(seen.contains(&(0, strings(&["0"]), Update::Sum(2))));
    }

    #[test]
    fn threads_record_concurrently_without_losing_updates() {
        let batch = std::sync::Arc::new(MetricBatch::default());
        let threads: Vec<_> = (0..8)
            .map(|_| {
                let batch = batch.clone();
                std::thread::spawn(move || {
                    for _ in 0..1000 {
                        batch.add(0, &["demo"], 1);
                        batch.sample(1, &["demo"], 1);
                    }
                })
            })
            .collect();
        for thread in threads {
            thread.join().unwrap();
        }
        let (mut sum, mut samples) = (0, 0);
        batch.drain(|_, _, update| match update {
            Update::Sum(delta) => sum += delta,
            Update::Sample(_) => samples += 1,
        });
        assert_eq!((sum, samples), (8000, 8000));
    }
}
