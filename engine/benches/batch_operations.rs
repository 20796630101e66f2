#![allow(clippy::unwrap_used)]
mod common;
use common::*;
use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};

fn batch(c: &mut Criterion) {
    let mut g = c.benchmark_group("batch_operations");
    for n in SIZES {
        let keys = keys(n);
        let vals: Vec<Vec<u8>> = (0..n).map(value).collect();
        g.throughput(Throughput::Elements(n as u64));
        g.bench_function(format!("batch_stash_{n}"), |b| {
            b.iter_batched(
                acorn::Tree::open_memory,
                |t| {
                    let mut batch = t.batch();
                    for (k, v) in keys.iter().zip(&vals) {
                        batch.stash(k, v);
                    }
                    batch.commit().unwrap();
                    t
                },
                BatchSize::LargeInput,
            );
        });
        // The raw map's equivalent of a batch: every insert under one write lock.
        g.bench_function(format!("raw_btreemap_insert_under_one_lock_{n}"), |b| {
            b.iter_batched(
                RawMap::default,
                |m| {
                    let mut w = m.write().unwrap();
                    for (k, v) in keys.iter().zip(&vals) {
                        w.insert(k.clone(), v.clone());
                    }
                    drop(w);
                    m
                },
                BatchSize::LargeInput,
            );
        });
        g.bench_function(format!("batch_toss_{n}"), |b| {
            b.iter_batched(
                || filled(n),
                |t| {
                    let mut batch = t.batch();
                    for k in &keys {
                        batch.toss(k);
                    }
                    batch.commit().unwrap();
                    t
                },
                BatchSize::LargeInput,
            );
        });
    }
    g.finish();
}

criterion_group!(benches, batch);
criterion_main!(benches);
