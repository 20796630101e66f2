//! Reads that go through the tree handle: point reads on the lock-free hash index
//! (`crack`, `crack_with`, `contains`; transactions read through them too), `len`,
//! subscriptions and `stats`. Scans and queries
//! start from [`Tree::snapshot`] (see `crate::iter` and `crate::query`).

use std::sync::atomic::Ordering;

use super::Tree;
use crate::events::{Subscription, DEFAULT_SUBSCRIBER_CAPACITY};
use crate::index::Index;
use crate::nut::{Nut, NutRef};
use crate::record::{check_key, Record};
use crate::stats::{Op, Stats};
use crate::Result;

impl Tree {
    /// Reads the nut under `key`; `None` when absent or expired. Takes no lock and copies
    /// nothing: the returned key and value share the stored record.
    pub fn crack(&self, key: impl AsRef<str>) -> Result<Option<Nut>> {
        self.point(key.as_ref(), Record::to_nut)
    }

    /// Reads the nut under `key` without copying it: `f` sees a borrowed view (decode it in
    /// place). Returns `None` when the key is absent or expired. No lock is held while `f`
    /// runs, so it may call back into the tree (even write to it).
    pub fn crack_with<R>(
        &self,
        key: impl AsRef<str>,
        f: impl FnOnce(NutRef<'_>) -> R,
    ) -> Result<Option<R>> {
        self.point(key.as_ref(), |rec| f(rec.view()))
    }

    /// A point read through the lock-free hash index. `f` runs while this thread's epoch
    /// guard is pinned, which keeps the record alive (and holds up the freeing of records
    /// replaced meanwhile, never a writer).
    fn point<R>(&self, key: &str, f: impl FnOnce(&Record) -> R) -> Result<Option<R>> {
        check_key(key)?;
        self.tally(Op::Crack, 1);
        let guard = crossbeam_epoch::pin();
        Ok(match self.inner.points.get(key.as_bytes(), &guard) {
            Some(rec) if rec.expires() == 0 || !rec.is_expired(self.now()) => Some(f(&rec)),
            _ => None,
        })
    }

    /// Whether a visible nut is stored under `key` (false for invalid keys).
    pub fn contains(&self, key: impl AsRef<str>) -> bool {
        matches!(self.crack_with(key, |_| ()), Ok(Some(())))
    }

    /// Number of visible (unexpired) nuts. Lock-free unless some nut has a TTL.
    pub fn len(&self) -> usize {
        if self.inner.ttl_items.load(Ordering::Acquire) == 0 {
            return self.inner.items.load(Ordering::Acquire);
        }
        let st = self.state();
        let expired = st.expired_count(self.now());
        st.index.len() - expired
    }

    /// Whether no visible nut is stored.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// A receiver of every committed change from now on, in commit order, buffering up to
    /// [`DEFAULT_SUBSCRIBER_CAPACITY`] events (writers never wait for a subscriber). Past
    /// that it drops whole commits, and reads them back from the change feed
    /// ([`Tree::changes_since`]) when it gets to them: a durable tree's log holds them
    /// back to its last compaction, an in-memory tree's history only if it keeps one
    /// ([`crate::TreeBuilder::history`]). What the feed no longer holds is reported with
    /// [`crate::Event::Lagged`].
    pub fn subscribe(&self) -> Subscription {
        self.subscribe_with_capacity(DEFAULT_SUBSCRIBER_CAPACITY)
    }

    /// Like [`Tree::subscribe`], buffering up to `capacity` events (at least one).
    pub fn subscribe_with_capacity(&self, capacity: usize) -> Subscription {
        let refill = self.refill();
        self.state().subscribers.subscribe(capacity, Some(refill))
    }

    /// Item count, bytes and operation counters.
    pub fn stats(&self) -> Stats {
        let (items, live_bytes, version) = {
            let st = self.state();
            let expired = st.expired_count(self.now());
            (st.index.len() - expired, st.live_bytes, st.applied)
        };
        let (query_cache_hits, query_cache_misses, query_cache_entries) = self.inner.cache.counts();
        let mut stats = Stats {
            items,
            live_bytes,
            version,
            query_cache_hits,
            query_cache_misses,
            query_cache_entries,
            ops: self.inner.counters.snapshot(),
            ..Stats::default()
        };
        if let Some(d) = &self.inner.durable {
            d.fill_stats(&mut stats);
        }
        stats
    }

    /// A consistent copy of the index (one `Arc` clone) and the time to judge expiry by.
    pub(crate) fn snapshot(&self) -> (Index<Record>, u64) {
        let index = self.state().index.clone();
        (index, self.now())
    }
}
