//! A subscriber that never reads holds a bounded amount of memory, counted exactly by the
//! counting global allocator (in its own test binary, so nothing else allocates meanwhile),
//! and what it was not sent is counted, not lost silently.

#![allow(clippy::unwrap_used)]

mod common;
use common::counting::live;

#[test]
fn a_subscriber_that_never_reads_holds_bounded_memory() {
    let tree = acorn::Tree::open_memory();
    let keys: Vec<String> = (0..1000).map(|i| format!("key-{i:04}")).collect();
    let events = tree.subscribe();
    let write = |n: usize| {
        for i in 0..n {
            tree.stash(&keys[i % keys.len()], b"v").unwrap();
        }
    };
    // Past the subscriber's buffer, every further event must cost nothing.
    write(100_000);
    let at_100k = live();
    write(100_000);
    let grown = live() - at_100k;
    assert!(
        grown < 64 << 10,
        "{grown} more bytes live after 100k more events nobody read"
    );
    // Nothing is lost silently: what was not kept is counted where it was dropped.
    let (mut delivered, mut missed) = (0u64, 0u64);
    for e in events.try_iter() {
        match e {
            acorn::Event::Lagged { missed: n } => missed += n,
            _ => delivered += 1,
        }
    }
    assert_eq!(delivered, events.capacity() as u64);
    assert_eq!(delivered + missed, 200_000);
    // Drained, it hears new writes again.
    write(1);
    assert!(matches!(
        events.try_recv(),
        Ok(acorn::Event::Stashed { .. })
    ));
}
