//! The HTML report from a fixed results file: every section and chart is there, names from
//! the file are escaped, nothing points outside the file, and it stays small.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use acorn_reports::html::render;
use acorn_reports::Results;
use common::{fixture, SECTIONS};

#[test]
fn the_report_has_every_section_and_chart() {
    let html = render(&fixture()).unwrap();
    for id in SECTIONS {
        assert!(
            html.contains(&format!("id=\"{id}\"")),
            "missing section {id}"
        );
    }
    for chart in [
        "chart-throughput",
        "chart-ops-read",
        "chart-ops-update",
        "chart-ops-delete",
        "chart-latency-read",
        "chart-latency-update",
        "chart-intervals",
        "chart-memory",
        "chart-cache-hit-ratio",
    ] {
        assert!(html.contains(chart), "missing {chart}");
    }
    assert!(html.matches("<svg").count() >= 9);
    // Every variant appears in the backends table with its colour and durability.
    for v in ["plain", "cached", "btreemap"] {
        assert!(html.contains(&format!("></span>{v}</td>")), "{v}");
        assert!(
            html.contains(&format!("data-variant=\"{v}\"")),
            "{v} in the legend"
        );
    }
    assert!(html.contains("in memory"));
    assert!(html.len() < 2 << 20, "{} bytes", html.len());
}

#[test]
fn the_report_is_self_contained() {
    let html = render(&fixture()).unwrap();
    assert!(!html.contains("<script"), "no scripts");
    for attr in ["src=", "href=", "@import", "url("] {
        assert!(!html.contains(attr), "external reference via {attr}");
    }
    // The only URI is the SVG namespace, which browsers never fetch.
    let uris = html.matches("http").count();
    assert_eq!(uris, html.matches("http://www.w3.org/2000/svg").count());
}

#[test]
fn names_from_the_results_file_are_escaped() {
    let mut r = fixture();
    r.workload = "<script>alert(1)</script>".into();
    r.description = "a & b \"quoted\"".into();
    let html = render(&r).unwrap();
    assert!(!html.contains("<script>alert(1)</script>"));
    assert!(
        html.contains("&lt;script&gt;alert(1)&lt;&#x2F;script&gt;")
            || html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"),
        "{}",
        &html[..600]
    );
    assert!(html.contains("a &amp; b"));
}

#[test]
fn empty_results_still_render() {
    let r = Results {
        schema_version: 1,
        workload: "empty".into(),
        ..Results::default()
    };
    let html = render(&r).unwrap();
    assert!(html.contains("id=\"summary\"") && !html.contains("<svg"));
}

#[test]
fn a_baseline_adds_a_comparison_section() {
    let now = fixture();
    assert!(!render(&now).unwrap().contains("id=\"comparison\""));
    // The fixture's phases are a few milliseconds: too short to judge, and it says so.
    let html = acorn_reports::html::render_with(&now, Some(&now)).unwrap();
    assert!(html.contains("id=\"comparison\""));
    assert!(
        html.contains("undecided") && html.contains("s phases"),
        "short phases"
    );
    assert!(html.contains("summary: regressions 0, improvements 0, undecided"));
    // Steady 1 s phases, and a baseline where plain was twice as fast against btreemap in
    // every repeat: a regression, beyond any noise.
    let steady = |plain: f64| {
        let mut r = fixture();
        for run in &mut r.runs {
            let rate = if run.variant == "plain" {
                20_000.0 * plain
            } else {
                20_000.0
            };
            run.elapsed_s = 1.0;
            run.ops = rate as u64;
            run.throughput = rate;
            run.intervals.clear();
            for op in run.per_op.values_mut() {
                op.throughput = rate / 3.0;
            }
        }
        r
    };
    let html = acorn_reports::html::render_with(&steady(1.0), Some(&steady(2.0))).unwrap();
    assert!(
        html.contains("REGRESSION"),
        "halving throughput must show as a regression"
    );
    let same = acorn_reports::html::render_with(&steady(1.0), Some(&steady(1.0))).unwrap();
    assert!(same.contains("no difference") && !same.contains("REGRESSION"));
}

#[test]
fn odd_values_render_instead_of_panicking() {
    // Regression: a negative bytes-per-item (a store that freed more than it kept) made the
    // bar chart map a bar far outside its range and overflow inside plotters.
    let mut r = fixture();
    r.summaries[0].bytes_per_item = Some(-1.8);
    r.summaries[1].bytes_per_item = Some(f64::NAN);
    r.summaries[0].throughput_ci95 = [f64::NEG_INFINITY, f64::INFINITY];
    r.summaries[1].throughput_median = 0.0;
    let html = render(&r).unwrap();
    assert!(html.contains("chart-memory") && html.contains("chart-throughput"));
}

#[test]
fn every_number_says_what_it_is() {
    let r = fixture();
    let html = render(&r).unwrap();
    // Two repeats: an interval; the verdict comes first and explains ×N.
    assert!(html.contains("±"));
    assert!(html.find("id=\"verdict\"").unwrap() < html.find("id=\"summary\"").unwrap());
    assert!(html.contains("means the variant plain on 2 threads"));
    // One repeat of one block (these phases are shorter than an interval): no interval to
    // show, and it says so instead of 0.0%.
    let mut once = r.clone();
    once.runs.retain(|run| run.repeat == 0);
    let html = render(&once).unwrap();
    assert!(
        html.contains("<td>n&#x2F;a</td>"),
        "one block has no interval"
    );
    assert!(!html.contains("±0.0%"));
    // Every measured phase here is shorter than 1 s and ran fewer than 10,000 operations:
    // the report warns.
    assert!(html.contains("measured phases lasted under 1 s"));
    assert!(html.contains("measured phases ran fewer than 10,000 operations"));
    // Targets say which thread count they judged.
    let mut judged = r.clone();
    judged.targets[0].threads = Some(2);
    assert!(render(&judged).unwrap().contains("<td>2 threads</td>"));
    // Warnings never push the verdict down.
    let mut warned = r.clone();
    warned.warnings = vec!["flamegraph x.svg has only 3 samples".into(); 12];
    let html = render(&warned).unwrap();
    let verdict = html.find("<li>At 1 thread").unwrap();
    assert!(
        verdict < html.find("only 3 samples").unwrap(),
        "the verdict comes first"
    );
    // Partial results are not judged.
    let mut partial = r;
    partial.partial = true;
    partial.targets.clear();
    assert!(render(&partial)
        .unwrap()
        .contains("Targets not judged (the run was interrupted)"));
}

#[test]
fn metrics_other_branches_add_get_their_own_chart() {
    let mut r = fixture();
    for s in &mut r.summaries {
        s.metrics.insert("allocations_per_op".into(), 2.5);
    }
    let html = render(&r).unwrap();
    assert!(html.contains("chart-allocations-per-op"));
    assert!(html.contains("chart-cache-hit-ratio"));
}
