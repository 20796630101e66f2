//! One phase (warmup or measure) of one variant: every thread runs its worker over its
//! seeded operation stream, closed loop or open loop, recording latencies per operation
//! type into its own HDR histograms; the threads' results are merged at the end.

use std::hint::black_box;
use std::sync::atomic::{AtomicBool, Ordering};

use super::clock::Clock;
use crate::backend::{Backend, Worker};
use crate::doc::Value;
use crate::measure::{alloc, Recorder};
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

/// Values a thread writes, generated before timing starts.
pub fn value_pool(plan: &Plan, thread: usize) -> Vec<Value> {
    (0..64u64)
        .map(|i| Value::generate(i, 1 + thread as u64, plan.run.seed, &plan.dataset.value))
        .collect()
}

/// What a thread reuses from one operation to the next, so the harness itself allocates
/// nothing per operation once warm (allocations are counted per operation).
#[derive(Default)]
struct Scratch {
    key: Vec<u8>,
    batch: Vec<(Vec<u8>, Value)>,
    /// The next version of a value, for read-modify-write.
    next: Value,
}

struct ThreadOut {
    elapsed_ns: u64,
    recorded: Recorder,
    stopped: bool,
}

/// Runs `op` once; `Err` carries the message for the report.
fn execute(
    w: &mut dyn Worker,
    plan: &Plan,
    op: Op,
    values: &[Value],
    s: &mut Scratch,
) -> Result<(), String> {
    let value = &values[(op.id % values.len() as u64) as usize];
    let ds = &plan.dataset;
    let key = &mut s.key;
    write_key(key, &ds.key_prefix, ds.key_width, op.id);
    let r = match op.kind {
        OpKind::Read => w.read(key).map(|v| {
            black_box(v);
        }),
        OpKind::Update => w.update(key, value),
        OpKind::Insert => w.insert(key, value),
        OpKind::Delete => w.delete(key).map(|existed| {
            black_box(existed);
        }),
        OpKind::Scan => w.scan(key, plan.run.scan_length).map(|n| {
            black_box(n);
        }),
        OpKind::Rmw => match w.read(key) {
            Ok(found) => {
                s.next.assign(found.unwrap_or(value));
                s.next.bump();
                w.update(key, &s.next)
            }
            Err(e) => Err(e),
        },
        OpKind::Query => w.query(&plan.query).map(|page| {
            black_box(page.len());
        }),
        OpKind::Batch => {
            let n = plan.run.batch_size;
            s.batch.resize_with(n, Default::default);
            for (i, (k, v)) in (0u64..).zip(s.batch.iter_mut()) {
                write_key(k, &ds.key_prefix, ds.key_width, op.id + i);
                v.assign(&values[((op.id + i) % values.len() as u64) as usize]);
            }
            w.batch_insert(&s.batch)
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

fn thread_loop(cx: Shared<'_>, mut stream: OpStream, values: &[Value]) -> ThreadOut {
    let Shared {
        backend,
        plan,
        clock,
        stop,
        per_thread_rate,
        interval_ns,
    } = cx;
    let mut w = backend.worker();
    let mut scratch = Scratch::default();
    let counting = alloc::counting();
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
        let allocations = alloc::thread_allocations();
        let result = execute(w.as_mut(), plan, op, values, &mut scratch);
        if counting {
            recorded.allocated(op.kind, alloc::thread_allocations() - allocations);
        }
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
                let values = value_pool(plan, t);
                s.spawn(move || thread_loop(cx, stream, &values))
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
