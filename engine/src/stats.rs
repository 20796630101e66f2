//! Operation counters (sharded per thread so readers on several cores do not fight over
//! one cache line) and the [`Stats`] snapshot.
//!
//! The first `SHARDS` threads of the process that count anything each own a shard: only
//! that thread ever writes it, so it counts with a plain load and store (no locked
//! read-modify-write, which costs ~8 ns here: 4% of a stash, 9% of a crack). Threads after
//! them share the shards, counting with `fetch_add`.

use std::cell::Cell;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

/// Counted operations.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Op {
    Stash = 0,
    Crack,
    Toss,
    Batch,
    Txn,
    TxnRetry,
    Query,
    Iter,
    Purged,
}
const OPS: usize = 9;
const SHARDS: usize = 16;

#[derive(Debug, Default)]
#[repr(align(128))]
struct Shard([AtomicU64; OPS]);

#[derive(Debug, Default)]
pub(crate) struct Counters([Shard; SHARDS]);

/// This thread's shard, and whether it is the only thread that writes it.
fn shard_index() -> (usize, bool) {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    thread_local!(static INDEX: Cell<usize> = const { Cell::new(usize::MAX) });
    // A thread-local destructor counting after INDEX is gone shares a shard.
    let i = INDEX
        .try_with(|i| {
            if i.get() == usize::MAX {
                i.set(NEXT.fetch_add(1, Ordering::Relaxed));
            }
            i.get()
        })
        .unwrap_or(usize::MAX);
    (i % SHARDS, i < SHARDS)
}

impl Counters {
    pub(crate) fn add(&self, op: Op, n: u64) {
        let (shard, owned) = shard_index();
        let c = &self.0[shard].0[op as usize];
        if owned {
            // Only this thread ever writes this shard: no other write can come between.
            c.store(c.load(Ordering::Relaxed).wrapping_add(n), Ordering::Relaxed);
        } else {
            c.fetch_add(n, Ordering::Relaxed);
        }
    }

    fn total(&self, op: Op) -> u64 {
        self.0
            .iter()
            .map(|s| s.0[op as usize].load(Ordering::Relaxed))
            .sum()
    }

    pub(crate) fn snapshot(&self) -> OpCounts {
        OpCounts {
            stashes: self.total(Op::Stash),
            cracks: self.total(Op::Crack),
            tosses: self.total(Op::Toss),
            batches: self.total(Op::Batch),
            transactions: self.total(Op::Txn),
            transaction_retries: self.total(Op::TxnRetry),
            queries: self.total(Op::Query),
            iterators: self.total(Op::Iter),
            expired_purged: self.total(Op::Purged),
        }
    }
}

/// How many times each operation ran since the tree was opened.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct OpCounts {
    /// Single stashes plus the items stashed by committed batches and transactions (a
    /// transaction's once, however many times its closure ran).
    pub stashes: u64,
    /// Point reads (`crack`, `crack_with`, `contains`), hits and misses.
    pub cracks: u64,
    /// Single tosses plus the items tossed by committed batches and transactions.
    pub tosses: u64,
    /// Committed batches.
    pub batches: u64,
    /// Committed transactions.
    pub transactions: u64,
    /// Transaction attempts that conflicted and were run again.
    pub transaction_retries: u64,
    /// Queries run (`collect`, `count`, `first`, `any`, `for_each`).
    pub queries: u64,
    /// Iterators created (`iter`, `prefix`, `range`, `iter_from`).
    pub iterators: u64,
    /// Expired nuts removed by `purge_expired`.
    pub expired_purged: u64,
}

/// A point-in-time summary of a tree.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Stats {
    /// Visible items (expired ones excluded), as `len()`.
    pub items: usize,
    /// Key plus value bytes of every stored item (expired but unpurged ones included).
    pub live_bytes: u64,
    /// The latest committed version.
    pub version: u64,
    /// Operation counters since the tree was opened.
    pub ops: OpCounts,
    /// Queries answered from the query result cache.
    pub query_cache_hits: u64,
    /// Cacheable queries that had to run (their results are cached after).
    pub query_cache_misses: u64,
    /// Results in the query cache now.
    pub query_cache_entries: usize,
    /// Durable mode only: bytes of an incomplete final WAL frame (cut short by the end of
    /// the file: a commit interrupted mid-write, never acknowledged) dropped at open; also
    /// logged, with the file and offset, through the `log` crate.
    pub torn_bytes_dropped: u64,
    /// Durable mode only: bytes `RecoveryMode::Salvage` could not use when opening (from
    /// the damage to the end of each damaged file).
    pub salvaged_bytes_dropped: u64,
    /// Durable mode only: commit versions `RecoveryMode::Salvage` knows it dropped: the
    /// total of the report's `dropped versions a..=b` runs (versions in no readable file
    /// that a later version or segment header proves existed). When something unreadable
    /// may have held versions after the last one known, `salvage_report` says so
    /// (`dropped versions after K, how many is unknown`); those are not counted here.
    pub salvaged_versions_dropped: u64,
    /// Durable mode only: one line per file or run of versions `RecoveryMode::Salvage`
    /// dropped when opening, and where it put the damaged, renamed or copied files (each
    /// line is also logged through the `log` crate). Empty when nothing was. A strict open
    /// afterwards holds exactly what the report leaves.
    pub salvage_report: Vec<String>,
    /// Durable mode only: bytes of the write-ahead log (every segment not yet covered by
    /// a snapshot and deleted), including, under [`crate::SyncPolicy::Never`], commits
    /// still waiting in the log's buffer (`flush()` writes them out).
    pub wal_bytes: u64,
    /// Durable mode only: fsyncs of log segments since open. Below the number of commits
    /// when writers shared fsyncs (group commit).
    pub wal_syncs: u64,
    /// Durable mode only: snapshots written by `compact` (manual or automatic).
    pub compactions: u64,
    /// Durable mode only: automatic compactions that failed (the log kept everything).
    pub failed_compactions: u64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_shard_counted_without_an_atomic_add_has_one_writer_ever() {
        // Threads past the first SHARDS share shards: a plain load and store there could
        // lose counts, so no two threads may both believe they own one.
        let seen: Vec<(usize, bool)> = (0..SHARDS * 2)
            .map(|_| std::thread::spawn(shard_index).join().unwrap())
            .collect();
        let mut owned: Vec<usize> = seen.iter().filter(|s| s.1).map(|s| s.0).collect();
        owned.sort_unstable();
        owned.dedup();
        assert_eq!(owned.len(), seen.iter().filter(|s| s.1).count(), "{seen:?}");
        assert!(seen.iter().any(|s| !s.1), "{seen:?}");
    }

    #[test]
    fn counts_from_more_threads_than_shards_are_exact() {
        let counters = Counters::default();
        let threads = SHARDS * 3;
        let start = std::sync::Barrier::new(threads);
        std::thread::scope(|s| {
            for _ in 0..threads {
                s.spawn(|| {
                    start.wait();
                    for _ in 0..20_000 {
                        counters.add(Op::Stash, 1);
                    }
                    counters.add(Op::Toss, 2);
                });
            }
        });
        let counts = counters.snapshot();
        assert_eq!(counts.stashes, threads as u64 * 20_000);
        assert_eq!(counts.tosses, threads as u64 * 2);
    }
}
