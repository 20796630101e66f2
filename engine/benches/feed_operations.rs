//! The change feed: `changes_since` over N versions (an in-memory tree's history, and a
//! durable tree's log read back from disk), only the last 100 of a long log (the reader
//! starts from a remembered frame boundary near them, not at the segment's start), and
//! what keeping a history costs each stash (history off vs on, side by side). Under
//! `cargo bench` N is 1k and 100k; in test mode 1k and 10k.
#![allow(clippy::unwrap_used)]

mod common;
use acorn::{SyncPolicy, Tree};
use common::*;
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use std::hint::black_box;

/// A tree with `n` single-stash commits (over 1,000 keys, so the feed holds overwrites).
fn written(tree: Tree, n: usize) -> Tree {
    let keys = keys(1000);
    let val = value(1);
    for i in 0..n {
        tree.stash(&keys[i % keys.len()], &val).unwrap();
    }
    tree
}

fn changes_since(c: &mut Criterion) {
    let mut g = c.benchmark_group("feed_operations");
    for n in [1_000, bench_or_test(100_000)] {
        g.throughput(Throughput::Elements(n as u64));
        let memory = written(Tree::builder().history(n).open().unwrap(), n);
        g.bench_function(format!("changes_since_memory_{n}"), |b| {
            b.iter(|| black_box(memory.changes_since(0).unwrap().count()))
        });
        let dir = tempfile::tempdir().unwrap();
        let durable = Tree::builder()
            .path(dir.path())
            .sync(SyncPolicy::Never)
            .compact_factor(0)
            .open()
            .unwrap();
        let durable = written(durable, n);
        g.bench_function(format!("changes_since_durable_{n}"), |b| {
            b.iter(|| black_box(durable.changes_since(0).unwrap().count()))
        });
        // The last 100 versions of the log: a read from near them, whatever its length.
        let last = durable.stats().version;
        g.throughput(Throughput::Elements(100));
        g.bench_function(format!("changes_since_durable_last_100_of_{n}"), |b| {
            b.iter(|| black_box(durable.changes_since(last - 100).unwrap().count()))
        });
    }
    g.finish();
}

fn history_cost(c: &mut Criterion) {
    let mut g = c.benchmark_group("feed_operations");
    g.throughput(Throughput::Elements(1));
    let keys = keys(10_000);
    let val = value(7);
    for (name, history) in [("stash_history_off", 0), ("stash_history_10k", 10_000)] {
        let tree = Tree::builder().history(history).open().unwrap();
        let mut i = 0;
        g.bench_function(name, |b| {
            b.iter(|| {
                i = (i + 1) % keys.len();
                black_box(tree.stash(&keys[i], &val).unwrap())
            })
        });
    }
    g.finish();
}

criterion_group!(benches, changes_since, history_cost);
criterion_main!(benches);
