//! `lab compare` gates on regressions; `lab merge` combines runs that overlapped in time.

use super::*;

#[test]
fn compare_gates_on_regressions_and_merge_combines_runs() {
    let dir = tempfile::tempdir().unwrap();
    let (ra, rb) = two_short_runs(dir.path());
    short_phases_are_undecided(&ra, &rb);
    fixed_phases_are_judged(dir.path(), &ra);
    bad_input_exits_2(dir.path(), &ra, &rb);
    let merged = dir.path().join("merged.json");
    merge_refuses_runs_that_did_not_overlap(&ra, &rb, &merged);
    merge_of_failing_generators_fails_and_adds_up(dir.path(), &merged);
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

/// Runs one short workload (noop and btreemap, 3 repeats) twice, one after the other, and
/// returns the two results files.
fn two_short_runs(dir: &Path) -> (PathBuf, PathBuf) {
    let w = workload(
        dir,
        "w.toml",
        "name = \"w\"\nvariants = [\"noop\", \"btreemap\"]\n[dataset]\nrecords = 10\n[run]\nops = 2000\nwarmup = \"0s\"\nrepeats = 3\n[mix]\nread = 100\n",
    );
    let (a, b) = (dir.join("a"), dir.join("b"));
    for out in [&a, &b] {
        let o = run_quiet(&w, out);
        assert!(o.status.success(), "{}", text(&o));
    }
    (a.join("results.json"), b.join("results.json"))
}

/// Phases of a few milliseconds cannot support a verdict: undecided, exit 0, pointing to
/// `lab ab`, with the summary line last.
fn short_phases_are_undecided(ra: &Path, rb: &Path) {
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
}

/// Fixed 1 s phases (real ones carry this machine's noise): noop steady at 100k beside
/// btreemap at 200k in every repeat, then noop at a third of that; the latencies of
/// every tenth of a phase follow the rate.
fn fixed_phases_are_judged(dir: &Path, ra: &Path) {
    let steady = fixed(ra, dir, 100_000.0, "steady.json");
    let slow_path = fixed(ra, dir, 33_000.0, "slow.json");
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
}

/// `ra` with every run lasting 1 s at `noop` ops/s for noop and 200k for btreemap,
/// written to `dir/name`.
fn fixed(ra: &Path, dir: &Path, noop: f64, name: &str) -> PathBuf {
    let mut r = Results::load(ra).unwrap();
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
    let path = dir.join(name);
    std::fs::write(&path, r.to_json()).unwrap();
    path
}

/// `lab compare BASE NEW EXTRA...` exits `code` and says `said`.
fn judged(base: &Path, new: &Path, extra: &[&str], code: i32, said: &str) {
    let mut args = vec!["compare", base.to_str().unwrap(), new.to_str().unwrap()];
    args.extend(extra);
    let o = lab(&args);
    assert_eq!(o.status.code(), Some(code), "{}", text(&o));
    assert!(text(&o).contains(said), "{}", text(&o));
}

/// Bad input: a broken file and a bad threshold.
fn bad_input_exits_2(dir: &Path, ra: &Path, rb: &Path) {
    std::fs::write(dir.join("broken.json"), "{ nope").unwrap();
    let o = lab(&[
        "compare",
        ra.to_str().unwrap(),
        dir.join("broken.json").to_str().unwrap(),
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
}

/// Merge: generators that ran one after the other are refused; so is one file given twice.
fn merge_refuses_runs_that_did_not_overlap(ra: &Path, rb: &Path, merged: &Path) {
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
}

/// Two generators that ran at the same time add up, one run per repeat. With a target none
/// can meet, each run exits 1, and so does the merge.
fn merge_of_failing_generators_fails_and_adds_up(dir: &Path, merged: &Path) {
    let slow = workload(
        dir,
        "slow.toml",
        "name = \"w\"\nvariants = [\"noop\"]\n[dataset]\nrecords = 10\n[run]\nduration = \"300ms\"\nwarmup = \"0s\"\nrepeats = 2\n[mix]\nread = 100\n[[target]]\nname = \"Impossible\"\nmetric = \"read.throughput\"\nvariant = \"noop\"\nexpect = \"> 1000G ops/s\"\n",
    );
    let (c, d) = (dir.join("c"), dir.join("d"));
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
    let m = Results::load(merged).unwrap();
    let (one, two) = (Results::load(&rc).unwrap(), Results::load(&rd).unwrap());
    assert_eq!((m.runs.len(), m.generators), (2, 2));
    assert_eq!(
        m.summaries[0].per_op["read"].count,
        one.summaries[0].per_op["read"].count + two.summaries[0].per_op["read"].count
    );
}
