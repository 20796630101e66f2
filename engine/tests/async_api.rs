//! The async API on real tokio runtimes (multi-thread and current-thread): results match the
//! blocking API, durable commits wait for their fsync without holding a thread, a dropped
//! future's commit still lands, and what was acknowledged survives a reopen.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::time::Duration;

use acorn::{AsyncTree, SyncPolicy, Tree};

#[path = "common/trees.rs"]
mod trees;

#[path = "common/runtime.rs"]
mod runtime;
use runtime::{multi, single};

fn contents(tree: &Tree) -> BTreeMap<String, Vec<u8>> {
    tree.iter()
        .map(|n| (n.key.to_string(), n.value.to_vec()))
        .collect()
}

/// Every async write against a `BTreeMap` model, in memory and durable under each policy.
async fn model_run(tree: AsyncTree) {
    let mut model = BTreeMap::new();
    let mut rng = 0x9E37_79B9_7F4A_7C15u64;
    for i in 0..400u64 {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        let key = format!("k{}", rng % 40);
        match rng % 5 {
            0 | 1 => {
                let v = format!("v{i}").into_bytes();
                let version = tree.stash(&key, &v).await.unwrap();
                assert_eq!(tree.crack(&key).unwrap().unwrap().version, version);
                model.insert(key, v);
            }
            2 => {
                let existed = tree.toss(&key).await.unwrap();
                assert_eq!(existed, model.remove(&key).is_some(), "toss {key}");
            }
            3 => {
                let mut b = tree.batch();
                b.stash(&key, b"batch")
                    .toss(format!("k{}", (rng >> 8) % 40));
                tree.commit(b).await.unwrap();
                model.insert(key, b"batch".to_vec());
                model.remove(&format!("k{}", (rng >> 8) % 40));
            }
            _ => {
                let other = format!("k{}", (rng >> 16) % 40);
                let moved = tree
                    .transaction(|tx| {
                        let v = tx.crack(&key)?;
                        if let Some(v) = &v {
                            tx.stash(&other, &*v.value)?;
                        }
                        Ok(v.map(|v| v.value.to_vec()))
                    })
                    .await
                    .unwrap();
                if let Some(v) = moved {
                    model.insert(other, v);
                }
            }
        }
        // Reads stay synchronous and see every acknowledged write at once.
        assert_eq!(contents(&tree), model, "after op {i}");
    }
}

#[test]
fn async_writes_match_a_model_in_memory_and_durable_on_both_runtimes() {
    let group = SyncPolicy::Group {
        max_delay: Duration::from_micros(200),
    };
    for rt in [multi(2), single()] {
        rt.block_on(model_run(Tree::open_memory().to_async()));
        for policy in [SyncPolicy::Always, group, SyncPolicy::Never] {
            let dir = tempfile::tempdir().unwrap();
            let tree = trees::durable(dir.path(), policy);
            rt.block_on(model_run(tree.to_async()));
            let before = contents(&tree);
            drop(tree);
            let reopened = Tree::open(dir.path()).unwrap();
            assert_eq!(contents(&reopened), before, "{policy:?}: lost on reopen");
        }
    }
}

/// Spawns `tasks` tasks that each stash `per_task` keys durably; returns the tree.
fn durable_tasks(rt: &tokio::runtime::Runtime, dir: &std::path::Path, tasks: usize) -> Tree {
    let tree = trees::durable(dir, SyncPolicy::Always);
    let at = tree.to_async();
    rt.block_on(async {
        let handles: Vec<_> = (0..tasks)
            .map(|t| {
                let at = at.clone();
                tokio::spawn(async move {
                    for i in 0..5 {
                        at.stash(format!("t{t:04}-{i}"), b"v").await.unwrap();
                    }
                })
            })
            .collect();
        for h in handles {
            h.await.unwrap();
        }
    });
    tree
}

#[test]
fn one_thread_keeps_hundreds_of_durable_commits_in_flight_sharing_fsyncs() {
    // On a current-thread runtime a commit that blocked its thread until its fsync would
    // leave every other task waiting: one fsync per commit. Waiting as a future, the
    // tasks' commits pile up behind each fsync and share the next one.
    let rt = single();
    let dir = tempfile::tempdir().unwrap();
    let tree = durable_tasks(&rt, dir.path(), 200);
    let stats = tree.stats();
    assert_eq!(tree.len(), 1000);
    assert!(
        stats.wal_syncs * 4 < 1000,
        "{} fsyncs for 1000 commits: commits did not share fsyncs",
        stats.wal_syncs
    );
    drop(tree);
    assert_eq!(Tree::open(dir.path()).unwrap().len(), 1000);
}

#[test]
fn a_thousand_tasks_on_two_threads_share_fsyncs_under_always() {
    let rt = multi(2);
    let dir = tempfile::tempdir().unwrap();
    let tree = durable_tasks(&rt, dir.path(), 1000);
    assert_eq!(tree.len(), 5000);
    assert!(tree.stats().wal_syncs < 2500, "{:?}", tree.stats());
    drop(tree);
    assert_eq!(Tree::open(dir.path()).unwrap().len(), 5000);
}

#[test]
fn blocking_writers_share_fsyncs_under_always_too() {
    let dir = tempfile::tempdir().unwrap();
    let tree = Tree::open(dir.path()).unwrap();
    std::thread::scope(|s| {
        for t in 0..8 {
            let tree = &tree;
            s.spawn(move || {
                for i in 0..50 {
                    let key = format!("t{t}-{i}");
                    tree.stash(&key, b"v").unwrap();
                    // Acknowledged means applied: visible at once.
                    assert!(tree.contains(&key));
                }
            });
        }
    });
    assert_eq!(tree.len(), 400);
    assert!(tree.stats().wal_syncs <= 400);
    drop(tree);
    assert_eq!(Tree::open(dir.path()).unwrap().len(), 400);
}

#[test]
fn a_dropped_durable_future_still_commits_whole() {
    let rt = multi(2);
    let dir = tempfile::tempdir().unwrap();
    let tree = Tree::open(dir.path()).unwrap();
    let at = tree.to_async();
    rt.block_on(async {
        for i in 0..20 {
            // Polled once (the commit is logged), then dropped before its fsync lands, in
            // most rounds.
            let key = format!("k{i}");
            let _ = tokio::time::timeout(Duration::ZERO, at.stash(&key, b"v")).await;
        }
        // The log's sync thread completes them without anyone waiting; flush waits for it.
        at.flush().await.unwrap();
    });
    assert_eq!(
        tree.len(),
        20,
        "commits of dropped futures were not applied"
    );
    drop((at, tree));
    assert_eq!(Tree::open(dir.path()).unwrap().len(), 20);
}

#[test]
fn an_unpolled_future_changes_nothing() {
    let rt = single();
    let tree = Tree::open_memory();
    let at = tree.to_async();
    let fut = at.stash("k", b"v");
    drop(fut);
    rt.block_on(at.flush()).unwrap();
    assert!(tree.is_empty());
}

#[test]
fn async_compact_flush_and_purge_work_and_survive_reopen() {
    let rt = multi(2);
    let dir = tempfile::tempdir().unwrap();
    let clock = acorn::ManualClock::default();
    let tree = Tree::builder()
        .path(dir.path())
        .clock(clock.clone())
        .open()
        .unwrap();
    let at = tree.to_async();
    rt.block_on(async {
        for i in 0..100 {
            at.stash(format!("k{i:03}"), vec![b'x'; 200]).await.unwrap();
        }
        at.stash_with_ttl("short", b"v", Duration::from_secs(1))
            .await
            .unwrap();
        clock.advance(Duration::from_secs(2));
        assert_eq!(at.purge_expired().await.unwrap(), 1);
        at.compact().await.unwrap();
        at.flush().await.unwrap();
    });
    let stats = tree.stats();
    assert_eq!(stats.compactions, 1);
    assert_eq!(tree.len(), 100);
    drop((at, tree));
    assert_eq!(Tree::open(dir.path()).unwrap().len(), 100);
}

#[test]
fn async_transactions_retry_on_conflict_and_count_every_increment() {
    let rt = multi(2);
    let dir = tempfile::tempdir().unwrap();
    let tree = Tree::open(dir.path()).unwrap();
    let at = tree.to_async();
    rt.block_on(async {
        let tasks: Vec<_> = (0..16)
            .map(|_| {
                let at = at.clone();
                tokio::spawn(async move {
                    for _ in 0..10 {
                        at.transaction(|tx| {
                            let n = tx
                                .crack("counter")?
                                .map_or(0, |n| String::from_utf8_lossy(&n.value).parse().unwrap());
                            tx.stash("counter", (n + 1u64).to_string())
                        })
                        .await
                        .unwrap();
                    }
                })
            })
            .collect();
        for t in tasks {
            t.await.unwrap();
        }
    });
    let n = tree.crack("counter").unwrap().unwrap();
    assert_eq!(&*n.value, b"160");
}

#[test]
fn a_poisoned_log_fails_async_writes_and_flush() {
    let rt = single();
    let root = tempfile::tempdir().unwrap();
    let dir = root.path().join("db");
    let tree = Tree::open(&dir).unwrap();
    let at = tree.to_async();
    rt.block_on(async {
        at.stash("a", b"1").await.unwrap();
        std::fs::remove_dir_all(&dir).unwrap();
        // The leader's check after the fsync notices the directory is gone: the waiting
        // future fails, and the commit never becomes visible under `Always`.
        assert!(at.stash("b", b"2").await.is_err());
        assert!(!tree.contains("b"));
        assert!(at.stash("c", b"3").await.is_err());
        assert!(at.flush().await.is_err());
    });
}

/// One script of writes (every kind, failures and a forced transaction conflict
/// included), written once and expanded for the blocking API (`$aw` empty) and for
/// `AsyncTree` (`$aw` = `.await`): the results it logs.
macro_rules! write_script {
    ($t:expr, $blocking:expr, $clock:expr, $batch:ident => $commit:expr, $($aw:tt)*) => {{
        let t = $t;
        let mut log: Vec<String> = Vec::new();
        log.push(format!("{:?}", t.stash("a", b"1")$($aw)*));
        log.push(format!("{:?}", t.stash("", b"no key")$($aw)*));
        log.push(format!("{:?}", t.stash_with_ttl("ttl", b"t", Duration::from_secs(5))$($aw)*));
        log.push(format!("{:?}", t.toss("a")$($aw)*));
        log.push(format!("{:?}", t.toss("never there")$($aw)*));
        let mut $batch = t.batch();
        $batch.stash("b1", b"x").stash("b2", b"y").toss("ttl").toss("absent");
        log.push(format!("{:?}", $commit));
        let mut $batch = t.batch();
        $batch.stash("ok", b"x").stash("", b"rejected");
        log.push(format!("{:?}", $commit));
        let mut $batch = t.batch();
        $batch.toss("absent");
        log.push(format!("{:?}", $commit));
        let mut first = true;
        let txn = t.transaction(|tx| {
            let seen = tx.crack("c")?.map(|n| n.version);
            if std::mem::take(&mut first) {
                $blocking.stash("c", b"meanwhile")?;
            }
            tx.stash("c", b"txn")?;
            tx.toss("b1")?;
            Ok(seen)
        })$($aw)*;
        log.push(format!("{txn:?}"));
        let aborted = t.transaction(|tx| {
            tx.stash("never", b"v")?;
            Err::<(), _>(acorn::Error::Aborted("changed my mind".into()))
        })$($aw)*;
        log.push(format!("{aborted:?}"));
        log.push(format!("{:?}", t.stash_with_ttl("short", b"s", Duration::from_secs(1))$($aw)*));
        $clock.advance(Duration::from_secs(2));
        log.push(format!("{:?}", t.purge_expired()$($aw)*));
        log.push(format!("{:?}", t.purge_expired()$($aw)*));
        log.push(format!("{:?}", t.flush()$($aw)*));
        log
    }};
}

#[test]
fn blocking_and_async_writes_return_count_and_announce_the_same() {
    let start = std::time::UNIX_EPOCH + Duration::from_secs(1_000_000);
    for policy in [None, Some(SyncPolicy::Always), Some(SyncPolicy::Never)] {
        let dirs = [tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap()];
        let clocks = [
            acorn::ManualClock::new(start),
            acorn::ManualClock::new(start),
        ];
        let trees: Vec<Tree> = dirs
            .iter()
            .zip(&clocks)
            .map(|(dir, clock)| {
                let builder = Tree::builder().clock(clock.clone());
                match policy {
                    None => builder.open().unwrap(),
                    Some(p) => builder.path(dir.path()).sync(p).open().unwrap(),
                }
            })
            .collect();
        let events: Vec<_> = trees.iter().map(Tree::subscribe).collect();
        let blocking = write_script!(&trees[0], &trees[0], clocks[0], b => b.commit(),);
        let at = trees[1].to_async();
        let asynchronous = single().block_on(async {
            write_script!(&at, &trees[1], clocks[1], b => at.commit(b).await, .await)
        });
        assert_eq!(blocking, asynchronous, "{policy:?}: results differ");
        assert!(
            blocking.iter().any(|r| r.contains("InvalidKey")),
            "the script tries failures: {blocking:?}"
        );
        let [b, a] = [&trees[0], &trees[1]].map(Tree::stats);
        assert_eq!(b.ops, a.ops, "{policy:?}: operation counts differ");
        assert_eq!(b.ops.transaction_retries, 1, "{policy:?}: {:?}", b.ops);
        assert_eq!((b.version, b.items), (a.version, a.items));
        let [eb, ea] = [&events[0], &events[1]].map(|s| s.try_iter().collect::<Vec<_>>());
        assert!(eb.len() > 10, "{policy:?}: {eb:?}");
        assert_eq!(eb, ea, "{policy:?}: events differ");
        assert_eq!(contents(&trees[0]), contents(&trees[1]));
    }
}

/// The change feed as a stream: what came before, then what comes, in order; a consumer
/// that falls far behind has the commits it missed read back from the log (on the
/// blocking pool); the stream ends when the tree is dropped.
#[test]
fn a_change_stream_gives_the_backlog_then_follows_and_catches_up_from_the_log() {
    use acorn::Change;
    let dir = tempfile::tempdir().unwrap();
    multi(2).block_on(async {
        let tree = trees::durable(dir.path(), SyncPolicy::Never).to_async();
        for i in 0..10 {
            tree.stash(format!("old{i}"), b"v").await.unwrap();
        }
        let mut stream = tree.changes_since(5);
        // 20,000 commits go by unread: far past the stream's buffer.
        for i in 0..20_000u64 {
            let mut b = tree.batch();
            b.stash(format!("new{i:05}"), i.to_string());
            if i % 1000 == 999 {
                b.toss(format!("new{:05}", i - 500));
            }
            tree.commit(b).await.unwrap();
        }
        let mut next_version = 6;
        let mut tossed = 0;
        while next_version <= 20_010 {
            let change = stream.next_change().await.unwrap().unwrap();
            assert_eq!(change.version(), next_version, "{change:?}");
            match &change {
                Change::Stashed(nut) if next_version <= 10 => {
                    assert_eq!(nut.key, format!("old{}", next_version - 1));
                }
                Change::Stashed(nut) => {
                    let i = next_version - 11;
                    assert_eq!(nut.key, format!("new{i:05}"));
                    assert_eq!(nut.value, i.to_string().as_bytes());
                    if i % 1000 != 999 {
                        next_version += 1;
                    }
                }
                Change::Tossed { key, .. } => {
                    let i = next_version - 11;
                    assert_eq!(*key, format!("new{:05}", i - 500));
                    tossed += 1;
                    next_version += 1;
                }
                other => panic!("{other:?}"),
            }
            if next_version <= 10 {
                next_version += 1;
            }
        }
        assert_eq!(tossed, 20);
        // Live: the next commit comes as it is applied.
        let v = tree.stash("live", b"x").await.unwrap();
        let change = stream.next_change().await.unwrap().unwrap();
        assert_eq!((change.version(), change.key().as_str()), (v, "live"));
        // Dropping the tree (every handle) ends the stream.
        drop(tree);
        assert!(stream.next_change().await.is_none());
    });
}

#[test]
fn a_change_stream_ends_with_compacted_where_the_feed_no_longer_reaches() {
    single().block_on(async {
        // In memory without a history: only what comes after the stream was made.
        let tree = Tree::open_memory().to_async();
        tree.stash("a", b"1").await.unwrap();
        let mut from_start = tree.changes_since(0);
        let mut from_now = tree.changes_since(1);
        let mut ahead = tree.changes_since(3);
        for k in ["b", "c", "d"] {
            tree.stash(k, b"2").await.unwrap();
        }
        // Read back when first polled: by then the feed starts after version 4.
        assert!(matches!(
            from_start.next_change().await,
            Some(Err(acorn::Error::Compacted { oldest: 5 }))
        ));
        assert!(from_start.next_change().await.is_none(), "an error ends it");
        for want in ["b", "c", "d"] {
            let c = from_now.next_change().await.unwrap().unwrap();
            assert_eq!(c.key(), want);
        }
        // Asked from version 3: versions 2 and 3 are skipped.
        assert_eq!(ahead.next_change().await.unwrap().unwrap().version(), 4);
        // A consumer that falls behind a small buffer and the history: the loss is an error.
        let tree = Tree::builder().history(10).open().unwrap().to_async();
        let mut slow = tree.changes_since(0);
        for i in 0..5000 {
            tree.stash(format!("k{i}"), b"v").await.unwrap();
        }
        let mut got = 0;
        loop {
            match slow.next_change().await {
                Some(Ok(_)) => got += 1,
                Some(Err(acorn::Error::Compacted { oldest })) => {
                    assert!(oldest > got + 1);
                    break;
                }
                other => panic!("{other:?}"),
            }
        }
        assert_eq!(got, 4096, "the stream's buffer");
        assert!(slow.next_change().await.is_none());
    });
}
