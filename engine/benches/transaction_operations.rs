#![allow(clippy::unwrap_used)]
mod common;
use common::*;
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use std::hint::black_box;

fn txn(c: &mut Criterion) {
    let mut g = c.benchmark_group("transaction_operations");
    g.throughput(Throughput::Elements(1));
    let tree = filled(10_000);
    let keys = keys(10_000);
    let val = value(1);
    let mut rng = Rng(7);
    g.bench_function("read_modify_write_1_key", |b| {
        b.iter(|| {
            let k = &keys[rng.below(keys.len())];
            tree.transaction(|tx| {
                let n = tx.crack(k)?;
                tx.stash(k, n.map(|n| n.value).unwrap_or_default())
            })
            .unwrap();
        });
    });
    g.bench_function("transfer_2_keys", |b| {
        b.iter(|| {
            let (a, z) = (&keys[rng.below(keys.len())], &keys[rng.below(keys.len())]);
            tree.transaction(|tx| {
                tx.crack(a)?;
                tx.crack(z)?;
                tx.stash(a, &val)?;
                tx.stash(z, &val)
            })
            .unwrap();
        });
    });
    // The raw map's equivalent: read and write the key under one write lock.
    let raw = raw_filled(10_000);
    g.bench_function("raw_btreemap_read_modify_write_1_key", |b| {
        b.iter(|| {
            let k = &keys[rng.below(keys.len())];
            let mut m = raw.write().unwrap();
            let v = m.get(k).cloned().unwrap_or_default();
            black_box(m.insert(k.clone(), v))
        });
    });
    g.bench_function("single_stash_for_comparison", |b| {
        b.iter(|| black_box(tree.stash(&keys[rng.below(keys.len())], &val).unwrap()));
    });
    g.finish();
}

criterion_group!(benches, txn);
criterion_main!(benches);
