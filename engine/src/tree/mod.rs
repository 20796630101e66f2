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
//! - `maintenance.rs`: compaction (manual and automatic) and secondary index management.
//!
//! Batches (`crate::batch`) and transactions (`crate::txn`) describe their writes beside
//! their builders and run them through the same pipeline; `crate::aio` (`AsyncTree`) runs
//! it too and only decides how to wait.
//!
//! Locks: `state` (the ordered index, TTLs, subscribers) is held by a writer only while it
//! builds and applies a commit in memory, and by scans for one `Arc` clone. A durable
//! writer also holds `commit` across its log append, which runs outside `state`, so no
//! reader ever waits for the disk. Point reads take no lock at all (see
//! [`crate::points`]), and no user closure runs under either lock (secondary index
//! extractors aside, see [`Tree::index`]; a panic in one is caught and fails only the
//! commit or call that ran it).

mod commit;
mod maintenance;
mod open;
mod read;
mod state;
mod write;

use std::sync::atomic::{AtomicU64, AtomicUsize};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use crate::cache::QueryCache;
use crate::clock::TreeClock;
use crate::points::Points;
use crate::record::Items;
use crate::stats::{Counters, Op};
use crate::storage::Durable;

pub(crate) use commit::{Committed, Write};
#[cfg(feature = "tokio")]
pub(crate) use maintenance::Compaction;
pub use open::{TreeBuilder, DEFAULT_QUERY_CACHE};
pub(crate) use state::State;
#[cfg(feature = "tokio")]
pub(crate) use write::{Purge, Stash, Toss};

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
    /// `Indexes::generation`, published (before the cache is cleared) by every change to
    /// the secondary indexes.
    pub(crate) index_generation: AtomicU64,
}

impl Tree {
    /// The tree clock's time, in nanoseconds since the epoch.
    #[inline]
    pub(crate) fn now(&self) -> u64 {
        self.inner.clock.nanos()
    }

    /// The in-memory state; held only for short, bounded work (never user code, never I/O).
    pub(crate) fn state(&self) -> MutexGuard<'_, State> {
        self.inner
            .state
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
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
