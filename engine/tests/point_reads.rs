//! The lock-free point reads under attack: readers on several threads while one writer
//! grows, churns and shrinks the tree (see `common/stress.rs` for what is checked).
//! `ACORN_STRESS_SCALE=n` multiplies the rounds (the `point_soak` example runs longer).

#![allow(clippy::unwrap_used)]

mod common;

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, UNIX_EPOCH};

use acorn::{ManualClock, Tree};
use common::stress::{self, Config};

fn scale() -> usize {
    std::env::var("ACORN_STRESS_SCALE")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(1)
}

#[test]
fn readers_see_only_their_keys_values_in_order_while_the_index_grows_and_shrinks() {
    let clock = ManualClock::new(UNIX_EPOCH + Duration::from_secs(1_000_000));
    let tree = Tree::builder().clock(clock.clone()).open().unwrap();
    let seen = stress::run(
        &tree,
        &clock,
        Config {
            readers: 3,
            rounds: 3 * scale(),
            keys: 3_000,
            seed: 0x5eed,
        },
    );
    eprintln!("{seen:?}");
    assert!(seen.hits > 0 && seen.misses > 0, "{seen:?}");
    assert!(seen.panics > 0 && seen.nested_writes > 0, "{seen:?}");
}

/// Batches of 200 new keys make the hash index grow while their overlay is published, and
/// batches that toss whole generations make it shrink. A reader that sees any key of a
/// batch must then see the whole batch: its marker, and every other key of it.
#[test]
fn batches_stay_whole_while_their_commit_grows_or_shrinks_the_index() {
    let tree = Tree::open_memory();
    let stop = Arc::new(AtomicBool::new(false));
    // Keys of a live batch each reader has seen: the writer goes on until both saw some.
    let seen: Arc<[AtomicU64; 2]> = Arc::new([AtomicU64::new(0), AtomicU64::new(0)]);
    let readers: Vec<_> = (0..2u64)
        .map(|r| {
            let (tree, stop, seen) = (tree.clone(), Arc::clone(&stop), Arc::clone(&seen));
            std::thread::spawn(move || read_batches(&tree, &stop, &seen[r as usize], r))
        })
        .collect();
    let (mut mark, mut gone) = (0u64, 0u64);
    let min_rounds = 20 * scale();
    for round in 0.. {
        let both_saw = seen.iter().all(|n| n.load(Ordering::Relaxed) > 0);
        if round >= min_rounds && (both_saw || round >= 50 * min_rounds) {
            break;
        }
        grow_then_toss(&tree, &mut mark, &mut gone);
    }
    stop.store(true, Ordering::Relaxed);
    for r in readers {
        let (present, absent) = r.join().unwrap();
        eprintln!("{present} keys of a live batch seen, {absent} of a tossed one");
        assert!(present > 0);
    }
    assert_eq!(tree.len(), 2, "only the markers are left");
}

/// Keys per batch of `batches_stay_whole_while_their_commit_grows_or_shrinks_the_index`.
const WIDTH: u64 = 200;

/// The number a marker key holds (0 when absent).
fn num(tree: &Tree, k: &str) -> u64 {
    tree.crack_with(k, |n| u64::from_le_bytes(n.value.try_into().unwrap()))
        .unwrap()
        .unwrap_or(0)
}

/// Reader `r`: reads keys around the live window until `stop`, checking each batch is
/// whole; counts the keys of live batches it saw in `seen`. Returns (keys of a live batch
/// seen, keys of a tossed one missed).
fn read_batches(tree: &Tree, stop: &AtomicBool, seen: &AtomicU64, r: u64) -> (u64, u64) {
    let mut rng = stress::Rng(0x1234_5678 + r);
    let (mut present, mut absent) = (0u64, 0u64);
    while !stop.load(Ordering::Relaxed) {
        let gone0 = num(tree, "gone");
        let mark0 = num(tree, "mark");
        // A generation around the live window, and one of its keys.
        let x = gone0.saturating_sub(2) + rng.below(mark0 - gone0 + 5);
        let k = format!("b{x}-{}", rng.below(WIDTH));
        let hit = tree
            .crack_with(&k, |n| assert_eq!(n.value, k.as_bytes()))
            .unwrap()
            .is_some();
        let mark1 = num(tree, "mark");
        if hit {
            present += 1;
            seen.fetch_add(1, Ordering::Relaxed);
            assert!(gone0 < x, "{k} seen after its generation was tossed");
            assert!(mark1 >= x, "{k} seen, then mark {mark1}: torn batch");
        }
        if mark1 > 0 {
            let k = format!("b{mark1}-{}", rng.below(WIDTH));
            let hit = tree.contains(&k);
            let gone1 = num(tree, "gone");
            if !hit {
                absent += 1;
                assert!(gone1 >= mark1, "{k} missing after mark {mark1}");
            }
        }
    }
    (present, absent)
}

/// Grows by 30 generations (batches of `WIDTH` keys and the `mark`), then tosses them 5
/// at a time down to none (setting `gone`).
fn grow_then_toss(tree: &Tree, mark: &mut u64, gone: &mut u64) {
    for _ in 0..30 {
        *mark += 1;
        let mut b = tree.batch();
        for j in 0..WIDTH {
            let k = format!("b{mark}-{j}");
            b.stash(&k, &k);
        }
        b.stash("mark", mark.to_le_bytes());
        b.commit().unwrap();
    }
    while *gone < *mark {
        let mut b = tree.batch();
        for _ in 0..5 {
            *gone += 1;
            for j in 0..WIDTH {
                b.toss(format!("b{gone}-{j}"));
            }
        }
        b.stash("gone", gone.to_le_bytes());
        b.commit().unwrap();
    }
}

/// The last handle of a tree is dropped on a reader thread while another thread, pinned
/// inside a `crack_with` of a second tree, holds nuts read from the first: the nuts and
/// the borrowed view stay intact, and the other readers saw only whole values.
#[test]
fn dropping_the_tree_while_other_threads_read_and_hold_nuts() {
    use std::sync::Barrier;
    use stress::{check, key, value};

    for round in 0..10 * scale() as u64 {
        let tree = Tree::open_memory();
        for id in 0..500 {
            tree.stash(key(id), value(id, 1)).unwrap();
        }
        // Overwrites leave retired records pending when the tree goes.
        for id in 0..100 {
            tree.stash(key(id), value(id, 2)).unwrap();
        }
        let nuts: Vec<acorn::Nut> = (0..500)
            .step_by(7)
            .map(|id| tree.crack(key(id)).unwrap().unwrap())
            .collect();
        let other = Tree::open_memory();
        other.stash(key(9), value(9, 9)).unwrap();
        let sync = Arc::new(Barrier::new(2));
        let holder = {
            let sync = Arc::clone(&sync);
            std::thread::spawn(move || {
                other
                    .crack_with(key(9), |n| {
                        sync.wait(); // the first tree may go now
                        sync.wait(); // it is gone
                        for nut in &nuts {
                            check(&nut.key, &nut.value);
                        }
                        check(n.key, n.value);
                    })
                    .unwrap()
                    .unwrap();
            })
        };
        let stop = Arc::new(AtomicBool::new(false));
        let readers: Vec<_> = (0..2)
            .map(|r| {
                let (tree, stop) = (tree.clone(), Arc::clone(&stop));
                std::thread::spawn(move || {
                    let mut rng = stress::Rng(round * 2 + r + 1);
                    while !stop.load(Ordering::Relaxed) {
                        let id = rng.below(600) as u32;
                        if let Some(n) = tree.crack(key(id)).unwrap() {
                            check(&n.key, &n.value);
                        }
                        if rng.below(8) == 0 {
                            tree.stash(key(id), value(id, 3)).unwrap();
                        }
                    }
                    // Whichever reader ends last drops the tree.
                    drop(tree);
                })
            })
            .collect();
        sync.wait();
        drop(tree);
        std::thread::sleep(Duration::from_millis(2));
        stop.store(true, Ordering::Relaxed);
        for r in readers {
            r.join().unwrap();
        }
        sync.wait();
        holder.join().unwrap();
    }
}

/// Overwritten records' allocations are reused for new records of their length
/// (`record::recycle`), but never one a reader can still see: not while a `crack_with`
/// closure is pinned on it (another thread overwriting the key thousands of times
/// meanwhile), and not while a `Nut` shares it (with collections free to run).
#[test]
fn a_record_a_reader_still_sees_is_never_reused() {
    let tree = acorn::Tree::open_memory();
    let value = |i: u32| format!("value {i:08}");
    tree.stash("k", value(0)).unwrap();
    let seen = tree
        .crack_with("k", |nut| {
            let before = nut.value.to_vec();
            std::thread::scope(|s| {
                s.spawn(|| {
                    for i in 1..3_000 {
                        tree.stash("k", value(i)).unwrap();
                        assert!(tree.contains("k"));
                    }
                });
            });
            assert_eq!(
                nut.value,
                before.as_slice(),
                "changed under a pinned reader"
            );
            String::from_utf8(nut.value.to_vec()).unwrap()
        })
        .unwrap();
    assert_eq!(seen, Some(value(0)));
    let held = tree.crack("k").unwrap().unwrap();
    let held_value = held.value.to_vec();
    for i in 3_000..6_000 {
        tree.stash("k", value(i)).unwrap();
        // Unpinned reads: the collector releases the retired records as it goes.
        assert!(tree.contains("k"));
    }
    assert_eq!(
        &*held.value,
        held_value.as_slice(),
        "changed under a held nut"
    );
    assert_eq!(
        &*tree.crack("k").unwrap().unwrap().value,
        value(5_999).as_bytes()
    );
}

/// A batch may change a key more than once; readers see only each key's last change (its
/// overlay keeps that one, and the records replaced within the commit are retired while
/// the overlay is still published). Per batch: keys `twice-*` are stashed twice (readers
/// must never see the first value), keys `brief-*` are stashed and then tossed (readers
/// must never see them at all), keys `back-*` are tossed and stashed again (always
/// present once first written). Values carry the batch number, which a reader must never
/// see go backwards.
#[test]
fn a_batch_that_changes_a_key_twice_shows_only_its_last_change() {
    const KEYS: usize = 48;
    let tree = Tree::open_memory();
    let stop = Arc::new(AtomicBool::new(false));
    let readers: Vec<_> = (0..2u64)
        .map(|r| {
            let (tree, stop) = (tree.clone(), Arc::clone(&stop));
            std::thread::spawn(move || {
                let mut rng = stress::Rng(0xba7c4 + r);
                let mut newest = [0u64; KEYS];
                let (mut reads, mut hits) = (0u64, 0u64);
                while !stop.load(Ordering::Relaxed) {
                    let i = rng.below(KEYS as u64) as usize;
                    let brief = format!("brief-{i}");
                    assert!(
                        !tree.contains(&brief),
                        "{brief}: a change undone in its batch"
                    );
                    for key in [format!("twice-{i}"), format!("back-{i}")] {
                        reads += 1;
                        let Some(nut) = tree.crack(&key).unwrap() else {
                            continue;
                        };
                        hits += 1;
                        let v = String::from_utf8(nut.value.to_vec()).unwrap();
                        let (n, which) = v.split_once(' ').unwrap();
                        assert_eq!(which, "last", "{key} = {v}: a change its batch replaced");
                        let n: u64 = n.parse().unwrap();
                        let slot = &mut newest[i];
                        if key.starts_with("twice") {
                            assert!(n >= *slot, "{key} went back from batch {slot} to {n}");
                            *slot = n;
                        }
                    }
                }
                (reads, hits)
            })
        })
        .collect();
    for n in 1..=400u64 * scale() as u64 {
        let mut b = tree.batch();
        for i in 0..KEYS {
            // A first value longer than the last, so the two never share a recycled size.
            b.stash(format!("twice-{i}"), format!("{n} first, soon replaced"));
            b.stash(format!("twice-{i}"), format!("{n} last"));
            b.stash(format!("brief-{i}"), format!("{n} last"));
            b.toss(format!("brief-{i}"));
            b.toss(format!("back-{i}"));
            b.stash(format!("back-{i}"), format!("{n} last"));
        }
        b.commit().unwrap();
    }
    stop.store(true, Ordering::Relaxed);
    for r in readers {
        let (reads, hits) = r.join().unwrap();
        assert!(hits > 0, "{hits} hits of {reads} reads");
    }
    assert_eq!(tree.len(), 2 * KEYS);
}

/// A key a commit changes more than once must go straight from its value before the commit
/// to its value after it, even for a reader that looked for the commit's overlay just
/// before it was published and reads the key's slot while the commit is applied (the slot
/// must never hold a change the same commit overrides). Each batch tosses `a`, stashes an
/// intermediate value and then the batch's final one: `a` must always be there, with a
/// final value. The race is a few nanoseconds wide per batch, so this runs for a while.
#[test]
fn a_key_changed_several_times_in_one_commit_never_shows_a_state_in_between() {
    let tree = Tree::open_memory();
    tree.stash("a", "final 0").unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let reader = {
        let (tree, stop) = (tree.clone(), Arc::clone(&stop));
        std::thread::spawn(move || {
            let mut reads = 0u64;
            while !stop.load(Ordering::Relaxed) {
                let v = tree
                    .crack_with("a", |n| n.value.starts_with(b"final"))
                    .unwrap();
                assert_eq!(v, Some(true), "`a` read between two changes of one commit");
                reads += 1;
            }
            reads
        })
    };
    let start = std::time::Instant::now();
    let mut n = 0u64;
    while start.elapsed() < Duration::from_secs(3 * scale() as u64) && !reader.is_finished() {
        n += 1;
        let mut b = tree.batch();
        b.toss("a")
            .stash("a", "in between")
            .stash("a", format!("final {n}"));
        b.commit().unwrap();
    }
    stop.store(true, Ordering::Relaxed);
    let reads = reader.join().unwrap();
    assert!(reads > 0 && n > 0, "{reads} reads, {n} batches");
}
