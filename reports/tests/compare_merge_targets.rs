//! compare flags real regressions and not noise; merge combines histograms exactly;
//! the targets table is rewritten in place and nothing else is touched.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::BTreeMap;

use acorn_reports::compare::{compare, parse_threshold, Comparison, Reference, Verdict};
use acorn_reports::merge::merge;
use acorn_reports::results::{
    PartLatency, Results, RunResult, TargetStatus, TargetVerdict, VariantSummary,
};
use acorn_reports::stats::{decode, op_result, SIGFIG};
use acorn_reports::targets::update_markdown;

/// One run per throughput: ten 100 ms intervals at that rate, one read latency histogram
/// of `latencies` (the same in each of its ten parts).
fn runs(variant: &str, throughputs: &[f64], latencies: &[u64]) -> Vec<RunResult> {
    let mut h = hdrhistogram::Histogram::<u64>::new(SIGFIG).unwrap();
    for l in latencies {
        h.record(*l).unwrap();
    }
    let mut op = op_result(&h, 0, Vec::new(), 1.0);
    throughputs
        .iter()
        .enumerate()
        .map(|(i, t)| {
            let part = PartLatency {
                count: (*t as u64 / 10).max(1),
                ..PartLatency::of(&h)
            };
            op.parts = vec![part; 10];
            op.count = *t as u64;
            op.throughput = *t;
            RunResult {
                variant: variant.into(),
                threads: 1,
                repeat: i as u32,
                elapsed_s: 1.0,
                ops: *t as u64,
                throughput: *t,
                per_op: BTreeMap::from([("read".to_owned(), op.clone())]),
                interval_s: 0.1,
                intervals: [vec![(*t / 10.0) as u64; 10], vec![0]].concat(),
                ..RunResult::default()
            }
        })
        .collect()
}

fn summary(variant: &str, runs: &[RunResult]) -> VariantSummary {
    let mine: Vec<&RunResult> = runs.iter().filter(|r| r.variant == variant).collect();
    let mut s = VariantSummary {
        variant: variant.into(),
        threads: 1,
        ..VariantSummary::default()
    };
    acorn_reports::stats::summarize_runs(&mut s, &mine);
    s
}

fn results(throughputs: &[f64], latencies: &[u64]) -> Results {
    let runs = runs("plain", throughputs, latencies);
    Results {
        schema_version: 1,
        workload: "w".into(),
        started_at: "2026-11-25T10:00:00Z".into(),
        finished_at: "2026-11-25T10:01:00Z".into(),
        summaries: vec![summary("plain", &runs)],
        runs,
        ..Results::default()
    }
}

/// `results` with btreemap beside plain, at these throughputs (the reference).
fn with_reference(mut r: Results, throughputs: &[f64]) -> Results {
    let more = runs("btreemap", throughputs, &[100]);
    r.summaries.push(summary("btreemap", &more));
    r.runs.extend(more);
    r
}

fn cmp(base: &Results, new: &Results, t: f64) -> Comparison {
    compare(base, new, t, &Reference::Auto).unwrap()
}

#[test]
fn a_real_regression_is_flagged_and_noise_is_not() {
    let steady = [200_000.0, 202_000.0, 198_000.0];
    let base = with_reference(results(&[100_000.0, 101_000.0, 99_000.0], &[100]), &steady);
    let slower = with_reference(results(&[80_000.0, 81_000.0, 79_500.0], &[100]), &steady);
    let noisy = with_reference(results(&[101_500.0, 98_800.0, 100_200.0], &[100]), &steady);
    let t = parse_threshold("5%").unwrap();
    let c = cmp(&base, &slower, t);
    assert!(c.regressed());
    assert!(c.changes.iter().any(|c| c.op == "all"
        && c.variant == "plain"
        && c.verdict == Verdict::Slower
        && (c.delta.unwrap() + 0.2).abs() < 0.02));
    assert!(!cmp(&base, &noisy, t).regressed());
    // A big change inside very wide noise is not called a regression.
    let wild_base = with_reference(results(&[50_000.0, 150_000.0, 100_000.0], &[100]), &steady);
    let wild_new = with_reference(results(&[40_000.0, 140_000.0, 85_000.0], &[100]), &steady);
    assert!(!cmp(&wild_base, &wild_new, t).regressed());
    // Alone, plain's 20% drop is what the whole machine could have done: undecided.
    let alone = cmp(
        &results(&[100_000.0, 101_000.0, 99_000.0], &[100]),
        &results(&[80_000.0, 81_000.0, 79_500.0], &[100]),
        t,
    );
    assert!(!alone.regressed());
    assert_eq!(alone.changes[0].verdict, Verdict::Unsure, "{alone:?}");
    assert!(parse_threshold("five").is_err());
    assert_eq!(parse_threshold("0.1").unwrap(), 0.1);
}

#[test]
fn threshold_5_means_five_percent_and_a_91_percent_drop_is_a_regression() {
    for text in ["5", "5%", "0.05", " 5 % "] {
        assert!(
            (parse_threshold(text).unwrap() - 0.05).abs() < 1e-12,
            "{text}"
        );
    }
    assert!(parse_threshold("100%").is_err());
    assert!(parse_threshold("-1").is_err());
    let steady = [200_000.0, 202_000.0, 198_000.0];
    let base = with_reference(results(&[200_000.0, 201_000.0, 199_000.0], &[100]), &steady);
    let dropped = with_reference(results(&[18_000.0, 18_100.0, 17_900.0], &[100]), &steady);
    let c = cmp(&base, &dropped, parse_threshold("5").unwrap());
    assert!(c.regressed(), "{c:?}");
}

#[test]
fn merging_two_halves_gives_the_whole_histogram() {
    let all: Vec<u64> = (1..5000).map(|i| i * 97 % 100_000 + 1).collect();
    let (a, b): (Vec<u64>, Vec<u64>) = all.iter().partition(|v| *v % 2 == 0);
    let whole = results(&[1.0], &all);
    let mut other = results(&[1.0], &b);
    other.machine.hostname = "second".into();
    // Each generator paired its own variants on its own machine: no rounds of the whole.
    let mut first = results(&[1.0], &a);
    first.paired = vec![acorn_reports::paired::Rounds::default()];
    let merged = merge(&[first, other.clone()]).unwrap();
    assert!(merged.paired.is_empty());
    let got = decode(&merged.summaries[0].per_op["read"].histogram);
    let want = decode(&whole.summaries[0].per_op["read"].histogram);
    assert_eq!(got, want);
    assert_eq!(
        merged.summaries[0].per_op["read"].p99_ns,
        whole.summaries[0].per_op["read"].p99_ns
    );
    // One run per repeat, for the whole system: the generators' throughputs add up.
    assert_eq!(merged.runs.len(), 1);
    assert_eq!(merged.runs[0].throughput, 2.0);
    assert_eq!(merged.generators, 2);
    let mut different = results(&[1.0], &a);
    different.workload = "different".into();
    assert!(merge(&[results(&[1.0], &a), different])
        .unwrap_err()
        .contains("different workloads"));
}

#[test]
fn merge_refuses_the_same_file_twice_other_settings_and_runs_that_did_not_overlap() {
    let a = results(&[100.0, 101.0, 99.0], &[100]);
    assert!(merge(&[a.clone(), a.clone()])
        .unwrap_err()
        .contains("same results"));
    let mut b = a.clone();
    b.machine.hostname = "other".into();
    b.plan.records = Some(5);
    assert!(merge(&[a.clone(), b.clone()])
        .unwrap_err()
        .contains("other settings"));
    b.plan = a.plan.clone();
    b.started_at = "2026-11-25T11:00:00Z".into();
    b.finished_at = "2026-11-25T11:01:00Z".into();
    assert!(merge(&[a.clone(), b.clone()])
        .unwrap_err()
        .contains("did not overlap"));
    b.finished_at = String::new();
    assert!(merge(&[a.clone(), b.clone()])
        .unwrap_err()
        .contains("no finish time"));
    let mut partial = a.clone();
    partial.machine.hostname = "third".into();
    partial.runs.pop();
    assert!(merge(&[a, partial])
        .unwrap_err()
        .contains("not in every file"));
}

#[test]
fn a_merge_compares_sanely_with_another_merge_and_with_one_generator() {
    // Two generators that each did ~100k ops/s side by side.
    let gen = |host: &str, t: &[f64]| {
        let mut r = results(t, &[100, 200, 300]);
        r.machine.hostname = host.into();
        r
    };
    let m1 = merge(&[
        gen("a", &[100e3, 101e3, 99e3]),
        gen("b", &[99e3, 100e3, 101e3]),
    ])
    .unwrap();
    let m2 = merge(&[
        gen("a", &[100.5e3, 99.5e3, 100e3]),
        gen("b", &[101e3, 99e3, 100e3]),
    ])
    .unwrap();
    let t = parse_threshold("5%").unwrap();
    let c = cmp(&m1, &m2, t);
    assert!(!c.regressed(), "{c:?}");
    let all = c.changes.iter().find(|c| c.op == "all").unwrap();
    assert!((all.base.median - 200e3).abs() < 3e3, "{all:?}");
    // Against one generator alone: the merge is the larger load, never a regression, and
    // the differing generator count is said.
    let single = gen("a", &[100e3, 101e3, 99e3]);
    assert!(!cmp(&single, &m1, t).regressed());
    assert!(acorn_reports::compare::mismatches(&single, &m1)
        .warn
        .iter()
        .any(|w| w.contains("load generator")));
}

#[test]
fn the_targets_table_is_rewritten_in_place() {
    let doc = "# Perf\n\nIntro | with a pipe.\n\n<!-- targets:begin -->\n| Operation | Seed target | Current | Status |\n|---|---|---|---|\n| Single Stash | > 100k ops/s | TBD | open |\n| Untouched | x | keep | me |\n<!-- targets:end -->\n\nOutro.\n";
    let mut r = results(&[1.0], &[1]);
    r.started_at = "2026-11-25T10:00:00Z".into();
    r.targets = vec![TargetVerdict {
        name: "Single Stash".into(),
        metric: "insert.throughput".into(),
        variant: "plain".into(),
        expect: "> 100k ops/s".into(),
        threads: Some(2),
        actual: Some(3.2e6),
        interval: Some([3.1e6, 3.3e6]),
        actual_text: "3.20M ops/s [3.10M ops/s, 3.30M ops/s]".into(),
        pass: true,
        status: Some(TargetStatus::Pass),
    }];
    let out = update_markdown(doc, &r).unwrap();
    assert!(
        out.contains(
            "| Single Stash | > 100k ops/s | 3.20M ops/s [3.10M ops/s, 3.30M ops/s] (`w`, plain, 2 threads) | pass |"
        ),
        "{out}"
    );
    assert!(out.contains("| Untouched | x | keep | me |"));
    assert!(out.starts_with("# Perf\n\nIntro | with a pipe.\n\n<!-- targets:begin -->\n"));
    assert!(out.ends_with("<!-- targets:end -->\n\nOutro.\n"));
    assert!(out.contains("_Updated 2026-11-25T10:00:00Z"));
    // Updating twice keeps one "_Updated" line.
    let again = update_markdown(&out, &r).unwrap();
    assert_eq!(again.matches("_Updated ").count(), 1);
    assert!(update_markdown("no markers", &r).is_err());
}

#[test]
fn a_p99_ten_times_higher_is_a_regression_even_at_the_same_throughput() {
    // 99 fast reads of 2 µs and one slow one: p99 2.0 µs; then the slow tail grows.
    let fast: Vec<u64> = std::iter::repeat_n(2_000, 990).chain([2_000; 10]).collect();
    let slow: Vec<u64> = std::iter::repeat_n(2_000, 980)
        .chain([22_300; 20])
        .collect();
    let steady = [200_000.0, 202_000.0, 198_000.0];
    let mut base = with_reference(results(&[100_000.0, 101_000.0, 99_000.0], &fast), &steady);
    let mut new = with_reference(results(&[100_500.0, 99_500.0, 100_000.0], &slow), &steady);
    // The same latency in every repeat would be no spread at all; real repeats differ a bit.
    for r in [&mut base, &mut new] {
        for (i, run) in r.runs.iter_mut().enumerate() {
            for part in &mut run.per_op.get_mut("read").unwrap().parts {
                part.p99_ns += 20 * i as u64;
            }
        }
    }
    let c = cmp(&base, &new, parse_threshold("5%").unwrap());
    let p99 = c
        .changes
        .iter()
        .find(|c| c.label() == "read p99" && c.variant == "plain")
        .unwrap();
    assert!(
        (p99.base.median - 2_000.0).abs() < 50.0 && p99.new.median > 22_000.0,
        "{p99:?}"
    );
    assert_eq!(p99.verdict, Verdict::Slower, "{p99:?}");
    assert!(c.regressed());
    // Lower latency is faster, not a regression.
    let c = cmp(&new, &base, parse_threshold("5%").unwrap());
    assert!(!c.regressed());
    assert!(c
        .changes
        .iter()
        .any(|ch| ch.label() == "read p99" && ch.verdict == Verdict::Faster));
}

#[test]
fn one_repeat_is_undecided_for_lack_of_data() {
    // One repeat each: a 20% drop is not called a regression on no evidence; the rows say
    // why, and the table points to `lab ab`.
    let base = with_reference(results(&[100_000.0], &[100]), &[200_000.0]);
    let new = with_reference(results(&[80_000.0], &[100]), &[200_000.0]);
    let c = cmp(&base, &new, parse_threshold("5%").unwrap());
    assert!(!c.changes.is_empty());
    assert!(
        c.changes
            .iter()
            .all(|c| c.verdict == Verdict::Unsure && c.lacks_data),
        "{c:?}"
    );
    assert!(
        c.changes[0].reason.contains("1 repeat"),
        "{:?}",
        c.changes[0]
    );
    assert!(acorn_reports::compare::render(&c).contains("use `lab ab`"));
}

#[test]
fn compare_refuses_other_workloads_and_quick_against_full_and_warns_about_settings() {
    use acorn_reports::compare::mismatches;
    let base = results(&[100.0, 101.0, 99.0], &[100]);
    let mut other = base.clone();
    other.workload = "other".into();
    assert!(mismatches(&base, &other).refuse[0].contains("different workloads"));
    let mut quick = base.clone();
    quick.quick = true;
    assert!(mismatches(&base, &quick).refuse[0].contains("--quick"));
    let mut records = base.clone();
    records.plan.records = Some(10);
    let mut more = base.clone();
    (more.plan.records, more.plan.repeats) = (Some(20), Some(1));
    let m = mismatches(&records, &more);
    assert!(m.refuse.iter().any(|r| r.contains("`records`")), "{m:?}");
    assert!(m.warn.iter().any(|w| w.contains("`repeats`")), "{m:?}");
    // The value shape changes what is measured: a compare of 100-byte against 1000-byte
    // values is refused (the string keys compare looked up missed `value`).
    let mut small = base.clone();
    small.plan.value = Some(serde_json::json!({"bytes": 100}));
    let mut large = base.clone();
    large.plan.value = Some(serde_json::json!({"bytes": 1000}));
    let m = mismatches(&small, &large);
    assert!(m.refuse.iter().any(|r| r.contains("`value`")), "{m:?}");
    // An entry only a newer lab writes is compared too, as a warning.
    let mut newer = base.clone();
    newer
        .plan
        .other
        .insert("shards".into(), serde_json::json!(4));
    let m = mismatches(&base, &newer);
    assert!(
        m.refuse.is_empty() && m.warn[0].contains("`shards`"),
        "{m:?}"
    );
    let mut described = base.clone();
    described.summaries[0]
        .info
        .insert("durability".into(), "fsync per commit".into());
    assert!(mismatches(&base, &described).warn[0].contains("durability"));
    assert_eq!(mismatches(&base, &base.clone()), Default::default());
}

/// A results file from an older lab (schema 1, the fixture) reads into the typed plan:
/// entries under their old names land in their own fields, and against a plan of today
/// (`value` where it had `doc`) they differ only by a warning, never a refusal.
#[test]
fn an_older_files_plan_reads_typed_and_compares_with_a_new_one() {
    use acorn_reports::compare::mismatches;
    let old = common::fixture();
    assert!(old.schema_version < 4);
    let p = &old.plan;
    assert_eq!(p.records, Some(1000));
    assert_eq!(p.key_prefix.as_deref(), Some("user-"));
    assert_eq!(p.scan_length, Some(100));
    assert_eq!(p.cache_capacity, Some(10_000));
    assert_eq!(p.doc.as_ref().unwrap()["fields"], 2);
    assert_eq!(p.targets[0].metric, "read.p99");
    assert!(p.value.is_none() && p.other.is_empty(), "{p:?}");
    let mut new = old.clone();
    new.plan.value = Some(serde_json::json!({"doc": p.doc.clone()}));
    new.plan.doc = None;
    let m = mismatches(&old, &new);
    assert!(m.refuse.is_empty(), "{m:?}");
    assert!(m.warn.iter().any(|w| w.contains("`value`")), "{m:?}");
}
