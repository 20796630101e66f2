//! Workload files: every shipped file validates; every kind of bad input gets an error that
//! names the file, line:column and key and says what is allowed.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;

use std::sync::Arc;

use acorn_lab::backend::{CachePolicy, QueryOrder};
use acorn_lab::doc::{DocShape, ValueShape};
use acorn_lab::workload::{Bound, KeySpace, Mode, Op, OpKind, OpStream, Plan, WorkloadError};

const MINIMAL: &str = "name = \"t\"\n[dataset]\nrecords = 100\n[mix]\nread = 100\n";

fn err(src: &str) -> WorkloadError {
    Plan::parse(Path::new("bad.toml"), src).expect_err("should be rejected")
}

/// Every workload file shipped in `workloads/`, parsed.
fn shipped() -> Vec<(std::path::PathBuf, Plan)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../workloads");
    let mut plans = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "toml") {
            let plan = Plan::load(&path).unwrap_or_else(|e| panic!("{e}"));
            plans.push((path, plan));
        }
    }
    plans
}

#[test]
fn every_shipped_workload_validates() {
    let plans = shipped();
    for (path, plan) in &plans {
        assert!(
            !plan.description.is_empty(),
            "{} has no description",
            path.display()
        );
    }
    assert!(plans.len() >= 21, "only {} workload files", plans.len());
}

/// `results.json` records each plan as the typed `RunPlan`, in the same JSON as the plan
/// itself serializes to (what every older lab wrote), and it reads back unchanged.
#[test]
fn every_shipped_plan_is_recorded_typed_in_the_json_older_labs_wrote() {
    for (path, plan) in shipped() {
        let record = plan.record();
        let typed = serde_json::to_value(&record).unwrap();
        let flat = serde_json::to_value(&plan).unwrap();
        assert_eq!(typed, flat, "{}", path.display());
        assert!(record.other.is_empty(), "{}", path.display());
        let back: acorn_reports::plan::RunPlan = serde_json::from_value(typed).unwrap();
        assert_eq!(back, record, "{}", path.display());
    }
}

/// The memory check must not refuse what we ship: `batch` was refused (44 GB: the lab
/// guessed 20M inserts for a timed run of 1000-document batches) on a 24 GB machine.
#[test]
fn every_shipped_workload_fits_the_memory_check_of_a_small_machine() {
    for (path, plan) in shipped() {
        let estimate = acorn_lab::budget::Estimate::of(&plan, plan.variants.len());
        assert!(estimate.bytes() < 4 << 30, "{}: {estimate}", path.display());
    }
}

#[test]
fn a_timed_run_that_inserts_counts_only_what_its_file_declares() {
    let timed =
        "name = \"t\"\n[dataset]\nrecords = 1000\n[run]\nduration = \"1s\"\n[mix]\nbatch = 100\n";
    let plan = Plan::parse(Path::new("t.toml"), timed).unwrap();
    let e = acorn_lab::budget::Estimate::of(&plan, 1);
    assert_eq!(e.inserts, 0);
    assert!(e.to_string().contains("unknown before running"), "{e}");
    let declared = format!("{timed}[distribution]\nkind = \"uniform\"\nexpected_inserts = 5000\n");
    let plan = Plan::parse(Path::new("t.toml"), &declared).unwrap();
    assert_eq!(acorn_lab::budget::Estimate::of(&plan, 1).inserts, 5000);
}

#[test]
fn defaults_fill_everything_but_name_records_and_mix() {
    let p = Plan::parse(Path::new("min.toml"), MINIMAL).unwrap();
    assert_eq!(p.variants, ["plain", "cached", "pooled", "binary"]);
    assert_eq!(p.run.threads, [1]);
    assert_eq!(
        p.run.bound,
        Bound::Duration(std::time::Duration::from_secs(5))
    );
    assert_eq!(
        (p.run.repeats, p.run.seed, p.run.mode, p.run.rate),
        (3, 42, Mode::Interleaved, None)
    );
    assert_eq!(p.mix.0, [(OpKind::Read, 100)]);
    assert_eq!(p.dataset.value, ValueShape::Doc(DocShape::default()));
    assert_eq!(
        (p.cache.policy, p.cache.capacity),
        (CachePolicy::WriteThrough, 10_000)
    );
}

#[test]
fn opaque_values_cache_settings_and_their_queries() {
    let opaque = MINIMAL.replace("records = 100", "records = 100\nvalue = { bytes = 64 }");
    let p = Plan::parse(Path::new("o.toml"), &opaque).unwrap();
    assert_eq!(p.dataset.value, ValueShape::Bytes(64));
    // Opaque values have no fields: the default query pages in key order, unfiltered.
    assert_eq!((p.query.min_value, p.query.order), (None, QueryOrder::Key));
    let src = format!("{MINIMAL}[cache]\npolicy = \"invalidate\"\ncapacity = 500\n");
    let p = Plan::parse(Path::new("c.toml"), &src).unwrap();
    assert_eq!(
        (p.cache.policy, p.cache.capacity),
        (CachePolicy::Invalidate, 500)
    );
    let src = format!("{MINIMAL}[run]\ncache_capacity = 7\n");
    let p = Plan::parse(Path::new("c.toml"), &src).unwrap();
    assert_eq!(p.cache.capacity, 7, "the older spelling still works");
    let cases = [
        (
            "[dataset]\nrecords = 10\nvalue = { bytes = 0 }".to_owned(),
            "dataset.value.bytes",
            "between 1",
        ),
        (
            "[dataset]\nrecords = 10\ndoc = { fields = 2 }\nvalue = { bytes = 8 }".to_owned(),
            "dataset.value",
            "not both",
        ),
        (
            format!("{opaque}[query]\nmin_value = 3\n"),
            "query.min_value",
            "no fields",
        ),
        (
            format!("{opaque}[query]\norder = \"newest\"\n"),
            "query.order",
            "\"key\"",
        ),
        (
            format!("{MINIMAL}[cache]\npolicy = \"write-back\"\n"),
            "cache.policy",
            "write-through, invalidate",
        ),
        (
            format!("{MINIMAL}[cache]\ncapacity = 0\n"),
            "cache.capacity",
            "between 1",
        ),
        (
            format!("{MINIMAL}[run]\ncache_capacity = 5\n[cache]\ncapacity = 6\n"),
            "cache.capacity",
            "keep one",
        ),
    ];
    for (src, key, says) in cases {
        let src = if src.starts_with("[dataset]") {
            format!("name = \"t\"\n{src}\n[mix]\nread = 100\n")
        } else {
            src
        };
        let e = err(&src);
        assert_eq!(e.key, key, "{src}: {e}");
        assert!(e.message.contains(says), "{src}: {e}");
        assert!(e.line > 1, "{src}: {e}");
    }
}

#[test]
fn unknown_keys_are_named_with_a_suggestion() {
    let e = err("name = \"t\"\n[dataset]\nrecrods = 100\n[mix]\nread = 100\n");
    assert_eq!((e.line, e.column), (3, 1), "{e}");
    assert_eq!(e.key, "recrods");
    assert!(e.message.contains("Did you mean `records`?"), "{e}");
    assert!(e.to_string().starts_with("bad.toml:3:1: `recrods`:"), "{e}");
}

#[test]
fn wrong_types_point_at_the_value() {
    let e = err("name = \"t\"\n[dataset]\nrecords = \"many\"\n[mix]\nread = 100\n");
    assert_eq!(e.line, 3, "{e}");
    assert_eq!(e.key, "records");
}

#[test]
fn mix_weights_must_sum_to_100() {
    let e = err("name = \"t\"\n[dataset]\nrecords = 10\n[mix]\nread = 70\nupdate = 20\n");
    assert!(e.message.contains("sum to 90"), "{e}");
    assert_eq!(e.key, "mix");
    let e = err("name = \"t\"\n[dataset]\nrecords = 10\n[mix]\nraed = 100\n");
    assert!(e.message.contains("Did you mean `read`?"), "{e}");
    assert_eq!((e.line, e.key.as_str()), (5, "mix.raed"));
}

#[test]
fn unknown_variants_list_the_registered_ones() {
    let e = err(&format!("variants = [\"plain\", \"redbb\"]\n{MINIMAL}"));
    assert_eq!((e.line, e.column), (1, 22), "{e}");
    assert!(
        e.message.contains("Did you mean `redb`?") && e.message.contains("sqlite"),
        "{e}"
    );
}

#[test]
fn sizes_durations_rates_and_modes_are_checked() {
    let cases = [
        ("[dataset]\nrecords = 0", "dataset.records", "between 1"),
        ("[dataset]\nrecords = -5", "dataset.records", "between 1"),
        ("[run]\nduration = \"10\"", "run.duration", "needs a unit"),
        ("[run]\nwarmup = \"soon\"", "run.warmup", "not a duration"),
        ("[run]\nrate = -3.0", "run.rate", "not a possible rate"),
        ("[run]\nrate = 1e12", "run.rate", "not a possible rate"),
        ("[run]\nmode = \"chaotic\"", "run.mode", "interleaved"),
        (
            "[run]\nin_flight = 0",
            "run.in_flight",
            "between 1 and 100000",
        ),
        (
            "[run]\nin_flight = 8\nrate = 1000.0",
            "run.in_flight",
            "closed loop",
        ),
        (
            "[run]\nthreads = [1, 0]",
            "run.threads",
            "between 1 and 1024",
        ),
        (
            "[run]\nduration = \"1s\"\nops = 5",
            "run.duration",
            "not both",
        ),
        (
            "[distribution]\nkind = \"zipfian\"\ntheta = 1.5",
            "distribution.theta",
            "between 0 and 1",
        ),
        (
            "[distribution]\nkind = \"gaussian\"",
            "distribution.kind",
            "zipfian",
        ),
        (
            "[dataset]\nrecords = 100\nkey = { width = 0 }",
            "dataset.key.width",
            "between 1",
        ),
        (
            "[dataset]\nrecords = 100\nkey = { order = \"random\" }",
            "dataset.key.order",
            "hashed, ordered",
        ),
        (
            "[run]\nscan_length_distribution = \"normal\"",
            "run.scan_length_distribution",
            "uniform, fixed, zipfian",
        ),
        (
            "[run]\nscan_length = 10\nmin_scan_length = 20",
            "run.min_scan_length",
            "longer than",
        ),
    ];
    for (snippet, key, says) in cases {
        // Put the snippet's table in place of (or beside) the minimal file's.
        let src = if snippet.starts_with("[dataset]") {
            format!("name = \"t\"\n{snippet}\n[mix]\nread = 100\n")
        } else {
            format!("{MINIMAL}{snippet}\n")
        };
        let e = err(&src);
        assert_eq!(e.key, key, "{snippet}: {e}");
        assert!(e.message.contains(says), "{snippet}: {e}");
        assert!(e.line > 1, "{snippet}: {e}");
    }
}

#[test]
fn targets_must_name_known_metrics_units_and_variants() {
    let t = |metric: &str, expect: &str, variant: &str| {
        err(&format!("{MINIMAL}[[target]]\nname = \"x\"\nmetric = \"{metric}\"\nexpect = \"{expect}\"\nvariant = \"{variant}\"\n"))
    };
    assert!(t("latency", "< 1 ms", "plain")
        .message
        .contains("unknown metric"));
    assert!(t("read.p99", "> 1M ops/s", "plain")
        .message
        .contains("a time"));
    assert!(t("read.p99", "soon", "plain")
        .message
        .contains("comparison"));
    assert!(t("read.p99", "< 1 ms", "redb")
        .message
        .contains("does not run"));
}

#[test]
fn empty_non_utf8_and_missing_files_are_clear_errors() {
    assert!(err("   \n").message.contains("empty"));
    let dir = tempfile::tempdir().unwrap();
    let bin = dir.path().join("bin.toml");
    std::fs::write(&bin, b"name = \"t\"\n\xff\xfe").unwrap();
    let e = Plan::load(&bin).unwrap_err();
    assert_eq!(e.line, 2, "{e}");
    assert!(e.message.contains("UTF-8"), "{e}");
    let e = Plan::load(&dir.path().join("missing.toml")).unwrap_err();
    assert!(e.message.contains("cannot read"), "{e}");
}

#[test]
fn the_op_stream_depends_only_on_seed_and_thread() {
    let src = format!("{MINIMAL}[distribution]\nkind = \"zipfian\"\n")
        .replace("read = 100", "read = 50\nupdate = 30\ninsert = 20");
    let plan = Plan::parse(Path::new("s.toml"), &src).unwrap();
    let spec = plan.stream_spec();
    let run = |thread: usize, space: &Arc<KeySpace>| -> Vec<Op> {
        let mut s = OpStream::new(&spec, thread, 2, Arc::clone(space));
        (0..1000)
            .map(|_| {
                let op = s.next().unwrap();
                s.done(&op);
                op
            })
            .collect()
    };
    let fresh = || Arc::new(KeySpace::measured(plan.dataset.records));
    let a = run(0, &fresh());
    let b = run(0, &fresh());
    assert_eq!(a, b);
    // Threads of one phase share the key space: their inserts never collide.
    let shared = fresh();
    let (first, other) = (run(0, &shared), run(1, &shared));
    assert_ne!(first, other);
    let ids = |v: &[Op]| {
        v.iter()
            .filter(|o| o.kind == OpKind::Insert)
            .map(|o| o.id)
            .collect::<std::collections::BTreeSet<_>>()
    };
    assert!(ids(&first).is_disjoint(&ids(&other)));
    assert_eq!(
        ids(&first).len() + ids(&other).len(),
        (shared.inserted_ids().end - 100) as usize
    );
    let reads = a.iter().filter(|o| o.kind == OpKind::Read).count();
    assert!((400..600).contains(&reads), "{reads}");
}

/// The keys allowed in one table, as the validator lists them for an unknown key.
fn allowed(src: &str) -> Vec<String> {
    let e = err(src);
    let list = e
        .message
        .split("allowed here: ")
        .nth(1)
        .unwrap_or_else(|| panic!("{e}"));
    let list = list.split(". Did you mean").next().unwrap();
    list.split(", ").map(str::to_owned).collect()
}

#[test]
fn the_workload_reference_describes_every_key_and_its_examples_validate() {
    let doc =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/workloads.md"))
            .unwrap();
    let tables = [
        ("", "name = \"t\"\nzzz = 1\n[dataset]\nrecords = 1\n[mix]\nread = 100\n"),
        ("", "name = \"t\"\n[dataset]\nrecords = 1\nzzz = 1\n[mix]\nread = 100\n"),
        ("key.", "name = \"t\"\n[dataset]\nrecords = 1\nkey = { zzz = 1 }\n[mix]\nread = 100\n"),
        ("doc.", "name = \"t\"\n[dataset]\nrecords = 1\ndoc = { zzz = 1 }\n[mix]\nread = 100\n"),
        ("", "name = \"t\"\n[dataset]\nrecords = 1\n[run]\nzzz = 1\n[mix]\nread = 100\n"),
        ("", "name = \"t\"\n[dataset]\nrecords = 1\n[mix]\nread = 100\n[distribution]\nkind = \"uniform\"\nzzz = 1\n"),
        ("", "name = \"t\"\n[dataset]\nrecords = 1\n[mix]\nread = 100\n[query]\nzzz = 1\n"),
        ("", "name = \"t\"\n[dataset]\nrecords = 1\n[mix]\nread = 100\n[cache]\nzzz = 1\n"),
        ("", "name = \"t\"\n[dataset]\nrecords = 1\n[mix]\nread = 100\n[[target]]\nname = \"x\"\nmetric = \"throughput\"\nexpect = \"> 1\"\nzzz = 1\n"),
    ];
    let mut keys = 0;
    for (prefix, src) in tables {
        for key in allowed(src) {
            let row = format!("| `{prefix}{key}` |");
            let heading = format!("## `[{key}]`");
            let targets = key == "target" && doc.contains("## `[[target]]`");
            let subtable = doc.contains(&format!("| `{prefix}{key}."));
            assert!(
                doc.contains(&row) || doc.contains(&heading) || targets || subtable,
                "docs/workloads.md does not describe `{prefix}{key}`"
            );
            keys += 1;
        }
    }
    assert!(keys >= 35, "only {keys} keys");
    for op in OpKind::ALL {
        assert!(
            doc.contains(&format!("| `{}` |", op.name())),
            "{}",
            op.name()
        );
    }
    // Every example is a whole workload that validates.
    let examples: Vec<&str> = doc
        .split("```toml\n")
        .skip(1)
        .map(|s| s.split("```").next().unwrap())
        .collect();
    assert!(examples.len() >= 9, "{} examples", examples.len());
    for (i, ex) in examples.iter().enumerate() {
        Plan::parse(Path::new(&format!("example-{i}.toml")), ex)
            .unwrap_or_else(|e| panic!("docs/workloads.md example {i}: {e}\n{ex}"));
    }
}

#[test]
fn every_problem_in_a_file_is_reported_at_once_in_file_order() {
    let src = "name = \"t\"\nvariants = [\"plian\"]\n[dataset]\nrecrods = 10\nrecords = 0\n\
               [run]\nthreads = [0]\nwarmup = \"5\"\nduraton = \"1s\"\n[mix]\nread = 50\nupdat = 40\n";
    let e = err(src);
    let found: Vec<(usize, &str)> = e.all().map(|e| (e.line, e.key.as_str())).collect();
    assert_eq!(
        found,
        [
            (2, "variants"),
            (4, "recrods"),
            (5, "dataset.records"),
            (7, "run.threads"),
            (8, "run.warmup"),
            (9, "duraton"),
            (10, "mix"),
            (12, "mix.updat"),
        ],
        "{e}"
    );
    assert_eq!(e.count(), 8);
    // One line per problem, each in the `file:line:column: ` form.
    let text = e.to_string();
    assert_eq!(text.lines().count(), 8, "{text}");
    assert!(
        text.lines()
            .skip(1)
            .all(|l| l.starts_with("error: bad.toml:")),
        "{text}"
    );
}

#[test]
fn a_misspelt_required_key_is_one_problem_not_two() {
    let e = err("name = \"t\"\n[dataset]\nrecrods = 100\n[mix]\nread = 100\n");
    assert_eq!(
        e.count(),
        1,
        "the missing `records` is the misspelling's doing: {e}"
    );
    // A key missing for no such reason is still reported.
    let e = err("name = \"t\"\n[dataset]\nrows = 100\n[mix]\nread = 100\n");
    let keys: Vec<&str> = e.all().map(|e| e.key.as_str()).collect();
    assert!(keys.contains(&"rows"), "{e}");
    assert!(e.to_string().contains("missing field `records`"), "{e}");
}
