//! Read-only trees (`Tree::open_read_only`, `refresh`): beside a writer's lock; writes
//! refused with `Error::ReadOnly`; refresh follows the writer across segments, compactions
//! and reopens, and is heard by subscribers; a reader beside a writer that compacts all the
//! time only ever sees a prefix of what the writer committed, whole. The writers hand
//! each commit to the OS as it is logged (`log_buffer(0, _)`): a reader sees what reached
//! the files (a buffered `Never` writer's commits once its buffer is written out:
//! `tests/feed.rs`, `tests/checkpoint.rs`).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::Duration;

use acorn::{Error, Event, IndexKey, Tree};

#[path = "common/stop.rs"]
mod stop;
use stop::Stop;

#[path = "common/trees.rs"]
mod trees;

fn contents(tree: &Tree) -> BTreeMap<String, Vec<u8>> {
    tree.iter()
        .map(|n| (n.key.to_string(), n.value.to_vec()))
        .collect()
}

fn writer(dir: &std::path::Path) -> Tree {
    trees::never_unbuffered(dir)
}

#[test]
fn a_read_only_tree_opens_beside_the_writer_and_refuses_every_write() {
    let dir = tempfile::tempdir().unwrap();
    let w = writer(dir.path());
    w.stash("k", b"v").unwrap();
    // The writer holds the lock; a second writer is refused, a reader is not.
    assert!(matches!(Tree::open(dir.path()), Err(Error::Locked { .. })));
    let r = Tree::open_read_only(dir.path()).unwrap();
    let refused = |what: &str, result: acorn::Result<()>| match result {
        Err(Error::ReadOnly { path }) => assert_eq!(path, dir.path(), "{what}"),
        other => panic!("{what}: expected ReadOnly, got {other:?}"),
    };
    refused("stash", r.stash("k", b"x").map(drop));
    refused(
        "stash_with_ttl",
        r.stash_with_ttl("k", b"x", Duration::from_secs(1))
            .map(drop),
    );
    refused("toss", r.toss("k").map(drop));
    let mut b = r.batch();
    b.stash("x", b"y");
    refused("batch", b.commit().map(drop));
    refused("transaction", r.transaction(|tx| tx.stash("x", b"y")));
    refused("purge_expired", r.purge_expired().map(drop));
    refused("compact", r.compact());
    let err = r.stash("k", b"x").unwrap_err().to_string();
    assert!(err.contains("read-only"), "{err}");
    // Reads, indexes (in memory), flush (nothing to write) work.
    assert_eq!(r.crack("k").unwrap().unwrap().value, b"v");
    r.flush().unwrap();
    r.index("by_value", |n| Some(n.value.to_vec())).unwrap();
    assert_eq!(r.query().index("by_value").eq(b"v").count().unwrap(), 1);
    w.stash("k", b"v2").unwrap();
    // The writer never saw the reader.
    assert_eq!(r.refresh().unwrap(), 2);
    assert_eq!(r.query().index("by_value").eq(b"v2").count().unwrap(), 1);
    // A read-only tree needs a directory; salvage would change it.
    assert!(Tree::builder().read_only().open().is_err());
    assert!(matches!(
        Tree::builder()
            .path(dir.path())
            .read_only()
            .recovery(acorn::RecoveryMode::Salvage)
            .open(),
        Err(Error::ReadOnly { .. })
    ));
    // No directory: an error naming it.
    let missing = dir.path().join("missing");
    let err = Tree::open_read_only(&missing).unwrap_err();
    assert!(err.to_string().contains("missing"), "{err}");
    assert!(!missing.exists(), "a read-only open created the directory");
}

#[test]
fn refresh_follows_the_writer_across_segments_compactions_and_reopens() {
    let dir = tempfile::tempdir().unwrap();
    let mut w = writer(dir.path());
    let r = Tree::open_read_only(dir.path()).unwrap();
    let events = r.subscribe();
    assert_eq!(r.len(), 0);
    let mut step = 0u64;
    let mut write = |w: &Tree| {
        for _ in 0..20 {
            step += 1;
            w.stash(format!("k{:02}", step % 30), format!("v{step}"))
                .unwrap();
            if step.is_multiple_of(7) {
                w.toss(format!("k{:02}", (step + 3) % 30)).unwrap();
            }
        }
    };
    for round in 0..12 {
        write(&w);
        match round % 4 {
            // A compaction: the segment the reader read is removed.
            1 => w.compact().unwrap(),
            // A compaction that fails after cutting the log: a sealed segment to follow.
            2 => {
                let blocker = dir.path().join("snapshot.tmp");
                std::fs::create_dir(&blocker).unwrap();
                std::fs::write(blocker.join("x"), b"x").unwrap();
                assert!(w.compact().is_err());
                std::fs::remove_dir_all(&blocker).unwrap();
                write(&w);
            }
            // The writer closes and reopens (its open tidies the directory).
            3 => {
                drop(w);
                w = writer(dir.path());
            }
            _ => {}
        }
        let version = r.refresh().unwrap();
        assert_eq!(version, w.stats().version, "round {round}");
        assert_eq!(contents(&r), contents(&w), "round {round}");
        assert_eq!(r.len(), w.len());
    }
    // Every commit was heard, in order.
    let heard = events
        .try_iter()
        .filter(|e| matches!(e, Event::Stashed { .. } | Event::Tossed { .. }))
        .count();
    assert!(heard >= 12 * 20, "{heard} events");
    // The reader's feed reads the writer's log.
    let last = w.stats().version;
    w.stash("feed", b"x").unwrap();
    r.refresh().unwrap();
    let feed: Vec<_> = r.changes_since(last).unwrap().collect();
    assert_eq!(feed.len(), 1);
    assert_eq!(feed[0].key(), "feed");
}

#[test]
fn a_read_only_tree_opens_a_directory_no_writer_has_finished_creating() {
    let dir = tempfile::tempdir().unwrap();
    // Empty: an empty tree, which finds the writer's commits once there are some.
    let r = Tree::open_read_only(dir.path()).unwrap();
    assert_eq!(r.refresh().unwrap(), 0);
    let w = writer(dir.path());
    w.stash("a", b"1").unwrap();
    assert_eq!(r.refresh().unwrap(), 1);
    assert_eq!(r.crack("a").unwrap().unwrap().value, b"1");
}

/// Writers commit batches of three and compact all the time (a compaction every few
/// milliseconds removes segments and renames snapshots in); readers open read-only again
/// and again and refresh: every view holds whole batches, exactly those up to its version,
/// never less than what was acknowledged before it was read, and a refreshed view never
/// goes back.
#[test]
fn a_reader_beside_a_writer_that_compacts_only_ever_sees_a_prefix_of_its_history() {
    let dir = tempfile::tempdir().unwrap();
    let w = trees::never_unbuffered(dir.path());
    w.index("by_batch", |n| {
        Some(IndexKey::str(std::str::from_utf8(n.value).unwrap()))
    })
    .unwrap();
    let acked = Mutex::new(BTreeMap::<u64, u64>::new()); // version → batch id
    let high = AtomicU64::new(0);
    let stop = Stop::new();
    let views = AtomicU64::new(0);
    std::thread::scope(|s| {
        // The writers and the compactor stop after the readers' time, or when this thread
        // fails.
        let _stop = stop.on_drop();
        for t in 0..2u64 {
            let (w, acked, high, stop) = (&w, &acked, &high, &stop);
            s.spawn(move || commit_batches(w, t, acked, high, stop));
        }
        s.spawn(|| {
            let mut round = 0;
            while stop.go_on(round, 1_000) {
                round += 1;
                std::thread::sleep(Duration::from_millis(2));
                w.compact().unwrap();
            }
        });
        let (high, dir, acked, views) = (&high, dir.path(), &acked, &views);
        // Each reader reads for 400 ms and at least `MIN_VIEWS` views, however slow a
        // loaded machine makes them (a view reads the whole, growing tree).
        let readers: Vec<_> = (0..2)
            .map(|_| {
                s.spawn(move || {
                    let deadline = std::time::Instant::now() + Duration::from_millis(400);
                    let mut mine = 0;
                    while std::time::Instant::now() < deadline || mine < MIN_VIEWS {
                        mine += 6;
                        let at_least = high.load(Ordering::SeqCst);
                        let r = Tree::open_read_only(dir).unwrap();
                        let mut last = check_view(&r, at_least, acked, views);
                        for _ in 0..5 {
                            let at_least = high.load(Ordering::SeqCst);
                            let v = r.refresh().unwrap();
                            assert!(v >= last, "a refresh went back from {last} to {v}");
                            last = check_view(&r, at_least, acked, views);
                        }
                    }
                })
            })
            .collect();
        for r in readers {
            r.join().unwrap();
        }
        stop.stop();
    });
    assert!(
        views.load(Ordering::Relaxed) >= 2 * MIN_VIEWS,
        "{views:?} views"
    );
    assert!(high.load(Ordering::Relaxed) > 0, "no batch was committed");
}

/// Views each reader of the test above takes at least.
const MIN_VIEWS: u64 = 6;

/// Writer `t`: commits batches of three keys, each valued with the batch's id, recording
/// each acknowledged one in `acked` (version → id) and the highest version in `high`.
fn commit_batches(
    w: &Tree,
    t: u64,
    acked: &Mutex<BTreeMap<u64, u64>>,
    high: &AtomicU64,
    stop: &Stop,
) {
    let mut i = 0;
    while stop.go_on(i, 50_000) {
        let id = t * 1_000_000 + i;
        let mut b = w.batch();
        for k in 0..3 {
            b.stash(format!("b{id}-{k}"), format!("{id}"));
        }
        let v = b.commit().unwrap();
        acked.lock().unwrap().insert(v, id);
        high.fetch_max(v, Ordering::SeqCst);
        i += 1;
    }
}

/// A read-only view holds whole batches, exactly those acknowledged up to its version,
/// and is at `at_least` or later; counted in `views`. Returns its version.
fn check_view(
    r: &Tree,
    at_least: u64,
    acked: &Mutex<BTreeMap<u64, u64>>,
    views: &AtomicU64,
) -> u64 {
    let version = r.stats().version;
    assert!(
        version >= at_least,
        "view at {version}, {at_least} acknowledged before"
    );
    let mut held: BTreeMap<u64, Vec<u64>> = BTreeMap::new();
    for n in r.iter() {
        assert!(n.version <= version);
        held.entry(n.version)
            .or_default()
            .push(std::str::from_utf8(&n.value).unwrap().parse().unwrap());
    }
    let acked = acked.lock().unwrap();
    for (v, id) in acked.range(..=version) {
        assert_eq!(
            held.get(v),
            Some(&vec![*id; 3]),
            "batch {id} at version {v}"
        );
    }
    assert_eq!(held.len(), version as usize, "versions beyond the batches");
    views.fetch_add(1, Ordering::Relaxed);
    version
}

/// The directory replaced under a reader by another tree: a refresh refuses it, and so
/// does every refresh after it, even once the new tree has more commits than the view;
/// the view stays as it was (never a mix of the two trees), until opened again.
#[test]
fn a_refresh_refuses_a_replaced_directory_and_keeps_refusing_it() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("tree");
    {
        let w = writer(&path);
        for i in 0..10 {
            w.stash(format!("k{i}"), b"old").unwrap();
        }
    }
    let r = Tree::open_read_only(&path).unwrap();
    let view = contents(&r);
    std::fs::remove_dir_all(&path).unwrap();
    std::fs::create_dir(&path).unwrap();
    let refused = |r: &Tree| matches!(r.refresh(), Err(Error::Corrupt { .. }));
    assert!(refused(&r), "an empty directory where the tree was");
    let w = writer(&path);
    w.stash("new", b"v").unwrap();
    assert!(refused(&r), "a tree at version 1 where the view is at 10");
    for i in 0..20 {
        w.stash(format!("n{i}"), b"v").unwrap();
    }
    assert!(
        refused(&r),
        "a tree past the view's version, but another tree"
    );
    assert_eq!(contents(&r), view);
    assert_eq!(r.stats().version, 10);
    let again = Tree::open_read_only(&path).unwrap();
    assert_eq!(contents(&again), contents(&w));
}

/// An older checkpoint restored over the directory while a reader follows it: the next
/// refresh notices the segment it was reading is another file now, and refuses.
#[test]
fn a_refresh_notices_an_older_checkpoint_restored_over_the_directory() {
    let base = tempfile::tempdir().unwrap();
    let path = base.path().join("tree");
    let backup = base.path().join("backup");
    let w = writer(&path);
    w.stash("a", b"1").unwrap();
    w.checkpoint(&backup).unwrap();
    w.stash("b", b"2").unwrap();
    w.stash("c", b"3").unwrap();
    let r = Tree::open_read_only(&path).unwrap();
    let view = contents(&r);
    assert_eq!(view.len(), 3);
    drop(w);
    std::fs::remove_dir_all(&path).unwrap();
    std::fs::rename(&backup, &path).unwrap();
    assert!(matches!(r.refresh(), Err(Error::Corrupt { .. })));
    let w = writer(&path);
    w.stash("d", b"4").unwrap();
    w.stash("e", b"5").unwrap();
    w.stash("f", b"6").unwrap();
    assert!(matches!(r.refresh(), Err(Error::Corrupt { .. })));
    assert_eq!(contents(&r), view, "the view stays whole as it was");
}
