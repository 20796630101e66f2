//! compare flags real regressions and not noise; merge combines histograms exactly;
//! the targets table is rewritten in place and nothing else is touched.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;

use acorn_reports::compare::{compare, parse_threshold, regressed, Verdict};
use acorn_reports::merge::merge;
use acorn_reports::results::{Results, RunResult, TargetVerdict, VariantSummary};
use acorn_reports::stats::{decode, op_result, SIGFIG};
use acorn_reports::targets::update_markdown;

fn results(throughputs: &[f64], latencies: &[u64]) -> Results {
    let mut h = hdrhistogram::Histogram::<u64>::new(SIGFIG).unwrap();
    for l in latencies {
        h.record(*l).unwrap();
    }
    let op = op_result(&h, 0, Vec::new(), 1.0);
    let runs: Vec<RunResult> = throughputs
        .iter()
        .enumerate()
        .map(|(i, t)| RunResult {
            variant: "plain".into(),
            threads: 1,
            repeat: i as u32,
            elapsed_s: 1.0,
            ops: *t as u64,
            throughput: *t,
            per_op: BTreeMap::from([("read".to_owned(), op.clone())]),
            ..RunResult::default()
        })
        .collect();
    Results {
        schema_version: 1,
        workload: "w".into(),
        runs,
        summaries: vec![VariantSummary {
            variant: "plain".into(),
            threads: 1,
            throughput_median: throughputs[throughputs.len() / 2],
            per_op: BTreeMap::from([("read".to_owned(), op)]),
            ..VariantSummary::default()
        }],
        ..Results::default()
    }
}

#[test]
fn a_real_regression_is_flagged_and_noise_is_not() {
    let base = results(&[100_000.0, 101_000.0, 99_000.0], &[100]);
    let slower = results(&[80_000.0, 81_000.0, 79_500.0], &[100]);
    let noisy = results(&[101_500.0, 98_800.0, 100_200.0], &[100]);
    let t = parse_threshold("5%").unwrap();
    let c = compare(&base, &slower, t);
    assert!(regressed(&c));
    assert!(c
        .iter()
        .any(|c| c.op == "all" && c.verdict == Verdict::Slower && (c.delta + 0.2).abs() < 0.02));
    assert!(!regressed(&compare(&base, &noisy, t)));
    // A big change inside very wide noise is not called a regression.
    let wild_base = results(&[50_000.0, 150_000.0, 100_000.0], &[100]);
    let wild_new = results(&[40_000.0, 140_000.0, 85_000.0], &[100]);
    assert!(!regressed(&compare(&wild_base, &wild_new, t)));
    assert!(parse_threshold("five").is_err());
    assert_eq!(parse_threshold("0.1").unwrap(), 0.1);
}

#[test]
fn merging_two_halves_gives_the_whole_histogram() {
    let all: Vec<u64> = (1..5000).map(|i| i * 97 % 100_000 + 1).collect();
    let (a, b): (Vec<u64>, Vec<u64>) = all.iter().partition(|v| *v % 2 == 0);
    let whole = results(&[1.0], &all);
    let merged = merge(&[results(&[1.0], &a), results(&[1.0], &b)]).unwrap();
    let got = decode(&merged.summaries[0].per_op["read"].histogram);
    let want = decode(&whole.summaries[0].per_op["read"].histogram);
    assert_eq!(got, want);
    assert_eq!(
        merged.summaries[0].per_op["read"].p99_ns,
        whole.summaries[0].per_op["read"].p99_ns
    );
    assert_eq!(merged.runs.len(), 2);
    let mut other = results(&[1.0], &a);
    other.workload = "different".into();
    assert!(merge(&[results(&[1.0], &a), other])
        .unwrap_err()
        .contains("different workloads"));
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
        actual_text: "3.20M ops/s".into(),
        pass: true,
    }];
    let out = update_markdown(doc, &r).unwrap();
    assert!(
        out.contains(
            "| Single Stash | > 100k ops/s | 3.20M ops/s (`w`, plain, 2 threads) | pass |"
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
