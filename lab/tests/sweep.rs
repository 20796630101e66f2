//! `lab sweep` end to end: each variant at each offered rate, the sweep in results.json and
//! its chart in the report, `lab compare` by knees, and bad arguments refused by name.
//! (The knee rule itself is tested in `reports/src/sweep.rs`; nothing here depends on how
//! fast this machine is.)

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::time::Duration;

use acorn_reports::Results;
use assert_cmd::Command;

fn lab() -> Command {
    let mut c = Command::cargo_bin("lab").unwrap();
    c.current_dir(Path::new(env!("CARGO_MANIFEST_DIR")).join(".."))
        .timeout(Duration::from_secs(120));
    c
}

const WORKLOAD: &str = "name = \"sweep\"\nvariants = [\"btreemap\", \"plain\"]\n[dataset]\n\
    records = 200\n[run]\nthreads = 1\nduration = \"1s\"\nwarmup = \"0s\"\n[mix]\nread = 80\n\
    update = 20\n";

#[test]
fn a_sweep_runs_every_rate_per_variant_and_compares_by_knees() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("sweep.toml");
    std::fs::write(&file, WORKLOAD).unwrap();
    let out = dir.path().join("out");
    let o = lab()
        .args([
            "sweep",
            file.to_str().unwrap(),
            "--rates",
            "400,200",
            "--step",
            "150ms",
        ])
        .args(["--slo", "50ms", "--quiet", "--out"])
        .arg(&out)
        .assert()
        .success();
    let stdout = String::from_utf8_lossy(&o.get_output().stdout).into_owned();
    assert!(stdout.contains("btreemap: knee"), "{stdout}");
    let r = Results::load(&out.join("results.json")).unwrap();
    let s = r.sweep.as_ref().unwrap();
    assert_eq!((s.slo_ns, s.threads), (50_000_000, 1));
    assert_eq!(s.variants.len(), 2);
    for v in &s.variants {
        let offered: Vec<f64> = v.points.iter().map(|p| p.offered).collect();
        assert_eq!(offered, [200.0, 400.0], "{}", v.variant);
        for p in &v.points {
            // About 0.15 s at the offered rate: every operation that fell due was run.
            assert!(p.ops >= (p.offered * 0.1) as u64, "{}: {p:?}", v.variant);
            assert!(p.p50_ns <= p.p99_ns && p.p99_ns <= p.p999_ns, "{p:?}");
        }
        // The knee is whatever the rule says of these points.
        assert_eq!(v.knee, acorn_reports::sweep::knee(&v.points, s.slo_ns));
    }
    let html = std::fs::read_to_string(out.join("index.html")).unwrap();
    assert!(html.contains("id=\"chart-sweep\""), "no sweep chart");
    // A sweep compares with itself by knees, and never with a plain run.
    let results = out.join("results.json");
    let o = lab()
        .arg("compare")
        .arg(&results)
        .arg(&results)
        .assert()
        .success();
    let text = String::from_utf8_lossy(&o.get_output().stdout).into_owned();
    assert!(text.contains("sweeps compared by their knees"), "{text}");
    let mut other = r.clone();
    other.sweep = None;
    let plain = dir.path().join("plain.json");
    std::fs::write(&plain, other.to_json()).unwrap();
    lab()
        .arg("compare")
        .arg(&results)
        .arg(&plain)
        .assert()
        .code(2);
}

#[test]
fn bad_sweep_arguments_are_refused_by_name() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("sweep.toml");
    std::fs::write(&file, WORKLOAD).unwrap();
    let o = lab()
        .args(["sweep", file.to_str().unwrap(), "--rates", "1k,fast"])
        .assert()
        .code(2);
    let err = String::from_utf8_lossy(&o.get_output().stderr).into_owned();
    assert!(err.contains("--rates") && err.contains("\"fast\""), "{err}");
    lab()
        .args(["sweep", file.to_str().unwrap(), "--slo", "soon"])
        .assert()
        .code(2);
    lab()
        .args(["sweep", file.to_str().unwrap(), "--variants", "nope"])
        .assert()
        .code(2);
}
