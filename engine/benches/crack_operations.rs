//! Point reads. Every size shows the references people write by hand beside the engine:
//! `RwLock<BTreeMap<String, Vec<u8>>>` get + clone (owned, like `crack`) and a std
//! `HashMap` probe; at 1M keys everything is bound by cache misses.
#![allow(clippy::unwrap_used)]
mod common;
use common::*;
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use std::hint::black_box;

fn crack(c: &mut Criterion) {
    let mut g = c.benchmark_group("crack_operations");
    g.throughput(Throughput::Elements(1));
    let big = bench_or_test(1_000_000);
    let sizes = [100, 1_000, 10_000, big];
    for n in sizes.into_iter().take(if big > 10_000 { 4 } else { 3 }) {
        let keys = keys(n);
        let tree = filled(n);
        let raw = raw_filled(n);
        let hash = hash_filled(n);
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
        g.bench_function(format!("std_hashmap_random_get_{n}"), |b| {
            b.iter(|| black_box(hash.get(&keys[rng.below(n)]).map(Vec::len)));
        });
        g.bench_function(format!("std_hashmap_random_get_clone_{n}"), |b| {
            b.iter(|| black_box(hash.get(&keys[rng.below(n)]).cloned()));
        });
        // Absent keys: the miss path (a hash probe that finds nothing).
        let missing: Vec<String> = (0..n).map(|i| format!("nope-{i:012}")).collect();
        g.bench_function(format!("random_crack_missing_{n}"), |b| {
            b.iter(|| black_box(tree.crack(&missing[rng.below(n)]).unwrap()));
        });
    }
    g.finish();
}

criterion_group!(benches, crack);
criterion_main!(benches);
