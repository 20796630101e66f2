//! Checkpoints and read-only trees: `checkpoint` of N items (durable: the snapshot and
//! sealed segments hard-linked, the active segment copied; in memory: a snapshot written),
//! `open_read_only` of N items, and a `refresh` that reads 100 new commits. Under
//! `cargo bench` N is 100k; in test mode 10k.
#![allow(clippy::unwrap_used)]

mod common;
use acorn::{SyncPolicy, Tree};
use common::*;
use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use std::hint::black_box;

/// `n` items, a compaction, and as many again in the log (so a checkpoint has a snapshot
/// to link and a segment to copy).
fn fill(tree: &Tree, n: usize) {
    for round in 0..2 {
        let mut b = tree.batch();
        for i in 0..n {
            b.stash(key(i), value(i + round));
        }
        b.commit().unwrap();
        if round == 0 {
            tree.compact().unwrap();
        }
    }
}

fn checkpoints(c: &mut Criterion) {
    let n = bench_or_test(100_000);
    let mut g = c.benchmark_group("checkpoint_operations");
    g.sample_size(10);
    g.throughput(Throughput::Elements(n as u64));
    let dir = tempfile::tempdir().unwrap();
    let durable = Tree::builder()
        .path(dir.path().join("live"))
        .sync(SyncPolicy::Never)
        .compact_factor(0)
        .open()
        .unwrap();
    fill(&durable, n);
    let memory = Tree::open_memory();
    fill(&memory, n);
    for (name, tree) in [("durable", &durable), ("memory", &memory)] {
        g.bench_function(format!("checkpoint_{name}_{n}"), |b| {
            b.iter_batched(
                || tempfile::tempdir().unwrap(),
                |to| {
                    black_box(tree.checkpoint(to.path().join("copy")).unwrap());
                    to
                },
                BatchSize::PerIteration,
            )
        });
    }
    g.bench_function(format!("open_read_only_{n}"), |b| {
        b.iter(|| black_box(Tree::open_read_only(dir.path().join("live")).unwrap().len()))
    });
    let reader = Tree::open_read_only(dir.path().join("live")).unwrap();
    let val = value(3);
    g.throughput(Throughput::Elements(100));
    g.bench_function("refresh_100_commits", |b| {
        b.iter_batched(
            || {
                for i in 0..100 {
                    durable.stash(key(i), &val).unwrap();
                }
            },
            |()| black_box(reader.refresh().unwrap()),
            BatchSize::PerIteration,
        )
    });
    g.finish();
}

criterion_group!(benches, checkpoints);
criterion_main!(benches);
