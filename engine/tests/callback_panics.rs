//! Panics in user callbacks (issue 25): secondary index extractors, query filters and
//! `order_by` keys, `crack_with` and `next_ref` closures, transaction closures and threads
//! consuming a `Subscription`, in memory and under every `SyncPolicy`, blocking and async.
//!
//! What must hold whatever a callback does: its own call fails (an extractor's commit, index
//! creation or open returns `Error::ExtractorPanicked` naming the index, having changed
//! nothing) or the panic reaches the caller who passed the closure (the Rust convention);
//! no other caller hangs or fails, index and data never disagree, every later write, read
//! and query works, and a reopen neither panics nor holds anything unacknowledged.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::collections::HashSet;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Mutex, Once};
use std::time::Duration;

use acorn::{Error, Event, NutRef, SyncPolicy, Tree, TreeBuilder};
use tempfile::TempDir;

/// What a deliberate panic says; the panic hook keeps these out of the test output.
const DELIBERATE: &str = "deliberate panic in a user callback";

/// Every panic message but the deliberate ones still reaches stderr.
fn quiet_deliberate_panics() {
    static HOOK: Once = Once::new();
    HOOK.call_once(|| {
        let default = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            let text = info
                .payload()
                .downcast_ref::<&str>()
                .map(ToString::to_string)
                .or_else(|| info.payload().downcast_ref::<String>().cloned())
                .unwrap_or_default();
            if !text.contains(DELIBERATE) {
                default(info);
            }
        }));
    });
}

/// How long anything here may take before the test calls it a hang.
const DEADLINE: Duration = Duration::from_secs(30);

/// Runs `f` on its own thread; fails the test if it panics or does not finish in time.
fn within<R: Send + 'static>(what: &str, f: impl FnOnce() -> R + Send + 'static) -> R {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let out = catch_unwind(AssertUnwindSafe(f));
        let _ = tx.send(out);
    });
    match rx.recv_timeout(DEADLINE) {
        Ok(Ok(out)) => out,
        Ok(Err(_)) => panic!("{what}: panicked"),
        Err(_) => panic!("{what}: still running after {DEADLINE:?} (hung)"),
    }
}

/// A tokio runtime with two worker threads.
fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

/// Where a tree lives: in memory, or durable under one policy.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Mode {
    Memory,
    Always,
    Group,
    Never,
}

const MODES: [Mode; 4] = [Mode::Memory, Mode::Always, Mode::Group, Mode::Never];

/// A place for a tree: its mode and, when durable, its directory (kept across reopens).
struct Place {
    mode: Mode,
    dir: Option<TempDir>,
}

impl Place {
    fn new(mode: Mode) -> Place {
        let dir = (mode != Mode::Memory).then(|| tempfile::tempdir().unwrap());
        Place { mode, dir }
    }

    fn builder(&self) -> TreeBuilder {
        let policy = match self.mode {
            Mode::Memory | Mode::Always => SyncPolicy::Always,
            Mode::Group => SyncPolicy::Group {
                max_delay: Duration::from_millis(1),
            },
            Mode::Never => SyncPolicy::Never,
        };
        let b = Tree::builder().sync(policy);
        match &self.dir {
            Some(d) => b.path(d.path()),
            None => b,
        }
    }

    /// Opens the tree with the `by_value` index kept by [`picky`].
    fn open(&self) -> Tree {
        self.open_with(picky)
    }

    /// Opens the tree with the `by_value` index kept by `extract`.
    fn open_with(
        &self,
        extract: impl Fn(&NutRef<'_>) -> Option<Vec<u8>> + Send + Sync + 'static,
    ) -> Tree {
        self.builder().index("by_value", extract).open().unwrap()
    }

    /// Reopens a durable tree (with `picky`'s index) and checks it holds exactly `model`,
    /// in its items and in its index; a tree in memory has nothing to reopen.
    fn reopen_holds(&self, tree: Tree, model: &BTreeMap<String, String>) {
        drop(tree);
        if self.dir.is_some() {
            let tree = self.open();
            assert_holds(&tree, model, self.mode);
        }
    }
}

/// Indexes a nut by its value, and panics on the value `boom`.
fn picky(n: &NutRef<'_>) -> Option<Vec<u8>> {
    assert!(n.value != b"boom", "{DELIBERATE}: extractor");
    Some(n.value.to_vec())
}

/// Items, index and point reads all agree with `model`.
fn assert_holds(tree: &Tree, model: &BTreeMap<String, String>, mode: Mode) {
    let items: BTreeMap<String, String> = tree
        .iter()
        .map(|n| {
            (
                n.key.to_string(),
                String::from_utf8(n.value.to_vec()).unwrap(),
            )
        })
        .collect();
    assert_eq!(&items, model, "{mode:?}: items");
    for (k, v) in model {
        assert_eq!(&*tree.crack(k).unwrap().unwrap().value, v.as_bytes());
        // Each value is unique here, so the index finds exactly its key.
        let hits: Vec<String> = tree
            .query()
            .index("by_value")
            .eq(v)
            .collect()
            .unwrap()
            .into_iter()
            .map(|n| n.key.to_string())
            .collect();
        assert_eq!(
            hits,
            std::slice::from_ref(k),
            "{mode:?}: index entry of {k}"
        );
    }
    let indexed = tree.query().index("by_value").all().count().unwrap();
    assert_eq!(indexed, model.len(), "{mode:?}: index entries");
    assert_eq!(tree.len(), model.len(), "{mode:?}: len");
}

fn assert_extractor_panicked<T: std::fmt::Debug>(r: acorn::Result<T>, key: &str) {
    match r {
        Err(Error::ExtractorPanicked {
            index,
            key: k,
            message,
        }) => {
            assert_eq!(index, "by_value");
            assert_eq!(k, key);
            assert!(message.contains(DELIBERATE), "{message}");
        }
        other => panic!("expected ExtractorPanicked on {key}, got {other:?}"),
    }
}

#[test]
fn a_panicking_extractor_fails_its_commit_and_leaves_the_tree_whole() {
    quiet_deliberate_panics();
    for mode in MODES {
        let place = Place::new(mode);
        let tree = place.open();
        let model = within("commits with a panicking extractor", move || {
            let mut model = BTreeMap::new();
            for (k, v) in [("a", "1"), ("b", "2"), ("gone", "3")] {
                tree.stash(k, v).unwrap();
                model.insert(k.to_string(), v.to_string());
            }
            // A stash, an overwrite, a batch and a transaction with a nut the extractor
            // panics on: each fails whole, before anything is logged or applied.
            assert_extractor_panicked(tree.stash("c", "boom"), "c");
            assert_extractor_panicked(tree.stash("a", "boom"), "a");
            let mut batch = tree.batch();
            batch.stash("d", "4").toss("b").stash("e", "boom");
            assert_extractor_panicked(batch.commit(), "e");
            let txn = tree.transaction(|tx| {
                tx.stash("f", "5")?;
                tx.stash("g", "boom")
            });
            assert_extractor_panicked(txn, "g");
            assert_holds(&tree, &model, mode);
            // The tree goes on as if nothing happened.
            assert!(tree.toss("gone").unwrap());
            model.remove("gone");
            let mut batch = tree.batch();
            batch.stash("d", "4").stash("a", "11");
            batch.commit().unwrap();
            model.insert("d".into(), "4".into());
            model.insert("a".into(), "11".into());
            tree.transaction(|tx| tx.stash("f", "5")).unwrap();
            model.insert("f".into(), "5".into());
            tree.flush().unwrap();
            assert_holds(&tree, &model, mode);
            (tree, model)
        });
        let (tree, model) = model;
        place.reopen_holds(tree, &model);
    }
}

#[test]
fn an_index_whose_extractor_panics_on_stored_items_is_refused_whole() {
    quiet_deliberate_panics();
    for mode in MODES {
        let place = Place::new(mode);
        let tree = place.builder().open().unwrap();
        tree.stash("a", "1").unwrap();
        tree.stash("bad", "boom").unwrap();
        assert_extractor_panicked(tree.index("by_value", picky), "bad");
        assert!(tree.index_names().is_empty(), "{mode:?}");
        // Replacing a working index with a panicking one keeps the working one.
        tree.index("by_value", |n: &NutRef<'_>| Some(n.value.to_vec()))
            .unwrap();
        assert_extractor_panicked(tree.index("by_value", picky), "bad");
        let hits = tree.query().index("by_value").eq("boom").count().unwrap();
        assert_eq!(hits, 1, "{mode:?}: the working index is still there");
        tree.stash("c", "3").unwrap();
        assert_eq!(tree.query().index("by_value").all().count().unwrap(), 3);
        drop(tree);
        let Some(dir) = &place.dir else { continue };
        // Rebuilding the index at open fails the open with the same error, not a panic,
        // and leaves the directory as it was: it opens without that index.
        assert_extractor_panicked(place.open_result(), "bad");
        let tree = Tree::builder().path(dir.path()).open().unwrap();
        assert_eq!(tree.len(), 3, "{mode:?}");
    }
}

impl Place {
    fn open_result(&self) -> acorn::Result<Tree> {
        self.builder().index("by_value", picky).open()
    }
}

#[test]
fn blocking_writers_never_wait_on_or_fail_for_another_writers_panicking_extractor() {
    quiet_deliberate_panics();
    for mode in MODES {
        let place = Place::new(mode);
        let tree = place.open();
        let t = tree.clone();
        let model = within("concurrent writers", move || {
            let handles: Vec<_> = (0..4)
                .map(|w| {
                    let tree = t.clone();
                    std::thread::spawn(move || {
                        let mut mine = BTreeMap::new();
                        for i in 0..40 {
                            let key = format!("w{w}-{i:02}");
                            if (i + w) % 7 == 3 {
                                assert_extractor_panicked(tree.stash(&key, "boom"), &key);
                            } else {
                                let value = format!("v{w}-{i}");
                                tree.stash(&key, &value).unwrap();
                                mine.insert(key, value);
                            }
                        }
                        mine
                    })
                })
                .collect();
            let mut model = BTreeMap::new();
            for h in handles {
                model.extend(h.join().expect("a writer panicked"));
            }
            model
        });
        assert_holds(&tree, &model, mode);
        place.reopen_holds(tree, &model);
    }
}

#[test]
fn every_async_writer_wakes_when_an_extractor_panics() {
    quiet_deliberate_panics();
    for mode in MODES {
        let place = Place::new(mode);
        let tree = place.open();
        let at = tree.to_async();
        let model = within("async writers", move || {
            runtime().block_on(async move {
                let tasks: Vec<_> = (0..64)
                    .map(|i| {
                        let at = at.clone();
                        tokio::spawn(async move {
                            let key = format!("k{i:02}");
                            let bad = i % 5 == 2;
                            let value = if bad { "boom".into() } else { format!("v{i}") };
                            let r = if i % 2 == 0 {
                                at.stash(&key, &value).await
                            } else {
                                let mut batch = at.batch();
                                batch.stash(&key, &value);
                                at.commit(batch).await
                            };
                            if bad {
                                assert_extractor_panicked(r, &key);
                                None
                            } else {
                                r.unwrap();
                                Some((key, value))
                            }
                        })
                    })
                    .collect();
                let mut model = BTreeMap::new();
                for t in tasks {
                    let done = tokio::time::timeout(DEADLINE, t)
                        .await
                        .expect("an async writer hung");
                    model.extend(done.expect("an async writer panicked"));
                }
                // The async API still works.
                at.stash("after", "a").await.unwrap();
                model.insert("after".to_string(), "a".to_string());
                at.flush().await.unwrap();
                model
            })
        });
        assert_holds(&tree, &model, mode);
        place.reopen_holds(tree, &model);
    }
}

/// Indexes a nut by its value the first time it sees it, and panics when asked again (an
/// impure extractor): it panics only when a commit looks up the entry of a nut it replaces.
/// It counts its panics in `panics`.
fn once_only(panics: &Arc<AtomicUsize>) -> impl Fn(&NutRef<'_>) -> Option<Vec<u8>> + Send + Sync {
    let seen = Mutex::new(HashSet::new());
    let panics = Arc::clone(panics);
    move |n: &NutRef<'_>| {
        if !seen.lock().unwrap().insert((n.key.to_string(), n.version)) {
            panics.fetch_add(1, Ordering::SeqCst);
            panic!("{DELIBERATE}: impure extractor");
        }
        Some(n.value.to_vec())
    }
}

#[test]
fn an_extractor_that_panics_on_a_replaced_nut_still_leaves_no_entry_behind() {
    // Overwrites and tosses ask the extractor again for the key of the nut they replace,
    // to find its entry; this one panics then. The commit goes ahead (it was logged, and
    // under `Always` fsynced, before it is applied), the entry is found by the record's
    // address, and no thread that applies commits (a writer, the log's sync thread) dies.
    quiet_deliberate_panics();
    for mode in MODES {
        let place = Place::new(mode);
        let panics = Arc::new(AtomicUsize::new(0));
        let tree = place.open_with(once_only(&panics));
        let at = tree.to_async();
        let (tree, model) = within("replacing nuts", move || {
            let rt = runtime();
            let mut model = BTreeMap::new();
            for i in 0..20 {
                tree.stash(format!("k{i:02}"), format!("a{i}")).unwrap();
            }
            for i in 0..20 {
                let (k, v) = (format!("k{i:02}"), format!("b{i}"));
                match i % 4 {
                    0 => assert!(tree.toss(&k).unwrap()),
                    1 => {
                        let mut batch = tree.batch();
                        batch.stash(&k, &v);
                        batch.commit().unwrap();
                        model.insert(k, v);
                    }
                    2 => {
                        rt.block_on(at.stash(&k, &v)).unwrap();
                        model.insert(k, v);
                    }
                    _ => {
                        tree.stash(&k, &v).unwrap();
                        model.insert(k, v);
                    }
                }
            }
            (tree, model)
        });
        // Each of the 20 replaced nuts was asked for again once.
        assert_eq!(panics.load(Ordering::SeqCst), 20, "{mode:?}");
        assert_holds(&tree, &model, mode);
        drop(tree);
        if place.dir.is_some() {
            let tree = place.open_with(once_only(&panics));
            assert_holds(&tree, &model, mode);
        }
    }
}

/// Stashes `n` nuts `k00`.. with values `v0`.., and returns the model of them.
fn fill(tree: &Tree, n: usize) -> BTreeMap<String, String> {
    (0..n)
        .map(|i| {
            let (k, v) = (format!("k{i:02}"), format!("v{i}"));
            tree.stash(&k, &v).unwrap();
            (k, v)
        })
        .collect()
}

/// Runs `f`, which must panic (a user closure's panic reaching the caller who passed it).
fn must_panic(what: &str, f: impl FnOnce()) {
    assert!(
        catch_unwind(AssertUnwindSafe(f)).is_err(),
        "{what} did not panic"
    );
}

#[test]
fn a_panicking_read_closure_reaches_its_caller_and_nothing_else() {
    // Query filters, `order_by` keys, `crack_with` and `next_ref` closures run on the
    // caller's thread without a lock: their panic reaches the caller (the Rust convention
    // for a closure one passes), and every other call, the query cache included, goes on.
    quiet_deliberate_panics();
    for mode in MODES {
        let place = Place::new(mode);
        let tree = place.open();
        let mut model = fill(&tree, 20);
        let writer = {
            let tree = tree.clone();
            std::thread::spawn(move || {
                for i in 0..200 {
                    tree.stash(format!("w{:02}", i % 10), format!("w{i}"))
                        .unwrap();
                }
            })
        };
        let boom = |what: &str| -> ! { panic!("{DELIBERATE}: {what}") };
        must_panic("filter", || {
            let _ = tree.query().filter(|_| boom("filter")).collect();
        });
        must_panic("filter_raw", || {
            let _ = tree.query().filter_raw(|_| boom("filter_raw")).count();
        });
        must_panic("named filter", || {
            let _ = tree
                .query()
                .prefix("k")
                .filter_named("odd", |_| boom("named"))
                .collect();
        });
        must_panic("order_by key", || {
            let _ = tree
                .query()
                .prefix("k")
                .order_by(|n| {
                    if n.key == "k07" {
                        boom("order_by")
                    }
                    n.key.len()
                })
                .collect();
        });
        must_panic("index query filter", || {
            let _ = tree
                .query()
                .index("by_value")
                .all()
                .filter(|_| boom("index filter"))
                .first();
        });
        must_panic("crack_with", || {
            let _ = tree.crack_with("k03", |_| boom("crack_with"));
        });
        must_panic("next_ref", || {
            let _ = tree.prefix("k").next_ref(|_| boom("next_ref"));
        });
        writer.join().expect("a writer failed beside the panics");
        // The panicking named filter cached nothing: the same name, now working, runs.
        let odd = |n: &NutRef<'_>| n.value.last().is_some_and(|b| b % 2 == 1);
        let odds = tree.query().prefix("k").filter_named("odd", odd);
        assert_eq!(odds.explain().cache, acorn::CacheUse::Miss, "{mode:?}");
        assert_eq!(odds.count().unwrap(), 10);
        let again = tree.query().prefix("k").filter_named("odd", odd).explain();
        assert_eq!(again.cache, acorn::CacheUse::Hit, "{mode:?}");
        for i in 0..10 {
            model.insert(format!("w{i:02}"), format!("w{}", 190 + i));
        }
        assert_holds(&tree, &model, mode);
        tree.stash("after", "x").unwrap();
        model.insert("after".into(), "x".into());
        place.reopen_holds(tree, &model);
    }
}

#[test]
fn a_panicking_transaction_closure_reaches_its_caller_and_commits_nothing() {
    // The closure runs before its commit, holding nothing: its panic reaches the caller
    // (blocking) or the task (async: `JoinError::is_panic`), nothing it buffered is
    // written, and other writers never wait on it.
    quiet_deliberate_panics();
    for mode in MODES {
        let place = Place::new(mode);
        let tree = place.open();
        let mut model = fill(&tree, 10);
        must_panic("transaction closure", || {
            let _ = tree.transaction(|tx| {
                tx.stash("k00", "changed")?;
                tx.crack("k01")?;
                panic!("{DELIBERATE}: transaction");
                #[allow(unreachable_code)]
                Ok(())
            });
        });
        // A closure that panics on its second run, after a conflict it caused itself.
        let mut runs = 0;
        must_panic("transaction closure on its retry", || {
            let _ = tree.transaction(|tx| {
                runs += 1;
                assert!(runs < 2, "{DELIBERATE}: transaction retry");
                tx.crack("k02")?;
                tree.stash("k02", "raced").unwrap();
                tx.stash("k03", "changed")
            });
        });
        model.insert("k02".into(), "raced".into());
        let at = tree.to_async();
        let (tree, model) = within("async transactions beside a panicking one", move || {
            runtime().block_on(async {
                let bad = tokio::spawn({
                    let at = at.clone();
                    async move {
                        at.transaction(|tx| {
                            tx.stash("k04", "changed")?;
                            panic!("{DELIBERATE}: async transaction");
                            #[allow(unreachable_code)]
                            Ok(())
                        })
                        .await
                    }
                });
                let good: Vec<_> = (0..8)
                    .map(|i| {
                        let at = at.clone();
                        tokio::spawn(async move {
                            at.transaction(move |tx| tx.stash(format!("t{i}"), format!("t{i}")))
                                .await
                                .unwrap();
                        })
                    })
                    .collect();
                assert!(bad.await.unwrap_err().is_panic());
                for g in good {
                    g.await.unwrap();
                }
            });
            for i in 0..8 {
                model.insert(format!("t{i}"), format!("t{i}"));
            }
            (tree, model)
        });
        assert_holds(&tree, &model, mode);
        assert_eq!(tree.stats().ops.transactions, 8, "{mode:?}");
        place.reopen_holds(tree, &model);
    }
}

#[test]
fn a_thread_that_panics_while_consuming_a_subscription_blocks_no_writer() {
    // Events are published under the state lock into each subscriber's own buffer: a
    // consumer that panics mid-stream drops its subscription and nothing else; writers
    // never wait for it, other subscribers get every event in order, and new ones work.
    quiet_deliberate_panics();
    for mode in MODES {
        let place = Place::new(mode);
        let tree = place.open();
        let doomed = tree.subscribe_with_capacity(4);
        let steady = tree.subscribe();
        let consumer = std::thread::spawn(move || {
            for (n, _) in doomed.iter().enumerate() {
                assert!(n < 3, "{DELIBERATE}: subscriber");
            }
        });
        let tree2 = tree.clone();
        let model = within("writes beside a panicking subscriber", move || {
            let model = fill(&tree2, 40);
            let mut batch = tree2.batch();
            batch.toss("k00").toss("k01");
            batch.commit().unwrap();
            model
        });
        assert!(
            consumer.join().is_err(),
            "{mode:?}: the consumer should panic"
        );
        let events: Vec<Event> = steady.try_iter().collect();
        assert_eq!(events.len(), 42, "{mode:?}: {events:?}");
        for (i, e) in events.iter().take(40).enumerate() {
            assert!(
                matches!(e, Event::Stashed { key, .. } if *key == format!("k{i:02}")),
                "{mode:?}: event {i}: {e:?}"
            );
        }
        let late = tree.subscribe();
        tree.stash("after", "x").unwrap();
        assert!(matches!(late.try_recv(), Ok(Event::Stashed { .. })));
        let mut model = model;
        model.remove("k00");
        model.remove("k01");
        model.insert("after".into(), "x".into());
        assert_holds(&tree, &model, mode);
        place.reopen_holds(tree, &model);
    }
}
