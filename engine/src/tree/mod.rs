//! [`Tree`]: the handle every API goes through, and the map of the modules behind it.
//!
//! - `mod.rs`: `Tree` (an `Arc<Inner>`), and the locks, clock and counters behind it.
//! - `open.rs`: `TreeBuilder`; opening in memory or from a directory.
//! - `state.rs`: `State`, the in-memory view a commit is applied to (ordered index, point
//!   index writer, TTLs, subscribers, secondary indexes) and the `Always` commits waiting
//!   for their fsync.
//! - `commit.rs`: the one commit pipeline every write goes through, blocking or async.
//! - `write.rs`: the write operations (stash, toss, purge) and `flush`.
//! - `read.rs`: point reads, `len`, subscriptions, `stats`, snapshots for scans.
//! - `maintenance.rs`: compaction (manual and automatic, purging expired nuts first) and
//!   secondary index management.
//! - `feed.rs`: the change feed (`changes_since`) and what subscribers that fall behind
//!   read back from it.
//! - `checkpoint.rs`: online checkpoints (`checkpoint`).
//! - `follow.rs`: read-only trees (`open_read_only`, `refresh`) and the refusal of writes
//!   through them.
//!
//! Batches (`crate::batch`) and transactions (`crate::txn`) describe their writes beside
//! their builders and run them through the same pipeline; `crate::aio` (`AsyncTree`) runs
//! it too and only decides how to wait.
//!
//! Locks: `state` (the ordered index, TTLs, subscribers) is held by a writer only while it
//! builds and applies a commit in memory, and by scans for one `Arc` clone; a thread that
//! finds it held spins up to 20 µs before it parks (`Tree::state`). A durable
//! writer also holds `commit` across its log append, which runs outside `state`, so no
//! reader ever waits for the disk. Point reads take no lock at all (see
//! [`crate::points`]), and no user closure runs under either lock (secondary index
//! extractors aside, see [`Tree::index`]; a panic in one is caught and fails only the
//! commit or call that ran it).

mod background;
mod checkpoint;
mod commit;
mod feed;
mod follow;
mod maintenance;
mod open;
mod read;
mod state;
mod write;

use std::sync::atomic::{AtomicU64, AtomicUsize};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, TryLockError};
use std::time::{Duration, Instant};

use crate::cache::QueryCache;
use crate::clock::TreeClock;
use crate::points::Points;
use crate::record::Items;
use crate::stats::{Counters, Op};
use crate::storage::Durable;

pub(crate) use background::without_waiting;
#[cfg(feature = "tokio")]
pub(crate) use background::BackgroundTree;
pub(crate) use commit::{Committed, Write};
#[cfg(feature = "tokio")]
pub(crate) use maintenance::Compaction;
pub use open::{TreeBuilder, DEFAULT_QUERY_CACHE};
pub(crate) use state::State;
#[cfg(feature = "tokio")]
pub(crate) use write::{Purge, Stash, Toss};

/// How long a writer that finds `state` held spins before it parks.
const SPIN_BEFORE_PARKING: Duration = Duration::from_micros(20);

/// An embedded, ordered document store. Cheap to clone (an `Arc` inside); share it freely
/// between threads.
#[derive(Clone, Debug)]
pub struct Tree {
    pub(crate) inner: Arc<Inner>,
}

#[derive(Debug)]
pub(crate) struct Inner {
    pub(super) state: Mutex<State>,
    /// Serializes durable commits across the log append (held outside `state`).
    pub(super) commit: Mutex<()>,
    pub(super) points: Points,
    /// Items in the index as of the last applied commit, and how many of them carry a
    /// TTL: `len()` reads these without a lock when nothing can expire.
    pub(super) items: AtomicUsize,
    pub(super) ttl_items: AtomicUsize,
    pub(super) clock: TreeClock,
    pub(crate) counters: Counters,
    pub(crate) durable: Option<Durable>,
    /// Results of keyable queries (see [`crate::cache`]).
    pub(crate) cache: QueryCache,
    /// `State::applied`, published (before the cache is consulted) by every commit.
    pub(crate) applied: AtomicU64,
    /// What a tree opened read-only follows (it then has no `durable`).
    pub(crate) read_only: Option<follow::ReadOnly>,
    /// `Indexes::generation`, published (before the cache is cleared) by every change to
    /// the secondary indexes.
    pub(crate) index_generation: AtomicU64,
    /// Handles held by work on other threads, which the last handle's drop waits for.
    pub(super) background: Arc<background::Background>,
}

impl Tree {
    /// The tree clock's time, in nanoseconds since the epoch.
    #[inline]
    pub(crate) fn now(&self) -> u64 {
        self.inner.clock.nanos()
    }

    /// The in-memory state; held only for short, bounded work (never user code, never I/O).
    #[inline]
    pub(crate) fn state(&self) -> MutexGuard<'_, State> {
        match self.inner.state.try_lock() {
            Ok(guard) => guard,
            Err(TryLockError::Poisoned(poisoned)) => poisoned.into_inner(),
            Err(TryLockError::WouldBlock) => self.state_contended(),
        }
    }

    /// `state` when another thread holds it: spin (trying again every 32 `pause`s) for up
    /// to [`SPIN_BEFORE_PARKING`], then park. A commit holds the lock for a microsecond or
    /// two, less than a park and wake-up costs (std's mutex spins only ~1.3 µs on a
    /// 2-core VM before it parks; docs/PERFORMANCE.md, "The seventh session").
    #[cold]
    #[inline(never)]
    fn state_contended(&self) -> MutexGuard<'_, State> {
        let start = Instant::now();
        loop {
            for _ in 0..32 {
                std::hint::spin_loop();
            }
            match self.inner.state.try_lock() {
                Ok(guard) => return guard,
                Err(TryLockError::Poisoned(poisoned)) => return poisoned.into_inner(),
                Err(TryLockError::WouldBlock) if start.elapsed() < SPIN_BEFORE_PARKING => {}
                Err(TryLockError::WouldBlock) => {
                    return self
                        .inner
                        .state
                        .lock()
                        .unwrap_or_else(PoisonError::into_inner)
                }
            }
        }
    }

    /// Held by durable writers across the log append, and by compaction.
    pub(super) fn commit_lock(&self) -> Option<MutexGuard<'_, ()>> {
        self.inner.durable.as_ref().map(|_| {
            self.inner
                .commit
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
        })
    }

    /// Counts `n` operations of kind `op` in [`Tree::stats`].
    pub(crate) fn tally(&self, op: Op, n: u64) {
        self.inner.counters.add(op, n);
    }

    /// Counts the stashes and tosses of a committed batch or transaction.
    pub(crate) fn tally_items(&self, items: Items) {
        self.tally(Op::Stash, items.puts);
        self.tally(Op::Toss, items.tosses);
    }

    /// The durable log, if the tree has one.
    pub(crate) fn log(&self) -> Option<&Durable> {
        self.inner.durable.as_ref()
    }
}

impl Drop for Inner {
    fn drop(&mut self) {
        // Records this tree replaced lately wait in the epoch collector (the last few in
        // the writer's pending batch, handed on here); with no reader pinned, a few
        // flushes free them now rather than at some later collection.
        let state = self.state.get_mut().unwrap_or_else(PoisonError::into_inner);
        state.points.hand_off();
        for _ in 0..3 {
            crossbeam_epoch::pin().flush();
        }
    }
}

#[cfg(all(test, target_os = "linux"))]
#[path = "lock_tests.rs"]
mod lock_tests;
