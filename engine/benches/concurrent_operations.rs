//! Threads sharing one tree, each beside the raw `RwLock<BTreeMap>` in the same run:
//! random reads on 1 and 2 threads, 2 readers with a writer alongside (one stash every
//! ~20 µs, so the writer itself takes little CPU from the 2 cores), and a 90/10 mix.
#![allow(clippy::unwrap_used)]
mod common;
use common::*;
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use std::hint::black_box;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

const OPS_PER_THREAD: u64 = 100_000;

/// What one worker thread runs against: the engine or the raw map.
trait Store: Sync {
    fn read(&self, k: &str);
    fn write(&self, k: &str, v: &[u8]);
}

impl Store for acorn::Tree {
    fn read(&self, k: &str) {
        black_box(self.crack(k).unwrap());
    }
    fn write(&self, k: &str, v: &[u8]) {
        black_box(self.stash(k, v).unwrap());
    }
}

impl Store for RawMap {
    fn read(&self, k: &str) {
        black_box(self.read().unwrap().get(k).cloned());
    }
    fn write(&self, k: &str, v: &[u8]) {
        black_box(self.write().unwrap().insert(k.to_owned(), v.to_vec()));
    }
}

/// `threads` workers doing `OPS_PER_THREAD` operations each (`write_pct` of them
/// stashes); with `writer`, one more thread stashes every ~20 µs until they finish.
fn run(
    store: &impl Store,
    keys: &[String],
    threads: usize,
    write_pct: usize,
    writer: bool,
) -> Duration {
    let val = value(1);
    let done = AtomicBool::new(false);
    std::thread::scope(|s| {
        if writer {
            let (val, done) = (&val, &done);
            s.spawn(move || {
                let mut rng = Rng(0xfeed);
                while !done.load(Ordering::Relaxed) {
                    store.write(&keys[rng.below(keys.len())], val);
                    std::thread::sleep(Duration::from_micros(20));
                }
            });
        }
        let start = Instant::now();
        let workers: Vec<_> = (0..threads)
            .map(|t| {
                let val = &val;
                s.spawn(move || {
                    let mut rng = Rng(0x1234_5678 + t as u64);
                    for _ in 0..OPS_PER_THREAD {
                        let k = &keys[rng.below(keys.len())];
                        if write_pct > 0 && rng.below(100) < write_pct {
                            store.write(k, val);
                        } else {
                            store.read(k);
                        }
                    }
                })
            })
            .collect();
        for w in workers {
            w.join().unwrap();
        }
        let took = start.elapsed();
        done.store(true, Ordering::Relaxed);
        took
    })
}

fn concurrent(c: &mut Criterion) {
    let mut g = c.benchmark_group("concurrent_operations");
    g.sample_size(20);
    let n = 10_000;
    let keys = keys(n);
    let tree = filled(n);
    let raw = raw_filled(n);
    for threads in [1, 2] {
        g.throughput(Throughput::Elements(OPS_PER_THREAD * threads as u64));
        g.bench_function(format!("crack_{threads}_threads"), |b| {
            b.iter_custom(|iters| {
                (0..iters)
                    .map(|_| run(&tree, &keys, threads, 0, false))
                    .sum()
            });
        });
        g.bench_function(format!("raw_btreemap_get_{threads}_threads"), |b| {
            b.iter_custom(|iters| {
                (0..iters)
                    .map(|_| run(&raw, &keys, threads, 0, false))
                    .sum()
            });
        });
        g.bench_function(format!("crack_{threads}_threads_with_writer"), |b| {
            b.iter_custom(|iters| {
                (0..iters)
                    .map(|_| run(&tree, &keys, threads, 0, true))
                    .sum()
            });
        });
        g.bench_function(
            format!("raw_btreemap_get_{threads}_threads_with_writer"),
            |b| {
                b.iter_custom(|iters| (0..iters).map(|_| run(&raw, &keys, threads, 0, true)).sum());
            },
        );
        g.bench_function(format!("mixed_90_10_{threads}_threads"), |b| {
            b.iter_custom(|iters| {
                (0..iters)
                    .map(|_| run(&tree, &keys, threads, 10, false))
                    .sum()
            });
        });
        g.bench_function(format!("raw_btreemap_mixed_90_10_{threads}_threads"), |b| {
            b.iter_custom(|iters| {
                (0..iters)
                    .map(|_| run(&raw, &keys, threads, 10, false))
                    .sum()
            });
        });
    }
    g.finish();
}

criterion_group!(benches, concurrent);
criterion_main!(benches);
