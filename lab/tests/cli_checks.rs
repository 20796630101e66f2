//! `lab` refuses what would waste a run before running anything (an unwritable output, two
//! workloads in one directory, a name that is a path, a dataset that cannot fit in memory,
//! a `rate` too low to mean anything, a bad `--variants` list), stops within a second of
//! Ctrl-C (loading included) with only finished phases in its partial results, and reports
//! progress without a terminal. Every check runs the real binary (assert_cmd); no
//! assertion depends on how fast this machine is: the time limits are there so that a
//! check that came too late fails instead of hanging.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::workload;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command as StdCommand, Stdio};
use std::time::{Duration, Instant};

use acorn_reports::Results;
use assert_cmd::Command;
use predicates::prelude::*;

/// `lab` run from the repository root, with a time limit so a late check cannot hang.
fn lab() -> Command {
    let mut c = Command::cargo_bin("lab").unwrap();
    c.current_dir(Path::new(env!("CARGO_MANIFEST_DIR")).join(".."))
        .timeout(Duration::from_secs(60));
    c
}

/// A tiny noop workload named `name`; `run` is extra `[run]` keys.
fn noop(name: &str, run: &str) -> String {
    format!(
        "name = \"{name}\"\nvariants = [\"noop\"]\n[dataset]\nrecords = 10\n[run]\nwarmup = \"0s\"\nrepeats = 1\n{run}\n[mix]\nread = 100\n"
    )
}

#[test]
fn a_workload_name_is_never_a_path() {
    let dir = tempfile::tempdir().unwrap();
    for (i, name) in [
        "../escape",
        "a/b",
        "/abs",
        "..",
        ".hidden",
        "bell\\u0007",
        "a\\\\b",
    ]
    .iter()
    .enumerate()
    {
        let w = workload(dir.path(), &format!("w{i}.toml"), &noop(name, "ops = 10"));
        lab()
            .current_dir(dir.path())
            .args(["run", w.to_str().unwrap(), "--quiet"])
            .assert()
            .code(2)
            .stderr(predicate::str::contains(format!("w{i}.toml:1:8: `name`")))
            .stderr(predicate::str::contains("letters, digits"));
    }
    // Nothing was written anywhere, least of all outside target/lab.
    assert!(!dir.path().join("escape").exists());
    assert!(!dir.path().join("target").exists());
    lab()
        .args(["validate", "workloads/ycsb-a.toml", "workloads/mixed.toml"])
        .assert()
        .success();
}

#[test]
fn an_unwritable_output_fails_before_any_phase_runs() {
    let dir = tempfile::tempdir().unwrap();
    // A minute-long phase: a check made after running would time this test out.
    let w = workload(dir.path(), "w.toml", &noop("w", "duration = \"60s\""));
    let file = dir.path().join("a-file");
    std::fs::write(&file, "not a directory").unwrap();
    lab()
        .args(["run", w.to_str().unwrap(), "--quiet", "--out"])
        .arg(file.join("out"))
        .timeout(Duration::from_secs(20))
        .assert()
        .code(4)
        .stderr(predicate::str::contains("cannot write"))
        .stderr(predicate::str::contains("a-file/out"))
        .stdout(predicate::str::contains("ops/s").not());
}

#[test]
fn two_workloads_never_share_one_output_directory() {
    let dir = tempfile::tempdir().unwrap();
    let a = workload(dir.path(), "a.toml", &noop("alpha", "ops = 10"));
    let b = workload(dir.path(), "b.toml", &noop("beta", "ops = 10"));
    let out = dir.path().join("out");
    lab()
        .args([
            "run",
            a.to_str().unwrap(),
            b.to_str().unwrap(),
            "--quiet",
            "--out",
        ])
        .arg(&out)
        .assert()
        .success();
    for name in ["alpha", "beta"] {
        let r = Results::load(&out.join(name).join("results.json")).unwrap();
        assert_eq!(r.workload, name);
        assert!(out.join(name).join("index.html").exists());
    }
    assert!(!out.join("results.json").exists());
    // One workload keeps --out as its directory.
    let single = dir.path().join("single");
    lab()
        .args(["run", a.to_str().unwrap(), "--quiet", "--out"])
        .arg(&single)
        .assert()
        .success();
    assert!(single.join("results.json").exists());
    // Two files of one name would overwrite each other: refused before running.
    let twin = workload(
        dir.path(),
        "twin.toml",
        &noop("alpha", "duration = \"60s\""),
    );
    lab()
        .args([
            "run",
            a.to_str().unwrap(),
            twin.to_str().unwrap(),
            "--quiet",
        ])
        .timeout(Duration::from_secs(20))
        .assert()
        .code(2)
        .stderr(predicate::str::contains("a.toml and "))
        .stderr(predicate::str::contains(
            "twin.toml are both named \"alpha\"",
        ));
}

#[test]
fn a_dataset_too_big_for_memory_is_refused_with_the_estimate() {
    let dir = tempfile::tempdir().unwrap();
    let w = workload(
        dir.path(),
        "huge.toml",
        "name = \"huge\"\nvariants = [\"plain\", \"binary\"]\n[dataset]\nrecords = 500_000_000\ndoc = { fields = 10, field_bytes = 100 }\n[run]\nmode = \"interleaved\"\n[mix]\nread = 100\n",
    );
    lab()
        .args(["run", w.to_str().unwrap(), "--quiet"])
        .timeout(Duration::from_secs(20))
        .assert()
        .code(2)
        .stderr(predicate::str::contains("huge.toml"))
        .stderr(predicate::str::contains("500000000 records"))
        .stderr(predicate::str::contains("2 variants resident at once"))
        .stderr(predicate::str::contains("available"))
        .stderr(predicate::str::contains("dataset.records"))
        .stderr(predicate::str::contains("mode = \"sequential\""));
    // noop stores nothing: the same dataset needs no memory and is not refused (validate
    // only checks the file, it never refuses on memory).
    lab()
        .args(["validate", w.to_str().unwrap()])
        .assert()
        .success();
}

#[test]
fn rate_has_a_lower_bound_the_validator_states() {
    let dir = tempfile::tempdir().unwrap();
    for (rate, threads, ok) in [
        ("0.5", "1", false),
        ("1", "1", true),
        ("3", "[1, 4]", false),
        ("4", "[1, 4]", true),
        ("0", "[1, 4]", true),
    ] {
        let w = workload(
            dir.path(),
            "r.toml",
            &noop(
                "r",
                &format!("ops = 10\nrate = {rate}\nthreads = {threads}"),
            ),
        );
        let a = lab().args(["validate", w.to_str().unwrap()]).assert();
        if ok {
            a.success();
        } else {
            a.code(2)
                .stderr(predicate::str::contains("`run.rate`"))
                .stderr(predicate::str::contains(
                    "at least 1 operation per second per thread",
                ));
        }
    }
}

#[test]
fn variants_from_the_command_line_are_trimmed_checked_and_corrected() {
    let dir = tempfile::tempdir().unwrap();
    let w = workload(dir.path(), "w.toml", &noop("w", "ops = 10"));
    let out = dir.path().join("out");
    lab()
        .args([
            "run",
            w.to_str().unwrap(),
            "--quiet",
            "--variants",
            " noop , btreemap ",
        ])
        .arg("--out")
        .arg(&out)
        .assert()
        .success();
    let r = Results::load(&out.join("results.json")).unwrap();
    let ran: Vec<&str> = r.summaries.iter().map(|s| s.variant.as_str()).collect();
    assert_eq!(ran, ["noop", "btreemap"]);
    for (list, says) in [
        ("noop,noop", "\"noop\" is listed twice"),
        ("plian", "Did you mean `plain`?"),
        ("noop,", "an empty name"),
    ] {
        lab()
            .args(["run", w.to_str().unwrap(), "--quiet", "--variants", list])
            .assert()
            .code(2)
            .stderr(predicate::str::contains("--variants"))
            .stderr(predicate::str::contains(says));
    }
}

#[test]
fn progress_without_a_terminal_is_one_line_per_finished_phase() {
    let dir = tempfile::tempdir().unwrap();
    let w = workload(
        dir.path(),
        "w.toml",
        &noop("w", "ops = 50\nthreads = [1, 2]")
            .replace("[\"noop\"]", "[\"noop\", \"btreemap\"]")
            .replace("repeats = 1", "repeats = 2"),
    );
    let out = dir.path().join("out");
    // Progress is one line per finished repeat; the paired rounds after the repeats (up to
    // a minute of a debug build on a loaded 2-core machine) are not what this checks.
    let o = lab()
        .args(["run", w.to_str().unwrap(), "--pairs", "0", "--out"])
        .arg(&out)
        .assert()
        .success();
    let err = String::from_utf8_lossy(&o.get_output().stderr).into_owned();
    let lines: Vec<&str> = err.lines().filter(|l| l.contains("ops/s")).collect();
    assert_eq!(
        lines.len(),
        8,
        "2 variants x 2 thread counts x 2 repeats:\n{err}"
    );
    for want in [
        "noop",
        "btreemap",
        "1 thread",
        "2 threads",
        "repeat 2/2",
        "ETA",
    ] {
        assert!(lines.iter().any(|l| l.contains(want)), "{want} in\n{err}");
    }
    assert!(lines
        .iter()
        .all(|l| l.contains(" in ") && l.contains("ETA")));
    assert!(lines[7].starts_with("[8/8]"), "{}", lines[7]);
    lab()
        .args([
            "run",
            w.to_str().unwrap(),
            "--quiet",
            "--pairs",
            "0",
            "--out",
        ])
        .arg(&out)
        .assert()
        .success()
        .stderr(predicate::str::is_empty());
}

#[test]
fn validate_help_links_the_workload_reference() {
    lab()
        .args(["validate", "--help"])
        .assert()
        .success()
        .stdout(predicate::str::contains("docs/workloads.md"));
}

#[test]
fn list_describes_every_variant_differently_and_says_where_it_looked() {
    let o = lab().arg("list").assert().success();
    let text = String::from_utf8_lossy(&o.get_output().stdout).into_owned();
    let descriptions: Vec<&str> = text
        .lines()
        .take_while(|l| !l.starts_with("workloads"))
        .skip(1)
        // Each backend's second line gives its tier and version, its third the measures
        // it supports.
        .filter(|l| {
            !l.trim_start().starts_with("tier:") && !l.trim_start().starts_with("measures:")
        })
        .map(|l| l.trim_start().split_once(' ').unwrap().1.trim())
        .collect();
    let measures = text
        .lines()
        .filter(|l| l.trim_start().starts_with("measures: wall-clock"))
        .count();
    assert_eq!(measures, acorn_lab::backend::registry().len(), "{text}");
    assert_eq!(
        descriptions.len(),
        acorn_lab::backend::registry().len(),
        "{text}"
    );
    let distinct: std::collections::BTreeSet<&&str> = descriptions.iter().collect();
    assert_eq!(distinct.len(), descriptions.len(), "{text}");
    // Aligned: every backend's description, and its measures line, start in one column,
    // whatever the length of its name (`plain:async:durable` once pushed its own out).
    let backend_lines: Vec<&str> = text
        .lines()
        .take_while(|l| !l.starts_with("workloads"))
        .skip(1)
        .collect();
    let columns: std::collections::BTreeSet<usize> = backend_lines
        .iter()
        .map(|l| {
            let name_end = l
                .trim_start()
                .find(' ')
                .map_or(0, |i| i + l.len() - l.trim_start().len());
            let second = ["tier:", "measures:"]
                .iter()
                .any(|w| l.trim_start().starts_with(w));
            if second {
                l.len() - l.trim_start().len()
            } else {
                name_end + l[name_end..].len() - l[name_end..].trim_start().len()
            }
        })
        .collect();
    assert_eq!(
        columns.len(),
        1,
        "descriptions start in columns {columns:?}:\n{text}"
    );
    let root = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .canonicalize()
        .unwrap();
    assert!(
        text.contains(&format!(
            "workloads in {}",
            root.join("workloads").display()
        )),
        "{text}"
    );
    // Elsewhere it says it found no directory, and where it looked.
    let dir = tempfile::tempdir().unwrap();
    let o = lab().current_dir(dir.path()).arg("list").assert().success();
    let text = String::from_utf8_lossy(&o.get_output().stdout).into_owned();
    let looked = dir.path().canonicalize().unwrap().join("workloads");
    assert!(
        text.contains(&format!("no workloads directory at {}", looked.display())),
        "{text}"
    );
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

fn interrupt(pid: u32) {
    let killed = StdCommand::new("kill")
        .args(["-INT", &pid.to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
}

/// Waits for `child` up to `limit`; kills it and fails when it is still running.
fn exits_within(mut child: std::process::Child, limit: Duration) -> std::process::Output {
    let start = Instant::now();
    while child.try_wait().unwrap().is_none() {
        if start.elapsed() > limit {
            child.kill().unwrap();
            panic!("lab was still running {limit:?} after Ctrl-C");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    child.wait_with_output().unwrap()
}

#[test]
fn ctrl_c_stops_the_load_too() {
    let dir = tempfile::tempdir().unwrap();
    // A billion records: loading alone would take hours (noop stores nothing, so the
    // memory check lets it through).
    let w = workload(
        dir.path(),
        "load.toml",
        &noop("load", "ops = 10").replace("records = 10", "records = 1_000_000_000"),
    );
    let out = dir.path().join("out");
    let child = StdCommand::new(env!("CARGO_BIN_EXE_lab"))
        .args(["run", w.to_str().unwrap(), "--quiet", "--out"])
        .arg(&out)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let started = Instant::now();
    while !catches_sigint(child.id()) {
        assert!(started.elapsed().as_secs() < 30, "no Ctrl-C handler");
        std::thread::sleep(Duration::from_millis(20));
    }
    std::thread::sleep(Duration::from_millis(300));
    interrupt(child.id());
    let o = exits_within(child, Duration::from_secs(15));
    assert_eq!(
        o.status.code(),
        Some(130),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let r = Results::load(&out.join("results.json")).unwrap();
    assert!(r.partial && r.runs.is_empty() && r.summaries.is_empty());
}

#[test]
fn partial_results_hold_only_finished_phases_and_are_not_graded() {
    let dir = tempfile::tempdir().unwrap();
    let w = workload(
        dir.path(),
        "long.toml",
        &format!(
            "{}[[target]]\nname = \"easy\"\nmetric = \"throughput\"\nexpect = \"> 1 ops/s\"\n",
            noop("long", "duration = \"1s\"").replace("repeats = 1", "repeats = 30")
        ),
    );
    let out = dir.path().join("out");
    let mut child = StdCommand::new(env!("CARGO_BIN_EXE_lab"))
        .args(["run", w.to_str().unwrap(), "--out"])
        .arg(&out)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Progress lines on stderr (not a terminal): interrupt once the first phase finished.
    let mut err = BufReader::new(child.stderr.take().unwrap());
    let mut line = String::new();
    while !line.contains("ops/s") {
        line.clear();
        assert!(err.read_line(&mut line).unwrap() > 0, "lab ended early");
    }
    interrupt(child.id());
    let o = exits_within(child, Duration::from_secs(15));
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert_eq!(o.status.code(), Some(130), "{stdout}");
    let r = Results::load(&out.join("results.json")).unwrap();
    assert!(r.partial);
    assert!(!r.runs.is_empty() && r.runs.len() < 30, "{}", r.runs.len());
    for run in &r.runs {
        // A finished phase ran its whole second; the interrupted one is not kept.
        assert!(
            run.elapsed_s > 0.95,
            "a cut-short phase was kept: {}",
            run.elapsed_s
        );
    }
    assert!(r.targets.is_empty(), "partial results were graded");
    assert!(
        !stdout.contains("[pass]") && stdout.contains("not judged"),
        "{stdout}"
    );
}

#[test]
fn flamegraphs_are_titled_linked_warned_about_and_leave_no_temp_files() {
    let dir = tempfile::tempdir().unwrap();
    let tmp = dir.path().join("tmp");
    std::fs::create_dir(&tmp).unwrap();
    let fg = |duration: &str, threads: &str| {
        format!(
            "name = \"fg\"\nvariants = [\"btreemap\"]\n[dataset]\nrecords = 500\n[run]\nthreads = {threads}\nduration = \"{duration}\"\nwarmup = \"0s\"\nrepeats = 1\nmode = \"sequential\"\n[mix]\nread = 100\n"
        )
    };
    let w = workload(dir.path(), "fg.toml", &fg("400ms", "[1, 2]"));
    let out = dir.path().join("out");
    lab()
        .env("TMPDIR", &tmp)
        .args([
            "run",
            w.to_str().unwrap(),
            "--quiet",
            "--flamegraph",
            "--out",
        ])
        .arg(&out)
        .assert()
        .success();
    let svg = std::fs::read_to_string(out.join("flamegraph-btreemap-2t.svg")).unwrap();
    assert!(
        svg.contains("fg: btreemap, 2 threads"),
        "untitled flamegraph"
    );
    let html = std::fs::read_to_string(out.join("index.html")).unwrap();
    for t in [1, 2] {
        assert!(html.contains(&format!("href=\"flamegraph-btreemap-{t}t.svg\"")));
    }
    assert!(
        html.contains(">fg: btreemap, 1 thread</a>"),
        "link not titled"
    );
    // pprof's sample file went into a directory of ours, removed at the end.
    let left: Vec<_> = std::fs::read_dir(&tmp)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert!(left.is_empty(), "temp files left behind: {left:?}");
    // A 20 ms phase has too few samples to read (or none), whatever the timer: a warning,
    // on stderr and in the report.
    let short = workload(dir.path(), "short.toml", &fg("20ms", "1"));
    let o = lab()
        .args([
            "run",
            short.to_str().unwrap(),
            "--quiet",
            "--flamegraph",
            "--out",
        ])
        .arg(dir.path().join("short"))
        .assert()
        .success();
    let err = String::from_utf8_lossy(&o.get_output().stderr).into_owned();
    assert!(
        err.contains("warning: flamegraph") && err.contains("samples"),
        "{err}"
    );
    let html = std::fs::read_to_string(dir.path().join("short").join("index.html")).unwrap();
    assert!(
        html.contains("samples"),
        "the report does not warn about the samples"
    );
    // Parallel mode cannot profile (one profiler per process): it says so, before running.
    let par = workload(
        dir.path(),
        "par.toml",
        &noop("par", "ops = 10\nmode = \"parallel\""),
    );
    lab()
        .args([
            "run",
            par.to_str().unwrap(),
            "--quiet",
            "--flamegraph",
            "--out",
        ])
        .arg(dir.path().join("par"))
        .assert()
        .success()
        .stderr(predicate::str::contains(
            "warning: --flamegraph does not apply to par (parallel mode",
        ));
    let html = std::fs::read_to_string(dir.path().join("par").join("index.html")).unwrap();
    assert!(html.contains("--flamegraph does not apply"));
}

#[test]
fn a_second_lab_on_a_held_output_directory_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    std::fs::create_dir(&out).unwrap();
    // This process holds the directory as a running lab would (an OS lock: the child
    // process sees it held).
    let held = acorn_lab::output::OutputLock::acquire(&out).unwrap();
    let w = workload(dir.path(), "w.toml", &noop("held", "ops = 10"));
    lab()
        .args(["run", w.to_str().unwrap(), "--quiet", "--out"])
        .arg(&out)
        .assert()
        .code(2)
        .stderr(
            predicate::str::contains(out.display().to_string())
                .and(predicate::str::contains(format!(
                    "process {}",
                    std::process::id()
                )))
                .and(predicate::str::contains("--out")),
        );
    assert!(
        !out.join("results.json").exists(),
        "the refused run wrote results"
    );
    drop(held);
    // Released (as when the holder exits): the same run now goes through.
    lab()
        .args(["run", w.to_str().unwrap(), "--quiet", "--out"])
        .arg(&out)
        .assert()
        .success();
    Results::load(&out.join("results.json")).unwrap();
}

#[test]
fn two_labs_started_together_on_one_directory_never_both_write() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    // Long enough that the two runs overlap whatever the order they start in.
    let w = workload(dir.path(), "w.toml", &noop("race", "duration = \"2s\""));
    let start = || {
        StdCommand::new(env!("CARGO_BIN_EXE_lab"))
            .args(["run", w.to_str().unwrap(), "--quiet", "--out"])
            .arg(&out)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap()
    };
    let (a, b) = (start(), start());
    let codes: Vec<i32> = [a, b]
        .into_iter()
        .map(|c| {
            exits_within(c, Duration::from_secs(60))
                .status
                .code()
                .unwrap()
        })
        .collect();
    let mut sorted = codes.clone();
    sorted.sort_unstable();
    assert_eq!(
        sorted,
        [0, 2],
        "exactly one of the two runs must be refused: {codes:?}"
    );
}

#[test]
fn a_run_killed_at_any_moment_leaves_no_results_file_that_compare_accepts_half_written() {
    let dir = tempfile::tempdir().unwrap();
    let w = workload(
        dir.path(),
        "w.toml",
        &noop("killed", "ops = 20000\nthreads = [1, 2]"),
    );
    let lab_bin = env!("CARGO_BIN_EXE_lab");
    let run = |out: &Path| {
        StdCommand::new(lab_bin)
            .args(["run", w.to_str().unwrap(), "--quiet", "--out"])
            .arg(out)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap()
    };
    // How long a whole run takes here; the kills land from its middle to past its end,
    // where results are written.
    let started = Instant::now();
    let full = run(&dir.path().join("timed")).wait().unwrap();
    assert!(full.success());
    let whole = started.elapsed();
    for (i, percent) in [40u32, 70, 85, 92, 96, 100, 104, 110]
        .into_iter()
        .enumerate()
    {
        let out = dir.path().join(format!("out{i}"));
        let mut child = run(&out);
        std::thread::sleep(whole * percent / 100);
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();
        let results = out.join("results.json");
        if results.exists() {
            Results::load(&results)
                .unwrap_or_else(|e| panic!("a kill at {percent}% of a run left a bad file: {e}"));
        }
        // A later run in the same directory goes through and sweeps the temporary files a
        // killed write left.
        lab()
            .args(["run", w.to_str().unwrap(), "--quiet", "--out"])
            .arg(&out)
            .assert()
            .success();
        let leftovers: Vec<String> = std::fs::read_dir(&out)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| n.ends_with(".lab-tmp"))
            .collect();
        assert!(leftovers.is_empty(), "temporary files left: {leftovers:?}");
    }
}
