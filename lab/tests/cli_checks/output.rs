//! What `lab` prints and writes: progress without a terminal, help, `lab list`, flamegraphs.

use super::*;

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

#[test]
fn flamegraphs_are_titled_linked_warned_about_and_leave_no_temp_files() {
    let dir = tempfile::tempdir().unwrap();
    flamegraphs_are_titled_linked_and_leave_no_temp_files(dir.path());
    a_short_phase_warns_about_its_samples(dir.path());
    parallel_mode_says_it_cannot_profile(dir.path());
}

/// A flamegraph workload over btreemap: `duration` per phase, `threads` as written.
fn fg(duration: &str, threads: &str) -> String {
    format!(
        "name = \"fg\"\nvariants = [\"btreemap\"]\n[dataset]\nrecords = 500\n[run]\nthreads = {threads}\nduration = \"{duration}\"\nwarmup = \"0s\"\nrepeats = 1\nmode = \"sequential\"\n[mix]\nread = 100\n"
    )
}

/// One flamegraph per thread count, titled and linked from the report; pprof's sample file
/// went into a directory of ours, removed at the end.
fn flamegraphs_are_titled_linked_and_leave_no_temp_files(dir: &Path) {
    let tmp = dir.join("tmp");
    std::fs::create_dir(&tmp).unwrap();
    let w = workload(dir, "fg.toml", &fg("400ms", "[1, 2]"));
    let out = dir.join("out");
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
    let left: Vec<_> = std::fs::read_dir(&tmp)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert!(left.is_empty(), "temp files left behind: {left:?}");
}

/// A 20 ms phase has too few samples to read (or none), whatever the timer: a warning, on
/// stderr and in the report.
fn a_short_phase_warns_about_its_samples(dir: &Path) {
    let short = workload(dir, "short.toml", &fg("20ms", "1"));
    let o = lab()
        .args([
            "run",
            short.to_str().unwrap(),
            "--quiet",
            "--flamegraph",
            "--out",
        ])
        .arg(dir.join("short"))
        .assert()
        .success();
    let err = String::from_utf8_lossy(&o.get_output().stderr).into_owned();
    assert!(
        err.contains("warning: flamegraph") && err.contains("samples"),
        "{err}"
    );
    let html = std::fs::read_to_string(dir.join("short").join("index.html")).unwrap();
    assert!(
        html.contains("samples"),
        "the report does not warn about the samples"
    );
}

/// Parallel mode cannot profile (one profiler per process): it says so, before running.
fn parallel_mode_says_it_cannot_profile(dir: &Path) {
    let par = workload(
        dir,
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
        .arg(dir.join("par"))
        .assert()
        .success()
        .stderr(predicate::str::contains(
            "warning: --flamegraph does not apply to par (parallel mode",
        ));
    let html = std::fs::read_to_string(dir.join("par").join("index.html")).unwrap();
    assert!(html.contains("--flamegraph does not apply"));
}
