//! The harness's own cost per operation, measured so that a loaded machine does not blur
//! it: phases against `noop` (stream, key name, dispatch, clock, latency recording) on
//! each key distribution, interleaved with a bare loop, round after round; the best round
//! of each is printed (the least disturbed), with the median beside it.
//!
//! `cargo run --release -p acorn-lab --example harness_cost [ROUNDS] [DISTRIBUTION...]`
//! (default 15 rounds; uniform, zipfian, scrambled_zipfian).

use std::hint::black_box;
use std::path::Path;
use std::sync::atomic::AtomicBool;
use std::time::Instant;

use acorn_lab::backend::{self, Options};
use acorn_lab::runner::clock::RealClock;
use acorn_lab::runner::phase::run_phase;
use acorn_lab::workload::Plan;

const OPS: u64 = 500_000;

fn plan(kind: &str) -> Result<Plan, String> {
    let src = format!(
        "name = \"harness\"\nvariants = [\"noop\"]\n[dataset]\nrecords = 50_000\n[run]\nops = {OPS}\nwarmup = \"0s\"\n[mix]\nread = 100\n[distribution]\nkind = \"{kind}\"\n"
    );
    Plan::parse(Path::new("harness.toml"), &src).map_err(|e| e.to_string())
}

fn summary(mut v: Vec<f64>) -> (f64, f64) {
    v.sort_by(f64::total_cmp);
    (v[0], v[v.len() / 2])
}

fn main() -> Result<(), String> {
    let mut args = std::env::args().skip(1);
    let rounds: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(15);
    let mut kinds: Vec<String> = args.collect();
    if kinds.is_empty() {
        kinds = ["uniform", "zipfian", "scrambled_zipfian"]
            .map(String::from)
            .to_vec();
    }
    let plans = kinds
        .iter()
        .map(|k| plan(k))
        .collect::<Result<Vec<_>, _>>()?;
    let noop = backend::open("noop", &Options::default()).map_err(|e| e.to_string())?;
    let (clock, stop) = (RealClock::default(), AtomicBool::new(false));
    let mut bare = Vec::new();
    let mut per_kind = vec![Vec::new(); plans.len()];
    for _ in 0..rounds {
        let t = Instant::now();
        for i in 0..OPS {
            black_box(i);
        }
        bare.push(t.elapsed().as_nanos() as f64 / OPS as f64);
        for (p, out) in plans.iter().zip(&mut per_kind) {
            let t = Instant::now();
            black_box(run_phase(noop.as_ref(), p, 1, false, &clock, &stop).elapsed_ns);
            out.push(t.elapsed().as_nanos() as f64 / OPS as f64);
        }
    }
    let (best, median) = summary(bare);
    println!(
        "{:<20} best {best:6.2} ns/op   median {median:6.2} ns/op",
        "bare loop"
    );
    for (k, v) in kinds.iter().zip(per_kind) {
        let (best, median) = summary(v);
        println!(
            "{:<20} best {best:6.2} ns/op   median {median:6.2} ns/op",
            format!("noop {k}")
        );
    }
    Ok(())
}
