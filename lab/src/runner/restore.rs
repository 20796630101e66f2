//! Every repeat starts from identical data. Before a measured repeat, the records the
//! previous measured phase inserted (single inserts and batches) are removed and, after the
//! first repeat, every loaded record is rewritten; the warmup then runs, and the records it
//! inserted (under ids the measured phase never uses) are removed. All of it is untimed.

use std::ops::Range;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use super::clock::Clock;
use super::phase::run_phase;
use crate::backend::{Backend, BackendError};
use crate::doc::Value;
use crate::workload::{Bound, Plan};

/// Keys removed per `delete_batch` call.
const CHUNK: u64 = 1000;

/// Bytes of values one load batch carries at most: far below the engine's largest batch
/// (256 MiB), so large values load in smaller batches.
const FILL_BATCH_BYTES: u64 = 64 << 20;

/// Writes the dataset (`plan.records` values) in batches of 1000 (fewer when values are
/// large: at most [`FILL_BATCH_BYTES`] per batch); returns the time spent inside the batch
/// inserts only (generation is not timed), or `None` when `stop`
/// was raised (looked at before every batch, so Ctrl-C ends a load within a batch).
pub fn fill(
    backend: &dyn Backend,
    plan: &Plan,
    stop: &AtomicBool,
) -> Result<Option<Duration>, BackendError> {
    let mut w = backend.worker();
    let ds = &plan.dataset;
    let mut elapsed = Duration::ZERO;
    let per_batch = (FILL_BATCH_BYTES / ds.value.approx_bytes().max(1)).clamp(1, 1000);
    let mut id = 0;
    while id < ds.records {
        if stop.load(Ordering::Relaxed) {
            return Ok(None);
        }
        let end = (id + per_batch).min(ds.records);
        let items: Vec<(Vec<u8>, Value)> = (id..end)
            .map(|i| {
                let mut k = Vec::new();
                ds.write_key(&mut k, i);
                (k, Value::generate(i, 0, plan.run.seed, &ds.value))
            })
            .collect();
        let t = std::time::Instant::now();
        w.batch_insert(&items)?;
        elapsed += t.elapsed();
        id = end;
    }
    Ok(Some(elapsed))
}

/// Removes the records with ids in `ids`.
pub fn remove(backend: &dyn Backend, plan: &Plan, ids: Range<u64>) -> Result<(), BackendError> {
    let mut w = backend.worker();
    let mut keys: Vec<Vec<u8>> = Vec::new();
    let mut id = ids.start;
    while id < ids.end {
        let end = ids.end.min(id + CHUNK);
        keys.resize_with((end - id) as usize, Vec::new);
        for (k, i) in keys.iter_mut().zip(id..end) {
            plan.dataset.write_key(k, i);
        }
        w.delete_batch(&keys)?;
        id = end;
    }
    Ok(())
}

/// The ids the last measured phase on a loaded store inserted.
#[derive(Debug, Default)]
pub struct Leftovers(Mutex<Range<u64>>);

impl Leftovers {
    /// Remembers what a measured phase inserted.
    pub fn set(&self, ids: Range<u64>) {
        *self.0.lock().unwrap_or_else(PoisonError::into_inner) = ids;
    }

    /// What the last measured phase inserted, forgotten here.
    pub(crate) fn take(&self) -> Range<u64> {
        std::mem::replace(
            &mut *self.0.lock().unwrap_or_else(PoisonError::into_inner),
            0..0,
        )
    }
}

/// Readies a loaded store for measured repeat `repeat` (see the module documentation);
/// `Ok(false)` when a stop request ended the restore or the warmup.
pub fn prepare(
    backend: &dyn Backend,
    plan: &Plan,
    threads: usize,
    repeat: u32,
    leftovers: &Leftovers,
    clock: &dyn Clock,
    stop: &AtomicBool,
) -> Result<bool, BackendError> {
    remove(backend, plan, leftovers.take())?;
    if repeat > 0 && fill(backend, plan, stop)?.is_none() {
        return Ok(false);
    }
    if !plan.run.warmup.is_zero() {
        let mut warm = plan.clone();
        warm.run.bound = Bound::Duration(plan.run.warmup);
        let w = run_phase(backend, &warm, threads, true, clock, stop);
        if w.stopped {
            return Ok(false);
        }
        remove(backend, plan, w.inserted)?;
    }
    Ok(true)
}
