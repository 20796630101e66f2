//! One output directory, one `lab`: a second is refused, and a killed run never leaves a
//! half-written results file.

use super::*;

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
