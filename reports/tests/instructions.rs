//! Instruction-count results: the schema (version 2, version 1 still read), the compare
//! gate without a noise model, the terminal table, and the report with both views side by
//! side. The counts are made up here; `lab/tests/instructions.rs` counts real ones.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use acorn_reports::instructions::{compare, render_compare, views, DEFAULT_THRESHOLD};
use acorn_reports::{html, table, Measure, Results, SCHEMA_VERSION};
use common::{counted, variant};

#[test]
fn version_1_files_read_as_wall_clock_and_counts_round_trip() {
    let old = common::fixture();
    assert_eq!(old.schema_version, 1);
    assert_eq!(old.measure, Measure::WallClock);
    assert!(old.instructions.is_none());
    let json = old.to_json();
    assert!(json.contains("\"measure\":\"wall-clock\""), "{json}");
    let c = counted(8_000);
    let back = Results::parse(&c.to_json(), "counted").unwrap();
    assert_eq!(back, c);
    assert_eq!(SCHEMA_VERSION, 4);
}

#[test]
fn equal_counts_pass_and_two_percent_more_reads_in_one_variant_fail_alone() {
    let base = counted(8_000);
    let same = compare(&base, &counted(8_000), 0.0);
    assert!(!same.regressed());
    assert_eq!(same.changes.len(), 9, "3 variants × (all, read, update)");
    assert!(same.changes.iter().all(|c| c.delta == 0.0));
    assert!(render_compare(&same, 0.0).contains("unchanged"));
    // 0.5% is inside the 1% default: no verdict either way.
    assert!(!compare(&base, &counted(8_040), DEFAULT_THRESHOLD).regressed());
    let slower = compare(&base, &counted(8_160), DEFAULT_THRESHOLD);
    assert!(slower.regressed());
    let flagged: Vec<(&str, &str)> = slower
        .changes
        .iter()
        .filter(|c| c.verdict == acorn_reports::format::Verdict::Slower)
        .map(|c| (c.variant.as_str(), c.op.as_str()))
        .collect();
    // The whole mix of plain grows by 80 × 160 / (80 × 8000 + 20 × 9000) = 1.56%.
    assert_eq!(flagged, [("plain", "all"), ("plain", "read")]);
    let text = render_compare(&slower, DEFAULT_THRESHOLD);
    assert!(
        text.contains("+2.00%") && text.contains("REGRESSION"),
        "{text}"
    );
    // Fewer instructions is reported, never a regression.
    let faster = compare(&base, &counted(7_000), DEFAULT_THRESHOLD);
    assert!(!faster.regressed());
    assert!(render_compare(&faster, DEFAULT_THRESHOLD).contains("fewer instructions"));
}

#[test]
fn variants_in_only_one_file_are_named_not_gated() {
    let base = counted(8_000);
    let mut new = counted(8_000);
    let run = new.instructions.as_mut().unwrap();
    run.variants.retain(|v| v.variant != "cached");
    run.variants.push(variant("pooled", 1, 1));
    run.ops = 200;
    let c = compare(&base, &new, DEFAULT_THRESHOLD);
    assert_eq!(
        (c.only_base.clone(), c.only_new.clone()),
        (vec!["cached".to_owned()], vec!["pooled".to_owned()])
    );
    let text = render_compare(&c, DEFAULT_THRESHOLD);
    assert!(
        text.contains("only in base: cached") && text.contains("base counted 100"),
        "{text}"
    );
    // Wall-clock results hold nothing to compare this way.
    assert!(compare(&common::fixture(), &new, 0.01).changes.is_empty());
}

#[test]
fn the_terminal_table_shows_per_operation_counts_and_what_was_skipped() {
    let t = table::render(&counted(8_000));
    for want in [
        "instr/op",
        "est.cycles/op",
        "L1 miss/op",
        "callgrind (valgrind-3.19.0)",
        "Ir + 10 × L1 misses + 100 × LL misses",
        "skipped plain:durable",
    ] {
        assert!(t.contains(want), "missing {want:?} in\n{t}");
    }
    // plain reads: 8000 instructions, + 5 L1 misses and 0.5 LL misses per op → 8000 + 50 + 50.
    // plain is the first variant, so the first read row is its.
    let line = t.lines().find(|l| l.contains(" read ")).unwrap();
    assert!(line.contains("8000") && line.contains("8100"), "{line}");
}

#[test]
fn the_report_charts_counts_and_puts_both_views_side_by_side() {
    let c = counted(8_000);
    let alone = html::render(&c).unwrap();
    for id in [
        "id=\"instructions\"",
        "chart-instructions",
        "chart-estimated-cycles",
    ] {
        assert!(alone.contains(id), "missing {id}");
    }
    assert!(
        !alone.contains("id=\"winners\""),
        "no wall-clock winners for counts"
    );
    assert!(!alone.contains("id=\"views\""), "no second view given");
    // No wall-clock verdict or targets on a counted page (it read "median over 0 repeats").
    assert!(
        alone.contains("has no verdict on speed"),
        "counted verdict note"
    );
    assert!(
        !alone.contains("over 0 repeats"),
        "an empty wall-clock verdict"
    );
    assert!(
        alone.contains("targets are judged on wall-clock runs"),
        "counted targets note"
    );
    assert!(
        alone.contains("fsync &lt;cannot be seen&gt;"),
        "escaped reason"
    );
    assert!(
        alone.contains("<td>btreemap</td>"),
        "backends from the counted variants"
    );

    let wall = common::fixture();
    for both in [
        html::render_beside(&wall, None, Some(&c)).unwrap(),
        html::render_beside(&c, None, Some(&wall)).unwrap(),
    ] {
        assert!(both.contains("id=\"views\"") && both.contains("chart-views"));
        // Wall clock ranks btreemap first, instructions rank plain first: marked.
        assert!(both.contains("class=\"differs\""));
    }
    let v = views(&wall, &c);
    let all = v.iter().find(|v| v.op == "all").unwrap();
    let rank = |name: &str| {
        let r = all.rows.iter().find(|r| r.variant == name).unwrap();
        (r.wall_rank, r.instructions_rank)
    };
    assert_eq!(rank("btreemap"), (1, 2));
    assert_eq!(rank("plain"), (2, 1));
    assert_eq!(rank("cached"), (3, 3));
    // Two results of one measure have no second view.
    assert!(views(&c, &c).is_empty() && views(&wall, &wall).is_empty());
}

#[test]
fn instruction_counts_do_not_merge() {
    let e = acorn_reports::merge::merge(&[counted(8_000), counted(8_000)]).unwrap_err();
    assert!(e.contains("instruction counts do not merge"), "{e}");
}

#[test]
fn a_counted_baseline_compares_counts_in_the_report() {
    let html = html::render_with(&counted(8_160), Some(&counted(8_000))).unwrap();
    assert!(html.contains("id=\"instruction-comparison\""));
    assert!(html.contains("REGRESSION") && html.contains("+2.00%"));
}
