//! Every export format, read back by a reader that is not ours: JUnit XML by an XML parser
//! (quick-xml), CSV by the `csv` crate, Bencher Metric Format by serde into structs shaped
//! as Bencher documents it, HdrHistogram interval logs by hdrhistogram's own log reader;
//! Markdown tables are checked cell by cell.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::{BTreeMap, HashMap};

use acorn_reports::compare::{compare, Reference};
use acorn_reports::export::{
    self, bmf, csv as csv_out, hdrlog, junit, markdown, Comparison, Sides,
};
use acorn_reports::Results;
use common::xml::{elements, named};
use serde::Deserialize;

/// The fixture with fixed throughputs (two repeats each, 1% apart, every variant alike in
/// a repeat), and phases long enough for compare to judge (2 s, 200k operations, one
/// block each), so that a comparison against itself is "no difference" and one against
/// [`slower`] a regression.
fn steady() -> Results {
    let mut r = common::fixture();
    for run in &mut r.runs {
        let v = if run.repeat == 0 {
            100_000.0
        } else {
            101_000.0
        };
        run.elapsed_s = 2.0;
        run.ops = 200_000;
        run.intervals.clear();
        run.throughput = v;
        for op in run.per_op.values_mut() {
            op.throughput = v / 3.0;
        }
    }
    r
}

/// [`steady`] with plain at one thread a third as fast.
fn slower() -> Results {
    let mut r = steady();
    for run in r
        .runs
        .iter_mut()
        .filter(|x| x.variant == "plain" && x.threads == 1)
    {
        run.throughput /= 3.0;
        for op in run.per_op.values_mut() {
            op.throughput /= 3.0;
        }
    }
    r
}

fn sides() -> Sides {
    Sides {
        base: "base/results.json".into(),
        new: "new/results.json".into(),
        workload: "fixture".into(),
        warnings: vec!["different machines: <a> & \"b\"".into()],
    }
}

fn comparison(base: &Results, new: &Results) -> Comparison {
    Comparison::times(
        &sides(),
        &compare(base, new, 0.05, &Reference::Auto).unwrap(),
    )
}

#[test]
fn junit_of_a_comparison_fails_the_regressed_phase_with_its_numbers() {
    let (base, new) = (steady(), slower());
    let xml = junit::compare(&comparison(&base, &new));
    let els = elements(&xml);
    let root = named(&els, "testsuites");
    assert_eq!(root.len(), 1);
    let suites = named(&els, "testsuite");
    assert_eq!(suites.len(), 1);
    let cases = named(&els, "testcase");
    // One case per variant and thread count.
    assert_eq!(cases.len(), base.summaries.len(), "{xml}");
    assert!(cases.iter().all(|c| c.path.last().unwrap() == "testsuite"));
    let failures = named(&els, "failure");
    assert_eq!(failures.len(), 1, "{xml}");
    assert_eq!(failures[0].path.last().unwrap(), "testcase");
    let msg = &failures[0].attrs["message"];
    assert!(
        msg.contains("all throughput") && msg.contains("-66."),
        "{msg}"
    );
    assert!(
        msg.contains("REGRESSION") && msg.contains("threshold 5.0%"),
        "{msg}"
    );
    // The counts on the elements agree with the elements.
    assert_eq!(root[0].attrs["tests"], cases.len().to_string());
    assert_eq!(root[0].attrs["failures"], "1");
    assert_eq!(suites[0].attrs["failures"], "1");
    let failed: Vec<_> = cases
        .iter()
        .filter(|c| c.attrs["name"] == "plain ×1")
        .collect();
    assert_eq!(failed.len(), 1);
    // Nothing regressed against itself.
    let same = elements(&junit::compare(&comparison(&base, &base)));
    assert!(named(&same, "failure").is_empty());
}

#[test]
fn junit_of_a_run_has_a_case_per_phase_and_target_and_fails_missed_targets() {
    let mut r = common::fixture();
    let mut missed = r.targets[0].clone();
    missed.name = "Impossible <&> \"quoted\"".into();
    missed.pass = false;
    missed.actual_text = "57.5 µs".into();
    r.targets.push(missed);
    let mut other = r.clone();
    other.workload = "second".into();
    let xml = junit::run(&[r.clone(), other]);
    let els = elements(&xml);
    let suites = named(&els, "testsuite");
    assert_eq!(suites.len(), 2);
    let cases = named(&els, "testcase");
    assert_eq!(cases.len(), 2 * (r.summaries.len() + r.targets.len()));
    let failures = named(&els, "failure");
    assert_eq!(failures.len(), 2);
    assert_eq!(failures[0].attrs["type"], "target");
    assert!(failures[0].attrs["message"].contains("got 57.5 µs"));
    let names: Vec<&str> = cases.iter().map(|c| c.attrs["name"].as_str()).collect();
    assert!(
        names.contains(&"target: Impossible <&> \"quoted\""),
        "{names:?}"
    );
    assert_eq!(named(&els, "testsuites")[0].attrs["failures"], "2");
}

#[derive(Debug, Deserialize)]
struct RunRow {
    workload: String,
    variant: String,
    threads: usize,
    op: String,
    metric: String,
    value: f64,
    lower: Option<f64>,
    upper: Option<f64>,
    unit: String,
}

#[test]
fn csv_of_a_run_reads_back_with_the_csv_crate() {
    let mut r = common::fixture();
    // A name with a comma and a quote must come back whole.
    for s in r.summaries.iter_mut().filter(|s| s.variant == "cached") {
        s.variant = "cached, \"big\"".into();
    }
    for s in r.runs.iter_mut().filter(|s| s.variant == "cached") {
        s.variant = "cached, \"big\"".into();
    }
    let text = csv_out::run(std::slice::from_ref(&r));
    let mut reader = csv::Reader::from_reader(text.as_bytes());
    let header: Vec<String> = reader.headers().unwrap().iter().map(String::from).collect();
    assert_eq!(header, csv_out::RUN_HEADER);
    let rows: Vec<RunRow> = reader.deserialize().map(Result::unwrap).collect();
    assert_eq!(rows.len(), export::measurements(&r).len());
    for s in &r.summaries {
        let t = rows
            .iter()
            .find(|x| {
                x.variant == s.variant
                    && x.threads == s.threads
                    && x.op == "all"
                    && x.metric == "throughput"
            })
            .unwrap_or_else(|| panic!("no throughput row for {}", s.variant));
        assert_eq!(t.value, s.throughput_median);
        assert_eq!(t.unit, "ops/s");
        assert_eq!(t.workload, "fixture");
        // Two repeats each: an interval, as the summary has it.
        assert_eq!(
            (t.lower, t.upper),
            (Some(s.throughput_ci95[0]), Some(s.throughput_ci95[1]))
        );
        for op in s.per_op.keys() {
            let p99 = rows
                .iter()
                .find(|x| {
                    x.variant == s.variant
                        && x.threads == s.threads
                        && &x.op == op
                        && x.metric == "latency_p99"
                })
                .unwrap();
            assert_eq!(p99.value, s.per_op[op].p99_ns as f64);
        }
    }
    assert!(rows.iter().any(|x| x.variant == "cached, \"big\""));
}

#[derive(Debug, Deserialize)]
struct CompareRow {
    workload: String,
    variant: String,
    threads: usize,
    op: String,
    metric: String,
    unit: String,
    base: f64,
    new: f64,
    change: Option<f64>,
    lower: Option<f64>,
    upper: Option<f64>,
    verdict: String,
    reason: String,
}

#[test]
fn csv_of_a_comparison_reads_back_with_the_csv_crate() {
    let c = comparison(&steady(), &slower());
    let text = csv_out::compare(&c);
    let mut reader = csv::Reader::from_reader(text.as_bytes());
    let rows: Vec<CompareRow> = reader.deserialize().map(Result::unwrap).collect();
    assert_eq!(rows.len(), c.changes.len());
    assert!(rows.iter().all(|r| r.workload == "fixture"));
    assert!(rows.iter().all(
        |r| ["no-difference", "improvement", "regression", "undecided"]
            .contains(&r.verdict.as_str())
    ));
    let r = rows
        .iter()
        .find(|r| r.variant == "plain" && r.threads == 1 && r.op == "all")
        .unwrap();
    assert_eq!(
        (r.metric.as_str(), r.unit.as_str()),
        ("throughput", "ops/s")
    );
    assert_eq!(r.verdict, "regression");
    // Judged against btreemap, which kept its pace: plain's ratio to it fell by two thirds.
    assert_eq!(r.reason, "vs btreemap");
    assert!((r.change.unwrap() - (r.new / r.base - 1.0)).abs() < 1e-9);
    let (lo, hi) = (r.lower.unwrap(), r.upper.unwrap());
    assert!(lo <= r.change.unwrap() && r.change.unwrap() <= hi && hi < -0.05);
    // Every undecided row says why.
    assert!(rows
        .iter()
        .all(|x| x.verdict != "undecided" || !x.reason.is_empty()));
}

/// Bencher Metric Format as bencher.dev documents it: benchmark name → measure slug →
/// `{value, lower_value?, upper_value?}`, nothing else.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct JsonMetric {
    value: f64,
    lower_value: Option<f64>,
    upper_value: Option<f64>,
}

type BencherMetricFormat = HashMap<String, HashMap<String, JsonMetric>>;

#[test]
fn bmf_deserializes_as_bencher_documents_it() {
    let r = common::fixture();
    let text = bmf::render(std::slice::from_ref(&r));
    let parsed: BencherMetricFormat = serde_json::from_str(&text).unwrap();
    for s in &r.summaries {
        let name = format!("fixture/{}/{}t", s.variant, s.threads);
        let b = parsed.get(&name).unwrap_or_else(|| panic!("no {name}"));
        let t = &b["throughput"];
        assert_eq!(t.value, s.throughput_median);
        assert_eq!(t.lower_value, Some(s.throughput_ci95[0]));
        assert_eq!(t.upper_value, Some(s.throughput_ci95[1]));
        let p99 = &b["latency_p99"];
        assert!(p99.value > 0.0);
        assert!(p99.lower_value.unwrap() <= p99.upper_value.unwrap());
        assert!(b.contains_key("latency_p50"));
        for op in s.per_op.keys() {
            let per_op = &parsed[&format!("{name}/{op}")];
            assert_eq!(per_op["latency_p99"].value, s.per_op[op].p99_ns as f64);
        }
    }
    // Instruction counts: one measure per count, no interval (they do not vary).
    let counted = common::counted(12_000);
    let parsed: BencherMetricFormat =
        serde_json::from_str(&bmf::render(std::slice::from_ref(&counted))).unwrap();
    let plain = &parsed["fixture/plain/1t/read"]["instructions"];
    assert_eq!(plain.value, 12_000.0);
    assert_eq!((plain.lower_value, plain.upper_value), (None, None));
}

#[test]
fn hdr_logs_read_back_with_hdrhistograms_own_reader() {
    use hdrhistogram::serialization::interval_log::{IntervalLogIterator, LogEntry};
    use hdrhistogram::serialization::Deserializer;
    let r = common::fixture();
    let logs = hdrlog::logs(&r).unwrap();
    assert_eq!(logs.len(), r.summaries.len());
    for s in &r.summaries {
        let name = hdrlog::file_name(&s.variant, s.threads);
        let (_, bytes) = logs.iter().find(|(n, _)| *n == name).unwrap();
        let mut counts: BTreeMap<String, u64> = BTreeMap::new();
        let mut intervals = 0;
        let mut start_time = false;
        for entry in IntervalLogIterator::new(bytes) {
            match entry.unwrap() {
                LogEntry::StartTime(_) => start_time = true,
                LogEntry::Interval(i) => {
                    intervals += 1;
                    use base64::Engine as _;
                    let raw = base64::engine::general_purpose::STANDARD
                        .decode(i.encoded_histogram())
                        .unwrap();
                    let h: hdrhistogram::Histogram<u64> = Deserializer::new()
                        .deserialize(&mut raw.as_slice())
                        .unwrap();
                    *counts
                        .entry(i.tag().unwrap().as_str().to_owned())
                        .or_default() += h.len();
                    assert!(i.duration().as_secs_f64() > 0.0);
                }
                LogEntry::BaseTime(_) => {}
            }
        }
        assert!(start_time, "{name}: no StartTime");
        let runs: Vec<_> = r
            .runs
            .iter()
            .filter(|x| x.variant == s.variant && x.threads == s.threads)
            .collect();
        assert_eq!(intervals, runs.len() * s.per_op.len(), "{name}");
        for (op, o) in &s.per_op {
            let recorded: u64 = runs
                .iter()
                .map(|x| {
                    x.per_op[op]
                        .histogram
                        .counts
                        .iter()
                        .map(|c| c[1])
                        .sum::<u64>()
                })
                .sum();
            assert_eq!(counts[op], recorded, "{name} {op}");
            assert!(o.count > 0);
        }
    }
}

/// The cells of a Markdown table row (pipes escaped as `\|` stay in their cell).
fn cells(line: &str) -> Vec<String> {
    let inner = line.trim().trim_start_matches('|').trim_end_matches('|');
    let mut out = vec![String::new()];
    let mut chars = inner.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' if chars.peek() == Some(&'|') => {
                out.last_mut().unwrap().push('|');
                chars.next();
            }
            '|' => out.push(String::new()),
            c => out.last_mut().unwrap().push(c),
        }
    }
    out.iter().map(|c| c.trim().to_owned()).collect()
}

/// The tables of a Markdown text: each a header and its rows, every row as wide as the
/// header, the second line an alignment row.
fn tables(md: &str) -> Vec<Vec<Vec<String>>> {
    let mut out: Vec<Vec<Vec<String>>> = Vec::new();
    let mut current: Vec<&str> = Vec::new();
    for line in md.lines().chain(std::iter::once("")) {
        if line.starts_with('|') {
            current.push(line);
        } else if !current.is_empty() {
            let header = cells(current[0]);
            let align = cells(current[1]);
            assert!(align.iter().all(|a| a == "---" || a == "--:"), "{align:?}");
            assert_eq!(align.len(), header.len());
            let rows: Vec<Vec<String>> = current[2..].iter().map(|l| cells(l)).collect();
            for r in &rows {
                assert_eq!(r.len(), header.len(), "{r:?} under {header:?}");
            }
            out.push(std::iter::once(header).chain(rows).collect());
            current.clear();
        }
    }
    out
}

#[test]
fn markdown_has_one_compact_table_per_workload() {
    let r = common::fixture();
    let mut piped = r.clone();
    piped.workload = "second".into();
    for s in &mut piped.summaries {
        s.variant = s.variant.replace("plain", "pl|ain");
    }
    let md = markdown::run(&[r.clone(), piped]);
    let t = tables(&md);
    assert_eq!(t.len(), 2, "{md}");
    assert_eq!(
        t[0][0],
        [
            "variant",
            "threads",
            "throughput",
            "95% interval",
            "p50",
            "p99",
            "errors"
        ]
    );
    assert_eq!(t[0].len() - 1, r.summaries.len());
    assert!(t[1].iter().any(|row| row[0] == "pl|ain"), "{md}");
    assert!(md.contains("pass Reads"), "{md}");
    // A comparison: a row per variant, thread count and operation; the regression shows.
    let c = comparison(&steady(), &slower());
    let md = markdown::compare(&c);
    let t = tables(&md);
    assert_eq!(t.len(), 1, "{md}");
    assert_eq!(
        t[0][0],
        [
            "variant",
            "threads",
            "op",
            "throughput",
            "p50",
            "p99",
            "verdict"
        ]
    );
    let rows = &t[0][1..];
    let ops: usize = steady().summaries.iter().map(|s| s.per_op.len() + 1).sum();
    assert_eq!(rows.len(), ops);
    let regressed: Vec<_> = rows.iter().filter(|r| r[6] == "**REGRESSION**").collect();
    assert!(!regressed.is_empty());
    assert!(regressed.iter().all(|r| r[0] == "plain" && r[1] == "1"));
    assert!(md.contains("**Warning:** different machines"), "{md}");
    // Instruction counts: a row per variant and operation.
    let counted = common::counted(12_000);
    let t = tables(&markdown::run(std::slice::from_ref(&counted)));
    assert_eq!(
        t[0][0],
        ["variant", "op", "instructions/op", "est. cycles/op"]
    );
    assert_eq!(t[0].len() - 1, 3 * 3);
}

#[test]
fn formats_parse_by_name_and_list_the_valid_ones() {
    assert_eq!(export::Format::parse("JUnit"), Ok(export::Format::Junit));
    assert_eq!(export::Format::parse("bencher"), Ok(export::Format::Bmf));
    let e = export::Format::parse("yaml").unwrap_err();
    assert!(e.contains("table, markdown, json, junit, csv, bmf"), "{e}");
}

#[test]
fn instruction_count_comparisons_export_with_their_verdicts() {
    let (base, new) = (common::counted(12_000), common::counted(15_000));
    let c = Comparison::counts(
        &sides(),
        &acorn_reports::instructions::compare(&base, &new, 0.01),
        0.01,
    );
    assert!(c.regressed);
    let els = elements(&junit::compare(&c));
    let cases = named(&els, "testcase");
    assert_eq!(cases.len(), 3);
    let failures = named(&els, "failure");
    assert_eq!(failures.len(), 1);
    let msg = &failures[0].attrs["message"];
    assert!(
        msg.contains("read instructions: 12000 instructions/op → 15000 instructions/op (+25.00%"),
        "{msg}"
    );
    let text = csv_out::compare(&c);
    let mut reader = csv::Reader::from_reader(text.as_bytes());
    let rows: Vec<CompareRow> = reader.deserialize().map(Result::unwrap).collect();
    let read = rows
        .iter()
        .find(|r| r.variant == "plain" && r.op == "read")
        .unwrap();
    assert_eq!(
        (read.metric.as_str(), read.verdict.as_str()),
        ("instructions", "regression")
    );
    assert_eq!(
        (read.base, read.new, read.lower, read.upper),
        (12_000.0, 15_000.0, None, None)
    );
    let t = tables(&markdown::compare(&c));
    assert_eq!(
        t[0][0],
        ["variant", "threads", "op", "instructions/op", "verdict"]
    );
    assert!(t[0]
        .iter()
        .any(|r| r[0] == "plain" && r[2] == "read" && r[4] == "**REGRESSION**"));
}
