//! `lab run --measure instructions` end to end, through real valgrind: two runs of one build
//! count exactly the same, a read path made 2% more expensive in one variant is flagged by
//! `lab compare` and nothing else is, and the errors a user can meet say what to do.
//! CI installs valgrind (`.ci/run`); these tests need it.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{lab, lab_with, text};
use std::path::{Path, PathBuf};

use acorn_lab::backend::synthetic::READ_WORK_VAR;
use acorn_reports::counts::PerOp;
use acorn_reports::{Measure, Results};

/// Small enough for a debug build under callgrind: the synthetic variant whose reads we slow
/// down and three it must leave alone (`cached` hashes keys with a randomly seeded ahash:
/// without the lab's fixed random stream under valgrind it counted up to 1.5% differently
/// run to run; redb's seeded `HashMap`s are checked by CI's counted `smoke`), every operation
/// kind but rmw (which reads too, so it would rightly change as well).
const WORKLOAD: &str = r#"
name = "counted"
variants = ["synthetic", "plain", "cached", "noop"]
[dataset]
records = 300
doc = { fields = 2, field_bytes = 10, tags = 1 }
[run]
ops = 150
warmup = "1ms"
batch_size = 4
scan_length = 5
measure = "instructions"
[mix]
read = 50
update = 15
insert = 10
delete = 5
scan = 10
query = 5
batch = 5
[query]
take = 5
"#;

/// Counts the workload (read work `rounds`; all its variants, or `only`) into
/// `dir/<name>`; returns the results file.
fn count(dir: &Path, name: &str, rounds: u64, only: Option<&str>) -> PathBuf {
    let w = dir.join("counted.toml");
    std::fs::write(&w, WORKLOAD).unwrap();
    let out = dir.join(name);
    let mut args = vec!["run", w.to_str().unwrap(), "--quiet", "--out"];
    args.push(out.to_str().unwrap());
    if let Some(v) = only {
        args.extend(["--variants", v]);
    }
    let o = lab_with(&args, &[(READ_WORK_VAR, &rounds.to_string())]);
    assert!(o.status.success(), "{}", text(&o));
    out.join("results.json")
}

fn read_instructions(r: &Results, variant: &str) -> f64 {
    let run = r.instructions.as_ref().unwrap();
    let s = run.variants.iter().find(|s| s.variant == variant).unwrap();
    s.per_op["read"].per_op(PerOp::Instructions)
}

#[test]
fn counts_repeat_exactly_and_two_percent_more_read_work_in_one_variant_is_flagged_alone() {
    let dir = tempfile::tempdir().unwrap();
    let a = count(dir.path(), "a", 0, None);
    let b = count(dir.path(), "b", 0, None);
    let (ra, rb) = (Results::load(&a).unwrap(), Results::load(&b).unwrap());
    assert_eq!(ra.measure, Measure::Instructions);
    let (ca, cb) = (ra.instructions.unwrap(), rb.instructions.unwrap());
    assert_eq!(ca.variants.len(), 4);
    // Repeatable to the instruction, every variant and operation kind.
    for (x, y) in ca.variants.iter().zip(&cb.variants) {
        assert_eq!(x.variant, y.variant);
        assert!(x.per_op.len() >= 7, "{}: {:?}", x.variant, x.per_op.keys());
        for (op, c) in &x.per_op {
            assert!(c.events.instructions > 0, "{} {op}", x.variant);
            assert_eq!(
                c.events.instructions, y.per_op[op].events.instructions,
                "{} {op} counted differently in two runs",
                x.variant
            );
        }
    }
    let o = lab(&[
        "compare",
        a.to_str().unwrap(),
        b.to_str().unwrap(),
        "--threshold",
        "0%",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert!(!text(&o).contains("within threshold"), "{}", text(&o));

    // What one round of read work costs, then 2% of a read in rounds.
    let base = Results::load(&a).unwrap();
    let calibrate = Results::load(&count(dir.path(), "c", 1000, Some("synthetic"))).unwrap();
    let read = read_instructions(&base, "synthetic");
    let per_round = (read_instructions(&calibrate, "synthetic") - read) / 1000.0;
    assert!(per_round > 1.0, "a round costs {per_round} instructions");
    let rounds = (0.02 * read / per_round).ceil() as u64;
    let slower = count(dir.path(), "d", rounds, None);
    let now = Results::load(&slower).unwrap();
    let grew = read_instructions(&now, "synthetic") / read - 1.0;
    assert!((0.019..0.025).contains(&grew), "reads grew {grew}");

    let o = lab(&["compare", a.to_str().unwrap(), slower.to_str().unwrap()]);
    let t = text(&o);
    assert_eq!(o.status.code(), Some(1), "{t}");
    let flagged: Vec<&str> = t.lines().filter(|l| l.contains("REGRESSION")).collect();
    assert!(
        flagged
            .iter()
            .any(|l| l.starts_with("synthetic") && l.contains(" read ")),
        "{t}"
    );
    // Only the slowed variant's reads, and its whole mix (half of it is reads), are flagged.
    for l in &flagged {
        assert!(
            l.starts_with("synthetic") && (l.contains(" read ") || l.contains(" all ")),
            "flagged something else: {l}\n{t}"
        );
    }
    for l in t.lines().filter(|l| !l.starts_with("synthetic")) {
        assert!(!l.contains("REGRESSION") && !l.contains("fewer"), "{l}");
    }
}

/// A counted file after a timed one: valgrind is looked for before anything runs, so the
/// timed run is not wasted (before, it ran and then the counted file failed).
#[test]
fn a_missing_valgrind_is_found_before_any_file_runs() {
    let dir = tempfile::tempdir().unwrap();
    let counted = dir.path().join("counted.toml");
    std::fs::write(
        &counted,
        "name = \"counted\"\n[dataset]\nrecords = 100\n[run]\nmeasure = \"instructions\"\n\
         ops = 10\n[mix]\nread = 100\n",
    )
    .unwrap();
    let out = dir.path().join("o");
    let o = lab_with(
        &[
            "run",
            "workloads/basic.toml",
            counted.to_str().unwrap(),
            "--quick",
            "--quiet",
            "--out",
            out.to_str().unwrap(),
        ],
        &[("PATH", dir.path().to_str().unwrap())],
    );
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(text(&o).contains("counted.toml"), "{}", text(&o));
    assert!(
        !out.join("basic").join("results.json").exists(),
        "basic ran first"
    );
}

#[test]
fn a_missing_valgrind_says_how_to_install_it() {
    let empty = tempfile::tempdir().unwrap();
    let o = lab_with(
        &[
            "run",
            "workloads/smoke.toml",
            "--measure",
            "instructions",
            "--quiet",
            "--out",
            empty.path().join("o").to_str().unwrap(),
        ],
        &[("PATH", empty.path().to_str().unwrap())],
    );
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    let t = text(&o);
    assert!(
        t.contains("valgrind") && t.contains("apt-get install -y valgrind"),
        "{t}"
    );
}

#[test]
fn a_variant_that_cannot_be_counted_is_refused_with_the_reason() {
    let o = lab(&[
        "run",
        "workloads/smoke.toml",
        "--measure",
        "instructions",
        "--variants",
        "plain,redb:durable",
        "--quiet",
    ]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    let t = text(&o);
    assert!(t.contains("redb:durable") && t.contains("fsync"), "{t}");
}

#[test]
fn instruction_counts_and_wall_clock_results_are_not_compared() {
    let dir = tempfile::tempdir().unwrap();
    let fixture =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../reports/tests/fixtures/results.json");
    let mut counted = Results::load(&fixture).unwrap();
    counted.measure = Measure::Instructions;
    counted.instructions = Some(acorn_reports::counts::InstructionRun::default());
    let path = dir.path().join("counted.json");
    std::fs::write(&path, counted.to_json()).unwrap();
    let o = lab(&["compare", fixture.to_str().unwrap(), path.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(
        text(&o).contains("wall-clock") && text(&o).contains("instructions"),
        "{}",
        text(&o)
    );
}

#[test]
fn list_says_which_measures_each_backend_supports() {
    let o = lab(&["list"]);
    assert!(o.status.success());
    let t = text(&o);
    assert!(t.contains("measures: wall-clock, instructions"), "{t}");
    assert!(t.contains("not instructions: it writes to disk"), "{t}");
    assert!(t.contains("background threads"), "{t}");
}
