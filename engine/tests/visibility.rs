//! One visibility rule for every read path (issue 25): a read sees exactly the commits
//! applied to the tree's in-memory view, and under `SyncPolicy::Always` a commit is applied
//! only once its fsync landed. `crack`, iterators, queries and transactions (read-only or
//! not, blocking or async) all follow it: none sees a commit the others cannot, and none
//! sees an `Always` commit before it is durable.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use acorn::{SyncPolicy, Tree};

#[path = "common/runtime.rs"]
mod runtime;
#[path = "common/trees.rs"]
mod trees;

fn number(v: &[u8]) -> u64 {
    std::str::from_utf8(v).unwrap().parse().unwrap()
}

/// The value under `k` as every read path sees it: crack, iterator, query, a read-only
/// transaction.
fn every_read(tree: &Tree, k: &str) -> [Option<Vec<u8>>; 4] {
    let crack = tree.crack(k).unwrap().map(|n| n.value.to_vec());
    let iter = tree.prefix(k).next().map(|n| n.value.to_vec());
    let query = tree
        .query()
        .prefix(k)
        .first()
        .unwrap()
        .map(|n| n.value.to_vec());
    let txn = tree
        .transaction(|tx| Ok(tx.crack(k)?.map(|n| n.value.to_vec())))
        .unwrap();
    [crack, iter, query, txn]
}

#[test]
fn after_a_failed_always_commit_every_read_path_sees_the_old_value() {
    let root = tempfile::tempdir().unwrap();
    let dir = root.path().join("db");
    let tree = Tree::open(&dir).unwrap();
    tree.stash("k", "old").unwrap();
    // Moved away under the open tree: the next fsync's check poisons the log, and the
    // commit it covered is never acknowledged, so never visible.
    std::fs::rename(&dir, root.path().join("moved")).unwrap();
    assert!(tree.stash("k", "new").is_err());
    let old = Some(b"old".to_vec());
    assert_eq!(
        every_read(&tree, "k"),
        [old.clone(), old.clone(), old.clone(), old]
    );
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let at = tree.to_async();
    let seen = rt
        .block_on(at.transaction(|tx| Ok(tx.crack("k")?.map(|n| n.value.to_vec()))))
        .unwrap();
    assert_eq!(
        seen.as_deref(),
        Some(&b"old"[..]),
        "async read-only transaction"
    );
    // A transaction that writes is refused like every write after the failure.
    assert!(tree.transaction(|tx| tx.stash("k", "newer")).is_err());
}

#[test]
fn no_read_path_runs_ahead_of_another() {
    // One writer stashes 1, 2, 3, ... under `n` (each commit waits for its fsync before it
    // is applied); readers alternate read paths. Reads only move forward: whatever one
    // path saw, a later read by any path sees that or newer.
    for policy in [
        SyncPolicy::Always,
        SyncPolicy::Group {
            max_delay: Duration::from_millis(1),
        },
    ] {
        let dir = tempfile::tempdir().unwrap();
        let tree = trees::durable(dir.path(), policy);
        tree.stash("n", "0").unwrap();
        let stop = AtomicBool::new(false);
        std::thread::scope(|s| {
            s.spawn(|| {
                for i in 1..=300u64 {
                    tree.stash("n", i.to_string()).unwrap();
                }
                stop.store(true, Ordering::SeqCst);
            });
            s.spawn(|| {
                let mut last = 0;
                let mut round = 0u64;
                while !stop.load(Ordering::SeqCst) {
                    round += 1;
                    for (path, read) in every_read(&tree, "n").into_iter().enumerate() {
                        let seen = number(&read.unwrap());
                        assert!(
                            seen >= last,
                            "{policy:?} round {round}: read path {path} (0 crack, 1 iter, 2 \
                             query, 3 transaction) saw {seen} after {last}"
                        );
                        last = seen;
                    }
                }
            });
        });
    }
}

#[test]
fn transactions_on_a_hot_key_wait_for_pending_commits_and_lose_nothing() {
    // Under `Always` a transaction reads only durable commits; one that read a key a
    // pending commit changes waits for that commit's fsync and runs again (it neither
    // reads the pending value nor fails with `Conflict`). Blocking threads and async
    // tasks increment one counter together; every increment lands once.
    let dir = tempfile::tempdir().unwrap();
    let tree = Tree::open(dir.path()).unwrap();
    let increment = |tx: &mut acorn::Txn<'_>| {
        let n = tx.crack("counter")?.map_or(0, |n| number(&n.value));
        tx.stash("counter", (n + 1).to_string())
    };
    let rt = runtime::multi(2);
    let at = tree.to_async();
    std::thread::scope(|s| {
        for _ in 0..3 {
            s.spawn(|| {
                for _ in 0..40 {
                    tree.transaction(increment).unwrap();
                }
            });
        }
        s.spawn(|| {
            rt.block_on(async {
                let tasks: Vec<_> = (0..8)
                    .map(|_| {
                        let at = at.clone();
                        tokio::spawn(async move {
                            for _ in 0..15 {
                                at.transaction(increment).await.unwrap();
                            }
                        })
                    })
                    .collect();
                for t in tasks {
                    t.await.unwrap();
                }
            });
        });
    });
    assert_eq!(number(&tree.crack("counter").unwrap().unwrap().value), 240);
    assert_eq!(tree.stats().ops.transactions, 240);
}

#[test]
fn a_cached_query_never_answers_older_than_a_crack_just_seen() {
    // A batch makes all its keys visible to `crack` at once (its overlay), then applies
    // them to the tree and drops the cached results it touched. A cached query answered
    // in between would return the result from before the batch after a `crack` on the
    // same thread had already seen the batch. The batch is wide so that window is long;
    // the writer pauses between batches so the reader's query gets cached again.
    let tree = Tree::builder().open().unwrap();
    tree.stash("n", "0").unwrap();
    let stop = AtomicBool::new(false);
    std::thread::scope(|s| {
        s.spawn(|| {
            for i in 1..=150u64 {
                let mut batch = tree.batch();
                batch.stash("n", i.to_string());
                for j in 0..2_000 {
                    batch.stash(format!("z{j:05}"), i.to_string());
                }
                batch.commit().unwrap();
                std::thread::sleep(Duration::from_micros(300));
            }
            stop.store(true, Ordering::SeqCst);
        });
        s.spawn(|| {
            let mut round = 0u64;
            while !stop.load(Ordering::SeqCst) {
                round += 1;
                let cracked = number(&tree.crack("n").unwrap().unwrap().value);
                let queried = tree.query().prefix("n").collect().unwrap();
                let queried = number(&queried[0].value);
                assert!(
                    queried >= cracked,
                    "round {round}: the cached query answered {queried} after crack saw {cracked}"
                );
            }
        });
    });
    assert!(
        tree.stats().query_cache_hits > 0,
        "the query was never cached"
    );
}
