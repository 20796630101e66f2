//! The README's "Use in CI" workflow, run locally: its `run:` lines, as a push to main and
//! then as a pull request would run them (a temporary directory as the checkout, a small
//! `workloads/smoke.toml`, `$GITHUB_STEP_SUMMARY` pointed at a file), and every file they
//! write read back by an independent reader (quick-xml, the csv crate, serde, hdrhistogram).
//! Then the same compare line on a doctored regression: exit 1, a JUnit failure with the
//! numbers, the summary saying so. And `--format` on stdout, `--format bmf` refused for a
//! comparison.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

// The XML reader the report tests read JUnit files with (one reader for both crates).
#[path = "../../reports/tests/common/xml.rs"]
mod xml;

use common::text;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use acorn_reports::Results;
use serde::Deserialize;

/// One step of the README's workflow.
#[derive(Debug)]
struct Step {
    condition: Option<String>,
    run: Option<String>,
}

/// The steps of the workflow between `<!-- ci:begin -->` and `<!-- ci:end -->`.
fn workflow() -> Vec<Step> {
    let readme =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("../README.md"))
            .unwrap();
    let block = readme
        .split("<!-- ci:begin -->")
        .nth(1)
        .and_then(|s| s.split("<!-- ci:end -->").next())
        .expect("README has the ci block");
    let mut steps: Vec<Step> = Vec::new();
    for line in block.lines() {
        let t = line.trim();
        if let Some(rest) = t.strip_prefix("- ") {
            steps.push(Step {
                condition: None,
                run: None,
            });
            let Some(step) = steps.last_mut() else {
                unreachable!()
            };
            if let Some(c) = rest.strip_prefix("if: ") {
                step.condition = Some(c.to_owned());
            }
            if let Some(r) = rest.strip_prefix("run: ") {
                step.run = Some(r.to_owned());
            }
        } else if let Some(step) = steps.last_mut() {
            if let Some(c) = t.strip_prefix("if: ") {
                step.condition = Some(c.to_owned());
            } else if let Some(r) = t.strip_prefix("run: ") {
                assert!(!r.starts_with('|'), "keep run: lines on one line: {r}");
                step.run = Some(r.to_owned());
            }
        }
    }
    steps
}

/// What a step's `if:` says for a push to main (`pr` false) or a pull request.
fn applies(condition: Option<&str>, pr: bool) -> bool {
    match condition {
        None | Some("always()") => true,
        Some(c) if c.contains("refs/heads/main") => !pr,
        Some(c) if c.contains("pull_request") => pr,
        Some(c) => panic!("the test does not know the condition {c:?}"),
    }
}

/// A small smoke workload, in place of the shipped one (same name; sequential, so no paired
/// rounds: under a second).
const SMOKE: &str = "name = \"smoke\"\nvariants = [\"noop\", \"btreemap\"]\n[dataset]\nrecords = 10\n[run]\nops = 2000\nwarmup = \"0s\"\nrepeats = 3\nmode = \"sequential\"\n[mix]\nread = 80\nupdate = 20\n";

struct Checkout {
    dir: tempfile::TempDir,
    summary: PathBuf,
}

impl Checkout {
    fn new() -> Checkout {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("workloads")).unwrap();
        std::fs::write(dir.path().join("workloads/smoke.toml"), SMOKE).unwrap();
        let summary = dir.path().join("step-summary.md");
        Checkout { dir, summary }
    }

    fn path(&self, p: &str) -> PathBuf {
        self.dir.path().join(p)
    }

    /// A `run:` line through the shell, `target/release/lab` being this build's lab.
    fn sh(&self, line: &str) -> Output {
        let line = line.replace("target/release/lab", env!("CARGO_BIN_EXE_lab"));
        Command::new("sh")
            .arg("-c")
            .arg(&line)
            .current_dir(self.dir.path())
            .env("GITHUB_STEP_SUMMARY", &self.summary)
            .output()
            .unwrap()
    }

    /// Every `run:` step that applies, in order; the compare step's output is returned
    /// (it may find a regression between two real runs: exit 1 is checked by the caller).
    fn run_workflow(&self, pr: bool) -> Option<Output> {
        let mut compared = None;
        for step in workflow() {
            let Some(run) = step.run.as_deref() else {
                continue;
            };
            if !applies(step.condition.as_deref(), pr) || run.starts_with("cargo build") {
                continue;
            }
            let o = self.sh(run);
            if run.contains("lab compare") {
                assert!(
                    matches!(o.status.code(), Some(0 | 1)),
                    "{run}: {}",
                    text(&o)
                );
                compared = Some(o);
            } else {
                assert!(o.status.success(), "{run}: {}", text(&o));
            }
        }
        compared
    }
}

/// (testcase names, failure messages) of a JUnit file, parsed by quick-xml; the counts on
/// `<testsuites>` must agree with the elements.
fn junit(path: &Path) -> (Vec<String>, Vec<String>) {
    let xml = std::fs::read_to_string(path).unwrap();
    let els = xml::elements(&xml);
    let attr = |name: &str, key: &str| -> Vec<String> {
        xml::named(&els, name)
            .iter()
            .map(|e| e.attrs[key].clone())
            .collect()
    };
    let (cases, failures) = (attr("testcase", "name"), attr("failure", "message"));
    let declared = &xml::named(&els, "testsuites")[0].attrs;
    assert_eq!(declared["tests"], cases.len().to_string(), "{xml}");
    assert_eq!(declared["failures"], failures.len().to_string(), "{xml}");
    (cases, failures)
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct JsonMetric {
    value: f64,
    lower_value: Option<f64>,
    upper_value: Option<f64>,
}

#[derive(Debug, Deserialize)]
struct CompareRow {
    variant: String,
    threads: usize,
    op: String,
    metric: String,
    verdict: String,
}

#[test]
fn the_readme_workflow_runs_and_every_file_it_writes_reads_back() {
    let repo = Checkout::new();
    let baseline = a_push_to_main_keeps_a_baseline(&repo);
    a_pull_request_compares_with_the_baseline(&repo);
    a_real_regression_fails_the_compare(&repo, &baseline);
}

/// A push to main: the run, the BMF file, the baseline kept (its path is returned).
fn a_push_to_main_keeps_a_baseline(repo: &Checkout) -> PathBuf {
    assert!(repo.run_workflow(false).is_none());
    let baseline = repo.path("baseline/results.json");
    let base = Results::load(&baseline).unwrap();
    assert_eq!(base.workload, "smoke");
    let summary = std::fs::read_to_string(&repo.summary).unwrap();
    assert!(summary.contains("### smoke"), "{summary}");
    assert!(summary.contains("| noop | 1 |"), "{summary}");
    assert!(
        !summary.contains("results:"),
        "status lines go to stderr: {summary}"
    );
    let (cases, failures) = junit(&repo.path("lab-out/run.xml"));
    assert_eq!(cases, ["noop ×1", "btreemap ×1"]);
    assert!(failures.is_empty());
    let bmf: HashMap<String, HashMap<String, JsonMetric>> =
        serde_json::from_str(&std::fs::read_to_string(repo.path("lab-out/bmf.json")).unwrap())
            .unwrap();
    let t = &bmf["smoke/noop/1t"]["throughput"];
    assert_eq!(t.value, base.summaries[0].throughput_median);
    assert!(t.lower_value.unwrap() <= t.upper_value.unwrap());
    assert!(bmf["smoke/btreemap/1t/update"].contains_key("latency_p99"));
    interval_logs_hold_every_recorded_latency(repo, &base);
    baseline
}

/// The interval logs: one per variant, every recorded latency in them.
fn interval_logs_hold_every_recorded_latency(repo: &Checkout, base: &Results) {
    for s in &base.summaries {
        let log = std::fs::read(repo.path(&format!("lab-out/hdr/{}-1t.hlog", s.variant))).unwrap();
        let mut total = 0;
        for e in hdrhistogram::serialization::interval_log::IntervalLogIterator::new(&log) {
            if let hdrhistogram::serialization::interval_log::LogEntry::Interval(i) = e.unwrap() {
                // hdrhistogram's V2 decoder (behind the schema's own histogram type).
                let h = acorn_reports::Histogram::from_base64(i.encoded_histogram()).unwrap();
                total += h.counts.iter().map(|c| c[1]).sum::<u64>();
            }
        }
        let recorded: u64 = base
            .runs
            .iter()
            .filter(|r| r.variant == s.variant)
            .flat_map(|r| r.per_op.values())
            .map(|o| o.count)
            .sum();
        assert_eq!(total, recorded, "{}", s.variant);
    }
}

/// A pull request: run again, compare with the baseline.
fn a_pull_request_compares_with_the_baseline(repo: &Checkout) {
    std::fs::remove_file(&repo.summary).unwrap();
    let o = repo.run_workflow(true).expect("the compare step ran");
    let regressed = o.status.code() == Some(1);
    let summary = std::fs::read_to_string(&repo.summary).unwrap();
    assert!(
        summary.contains("### Comparison: smoke (wall-clock)"),
        "{summary}"
    );
    assert!(summary.contains("| variant | threads | op | throughput | p50 | p99 | verdict |"));
    assert_eq!(summary.contains("**REGRESSION**"), regressed, "{summary}");
    let (cases, failures) = junit(&repo.path("lab-out/compare.xml"));
    assert_eq!(cases, ["noop ×1", "btreemap ×1"]);
    assert_eq!(!failures.is_empty(), regressed);
    let mut csv = csv::Reader::from_path(repo.path("lab-out/compare.csv")).unwrap();
    let rows: Vec<CompareRow> = csv.deserialize().map(Result::unwrap).collect();
    // Per variant: the whole mix's throughput, and per operation throughput, p50 and p99.
    assert_eq!(rows.len(), 2 * (1 + 2 * 3));
    assert!(rows.iter().any(|r| r.variant == "btreemap"
        && r.threads == 1
        && r.op == "update"
        && r.metric == "latency_p99"));
    assert_eq!(rows.iter().any(|r| r.verdict == "regression"), regressed);
}

/// A real regression: the same compare line on a new file where noop ran a third as
/// fast and btreemap kept its pace. (Both a third as fast would be the machine, not the
/// code: compare judges each variant by its ratio to btreemap in the same repeat.) The
/// phases are made long enough to judge (2 s, 200k operations, one block each).
fn a_real_regression_fails_the_compare(repo: &Checkout, baseline: &Path) {
    let mut steady = Results::load(&repo.path("lab-out/results.json")).unwrap();
    for run in &mut steady.runs {
        let v = [1.0, 1.01, 0.99][run.repeat as usize % 3];
        run.elapsed_s = 2.0;
        run.ops = 200_000;
        run.intervals.clear();
        run.throughput = 90_000.0 * v;
        for op in run.per_op.values_mut() {
            op.throughput = 45_000.0 * v;
        }
    }
    let mut slow = steady.clone();
    for run in slow.runs.iter_mut().filter(|r| r.variant == "noop") {
        run.throughput /= 3.0;
        for op in run.per_op.values_mut() {
            op.throughput /= 3.0;
        }
    }
    std::fs::write(baseline, steady.to_json()).unwrap();
    std::fs::write(repo.path("lab-out/results.json"), slow.to_json()).unwrap();
    std::fs::remove_file(&repo.summary).unwrap();
    let compare = workflow()
        .into_iter()
        .find_map(|s| s.run.filter(|r| r.contains("lab compare")))
        .unwrap();
    let o = repo.sh(&compare);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    let (_, failures) = junit(&repo.path("lab-out/compare.xml"));
    assert_eq!(failures.len(), 1, "{failures:?}");
    assert!(
        failures[0].contains("all throughput: 90.0k ops/s → 30.0k ops/s (-66.67%"),
        "{}",
        failures[0]
    );
    let summary = std::fs::read_to_string(&repo.summary).unwrap();
    assert!(
        summary.contains("**REGRESSION**") && summary.contains("regressions**"),
        "{summary}"
    );
}

#[test]
fn formats_go_to_stdout_and_bad_requests_are_refused() {
    let repo = Checkout::new();
    let o = repo.sh(
        "target/release/lab run workloads/smoke.toml --quiet --out a --format json --format csv",
    );
    assert!(o.status.success(), "{}", text(&o));
    let out = String::from_utf8(o.stdout).unwrap();
    // The JSON document first (one line, compact), then the CSV.
    let (json, csv_text) = out.split_once('\n').unwrap();
    let printed = Results::parse(json, "stdout").unwrap();
    assert_eq!(
        printed,
        Results::load(&repo.path("a/results.json")).unwrap()
    );
    let mut csv = csv::Reader::from_reader(csv_text.as_bytes());
    assert_eq!(
        csv.headers().unwrap().iter().collect::<Vec<_>>(),
        ["workload", "variant", "threads", "op", "metric", "value", "lower", "upper", "unit"]
    );
    assert!(csv.records().count() > 0);
    assert!(String::from_utf8_lossy(&o.stderr).contains("results: a/results.json"));
    // Compare: BMF describes a run, not a comparison; a bad format lists the good ones.
    let o = repo.sh("target/release/lab compare a/results.json a/results.json --format bmf");
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(text(&o).contains("lab export bencher"), "{}", text(&o));
    let o = repo.sh("target/release/lab compare a/results.json a/results.json --export yaml=x");
    assert_eq!(o.status.code(), Some(2));
    assert!(
        text(&o).contains("valid: table, markdown, json, junit, csv, bmf"),
        "{}",
        text(&o)
    );
    // The comparison as JSON on stdout, and the summary appended (twice: two compares).
    let o = repo.sh("target/release/lab compare a/results.json a/results.json --format json");
    assert!(o.status.success(), "{}", text(&o));
    let c: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(c["regressed"], false);
    assert_eq!(c["workload"], "smoke");
    let o = repo.sh("target/release/lab compare a/results.json a/results.json");
    assert!(o.status.success(), "{}", text(&o));
    let summary = std::fs::read_to_string(&repo.summary).unwrap();
    assert_eq!(summary.matches("### Comparison: smoke").count(), 2);
    // lab export: every format from a saved file; hdr-log wants a directory.
    let o = repo.sh("target/release/lab export junit a/results.json -o a/run.xml");
    assert!(o.status.success(), "{}", text(&o));
    assert_eq!(junit(&repo.path("a/run.xml")).0.len(), 2);
    let o = repo.sh("target/release/lab export hdr-log a/results.json");
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    let o = repo.sh("target/release/lab export hdr-log a/results.json -o a/hdr");
    assert!(o.status.success(), "{}", text(&o));
    assert!(repo.path("a/hdr/noop-1t.hlog").is_file());
}
