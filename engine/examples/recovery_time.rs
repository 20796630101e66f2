//! How long opening a durable tree of N items × 100-byte values takes, read three ways:
//! from the log of single-item commits, from the log of 10k-item batches, and from a
//! snapshot after `compact()`. Each open is timed `ROUNDS` times; the best and median print.
//!
//! `cargo run --release -p acorn --example recovery_time [items]` (default 1,000,000)
use std::time::{Duration, Instant};

use acorn::{SyncPolicy, Tree};

const ROUNDS: usize = 5;

fn key(i: usize) -> String {
    format!("user-{i:012}")
}

fn time_open(dir: &std::path::Path, n: usize) -> acorn::Result<(Duration, Duration)> {
    let mut times = Vec::with_capacity(ROUNDS);
    for _ in 0..ROUNDS {
        let start = Instant::now();
        let tree = Tree::open(dir)?;
        let took = start.elapsed();
        assert_eq!(tree.len(), n, "every item is back");
        drop(tree);
        times.push(took);
    }
    times.sort();
    Ok((times[0], times[ROUNDS / 2]))
}

fn main() -> acorn::Result<()> {
    let n: usize = std::env::args()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(1_000_000);
    let value = [b'v'; 100];
    let report = |what: &str, dir: &std::path::Path, (best, median): (Duration, Duration)| {
        let bytes: u64 = std::fs::read_dir(dir)
            .map(|d| {
                d.filter_map(|e| e.ok()?.metadata().ok())
                    .map(|m| m.len())
                    .sum()
            })
            .unwrap_or(0);
        println!(
            "{n} items, {what:<28} {:>5.1} MB on disk: open best {best:>9.2?}, median {median:>9.2?}",
            bytes as f64 / 1e6
        );
    };

    let singles = tempfile::tempdir().map_err(acorn::Error::Io)?;
    {
        let tree = Tree::builder()
            .path(singles.path())
            .sync(SyncPolicy::Never)
            .compact_factor(0)
            .open()?;
        for i in 0..n {
            tree.stash(key(i), value)?;
        }
        tree.flush()?;
    }
    report(
        "log of single commits",
        singles.path(),
        time_open(singles.path(), n)?,
    );
    drop(singles);

    let batches = tempfile::tempdir().map_err(acorn::Error::Io)?;
    {
        let tree = Tree::builder()
            .path(batches.path())
            .sync(SyncPolicy::Never)
            .compact_factor(0)
            .open()?;
        for chunk in (0..n).step_by(10_000) {
            let mut b = tree.batch();
            for i in chunk..(chunk + 10_000).min(n) {
                b.stash(key(i), value);
            }
            b.commit()?;
        }
        tree.flush()?;
    }
    report(
        "log of 10k-item batches",
        batches.path(),
        time_open(batches.path(), n)?,
    );
    Tree::open(batches.path())?.compact()?;
    report(
        "snapshot after compact()",
        batches.path(),
        time_open(batches.path(), n)?,
    );
    Ok(())
}
