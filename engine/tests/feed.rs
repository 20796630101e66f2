//! The change feed (`Tree::changes_since`) against a model of what each commit did, in
//! memory (with a history) and durable (the log) across reopens and compactions; expiry
//! reported as such (also after a reopen); `Error::Compacted` exactly where the feed
//! stops; subscribers that fall behind read back from it; and a reader following the feed
//! while writers commit and compact.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::path::Path;
use std::time::{Duration, SystemTime};

use acorn::{Change, Error, Event, ManualClock, SyncPolicy, Tree};

#[path = "common/rng.rs"]
mod rng;
use rng::Rng;

#[path = "common/stop.rs"]
mod stop;
use stop::Stop;

#[path = "common/trees.rs"]
mod trees;

#[path = "common/did.rs"]
mod did;
use did::{did, Did};

/// Per version, what it did to each key, sorted by key (a purge removes keys in expiry
/// order; the model does not order them that way). Stable: two changes of one key in one
/// commit keep their order.
type History = BTreeMap<u64, Vec<(String, Did)>>;

fn by_version(changes: impl Iterator<Item = Change>) -> History {
    let mut h = History::new();
    for c in changes {
        h.entry(c.version()).or_default().push(did(&c));
    }
    for v in h.values_mut() {
        v.sort_by(|a, b| a.0.cmp(&b.0));
    }
    h
}

/// One change a commit asks for: a stash (value, TTL in seconds) or a toss (`None`).
type Op = (String, Option<(Vec<u8>, Option<u64>)>);

/// The model: what is stored (value, expiry in seconds of the manual clock) and what every
/// commit did.
#[derive(Default)]
struct Model {
    items: BTreeMap<String, (Vec<u8>, Option<u64>)>,
    now: u64,
    history: History,
    /// The oldest version the feed still holds.
    oldest: u64,
}

impl Model {
    fn expired(&self, key: &str) -> Option<bool> {
        self.items
            .get(key)
            .map(|(_, e)| e.is_some_and(|e| e <= self.now))
    }

    /// Records one commit's changes in order, as the tree settles them: a toss of nothing
    /// is no change, a toss of an expired nut an expiry.
    fn commit(&mut self, tree: &Tree, ops: &[Op]) {
        let mut did = Vec::new();
        for (k, op) in ops {
            match op {
                Some((v, ttl)) => {
                    self.items
                        .insert(k.clone(), (v.clone(), ttl.map(|t| self.now + t)));
                    did.push((k.clone(), Did::Stashed(v.clone())));
                }
                None => match self.expired(k) {
                    None => {}
                    Some(expired) => {
                        self.items.remove(k);
                        did.push((k.clone(), if expired { Did::Expired } else { Did::Tossed }));
                    }
                },
            }
        }
        if !did.is_empty() {
            did.sort_by(|a, b| a.0.cmp(&b.0));
            self.history.insert(tree.stats().version, did);
        }
    }

    fn purge(&mut self, tree: &Tree) {
        let expired: Vec<String> = self
            .items
            .iter()
            .filter(|(_, (_, e))| e.is_some_and(|e| e <= self.now))
            .map(|(k, _)| k.clone())
            .collect();
        let ops: Vec<_> = expired.into_iter().map(|k| (k, None)).collect();
        self.commit(tree, &ops);
    }
}

fn clock() -> ManualClock {
    ManualClock::new(SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000))
}

fn open(dir: Option<&Path>, clock: &ManualClock) -> Tree {
    let b = Tree::builder().clock(clock.clone());
    match dir {
        Some(d) => b
            .path(d)
            .sync(SyncPolicy::Never)
            .compact_factor(0)
            .open()
            .unwrap(),
        None => b.history(1_000_000).open().unwrap(),
    }
}

/// Checks `changes_since(v)` for several `v` against the model (and `Compacted` before the
/// oldest version held).
fn check(tree: &Tree, m: &Model, rng: &mut Rng) {
    let version = tree.stats().version;
    let mut points = vec![0, m.oldest.saturating_sub(1), version, version + 3];
    for _ in 0..3 {
        points.push(rng.below(version + 2));
    }
    for since in points {
        match tree.changes_since(since) {
            Ok(feed) => {
                assert!(
                    since + 1 >= m.oldest || since >= version,
                    "changes since {since} given, but the oldest held is {}",
                    m.oldest
                );
                assert_eq!(feed.until(), version);
                let expect: History = m
                    .history
                    .range(since + 1..)
                    .map(|(v, d)| (*v, d.clone()))
                    .collect();
                assert_eq!(by_version(feed), expect, "changes since {since}");
            }
            Err(Error::Compacted { oldest }) => {
                assert_eq!(oldest, m.oldest, "asked since {since}");
                assert!(since + 1 < oldest && since < version);
            }
            Err(e) => panic!("changes since {since}: {e}"),
        }
    }
}

fn run(seed: u64, dir: Option<&Path>) {
    let clock = clock();
    let mut tree = open(dir, &clock);
    let mut m = Model {
        oldest: 1,
        ..Model::default()
    };
    let mut rng = Rng(seed);
    for step in 0..300u64 {
        match rng.below(20) {
            0..=5 => {
                let (k, v) = (key(rng.below(12)), format!("v{step}").into_bytes());
                tree.stash(&k, &v).unwrap();
                m.commit(&tree, &[(k, Some((v, None)))]);
            }
            6..=7 => {
                let (k, v, ttl) = (
                    key(rng.below(12)),
                    format!("t{step}").into_bytes(),
                    1 + rng.below(5),
                );
                tree.stash_with_ttl(&k, &v, Duration::from_secs(ttl))
                    .unwrap();
                m.commit(&tree, &[(k, Some((v, Some(ttl))))]);
            }
            8..=10 => {
                let k = key(rng.below(12));
                tree.toss(&k).unwrap();
                m.commit(&tree, &[(k, None)]);
            }
            11..=13 => batch(&tree, &mut m, &mut rng, step),
            14 => transaction(&tree, &mut m, &mut rng, step),
            15..=16 => {
                let s = 1 + rng.below(3);
                clock.advance(Duration::from_secs(s));
                m.now += s;
            }
            17 => {
                tree.purge_expired().unwrap();
                m.purge(&tree);
            }
            18 => {
                tree.compact().unwrap();
                m.purge(&tree);
                if dir.is_some() {
                    // The snapshot holds everything up to here; the feed what comes after.
                    m.oldest = tree.stats().version + 1;
                }
            }
            _ => {
                if let Some(d) = dir {
                    let version = tree.stats().version;
                    drop(tree);
                    tree = open(Some(d), &clock);
                    assert_eq!(tree.stats().version, version);
                }
            }
        }
        check(&tree, &m, &mut rng);
    }
}

fn key(i: u64) -> String {
    format!("k{i:02}")
}

/// A batch of one to four stashes and tosses.
fn batch(tree: &Tree, m: &mut Model, rng: &mut Rng, step: u64) {
    let mut b = tree.batch();
    let mut ops = Vec::new();
    for _ in 0..1 + rng.below(4) {
        let k = key(rng.below(12));
        if rng.below(3) == 0 {
            b.toss(&k);
            ops.push((k, None));
        } else {
            let v = format!("b{step}").into_bytes();
            b.stash(&k, &v);
            ops.push((k, Some((v, None))));
        }
    }
    b.commit().unwrap();
    m.commit(tree, &ops);
}

/// A transaction tossing one key and stashing another (maybe the same).
fn transaction(tree: &Tree, m: &mut Model, rng: &mut Rng, step: u64) {
    let (a, b) = (key(rng.below(12)), key(rng.below(12)));
    let v = format!("x{step}").into_bytes();
    tree.transaction(|tx| {
        tx.toss(&a)?;
        tx.stash(&b, &v)
    })
    .unwrap();
    // A transaction buffers one write per key, in key order.
    let mut ops = BTreeMap::new();
    ops.insert(a, None);
    ops.insert(b, Some((v, None)));
    m.commit(tree, &ops.into_iter().collect::<Vec<_>>());
}

#[test]
fn the_feed_of_an_in_memory_tree_matches_a_model_of_its_commits() {
    for seed in [1, 7, 0x9E37_79B9] {
        run(seed, None);
    }
}

#[test]
fn the_feed_of_a_durable_tree_matches_the_model_across_reopens_and_compactions() {
    for seed in [3, 11, 0xDEAD_BEEF] {
        let dir = tempfile::tempdir().unwrap();
        run(seed, Some(dir.path()));
    }
}

#[test]
fn an_expiry_reads_back_as_one_after_a_reopen_and_a_toss_of_nothing_is_no_change() {
    let dir = tempfile::tempdir().unwrap();
    let clock = clock();
    let tree = open(Some(dir.path()), &clock);
    tree.stash_with_ttl("session", b"s", Duration::from_secs(5))
        .unwrap();
    tree.stash_with_ttl("cart", b"c", Duration::from_secs(5))
        .unwrap();
    tree.stash("user", b"u").unwrap();
    // Nothing under "ghost": no commit, no version.
    assert!(!tree.toss("ghost").unwrap());
    let mut b = tree.batch();
    b.toss("ghost").stash("user", b"u2");
    assert_eq!(b.commit().unwrap(), 4);
    clock.advance(Duration::from_secs(5));
    // A toss of an expired nut removes it as expired (it was invisible already).
    assert!(!tree.toss("cart").unwrap());
    assert_eq!(tree.purge_expired().unwrap(), 1);
    let expect = |feed: acorn::ChangeFeed| -> Vec<(u64, String, Did)> {
        feed.map(|c| {
            let (k, d) = did(&c);
            (c.version(), k, d)
        })
        .collect()
    };
    let want = vec![
        (1, "session".to_string(), Did::Stashed(b"s".to_vec())),
        (2, "cart".to_string(), Did::Stashed(b"c".to_vec())),
        (3, "user".to_string(), Did::Stashed(b"u".to_vec())),
        (4, "user".to_string(), Did::Stashed(b"u2".to_vec())),
        (5, "cart".to_string(), Did::Expired),
        (6, "session".to_string(), Did::Expired),
    ];
    assert_eq!(expect(tree.changes_since(0).unwrap()), want);
    drop(tree);
    // Read back from the log by a new process's tree: the expiries are still expiries.
    let tree = open(Some(dir.path()), &clock);
    assert_eq!(expect(tree.changes_since(0).unwrap()), want);
    let reader = Tree::open_read_only(dir.path()).unwrap();
    assert_eq!(expect(reader.changes_since(2).unwrap()), want[2..]);
}

#[test]
fn a_compaction_removes_expired_nuts_and_the_feed_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let clock = clock();
    let tree = open(Some(dir.path()), &clock);
    tree.stash_with_ttl("gone", b"g", Duration::from_secs(1))
        .unwrap();
    tree.stash_with_ttl("kept", b"k", Duration::from_secs(100))
        .unwrap();
    clock.advance(Duration::from_secs(2));
    let events = tree.subscribe();
    tree.compact().unwrap();
    // The purge is a commit of its own (version 3), before the snapshot.
    assert_eq!(events.try_recv(), Ok(Event::Expired { key: "gone".into() }));
    assert_eq!(tree.stats().version, 3);
    assert_eq!(tree.stats().ops.expired_purged, 1);
    assert!(matches!(
        tree.changes_since(2),
        Err(Error::Compacted { oldest: 4 })
    ));
    assert_eq!(tree.changes_since(3).unwrap().count(), 0);
    drop(tree);
    // The snapshot holds only what is left: the expired nut is gone from disk, not just
    // hidden.
    let tree = open(Some(dir.path()), &clock);
    assert_eq!(tree.stats().live_bytes, ("kept".len() + 1) as u64);
    assert_eq!(tree.purge_expired().unwrap(), 0);
}

#[test]
fn an_in_memory_tree_keeps_the_history_it_is_given_and_says_where_it_ends() {
    let none = Tree::open_memory();
    none.stash("a", b"1").unwrap();
    assert!(matches!(
        none.changes_since(0),
        Err(Error::Compacted { oldest: 2 })
    ));
    assert_eq!(none.changes_since(1).unwrap().count(), 0);
    let err = none.changes_since(0).unwrap_err().to_string();
    assert!(err.contains("oldest it holds is version 2"), "{err}");
    assert!(err.contains("since 1 or later"), "{err}");

    let tree = Tree::builder().history(4).open().unwrap();
    for i in 0..3 {
        tree.stash(format!("k{i}"), b"v").unwrap();
    }
    // A batch of three: four changes at most, so versions 1 and 2 go, whole.
    let mut b = tree.batch();
    b.stash("x", b"1").stash("y", b"2").stash("z", b"3");
    b.commit().unwrap();
    assert!(matches!(
        tree.changes_since(1),
        Err(Error::Compacted { oldest: 3 })
    ));
    let kept: Vec<u64> = tree
        .changes_since(2)
        .unwrap()
        .map(|c| c.version())
        .collect();
    assert_eq!(kept, [3, 4, 4, 4]);
}

#[test]
fn a_subscriber_that_falls_behind_reads_the_lost_commits_back_from_the_log() {
    let dir = tempfile::tempdir().unwrap();
    let tree = trees::durable(dir.path(), SyncPolicy::Never);
    let rx = tree.subscribe_with_capacity(4);
    for i in 0..50u64 {
        let mut b = tree.batch();
        b.stash(format!("a{i:02}"), b"v")
            .stash(format!("b{i:02}"), b"v");
        b.commit().unwrap();
        if i % 10 == 9 {
            tree.toss(format!("a{i:02}")).unwrap();
        }
    }
    // Far past its four events: every one still comes, in order, no `Lagged`.
    let got: Vec<Event> = rx.try_iter().collect();
    let mut want = Vec::new();
    let mut version = 0;
    for i in 0..50u64 {
        version += 1;
        for k in ["a", "b"] {
            want.push(Event::Stashed {
                key: format!("{k}{i:02}"),
                version,
            });
        }
        if i % 10 == 9 {
            version += 1;
            want.push(Event::Tossed {
                key: format!("a{i:02}"),
            });
        }
    }
    assert_eq!(got, want);
    // Past a compaction the log no longer holds what it lost: that is `Lagged`.
    for i in 0..10 {
        tree.stash(format!("c{i}"), b"v").unwrap();
    }
    tree.compact().unwrap();
    let got: Vec<Event> = rx.try_iter().collect();
    assert_eq!(got.len(), 5);
    assert_eq!(got[4], Event::Lagged { missed: 6 });
    tree.stash("after", b"v").unwrap();
    assert!(matches!(rx.try_recv(), Ok(Event::Stashed { key, .. }) if key == "after"));
}

#[test]
fn a_subscriber_of_an_in_memory_tree_reads_back_from_its_history() {
    let tree = Tree::builder().history(100).open().unwrap();
    let rx = tree.subscribe_with_capacity(2);
    for i in 0..50 {
        tree.stash(format!("k{i:03}"), b"v").unwrap();
    }
    let got: Vec<Event> = rx.try_iter().collect();
    assert_eq!(got.len(), 50);
    assert!(got.iter().all(|e| matches!(e, Event::Stashed { .. })));
    // Past the history: the loss is reported.
    for i in 0..150 {
        tree.stash(format!("m{i:03}"), b"v").unwrap();
    }
    let got: Vec<Event> = rx.try_iter().collect();
    assert_eq!(got[..2].len(), 2);
    assert_eq!(got[2], Event::Lagged { missed: 148 });
}

/// Writers commit batches and a compactor cuts the log under a reader that follows the
/// feed: every version comes once, in order, whole, or the reader is told it was
/// compacted away (and starts over from the tree's items).
#[test]
fn a_reader_follows_the_feed_while_writers_commit_and_compact() {
    let dir = tempfile::tempdir().unwrap();
    let tree = Tree::builder()
        .path(dir.path())
        .sync(SyncPolicy::Never)
        .compact_factor(0)
        .open()
        .unwrap();
    let stop = Stop::new();
    std::thread::scope(|s| {
        // The writers stop when the reader is done, or fails.
        let _stop = stop.on_drop();
        for w in 0..2 {
            let (tree, stop) = (&tree, &stop);
            s.spawn(move || {
                let mut i = 0u64;
                while stop.go_on(i, 50_000) {
                    let mut b = tree.batch();
                    for k in 0..3 {
                        b.stash(format!("w{w}-{i:06}-{k}"), format!("{i}"));
                    }
                    b.commit().unwrap();
                    i += 1;
                }
            });
        }
        s.spawn(|| {
            for _ in 0..15 {
                std::thread::sleep(Duration::from_millis(5));
                tree.compact().unwrap();
            }
        });
        let (mut last, mut versions, mut restarts) = (0u64, 0u64, 0);
        let deadline = std::time::Instant::now() + Duration::from_millis(300);
        while std::time::Instant::now() < deadline {
            match tree.changes_since(last) {
                Ok(feed) => {
                    let until = feed.until();
                    let by = by_version(feed);
                    for (v, changes) in &by {
                        assert_eq!(*v, last + 1, "versions run on without a gap");
                        assert_eq!(changes.len(), 3, "a batch comes whole: {changes:?}");
                        let stem = |k: &str| k.rsplit_once('-').unwrap().0.to_string();
                        assert!(changes.iter().all(|(k, _)| stem(k) == stem(&changes[0].0)));
                        last = *v;
                        versions += 1;
                    }
                    assert_eq!(last, until);
                }
                Err(Error::Compacted { oldest }) => {
                    assert!(oldest > last + 1);
                    last = tree.stats().version.max(oldest - 1);
                    restarts += 1;
                }
                Err(e) => panic!("{e}"),
            }
        }
        stop.stop();
        assert!(
            versions > 10,
            "followed only {versions} versions ({restarts} restarts)"
        );
    });
}

#[test]
fn the_feed_of_a_never_tree_holds_the_commits_still_in_its_log_buffer() {
    let tmp = tempfile::tempdir().unwrap();
    let tree = trees::never_buffered(tmp.path(), 1 << 20, Duration::from_secs(3600));
    for i in 0..40u64 {
        tree.stash(format!("k{i:02}"), format!("v{i}")).unwrap();
    }
    tree.toss("k00").unwrap();
    // A reader in another process sees what reached the files: nothing yet.
    let reader = Tree::open_read_only(tmp.path()).unwrap();
    assert_eq!(reader.stats().version, 0);
    let feed = tree.changes_since(0).unwrap();
    assert_eq!(feed.until(), 41);
    let changes: Vec<(String, Did)> = feed.map(|c| did(&c)).collect();
    assert_eq!(changes.len(), 41);
    for (i, (key, what)) in changes.iter().take(40).enumerate() {
        assert_eq!(key, &format!("k{i:02}"));
        assert!(
            matches!(what, Did::Stashed(v) if *v == format!("v{i}").into_bytes()),
            "{what:?}"
        );
    }
    assert!(
        matches!(&changes[40], (k, Did::Tossed) if k == "k00"),
        "{:?}",
        changes[40]
    );
    // Reading the feed wrote the buffer out: the reader catches up with a refresh.
    assert_eq!(reader.refresh().unwrap(), 41);
    assert_eq!(reader.changes_since(39).unwrap().count(), 2);
}
