//! The `lab` binary end to end: the smoke workload over every backend, and every exit code
//! of the table in `lab --help` (0 ok, 1 target missed, 2 bad input, 3 store failed,
//! 4 unwritable output, 130 interrupted) with messages that name the file.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{lab, text, workload};
use std::path::Path;
use std::process::Command;

use acorn_reports::Results;

/// Runs a smoke-sized workload file over every backend: every operation succeeds.
fn smoke(file: &Path) -> Results {
    let out = tempfile::tempdir().unwrap();
    let o = lab(&[
        "run",
        file.to_str().unwrap(),
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
    results
}

#[test]
fn smoke_runs_every_backend_and_writes_results() {
    let results = smoke(Path::new("workloads/smoke.toml"));
    // The cached variants report their hit ratio per phase and over the run; the engine
    // variants their allocations per operation.
    for s in results
        .summaries
        .iter()
        .filter(|s| s.variant.starts_with("cached"))
    {
        let ratio = s.metrics["cache_hit_ratio"];
        assert!((0.0..=1.0).contains(&ratio), "{}: {ratio}", s.variant);
    }
    assert!(results
        .runs
        .iter()
        .filter(|r| r.variant == "cached")
        .all(|r| r.metrics.contains_key("cache_hits")));
    let pooled = results
        .summaries
        .iter()
        .find(|s| s.variant == "pooled")
        .unwrap();
    assert!(pooled.per_op["read"].allocations.is_some());
    let sqlite = results
        .summaries
        .iter()
        .find(|s| s.variant == "sqlite")
        .unwrap();
    assert!(
        sqlite.per_op["read"].allocations.is_none(),
        "SQLite allocates outside Rust"
    );
}

#[test]
fn smoke_with_opaque_values_runs_every_backend() {
    let dir = tempfile::tempdir().unwrap();
    let src = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../workloads/smoke.toml"
    ))
    .unwrap()
    .replace(
        "doc = { fields = 4, field_bytes = 20 }",
        "value = { bytes = 100 }",
    )
    .replace("min_value = 500\norder = \"newest\"\n", "");
    assert!(src.contains("value = { bytes = 100 }") && !src.contains("min_value"));
    let results = smoke(&workload(dir.path(), "smoke-opaque.toml", &src));
    let plain = results
        .summaries
        .iter()
        .find(|s| s.variant == "plain")
        .unwrap();
    assert!(
        plain.info["serialization"].contains("opaque"),
        "{:?}",
        plain.info
    );
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
    assert!(text(&o).contains("Registered: plain"), "{}", text(&o));
    let o = lab(&["run"]);
    assert_eq!(o.status.code(), Some(2));
    let o = lab(&["run", "no/such/file.toml"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(text(&o).contains("no/such/file.toml:1:1"), "{}", text(&o));
}

const NOOP: &str = "name = \"t\"\nvariants = [\"noop\"]\n[dataset]\nrecords = 10\n[run]\nops = 100\nwarmup = \"0s\"\nrepeats = 1\n[mix]\nread = 100\n";

#[test]
fn quick_runs_warn_about_short_phases_and_judge_no_targets() {
    let dir = tempfile::tempdir().unwrap();
    let w = workload(
        dir.path(),
        "w.toml",
        &format!("{NOOP}[[target]]\nname = \"Impossible\"\nmetric = \"read.throughput\"\nvariant = \"noop\"\nexpect = \"> 1000G ops/s\"\n"),
    );
    let out = dir.path().join("o");
    // A full run misses the target: exit 1.
    let o = lab(&[
        "run",
        w.to_str().unwrap(),
        "--quiet",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(text(&o).contains("[FAIL] Impossible"), "{}", text(&o));
    // 100 operations in a few milliseconds: the run warns on its output.
    assert!(
        text(&o).contains("warning: 1 of 1 measured phases lasted under 1 s"),
        "{}",
        text(&o)
    );
    assert!(text(&o).contains("measured phases ran fewer than 10,000 operations"));
    // --quick: not judged, and it says so; exit 0.
    let o = lab(&[
        "run",
        w.to_str().unwrap(),
        "--quick",
        "--quiet",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert!(
        text(&o).contains("targets: not judged (--quick"),
        "{}",
        text(&o)
    );
    let r = Results::load(&out.join("results.json")).unwrap();
    assert!(r.quick && r.targets.is_empty());
}

#[test]
fn help_prints_the_exit_code_table() {
    for args in [&["--help"][..], &["run", "--help"]] {
        let o = lab(args);
        assert_eq!(o.status.code(), Some(0));
        let t = text(&o);
        for row in ["0 ", "1 ", "2 ", "3 ", "4 ", "130 "] {
            assert!(
                t.contains(&format!("\n  {row}")),
                "{args:?} lacks {row:?}:\n{t}"
            );
        }
    }
}

#[test]
fn a_store_that_cannot_open_exits_3() {
    let dir = tempfile::tempdir().unwrap();
    let w = workload(
        dir.path(),
        "durable.toml",
        &NOOP.replace("[\"noop\"]", "[\"plain:durable\"]"),
    );
    let o = Command::new(env!("CARGO_BIN_EXE_lab"))
        .args(["run", w.to_str().unwrap(), "--quiet", "--out"])
        .arg(dir.path().join("out"))
        // Durable stores make their directories under the temp dir: make it unusable.
        .env("TMPDIR", dir.path().join("no-such-dir"))
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(3), "{}", text(&o));
    assert!(
        text(&o).contains("durable.toml: backend plain:durable"),
        "{}",
        text(&o)
    );
}

#[test]
fn an_unwritable_output_exits_4() {
    let dir = tempfile::tempdir().unwrap();
    let w = workload(dir.path(), "w.toml", NOOP);
    let file = dir.path().join("a-file");
    std::fs::write(&file, "not a directory").unwrap();
    let out = file.join("out");
    let o = lab(&[
        "run",
        w.to_str().unwrap(),
        "--quiet",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(4), "{}", text(&o));
    assert!(text(&o).contains("cannot write"), "{}", text(&o));
    let merged = file.join("merged.json");
    let results = dir.path().join("r.json");
    let o = lab(&[
        "run",
        w.to_str().unwrap(),
        "--quiet",
        "--out",
        dir.path().to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    // A second generator's file (same run, another host), so only the output can fail.
    let mut other = Results::load(&dir.path().join("results.json")).unwrap();
    other.machine.hostname.push_str("-2");
    std::fs::write(&results, other.to_json()).unwrap();
    let o = lab(&[
        "merge",
        results.to_str().unwrap(),
        dir.path().join("results.json").to_str().unwrap(),
        "-o",
        merged.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(4), "{}", text(&o));
}

/// Whether process `pid` has a handler installed for SIGINT (Linux: `SigCgt` in /proc).
fn catches_sigint(pid: u32) -> bool {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("SigCgt:"))
        .and_then(|mask| u64::from_str_radix(mask.trim(), 16).ok())
        .is_some_and(|mask| mask & (1 << (2 - 1)) != 0)
}

#[test]
fn an_interrupted_run_exits_130_with_partial_results() {
    let dir = tempfile::tempdir().unwrap();
    let w = workload(
        dir.path(),
        "long.toml",
        &NOOP.replace("ops = 100", "duration = \"60s\""),
    );
    let out = dir.path().join("out");
    let child = Command::new(env!("CARGO_BIN_EXE_lab"))
        .args(["run", w.to_str().unwrap(), "--quiet", "--out"])
        .arg(&out)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let started = std::time::Instant::now();
    while !catches_sigint(child.id()) {
        assert!(
            started.elapsed().as_secs() < 30,
            "lab never installed its Ctrl-C handler"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let killed = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let o = child.wait_with_output().unwrap();
    assert_eq!(o.status.code(), Some(130), "{}", text(&o));
    let results = Results::load(&out.join("results.json")).unwrap();
    assert!(results.partial);
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

#[test]
fn compare_gates_on_regressions_and_merge_combines_runs() {
    let dir = tempfile::tempdir().unwrap();
    let w = workload(
        dir.path(),
        "w.toml",
        "name = \"w\"\nvariants = [\"noop\", \"btreemap\"]\n[dataset]\nrecords = 10\n[run]\nops = 2000\nwarmup = \"0s\"\nrepeats = 3\n[mix]\nread = 100\n",
    );
    let (a, b) = (dir.path().join("a"), dir.path().join("b"));
    for out in [&a, &b] {
        let o = lab(&[
            "run",
            w.to_str().unwrap(),
            "--quiet",
            "--out",
            out.to_str().unwrap(),
        ]);
        assert!(o.status.success(), "{}", text(&o));
    }
    let (ra, rb) = (a.join("results.json"), b.join("results.json"));
    // Phases of a few milliseconds cannot support a verdict: undecided, exit 0, pointing to
    // `lab ab`, with the summary line last.
    let o = lab(&["compare", ra.to_str().unwrap(), rb.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let out = String::from_utf8_lossy(&o.stdout).to_string();
    assert!(out.contains(" s phases on each side"), "{out}");
    assert!(out.contains("use `lab ab`"), "{out}");
    assert!(
        out.trim_end()
            .lines()
            .last()
            .unwrap()
            .starts_with("summary: regressions 0, improvements 0, undecided "),
        "{out}"
    );
    // Fixed 1 s phases (real ones carry this machine's noise): noop steady at 100k beside
    // btreemap at 200k in every repeat, then noop at a third of that; the latencies of
    // every tenth of a phase follow the rate.
    let fixed = |noop: f64, name: &str| {
        let mut r = Results::load(&ra).unwrap();
        for run in &mut r.runs {
            let v = if run.variant == "noop" {
                noop
            } else {
                200_000.0
            };
            run.elapsed_s = 1.0;
            run.ops = v as u64;
            run.throughput = v;
            run.interval_s = 0.1;
            run.intervals = [vec![(v / 10.0) as u64; 10], vec![0]].concat();
            for op in run.per_op.values_mut() {
                op.throughput = v;
                op.count = v as u64;
                for part in &mut op.parts {
                    part.count = (v / 10.0) as u64;
                    part.p50_ns = (1e9 / v) as u64;
                    part.p99_ns = (3e9 / v) as u64;
                }
            }
        }
        let path = dir.path().join(name);
        std::fs::write(&path, r.to_json()).unwrap();
        path
    };
    let steady = fixed(100_000.0, "steady.json");
    let slow_path = fixed(33_000.0, "slow.json");
    // `lab compare BASE NEW EXTRA...` exits `code` and says `said`.
    let judged = |base: &Path, new: &Path, extra: &[&str], code: i32, said: &str| {
        let mut args = vec!["compare", base.to_str().unwrap(), new.to_str().unwrap()];
        args.extend(extra);
        let o = lab(&args);
        assert_eq!(o.status.code(), Some(code), "{}", text(&o));
        assert!(text(&o).contains(said), "{}", text(&o));
    };
    judged(&steady, &steady, &[], 0, "no difference (vs btreemap)");
    judged(
        &steady,
        &slow_path,
        &["--threshold", "5%"],
        1,
        "REGRESSION (vs btreemap)",
    );
    // A reference one file lacks is bad input.
    judged(
        &steady,
        &slow_path,
        &["--reference", "redb"],
        2,
        "--reference redb",
    );
    // Bad input: a broken file and a bad threshold.
    std::fs::write(dir.path().join("broken.json"), "{ nope").unwrap();
    let o = lab(&[
        "compare",
        ra.to_str().unwrap(),
        dir.path().join("broken.json").to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(text(&o).contains("broken.json"), "{}", text(&o));
    let o = lab(&[
        "compare",
        ra.to_str().unwrap(),
        rb.to_str().unwrap(),
        "--threshold",
        "lots",
    ]);
    assert_eq!(o.status.code(), Some(2));
    // Merge: generators that ran one after the other are refused; two that ran at the
    // same time add up, one run per repeat.
    let merged = dir.path().join("merged.json");
    let o = lab(&[
        "merge",
        ra.to_str().unwrap(),
        rb.to_str().unwrap(),
        "-o",
        merged.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(text(&o).contains("did not overlap"), "{}", text(&o));
    let o = lab(&[
        "merge",
        ra.to_str().unwrap(),
        ra.to_str().unwrap(),
        "-o",
        merged.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(text(&o).contains("given twice"), "{}", text(&o));
    // Generators with a target none can meet: each run exits 1, and so does the merge.
    let slow = workload(
        dir.path(),
        "slow.toml",
        "name = \"w\"\nvariants = [\"noop\"]\n[dataset]\nrecords = 10\n[run]\nduration = \"300ms\"\nwarmup = \"0s\"\nrepeats = 2\n[mix]\nread = 100\n[[target]]\nname = \"Impossible\"\nmetric = \"read.throughput\"\nvariant = \"noop\"\nexpect = \"> 1000G ops/s\"\n",
    );
    let (c, d) = (dir.path().join("c"), dir.path().join("d"));
    let generators: Vec<_> = [&c, &d]
        .iter()
        .map(|out| {
            Command::new(env!("CARGO_BIN_EXE_lab"))
                .args(["run", slow.to_str().unwrap(), "--quiet", "--out"])
                .arg(out)
                .stdout(std::process::Stdio::null())
                .spawn()
                .unwrap()
        })
        .collect();
    for mut g in generators {
        assert_eq!(g.wait().unwrap().code(), Some(1), "the target failed");
    }
    let (rc, rd) = (c.join("results.json"), d.join("results.json"));
    let o = lab(&[
        "merge",
        rc.to_str().unwrap(),
        rd.to_str().unwrap(),
        "-o",
        merged.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(text(&o).contains("[FAIL] Impossible"), "{}", text(&o));
    let m = Results::load(&merged).unwrap();
    let (one, two) = (Results::load(&rc).unwrap(), Results::load(&rd).unwrap());
    assert_eq!((m.runs.len(), m.generators), (2, 2));
    assert_eq!(
        m.summaries[0].per_op["read"].count,
        one.summaries[0].per_op["read"].count + two.summaries[0].per_op["read"].count
    );
    // The merged file compares sanely with another merge of itself and reports.
    let o = lab(&[
        "compare",
        merged.to_str().unwrap(),
        merged.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let o = lab(&["report", merged.to_str().unwrap()]);
    assert!(o.status.success(), "{}", text(&o));
}

#[test]
fn update_targets_rewrites_only_the_table() {
    let dir = tempfile::tempdir().unwrap();
    let w = workload(
        dir.path(),
        "w.toml",
        "name = \"w\"\nvariants = [\"noop\"]\n[dataset]\nrecords = 10\n[run]\nops = 100\nwarmup = \"0s\"\nrepeats = 1\n[mix]\nread = 100\n[[target]]\nname = \"Noop Reads\"\nmetric = \"read.throughput\"\nexpect = \"> 1 ops/s\"\n",
    );
    let md = dir.path().join("PERF.md");
    std::fs::write(&md, "Intro\n<!-- targets:begin -->\n| Operation | Current | Status |\n|---|---|---|\n| Noop Reads | TBD | open |\n<!-- targets:end -->\nOutro\n").unwrap();
    let o = lab(&[
        "run",
        w.to_str().unwrap(),
        "--quiet",
        "--out",
        dir.path().join("o").to_str().unwrap(),
        "--update-targets",
        md.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", text(&o));
    let after = std::fs::read_to_string(&md).unwrap();
    assert!(
        after.starts_with("Intro\n<!-- targets:begin -->\n")
            && after.ends_with("<!-- targets:end -->\nOutro\n"),
        "{after}"
    );
    assert!(
        after.contains("| pass |") && after.contains("ops/s (`w`, noop, 1 thread)"),
        "{after}"
    );
    let o = lab(&[
        "run",
        w.to_str().unwrap(),
        "--quiet",
        "--update-targets",
        dir.path().join("none.md").to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(2));
}

#[test]
fn flamegraphs_are_written_beside_the_report_and_linked() {
    let dir = tempfile::tempdir().unwrap();
    let w = workload(
        dir.path(),
        "fg.toml",
        "name = \"fg\"\nvariants = [\"btreemap\"]\n[dataset]\nrecords = 500\n[run]\nops = 30000\nwarmup = \"0s\"\nrepeats = 1\n[mix]\nread = 100\n",
    );
    let out = dir.path().join("out");
    let o = lab(&[
        "run",
        w.to_str().unwrap(),
        "--quiet",
        "--flamegraph",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", text(&o));
    let svg = std::fs::read_to_string(out.join("flamegraph-btreemap-1t.svg")).unwrap();
    assert!(
        svg.contains("<svg") && svg.contains("samples"),
        "not a flamegraph"
    );
    let html = std::fs::read_to_string(out.join("index.html")).unwrap();
    assert!(html.contains("href=\"flamegraph-btreemap-1t.svg\""));
    let results = Results::load(&out.join("results.json")).unwrap();
    assert_eq!(results.flamegraphs, ["flamegraph-btreemap-1t.svg"]);
}
