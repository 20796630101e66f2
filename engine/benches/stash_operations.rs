#![allow(clippy::unwrap_used)]
mod common;
use common::*;
use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use std::hint::black_box;

fn stash(c: &mut Criterion) {
    let mut g = c.benchmark_group("stash_operations");
    g.throughput(Throughput::Elements(1));
    let keys = keys(10_000);
    let val = value(7);
    let tree = filled(10_000);
    let mut i = 0;
    g.bench_function("single_stash_overwrite_10k", |b| {
        b.iter(|| {
            i = (i + 1) % keys.len();
            black_box(tree.stash(&keys[i], &val).unwrap())
        });
    });
    let raw = raw_filled(10_000);
    g.bench_function("raw_btreemap_overwrite_10k", |b| {
        b.iter(|| {
            i = (i + 1) % keys.len();
            black_box(raw.write().unwrap().insert(keys[i].clone(), val.clone()))
        });
    });
    for n in SIZES {
        g.throughput(Throughput::Elements(n as u64));
        g.bench_function(format!("sequential_stash_{n}"), |b| {
            b.iter_batched(
                acorn::Tree::open_memory,
                |t| {
                    for (k, _) in keys.iter().zip(0..n) {
                        t.stash(k, &val).unwrap();
                    }
                    t
                },
                BatchSize::LargeInput,
            );
        });
        g.bench_function(format!("raw_btreemap_sequential_insert_{n}"), |b| {
            b.iter_batched(
                RawMap::default,
                |m| {
                    for (k, _) in keys.iter().zip(0..n) {
                        m.write().unwrap().insert(k.clone(), val.clone());
                    }
                    m
                },
                BatchSize::LargeInput,
            );
        });
    }
    g.finish();
}

criterion_group!(benches, stash);
criterion_main!(benches);
