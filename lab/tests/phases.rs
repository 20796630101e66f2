//! Phases that measure what they claim: batches from several threads never overwrite each
//! other, `latest` never reads a record another thread has not finished writing, a warmup
//! never writes ids the measured phase inserts, threads share one window, and in open loop
//! the operations due before the end are run and charged. A ledger backend refuses every
//! overwrite and every read of a missing key, so each violation is an error in the
//! results. No assertion depends on how fast this machine is.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::HashSet;
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use acorn_lab::backend::{Backend, BackendError, BackendInfo, Page, QuerySpec, Result, Worker};
use acorn_lab::doc::Value;
use acorn_lab::runner::clock::{FakeClock, RealClock};
use acorn_lab::runner::phase::run_phase;
use acorn_lab::workload::{OpKind, Plan};

#[path = "common/stall.rs"]
mod stall;
use stall::Stall;

/// Keys written so far; writing one twice or reading one never written is an error.
#[derive(Default)]
struct Ledger {
    keys: Mutex<HashSet<Vec<u8>>>,
    /// Milliseconds each operation sleeps (0: none).
    op_ms: u64,
    /// Milliseconds thread number n waits, times n, before its worker is ready.
    stagger_ms: u64,
    workers: AtomicU64,
    /// Wall-clock span of all operations: first start, last end (ns since `epoch`).
    first: AtomicU64,
    last: AtomicU64,
    epoch: Option<Instant>,
}

fn info() -> BackendInfo {
    BackendInfo {
        name: "ledger".into(),
        store: "test".into(),
        durability: "none".into(),
        serialization: "none".into(),
        cache: "none".into(),
        stores_data: false,
        rust_heap: true,
    }
}

impl Backend for Ledger {
    fn name(&self) -> &str {
        "ledger"
    }
    fn describe(&self) -> BackendInfo {
        info()
    }
    fn worker(&self) -> Box<dyn Worker + '_> {
        let n = self.workers.fetch_add(1, Ordering::SeqCst);
        std::thread::sleep(Duration::from_millis(n * self.stagger_ms));
        Box::new(LedgerWorker(self, Page::default()))
    }
}

/// The ledger, and the (always empty) page its queries return.
struct LedgerWorker<'a>(&'a Ledger, Page);

fn fail(message: String) -> BackendError {
    BackendError::Store {
        backend: "ledger".into(),
        message,
    }
}

impl LedgerWorker<'_> {
    fn op(&self) {
        let l = self.0;
        if let Some(epoch) = l.epoch {
            let now = epoch.elapsed().as_nanos() as u64;
            l.first.fetch_min(now, Ordering::SeqCst);
            std::thread::sleep(Duration::from_millis(l.op_ms));
            l.last
                .fetch_max(epoch.elapsed().as_nanos() as u64, Ordering::SeqCst);
        }
    }

    fn add(&self, key: &[u8]) -> Result<()> {
        self.op();
        if !self.0.keys.lock().unwrap().insert(key.to_vec()) {
            return Err(fail(format!("overwrote {}", String::from_utf8_lossy(key))));
        }
        Ok(())
    }

    fn has(&self, key: &[u8]) -> Result<()> {
        self.op();
        if !self.0.keys.lock().unwrap().contains(key) {
            return Err(fail(format!("missing {}", String::from_utf8_lossy(key))));
        }
        Ok(())
    }
}

impl Worker for LedgerWorker<'_> {
    fn insert(&mut self, key: &[u8], _: &Value) -> Result<()> {
        self.add(key)
    }
    fn read(&mut self, key: &[u8]) -> Result<Option<&Value>> {
        self.has(key).map(|()| None)
    }
    fn update(&mut self, key: &[u8], _: &Value) -> Result<()> {
        self.has(key)
    }
    fn delete(&mut self, key: &[u8]) -> Result<bool> {
        Ok(self.0.keys.lock().unwrap().remove(key))
    }
    fn scan(&mut self, start: &[u8], _: usize) -> Result<usize> {
        self.has(start).map(|()| 0)
    }
    fn batch_insert(&mut self, items: &[(Vec<u8>, Value)]) -> Result<()> {
        for (k, _) in items {
            self.add(k)?;
        }
        Ok(())
    }
    fn query(&mut self, _: &QuerySpec) -> Result<&Page> {
        Ok(&self.1)
    }
}

fn plan(body: &str) -> Plan {
    let src = format!("name = \"t\"\nvariants = [\"noop\"]\n{body}");
    Plan::parse(Path::new("t.toml"), &src).unwrap()
}

/// A ledger holding the plan's records, as the runner's load leaves them.
fn loaded(plan: &Plan) -> Ledger {
    let l = Ledger::default();
    let mut w = l.worker();
    let items: Vec<(Vec<u8>, Value)> = (0..plan.dataset.records)
        .map(|i| {
            let mut k = Vec::new();
            plan.dataset.write_key(&mut k, i);
            (k, Value::default())
        })
        .collect();
    w.batch_insert(&items).unwrap();
    drop(w);
    l.workers.store(0, Ordering::SeqCst);
    l
}

fn errors(r: &acorn_lab::runner::phase::PhaseResult, kind: OpKind) -> (u64, Vec<String>) {
    let (n, samples) = r.recorded.failures(kind);
    (n, samples.to_vec())
}

#[test]
fn batches_from_several_threads_never_write_the_same_ids() {
    let p = plan(
        "[dataset]\nrecords = 100\n[run]\nops = 50\nwarmup = \"0s\"\nbatch_size = 10\n[mix]\nbatch = 100\n",
    );
    let l = loaded(&p);
    let r = run_phase(
        &l,
        &p,
        4,
        false,
        &RealClock::default(),
        &AtomicBool::new(false),
    );
    assert_eq!(r.recorded.latencies(OpKind::Batch).len(), 200);
    assert_eq!(
        errors(&r, OpKind::Batch).0,
        0,
        "{:?}",
        errors(&r, OpKind::Batch)
    );
    assert_eq!(l.keys.lock().unwrap().len(), 100 + 200 * 10);
}

#[test]
fn latest_never_reads_records_no_thread_has_finished_writing() {
    let p = plan(
        "[dataset]\nrecords = 1000\n[run]\nops = 4000\nwarmup = \"0s\"\n[mix]\nread = 90\ninsert = 10\n[distribution]\nkind = \"latest\"\n",
    );
    let l = loaded(&p);
    let r = run_phase(
        &l,
        &p,
        2,
        false,
        &RealClock::default(),
        &AtomicBool::new(false),
    );
    assert_eq!(r.recorded.ops(), 8000);
    assert_eq!(
        errors(&r, OpKind::Read).0,
        0,
        "{:?}",
        errors(&r, OpKind::Read)
    );
    assert_eq!(errors(&r, OpKind::Insert).0, 0);
}

#[test]
fn a_warmup_never_writes_ids_the_measured_phase_inserts() {
    let p = plan(
        "[dataset]\nrecords = 100\n[run]\nops = 20000\nwarmup = \"0s\"\n[mix]\nread = 50\ninsert = 50\n",
    );
    let l = loaded(&p);
    let (clock, stop) = (RealClock::default(), AtomicBool::new(false));
    let warm = run_phase(&l, &p, 1, true, &clock, &stop);
    assert_eq!(errors(&warm, OpKind::Insert).0, 0);
    let measured = run_phase(&l, &p, 1, false, &clock, &stop);
    let (n, samples) = errors(&measured, OpKind::Insert);
    assert_eq!(n, 0, "{samples:?}");
}

#[test]
fn threads_share_one_window_however_late_they_start() {
    // Four threads whose workers are ready 0, 60, 120 and 180 ms apart; each operation
    // sleeps 1 ms. Throughput must be the operations over the span they really ran in.
    let p = plan("[dataset]\nrecords = 10\n[run]\nduration = \"300ms\"\nwarmup = \"0s\"\n[mix]\nread = 100\n");
    let mut l = loaded(&p);
    l.op_ms = 1;
    l.stagger_ms = 60;
    l.epoch = Some(Instant::now());
    l.first.store(u64::MAX, Ordering::SeqCst);
    let r = run_phase(
        &l,
        &p,
        4,
        false,
        &RealClock::default(),
        &AtomicBool::new(false),
    );
    let span = (l.last.load(Ordering::SeqCst) - l.first.load(Ordering::SeqCst)) as f64;
    let reported = r.elapsed_ns as f64;
    assert!(
        (reported / span - 1.0).abs() < 0.2,
        "reported window {:.0} ms, operations ran over {:.0} ms",
        reported / 1e6,
        span / 1e6
    );
}

#[test]
fn open_loop_runs_and_charges_operations_due_before_a_stall_across_the_end() {
    // One operation due every 1 ms for 100 ms; operation 80 stalls 50 ms, past the end.
    let clock = Arc::new(FakeClock::default());
    let b = Stall::new(&clock, 80, 50_000_000);
    let p = plan("[dataset]\nrecords = 10\n[run]\nduration = \"100ms\"\nwarmup = \"0s\"\nrate = 1000\n[mix]\nread = 100\n");
    let r = run_phase(&b, &p, 1, false, clock.as_ref(), &AtomicBool::new(false));
    let h = r.recorded.latencies(OpKind::Read);
    // All 100 operations due before the end ran; the 19 the stall delayed show it.
    assert_eq!(h.len(), 100);
    let slow = h.count_between(10_000_000, u64::MAX);
    assert!((19..=21).contains(&slow), "{slow} slow operations");
    assert_eq!(r.dropped, 0);
}

#[test]
fn open_loop_drops_a_backlog_longer_than_the_phase_and_says_so() {
    // A 300 ms stall in a 100 ms phase: what is still due more than a phase after the end
    // is counted as dropped, not run.
    let clock = Arc::new(FakeClock::default());
    let b = Stall::new(&clock, 10, 300_000_000);
    let p = plan("[dataset]\nrecords = 10\n[run]\nduration = \"100ms\"\nwarmup = \"0s\"\nrate = 1000\n[mix]\nread = 100\n");
    let r = run_phase(&b, &p, 1, false, clock.as_ref(), &AtomicBool::new(false));
    let ran = r.recorded.latencies(OpKind::Read).len();
    assert_eq!(ran, 11);
    assert_eq!(r.dropped, 89);
}

/// Values too large for 1000 to fit one engine batch (256 MiB) still load: the loader
/// makes its batches smaller (before, every engine variant failed to load 300 values of
/// 1 MiB with "batch ... over the maximum").
#[test]
fn large_opaque_values_load_in_smaller_batches() {
    let p = Plan::parse(
        Path::new("big.toml"),
        "name = \"big\"\n[dataset]\nrecords = 300\nvalue = { bytes = 1_048_576 }\n[mix]\nread = 100\n",
    )
    .unwrap();
    let options = acorn_lab::backend::Options {
        values: p.dataset.value,
        ..Default::default()
    };
    let backend = acorn_lab::backend::open("plain", &options).unwrap();
    let loaded = acorn_lab::runner::restore::fill(backend.as_ref(), &p, &AtomicBool::new(false));
    assert!(matches!(loaded, Ok(Some(_))), "{loaded:?}");
    let mut w = backend.worker();
    let mut key = Vec::new();
    p.dataset.write_key(&mut key, 299);
    match w.read(&key).unwrap() {
        Some(Value::Bytes(b)) => assert_eq!(b.len(), 1 << 20),
        other => panic!("{other:?}"),
    }
}
