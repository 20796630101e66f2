//! The `state` lock's wait: a writer that finds it held spins for at most
//! `SPIN_BEFORE_PARKING`, then parks (it must not burn a core while a long holder, such as
//! a compaction's swap or a big batch, keeps it).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::{Duration, Instant};

use crate::Tree;

/// Nanoseconds the calling thread has spent on a CPU.
fn on_cpu() -> u64 {
    let s = std::fs::read_to_string("/proc/thread-self/schedstat").unwrap();
    s.split_whitespace().next().unwrap().parse().unwrap()
}

#[test]
fn a_writer_waiting_on_a_long_hold_parks_instead_of_spinning() {
    let tree = Tree::open_memory();
    let hold = Duration::from_millis(300);
    let guard = tree.state();
    let writer = {
        let tree = tree.clone();
        std::thread::spawn(move || {
            let (cpu, wall) = (on_cpu(), Instant::now());
            tree.stash("k", b"v").unwrap();
            (on_cpu() - cpu, wall.elapsed())
        })
    };
    std::thread::sleep(hold);
    drop(guard);
    let (cpu, waited) = writer.join().unwrap();
    assert_eq!(tree.crack("k").unwrap().unwrap().value, b"v");
    // It did wait for the holder (so it was blocked on the lock all along)...
    assert!(waited >= hold / 2, "the writer did not wait: {waited:?}");
    // ...and spent a fraction of that on a CPU: a spin without a bound would spend ~all
    // of it (checked: with the bound set to an hour, this assertion fails).
    assert!(
        cpu < 60_000_000,
        "the waiting writer spent {:.1} ms on a CPU",
        cpu as f64 / 1e6
    );
}
