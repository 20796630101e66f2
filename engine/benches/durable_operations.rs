//! Durable mode: batched writes with an fsync per commit, single stashes per sync policy,
//! group commit with 1 vs 4 writer threads, durable vs in-memory crack, and recovery time.
//! Under `cargo bench` the recovery case uses 1M items x 100 B; in test mode 10k.
#![allow(clippy::unwrap_used)]

mod common;
use acorn::{SyncPolicy, Tree};
use common::*;
use criterion::measurement::WallTime;
use criterion::{
    criterion_group, criterion_main, BatchSize, BenchmarkGroup, Criterion, Throughput,
};
use std::hint::black_box;
use std::time::{Duration, Instant};

fn full_run() -> bool {
    std::env::args().any(|a| a == "--bench")
}

fn durable(dir: &std::path::Path, sync: SyncPolicy) -> Tree {
    Tree::builder().path(dir).sync(sync).open().unwrap()
}

type Group<'a> = BenchmarkGroup<'a, WallTime>;

fn writes(c: &mut Criterion) {
    let mut g = c.benchmark_group("durable_operations");
    g.sample_size(20);
    let keys = keys(10_000);
    let vals: Vec<Vec<u8>> = (0..1000).map(value).collect();
    batch_1k_always(&mut g, &keys, &vals);
    stashes(&mut g, &keys, &vals);
    group_commits(&mut g, &keys, &vals);
    g.finish();
}

/// 1k items per commit, fsync per commit.
fn batch_1k_always(g: &mut Group<'_>, keys: &[String], vals: &[Vec<u8>]) {
    let dir = tempfile::tempdir().unwrap();
    let tree = durable(dir.path(), SyncPolicy::Always);
    let mut round = 0;
    g.throughput(Throughput::Elements(1000));
    g.bench_function("batch_1k_always", |b| {
        b.iter(|| {
            round = (round + 1) % 10;
            let mut batch = tree.batch();
            for (k, v) in keys[round * 1000..(round + 1) * 1000].iter().zip(vals) {
                batch.stash(k, v);
            }
            black_box(batch.commit().unwrap())
        });
    });
    drop(tree);
}

/// Single stashes per sync policy.
fn stashes(g: &mut Group<'_>, keys: &[String], vals: &[Vec<u8>]) {
    g.throughput(Throughput::Elements(1));
    for (name, sync) in [
        ("stash_always", SyncPolicy::Always),
        (
            "stash_group_1_thread",
            SyncPolicy::Group {
                max_delay: Duration::from_millis(1),
            },
        ),
        ("stash_never", SyncPolicy::Never),
    ] {
        let dir = tempfile::tempdir().unwrap();
        let tree = durable(dir.path(), sync);
        let mut i = 0;
        g.bench_function(name, |b| {
            b.iter(|| {
                i = (i + 1) % keys.len();
                black_box(tree.stash(&keys[i], &vals[i % 1000]).unwrap())
            });
        });
    }
}

/// Commits per second with 4 writers sharing fsyncs, against 1 writer under Always.
fn group_commits(g: &mut Group<'_>, keys: &[String], vals: &[Vec<u8>]) {
    for (name, sync, threads) in [
        ("commits_always_1_thread", SyncPolicy::Always, 1u64),
        (
            "commits_group_4_threads",
            SyncPolicy::Group {
                max_delay: Duration::from_millis(1),
            },
            4,
        ),
        ("commits_always_4_threads", SyncPolicy::Always, 4),
    ] {
        let dir = tempfile::tempdir().unwrap();
        let tree = durable(dir.path(), sync);
        let per_thread = 200u64;
        g.throughput(Throughput::Elements(per_thread * threads));
        g.bench_function(name, |b| {
            b.iter_custom(|iters| {
                let start = Instant::now();
                for _ in 0..iters {
                    std::thread::scope(|s| {
                        for t in 0..threads {
                            let tree = &tree;
                            s.spawn(move || {
                                for i in 0..per_thread {
                                    let n = (t * per_thread + i) as usize;
                                    tree.stash(&keys[n], &vals[n % 1000]).unwrap();
                                }
                            });
                        }
                    });
                }
                start.elapsed()
            });
        });
    }
}

fn reads(c: &mut Criterion) {
    let mut g = c.benchmark_group("durable_operations");
    g.throughput(Throughput::Elements(1));
    let n = 10_000;
    let keys = keys(n);
    let dir = tempfile::tempdir().unwrap();
    let on_disk = durable(dir.path(), SyncPolicy::Never);
    let in_memory = Tree::open_memory();
    for t in [&on_disk, &in_memory] {
        let mut b = t.batch();
        for (i, k) in keys.iter().enumerate() {
            b.stash(k, value(i));
        }
        b.commit().unwrap();
    }
    let mut rng = Rng(5);
    g.bench_function("crack_durable_10k", |b| {
        b.iter(|| black_box(on_disk.crack(&keys[rng.below(n)]).unwrap()))
    });
    g.bench_function("crack_in_memory_10k", |b| {
        b.iter(|| black_box(in_memory.crack(&keys[rng.below(n)]).unwrap()))
    });
    g.finish();
}

fn recovery(c: &mut Criterion) {
    let n = if full_run() { 1_000_000 } else { 10_000 };
    let dir = tempfile::tempdir().unwrap();
    {
        let tree = durable(dir.path(), SyncPolicy::Never);
        for chunk in 0..n / 10_000 {
            let mut b = tree.batch();
            for i in chunk * 10_000..(chunk + 1) * 10_000 {
                b.stash(key(i), value(i));
            }
            b.commit().unwrap();
        }
        tree.compact().unwrap();
    }
    let mut g = c.benchmark_group("durable_operations");
    g.sample_size(10);
    g.throughput(Throughput::Elements(n as u64));
    g.bench_function(format!("reopen_after_compaction_{n}"), |b| {
        b.iter_batched(
            || (),
            |()| {
                let t = Tree::open(dir.path()).unwrap();
                assert_eq!(t.len(), n);
                t
            },
            BatchSize::PerIteration,
        );
    });
    g.finish();
}

criterion_group!(benches, writes, reads, recovery);
criterion_main!(benches);
