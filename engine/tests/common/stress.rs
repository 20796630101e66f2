//! Stress harness for the lock-free point reads (`tests/point_reads.rs` runs it briefly, the
//! `point_soak` example for as long as asked).
//!
//! One writer grows the tree to `keys` items, churns it (stashes, tosses, batches with
//! repeated keys, transactions, stashes with a TTL that a manual clock then expires, purges)
//! and shrinks it again, round after round, so the hash index grows, drops tombstones and
//! shrinks under the readers. Every stash writes `[id][generation][padding]`, the
//! generation counting that key's stashes. Readers crack, crack in place, check presence,
//! keep some owned nuts for later, let a `crack_with` closure panic or write into the tree,
//! and verify everything they see:
//! - a value belongs to the key it was read under (id, padding) and its nut's key matches;
//! - per key, versions and generations never go backwards and move together;
//! - a nut with a TTL was unexpired when the read started;
//! - owned nuts kept across many writes still hold their bytes.
//!
//! At the end of each round the writer compares every key with its model.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::HashMap;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Barrier};
use std::thread;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use acorn::{Clock, ManualClock, Nut, Tree};

#[derive(Clone, Copy, Debug)]
pub struct Config {
    pub readers: usize,
    pub rounds: usize,
    pub keys: u32,
    pub seed: u64,
}

/// What a run saw, so a test can check that the interesting paths were taken.
#[derive(Debug, Default)]
pub struct Seen {
    pub hits: u64,
    pub misses: u64,
    pub panics: u64,
    pub nested_writes: u64,
    pub ttl_hits: u64,
}

pub struct Rng(pub u64);

impl Rng {
    pub fn next(&mut self) -> u64 {
        // xorshift64*
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    /// A key id: half of the time one of 64 hot keys, so that readers see the same key
    /// change many times.
    pub fn id(&mut self, n: u32) -> u32 {
        let n = if self.below(2) == 0 { n.min(64) } else { n };
        self.below(u64::from(n)) as u32
    }
}

/// Every seventh key is longer than an inline `Key` (22 bytes), so both key forms are read.
pub fn key(id: u32) -> String {
    if id.is_multiple_of(7) {
        format!("a key longer than twenty-two bytes #{id:06}")
    } else {
        format!("k{id:06}")
    }
}

pub fn value(id: u32, gen: u64) -> Vec<u8> {
    let mut v = Vec::with_capacity(12 + 48);
    v.extend_from_slice(&id.to_le_bytes());
    v.extend_from_slice(&gen.to_le_bytes());
    v.resize(12 + (gen % 48) as usize, id as u8);
    v
}

/// The id and generation in a value read under `k`, after checking it belongs there.
pub fn check(k: &str, v: &[u8]) -> (u32, u64) {
    assert!(v.len() >= 12, "value of {} bytes under {k}", v.len());
    let id = u32::from_le_bytes(v[..4].try_into().unwrap());
    let gen = u64::from_le_bytes(v[4..12].try_into().unwrap());
    assert_eq!(k, key(id), "value of key {} read under {k}", key(id));
    assert_eq!(
        v.len(),
        12 + (gen % 48) as usize,
        "{k}: length of generation {gen}"
    );
    assert!(v[12..].iter().all(|b| *b == id as u8), "{k}: padding torn");
    (id, gen)
}

fn nanos(t: SystemTime) -> u128 {
    t.duration_since(UNIX_EPOCH).unwrap().as_nanos()
}

/// Operations each reader makes at least.
const MIN_OPS: u64 = 5_000;

/// The payload of the panics readers raise inside `crack_with` on purpose.
pub struct OnPurpose;

/// Keeps the panics raised on purpose out of the output (other panics still print).
fn quiet_panics_on_purpose() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let default = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if !info.payload().is::<OnPurpose>() {
                default(info);
            }
        }));
    });
}

/// Runs one stress session; panics (in the failing thread, re-raised here) on any
/// violation.
pub fn run(tree: &Tree, clock: &ManualClock, cfg: Config) -> Seen {
    quiet_panics_on_purpose();
    let stop = Arc::new(AtomicBool::new(false));
    let start = Arc::new(Barrier::new(cfg.readers + 1));
    let readers: Vec<_> = (0..cfg.readers)
        .map(|r| {
            let (tree, clock, stop, start) =
                (tree.clone(), clock.clone(), stop.clone(), start.clone());
            thread::spawn(move || {
                start.wait();
                reader(&tree, &clock, &stop, cfg, r)
            })
        })
        .collect();
    start.wait();
    let written = catch_unwind(AssertUnwindSafe(|| writer(tree, clock, cfg)));
    stop.store(true, Ordering::Relaxed);
    let mut seen = Seen::default();
    let mut failure = written.err();
    for r in readers {
        match r.join() {
            Ok(s) => {
                seen.hits += s.hits;
                seen.misses += s.misses;
                seen.panics += s.panics;
                seen.nested_writes += s.nested_writes;
                seen.ttl_hits += s.ttl_hits;
            }
            Err(e) => failure = failure.or(Some(e)),
        }
    }
    if let Some(e) = failure {
        std::panic::resume_unwind(e);
    }
    seen
}

/// The writer's model of one key: its last generation and whether it is visible.
#[derive(Clone, Copy, Default)]
struct Model {
    gen: u64,
    live: bool,
    /// Expiry in clock nanoseconds, 0 for none.
    expires: u128,
}

fn writer(tree: &Tree, clock: &ManualClock, cfg: Config) {
    let mut w = Writer {
        tree,
        clock,
        rng: Rng(cfg.seed | 1),
        n: cfg.keys,
        model: vec![Model::default(); cfg.keys as usize],
    };
    for round in 0..cfg.rounds {
        w.grow();
        w.churn();
        verify(tree, clock, &w.model, round);
        w.shrink();
        verify(tree, clock, &w.model, round);
    }
}

/// The writer: its tree, its random choices and its model of every key.
struct Writer<'a> {
    tree: &'a Tree,
    clock: &'a ManualClock,
    rng: Rng,
    n: u32,
    model: Vec<Model>,
}

impl Writer<'_> {
    fn stash(&mut self, id: u32, ttl: Option<Duration>) {
        let m = &mut self.model[id as usize];
        m.gen += 1;
        m.live = true;
        match ttl {
            None => {
                m.expires = 0;
                self.tree.stash(key(id), value(id, m.gen)).unwrap();
            }
            Some(ttl) => {
                m.expires = nanos(self.clock.now() + ttl);
                self.tree
                    .stash_with_ttl(key(id), value(id, m.gen), ttl)
                    .unwrap();
            }
        }
    }

    /// Grow: every key, singly and in batches of 8 (which make the table grow while an
    /// overlay is published).
    fn grow(&mut self) {
        let n = self.n;
        let mut id = 0;
        while id < n {
            if self.rng.below(2) == 0 {
                self.stash(id, None);
                id += 1;
            } else {
                let mut b = self.tree.batch();
                for j in id..(id + 8).min(n) {
                    let m = &mut self.model[j as usize];
                    m.gen += 1;
                    m.live = true;
                    m.expires = 0;
                    b.stash(key(j), value(j, m.gen));
                }
                b.commit().unwrap();
                id += 8;
            }
        }
    }

    /// Churn: stashes, tosses, batches, stashes with a TTL, transactions, the clock
    /// advancing now and then.
    fn churn(&mut self) {
        let n = self.n;
        for _ in 0..n * 2 {
            let id = self.rng.id(n);
            match self.rng.below(10) {
                0..=3 => self.stash(id, None),
                4 | 5 => {
                    self.tree.toss(key(id)).unwrap();
                    self.model[id as usize].live = false;
                }
                6 | 7 => self.mixed_batch(),
                8 => self.stash(id, Some(Duration::from_millis(5))),
                _ => self.transaction(id),
            }
            if self.rng.below(64) == 0 {
                self.clock.advance(Duration::from_millis(2));
            }
        }
    }

    /// A batch with repeated keys, and a toss then a stash of the same key.
    fn mixed_batch(&mut self) {
        let n = self.n;
        let mut b = self.tree.batch();
        for _ in 0..1 + self.rng.below(12) {
            let j = self.rng.id(n);
            let m = &mut self.model[j as usize];
            if self.rng.below(4) == 0 {
                b.toss(key(j));
                m.live = false;
            } else {
                if self.rng.below(3) == 0 {
                    b.toss(key(j));
                }
                m.gen += 1;
                m.live = true;
                m.expires = 0;
                b.stash(key(j), value(j, m.gen));
            }
        }
        b.commit().unwrap();
    }

    /// A transaction stashing `id` and another key.
    fn transaction(&mut self, id: u32) {
        let other = self.rng.id(self.n);
        let model = &mut self.model;
        let gens = (model[id as usize].gen + 1, model[other as usize].gen + 1);
        self.tree
            .transaction(|tx| {
                tx.stash(key(id), value(id, gens.0))?;
                if other != id {
                    tx.stash(key(other), value(other, gens.1))?;
                }
                Ok(())
            })
            .unwrap();
        for (j, g) in [(id, gens.0), (other, gens.1)] {
            let m = &mut model[j as usize];
            m.gen = m.gen.max(g);
            m.live = true;
            m.expires = 0;
        }
    }

    /// Shrink: toss all but about one key in a hundred, singly and in batches; expire
    /// and purge the TTL keys.
    fn shrink(&mut self) {
        let (tree, n) = (self.tree, self.n);
        self.clock.advance(Duration::from_millis(10));
        tree.purge_expired().unwrap();
        let now = nanos(self.clock.now());
        for m in self.model.iter_mut() {
            if m.live && m.expires != 0 && m.expires <= now {
                m.live = false;
            }
        }
        let mut id = 0;
        while id < n {
            if self.rng.below(2) == 0 {
                if id % 100 != 0 {
                    tree.toss(key(id)).unwrap();
                    self.model[id as usize].live = false;
                }
                id += 1;
            } else {
                let mut b = tree.batch();
                for j in id..(id + 16).min(n) {
                    if j % 100 != 0 {
                        b.toss(key(j));
                        self.model[j as usize].live = false;
                    }
                }
                b.commit().unwrap();
                id += 16;
            }
        }
    }
}

/// Every key as the writer's model has it.
fn verify(tree: &Tree, clock: &ManualClock, model: &[Model], round: usize) {
    let now = nanos(clock.now());
    for (id, m) in model.iter().enumerate() {
        let k = key(id as u32);
        let visible = m.live && (m.expires == 0 || m.expires > now);
        let got = tree.crack(&k).unwrap().map(|n| check(&k, &n.value).1);
        assert_eq!(
            got,
            visible.then_some(m.gen),
            "round {round}: {k} as the writer left it"
        );
    }
}

fn reader(tree: &Tree, clock: &ManualClock, stop: &AtomicBool, cfg: Config, r: usize) -> Seen {
    let mut rd = Reader {
        tree,
        rng: Rng((cfg.seed ^ (r as u64 + 1).wrapping_mul(0x9e37_79b9_7f4a_7c15)) | 1),
        seen: Seen::default(),
        last: HashMap::new(),
        held: Vec::new(),
        own: format!("reader-{r}"),
    };
    let mut i = 0u64;
    // At least `MIN_OPS` each, so that every path is taken even when a busy machine
    // hardly runs the readers while the writer works.
    while !stop.load(Ordering::Relaxed) || i < MIN_OPS {
        i += 1;
        let id = rd.rng.id(cfg.keys);
        let k = key(id);
        let before = nanos(clock.now());
        match rd.rng.below(64) {
            0..=29 => rd.crack(&k, id, before),
            30..=55 => rd.crack_with(&k, id, before),
            56..=59 => {
                let _ = tree.contains(&k);
            }
            60 => rd.panic_in_closure(&k, id, i),
            61 => rd.write_in_closure(id, i),
            _ => {
                for n in &rd.held {
                    check(&n.key, &n.value);
                }
            }
        }
    }
    for n in &rd.held {
        check(&n.key, &n.value);
    }
    rd.seen
}

/// A reader: its random choices, what it saw, the last (version, generation) of each
/// key, the nuts it keeps, its own key.
struct Reader<'a> {
    tree: &'a Tree,
    rng: Rng,
    seen: Seen,
    last: HashMap<u32, (u64, u64)>,
    held: Vec<Nut>,
    own: String,
}

impl Reader<'_> {
    /// Checks a value read under `k`, and that its version and generation moved together.
    fn observe(&mut self, k: &str, id: u32, version: u64, v: &[u8]) {
        let (got, gen) = check(k, v);
        assert_eq!(got, id);
        if let Some(&(v0, g0)) = self.last.get(&id) {
            assert!(
                version >= v0 && gen >= g0,
                "{k}: version {version} gen {gen} after version {v0} gen {g0}"
            );
            assert_eq!(version > v0, gen > g0, "{k}: version and value disagree");
        }
        self.last.insert(id, (version, gen));
        self.seen.hits += 1;
    }

    /// An owned read, kept among the held nuts.
    fn crack(&mut self, k: &str, id: u32, before: u128) {
        match self.tree.crack(k).unwrap() {
            Some(n) => {
                assert_eq!(n.key, k);
                if let Some(e) = n.expires_at {
                    assert!(nanos(e) > before, "{k}: expired nut returned");
                    self.seen.ttl_hits += 1;
                }
                self.observe(k, id, n.version, &n.value);
                if self.held.len() < 64 {
                    self.held.push(n);
                } else {
                    let at = self.rng.below(64) as usize;
                    self.held[at] = n;
                }
            }
            None => self.seen.misses += 1,
        }
    }

    /// A read in place.
    fn crack_with(&mut self, k: &str, id: u32, before: u128) {
        let got = self
            .tree
            .crack_with(k, |n| {
                assert_eq!(n.key, k);
                if let Some(e) = n.expires_at {
                    assert!(nanos(e) > before, "{k}: expired nut lent");
                }
                (n.version, n.value.to_vec())
            })
            .unwrap();
        match got {
            Some((version, v)) => self.observe(k, id, version, &v),
            None => self.seen.misses += 1,
        }
    }

    /// A closure that panics while the guard is pinned: the guard must unpin (or the
    /// collector stalls) and no count may change.
    fn panic_in_closure(&mut self, k: &str, id: u32, i: u64) {
        let (tree, own) = (self.tree, &self.own);
        let res = catch_unwind(AssertUnwindSafe(|| {
            tree.crack_with(k, |n| {
                check(k, n.value);
                std::panic::panic_any(OnPurpose);
            })
        }));
        match res {
            Err(_) => self.seen.panics += 1,
            Ok(got) => {
                assert!(got.unwrap().is_none());
                // Absent: panic over this reader's own key instead.
                tree.stash(own, value(id, i)).unwrap();
                let res = catch_unwind(AssertUnwindSafe(|| {
                    tree.crack_with(own, |_| std::panic::panic_any(OnPurpose))
                }));
                assert!(res.is_err(), "{own} was just stashed");
                self.seen.panics += 1;
            }
        }
    }

    /// A closure that overwrites and tosses the very record it is reading: the borrowed
    /// view must stay intact until the closure returns.
    fn write_in_closure(&mut self, id: u32, i: u64) {
        let (tree, own) = (self.tree, &self.own);
        tree.stash(own, value(id, i)).unwrap();
        let done = tree
            .crack_with(own, |n| {
                let before = n.value.to_vec();
                for j in 0..70 {
                    tree.stash(own, value(id, i + j + 1)).unwrap();
                }
                tree.toss(own).unwrap();
                assert_eq!(n.value, &before[..], "{own}: borrowed bytes changed");
            })
            .unwrap();
        assert!(done.is_some());
        assert!(!tree.contains(own));
        self.seen.nested_writes += 1;
    }
}
