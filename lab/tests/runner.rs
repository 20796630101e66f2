//! The runner with a fake clock: open-loop latency counts a stall against every operation it
//! delayed (no coordinated omission); closed loop charges it once. Scheduling, stopping and
//! error counting. No assertion here depends on how fast this machine is.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;

use acorn_lab::backend::{Backend, BackendError, BackendInfo, QuerySpec, Result, Worker};
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
    // The key space follows the records, so a quick run draws from what it loaded.
    let big = plan("[distribution]\nkind = \"scrambled_zipfian\"");
    let mut big = big.clone();
    big.dataset.records = 50_000;
    big.item_count = 50_000 + 700;
    let q = acorn_lab::runner::adjust(
        &big,
        &RunOptions {
            quick: true,
            ..RunOptions::default()
        },
    )
    .unwrap();
    assert_eq!((q.dataset.records, q.item_count), (10_000, 10_700));
}

/// A store that keeps its keys and the version of each value, so tests can compare states.
#[derive(Default)]
struct SetStore(std::sync::Mutex<std::collections::BTreeMap<Vec<u8>, u64>>);

impl Backend for SetStore {
    fn name(&self) -> &str {
        "set"
    }
    fn describe(&self) -> BackendInfo {
        BackendInfo {
            name: "set".into(),
            store: "test".into(),
            durability: "none".into(),
            serialization: "none".into(),
            cache: "none".into(),
            stores_data: true,
            rust_heap: true,
        }
    }
    fn worker(&self) -> Box<dyn Worker + '_> {
        Box::new(SetWorker(self))
    }
}

struct SetWorker<'a>(&'a SetStore);

impl Worker for SetWorker<'_> {
    fn insert(&mut self, key: &[u8], doc: &Doc) -> Result<()> {
        self.0
             .0
            .lock()
            .unwrap()
            .insert(key.to_vec(), doc.timestamp);
        Ok(())
    }
    fn read(&mut self, _: &[u8]) -> Result<Option<&Doc>> {
        Ok(None)
    }
    fn update(&mut self, key: &[u8], doc: &Doc) -> Result<()> {
        self.insert(key, doc)
    }
    fn delete(&mut self, key: &[u8]) -> Result<bool> {
        Ok(self.0 .0.lock().unwrap().remove(key).is_some())
    }
    fn scan(&mut self, _: &[u8], _: usize) -> Result<usize> {
        Ok(0)
    }
    fn batch_insert(&mut self, items: &[(Vec<u8>, Doc)]) -> Result<()> {
        for (k, d) in items {
            self.insert(k, d)?;
        }
        Ok(())
    }
    fn query(&mut self, _: &QuerySpec) -> Result<usize> {
        Ok(0)
    }
}

#[test]
fn every_repeat_starts_from_the_loaded_records() {
    use acorn_lab::runner::restore::{fill, prepare, Leftovers};
    let clock = acorn_lab::runner::clock::RealClock::default();
    let stop = AtomicBool::new(false);
    // Inserts, batches, deletes and updates: every kind of change a repeat leaves behind.
    let mut p = plan("batch_size = 5");
    p.mix = Mix(vec![
        (OpKind::Insert, 30),
        (OpKind::Batch, 10),
        (OpKind::Delete, 30),
        (OpKind::Update, 30),
    ]);
    p.run.warmup = std::time::Duration::ZERO;
    let store = SetStore::default();
    fill(&store, &p).unwrap();
    let loaded = store.0.lock().unwrap().clone();
    let left = Leftovers::default();
    for repeat in 0..3 {
        assert!(prepare(&store, &p, 2, repeat, &left, &clock, &stop).unwrap());
        assert_eq!(*store.0.lock().unwrap(), loaded, "repeat {repeat}");
        let r = run_phase(&store, &p, 2, false, &clock, &stop);
        assert!(r.inserted.end - r.inserted.start >= 2000 * 30 / 100);
        assert_ne!(*store.0.lock().unwrap(), loaded);
        left.set(r.inserted);
    }
    // A warmup's inserts are gone before the measured phase starts, and its deletes and
    // updates touched only loaded records.
    let mut w = plan("");
    w.mix = Mix(vec![(OpKind::Insert, 100)]);
    w.run.warmup = std::time::Duration::from_millis(20);
    assert!(prepare(&store, &w, 1, 1, &left, &clock, &stop).unwrap());
    assert_eq!(*store.0.lock().unwrap(), loaded);
}
