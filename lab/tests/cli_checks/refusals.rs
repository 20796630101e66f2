//! What `lab` refuses before running anything: a name that is a path, an unwritable output,
//! two workloads in one directory, a dataset too big for memory, a `rate` too low, a bad
//! `--variants` list.

use super::*;

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
