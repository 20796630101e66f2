//! The engine against a `BTreeMap` model: random sequences of every operation; any
//! divergence fails with the shrunk sequence.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::path::Path;
use std::time::{Duration, SystemTime};

use acorn::{Error, ManualClock, SyncPolicy, Tree};
use proptest::prelude::*;

#[derive(Clone, Debug)]
enum Op {
    Stash(u8, u8),
    StashTtl(u8, u8, u8),
    Toss(u8),
    Crack(u8),
    Batch(Vec<(u8, Option<u8>)>, bool),
    Txn(Vec<(u8, Option<u8>)>, bool),
    Prefix(u8),
    Range(u8, u8),
    Query {
        min_len: u8,
        desc: bool,
        skip: u8,
        take: u8,
    },
    /// An unfiltered query: all (0), a prefix (1), a range (2) or newest first (3), with
    /// skip and take; run twice (the second answer comes from the query cache).
    Scan {
        kind: u8,
        a: u8,
        b: u8,
        skip: u8,
        take: Option<u8>,
    },
    Advance(u8),
    Purge,
    /// Durable runs only: close and reopen the directory.
    Reopen,
    /// Durable runs only: write a snapshot and drop the log.
    Compact,
}

fn key(k: u8) -> String {
    // Two "directories" so prefixes select real subsets.
    format!(
        "{}-{:03}",
        if k.is_multiple_of(2) { "even" } else { "odd" },
        k % 40
    )
}

fn value(v: u8) -> Vec<u8> {
    vec![b'a' + v % 26; usize::from(v % 7)]
}

fn op() -> impl Strategy<Value = Op> {
    let kv = proptest::collection::vec((any::<u8>(), proptest::option::of(any::<u8>())), 0..6);
    prop_oneof![
        4 => (any::<u8>(), any::<u8>()).prop_map(|(k, v)| Op::Stash(k, v)),
        1 => (any::<u8>(), any::<u8>(), 1u8..5).prop_map(|(k, v, t)| Op::StashTtl(k, v, t)),
        2 => any::<u8>().prop_map(Op::Toss),
        2 => any::<u8>().prop_map(Op::Crack),
        1 => (kv.clone(), proptest::bool::weighted(0.2)).prop_map(|(c, bad)| Op::Batch(c, bad)),
        1 => (kv, proptest::bool::weighted(0.2)).prop_map(|(c, abort)| Op::Txn(c, abort)),
        1 => any::<u8>().prop_map(Op::Prefix),
        1 => (any::<u8>(), any::<u8>()).prop_map(|(a, b)| Op::Range(a, b)),
        1 => (0u8..7, any::<bool>(), 0u8..5, 0u8..8).prop_map(|(min_len, desc, skip, take)| Op::Query { min_len, desc, skip, take }),
        1 => (0u8..4, any::<u8>(), any::<u8>(), 0u8..50, proptest::option::of(0u8..50))
            .prop_map(|(kind, a, b, skip, take)| Op::Scan { kind, a, b, skip, take }),
        1 => (0u8..4).prop_map(Op::Advance),
        1 => Just(Op::Purge),
        1 => Just(Op::Reopen),
        1 => Just(Op::Compact),
    ]
}

#[derive(Default)]
struct Model {
    /// key -> (value, version, expires at as seconds on the manual clock)
    items: BTreeMap<String, (Vec<u8>, u64, Option<u64>)>,
    /// Highest version ever given to each key, across tosses.
    last_version: BTreeMap<String, u64>,
    now: u64,
}

impl Model {
    fn visible(&self) -> BTreeMap<&String, &Vec<u8>> {
        self.items
            .iter()
            .filter(|(_, (_, _, exp))| exp.is_none_or(|e| e > self.now))
            .map(|(k, (v, _, _))| (k, v))
            .collect()
    }

    fn put(&mut self, k: String, v: Vec<u8>, version: u64, ttl: Option<u64>) {
        let last = self.last_version.entry(k.clone()).or_insert(0);
        assert!(
            version > *last,
            "version of {k} did not increase: {version} after {last}"
        );
        *last = version;
        self.items
            .insert(k, (v, version, ttl.map(|t| self.now + t)));
    }

    /// Drops the expired items, as a purge or compaction does.
    fn forget_expired(&mut self) {
        let now = self.now;
        self.items.retain(|_, (_, _, e)| e.is_none_or(|e| e > now));
    }
}

fn check(tree: &Tree, model: &Model) {
    let expect: Vec<(String, Vec<u8>)> = model
        .visible()
        .into_iter()
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    let got: Vec<(String, Vec<u8>)> = tree
        .iter()
        .map(|n| (n.key.into(), n.value.into()))
        .collect();
    assert_eq!(got, expect);
    // `next` and `next_ref` taking turns on one iterator see the same nuts.
    let mut it = tree.iter();
    let mut turns: Vec<(String, Vec<u8>)> = Vec::new();
    loop {
        let item = if turns.len().is_multiple_of(2) {
            it.next().map(|n| (n.key.into(), n.value.into()))
        } else {
            it.next_ref(|n| (n.key.to_string(), n.value.to_vec()))
        };
        let Some(item) = item else { break };
        turns.push(item);
    }
    assert_eq!(turns, expect);
    assert_eq!(tree.len(), expect.len());
    assert_eq!(tree.is_empty(), expect.is_empty());
}

fn open(clock: &ManualClock, dir: Option<&Path>) -> Tree {
    let b = Tree::builder().clock(clock.clone());
    match dir {
        Some(d) => b.path(d).sync(SyncPolicy::Never).open().unwrap(),
        None => b.open().unwrap(),
    }
}

/// An unfiltered query (all, prefix, range or newest) with skip and take, run twice (the
/// second answered from the query cache), against the model.
fn scan(tree: &Tree, m: &Model, kind: u8, (a, b): (u8, u8), skip: u8, take: Option<u8>) {
    let (a, b) = (key(a), key(b));
    let p = &a[..5];
    let mut expect: Vec<(&String, u64)> = m
        .visible()
        .into_iter()
        .filter(|(k, _)| match kind {
            1 => k.starts_with(p),
            2 => **k >= a && **k < b,
            _ => true,
        })
        .map(|(k, _)| (k, m.items[k].1))
        .collect();
    if kind == 3 {
        // Timestamps never fall on the manual clock: newest is highest version.
        expect.sort_by_key(|&(_, v)| std::cmp::Reverse(v));
    }
    let expect: Vec<(String, u64)> = expect
        .into_iter()
        .skip(skip.into())
        .take(take.map_or(usize::MAX, usize::from))
        .map(|(k, v)| (k.clone(), v))
        .collect();
    let query = || {
        let q = tree.query();
        let q = match kind {
            1 => q.prefix(p),
            2 => q.range(a.as_str()..b.as_str()),
            3 => q.newest(),
            _ => q,
        };
        let q = q.skip(skip.into());
        match take {
            Some(t) => q.take(t.into()),
            None => q,
        }
    };
    for _ in 0..2 {
        let got: Vec<(String, u64)> = query()
            .collect()
            .unwrap()
            .into_iter()
            .map(|n| (n.key.into(), n.version))
            .collect();
        assert_eq!(got, expect);
    }
    assert_eq!(query().count().unwrap(), expect.len());
}

/// The operations that only read, each checked against the model.
fn reads(tree: &Tree, m: &Model, op: Op) {
    match op {
        Op::Crack(k) => crack(tree, m, k),
        Op::Prefix(k) => prefix(tree, m, k),
        Op::Range(a, b) => range(tree, m, key(a), key(b)),
        Op::Query {
            min_len,
            desc,
            skip,
            take,
        } => query(tree, m, min_len, desc, skip, take),
        Op::Scan {
            kind,
            a,
            b,
            skip,
            take,
        } => scan(tree, m, kind, (a, b), skip, take),
        other => unreachable!("{other:?} writes"),
    }
}

fn run(ops: Vec<Op>, dir: Option<&Path>) {
    let start = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
    let clock = ManualClock::new(start);
    let mut tree = open(&clock, dir);
    let mut m = Model::default();
    for op in ops {
        let applied = match op {
            Op::Stash(k, v) => {
                let ver = tree.stash(key(k), value(v)).unwrap();
                m.put(key(k), value(v), ver, None);
                true
            }
            Op::StashTtl(k, v, t) => {
                let ver = tree
                    .stash_with_ttl(key(k), value(v), Duration::from_secs(t.into()))
                    .unwrap();
                m.put(key(k), value(v), ver, Some(t.into()));
                true
            }
            Op::Toss(k) => {
                let visible = m.visible().contains_key(&key(k));
                assert_eq!(tree.toss(key(k)).unwrap(), visible, "toss {}", key(k));
                m.items.remove(&key(k));
                true
            }
            Op::Batch(changes, bad) => batch(&tree, &mut m, changes, bad),
            Op::Txn(changes, abort) => transaction(&tree, &mut m, changes, abort),
            Op::Advance(s) => {
                clock.advance(Duration::from_secs(s.into()));
                m.now += u64::from(s);
                true
            }
            Op::Purge => {
                let expired = m.items.len() - m.visible().len();
                assert_eq!(tree.purge_expired().unwrap(), expired);
                m.forget_expired();
                true
            }
            Op::Reopen => {
                if dir.is_some() {
                    let version = tree.stats().version;
                    drop(tree);
                    tree = open(&clock, dir);
                    assert_eq!(tree.stats().version, version);
                }
                true
            }
            Op::Compact => {
                compact(&tree, &mut m);
                true
            }
            read => {
                reads(&tree, &m, read);
                true
            }
        };
        // A batch or transaction refused as it had to be changed nothing: no full check.
        if applied {
            check(&tree, &m);
        }
    }
}

fn crack(tree: &Tree, m: &Model, k: u8) {
    let got = tree.crack(key(k)).unwrap();
    let visible = m.visible().get(&key(k)).map(|v| (*v).clone());
    assert_eq!(got.as_ref().map(|n| n.value.to_vec()), visible);
    if let Some(n) = got {
        assert_eq!(n.version, m.items[&key(k)].1);
        assert_eq!(n.key, key(k));
    }
}

/// A batch of `changes`; with `bad`, also an empty key, and the commit must be refused
/// (false).
fn batch(tree: &Tree, m: &mut Model, changes: Vec<(u8, Option<u8>)>, bad: bool) -> bool {
    let mut b = tree.batch();
    for (k, v) in &changes {
        match v {
            Some(v) => b.stash(key(*k), value(*v)),
            None => b.toss(key(*k)),
        };
    }
    if bad {
        b.stash("", b"x");
        assert!(matches!(b.commit(), Err(Error::InvalidKey(_))));
        return false;
    }
    let ver = b.commit().unwrap();
    for (k, v) in changes {
        match v {
            Some(v) => {
                m.items.insert(key(k), (value(v), ver, None));
                m.last_version.insert(key(k), ver);
            }
            None => {
                m.items.remove(&key(k));
            }
        }
    }
    true
}

/// A transaction of `changes`; with `abort`, the closure aborts and it must commit
/// nothing (false).
fn transaction(tree: &Tree, m: &mut Model, changes: Vec<(u8, Option<u8>)>, abort: bool) -> bool {
    let out = tree.transaction(|tx| {
        for (k, v) in &changes {
            match v {
                Some(v) => tx.stash(key(*k), value(*v))?,
                None => {
                    tx.toss(key(*k))?;
                }
            }
        }
        if abort {
            return Err(Error::Aborted("model says no".into()));
        }
        Ok(())
    });
    if abort {
        assert!(matches!(out, Err(Error::Aborted(_))));
        return false;
    }
    out.unwrap();
    let ver = tree.stats().version;
    for (k, v) in changes {
        match v {
            Some(v) => {
                m.items.insert(key(k), (value(v), ver, None));
            }
            None => {
                m.items.remove(&key(k));
            }
        }
    }
    true
}

/// The visible keys `keep` selects, in order.
fn model_keys(m: &Model, keep: impl Fn(&str) -> bool) -> Vec<String> {
    m.visible()
        .keys()
        .filter(|x| keep(x.as_str()))
        .map(|x| (*x).clone())
        .collect()
}

fn prefix(tree: &Tree, m: &Model, k: u8) {
    let p = key(k)[..5].to_string();
    let got: Vec<String> = tree.prefix(&p).map(|n| n.key).collect();
    assert_eq!(got, model_keys(m, |x| x.starts_with(&p)));
}

fn range(tree: &Tree, m: &Model, a: String, b: String) {
    let got: Vec<String> = tree.range(a.as_str()..b.as_str()).map(|n| n.key).collect();
    assert_eq!(got, model_keys(m, |x| x >= a.as_str() && x < b.as_str()));
    let from: Vec<String> = tree.iter_from(&a).map(|n| n.key).collect();
    assert_eq!(from, model_keys(m, |x| x >= a.as_str()));
}

fn query(tree: &Tree, m: &Model, min_len: u8, desc: bool, skip: u8, take: u8) {
    let mut q = tree
        .query()
        .filter(move |n| n.value.len() >= usize::from(min_len));
    q = if desc {
        q.order_by_desc(|n| n.value.to_vec())
    } else {
        q.order_by(|n| n.value.to_vec())
    };
    let got: Vec<String> = q
        .skip(skip.into())
        .take(take.into())
        .collect()
        .unwrap()
        .into_iter()
        .map(|n| n.key)
        .collect();
    let mut all: Vec<(&String, &Vec<u8>)> = m
        .visible()
        .into_iter()
        .filter(|(_, v)| v.len() >= usize::from(min_len))
        .collect();
    all.sort_by(|a, b| if desc { b.1.cmp(a.1) } else { a.1.cmp(b.1) });
    let expect: Vec<String> = all
        .into_iter()
        .skip(skip.into())
        .take(take.into())
        .map(|(k, _)| k.clone())
        .collect();
    assert_eq!(got, expect);
    let count = tree
        .query()
        .filter_raw(move |v| v.len() >= usize::from(min_len))
        .count()
        .unwrap();
    assert_eq!(
        count,
        m.visible()
            .values()
            .filter(|v| v.len() >= usize::from(min_len))
            .count()
    );
}

/// A compaction purges expired nuts first (in memory too), then snapshots.
fn compact(tree: &Tree, m: &mut Model) {
    let purged_before = tree.stats().ops.expired_purged;
    tree.compact().unwrap();
    let expired = m.items.len() - m.visible().len();
    assert_eq!(
        tree.stats().ops.expired_purged - purged_before,
        expired as u64
    );
    m.forget_expired();
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(if std::env::var_os("CI").is_some() { 96 } else { 256 }))]
    #[test]
    fn engine_matches_btreemap_model(ops in proptest::collection::vec(op(), 1..120)) {
        run(ops, None);
    }

    #[test]
    fn durable_engine_matches_btreemap_model_across_reopens(ops in proptest::collection::vec(op(), 1..80)) {
        let dir = tempfile::tempdir().unwrap();
        run(ops, Some(dir.path()));
    }
}
