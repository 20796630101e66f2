#![allow(clippy::unwrap_used)]
mod common;
use common::*;
use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use std::hint::black_box;

fn toss(c: &mut Criterion) {
    let mut g = c.benchmark_group("toss_operations");
    for n in SIZES {
        let keys = keys(n);
        g.throughput(Throughput::Elements(n as u64));
        g.bench_function(format!("toss_all_{n}"), |b| {
            b.iter_batched(
                || filled(n),
                |t| {
                    for k in &keys {
                        black_box(t.toss(k).unwrap());
                    }
                    t
                },
                BatchSize::LargeInput,
            );
        });
        g.bench_function(format!("raw_btreemap_remove_all_{n}"), |b| {
            b.iter_batched(
                || raw_filled(n),
                |m| {
                    for k in &keys {
                        black_box(m.write().unwrap().remove(k));
                    }
                    m
                },
                BatchSize::LargeInput,
            );
        });
    }
    let tree = filled(1000);
    g.throughput(Throughput::Elements(1));
    g.bench_function("toss_missing", |b| {
        b.iter(|| black_box(tree.toss("absent-key").unwrap()));
    });
    g.finish();
}

criterion_group!(benches, toss);
criterion_main!(benches);
