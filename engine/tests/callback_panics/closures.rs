//! User closures that panic: read closures (query filters, `order_by` keys, `crack_with`,
//! `next_ref`), transaction closures and a thread consuming a `Subscription`.

use std::collections::BTreeMap;
use std::panic::{catch_unwind, AssertUnwindSafe};

use acorn::{Event, NutRef, Tree};

use super::{assert_holds, quiet_deliberate_panics, runtime, within, Place, DELIBERATE, MODES};

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
