//! `lab ab` end to end on the `synthetic` backend: the same build against itself, a planted
//! slowdown (the candidate's reads do extra work through `LAB_SYNTHETIC_READ_WORK`; the
//! baseline is a wrapper script that runs the same lab without it) with the untouched
//! variant beside it, and every way a baseline can be unusable.
//!
//! No assertion depends on how fast or quiet this machine is: the planted slowdown makes
//! reads several times slower, and the thresholds leave the untouched variant a margin of
//! 25%. The statistic's own rates (3% found, A/A false alarms) are checked by
//! scripts/ab_check.sh and recorded in docs/ab.md, not here.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::text;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use acorn_reports::ab::AbResults;
use acorn_reports::paired::Verdict;

const LAB: &str = env!("CARGO_BIN_EXE_lab");

/// A small read-only workload of the fixture and the store it wraps.
const WORKLOAD: &str = "name = \"ab-test\"\ndescription = \"lab ab end to end\"\n\
    variants = [\"synthetic\", \"btreemap\"]\n[dataset]\nrecords = 2000\n\
    doc = { fields = 2, field_bytes = 10 }\n[run]\nthreads = 1\nduration = \"1s\"\n\
    warmup = \"50ms\"\n[mix]\nread = 100\n";

struct Setup {
    dir: tempfile::TempDir,
}

impl Setup {
    fn new() -> Setup {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("w.toml"), WORKLOAD).unwrap();
        Setup { dir }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// An executable script `name` with `body` after the shebang.
    fn script(&self, name: &str, body: &str) -> PathBuf {
        let path = self.path(name);
        std::fs::write(&path, format!("#!/bin/sh\n{body}\n")).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
        path
    }

    /// The same lab, with reads of `synthetic` doing no extra work.
    fn plain_baseline(&self) -> PathBuf {
        self.script(
            "baseline.sh",
            &format!("LAB_SYNTHETIC_READ_WORK=0 exec {LAB} \"$@\""),
        )
    }

    /// `lab ab` with a quick schedule, the candidate's reads doing `work` extra rounds.
    fn ab(&self, baseline: &Path, work: u64, extra: &[&str]) -> Output {
        let quick = [
            "--slices",
            "12",
            "--processes",
            "2",
            "--slice-duration",
            "10ms",
        ];
        let args: Vec<&str> = quick
            .into_iter()
            .chain(["--threshold", "25%", "--quiet"])
            .chain(extra.iter().copied())
            .collect();
        self.ab_with(baseline, work, &args)
    }

    /// `lab ab FILE --baseline BASELINE ARGS --out DIR`.
    fn ab_with(&self, baseline: &Path, work: u64, args: &[&str]) -> Output {
        Command::new(LAB)
            .arg("ab")
            .arg(self.path("w.toml"))
            .arg("--baseline")
            .arg(baseline)
            .args(args)
            .arg("--out")
            .arg(self.path("out"))
            .env("LAB_SYNTHETIC_READ_WORK", work.to_string())
            .output()
            .unwrap()
    }
}

/// The line `lab ab` printed for `variant`.
fn line<'a>(o: &'a str, variant: &str) -> &'a str {
    o.lines()
        .find(|l| l.starts_with(&format!("{variant}: candidate/baseline ")))
        .unwrap_or_else(|| panic!("no line for {variant}:\n{o}"))
}

#[test]
fn a_planted_slowdown_is_a_regression_and_the_untouched_variant_is_not() {
    let s = Setup::new();
    let json = s.path("pairs.json");
    let o = s.ab(
        &s.plain_baseline(),
        20_000,
        &["--json", json.to_str().unwrap()],
    );
    let out = text(&o);
    assert_eq!(o.status.code(), Some(1), "a regression exits 1:\n{out}");
    assert!(line(&out, "synthetic").ends_with("] regression"), "{out}");
    assert!(line(&out, "btreemap").ends_with("] no difference"), "{out}");
    assert!(
        out.contains("regressions 1, improvements 0, no difference 1"),
        "{out}"
    );

    let r = AbResults::load(&json).unwrap();
    assert_eq!(r, AbResults::load(&s.path("out/ab.json")).unwrap());
    let c = &r.comparisons[0];
    assert_eq!(
        (c.variant.as_str(), c.verdict),
        ("synthetic", Some(Verdict::Regression))
    );
    let ratio = c.ratio.unwrap();
    assert!(ratio.hi < 0.75, "reads with 20,000 extra rounds: {ratio:?}");
    assert_eq!((c.pairs.len(), ratio.processes), (12, 2));
    // Both sides ran the same slices, taking turns in the paired order.
    for (i, p) in c.pairs.iter().enumerate() {
        assert_eq!(p.round, i);
        assert_eq!(p.candidate_first, acorn_reports::paired::forward(i));
        assert_eq!(p.candidate_ops, p.baseline_ops);
        assert_eq!(p.candidate_ops, c.ops_per_slice);
    }
    assert!(
        c.candidate.store.contains("plus 20000 rounds"),
        "{}",
        c.candidate.store
    );
    assert!(
        c.baseline.store.contains("plus 0 rounds"),
        "{}",
        c.baseline.store
    );
    let untouched = &r.comparisons[1];
    assert_eq!(untouched.verdict, Some(Verdict::NoDifference));
    let page = std::fs::read_to_string(s.path("out/index.html")).unwrap();
    assert!(page.contains("<svg") && page.contains("synthetic: candidate&#x2F;baseline"));
}

#[test]
fn the_same_build_against_itself_is_no_difference() {
    let s = Setup::new();
    let o = s.ab(&s.plain_baseline(), 0, &[]);
    let out = text(&o);
    assert_eq!(o.status.code(), Some(0), "{out}");
    for v in ["synthetic", "btreemap"] {
        assert!(line(&out, v).ends_with("] no difference"), "{out}");
    }
    assert!(out.contains("12 pairs of 10.00 ms slices"), "{out}");
}

#[test]
fn a_baseline_from_before_lab_ab_is_bad_input_that_says_so() {
    let s = Setup::new();
    // What an older lab's clap says to `lab worker ...`.
    let old = s.script(
        "old-lab.sh",
        "echo \"error: unrecognized subcommand 'worker'\" >&2\nexit 2",
    );
    let o = s.ab(&old, 0, &[]);
    let out = text(&o);
    assert_eq!(o.status.code(), Some(2), "{out}");
    assert!(
        out.contains("has no `worker` command: it is a lab from before `lab ab`"),
        "{out}"
    );
    assert!(out.contains("old-lab.sh"), "{out}");
}

#[test]
fn unusable_baselines_and_options_are_bad_input_that_names_them() {
    let s = Setup::new();
    let missing = s.path("no-such-lab");
    let o = s.ab(&missing, 0, &[]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        text(&o).contains("--baseline") && text(&o).contains("no-such-lab"),
        "{}",
        text(&o)
    );

    // A baseline whose worker does not know the variant: its own error, exit 2.
    let unknown = s.script(
        "unknown.sh",
        &format!("exec {LAB} worker \"$2\" --variant no-such-variant"),
    );
    let o = s.ab(&unknown, 0, &[]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(text(&o).contains("baseline worker") && text(&o).contains("no-such-variant"));

    // Something that is not a lab at all.
    let echo = s.script("echo.sh", "echo hello");
    let o = s.ab(&echo, 0, &[]);
    assert_ne!(o.status.code(), Some(0), "{}", text(&o));
    assert!(
        text(&o).contains("not a lab worker's reply: \"hello\""),
        "{}",
        text(&o)
    );

    let base = s.plain_baseline();
    for (args, says) in [
        (&["--threshold", "lots"][..], "--threshold"),
        (&["--slices", "3"][..], "--slices"),
        (&["--slice-duration", "1h"][..], "a slice lasts"),
        (&["--variants", "nosuch"][..], "nosuch"),
    ] {
        let o = s.ab_with(&base, 0, args);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {}", text(&o));
        assert!(!text(&o).contains("multiple times"), "{}", text(&o));
        assert!(text(&o).contains(says), "{args:?}: {}", text(&o));
    }
    let open_loop = WORKLOAD.replace("warmup = \"50ms\"", "warmup = \"50ms\"\nrate = 1000");
    std::fs::write(s.path("w.toml"), open_loop).unwrap();
    let o = s.ab(&base, 0, &[]);
    assert_eq!(o.status.code(), Some(2));
    assert!(text(&o).contains("sets `rate` (open loop)"), "{}", text(&o));
}

/// `lab ab` holds its output directory for the whole run, as `lab run` does: while it
/// waits for its baseline, the directory is locked (a second lab writing ab.json there is
/// refused). The baseline here marks that it started, then waits to be let go.
#[test]
fn the_output_directory_stays_locked_while_ab_runs() {
    let s = Setup::new();
    let (started, go) = (s.path("started"), s.path("go"));
    let waits = s.script(
        "waits.sh",
        &format!(
            "touch {}; while [ ! -e {} ]; do sleep 0.02; done; echo hello",
            started.display(),
            go.display()
        ),
    );
    let mut ab = Command::new(LAB)
        .arg("ab")
        .arg(s.path("w.toml"))
        .arg("--baseline")
        .arg(&waits)
        .args(["--quiet", "--out"])
        .arg(s.path("out"))
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    while !started.exists() {
        assert!(
            ab.try_wait().unwrap().is_none(),
            "lab ab ended before its baseline ran"
        );
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    let second = acorn_lab::output::OutputLock::acquire(&s.path("out"));
    std::fs::write(&go, b"").unwrap();
    let status = ab.wait().unwrap();
    assert!(
        second.is_err(),
        "the output directory was free while lab ab ran"
    );
    assert_ne!(status.code(), Some(0), "the baseline was not a lab");
}

/// Several builds per side (`--candidate` and `--baseline` given more than once): pair of
/// processes `k` runs the `k % n`th of each side (each wrapper script logs its name as it
/// starts), and ab.json names them all. Both candidates carry the planted slowdown. Then:
/// a second baseline that is not a lab fails the run, naming it; more builds than pairs of
/// processes, or a missing one, is bad input.
#[test]
fn several_builds_per_side_take_the_pairs_of_processes_in_turn() {
    let s = Setup::new();
    let log = s.path("started.log");
    let wrapper = |name: &str, work: u64| {
        s.script(
            name,
            &format!(
                "echo {name} >> {}\nLAB_SYNTHETIC_READ_WORK={work} exec {LAB} \"$@\"",
                log.display()
            ),
        )
    };
    let candidates = [wrapper("slow-a.sh", 20_000), wrapper("slow-b.sh", 20_000)];
    let (base, other) = (wrapper("base.sh", 0), wrapper("other.sh", 0));
    let json = s.path("pairs.json");
    let path = |p: &Path| p.to_str().unwrap().to_owned();
    let several = |second_baseline: &Path, extra: &[&str]| {
        let mut args = vec!["--variants".to_owned(), "synthetic".to_owned()];
        args.extend(["--json".to_owned(), path(&json)]);
        args.extend(["--baseline".to_owned(), path(second_baseline)]);
        for c in &candidates {
            args.extend(["--candidate".to_owned(), path(c)]);
        }
        args.extend(extra.iter().map(|e| (*e).to_owned()));
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        s.ab(&base, 0, &args)
    };
    let o = several(&other, &[]);
    let out = text(&o);
    assert_eq!(o.status.code(), Some(1), "a regression exits 1:\n{out}");
    assert!(line(&out, "synthetic").ends_with("] regression"), "{out}");
    // Pair 0: the first of each side, the candidate started first; pair 1: the second of
    // each, the baseline first.
    let started = std::fs::read_to_string(&log).unwrap();
    assert_eq!(
        started.lines().collect::<Vec<_>>(),
        ["slow-a.sh", "base.sh", "other.sh", "slow-b.sh"]
    );
    let r = AbResults::load(&json).unwrap();
    let [a, b] = &candidates;
    assert_eq!(r.candidate.command, format!("{}, {}", path(a), path(b)));
    assert_eq!(
        r.baseline.command,
        format!("{}, {}", path(&base), path(&other))
    );
    assert_eq!(r.comparisons[0].ratio.unwrap().processes, 2);

    let echo = s.script("echo.sh", "echo hello");
    let o = several(&echo, &[]);
    assert_ne!(o.status.code(), Some(0), "{}", text(&o));
    assert!(
        text(&o).contains("echo.sh") && text(&o).contains("not a lab worker's reply"),
        "{}",
        text(&o)
    );

    let o = several(&other, &["--candidate", path(&base).as_str()]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(
        text(&o).contains("--candidate given 3 times") && text(&o).contains("1 would never run"),
        "{}",
        text(&o)
    );
    let o = s.ab(&base, 0, &["--candidate", "no-such-candidate"]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(
        text(&o).contains("--candidate no-such-candidate: no such file"),
        "{}",
        text(&o)
    );
}

/// scripts/layouts.sh refuses what it cannot build before it builds anything.
#[test]
fn the_layouts_script_refuses_bad_arguments() {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../scripts/layouts.sh");
    let out = tempfile::tempdir().unwrap();
    let dir = out.path().to_str().unwrap();
    for (args, says) in [
        (&[][..], "usage"),
        (&[dir, "three"][..], "whole numbers"),
        (&[dir, "3", "0"][..], "seed 0 is random"),
    ] {
        let o = Command::new(&script).args(args).output().unwrap();
        let t = text(&o);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {t}");
        assert!(t.contains(says), "{args:?}: {t}");
    }
}
