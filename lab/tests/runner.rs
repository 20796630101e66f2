//! The runner with a fake clock: open-loop latency counts a stall against every operation it
//! delayed (no coordinated omission); closed loop charges it once. Scheduling, stopping and
//! error counting. No assertion here depends on how fast this machine is.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;

use acorn_lab::backend::{
    AsyncWorker, Backend, BackendError, BackendInfo, LocalFuture, Page, QuerySpec, Result, Worker,
};
use acorn_lab::doc::Value;
use acorn_lab::runner::clock::{Clock, FakeClock};
use acorn_lab::runner::phase::run_phase;
use acorn_lab::runner::{run, RunOptions, Silent};
use acorn_lab::workload::{Mix, OpKind, Plan};

/// What a test backend says about itself.
fn test_info(name: &str, stores_data: bool) -> BackendInfo {
    BackendInfo {
        name: name.into(),
        store: "test".into(),
        durability: "none".into(),
        serialization: "none".into(),
        cache: "none".into(),
        stores_data,
        rust_heap: true,
    }
}

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
        test_info("stall", false)
    }
    fn worker(&self) -> Box<dyn Worker + '_> {
        Box::new(StallWorker(self, Page::default()))
    }
}

/// The backend, and the (always empty) page its queries return.
struct StallWorker<'a>(&'a Stall, Page);

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
    fn insert(&mut self, _: &[u8], _: &Value) -> Result<()> {
        self.tick();
        Ok(())
    }
    fn read(&mut self, _: &[u8]) -> Result<Option<&Value>> {
        self.tick();
        Ok(None)
    }
    fn update(&mut self, _: &[u8], _: &Value) -> Result<()> {
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
    fn batch_insert(&mut self, _: &[(Vec<u8>, Value)]) -> Result<()> {
        self.tick();
        Ok(())
    }
    fn query(&mut self, _: &QuerySpec) -> Result<&Page> {
        self.tick();
        Ok(&self.1)
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
        test_info("set", true)
    }
    fn worker(&self) -> Box<dyn Worker + '_> {
        Box::new(SetWorker(self, Page::default()))
    }
}

/// The store, and the (always empty) page its queries return.
struct SetWorker<'a>(&'a SetStore, Page);

impl Worker for SetWorker<'_> {
    fn insert(&mut self, key: &[u8], value: &Value) -> Result<()> {
        let version = value.as_doc().map_or(0, |d| d.timestamp);
        self.0 .0.lock().unwrap().insert(key.to_vec(), version);
        Ok(())
    }
    fn read(&mut self, _: &[u8]) -> Result<Option<&Value>> {
        Ok(None)
    }
    fn update(&mut self, key: &[u8], value: &Value) -> Result<()> {
        self.insert(key, value)
    }
    fn delete(&mut self, key: &[u8]) -> Result<bool> {
        Ok(self.0 .0.lock().unwrap().remove(key).is_some())
    }
    fn scan(&mut self, _: &[u8], _: usize) -> Result<usize> {
        Ok(0)
    }
    fn batch_insert(&mut self, items: &[(Vec<u8>, Value)]) -> Result<()> {
        for (k, v) in items {
            self.insert(k, v)?;
        }
        Ok(())
    }
    fn query(&mut self, _: &QuerySpec) -> Result<&Page> {
        Ok(&self.1)
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
    fill(&store, &p, &stop).unwrap();
    let loaded = store.0.lock().unwrap().clone();
    let left = Leftovers::default();
    for repeat in 0..3 {
        assert!(prepare(&store, &p, 2, repeat, &left, &clock, &stop)
            .unwrap()
            .is_some());
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
    assert!(prepare(&store, &w, 1, 1, &left, &clock, &stop)
        .unwrap()
        .is_some());
    assert_eq!(*store.0.lock().unwrap(), loaded);
}

/// A store that counts its bulk writes and whose n-th read at fake time `t` (ns) costs
/// `cost(n, t)` ns of the fake clock: how fast it is depends on how warm it is.
struct Warming {
    clock: Arc<FakeClock>,
    reads: AtomicU64,
    batches: AtomicU64,
    cost: fn(u64, u64) -> u64,
}

impl Warming {
    fn new(cost: fn(u64, u64) -> u64) -> Warming {
        Warming {
            clock: Arc::new(FakeClock::default()),
            reads: AtomicU64::new(0),
            batches: AtomicU64::new(0),
            cost,
        }
    }
}

impl Backend for Warming {
    fn name(&self) -> &str {
        "warming"
    }
    fn describe(&self) -> BackendInfo {
        test_info("warming", false)
    }
    fn worker(&self) -> Box<dyn Worker + '_> {
        Box::new(WarmingWorker(self, Page::default()))
    }
}

struct WarmingWorker<'a>(&'a Warming, Page);

impl Worker for WarmingWorker<'_> {
    fn insert(&mut self, _: &[u8], _: &Value) -> Result<()> {
        Ok(())
    }
    fn read(&mut self, _: &[u8]) -> Result<Option<&Value>> {
        let n = self.0.reads.fetch_add(1, Ordering::SeqCst);
        self.0
            .clock
            .advance((self.0.cost)(n, self.0.clock.now_ns()));
        Ok(None)
    }
    fn update(&mut self, _: &[u8], _: &Value) -> Result<()> {
        Ok(())
    }
    fn delete(&mut self, _: &[u8]) -> Result<bool> {
        Ok(true)
    }
    fn scan(&mut self, _: &[u8], _: usize) -> Result<usize> {
        Ok(0)
    }
    fn batch_insert(&mut self, _: &[(Vec<u8>, Value)]) -> Result<()> {
        self.0.batches.fetch_add(1, Ordering::SeqCst);
        Ok(())
    }
    fn query(&mut self, _: &QuerySpec) -> Result<&Page> {
        Ok(&self.1)
    }
}

#[test]
fn a_read_only_mix_does_not_reload_the_data_between_repeats() {
    use acorn_lab::runner::restore::{fill, prepare, Leftovers};
    let stop = AtomicBool::new(false);
    let store = Warming::new(|_, _| 1_000);
    let reads = plan("");
    assert!(!reads.mix.writes());
    fill(&store, &reads, &stop).unwrap();
    let loaded = store.batches.load(Ordering::SeqCst);
    assert!(loaded > 0);
    let left = Leftovers::default();
    for repeat in 0..3 {
        assert!(prepare(
            &store,
            &reads,
            1,
            repeat,
            &left,
            store.clock.as_ref(),
            &stop
        )
        .unwrap()
        .is_some());
    }
    assert_eq!(store.batches.load(Ordering::SeqCst), loaded, "reloaded");
    // A mix that writes reloads every repeat after the first.
    let mut writes = reads.clone();
    writes.mix = Mix(vec![(OpKind::Read, 90), (OpKind::Update, 10)]);
    assert!(writes.mix.writes());
    assert!(
        prepare(&store, &writes, 1, 1, &left, store.clock.as_ref(), &stop)
            .unwrap()
            .is_some()
    );
    assert_eq!(store.batches.load(Ordering::SeqCst), 2 * loaded);
}

#[test]
fn warm_up_runs_until_two_windows_agree_and_stops_at_its_cap() {
    use acorn_lab::runner::restore::{warm_up, window};
    let stop = AtomicBool::new(false);
    let mut p = plan("");
    p.run.warmup = std::time::Duration::from_millis(100);
    assert_eq!(window(p.run.warmup), std::time::Duration::from_millis(25));
    // 10 µs per read for the first 6,000 reads, then 1 µs: slow windows agree before the
    // configured 100 ms are up, then the change, then two fast windows agree.
    let store = Warming::new(|n, _| if n < 6_000 { 10_000 } else { 1_000 });
    let w = warm_up(&store, &p, 1, store.clock.as_ref(), &stop)
        .unwrap()
        .unwrap();
    assert!(w.steady);
    assert!((w.secs - 0.125).abs() < 1e-9, "{w:?}");
    // A store that is three times slower every other 25 ms never settles: the warm-up
    // stops at 4 × 100 ms.
    let store = Warming::new(|_, t| {
        if (t / 25_000_000) % 2 == 0 {
            1_000
        } else {
            3_000
        }
    });
    let w = warm_up(&store, &p, 1, store.clock.as_ref(), &stop)
        .unwrap()
        .unwrap();
    assert!(!w.steady, "{w:?}");
    assert!((w.secs - 0.4).abs() < 1e-9, "{w:?}");
    // No warm-up at all.
    p.run.warmup = std::time::Duration::ZERO;
    let w = warm_up(&store, &p, 1, store.clock.as_ref(), &stop)
        .unwrap()
        .unwrap();
    assert!(w.steady && w.secs == 0.0);
}

#[test]
fn an_open_loop_phase_never_waits_past_its_end_for_a_scheduled_operation() {
    // 1 op/s and a 300 ms phase: the second operation would be due at 1 s, after the end.
    let clock = Arc::new(FakeClock::default());
    let b = Stall {
        clock: Arc::clone(&clock),
        stall_at: u64::MAX,
        count: AtomicU64::new(0),
        fail_deletes: false,
    };
    let p = plan("rate = 1").clone();
    let mut p = p;
    p.run.bound = acorn_lab::workload::Bound::Duration(std::time::Duration::from_millis(300));
    let r = run_phase(&b, &p, 1, false, clock.as_ref(), &AtomicBool::new(false));
    assert_eq!(r.recorded.ops(), 1, "only the operation due at the start");
    assert!(
        clock.now_ns() <= 300_000_000,
        "the phase waited until {} ns",
        clock.now_ns()
    );
    assert!(r.elapsed_ns <= 300_000_000);
}

#[test]
fn a_stop_request_ends_an_open_loop_wait() {
    // One operation per 1000 s: the wait for the second must end at the stop request,
    // not when the operation falls due (a real clock; the stop comes 50 ms in).
    let stop = Arc::new(AtomicBool::new(false));
    let b = acorn_lab::backend::open("noop", &acorn_lab::backend::Options::default()).unwrap();
    let mut p = plan("rate = 1");
    p.run.bound = acorn_lab::workload::Bound::Duration(std::time::Duration::from_secs(3600));
    p.run.rate = Some(0.001);
    let flag = Arc::clone(&stop);
    let stopper = std::thread::spawn(move || {
        std::thread::sleep(std::time::Duration::from_millis(50));
        flag.store(true, Ordering::SeqCst);
    });
    let clock = acorn_lab::runner::clock::RealClock::default();
    let r = run_phase(b.as_ref(), &p, 1, false, &clock, &stop);
    stopper.join().unwrap();
    assert!(r.stopped);
    assert!(
        clock.now_ns() < 60_000_000_000,
        "waited {} ns",
        clock.now_ns()
    );
}

#[test]
fn a_stop_during_the_load_ends_the_run_without_results() {
    // A stop raised before anything ran: loading (a million records) ends at once.
    let mut p = plan("");
    p.dataset.records = 1_000_000;
    p.variants = vec!["btreemap".into()];
    let clock = acorn_lab::runner::clock::RealClock::default();
    let r = run(
        &p,
        &RunOptions::default(),
        &clock,
        &AtomicBool::new(true),
        &Silent,
    )
    .unwrap();
    assert!(r.partial && r.runs.is_empty() && r.summaries.is_empty() && r.targets.is_empty());
}

#[test]
fn the_results_say_how_many_variants_were_resident_at_once() {
    for (mode, resident) in [("sequential", 1), ("interleaved", 2), ("parallel", 2)] {
        let mut p = plan(&format!("mode = \"{mode}\""));
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
        assert_eq!(r.resident, Some(resident), "{mode}");
        assert!(acorn_reports::table::render(&r).contains(&format!(
            "{resident} variant{} resident at once",
            if resident == 1 { "" } else { "s" }
        )));
    }
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
        test_info("overlap", false)
    }
    fn worker(&self) -> Box<dyn Worker + '_> {
        Box::new(NoopWorker::default())
    }
    fn async_worker(&self) -> Option<Box<dyn AsyncWorker + '_>> {
        Some(Box::new(OverlapWorker(self, NoopWorker::default())))
    }
}

#[derive(Default)]
struct NoopWorker(Page);

impl Worker for NoopWorker {
    fn insert(&mut self, _: &[u8], _: &Value) -> Result<()> {
        Ok(())
    }
    fn read(&mut self, _: &[u8]) -> Result<Option<&Value>> {
        Ok(None)
    }
    fn update(&mut self, _: &[u8], _: &Value) -> Result<()> {
        Ok(())
    }
    fn delete(&mut self, _: &[u8]) -> Result<bool> {
        Ok(false)
    }
    fn scan(&mut self, _: &[u8], _: usize) -> Result<usize> {
        Ok(0)
    }
    fn batch_insert(&mut self, _: &[(Vec<u8>, Value)]) -> Result<()> {
        Ok(())
    }
    fn query(&mut self, _: &QuerySpec) -> Result<&Page> {
        Ok(&self.0)
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
    fn insert<'a>(&'a mut self, _: &'a [u8], _: &'a Value) -> LocalFuture<'a, Result<()>> {
        self.write()
    }
    fn update<'a>(&'a mut self, _: &'a [u8], _: &'a Value) -> LocalFuture<'a, Result<()>> {
        self.write()
    }
    fn delete<'a>(&'a mut self, _: &'a [u8]) -> LocalFuture<'a, Result<bool>> {
        Box::pin(async { Ok(false) })
    }
    fn batch_insert<'a>(&'a mut self, _: &'a [(Vec<u8>, Value)]) -> LocalFuture<'a, Result<()>> {
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
