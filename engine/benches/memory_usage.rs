//! Bytes per item, counted by a global allocator wrapper (live heap bytes before and after
//! a load), plus the time to load. Prints `bytes/item` lines the lab and notes quote.
#![allow(clippy::unwrap_used)]

mod common;
use common::*;
use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
#[path = "../tests/common/counting.rs"]
mod counting;

fn bytes_per_item(n: usize, random_order: bool) -> f64 {
    let keys = keys(n);
    let mut order: Vec<usize> = (0..n).collect();
    if random_order {
        let mut rng = Rng(42);
        for i in (1..n).rev() {
            order.swap(i, rng.below(i + 1));
        }
    }
    let vals: Vec<Vec<u8>> = (0..n).map(value).collect();
    let before = counting::live();
    let tree = acorn::Tree::open_memory();
    for &i in &order {
        tree.stash(&keys[i], &vals[i]).unwrap();
    }
    let after = counting::live();
    let per_item = (after - before) as f64 / n as f64;
    drop(tree);
    per_item
}

fn memory(c: &mut Criterion) {
    let payload = key(0).len() + VALUE_BYTES;
    for n in [10_000, 100_000] {
        for random in [false, true] {
            let b = bytes_per_item(n, random);
            println!(
                "memory_usage: {n} items ({} order): {b:.1} bytes/item = key+value ({payload}) + {:.1} overhead",
                if random { "random" } else { "sequential" },
                b - payload as f64
            );
        }
    }
    let mut g = c.benchmark_group("memory_usage");
    for n in [10_000, 100_000] {
        let keys = keys(n);
        let val = value(0);
        g.throughput(Throughput::Elements(n as u64));
        g.bench_function(format!("load_and_drop_{n}"), |b| {
            b.iter_batched(
                || (),
                |()| {
                    let t = acorn::Tree::open_memory();
                    for k in &keys {
                        t.stash(k, &val).unwrap();
                    }
                    t
                },
                BatchSize::PerIteration,
            );
        });
    }
    g.finish();
}

criterion_group!(benches, memory);
criterion_main!(benches);
