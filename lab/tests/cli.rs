//! The `lab` binary end to end: the smoke workload over every backend, and exit codes
//! (0 ok, 1 target missed, 2 bad input) with messages that name the file.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use acorn_reports::Results;

fn lab(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_lab"))
        .args(args)
        .current_dir(Path::new(env!("CARGO_MANIFEST_DIR")).join(".."))
        .output()
        .unwrap()
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

#[test]
fn smoke_runs_every_backend_and_writes_results() {
    let out = tempfile::tempdir().unwrap();
    let o = lab(&[
        "run",
        "workloads/smoke.toml",
        "--quiet",
        "--out",
        out.path().to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", text(&o));
    let results = Results::load(&out.path().join("results.json")).unwrap();
    let registered = acorn_lab::backend::registry().len();
    let variants: std::collections::BTreeSet<&str> = results
        .summaries
        .iter()
        .map(|s| s.variant.as_str())
        .collect();
    assert_eq!(variants.len(), registered, "{variants:?}");
    // Every storing backend did every operation without errors.
    for s in &results.summaries {
        assert!(s.per_op.len() >= 8, "{}: {:?}", s.variant, s.per_op.keys());
        let errors: u64 = s.per_op.values().map(|o| o.errors).sum();
        assert_eq!(
            errors,
            0,
            "{}: {:?}",
            s.variant,
            s.per_op
                .values()
                .flat_map(|o| &o.error_samples)
                .collect::<Vec<_>>()
        );
    }
    assert!(!results.partial);
    assert_eq!(results.mode, "sequential");
    assert!(text(&o).contains("plain:durable"));
}

fn workload(dir: &Path, name: &str, body: &str) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, body).unwrap();
    p
}

#[test]
fn exit_codes_say_what_happened() {
    let dir = tempfile::tempdir().unwrap();
    let base = "name = \"t\"\nvariants = [\"noop\"]\n[dataset]\nrecords = 10\n[run]\nops = 100\nwarmup = \"0s\"\nrepeats = 1\n[mix]\nread = 100\n";
    let ok = workload(
        dir.path(),
        "ok.toml",
        &format!(
            "{base}[[target]]\nname = \"fast\"\nmetric = \"throughput\"\nexpect = \"> 1 ops/s\"\n"
        ),
    );
    let miss = workload(dir.path(), "miss.toml", &format!("{base}[[target]]\nname = \"impossible\"\nmetric = \"throughput\"\nexpect = \"> 1G ops/s\"\n"));
    let bad = workload(
        dir.path(),
        "bad.toml",
        "name = \"t\"\n[dataset]\nrecords = 10\n[mix]\nread = 90\n",
    );
    let out = dir.path().join("out");
    let o = lab(&[
        "run",
        ok.to_str().unwrap(),
        "--quiet",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert!(text(&o).contains("[pass] fast"));
    let o = lab(&[
        "run",
        miss.to_str().unwrap(),
        "--quiet",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(text(&o).contains("[FAIL] impossible"));
    let o = lab(&["run", bad.to_str().unwrap(), "--quiet"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        text(&o).contains("bad.toml:4:1: `mix`: weights must sum to 100; they sum to 90"),
        "{}",
        text(&o)
    );
    let o = lab(&["validate", ok.to_str().unwrap(), bad.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2));
    let o = lab(&[
        "run",
        ok.to_str().unwrap(),
        "--variants",
        "plian",
        "--quiet",
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(text(&o).contains("registered backends"), "{}", text(&o));
    let o = lab(&["run"]);
    assert_eq!(o.status.code(), Some(2));
    let o = lab(&["run", "no/such/file.toml"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(text(&o).contains("no/such/file.toml:1:1"), "{}", text(&o));
}

#[test]
fn list_shows_backends_and_shipped_workloads() {
    let o = lab(&["list"]);
    assert!(o.status.success());
    let t = text(&o);
    for name in [
        "plain",
        "cached:durable",
        "redb",
        "fjall:sync",
        "sqlite",
        "noop",
        "workloads/mixed.toml",
        "workloads/ycsb-f.toml",
    ] {
        assert!(t.contains(name), "missing {name} in:\n{t}");
    }
    assert!(!t.contains("INVALID"), "{t}");
}
