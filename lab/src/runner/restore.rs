//! Every repeat starts from identical data, warm. Before a measured repeat, the records the
//! previous measured phase inserted (single inserts and batches) are removed and, after the
//! first repeat of a mix that writes, every loaded record is rewritten (a read-only mix
//! changed nothing, and rewriting would only cool the store's caches); the warm-up then
//! runs in windows until throughput is steady (see [`warm_up`]), and the records it
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

/// Steady: two consecutive warm-up windows within this fraction of each other.
pub const STEADY: f64 = 0.05;

/// How long one warm-up window lasts: a quarter of the configured warm-up, from 25 ms to
/// 500 ms.
pub fn window(warmup: Duration) -> Duration {
    (warmup / 4).clamp(Duration::from_millis(25), Duration::from_millis(500))
}

/// How a warm-up went: how long it ran (the windows' planned time), and whether its last
/// two windows agreed within [`STEADY`].
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Warmed {
    pub secs: f64,
    pub steady: bool,
}

/// Runs the warm-up in windows of [`window`] until at least the configured `warmup` has
/// passed and the last two windows' throughputs are within [`STEADY`] of each other, or
/// until four times `warmup` (at least two windows); what each window inserted is removed.
/// `None` when a stop request ended it. No warm-up (`warmup = "0s"`): zero, steady.
pub fn warm_up(
    backend: &dyn Backend,
    plan: &Plan,
    threads: usize,
    clock: &dyn Clock,
    stop: &AtomicBool,
) -> Result<Option<Warmed>, BackendError> {
    let least = plan.run.warmup;
    if least.is_zero() {
        return Ok(Some(Warmed {
            secs: 0.0,
            steady: true,
        }));
    }
    let win = window(least);
    let cap = (least * 4).max(win * 2);
    let mut warm = plan.clone();
    warm.run.bound = Bound::Duration(win);
    let (mut spent, mut last, mut steady) = (Duration::ZERO, None::<f64>, false);
    while spent < cap {
        let w = run_phase(backend, &warm, threads, true, clock, stop);
        if w.stopped {
            return Ok(None);
        }
        remove(backend, plan, w.inserted)?;
        spent += win;
        let rate = w.recorded.ops() as f64 / (w.elapsed_ns.max(1) as f64 / 1e9);
        steady = last.is_some_and(|l| (rate - l).abs() <= STEADY * rate.max(l));
        last = Some(rate);
        if steady && spent >= least {
            break;
        }
    }
    Ok(Some(Warmed {
        secs: spent.as_secs_f64(),
        steady,
    }))
}

/// Readies a loaded store for measured repeat `repeat` (see the module documentation);
/// `None` when a stop request ended the restore or the warm-up.
pub fn prepare(
    backend: &dyn Backend,
    plan: &Plan,
    threads: usize,
    repeat: u32,
    leftovers: &Leftovers,
    clock: &dyn Clock,
    stop: &AtomicBool,
) -> Result<Option<Warmed>, BackendError> {
    remove(backend, plan, leftovers.take())?;
    if repeat > 0 && plan.mix.writes() && fill(backend, plan, stop)?.is_none() {
        return Ok(None);
    }
    warm_up(backend, plan, threads, clock, stop)
}
