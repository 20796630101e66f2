//! One phase (warmup or measure) of one variant: every thread runs its worker over its
//! seeded operation stream, closed loop or open loop, recording latencies per operation
//! type into its own HDR histograms; the threads' results are merged at the end.

use std::hint::black_box;
use std::sync::atomic::{AtomicBool, Ordering};

use super::clock::Clock;
use crate::backend::{Backend, Worker};
use crate::doc::{Doc, DocShape};
use crate::measure::Recorder;
use crate::workload::{Bound, Op, OpKind, OpStream, Plan};

/// What one phase measured, merged over threads.
#[derive(Debug)]
pub struct PhaseResult {
    /// The longest thread's time from its start to its last operation.
    pub elapsed_ns: u64,
    pub recorded: Recorder,
    /// True when a stop request cut the phase short.
    pub stopped: bool,
}

/// Writes `prefix` + `id` zero-padded to `width` into `buf`, reusing its allocation.
pub fn write_key(buf: &mut Vec<u8>, prefix: &str, width: usize, id: u64) {
    let digits = if id == 0 { 1 } else { id.ilog10() as usize + 1 };
    let len = prefix.len() + width.max(digits);
    buf.clear();
    buf.extend_from_slice(prefix.as_bytes());
    buf.resize(len, b'0');
    let mut n = id;
    for slot in buf[len - digits..].iter_mut().rev() {
        *slot = b'0' + (n % 10) as u8;
        n /= 10;
    }
}

/// Documents a thread writes, generated before timing starts.
pub fn doc_pool(plan: &Plan, thread: usize, shape: &DocShape) -> Vec<Doc> {
    (0..64u64)
        .map(|i| Doc::generate(i, 1 + thread as u64, plan.run.seed, shape))
        .collect()
}

struct ThreadOut {
    elapsed_ns: u64,
    recorded: Recorder,
    stopped: bool,
}

/// Runs `op` once; `Err` carries the message for the report.
pub(crate) fn execute(
    w: &mut dyn Worker,
    plan: &Plan,
    op: Op,
    key: &mut Vec<u8>,
    docs: &[Doc],
    batch: &mut Vec<(Vec<u8>, Doc)>,
) -> Result<(), String> {
    let doc = &docs[(op.id % docs.len() as u64) as usize];
    let ds = &plan.dataset;
    write_key(key, &ds.key_prefix, ds.key_width, op.id);
    let r = match op.kind {
        OpKind::Read => w.read(key).map(|d| {
            black_box(d.map(|d| d.id));
        }),
        OpKind::Update => w.update(key, doc),
        OpKind::Insert => w.insert(key, doc),
        OpKind::Delete => w.delete(key).map(|existed| {
            black_box(existed);
        }),
        OpKind::Scan => w.scan(key, plan.run.scan_length).map(|n| {
            black_box(n);
        }),
        OpKind::Rmw => match w.read(key) {
            Ok(found) => {
                let mut next = found.cloned().unwrap_or_else(|| doc.clone());
                next.value = (next.value + 1) % 1000;
                w.update(key, &next)
            }
            Err(e) => Err(e),
        },
        OpKind::Query => w.query(&plan.query).map(|n| {
            black_box(n);
        }),
        OpKind::Batch => {
            batch.clear();
            for i in 0..plan.run.batch_size as u64 {
                let mut k = Vec::new();
                write_key(&mut k, &ds.key_prefix, ds.key_width, op.id + i);
                batch.push((k, docs[((op.id + i) % docs.len() as u64) as usize].clone()));
            }
            w.batch_insert(batch)
        }
    };
    r.map_err(|e| e.to_string())
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
}

fn thread_loop(cx: Shared<'_>, mut stream: OpStream, docs: &[Doc]) -> ThreadOut {
    let Shared {
        backend,
        plan,
        clock,
        stop,
        per_thread_rate,
        interval_ns,
    } = cx;
    let mut w = backend.worker();
    let mut key = Vec::with_capacity(64);
    let mut batch = Vec::new();
    let gap = per_thread_rate.map(|r| (1e9 / r) as u64);
    let start = clock.now_ns();
    let mut recorded = Recorder::new(start, interval_ns);
    let (end, max_ops) = match plan.run.bound {
        Bound::Duration(d) => (
            start.saturating_add(u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)),
            u64::MAX,
        ),
        Bound::Ops(n) => (u64::MAX, n),
    };
    let mut prev = start;
    let mut ops = 0u64;
    let mut stopped = false;
    while ops < max_ops && prev < end {
        if stop.load(Ordering::Relaxed) {
            stopped = true;
            break;
        }
        let op = stream.next().unwrap_or(Op {
            kind: OpKind::Read,
            id: 0,
        });
        // Open loop: latency runs from when the operation was due, not from when the
        // harness got round to it, so a stall shows up in every operation it delayed.
        let began = match gap {
            Some(g) => {
                let due = start + ops * g;
                if clock.now_ns() < due {
                    clock.sleep_until(due);
                }
                due
            }
            None => prev,
        };
        let result = execute(w.as_mut(), plan, op, &mut key, docs, &mut batch);
        let now = clock.now_ns();
        recorded.record(
            op.kind,
            now.saturating_sub(began),
            now,
            result.err().as_deref(),
        );
        prev = now;
        ops += 1;
    }
    ThreadOut {
        elapsed_ns: prev - start,
        recorded,
        stopped,
    }
}

/// Runs one phase of `backend` with `threads` threads. `warmup` streams use other seeds so
/// the measured stream is the same in every repeat.
pub fn run_phase(
    backend: &dyn Backend,
    plan: &Plan,
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
    let cx = Shared {
        backend,
        plan,
        clock,
        stop,
        per_thread_rate: plan.run.rate.map(|r| r / threads as f64),
        interval_ns,
    };
    let spec = plan.stream_spec();
    let outs: Vec<ThreadOut> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..threads)
            .map(|t| {
                let stream_thread = if warmup { t + threads + 7919 } else { t };
                let stream = OpStream::new(&spec, stream_thread, threads);
                let docs = doc_pool(plan, t, &plan.dataset.doc);
                s.spawn(move || thread_loop(cx, stream, &docs))
            })
            .collect();
        handles.into_iter().filter_map(|h| h.join().ok()).collect()
    });
    let mut merged = PhaseResult {
        elapsed_ns: 0,
        recorded: Recorder::new(0, interval_ns),
        stopped: false,
    };
    for out in outs {
        merged.recorded.merge(out.recorded);
        merged.elapsed_ns = merged.elapsed_ns.max(out.elapsed_ns);
        merged.stopped |= out.stopped;
    }
    merged
}

#[cfg(test)]
mod tests {
    use super::write_key;

    #[test]
    fn keys_are_prefixed_and_zero_padded() {
        let mut b = Vec::new();
        for (id, width, want) in [
            (0, 4, "k-0000"),
            (42, 4, "k-0042"),
            (12345, 3, "k-12345"),
            (9, 1, "k-9"),
            (1000, 4, "k-1000"),
        ] {
            write_key(&mut b, "k-", width, id);
            assert_eq!(std::str::from_utf8(&b).unwrap(), want);
        }
    }
}
