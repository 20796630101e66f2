#![allow(clippy::unwrap_used)]
mod common;
use common::*;
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use std::hint::black_box;

fn crack(c: &mut Criterion) {
    let mut g = c.benchmark_group("crack_operations");
    g.throughput(Throughput::Elements(1));
    for n in SIZES {
        let keys = keys(n);
        let tree = filled(n);
        let raw = raw_filled(n);
        let mut i = 0;
        g.bench_function(format!("sequential_crack_{n}"), |b| {
            b.iter(|| {
                i = (i + 1) % n;
                black_box(tree.crack(&keys[i]).unwrap())
            });
        });
        let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
        g.bench_function(format!("random_crack_{n}"), |b| {
            b.iter(|| black_box(tree.crack(&keys[rng.below(n)]).unwrap()));
        });
        g.bench_function(format!("random_crack_with_{n}"), |b| {
            b.iter(|| {
                black_box(
                    tree.crack_with(&keys[rng.below(n)], |v| v.value.len())
                        .unwrap(),
                )
            });
        });
        g.bench_function(format!("raw_btreemap_random_get_{n}"), |b| {
            b.iter(|| black_box(raw.read().unwrap().get(&keys[rng.below(n)]).cloned()));
        });
    }
    g.finish();
}

criterion_group!(benches, crack);
criterion_main!(benches);
