//! Sequential mode loads one variant at a time and drops it when its phases end: while the
//! second variant runs, the first one's data is gone. Measured with the counting allocator
//! (the only test in this binary, so no other test's allocations are counted).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::sync::atomic::AtomicBool;
use std::sync::Mutex;

use acorn_lab::measure::alloc::{snapshot, CountingAlloc};
use acorn_lab::runner::{run, Finished, Progress, RunOptions};
use acorn_lab::workload::Plan;

#[global_allocator]
static ALLOC: CountingAlloc = CountingAlloc;

/// Live heap bytes at the end of each measured phase, by variant.
#[derive(Default)]
struct LiveAtPhaseEnd(Mutex<Vec<(String, i64)>>);

impl Progress for LiveAtPhaseEnd {
    fn finished(&self, phase: &Finished) {
        let live = snapshot().live_bytes;
        self.0.lock().unwrap().push((phase.variant.clone(), live));
    }
}

fn peak_live(mode: &str) -> (i64, i64) {
    let src = format!(
        "name = \"t\"\nvariants = [\"btreemap\", \"plain\"]\n[dataset]\nrecords = 20000\n[run]\nops = 200\nwarmup = \"0s\"\nrepeats = 1\nmode = \"{mode}\"\n[mix]\nread = 100\n"
    );
    let plan = Plan::parse(Path::new("t.toml"), &src).unwrap();
    let base = snapshot().live_bytes;
    let seen = LiveAtPhaseEnd::default();
    let clock = acorn_lab::runner::clock::RealClock::default();
    run(
        &plan,
        &RunOptions::default(),
        &clock,
        &AtomicBool::new(false),
        &seen,
    )
    .unwrap();
    let seen = seen.0.into_inner().unwrap();
    let at = |v: &str| {
        seen.iter()
            .find(|(name, _)| name == v)
            .map(|(_, live)| live - base)
            .unwrap()
    };
    (at("btreemap"), at("plain"))
}

#[test]
fn sequential_mode_holds_one_variant_at_a_time() {
    let (bt_alone, plain_alone) = peak_live("sequential");
    let (_, plain_beside_bt) = peak_live("interleaved");
    // Interleaved keeps btreemap's data while `plain` runs; sequential has dropped it.
    assert!(bt_alone > 1_000_000, "btreemap held {bt_alone} B");
    assert!(
        plain_beside_bt - plain_alone > bt_alone / 2,
        "plain ran beside {plain_beside_bt} B interleaved, {plain_alone} B sequential; \
         btreemap alone {bt_alone} B"
    );
}
