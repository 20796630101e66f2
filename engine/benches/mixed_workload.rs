//! The seed's realistic mix: 70% crack, 20% stash, 10% toss over 10k keys.
#![allow(clippy::unwrap_used)]
mod common;
use common::*;
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use std::hint::black_box;

fn mixed(c: &mut Criterion) {
    let mut g = c.benchmark_group("mixed_workload");
    g.throughput(Throughput::Elements(1));
    let n = 10_000;
    let keys = keys(n);
    let val = value(3);
    let tree = filled(n);
    let raw = raw_filled(n);
    let mut rng = Rng(99);
    g.bench_function("mixed_70_20_10", |b| {
        b.iter(|| {
            let k = &keys[rng.below(n)];
            match rng.below(100) {
                0..70 => drop(black_box(tree.crack(k).unwrap())),
                70..90 => drop(black_box(tree.stash(k, &val).unwrap())),
                _ => drop(black_box(tree.toss(k).unwrap())),
            }
        });
    });
    g.bench_function("raw_btreemap_mixed_70_20_10", |b| {
        b.iter(|| {
            let k = &keys[rng.below(n)];
            match rng.below(100) {
                0..70 => drop(black_box(raw.read().unwrap().get(k).cloned())),
                70..90 => drop(black_box(
                    raw.write().unwrap().insert(k.clone(), val.clone()),
                )),
                _ => drop(black_box(raw.write().unwrap().remove(k))),
            }
        });
    });
    g.finish();
}

criterion_group!(benches, mixed);
criterion_main!(benches);
