//! Whole runs: variant rotation, stop requests, bad variants, quick mode, residency.

use super::*;

#[test]
fn interleaved_mode_rotates_variants_each_repeat() {
    let mut p = plan("repeats = 3\nthreads = [1, 2]");
    p.run.bound = acorn_lab::workload::Bound::Ops(200);
    p.variants = vec!["noop".into(), "btreemap".into()];
    let r = run_on_the_real_clock(&p, false);
    assert_eq!(r.runs.len(), 12);
    let order: Vec<&str> = r
        .runs
        .iter()
        .filter(|x| x.threads == 1)
        .map(|x| x.variant.as_str())
        .collect();
    assert_eq!(
        order,
        ["noop", "btreemap", "btreemap", "noop", "noop", "btreemap"]
    );
    assert_eq!(r.summaries.len(), 4);
    assert!(r.runs.iter().all(|x| x.ops == 200 * x.threads as u64));
    assert_eq!(r.mode, "interleaved");
    assert!(!r.partial);
    // btreemap stores data: its load was measured.
    let s = r
        .summaries
        .iter()
        .find(|s| s.variant == "btreemap")
        .unwrap();
    assert!(s.load_throughput > 0.0 && s.per_op["read"].count > 0);
}

#[test]
fn a_stop_request_yields_partial_results() {
    let p = plan("repeats = 2");
    let r = run_on_the_real_clock(&p, true);
    assert!(r.partial);
    assert!(r.runs.len() < 2);
}

#[test]
fn unknown_variants_from_the_command_line_are_bad_input() {
    let opts = RunOptions {
        variants: Some(vec!["nope".into()]),
        ..RunOptions::default()
    };
    let e = run(
        &plan(""),
        &opts,
        &acorn_lab::runner::clock::RealClock::default(),
        &AtomicBool::new(false),
        &Silent,
    )
    .unwrap_err();
    assert!(matches!(e, BackendError::Unknown { .. }));
}

#[test]
fn quick_mode_shrinks_the_plan() {
    let p = plan("repeats = 5\nthreads = [1, 2, 4]").clone();
    let q = acorn_lab::runner::adjust(
        &p,
        &RunOptions {
            quick: true,
            ..RunOptions::default()
        },
    )
    .unwrap();
    assert_eq!((q.run.repeats, q.run.threads.len()), (1, 2));
    // The key space follows the records, so a quick run draws from what it loaded.
    let big = plan("[distribution]\nkind = \"scrambled_zipfian\"");
    let mut big = big.clone();
    big.dataset.records = 50_000;
    big.item_count = 50_000 + 700;
    let q = acorn_lab::runner::adjust(
        &big,
        &RunOptions {
            quick: true,
            ..RunOptions::default()
        },
    )
    .unwrap();
    assert_eq!((q.dataset.records, q.item_count), (10_000, 10_700));
}

#[test]
fn a_stop_during_the_load_ends_the_run_without_results() {
    // A stop raised before anything ran: loading (a million records) ends at once.
    let mut p = plan("");
    p.dataset.records = 1_000_000;
    p.variants = vec!["btreemap".into()];
    let r = run_on_the_real_clock(&p, true);
    assert!(r.partial && r.runs.is_empty() && r.summaries.is_empty() && r.targets.is_empty());
}

#[test]
fn the_results_say_how_many_variants_were_resident_at_once() {
    for (mode, resident) in [("sequential", 1), ("interleaved", 2), ("parallel", 2)] {
        let mut p = plan(&format!("mode = \"{mode}\""));
        p.variants = vec!["noop".into(), "btreemap".into()];
        let r = run_on_the_real_clock(&p, false);
        assert_eq!(r.resident, Some(resident), "{mode}");
        assert!(acorn_reports::table::render(&r).contains(&format!(
            "{resident} variant{} resident at once",
            if resident == 1 { "" } else { "s" }
        )));
    }
}

/// `run` of `p` with default options on the real clock, quietly, the stop flag raised from
/// the start when `stopped`.
fn run_on_the_real_clock(p: &Plan, stopped: bool) -> acorn_reports::Results {
    let clock = acorn_lab::runner::clock::RealClock::default();
    run(
        p,
        &RunOptions::default(),
        &clock,
        &AtomicBool::new(stopped),
        &Silent,
    )
    .unwrap()
}
