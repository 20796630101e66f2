//! Every exit code of the table in `lab --help`, with messages that name the file.

use super::*;

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
    let o = run_quiet(&ok, &out);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert!(text(&o).contains("[pass] fast"));
    let o = run_quiet(&miss, &out);
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
    let o = run_quiet(&w, &out);
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
    let o = run_quiet(&w, &out);
    assert_eq!(o.status.code(), Some(4), "{}", text(&o));
    assert!(text(&o).contains("cannot write"), "{}", text(&o));
    let merged = file.join("merged.json");
    let results = dir.path().join("r.json");
    let o = run_quiet(&w, dir.path());
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
