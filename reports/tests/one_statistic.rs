//! One statistic everywhere (issue 24, section 4): the terminal table, the report, compare
//! and the targets all show the same median with the same interval; no interval goes below
//! zero or misses its point; targets fail only when the whole interval misses, and say
//! "undecided" when it straddles; harness fixtures are not ranked; caveats are said.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::BTreeMap;

use acorn_reports::compare::{compare, Reference};
use acorn_reports::estimate::{self, Stat};
use acorn_reports::format::{human, Unit};
use acorn_reports::results::{OpResult, PartLatency, Results, RunResult, VariantSummary};
use acorn_reports::targets::Target;
use acorn_reports::{stats, TargetStatus};
use common::fixture;

/// Runs of `variant` whose ten intervals (100 ms each) run at the rates given per repeat.
fn runs(variant: &str, repeats: &[[f64; 10]]) -> Vec<RunResult> {
    repeats
        .iter()
        .enumerate()
        .map(|(i, rates)| {
            let intervals: Vec<u64> = rates.iter().map(|r| (r / 10.0) as u64).chain([0]).collect();
            let ops: u64 = intervals.iter().sum();
            let parts = rates
                .iter()
                .map(|r| PartLatency {
                    count: (r / 10.0) as u64,
                    p50_ns: (1e9 / r) as u64,
                    p90_ns: (2e9 / r) as u64,
                    p99_ns: (4e9 / r) as u64,
                    p999_ns: (8e9 / r) as u64,
                })
                .collect();
            let op = OpResult {
                count: ops,
                throughput: ops as f64,
                parts,
                ..OpResult::default()
            };
            RunResult {
                variant: variant.into(),
                threads: 1,
                repeat: i as u32,
                elapsed_s: 1.0,
                ops,
                throughput: ops as f64,
                per_op: BTreeMap::from([("read".to_owned(), op)]),
                interval_s: 0.1,
                intervals,
                ..RunResult::default()
            }
        })
        .collect()
}

fn results(variants: &[(&str, Vec<RunResult>)]) -> Results {
    let mut r = Results {
        schema_version: acorn_reports::results::SCHEMA_VERSION,
        workload: "w".into(),
        ..Results::default()
    };
    for (v, runs) in variants {
        let mine: Vec<&RunResult> = runs.iter().collect();
        let mut s = VariantSummary {
            variant: (*v).into(),
            threads: 1,
            ..VariantSummary::default()
        };
        stats::summarize_runs(&mut s, &mine);
        r.summaries.push(s);
        r.runs.extend(runs.iter().cloned());
    }
    r
}

/// Three repeats around `level`, with a spread of ±`by` over the blocks.
fn around(level: f64, by: f64) -> Vec<[f64; 10]> {
    (0..3)
        .map(|r| {
            std::array::from_fn(|b| {
                level * (1.0 + by * (((b * 7 + r * 3) % 11) as f64 / 5.0 - 1.0))
            })
        })
        .collect()
}

#[test]
fn the_table_the_targets_and_compare_show_the_same_median_and_interval() {
    let r = results(&[("plain", runs("plain", &around(500_000.0, 0.2)))]);
    let e = estimate::of(&r, "plain", 1, None, Stat::Throughput).unwrap();
    let p99 = estimate::of(&r, "plain", 1, Some("read"), Stat::P99).unwrap();
    // The summary holds the estimate.
    assert_eq!(r.summaries[0].throughput_median, e.median);
    assert_eq!(r.summaries[0].throughput_ci95, e.interval());
    // The table prints it.
    let table = acorn_reports::table::render(&r);
    assert!(table.contains(&human(Unit::Rate, e.median)), "{table}");
    assert!(
        table.contains(&acorn_reports::estimate::interval_pct(&e)),
        "{table}"
    );
    assert!(
        table.contains(&acorn_reports::estimate::with_pct(Unit::Time, &p99)),
        "{table}"
    );
    // A target on it reports it.
    let t = Target::parse("T", "plain", "throughput", "> 1 ops/s").unwrap();
    let v = t.judge(&r.summaries, &r.runs);
    assert_eq!(v.actual, Some(e.median));
    assert_eq!(v.interval, Some(e.interval()));
    // Compare shows it as each side's value.
    let c = compare(&r, &r, 0.05, &Reference::Auto).unwrap();
    assert_eq!(c.changes[0].base, e);
    // The report shows it.
    let html = acorn_reports::html::render(&r).unwrap();
    assert!(html.contains(&acorn_reports::estimate::with_interval(Unit::Time, &p99)));
    // No interval below zero, none that misses its point, for every statistic.
    for stat in [
        Stat::Throughput,
        Stat::P50,
        Stat::P90,
        Stat::P99,
        Stat::P999,
    ] {
        let e = estimate::of(&r, "plain", 1, Some("read"), stat).unwrap();
        assert!(
            e.lo >= 0.0 && e.lo <= e.median && e.median <= e.hi,
            "{stat:?}: {e:?}"
        );
    }
}

#[test]
fn a_target_fails_only_when_its_whole_interval_misses() {
    let r = results(&[("plain", runs("plain", &around(500_000.0, 0.2)))]);
    let e = estimate::of(&r, "plain", 1, None, Stat::Throughput).unwrap();
    assert!(e.lo < e.median && e.median < e.hi, "{e:?}");
    let judge = |expect: String| {
        Target::parse("T", "plain", "throughput", &expect)
            .unwrap()
            .judge(&r.summaries, &r.runs)
    };
    let below = judge(format!("> {:.0} ops/s", e.lo * 0.9));
    assert_eq!(below.status(), TargetStatus::Pass);
    assert!(below.pass && !below.failed());
    let straddling = judge(format!("> {:.0} ops/s", e.median));
    assert_eq!(straddling.status(), TargetStatus::Undecided);
    assert!(!straddling.pass && !straddling.failed());
    let above = judge(format!("> {:.0} ops/s", e.hi * 1.1));
    assert_eq!(above.status(), TargetStatus::Fail);
    assert!(above.failed());
    // The table and the targets table say "undecided".
    let mut judged = r.clone();
    judged.targets = vec![straddling];
    let table = acorn_reports::table::render(&judged);
    assert!(
        table.contains("[undecided] T: plain at 1 thread"),
        "{table}"
    );
    let md = "<!-- targets:begin -->\n| Operation | Current | Status |\n|---|---|---|\n| T | x | y |\n<!-- targets:end -->\n";
    let out = acorn_reports::targets::update_markdown(md, &judged).unwrap();
    assert!(out.contains(" | undecided |"), "{out}");
    // A file from before `status` existed reads its `pass`.
    let mut old = judged.targets[0].clone();
    old.status = None;
    old.pass = false;
    assert_eq!(old.status(), TargetStatus::Fail);
}

#[test]
fn quick_runs_are_not_judged_and_say_so() {
    let mut r = results(&[("plain", runs("plain", &around(500_000.0, 0.1)))]);
    r.quick = true;
    let table = acorn_reports::table::render(&r);
    assert!(table.contains("targets: not judged (--quick"), "{table}");
    let html = acorn_reports::html::render(&r).unwrap();
    assert!(html.contains("Targets not judged (--quick"));
}

/// Marks the summaries of `names` as harness fixtures (the lab does, from its registry).
fn fixtures(mut r: Results, names: &[&str]) -> Results {
    for s in &mut r.summaries {
        s.fixture = names.contains(&s.variant.as_str());
    }
    r
}

#[test]
fn harness_fixtures_are_not_ranked_against_stores() {
    // noop and synthetic far ahead of the stores: the verdict and the winners name a store.
    let fast = around(90_000_000.0, 0.01);
    let r = fixtures(
        results(&[
            ("noop", runs("noop", &fast)),
            ("synthetic", runs("synthetic", &fast)),
            ("plain", runs("plain", &around(2_000_000.0, 0.01))),
            ("btreemap", runs("btreemap", &around(500_000.0, 0.01))),
        ]),
        &["noop", "synthetic"],
    );
    // Unmarked, the same numbers rank noop first: the flag decides, not the name.
    let unmarked = fixtures(r.clone(), &[]);
    assert!(acorn_reports::verdict::verdicts(&unmarked)[0].contains("noop"));
    let verdicts = acorn_reports::verdict::verdicts(&r);
    assert!(
        verdicts[0].starts_with("At 1 thread, plain is fastest"),
        "{verdicts:?}"
    );
    assert!(!verdicts[0].contains("noop") && !verdicts[0].contains("synthetic"));
    let html = acorn_reports::html::render(&r).unwrap();
    let winners = &html[html.find("id=\"winners\"").unwrap()..html.find("<h3>Targets").unwrap()];
    assert!(winners.contains("<td class=\"l\">plain</td>"), "{winners}");
    assert!(
        !winners.contains("noop") && !winners.contains(">synthetic<"),
        "{winners}"
    );
    // Fixtures alone are still ranked among themselves.
    let only = fixtures(
        results(&[
            ("noop", runs("noop", &fast)),
            ("synthetic", runs("synthetic", &around(1_000.0, 0.01))),
        ]),
        &["noop", "synthetic"],
    );
    assert!(acorn_reports::verdict::verdicts(&only)[0].contains("noop is fastest"));
}

#[test]
fn files_before_version_4_mark_the_fixtures_of_their_time() {
    // Version 3 did not record `fixture`: noop and synthetic were the fixtures then.
    let r = results(&[
        ("noop", runs("noop", &around(90_000_000.0, 0.01))),
        ("plain", runs("plain", &around(2_000_000.0, 0.01))),
    ]);
    let mut old: serde_json::Value = serde_json::from_str(&r.to_json()).unwrap();
    old["schema_version"] = 3.into();
    let read = Results::parse(&old.to_string(), "old.json").unwrap();
    let flags: Vec<(&str, bool)> = read
        .summaries
        .iter()
        .map(|s| (s.variant.as_str(), s.fixture))
        .collect();
    assert_eq!(flags, [("noop", true), ("plain", false)]);
    let verdict = &acorn_reports::verdict::verdicts(&read)[0];
    assert!(
        verdict.contains("plain") && !verdict.contains("noop"),
        "{verdict}"
    );
    // A current file says it itself: unmarked, noop is a store like any other.
    let now = Results::parse(&r.to_json(), "new.json").unwrap();
    assert!(now.summaries.iter().all(|s| !s.fixture));
}

#[test]
fn short_phases_few_operations_and_oversubscription_are_warned_about() {
    let mut r = fixture();
    r.machine.cores = 1;
    let caveats = estimate::caveats(&r);
    assert!(
        caveats.iter().any(|c| c.contains("lasted under 1 s")),
        "{caveats:?}"
    );
    assert!(caveats
        .iter()
        .any(|c| c.contains("fewer than 10,000 operations")));
    assert!(caveats
        .iter()
        .any(|c| c.contains("oversubscribed: 2 threads on 1 cores")));
    let table = acorn_reports::table::render(&r);
    assert!(
        table.contains("warning: 12 of 12 measured phases lasted under 1 s"),
        "{table}"
    );
    // Long, large phases on enough cores: nothing to say.
    let fine = results(&[("plain", runs("plain", &around(500_000.0, 0.1)))]);
    assert!(estimate::caveats(&fine).is_empty());
}

#[test]
fn on_a_busy_machine_a_missed_target_is_undecided_and_the_run_says_why() {
    let mut r = results(&[("plain", runs("plain", &around(500_000.0, 0.1)))]);
    r.machine.cores = 2;
    let targets = [
        Target::parse("Missed", "plain", "throughput", "> 1M ops/s").unwrap(),
        Target::parse("Met", "plain", "throughput", "> 1 ops/s").unwrap(),
        Target::parse("Far", "plain", "throughput", "> 1G ops/s").unwrap(),
    ];
    // Quiet: load 2.5 on 2 cores with this run's thread: the miss is a failure.
    r.load = Some(2.5);
    assert!(estimate::busy(&r).is_none());
    let judged = acorn_reports::targets::judge_all(&targets, &r);
    assert_eq!(judged[0].status(), TargetStatus::Fail);
    // Busy: load 8.9 on 2 cores: the run may have had a 4.45th of its cores. A miss it
    // could owe to that (500k of 1M) is undecided, one it could not (of 1G) still fails,
    // a pass stands, and the caveats say so.
    r.load = Some(8.9);
    assert_eq!(estimate::busy(&r), Some(8.9));
    let judged = acorn_reports::targets::judge_all(&targets, &r);
    assert_eq!(judged[0].status(), TargetStatus::Undecided);
    assert_eq!(judged[1].status(), TargetStatus::Pass);
    assert_eq!(judged[2].status(), TargetStatus::Fail);
    let caveats = estimate::caveats(&r);
    assert!(
        caveats
            .iter()
            .any(|c| c.contains("the machine was busy: load average 8.9 on 2 cores")),
        "{caveats:?}"
    );
}
