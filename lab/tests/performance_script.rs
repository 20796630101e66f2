//! `scripts/performance_test.sh` in full mode (no `--quick`), every stage: the build, the
//! criterion benches with criterion's own options, the workloads with `--update-targets`,
//! `--flamegraph` and a baseline to compare with, and the list of reports. Shrunk to run in
//! CI (a debug build, the smallest criterion times, two workloads with short phases) but on
//! the same path a real run takes, in this build's own target directory (named through
//! `CARGO_TARGET_DIR`, so nothing is rebuilt). Where the script looks when
//! `CARGO_TARGET_DIR` is somewhere else is checked without building (`PERF_DRY_RUN`).
//! The three slowest benches in a debug build are left out (durable: thousands of fsyncs at
//! any size; concurrent and crack: large datasets and threads to set up, a minute between
//! them); `cargo test` runs each of them once in test mode, and every bench takes
//! criterion's options the same way.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::process::Command;

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// The engine's bench targets, from its Cargo.toml.
fn benches() -> Vec<String> {
    let manifest = std::fs::read_to_string(repo().join("engine/Cargo.toml")).unwrap();
    let mut out = Vec::new();
    let mut in_bench = false;
    for line in manifest.lines() {
        let line = line.trim();
        if line.starts_with('[') {
            in_bench = line == "[[bench]]";
        } else if in_bench {
            if let Some(name) = line.strip_prefix("name = ") {
                out.push(name.trim_matches('"').to_owned());
            }
        }
    }
    out
}

#[test]
fn the_full_performance_script_runs_every_stage() {
    let tmp = tempfile::tempdir().unwrap();
    // This build's target directory (…/target/debug/lab).
    let lab = Path::new(env!("CARGO_BIN_EXE_lab"));
    let target = lab.parent().unwrap().parent().unwrap().to_path_buf();
    let out = tmp.path().join("perf");
    let targets = tmp.path().join("PERFORMANCE.md");
    std::fs::copy(repo().join("docs/PERFORMANCE.md"), &targets).unwrap();
    seed_a_quick_baseline(lab, tmp.path(), &out);
    let o = run_the_script(&target, &out, &targets);
    let stdout = String::from_utf8_lossy(&o.stdout);
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(0), "{stdout}\n{stderr}");
    every_stage_ran(&stdout, &stderr, &target);
    every_workload_wrote_results_a_report_and_flamegraphs(&out);
    // The counted stage wrote a report beside basic's and kept its counts as a baseline.
    let counted = out.join("performance/basic/instructions");
    assert!(counted.join("results.json").exists(), "no counted results");
    assert!(counted.join("index.html").exists(), "no counted report");
    assert!(out.join("baseline/quick/basic.instructions.json").exists());
    // basic had a baseline: it was compared.
    assert!(stdout.contains("verdict (threshold"), "{stdout}");
    let table = std::fs::read_to_string(&targets).unwrap();
    assert!(
        table.contains("(`basic`, plain"),
        "targets table not rewritten:\n{table}"
    );
    // The repository's own targets table is untouched.
    let ours = std::fs::read_to_string(repo().join("docs/PERFORMANCE.md")).unwrap();
    assert!(!ours.contains(&*tmp.path().to_string_lossy()));
}

/// A baseline for one workload, so the comparison stage runs too: a `--quick` run of
/// basic, kept in `out/baseline/quick/basic.json`.
fn seed_a_quick_baseline(lab: &Path, tmp: &Path, out: &Path) {
    std::fs::create_dir_all(out.join("baseline/quick")).unwrap();
    let seed = tmp.join("seed");
    let o = Command::new(lab)
        .current_dir(repo())
        .args(["run", "workloads/basic.toml", "--quick", "--quiet", "--out"])
        .arg(&seed)
        .output()
        .unwrap();
    // A debug build may miss basic's targets (exit 1); the results are all it needs.
    assert!(
        matches!(o.status.code(), Some(0 | 1)),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    // Short runs are --quick runs: their baselines are the quick ones.
    std::fs::copy(
        seed.join("results.json"),
        out.join("baseline/quick/basic.json"),
    )
    .unwrap();
}

/// `scripts/performance_test.sh` with tiny criterion runs over the quick benches, basic and
/// mixed (basic counted too), short runs, writing into `out` and rewriting `targets`.
fn run_the_script(target: &Path, out: &Path, targets: &Path) -> std::process::Output {
    let benches: Vec<String> = benches()
        .into_iter()
        .filter(|b| {
            !matches!(
                b.as_str(),
                "durable_operations" | "concurrent_operations" | "crack_operations"
            )
        })
        .collect();
    assert!(benches.len() >= 9, "{benches:?}");
    Command::new("bash")
        .arg(repo().join("scripts/performance_test.sh"))
        .env("CARGO_TARGET_DIR", target)
        .env("PERF_PROFILE", "dev")
        .env(
            "PERF_CRITERION",
            "--warm-up-time 0.01 --measurement-time 0.01 --sample-size 10 --nresamples 1000",
        )
        .env("PERF_BENCHES", benches.join(" "))
        .env("PERF_WORKLOADS", "basic mixed")
        .env("PERF_COUNTED", "basic")
        .env("PERF_SHORT", "1")
        .env("PERF_OUT", out)
        .env("PERF_TARGETS", targets)
        .output()
        .unwrap()
}

/// Every stage printed its banner, the lab ran from `target`, and criterion measured.
fn every_stage_ran(stdout: &str, stderr: &str, target: &Path) {
    for stage in [
        "=== build (dev) ===",
        "=== criterion benches ===",
        "=== workload basic ===",
        "=== workload mixed ===",
        "=== instruction counts basic ===",
        "=== reports ===",
    ] {
        assert!(stdout.contains(stage), "missing {stage}:\n{stdout}");
    }
    // The lab ran from CARGO_TARGET_DIR, not from target/.
    assert!(
        stdout.contains(&format!("lab: {}/debug/lab", target.display())),
        "{stdout}"
    );
    // Criterion measured (its options reached the benches and only them).
    assert!(
        stderr.contains("time:") || stdout.contains("time:"),
        "no bench ran"
    );
    assert!(!stderr.contains("Unrecognized option"), "{stderr}");
}

/// Each workload has results, a report, a quick baseline and at least one flamegraph.
fn every_workload_wrote_results_a_report_and_flamegraphs(out: &Path) {
    for w in ["basic", "mixed"] {
        let dir = out.join("performance").join(w);
        assert!(dir.join("results.json").exists(), "{w}: no results");
        assert!(dir.join("index.html").exists(), "{w}: no report");
        assert!(out
            .join("baseline/quick")
            .join(format!("{w}.json"))
            .exists());
        let flamegraphs = std::fs::read_dir(&dir)
            .unwrap()
            .filter(|e| {
                let name = e.as_ref().unwrap().file_name();
                name.to_string_lossy().starts_with("flamegraph-")
            })
            .count();
        assert!(flamegraphs > 0, "{w}: no flamegraph");
    }
}

#[test]
fn the_performance_script_looks_where_cargo_target_dir_says() {
    let tmp = tempfile::tempdir().unwrap();
    let elsewhere = tmp.path().join("elsewhere");
    let o = Command::new("bash")
        .arg(repo().join("scripts/performance_test.sh"))
        .env("CARGO_TARGET_DIR", &elsewhere)
        .env("PERF_DRY_RUN", "1")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(
        o.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let e = elsewhere.display();
    assert!(
        stdout.contains(&format!("lab: {e}/release/lab")),
        "{stdout}"
    );
    assert!(
        stdout.contains(&format!("out: {e}/lab/performance")),
        "{stdout}"
    );
    // A plain full run rewrites a copy, leaving the working tree clean; only
    // --update-targets rewrites the repository's table.
    assert!(
        stdout.contains(&format!(
            "targets table: {e}/lab/performance/PERFORMANCE.md"
        )),
        "{stdout}"
    );
    let o = Command::new("bash")
        .arg(repo().join("scripts/performance_test.sh"))
        .arg("--update-targets")
        .env("CARGO_TARGET_DIR", &elsewhere)
        .env("PERF_DRY_RUN", "1")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(o.status.success(), "{stdout}");
    assert!(
        stdout.contains("targets table: docs/PERFORMANCE.md"),
        "{stdout}"
    );
    let o = Command::new("bash")
        .arg(repo().join("scripts/performance_test.sh"))
        .args(["--quick", "--update-targets"])
        .env("PERF_DRY_RUN", "1")
        .output()
        .unwrap();
    assert_eq!(
        o.status.code(),
        Some(2),
        "--quick with --update-targets is refused"
    );
    assert!(!elsewhere.exists(), "a dry run creates nothing");
}
