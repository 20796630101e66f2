//! The async API on real tokio runtimes (multi-thread and current-thread): results match the
//! blocking API, durable commits wait for their fsync without holding a thread, a dropped
//! future's commit still lands, and what was acknowledged survives a reopen.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::time::Duration;

use acorn::{AsyncTree, SyncPolicy, Tree};

fn multi(threads: usize) -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(threads)
        .enable_all()
        .build()
        .unwrap()
}

fn single() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

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
            let tree = Tree::builder()
                .path(dir.path())
                .sync(policy)
                .open()
                .unwrap();
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
    let tree = Tree::builder()
        .path(dir)
        .sync(SyncPolicy::Always)
        .open()
        .unwrap();
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
