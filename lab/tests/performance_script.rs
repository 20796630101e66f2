//! `scripts/performance_test.sh` in full mode (no `--quick`), every stage: the build, the
//! criterion benches with criterion's own options, the workloads with `--update-targets`,
//! `--flamegraph` and a baseline to compare with, and the list of reports. Shrunk to run in
//! CI (a debug build, the smallest criterion times, two workloads with short phases) but on
//! the same path a real run takes, with `CARGO_TARGET_DIR` pointing somewhere else than
//! `target/` (a link to this build's target directory, so nothing is rebuilt from scratch).
//! The durable bench is left out: at any size it fsyncs thousands of times (`cargo test`
//! runs it once in test mode).

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
    // This build's target directory (…/target/debug/lab), reached through a link.
    let lab = Path::new(env!("CARGO_BIN_EXE_lab"));
    let real_target = lab.parent().unwrap().parent().unwrap();
    let target = tmp.path().join("elsewhere");
    std::os::unix::fs::symlink(real_target, &target).unwrap();
    let out = tmp.path().join("perf");
    let targets = tmp.path().join("PERFORMANCE.md");
    std::fs::copy(repo().join("docs/PERFORMANCE.md"), &targets).unwrap();
    // A baseline for one workload, so the comparison stage runs too.
    std::fs::create_dir_all(out.join("baseline")).unwrap();
    let seed = tmp.path().join("seed");
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
    std::fs::copy(seed.join("results.json"), out.join("baseline/basic.json")).unwrap();

    let benches: Vec<String> = benches()
        .into_iter()
        .filter(|b| b != "durable_operations")
        .collect();
    assert!(benches.len() >= 10, "{benches:?}");
    let o = Command::new("bash")
        .arg(repo().join("scripts/performance_test.sh"))
        .env("CARGO_TARGET_DIR", &target)
        .env("PERF_PROFILE", "dev")
        .env(
            "PERF_CRITERION",
            "--warm-up-time 0.01 --measurement-time 0.01 --sample-size 10 --nresamples 1000",
        )
        .env("PERF_BENCHES", benches.join(" "))
        .env("PERF_WORKLOADS", "basic mixed")
        .env("PERF_SHORT", "1")
        .env("PERF_OUT", &out)
        .env("PERF_TARGETS", &targets)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&o.stdout);
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(0), "{stdout}\n{stderr}");
    for stage in [
        "=== build (dev) ===",
        "=== criterion benches ===",
        "=== workload basic ===",
        "=== workload mixed ===",
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
    for w in ["basic", "mixed"] {
        let dir = out.join("performance").join(w);
        assert!(dir.join("results.json").exists(), "{w}: no results");
        assert!(dir.join("index.html").exists(), "{w}: no report");
        assert!(out.join("baseline").join(format!("{w}.json")).exists());
        let flamegraphs = std::fs::read_dir(&dir)
            .unwrap()
            .filter(|e| {
                let name = e.as_ref().unwrap().file_name();
                name.to_string_lossy().starts_with("flamegraph-")
            })
            .count();
        assert!(flamegraphs > 0, "{w}: no flamegraph");
    }
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
