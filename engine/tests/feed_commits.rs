//! What one commit gives the change feed: a batch each change it made, in its order; a
//! transaction its last write per key, in key order; in memory, durable and reopened.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use acorn::Tree;

#[path = "common/trees.rs"]
mod trees;

#[path = "common/did.rs"]
mod did;
use did::{did, Did};

/// What one commit of a batch or a transaction gives (README, "The change feed"): a batch
/// each change it made, in its order; a transaction its last write per key, in key order;
/// the same in memory, durable, and after a reopen.
#[test]
fn a_batch_gives_each_change_in_its_order_and_a_transaction_its_last_write_per_key() {
    let tmp = tempfile::tempdir().unwrap();
    let commit = |tree: &Tree| {
        tree.stash("b", b"0").unwrap();
        let mut batch = tree.batch();
        batch
            .stash("z", b"1")
            .toss("b")
            .stash("b", b"2")
            .stash("z", b"3")
            .toss("nothing")
            .toss("z");
        batch.commit().unwrap();
        tree.transaction(|tx| {
            tx.stash("k", b"4")?;
            tx.stash("b", b"5")?;
            tx.stash("k", b"6")?;
            tx.toss("nothing")
        })
        .unwrap();
    };
    let expected = vec![
        (2, "z".to_string(), Did::Stashed(b"1".to_vec())),
        (2, "b".to_string(), Did::Tossed),
        (2, "b".to_string(), Did::Stashed(b"2".to_vec())),
        (2, "z".to_string(), Did::Stashed(b"3".to_vec())),
        (2, "z".to_string(), Did::Tossed),
        (3, "b".to_string(), Did::Stashed(b"5".to_vec())),
        (3, "k".to_string(), Did::Stashed(b"6".to_vec())),
    ];
    let feed = |tree: &Tree| -> Vec<(u64, String, Did)> {
        tree.changes_since(1)
            .unwrap()
            .map(|c| {
                let (key, did) = did(&c);
                (c.version(), key, did)
            })
            .collect()
    };
    let memory = Tree::builder().history(100).open().unwrap();
    commit(&memory);
    assert_eq!(feed(&memory), expected, "in memory");
    let durable = trees::never_unbuffered(tmp.path());
    commit(&durable);
    assert_eq!(feed(&durable), expected, "durable");
    drop(durable);
    assert_eq!(
        feed(&trees::never_unbuffered(tmp.path())),
        expected,
        "reopened"
    );
}
