//! One phase (warmup or measure) of one variant: every thread runs its worker over its
//! seeded operation stream, closed loop or open loop, recording latencies per operation
//! type into its own HDR histograms; the threads' results are merged at the end.
//!
//! Threads start together: each prepares its worker and documents, waits at a barrier, and
//! all take one common start time, so throughput is counted over one common window (with
//! more threads than cores, a thread scheduled late does not get a window of its own).
//! Inserts of every thread share one [`KeySpace`], so no two threads (or batches) write the
//! same id and readers only draw records whose insert has finished.

use std::ops::Range;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Barrier};

use super::clock::Clock;
use super::dispatch::{execute_now, Buffers};
use crate::backend::{Backend, Worker};
use crate::doc::Value;
use crate::measure::recorder::PARTS;
use crate::measure::{alloc, sched, Recorder};
use crate::workload::{Bound, KeySpace, KeyTable, Op, OpKind, OpStream, Plan, StreamSpec};

/// What one phase measured, merged over threads.
#[derive(Debug)]
pub struct PhaseResult {
    /// From the common start to the end of the last operation of any thread.
    pub elapsed_ns: u64,
    pub recorded: Recorder,
    /// True when a stop request cut the phase short.
    pub stopped: bool,
    /// Open loop: operations that fell due before the end of a timed phase but were never
    /// run, because the backlog was still more than a whole phase long at the end.
    pub dropped: u64,
    /// Record ids the phase's inserts and batches were given (to remove before the next
    /// repeat, so every repeat starts from the same data).
    pub inserted: Range<u64>,
    /// The time the threads ran or blocked on their own, on average per thread: each
    /// thread's time from its start to its end less its wait for a CPU
    /// (`measure::sched::Busy`); `None` where the system does not say.
    pub busy_ns: Option<u64>,
}

/// Values a thread writes, generated before timing starts.
pub fn value_pool(plan: &Plan, thread: usize) -> Vec<Value> {
    (0..64u64)
        .map(|i| Value::generate(i, 1 + thread as u64, plan.run.seed, &plan.dataset.value))
        .collect()
}

struct ThreadOut {
    last_ns: u64,
    recorded: Recorder,
    stopped: bool,
    dropped: u64,
    /// The thread's time from its start to its end less its wait for a CPU.
    busy_ns: Option<u64>,
}

/// Runs `op` once (see [`execute_now`]) and records the allocations it made on this thread.
#[inline]
fn execute_counted(
    w: &mut dyn Worker,
    plan: &Plan,
    op: Op,
    bufs: &mut Buffers<'_>,
    recorded: &mut Recorder,
) -> Result<(), String> {
    if !bufs.count_allocations {
        return execute_now(w, plan, op, bufs);
    }
    let before = alloc::thread_allocations();
    let result = execute_now(w, plan, op, bufs);
    recorded.allocated(op.kind, alloc::thread_allocations() - before);
    result
}

/// Longest stretch an open-loop wait sleeps before looking at the stop flag again.
const STOP_CHECK_NS: u64 = 50_000_000;

/// Waits until `due`, looking at `stop` at least every 50 ms; false when stopped first.
fn wait_until(clock: &dyn Clock, due: u64, stop: &AtomicBool) -> bool {
    loop {
        let now = clock.now_ns();
        if now >= due {
            return true;
        }
        if stop.load(Ordering::Relaxed) {
            return false;
        }
        clock.sleep_until(due.min(now.saturating_add(STOP_CHECK_NS)));
    }
}

/// What every thread of a phase shares.
#[derive(Clone, Copy)]
struct Shared<'a> {
    backend: &'a dyn Backend,
    plan: &'a Plan,
    clock: &'a dyn Clock,
    stop: &'a AtomicBool,
    per_thread_rate: Option<f64>,
    interval_ns: u64,
    start: &'a Start,
    names: &'a KeyTable,
}

/// The barrier the threads start at, and the start time they share.
struct Start {
    barrier: Barrier,
    at: AtomicU64,
}

impl Start {
    /// Waits for every thread; returns the common start time.
    fn wait(&self, clock: &dyn Clock) -> u64 {
        if self.barrier.wait().is_leader() {
            self.at.store(clock.now_ns(), Ordering::SeqCst);
        }
        self.barrier.wait();
        self.at.load(Ordering::SeqCst)
    }
}

/// When a thread stops: the phase end (timed phases) and the operation count.
fn limits(bound: Bound, start: u64) -> (u64, u64) {
    match bound {
        Bound::Duration(d) => (
            start.saturating_add(u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)),
            u64::MAX,
        ),
        Bound::Ops(n) => (u64::MAX, n),
    }
}

/// Open loop: when operation number `ops` is due, or `None` when the phase is over (the
/// next one falls due after the end) or so far behind that the rest is dropped (counted
/// in `dropped`).
fn due(ops: u64, gap: u64, start: u64, end: u64, now: u64, dropped: &mut u64) -> Option<u64> {
    let due = start.saturating_add(ops.saturating_mul(gap));
    if due >= end {
        return None;
    }
    // Operations due before the end are run even after it, so a stall across the end is
    // charged to them; only a backlog longer than the phase itself is given up on.
    if end != u64::MAX && now > end.saturating_add(end - start) {
        *dropped = (end - start).div_ceil(gap.max(1)).saturating_sub(ops);
        return None;
    }
    Some(due)
}

fn thread_loop(cx: Shared<'_>, mut stream: OpStream, values: &[Value]) -> ThreadOut {
    let Shared {
        backend,
        plan,
        clock,
        stop,
        per_thread_rate,
        interval_ns,
        start,
        names,
    } = cx;
    let mut w = backend.worker();
    let mut bufs = Buffers::new(names, values, alloc::counting());
    let gap = per_thread_rate.map(|r| ((1e9 / r) as u64).max(1));
    let start = start.wait(clock);
    let busy = sched::Busy::start(|| clock.now_ns());
    let mut recorded = Recorder::new(start, interval_ns);
    let (end, max_ops) = limits(plan.run.bound, start);
    let (mut prev, mut ops, mut dropped, mut stopped) = (start, 0u64, 0u64, false);
    // Latencies go into PARTS parts of the phase: of its time, or of its operations.
    let timed = end != u64::MAX;
    let part_len = if timed { end - start } else { max_ops }
        .div_ceil(PARTS as u64)
        .max(1);
    let mut next_part = part_len;
    while ops < max_ops {
        // Open loop: latency runs from when the operation was due, not from when the
        // harness got round to it, so a stall shows up in every operation it delayed.
        let began = match gap {
            Some(g) => {
                let now = clock.now_ns();
                let Some(due) = due(ops, g, start, end, now, &mut dropped) else {
                    break;
                };
                // The wait looks at the stop flag every 50 ms, so Ctrl-C ends it.
                if now < due && !wait_until(clock, due, stop) {
                    stopped = true;
                    break;
                }
                due
            }
            None if prev >= end => break,
            None => prev,
        };
        if stop.load(Ordering::Relaxed) {
            stopped = true;
            break;
        }
        let op = stream.next().unwrap_or(Op {
            kind: OpKind::Read,
            id: 0,
            len: 0,
        });
        let result = execute_counted(w.as_mut(), plan, op, &mut bufs, &mut recorded);
        stream.done(&op);
        let now = clock.now_ns();
        recorded.record(
            op.kind,
            now.saturating_sub(began),
            now,
            result.err().as_deref(),
        );
        prev = now;
        ops += 1;
        let progress = if timed { now - start } else { ops };
        if progress >= next_part {
            let part = progress / part_len;
            recorded.set_part(part as usize);
            next_part = (part + 1).saturating_mul(part_len);
        }
    }
    ThreadOut {
        last_ns: prev,
        recorded,
        stopped,
        dropped,
        busy_ns: busy.and_then(|b| b.end(|| clock.now_ns())),
    }
}

/// A thread of a backend with an async API: its operations as tokio tasks, `in_flight` at
/// once (see `inflight.rs`); one at a time if no runtime can be had.
fn in_flight(cx: Shared<'_>, stream: OpStream, values: &[Value]) -> ThreadOut {
    let lanes = super::inflight::Lanes {
        backend: cx.backend,
        plan: cx.plan,
        clock: cx.clock,
        stop: cx.stop,
        interval_ns: cx.interval_ns,
        names: cx.names,
    };
    let mut busy = None;
    let wait_start = || {
        let start = cx.start.wait(cx.clock);
        busy = sched::Busy::start(|| cx.clock.now_ns());
        start
    };
    match lanes.run(stream, values, wait_start) {
        Ok((last_ns, recorded, stopped)) => ThreadOut {
            last_ns,
            recorded,
            stopped,
            dropped: 0,
            busy_ns: busy.and_then(|b| b.end(|| cx.clock.now_ns())),
        },
        Err(stream) => thread_loop(cx, *stream, values),
    }
}

/// What a phase's operation streams are drawn from: the names of the loaded records and
/// the stream recipe (mix, key distribution, seed). [`run_phase`] builds it per phase; a
/// run of many short slices builds it once and changes only the seed (`runner/slice.rs`).
#[derive(Debug)]
pub struct Draws<'p> {
    pub names: KeyTable,
    pub spec: StreamSpec<'p>,
}

impl<'p> Draws<'p> {
    pub fn of(plan: &'p Plan) -> Self {
        Draws {
            names: plan.dataset.key_table(),
            spec: plan.stream_spec(),
        }
    }
}

/// Runs one phase of `backend` with `threads` threads. A warmup uses other streams (other
/// seeds) and inserts ids the measured phase never uses, so the measured stream is the
/// same in every repeat and its inserts are always new records.
pub fn run_phase(
    backend: &dyn Backend,
    plan: &Plan,
    threads: usize,
    warmup: bool,
    clock: &dyn Clock,
    stop: &AtomicBool,
) -> PhaseResult {
    run_phase_with(
        backend,
        plan,
        &Draws::of(plan),
        threads,
        warmup,
        clock,
        stop,
    )
}

/// [`run_phase`] drawing from `draws` (built from `plan`, or from the plan `plan` was
/// derived from: only its bound may differ).
pub fn run_phase_with(
    backend: &dyn Backend,
    plan: &Plan,
    draws: &Draws<'_>,
    threads: usize,
    warmup: bool,
    clock: &dyn Clock,
    stop: &AtomicBool,
) -> PhaseResult {
    let interval_ns = match plan.run.bound {
        Bound::Duration(d) => {
            (u64::try_from(d.as_nanos()).unwrap_or(u64::MAX) / 50).max(10_000_000)
        }
        Bound::Ops(_) => 100_000_000,
    };
    let start = Start {
        barrier: Barrier::new(threads.max(1)),
        at: AtomicU64::new(0),
    };
    let cx = Shared {
        backend,
        plan,
        clock,
        stop,
        per_thread_rate: plan.run.rate.map(|r| r / threads as f64),
        interval_ns,
        start: &start,
        names: &draws.names,
    };
    let records = plan.dataset.records;
    let space = Arc::new(if warmup {
        KeySpace::warmup(records)
    } else {
        KeySpace::measured(records)
    });
    let spec = &draws.spec;
    let outs: Vec<ThreadOut> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..threads)
            .map(|t| {
                let stream_thread = if warmup { t + threads + 7919 } else { t };
                let stream = OpStream::new(spec, stream_thread, threads, Arc::clone(&space));
                let values = value_pool(plan, t);
                // Backends with an async API keep `in_flight` operations going as tasks.
                s.spawn(move || match backend.async_worker() {
                    Some(_) => in_flight(cx, stream, &values),
                    None => thread_loop(cx, stream, &values),
                })
            })
            .collect();
        handles.into_iter().filter_map(|h| h.join().ok()).collect()
    });
    let start_ns = start.at.load(Ordering::SeqCst);
    let mut merged = PhaseResult {
        elapsed_ns: 0,
        recorded: Recorder::new(start_ns, interval_ns),
        stopped: false,
        dropped: 0,
        inserted: space.inserted_ids(),
        busy_ns: None,
    };
    let busy: Option<Vec<u64>> = outs.iter().map(|o| o.busy_ns).collect();
    merged.busy_ns = busy
        .filter(|b| !b.is_empty())
        .map(|b| b.iter().sum::<u64>() / b.len() as u64);
    for out in outs {
        merged.recorded.merge(out.recorded);
        merged.elapsed_ns = merged.elapsed_ns.max(out.last_ns - start_ns);
        merged.stopped |= out.stopped;
        merged.dropped += out.dropped;
    }
    merged
}
