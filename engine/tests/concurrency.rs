//! Several threads at once: transactional increments, atomic batches, snapshot iteration.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Barrier};
use std::thread;

use acorn::Tree;

fn read_counter(tree: &Tree, key: &str) -> u64 {
    tree.crack(key).unwrap().map_or(0, |n| {
        std::str::from_utf8(&n.value).unwrap().parse().unwrap()
    })
}

#[test]
fn transactional_increments_are_never_lost() {
    let tree = Tree::open_memory();
    let threads = 4;
    let per_thread = 500;
    let barrier = Arc::new(Barrier::new(threads));
    let handles: Vec<_> = (0..threads)
        .map(|_| {
            let tree = tree.clone();
            let barrier = Arc::clone(&barrier);
            thread::spawn(move || {
                barrier.wait();
                for _ in 0..per_thread {
                    tree.transaction(|tx| {
                        let n = tx.crack("counter")?.map_or(0, |n| {
                            std::str::from_utf8(&n.value)
                                .unwrap()
                                .parse::<u64>()
                                .unwrap()
                        });
                        tx.stash("counter", (n + 1).to_string())?;
                        Ok(())
                    })
                    .unwrap();
                }
            })
        })
        .collect();
    for h in handles {
        h.join().unwrap();
    }
    assert_eq!(
        read_counter(&tree, "counter"),
        (threads * per_thread) as u64
    );
    let stats = tree.stats();
    assert_eq!(stats.ops.transactions, (threads * per_thread) as u64);
}

#[test]
fn batches_are_seen_whole_or_not_at_all_and_scans_stay_sorted() {
    let tree = Tree::open_memory();
    // Each batch rewrites all ten keys of a group with the same generation number.
    let groups = 8;
    let stop = Arc::new(AtomicBool::new(false));
    let writers: Vec<_> = (0..2)
        .map(|w| {
            let tree = tree.clone();
            thread::spawn(move || {
                for gen in 0..300u32 {
                    let g = (gen as usize + w) % groups;
                    let mut b = tree.batch();
                    for i in 0..10 {
                        b.stash(format!("g{g}-{i}"), format!("{w}:{gen}"));
                    }
                    b.commit().unwrap();
                    // Single writes and deletes of unrelated keys interleave with batches.
                    tree.stash(format!("solo-{gen}"), b"x").unwrap();
                    if gen % 3 == 0 {
                        tree.toss(format!("solo-{}", gen / 2)).unwrap();
                    }
                }
            })
        })
        .collect();
    let readers: Vec<_> = (0..2)
        .map(|_| {
            let tree = tree.clone();
            let stop = Arc::clone(&stop);
            thread::spawn(move || {
                let mut scans = 0;
                while !stop.load(Ordering::Relaxed) || scans < 5 {
                    let nuts: Vec<_> = tree.iter().collect();
                    for w in nuts.windows(2) {
                        assert!(
                            w[0].key < w[1].key,
                            "scan out of order or duplicated: {} then {}",
                            w[0].key,
                            w[1].key
                        );
                    }
                    for g in 0..groups {
                        let vals: Vec<&[u8]> = nuts
                            .iter()
                            .filter(|n| n.key.starts_with(&format!("g{g}-")))
                            .map(|n| n.value.as_slice())
                            .collect();
                        assert!(
                            vals.is_empty()
                                || (vals.len() == 10 && vals.iter().all(|v| *v == vals[0])),
                            "torn batch in group {g}: {vals:?}"
                        );
                    }
                    scans += 1;
                }
                scans
            })
        })
        .collect();
    for w in writers {
        w.join().unwrap();
    }
    stop.store(true, Ordering::Relaxed);
    for r in readers {
        assert!(r.join().unwrap() >= 5);
    }
}

#[test]
fn an_open_iterator_does_not_block_writers_and_sees_its_snapshot() {
    let tree = Tree::open_memory();
    for i in 0..1000 {
        tree.stash(format!("k{i:04}"), b"old").unwrap();
    }
    let mut it = tree.iter();
    let first = it.next().unwrap();
    // Writes from another thread complete while the iterator is mid-scan.
    let t2 = tree.clone();
    thread::spawn(move || {
        for i in 0..1000 {
            t2.stash(format!("k{i:04}"), b"new").unwrap();
        }
        t2.stash("k9999", b"new").unwrap();
        t2.toss("k0500").unwrap();
    })
    .join()
    .unwrap();
    let rest: Vec<_> = it.collect();
    assert_eq!(first.value, b"old");
    assert_eq!(rest.len(), 999);
    assert!(rest.iter().all(|n| n.value == b"old"));
    assert_eq!(tree.crack("k0001").unwrap().unwrap().value, b"new");
    assert_eq!(tree.len(), 1000);
}

/// Runs `f` on another thread and fails (instead of hanging the suite) if it does not
/// finish within `secs`: a deadlock shows up as a failed test.
fn finishes_within(secs: u64, f: impl FnOnce() + Send + 'static) {
    let (tx, rx) = std::sync::mpsc::channel();
    thread::spawn(move || {
        f();
        let _ = tx.send(());
    });
    rx.recv_timeout(std::time::Duration::from_secs(secs))
        .expect("deadlocked: the callback never returned");
}

#[test]
fn a_crack_with_closure_can_stash_into_the_same_tree_and_call_len() {
    let tree = Tree::open_memory();
    tree.stash("a", b"1").unwrap();
    let t = tree.clone();
    finishes_within(10, move || {
        let seen = t
            .crack_with("a", |n| {
                // Writes and reads of the same tree from inside the read callback.
                t.stash("b", n.value).unwrap();
                t.stash("a", b"2").unwrap();
                assert_eq!(t.len(), 2);
                assert_eq!(t.crack("b").unwrap().unwrap().value, b"1");
                assert_eq!(t.iter().count(), 2);
                n.value.to_vec()
            })
            .unwrap();
        // The view stayed the version it was read at while the key was overwritten.
        assert_eq!(seen.as_deref(), Some(&b"1"[..]));
    });
    assert_eq!(tree.crack("a").unwrap().unwrap().value, b"2");
    assert_eq!(tree.crack("b").unwrap().unwrap().value, b"1");
}

#[test]
fn query_filters_and_order_keys_can_call_back_into_the_tree() {
    let tree = Tree::open_memory();
    for i in 0..20 {
        tree.stash(format!("k{i:02}"), i.to_string()).unwrap();
    }
    let t = tree.clone();
    finishes_within(10, move || {
        let hits = t
            .query()
            .filter(|n| {
                // A filter that reads, counts and writes the tree it is filtering.
                assert!(t.contains(n.key));
                t.stash(format!("seen-{}", n.key), b"").unwrap();
                !t.is_empty() && n.key < "k10"
            })
            .order_by_desc(|n| t.crack(n.key).unwrap().map(|x| x.version))
            .collect()
            .unwrap();
        assert_eq!(hits.len(), 10);
        assert_eq!(t.prefix("seen-").count(), 20);
        let mut it = t.iter();
        it.next_ref(|n| t.stash(format!("{}-copy", n.key), n.value).unwrap());
    });
    assert!(tree.contains("k00-copy"));
}

#[test]
fn point_readers_see_a_batch_whole_or_not_at_all() {
    // Each batch writes the same generation to every key, in key order. A reader that
    // cracks the keys in the same order must never see a later key older than an earlier
    // one: that would be a batch seen half applied.
    let tree = Tree::open_memory();
    let keys: Vec<String> = (0..16).map(|i| format!("key-{i:02}")).collect();
    let stop = Arc::new(AtomicBool::new(false));
    // Set when the writer ends (also by a panic), so readers never wait for it in vain.
    let done = Arc::new(AtomicBool::new(false));
    struct SetOnDrop(Arc<AtomicBool>);
    impl Drop for SetOnDrop {
        fn drop(&mut self) {
            self.0.store(true, Ordering::Relaxed);
        }
    }
    let writer = {
        let (tree, keys, stop) = (tree.clone(), keys.clone(), Arc::clone(&stop));
        let done = SetOnDrop(Arc::clone(&done));
        thread::spawn(move || {
            let _done = done;
            let mut gen = 0u64;
            while !stop.load(Ordering::Relaxed) && gen < 20_000 {
                gen += 1;
                let mut b = tree.batch();
                for k in &keys {
                    b.stash(k, gen.to_le_bytes());
                }
                b.commit().unwrap();
                // A transaction and a purge-free toss keep other commit shapes in the mix.
                tree.transaction(|tx| tx.stash("solo", gen.to_le_bytes()))
                    .unwrap();
            }
        })
    };
    let readers: Vec<_> = (0..2)
        .map(|_| {
            let (tree, keys, done) = (tree.clone(), keys.clone(), Arc::clone(&done));
            thread::spawn(move || {
                let gen_of = |k: &str| {
                    tree.crack_with(k, |n| u64::from_le_bytes(n.value.try_into().unwrap()))
                        .unwrap()
                        .unwrap_or(0)
                };
                let mut rounds = 0;
                let mut newest = 0;
                // On a busy machine the readers may be done before the writer commits
                // anything: they read on until they have seen a batch (or it has ended).
                while rounds < 30_000 || (newest == 0 && !done.load(Ordering::Relaxed)) {
                    let mut prev = 0;
                    for k in &keys {
                        let g = gen_of(k);
                        assert!(g >= prev, "{k} at generation {g} after {prev}: torn batch");
                        prev = g;
                    }
                    newest = newest.max(prev);
                    rounds += 1;
                }
                newest
            })
        })
        .collect();
    let newest: Vec<u64> = readers.into_iter().map(|r| r.join().unwrap()).collect();
    stop.store(true, Ordering::Relaxed);
    writer.join().unwrap();
    assert!(newest.iter().all(|g| *g > 0), "readers saw no batch at all");
}
