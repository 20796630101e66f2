//! Loading between repeats and warm-up: each repeat starts from the loaded records, a
//! read-only mix is not reloaded, warm-up stops when two windows agree or at its cap.

use super::*;

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
