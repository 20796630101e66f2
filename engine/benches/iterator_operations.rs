#![allow(clippy::unwrap_used)]
mod common;
use common::*;
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use std::hint::black_box;

fn iterate(c: &mut Criterion) {
    let mut g = c.benchmark_group("iterator_operations");
    for n in SIZES {
        let tree = filled(n);
        g.throughput(Throughput::Elements(n as u64));
        g.bench_function(format!("iter_all_{n}"), |b| {
            b.iter(|| black_box(tree.iter().count()));
        });
        g.bench_function(format!("iter_all_borrowed_{n}"), |b| {
            b.iter(|| {
                let mut it = tree.iter();
                let mut bytes = 0;
                while let Some(len) = it.next_ref(|v| v.value.len()) {
                    bytes += len;
                }
                black_box(bytes)
            });
        });
        let raw = raw_filled(n);
        g.bench_function(format!("raw_btreemap_iter_all_cloned_{n}"), |b| {
            b.iter(|| {
                let m = raw.read().unwrap();
                let mut n = 0;
                for (k, v) in m.iter() {
                    black_box((k.clone(), v.clone()));
                    n += 1;
                }
                black_box(n)
            });
        });
        // A prefix that selects a tenth of the keys.
        let prefix = format!("user-{:011}", n / 10 / 10);
        g.bench_function(format!("prefix_{n}"), |b| {
            b.iter(|| black_box(tree.prefix(&prefix).count()));
        });
        let (a, z) = (key(n / 4), key(n / 4 + n / 10));
        g.bench_function(format!("range_tenth_{n}"), |b| {
            b.iter(|| black_box(tree.range(a.as_str()..z.as_str()).count()));
        });
    }
    g.finish();
}

criterion_group!(benches, iterate);
criterion_main!(benches);
