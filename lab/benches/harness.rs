//! What the lab itself costs per operation, beside a bare loop: a whole measured phase
//! against `noop` (stream, key name, dispatch, clock, latency recording) on uniform, exact
//! zipfian and YCSB's scrambled zipfian keys, and each piece alone. Goal: a `noop` phase
//! under 50 ns per operation on every stream (`cargo bench -p acorn-lab --bench harness`;
//! criterion prints time per operation as the element time).

#![allow(clippy::unwrap_used)]

use std::hint::black_box;
use std::path::Path;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;

use acorn_lab::backend::{self, Options};
use acorn_lab::doc::SplitMix;
use acorn_lab::measure::Recorder;
use acorn_lab::runner::clock::{Clock, RealClock};
use acorn_lab::runner::phase::run_phase;
use acorn_lab::workload::{KeySpace, OpKind, OpStream, Plan};
use criterion::{criterion_group, criterion_main, Criterion, Throughput};

/// Operations per measured phase.
const OPS: u64 = 200_000;

fn plan(kind: &str) -> Plan {
    let src = format!(
        "name = \"harness\"\nvariants = [\"noop\"]\n[dataset]\nrecords = 50_000\n[run]\nops = {OPS}\nwarmup = \"0s\"\n[mix]\nread = 100\n[distribution]\nkind = \"{kind}\"\n"
    );
    Plan::parse(Path::new("harness.toml"), &src).unwrap()
}

const KINDS: [&str; 3] = ["uniform", "zipfian", "scrambled_zipfian"];

fn phase(c: &mut Criterion) {
    let mut g = c.benchmark_group("harness");
    g.throughput(Throughput::Elements(OPS));
    g.sample_size(20);
    g.bench_function("bare_loop", |b| {
        b.iter(|| {
            for i in 0..OPS {
                black_box(i);
            }
        });
    });
    let noop = backend::open("noop", &Options::default()).unwrap();
    g.bench_function("noop_direct_read", |b| {
        let mut w = noop.worker();
        b.iter(|| {
            for _ in 0..OPS {
                black_box(w.read(b"user12345").unwrap().is_some());
            }
        });
    });
    let clock = RealClock::default();
    let stop = AtomicBool::new(false);
    for kind in KINDS {
        let p = plan(kind);
        g.bench_function(format!("noop_phase_{kind}"), |b| {
            b.iter(|| black_box(run_phase(noop.as_ref(), &p, 1, false, &clock, &stop).elapsed_ns));
        });
    }
    g.finish();
}

fn pieces(c: &mut Criterion) {
    let mut g = c.benchmark_group("harness_pieces");
    g.throughput(Throughput::Elements(1));
    for kind in KINDS {
        let p = plan(kind);
        let spec = p.stream_spec();
        let mut s = OpStream::new(&spec, 0, 1, Arc::new(KeySpace::measured(50_000)));
        g.bench_function(format!("stream_{kind}"), |b| {
            b.iter(|| black_box(s.next()));
        });
    }
    let p = plan("uniform");
    let mut key = Vec::with_capacity(64);
    let mut rng = SplitMix(1);
    g.bench_function("key_name_hashed", |b| {
        b.iter(|| {
            p.dataset.write_key(&mut key, rng.below(50_000));
            black_box(key.len())
        });
    });
    let clock = RealClock::default();
    g.bench_function("clock_now", |b| b.iter(|| black_box(clock.now_ns())));
    let mut rec = Recorder::new(0, 10_000_000);
    let mut t = 0u64;
    g.bench_function("record", |b| {
        b.iter(|| {
            t += 37;
            rec.record(OpKind::Read, black_box(t % 1000 + 20), t, None);
        });
    });
    g.finish();
}

criterion_group!(benches, phase, pieces);
criterion_main!(benches);
