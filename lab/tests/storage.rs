//! What writes cost the storage (issue 26), checked against stores whose cost is known:
//! `synthetic:durable` fsyncs exactly `SYNCS_PER_COMMIT` times per commit, a memory store
//! never, SQLite in WAL mode with `synchronous=FULL` about once per commit; the recover
//! phase reopens stores from their files. This binary defines the counting sync functions
//! as `lab` does, and its tests run one at a time (the counters are the process's).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::sync::atomic::AtomicBool;
use std::sync::Mutex;

use acorn_lab::backend::synthetic::{BLOCK, SYNCS_PER_COMMIT};
use acorn_lab::runner::clock::RealClock;
use acorn_lab::runner::{run, RunOptions, Silent};
use acorn_lab::workload::Plan;
use acorn_reports::{Results, VariantSummary};

acorn_lab::count_sync_calls!();

/// One test at a time: sync counts are process-wide.
static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

fn run_workload(variants: &str, mix: &str, extra: &str) -> Results {
    let _one = ONE_AT_A_TIME
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let src = format!(
        "name = \"storage\"\nvariants = [{variants}]\n[dataset]\nrecords = 300\n\
         value = {{ bytes = 100 }}\n[run]\nops = 120\nwarmup = \"0s\"\nrepeats = 2\n\
         threads = 1\nmode = \"sequential\"\n{extra}\n[mix]\n{mix}\n"
    );
    let plan = Plan::parse(Path::new("storage.toml"), &src).unwrap();
    let scratch = tempfile::tempdir().unwrap();
    let opts = RunOptions {
        scratch_dir: Some(scratch.path().to_path_buf()),
        pairs: Some(0),
        ..RunOptions::default()
    };
    run(
        &plan,
        &opts,
        &RealClock::default(),
        &AtomicBool::new(false),
        &Silent,
    )
    .unwrap()
}

#[test]
fn a_phase_that_fsyncs_and_writes_is_counted_exactly() {
    use acorn_lab::measure::storage::{disk_usage, Probe};
    use std::io::Write as _;
    let _one = ONE_AT_A_TIME
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let dir = tempfile::tempdir().unwrap();
    let probe = Probe::start(Some(dir.path()), true);
    let mut f = std::fs::File::create(dir.path().join("f")).unwrap();
    for _ in 0..5 {
        f.write_all(&[7u8; 8192]).unwrap();
        f.sync_all().unwrap();
    }
    f.sync_data().unwrap();
    let cost = probe.finish(Some(dir.path()), 10, 5, 1000);
    let syncs = cost.syncs.clone().unwrap();
    assert_eq!(syncs["fsync"], 5, "{syncs:?}");
    assert_eq!(syncs["fdatasync"], 1, "{syncs:?}");
    assert_eq!(cost.syncs_total(), Some(6));
    assert!(cost.wchar.unwrap() >= 5 * 8192, "{cost:?}");
    if cost.not_counted.is_none() {
        // On a disk-backed file system the 40 KiB reached the device.
        assert!(cost.device_write_bytes.unwrap() >= 5 * 8192, "{cost:?}");
    }
    assert!(disk_usage(dir.path()).unwrap() >= 5 * 8192);
}

fn summary<'a>(r: &'a Results, variant: &str) -> &'a VariantSummary {
    r.summaries.iter().find(|s| s.variant == variant).unwrap()
}

#[test]
fn a_backend_that_fsyncs_n_times_per_commit_is_counted_as_n_and_a_memory_one_as_zero() {
    let r = run_workload(
        "\"synthetic:durable\", \"btreemap\"",
        "update = 50\ninsert = 20\ndelete = 10\nread = 20",
        "",
    );
    for run in r.runs.iter().filter(|r| r.variant == "synthetic:durable") {
        let st = run.storage.as_ref().unwrap();
        let syncs = st.syncs.as_ref().unwrap();
        // Every write operation is one commit; reads are none.
        let writes: u64 = ["update", "insert", "delete"]
            .iter()
            .map(|op| run.per_op.get(*op).map_or(0, |o| o.count))
            .sum();
        assert_eq!(st.commits, writes);
        assert!(writes > 50, "{writes}");
        assert_eq!(syncs["fsync"], SYNCS_PER_COMMIT * writes, "{syncs:?}");
        assert_eq!(st.syncs_total(), Some(SYNCS_PER_COMMIT * writes));
        assert_eq!(st.syncs_per_commit(), Some(SYNCS_PER_COMMIT as f64));
        if st.not_counted.is_none() {
            // Each fsync wrote its block back, and the next write dirtied it again.
            let device = st.device_write_bytes.unwrap();
            assert!(
                device >= SYNCS_PER_COMMIT * writes * BLOCK as u64,
                "{device} bytes for {writes} commits"
            );
        }
    }
    let durable = summary(&r, "synthetic:durable").storage.as_ref().unwrap();
    assert_eq!(durable.tier, "fsync-per-commit");
    assert_eq!(durable.tier_mismatch, None);
    assert_eq!(
        durable.phases.syncs_per_commit(),
        Some(SYNCS_PER_COMMIT as f64)
    );
    assert!(durable.disk_after_load.unwrap() >= BLOCK as u64);

    let memory = summary(&r, "btreemap").storage.as_ref().unwrap();
    assert_eq!(memory.tier, "memory");
    assert_eq!(memory.phases.syncs_total(), Some(0));
    assert!(memory.phases.commits > 50);
    assert_eq!(memory.disk_after_load, None);
    assert_eq!(memory.tier_mismatch, None);
    // The terminal table shows both, the durable tier first.
    let table = acorn_reports::table::render(&r);
    let storage = &table[table.find("storage (").unwrap()..];
    let line = |v: &str| {
        storage
            .lines()
            .find(|l| l.starts_with(&format!("{v} ")))
            .unwrap_or_else(|| panic!("no {v} row in {table}"))
    };
    assert!(
        line("synthetic:durable").contains("fsync-per-commit"),
        "{table}"
    );
    assert!(line("synthetic:durable").contains("3.00"), "{table}");
    assert!(line("btreemap").contains("memory"), "{table}");
    assert!(
        storage.find("synthetic:durable") < storage.find("btreemap"),
        "{table}"
    );
}

#[test]
fn sqlite_in_wal_mode_with_synchronous_full_syncs_about_once_per_commit() {
    // Inserts of new keys: every commit changes the file. (SQLite skips the WAL frame, and
    // with it the fsync, of an update that rewrites the bytes already stored.)
    let r = run_workload("\"sqlite:durable\"", "insert = 100", "");
    let st = summary(&r, "sqlite:durable").storage.as_ref().unwrap();
    let per_commit = st.phases.syncs_per_commit().unwrap();
    assert!(
        (0.95..=1.2).contains(&per_commit),
        "{per_commit} sync calls per commit"
    );
    assert_eq!(st.tier_mismatch, None);
    // Its files hold more than the user's bytes.
    assert!(st.space_amplification().unwrap() > 1.0, "{st:?}");
}

#[test]
fn the_recover_phase_reopens_each_store_from_its_files() {
    let r = run_workload(
        "\"plain:durable\", \"redb:durable\", \"sqlite:durable\", \"fjall\", \"btreemap\"",
        "update = 60\ninsert = 40",
        "recover = true",
    );
    for v in ["plain:durable", "redb:durable", "sqlite:durable", "fjall"] {
        let st = summary(&r, v).storage.as_ref().unwrap();
        let rc = st
            .recovery
            .as_ref()
            .unwrap_or_else(|| panic!("{v}: no recovery"));
        assert_eq!(rc.records, 300, "{v}");
        assert!(rc.bytes > 300 * 100, "{v}: {} bytes reopened", rc.bytes);
        assert!(rc.reopen_s > 0.0, "{v}");
    }
    // A store with no files has nothing to recover.
    let memory = summary(&r, "btreemap").storage.as_ref().unwrap();
    assert_eq!(memory.recovery, None);
    // The results file keeps it, and reads back.
    let back = Results::parse(&r.to_json(), "test").unwrap();
    let storage = |r: &Results| {
        r.summaries
            .iter()
            .map(|s| {
                s.storage
                    .as_ref()
                    .map(|st| (st.recovery.clone(), st.phases.syncs.clone()))
            })
            .collect::<Vec<_>>()
    };
    assert_eq!(storage(&back), storage(&r));
}
