//! The child process: writes until killed, acknowledging each batch on stdout.

use std::io::Write;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use acorn::faults::{Action, Call, FaultyIo};
use acorn::{SyncPolicy, Tree};

use crate::KEYS_PER_BATCH;

fn policy(name: &str) -> SyncPolicy {
    match name {
        "always" => SyncPolicy::Always,
        "group" => SyncPolicy::Group {
            max_delay: Duration::from_millis(1),
        },
        "never" => SyncPolicy::Never,
        other => panic!("unknown policy {other}"),
    }
}

/// Whether `call` on `path` is where a compaction is held at `step`.
fn held_at(step: &str, call: Call, path: &Path) -> bool {
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
    match step {
        "cut" => call == Call::Create && name == "snapshot.tmp",
        "temp" => call == Call::Rename && name == "snapshot.acorn",
        "renamed" => call == Call::Remove && name.starts_with("wal-"),
        other => panic!("unknown step {other}"),
    }
}

/// The child: writes until killed. Each line on stdout acknowledges one committed batch
/// (`round thread i version`); under `never` the writer flushes every 100 batches and
/// prints `flushed round thread i` after each; `held <step>` says a compaction is held at `step` (`-`:
/// none is, and the first writer compacts every 700 batches; `free`: none is, and a thread
/// compacts every 50 batches; `checkpoint`: as `free`, and a thread checkpoints,
/// reporting each one done as `checkpoint <dir> <version>`).
pub fn child(dir: &Path, policy_name: &str, round: u32, threads: usize, step: &str) {
    let batches = Arc::new(AtomicU64::new(0));
    let tree = open(dir, policy_name, step, &batches);
    std::thread::scope(|s| {
        if step == "checkpoint" {
            let tree = &tree;
            s.spawn(move || checkpointer(tree, dir, round));
        }
        if step != "-" {
            let (tree, batches) = (&tree, &batches);
            s.spawn(move || compactor(tree, batches));
        }
        {
            let tree = &tree;
            s.spawn(move || ephemeral(tree, round));
        }
        for t in 0..threads {
            let (tree, batches) = (&tree, &batches);
            s.spawn(move || writer(tree, batches, policy_name, round, t, step));
        }
    });
}

/// Stashes nuts that expire after a millisecond (`e-<round>-<n>`, not part of any batch)
/// and purges them now and then, so the kills also land in purges, in logs holding expiry
/// marks, and in compactions that purge before they cut (which they skip when no nut has
/// a TTL).
fn ephemeral(tree: &Tree, round: u32) {
    for n in 0u64.. {
        tree.stash_with_ttl(format!("e-{round}-{n}"), b"e", Duration::from_millis(1))
            .unwrap();
        if n % 16 == 15 {
            tree.purge_expired().unwrap();
        }
        std::thread::sleep(Duration::from_millis(1));
    }
}

/// Opens the child's tree under `policy_name`; at a held `step`, through a `FaultyIo`
/// that holds the first compaction reaching it.
fn open(dir: &Path, policy_name: &str, step: &str, batches: &Arc<AtomicU64>) -> Tree {
    let mut builder = Tree::builder().path(dir).sync(policy(policy_name));
    if step != "-" && step != "free" && step != "checkpoint" {
        let step = step.to_string();
        let seen = Arc::clone(batches);
        builder = builder.io(Arc::new(FaultyIo::new(move |c| {
            // Hold the first compaction that reaches the step once the log holds a few
            // batches, and let the writers go on.
            if seen.load(Ordering::Relaxed) >= 20 && held_at(&step, c.call, c.path) {
                writeln!(std::io::stdout().lock(), "held {step}").unwrap();
                loop {
                    std::thread::park();
                }
            }
            Action::Pass
        })));
    }
    // With the `compression` feature, the `group`, `never` and `checkpoint` writers
    // compress their log frames and snapshots: the same kills and checks, on compressed
    // files (under `never`, compressed in the log's buffer; checkpoints copy them).
    #[cfg(feature = "compression")]
    if (policy_name == "group" || policy_name == "never") && step == "-" || step == "checkpoint" {
        builder = builder.compression(acorn::Compression::Lz4);
    }
    builder.open().unwrap()
}

/// Checkpoints into `<dir>/checkpoints/<round>-<n>` every 2 ms, reporting each one done.
fn checkpointer(tree: &Tree, dir: &Path, round: u32) {
    for n in 0u64.. {
        let to = dir.join("checkpoints").join(format!("{round}-{n}"));
        let version = tree.checkpoint(&to).unwrap();
        writeln!(
            std::io::stdout().lock(),
            "checkpoint {} {version}",
            to.display()
        )
        .unwrap();
        std::thread::sleep(Duration::from_millis(2));
    }
}

/// Compacts every 50 batches.
fn compactor(tree: &Tree, batches: &AtomicU64) {
    let mut last = 0;
    loop {
        let now = batches.load(Ordering::Relaxed);
        if now >= last + 50 {
            last = now;
            tree.compact().unwrap();
        }
        std::thread::sleep(Duration::from_millis(1));
    }
}

/// Writer `t`: commits batch after batch, acknowledging each.
fn writer(tree: &Tree, batches: &AtomicU64, policy_name: &str, round: u32, t: usize, step: &str) {
    let stdout = std::io::stdout();
    for i in 0u64.. {
        let mut b = tree.batch();
        for k in 0..KEYS_PER_BATCH {
            b.stash(
                format!("r{round:03}-t{t}-{i:07}-{k}"),
                format!("value-{round}-{t}-{i}"),
            );
        }
        let version = b.commit().unwrap();
        writeln!(stdout.lock(), "{round} {t} {i} {version}").unwrap();
        batches.fetch_add(1, Ordering::Relaxed);
        if policy_name == "never" && i % 100 == 99 {
            tree.flush().unwrap();
            writeln!(stdout.lock(), "flushed {round} {t} {i}").unwrap();
        }
        if step == "-" && t == 0 && i % 700 == 699 {
            tree.compact().unwrap();
        }
    }
}
