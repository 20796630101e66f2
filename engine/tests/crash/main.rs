//! Crash test: child processes commit batches and compact, printing each acknowledged
//! batch; the parent kills them with SIGKILL, reopens the directory strictly, and checks
//! that every acknowledged batch is there whole and no batch is partial, and that the
//! directory stays locked against a second process even after its `LOCK` file is deleted.
//!
//! Scenarios, each a series of kills on one directory:
//! - `always` (1 writer) and `group` (4 writers): killed at a random moment; the first
//!   writer compacts every 700 batches;
//! - `compaction-<step>` (2 writers under `Always` or `Group`, a third thread compacting
//!   every 50 batches): the child holds one compaction at a step (`FaultyIo` blocks the
//!   call) — after the log was cut (`cut`: before the temporary snapshot), with the
//!   temporary snapshot written (`temp`: before its rename), after the rename (`renamed`:
//!   before the covered segments are removed) — while the writers keep acknowledging
//!   batches into the new segment; the parent waits for the hold, counts the segments on
//!   disk (at least two), and kills.
//! - `never` (1 writer, the log buffering commits in memory): killed at random; the writer
//!   flushes every 100 batches and prints `flushed` after each. What survives must be a
//!   prefix of the acknowledged batches (no batch missing before one present), holding
//!   every batch acknowledged before a flush that returned, and everything an earlier
//!   reopen saw; the acknowledged batches a kill took are counted (`lost unflushed`) and
//!   forgotten (their versions are committed again by the next child);
//! - `checkpoint` (2 writers under `Always`, a third thread checkpointing into
//!   `<dir>/checkpoints/` every few milliseconds, a fourth compacting): killed at random,
//!   often in the middle of a checkpoint. Every checkpoint the child reported done opens
//!   strictly at exactly its version with exactly the batches up to it; one cut short by
//!   the kill opens the same way or is refused, never as something else.
//!
//! In every scenario a child thread also stashes nuts with a TTL of a millisecond and
//! purges them every 16, so kills land in purges and logs hold expiry marks, and the
//! compactions purge before they cut; those nuts belong to no batch and are not checked,
//! but every reopen must still prove the chain and hold every batch whole.
//!
//! With the `compression` feature (on in `cargo test --workspace`: the lab enables it), the
//! `group`, `never` and `checkpoint` scenarios' children write compressed log frames and
//! snapshots.
//!
//! In every scenario the parent also follows the directory with a read-only tree
//! (`Tree::open_read_only`, opened once and refreshed across the kills and restarts of its
//! writers): every view holds whole batches, exactly those up to its version, and at least
//! every batch acknowledged before it was read (under `never`: every batch that had to
//! survive a kill, since a reader sees only what the buffer wrote out). After each kill, the reopened tree's change
//! feed holds every acknowledged batch the log still holds, at its version.
//!
//! Runs a few seconds by default; `ACORN_CRASH_SECS=N` runs for about N seconds (the soak,
//! `scripts/soak.sh`). Prints rounds, acknowledged batches, segments seen at the kills and
//! failures, and exits non-zero if any acknowledged batch was lost or partial.
//!
//! `harness = false`: this directory is its own main, so the same binary can be the child:
//! [`child`] (the child process), [`acked`] (what it acknowledged, read from its output),
//! [`check`] (the checks after a kill and beside the writer), [`scenario`] (the kills).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::time::{Duration, Instant};

mod acked;
mod check;
mod child;
#[path = "../common/rng.rs"]
mod rng;
mod scenario;

use rng::Rng;
use scenario::{scenario, Tally};

const KEYS_PER_BATCH: usize = 3;

/// A batch: (round, thread, i).
type Id = (u32, usize, u64);

fn parent() -> bool {
    let secs: u64 = std::env::var("ACORN_CRASH_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(6);
    let seed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64
        | 1;
    let mut rng = Rng(seed);
    let exe = std::env::current_exe().unwrap();
    let scenarios: [(&str, usize, &str); 7] = [
        ("always", 1, "-"),
        ("group", 4, "-"),
        ("never", 1, "-"),
        ("always", 2, "cut"),
        ("group", 2, "temp"),
        ("always", 2, "renamed"),
        ("always", 2, "checkpoint"),
    ];
    let share = Duration::from_secs(secs) / scenarios.len() as u32;
    let mut total = Tally::default();
    for (policy_name, threads, step) in scenarios {
        let t = scenario(
            &exe,
            &mut rng,
            Instant::now() + share,
            policy_name,
            threads,
            step,
        );
        let name = if step == "-" {
            format!("{policy_name}, {threads} writer threads, killed at random")
        } else if step == "checkpoint" {
            format!("{policy_name}, {threads} writer threads, checkpointing and compacting, killed at random")
        } else {
            format!("{policy_name}, {threads} writer threads, killed with a compaction held at `{step}`")
        };
        println!(
            "crash ({name}): {} rounds (SIGKILLs), {} acknowledged batches ({} lost unflushed), {}, {} read-only views, {} checkpoints, {} failures",
            t.rounds,
            t.acked,
            t.unflushed,
            t.segments_seen(),
            t.views,
            t.checkpoints,
            t.failures.len()
        );
        total.rounds += t.rounds;
        total.acked += t.acked;
        total.unflushed += t.unflushed;
        total.views += t.views;
        total.checkpoints += t.checkpoints;
        for (k, v) in t.segments {
            *total.segments.entry(k).or_default() += v;
        }
        total.failures.extend(t.failures);
    }
    for f in &total.failures {
        println!("FAILURE: {f}");
    }
    println!(
        "crash test: {} rounds (SIGKILLs), {} acknowledged batches ({} lost unflushed), {}, {} read-only views, {} checkpoints, {} failures, seed {seed}",
        total.rounds,
        total.acked,
        total.unflushed,
        total.segments_seen(),
        total.views,
        total.checkpoints,
        total.failures.len()
    );
    total.failures.is_empty()
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if let Some(at) = args.iter().position(|a| a == "--child") {
        let a = &args[at + 1..];
        child::child(
            Path::new(&a[0]),
            &a[1],
            a[2].parse().unwrap(),
            a[3].parse().unwrap(),
            &a[4],
        );
        return;
    }
    // `cargo test -- --list` and filters: this binary holds one test named "crash".
    if args.iter().any(|a| a == "--list") {
        println!("crash: test");
        return;
    }
    if let Some(filter) = args.iter().skip(1).find(|a| !a.starts_with('-')) {
        if !"crash".contains(filter.as_str()) {
            return;
        }
    }
    if parent() {
        println!("1 passed, 0 failed");
    } else {
        println!("0 passed, 1 failed");
        std::process::exit(1);
    }
}
