//! What LZ4 compression (`TreeBuilder::compression`, the `compression` feature) costs, side
//! by side with the same tree written plain (`SyncPolicy::Never`, so the disk's fsyncs do
//! not hide the CPU): one stash (a frame of ~250 bytes), a batch of 1,000 stashes (one
//! large frame), a compaction of N items (the snapshot), and a reopen of N items (reading
//! the snapshot and the log back). The documents are JSON with a few varying fields, as an
//! application stores them. Prints each tree's compression ratio and bytes on disk once.
//! Under `cargo bench` N is 100k; in test mode 10k.
#![allow(clippy::unwrap_used)]

mod common;
use acorn::{Compression, SyncPolicy, Tree};
use common::*;
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use std::hint::black_box;
use std::path::Path;

/// A ~250-byte document: repeated field names, some varying values.
fn doc(i: usize) -> Vec<u8> {
    format!(
        r#"{{"id":{i},"name":"user-{i:08}","email":"user-{i:08}@example.com","age":{},"city":"{}","plan":"{}","created":"2026-12-{:02}T10:{:02}:00Z","tags":["{}","{}"],"score":{}}}"#,
        18 + i % 60,
        ["Lisbon", "Oslo", "Kyoto", "Quito", "Accra"][i % 5],
        ["free", "team", "enterprise"][i % 3],
        1 + i % 28,
        i % 60,
        ["red", "green", "blue"][i % 3],
        ["new", "active", "dormant", "vip"][i % 4],
        (i * 7919) % 10_000
    )
    .into_bytes()
}

fn open(dir: &Path, compression: Compression) -> Tree {
    Tree::builder()
        .path(dir)
        .sync(SyncPolicy::Never)
        .compact_factor(0)
        .compression(compression)
        .open()
        .unwrap()
}

fn disk_bytes(dir: &Path) -> u64 {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().metadata().unwrap().len())
        .sum()
}

fn compression(c: &mut Criterion) {
    let n = bench_or_test(100_000);
    let mut g = c.benchmark_group("compression_operations");
    g.sample_size(10);
    for (name, how) in [("plain", Compression::None), ("lz4", Compression::Lz4)] {
        let dir = tempfile::tempdir().unwrap();
        let tree = open(dir.path(), how);
        let mut i = 0;
        g.throughput(Throughput::Elements(1));
        g.bench_function(format!("stash_{name}"), |b| {
            b.iter(|| {
                i += 1;
                black_box(tree.stash(key(i % n), doc(i)).unwrap())
            })
        });
        g.throughput(Throughput::Elements(1000));
        g.bench_function(format!("batch_1000_{name}"), |b| {
            b.iter(|| {
                let mut batch = tree.batch();
                for _ in 0..1000 {
                    i += 1;
                    batch.stash(key(i % n), doc(i));
                }
                black_box(batch.commit().unwrap())
            })
        });
        // N items, half of them in the log.
        let mut batch = tree.batch();
        for j in 0..n {
            batch.stash(key(j), doc(j));
        }
        batch.commit().unwrap();
        g.throughput(Throughput::Elements(n as u64));
        g.bench_function(format!("compact_{n}_{name}"), |b| {
            b.iter(|| tree.compact().unwrap())
        });
        let mut batch = tree.batch();
        for j in 0..n / 2 {
            batch.stash(key(j), doc(j + 1));
        }
        batch.commit().unwrap();
        let stats = tree.stats();
        eprintln!(
            "compression_operations {name}: {} bytes on disk for {} items, ratio {:?}",
            disk_bytes(dir.path()),
            stats.items,
            stats.compression_ratio()
        );
        drop(tree);
        g.bench_function(format!("reopen_{n}_{name}"), |b| {
            b.iter(|| black_box(open(dir.path(), how).len()))
        });
    }
    g.finish();
}

criterion_group!(benches, compression);
criterion_main!(benches);
