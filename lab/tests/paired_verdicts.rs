//! `lab run`'s verdicts from paired rounds (issue 24, section 2): with several variants
//! loaded at once the run ends each thread count with rounds in which the variants take
//! turns in short slices, records them in `results.json` (`paired`), and ranks the
//! variants by them; the repeats' tables stay as they were. The two variants here differ
//! by orders of magnitude (an fsync per write against none), so no assertion depends on
//! how fast or quiet the machine is.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::process::Command;

use acorn_reports::Results;

fn workload(mode: &str, variants: &str) -> String {
    format!(
        "name = \"paired\"\nvariants = [{variants}]\n[dataset]\nrecords = 500\n\
         doc = {{ fields = 2, field_bytes = 10 }}\n[run]\nthreads = 1\nduration = \"100ms\"\n\
         warmup = \"20ms\"\nrepeats = 2\nmode = \"{mode}\"\n[mix]\nread = 50\nupdate = 50\n"
    )
}

/// Runs the workload in `mode` with `extra` options; its results and stdout.
fn run(mode: &str, extra: &[&str]) -> (Results, String, tempfile::TempDir) {
    run_variants(mode, r#""plain:durable", "plain""#, extra)
}

/// As [`run`], with the workload's `variants` list.
fn run_variants(
    mode: &str,
    variants: &str,
    extra: &[&str],
) -> (Results, String, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("w.toml");
    std::fs::write(&file, workload(mode, variants)).unwrap();
    let out = dir.path().join("out");
    let o = Command::new(env!("CARGO_BIN_EXE_lab"))
        .arg("run")
        .arg(&file)
        .arg("--quiet")
        .arg("--out")
        .arg(&out)
        .args(extra)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&o.stdout).into_owned();
    assert!(
        o.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&o.stderr)
    );
    (
        Results::load(&out.join("results.json")).unwrap(),
        stdout,
        dir,
    )
}

#[test]
fn interleaved_runs_rank_the_variants_by_paired_rounds() {
    let (r, stdout, dir) = run("interleaved", &["--pairs", "12"]);
    assert_eq!(r.paired.len(), 1);
    let p = &r.paired[0];
    assert_eq!(p.threads, 1);
    let names: Vec<&str> = p.variants.iter().map(|v| v.variant.as_str()).collect();
    assert_eq!(names, ["plain:durable", "plain"]);
    for v in &p.variants {
        assert_eq!(v.rates.len(), 12, "{}", v.variant);
        assert!(
            v.rates.iter().all(|x| *x > 0.0),
            "{}: {:?}",
            v.variant,
            v.rates
        );
        assert!(v.ops_per_slice >= 1);
        assert_eq!(v.per_op.keys().collect::<Vec<_>>(), ["read", "update"]);
    }
    let ranked = p.ranking(None, |_| true);
    assert_eq!(ranked[0].variant, "plain");
    assert!(ranked[1].behind.unwrap().lo > 2.0, "{ranked:?}");
    assert!(
        stdout.contains("At 1 thread, plain is fastest: ")
            && stdout.contains("] plain:durable (next); paired over 12 rounds of 50.00 ms"),
        "{stdout}"
    );
    // The rest of the run is as before: two repeats per variant, summaries, the report.
    assert_eq!((r.runs.len(), r.summaries.len()), (4, 2));
    let page = std::fs::read_to_string(dir.path().join("out/index.html")).unwrap();
    assert!(page.contains("The ranking is paired"));
    assert!(page.contains("id=\"chart-paired\""));
}

#[test]
fn no_pairs_and_sequential_runs_rank_by_the_repeats() {
    let (r, stdout, _dir) = run("interleaved", &["--pairs", "0"]);
    assert!(r.paired.is_empty());
    // Two repeats taken apart: whatever they say, it is not from paired rounds.
    assert!(
        stdout.contains("At 1 thread, ") && !stdout.contains("paired over"),
        "{stdout}"
    );
    let (r, stdout, _dir) = run("sequential", &[]);
    assert!(
        r.paired.is_empty(),
        "one variant loaded at a time: nothing to pair"
    );
    assert!(!stdout.contains("paired over"), "{stdout}");
}

#[test]
fn a_harness_fixture_is_paired_and_recorded_but_not_ranked() {
    // noop stores nothing and is far ahead of any store; the registry marks it a fixture,
    // the results record that, and the paired verdict ranks only the stores.
    let (r, stdout, _dir) = run_variants(
        "interleaved",
        r#""noop", "plain:durable", "plain""#,
        &["--pairs", "12"],
    );
    let fixture: Vec<(&str, bool)> = r
        .summaries
        .iter()
        .map(|s| (s.variant.as_str(), s.fixture))
        .collect();
    assert_eq!(
        fixture,
        [("noop", true), ("plain:durable", false), ("plain", false)]
    );
    assert_eq!(r.paired[0].variants.len(), 3, "noop still takes its turns");
    let verdict = stdout.lines().find(|l| l.contains("At 1 thread")).unwrap();
    assert!(
        verdict.contains("plain is fastest") && !verdict.contains("noop"),
        "{stdout}"
    );
}
