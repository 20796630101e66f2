//! Throughput of 1, 2 and 4 threads sharing one tree: reads, and a 90/10 read/write mix.
#![allow(clippy::unwrap_used)]
mod common;
use common::*;
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use std::hint::black_box;
use std::time::{Duration, Instant};

const OPS_PER_THREAD: u64 = 20_000;

fn run(tree: &acorn::Tree, keys: &[String], threads: usize, write_pct: usize) -> Duration {
    let val = value(1);
    let start = Instant::now();
    std::thread::scope(|s| {
        for t in 0..threads {
            let val = &val;
            s.spawn(move || {
                let mut rng = Rng(0x1234_5678 + t as u64);
                for _ in 0..OPS_PER_THREAD {
                    let k = &keys[rng.below(keys.len())];
                    if rng.below(100) < write_pct {
                        black_box(tree.stash(k, val).unwrap());
                    } else {
                        black_box(tree.crack(k).unwrap());
                    }
                }
            });
        }
    });
    start.elapsed()
}

fn concurrent(c: &mut Criterion) {
    let mut g = c.benchmark_group("concurrent_operations");
    let n = 10_000;
    let keys = keys(n);
    let tree = filled(n);
    for threads in [1, 2, 4] {
        g.throughput(Throughput::Elements(OPS_PER_THREAD * threads as u64));
        for (name, pct) in [("crack", 0), ("mixed_90_10", 10)] {
            g.bench_function(format!("{name}_{threads}_threads"), |b| {
                b.iter_custom(|iters| (0..iters).map(|_| run(&tree, &keys, threads, pct)).sum());
            });
        }
    }
    g.finish();
}

criterion_group!(benches, concurrent);
criterion_main!(benches);
