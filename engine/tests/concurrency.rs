//! Several threads at once: transactional increments, atomic batches, snapshot iteration.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Barrier};
use std::thread;

use acorn::Tree;

fn read_counter(tree: &Tree, key: &str) -> u64 {
    tree.crack(key)
        .unwrap()
        .map_or(0, |n| std::str::from_utf8(&n.value).unwrap().parse().unwrap())
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
                            std::str::from_utf8(&n.value).unwrap().parse::<u64>().unwrap()
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
