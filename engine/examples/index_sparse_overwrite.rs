//! An overwrite of a nut that a secondary index does not hold (its extractor returns
//! `None`), beside the same overwrite in a tree without the index, at two tree sizes: a
//! known defect, measured. When the extractor gives no key for the old record, the index
//! cannot tell "never indexed" from "indexed by an extractor that is not a pure function
//! of the nut", and walks all its entries looking for the old record
//! (`secondary::remove_by_record`), so the cost grows with the index.
//!
//! `cargo run --release -p acorn --example index_sparse_overwrite`
#![allow(clippy::unwrap_used)]

use std::time::Instant;

use acorn::{NutRef, Tree};

const OVERWRITES: u64 = 2_000;

/// Nanoseconds per overwrite of nuts `1, 8, 15, ...` (never a multiple of 10).
fn overwrite(tree: &Tree, n: u64) -> u64 {
    let began = Instant::now();
    for j in 0..OVERWRITES {
        let i = (j * 7 + 1) % n;
        let i = if i.is_multiple_of(10) { i + 1 } else { i };
        tree.stash(format!("k{i:08}"), format!("w{j}")).unwrap();
    }
    began.elapsed().as_nanos() as u64 / OVERWRITES
}

fn main() {
    for n in [10_000u64, 100_000] {
        let indexed = Tree::builder().open().unwrap();
        // Every 10th nut's value starts with 'x' and is indexed; the others are not.
        indexed
            .index("x", |nut: &NutRef<'_>| {
                (nut.value.first() == Some(&b'x')).then(|| nut.value.to_vec())
            })
            .unwrap();
        let plain = Tree::builder().open().unwrap();
        for i in 0..n {
            let v = if i.is_multiple_of(10) {
                format!("x{i}")
            } else {
                format!("v{i}")
            };
            indexed.stash(format!("k{i:08}"), &v).unwrap();
            plain.stash(format!("k{i:08}"), &v).unwrap();
        }
        let with = overwrite(&indexed, n);
        let without = overwrite(&plain, n);
        println!(
            "{n} nuts, an index of {} entries: an overwrite of a nut it does not hold \
             {with} ns, without the index {without} ns",
            n / 10
        );
    }
}
