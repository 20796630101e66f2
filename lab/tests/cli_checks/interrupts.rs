//! Ctrl-C stops a run within a second, loading included, leaving only finished phases.

use super::*;

fn interrupt(pid: u32) {
    let killed = StdCommand::new("kill")
        .args(["-INT", &pid.to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
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
