//! The runner with a fake clock: open-loop latency counts a stall against every operation it
//! delayed (no coordinated omission); closed loop charges it once. Scheduling, stopping and
//! error counting. No assertion here depends on how fast this machine is.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;

use acorn_lab::backend::{
    AsyncWorker, Backend, BackendError, BackendInfo, LocalFuture, QuerySpec, Result, Worker,
};
use acorn_lab::doc::Doc;
use acorn_lab::runner::clock::FakeClock;
use acorn_lab::runner::phase::run_phase;
use acorn_lab::runner::{run, RunOptions, Silent};
use acorn_lab::workload::{Mix, OpKind, Plan};

/// Every operation takes 1 µs of fake time; operation number `stall_at` takes 50 ms.
struct Stall {
    clock: Arc<FakeClock>,
    stall_at: u64,
    count: AtomicU64,
    fail_deletes: bool,
}

impl Backend for Stall {
    fn name(&self) -> &str {
        "stall"
    }
    fn describe(&self) -> BackendInfo {
        BackendInfo {
            name: "stall".into(),
            store: "test".into(),
            durability: "none".into(),
            serialization: "none".into(),
            cache: "none".into(),
            stores_data: false,
            rust_heap: true,
        }
    }
    fn worker(&self) -> Box<dyn Worker + '_> {
        Box::new(StallWorker(self))
    }
}

struct StallWorker<'a>(&'a Stall);

impl StallWorker<'_> {
    fn tick(&self) {
        let n = self.0.count.fetch_add(1, Ordering::SeqCst);
        self.0.clock.advance(if n == self.0.stall_at {
            50_000_000
        } else {
            1_000
        });
    }
}

impl Worker for StallWorker<'_> {
    fn insert(&mut self, _: &[u8], _: &Doc) -> Result<()> {
        self.tick();
        Ok(())
    }
    fn read(&mut self, _: &[u8]) -> Result<Option<&Doc>> {
        self.tick();
        Ok(None)
    }
    fn update(&mut self, _: &[u8], _: &Doc) -> Result<()> {
        self.tick();
        Ok(())
    }
    fn delete(&mut self, _: &[u8]) -> Result<bool> {
        self.tick();
        if self.0.fail_deletes {
            return Err(BackendError::Store {
                backend: "stall".into(),
                message: "disk on fire".into(),
            });
        }
        Ok(true)
    }
    fn scan(&mut self, _: &[u8], _: usize) -> Result<usize> {
        self.tick();
        Ok(0)
    }
    fn batch_insert(&mut self, _: &[(Vec<u8>, Doc)]) -> Result<()> {
        self.tick();
        Ok(())
    }
    fn query(&mut self, _: &QuerySpec) -> Result<usize> {
        self.tick();
        Ok(0)
    }
}

fn plan(extra: &str) -> Plan {
    let src = format!("name = \"t\"\nvariants = [\"noop\"]\n[dataset]\nrecords = 100\n[run]\nops = 1000\nwarmup = \"0s\"\n{extra}\n[mix]\nread = 100\n");
    Plan::parse(Path::new("t.toml"), &src).unwrap()
}

fn slow_ops(rate: &str) -> (u64, u64) {
    let clock = Arc::new(FakeClock::default());
    let b = Stall {
        clock: Arc::clone(&clock),
        stall_at: 100,
        count: AtomicU64::new(0),
        fail_deletes: false,
    };
    let p = run_phase(
        &b,
        &plan(rate),
        1,
        false,
        clock.as_ref(),
        &AtomicBool::new(false),
    );
    let h = p.recorded.latencies(OpKind::Read);
    (h.len(), h.count_between(10_000_000, u64::MAX))
}

#[test]
fn open_loop_charges_a_stall_to_every_operation_it_delayed() {
    // 1000 ops/s: one operation due every 1 ms; the 50 ms stall delays the next ~50.
    let (n, slow) = slow_ops("rate = 1000");
    assert_eq!(n, 1000);
    assert!(
        (40..=51).contains(&slow),
        "open loop saw {slow} slow operations"
    );
    // Closed loop only sees the one stalled operation: coordinated omission.
    let (n, slow) = slow_ops("");
    assert_eq!((n, slow), (1000, 1));
}

#[test]
fn backend_errors_are_counted_per_operation_not_unwrapped() {
    let clock = Arc::new(FakeClock::default());
    let b = Stall {
        clock: Arc::clone(&clock),
        stall_at: u64::MAX,
        count: AtomicU64::new(0),
        fail_deletes: true,
    };
    let mut p = plan("");
    p.mix = Mix(vec![(OpKind::Read, 50), (OpKind::Delete, 50)]);
    let r = run_phase(&b, &p, 2, false, clock.as_ref(), &AtomicBool::new(false));
    let deletes = r.recorded.latencies(OpKind::Delete).len();
    assert!(deletes > 0);
    let (failed, samples) = r.recorded.failures(OpKind::Delete);
    assert_eq!(failed, deletes);
    assert_eq!(samples, ["backend stall: disk on fire"]);
    assert_eq!(r.recorded.failures(OpKind::Read).0, 0);
    assert_eq!(r.recorded.ops(), 2000);
}

#[test]
fn interleaved_mode_rotates_variants_each_repeat() {
    let mut p = plan("repeats = 3\nthreads = [1, 2]");
    p.run.bound = acorn_lab::workload::Bound::Ops(200);
    p.variants = vec!["noop".into(), "btreemap".into()];
    let clock = acorn_lab::runner::clock::RealClock::default();
    let r = run(
        &p,
        &RunOptions::default(),
        &clock,
        &AtomicBool::new(false),
        &Silent,
    )
    .unwrap();
    assert_eq!(r.runs.len(), 12);
    let order: Vec<&str> = r
        .runs
        .iter()
        .filter(|x| x.threads == 1)
        .map(|x| x.variant.as_str())
        .collect();
    assert_eq!(
        order,
        ["noop", "btreemap", "btreemap", "noop", "noop", "btreemap"]
    );
    assert_eq!(r.summaries.len(), 4);
    assert!(r.runs.iter().all(|x| x.ops == 200 * x.threads as u64));
    assert_eq!(r.mode, "interleaved");
    assert!(!r.partial);
    // btreemap stores data: its load was measured.
    let s = r
        .summaries
        .iter()
        .find(|s| s.variant == "btreemap")
        .unwrap();
    assert!(s.load_throughput > 0.0 && s.per_op["read"].count > 0);
}

#[test]
fn a_stop_request_yields_partial_results() {
    let p = plan("repeats = 2");
    let clock = acorn_lab::runner::clock::RealClock::default();
    let r = run(
        &p,
        &RunOptions::default(),
        &clock,
        &AtomicBool::new(true),
        &Silent,
    )
    .unwrap();
    assert!(r.partial);
    assert!(r.runs.len() < 2);
}

#[test]
fn unknown_variants_from_the_command_line_are_bad_input() {
    let opts = RunOptions {
        variants: Some(vec!["nope".into()]),
        ..RunOptions::default()
    };
    let e = run(
        &plan(""),
        &opts,
        &acorn_lab::runner::clock::RealClock::default(),
        &AtomicBool::new(false),
        &Silent,
    )
    .unwrap_err();
    assert!(matches!(e, BackendError::Unknown { .. }));
}

#[test]
fn quick_mode_shrinks_the_plan() {
    let p = plan("repeats = 5\nthreads = [1, 2, 4]").clone();
    let q = acorn_lab::runner::adjust(
        &p,
        &RunOptions {
            quick: true,
            ..RunOptions::default()
        },
    )
    .unwrap();
    assert_eq!((q.run.repeats, q.run.threads.len()), (1, 2));
}

/// A backend with an async API whose writes each yield once before completing, counting
/// how many are pending at the same moment.
struct Overlap {
    pending: AtomicU64,
    most: AtomicU64,
    done: AtomicU64,
}

impl Backend for Overlap {
    fn name(&self) -> &str {
        "overlap"
    }
    fn describe(&self) -> BackendInfo {
        BackendInfo {
            name: "overlap".into(),
            store: "test".into(),
            durability: "none".into(),
            serialization: "none".into(),
            cache: "none".into(),
            stores_data: false,
            rust_heap: true,
        }
    }
    fn worker(&self) -> Box<dyn Worker + '_> {
        Box::new(NoopWorker)
    }
    fn async_worker(&self) -> Option<Box<dyn AsyncWorker + '_>> {
        Some(Box::new(OverlapWorker(self, NoopWorker)))
    }
}

struct NoopWorker;

impl Worker for NoopWorker {
    fn insert(&mut self, _: &[u8], _: &Doc) -> Result<()> {
        Ok(())
    }
    fn read(&mut self, _: &[u8]) -> Result<Option<&Doc>> {
        Ok(None)
    }
    fn update(&mut self, _: &[u8], _: &Doc) -> Result<()> {
        Ok(())
    }
    fn delete(&mut self, _: &[u8]) -> Result<bool> {
        Ok(false)
    }
    fn scan(&mut self, _: &[u8], _: usize) -> Result<usize> {
        Ok(0)
    }
    fn batch_insert(&mut self, _: &[(Vec<u8>, Doc)]) -> Result<()> {
        Ok(())
    }
    fn query(&mut self, _: &QuerySpec) -> Result<usize> {
        Ok(0)
    }
}

struct OverlapWorker<'a>(&'a Overlap, NoopWorker);

impl OverlapWorker<'_> {
    fn write(&self) -> LocalFuture<'_, Result<()>> {
        let o = self.0;
        let now = o.pending.fetch_add(1, Ordering::SeqCst) + 1;
        o.most.fetch_max(now, Ordering::SeqCst);
        let mut yielded = false;
        Box::pin(std::future::poll_fn(move |cx| {
            if yielded {
                o.pending.fetch_sub(1, Ordering::SeqCst);
                o.done.fetch_add(1, Ordering::SeqCst);
                std::task::Poll::Ready(Ok(()))
            } else {
                yielded = true;
                cx.waker().wake_by_ref();
                std::task::Poll::Pending
            }
        }))
    }
}

impl AsyncWorker for OverlapWorker<'_> {
    fn insert<'a>(&'a mut self, _: &'a [u8], _: &'a Doc) -> LocalFuture<'a, Result<()>> {
        self.write()
    }
    fn update<'a>(&'a mut self, _: &'a [u8], _: &'a Doc) -> LocalFuture<'a, Result<()>> {
        self.write()
    }
    fn delete<'a>(&'a mut self, _: &'a [u8]) -> LocalFuture<'a, Result<bool>> {
        Box::pin(async { Ok(false) })
    }
    fn batch_insert<'a>(&'a mut self, _: &'a [(Vec<u8>, Doc)]) -> LocalFuture<'a, Result<()>> {
        self.write()
    }
    fn blocking(&mut self) -> &mut dyn Worker {
        &mut self.1
    }
}

#[test]
fn async_backends_keep_in_flight_operations_going_per_thread() {
    for (in_flight, want) in [(1u64, 1u64), (8, 8)] {
        let b = Overlap {
            pending: AtomicU64::new(0),
            most: AtomicU64::new(0),
            done: AtomicU64::new(0),
        };
        let src = format!(
            "name = \"t\"\nvariants = [\"noop\"]\n[dataset]\nrecords = 100\n[run]\nops = 500\n\
             warmup = \"0s\"\nin_flight = {in_flight}\n[mix]\nupdate = 100\n"
        );
        let plan = Plan::parse(Path::new("t.toml"), &src).unwrap();
        let clock = FakeClock::default();
        let p = run_phase(&b, &plan, 2, false, &clock, &AtomicBool::new(false));
        // 500 operations per thread, each recorded once, every write completed.
        assert_eq!(p.recorded.latencies(OpKind::Update).len(), 1000);
        assert_eq!(b.done.load(Ordering::SeqCst), 1000);
        // Per thread at most `in_flight` at once; two threads may overlap.
        let most = b.most.load(Ordering::SeqCst);
        assert!(
            most >= want && most <= 2 * want,
            "in_flight {in_flight}: {most} at once"
        );
    }
}
