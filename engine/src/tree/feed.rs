//! The change feed of a tree ([`Tree::changes_since`]) and what reads it back for
//! subscribers that fell behind: an in-memory tree's `History`, a durable tree's log, a
//! read-only tree's directory.

use std::sync::atomic::Ordering;
use std::sync::Arc;

use super::Tree;
use crate::events::{Channel, Lost, Refill};
use crate::feed::{Change, ChangeFeed};
use crate::record;
use crate::storage;
use crate::Result;

impl Tree {
    /// Every change committed after `version`, in commit order, up to the tree's version
    /// now ([`ChangeFeed::until`]): per change the nut written, or a tombstone
    /// ([`Change`]: what a batch or transaction gives). Follow a tree by asking again from `until()`; hand a subscriber's
    /// last version here to resume it (subscriptions that fall behind do this by
    /// themselves, [`crate::Subscription`]). A version past the tree's gives nothing.
    ///
    /// How far back: a durable tree, to its last compaction (the log; across reopens, also
    /// after a crash: the feed is what recovery replays); a read-only tree, as far as its
    /// directory's log; an in-memory tree, as far as the history it keeps
    /// ([`crate::TreeBuilder::history`]; none by default). Further back is
    /// [`crate::Error::Compacted`], naming the oldest version still held.
    ///
    /// Cost: in memory, a copy of the changes asked for (handles, no value copied). A
    /// durable tree reads them from its log files at the call, from a known frame boundary
    /// near `version` (at most 64 KiB before it): the bytes asked for, decoded; a
    /// compaction running meanwhile is waited for by no one (a segment it removes is read
    /// again from its new place, or reported compacted). Errors: [`crate::Error::Io`],
    /// [`crate::Error::Corrupt`] from reading the log.
    ///
    /// ```
    /// use acorn::{Change, Tree};
    /// let dir = tempfile::tempdir()?;
    /// let tree = Tree::open(dir.path())?;
    /// let v1 = tree.stash("a", b"1")?;
    /// tree.toss("a")?;
    /// let feed = tree.changes_since(0)?;
    /// assert_eq!(feed.until(), v1 + 1);
    /// let changes: Vec<Change> = feed.collect();
    /// assert!(matches!(&changes[0], Change::Stashed(nut) if nut.value == b"1"));
    /// assert!(matches!(&changes[1], Change::Tossed { key, version } if key == "a" && *version == v1 + 1));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn changes_since(&self, version: u64) -> Result<ChangeFeed> {
        self.changes_between(version, u64::MAX)
    }

    /// The changes of versions `after + 1 ..= to` (at most up to the tree's version).
    pub(crate) fn changes_between(&self, after: u64, to: u64) -> Result<ChangeFeed> {
        let logged = |commits: Vec<(u64, Vec<record::Change>)>, until| {
            let changes = commits
                .into_iter()
                .flat_map(|(v, changes)| changes.into_iter().map(move |c| Change::logged(v, c)))
                .collect();
            ChangeFeed::new(changes, until)
        };
        if let Some(d) = &self.inner.durable {
            let until = self.inner.applied.load(Ordering::Acquire).min(to);
            return Ok(logged(d.read_feed(after, until)?, until));
        }
        if let Some(ro) = &self.inner.read_only {
            let until = self.inner.applied.load(Ordering::Acquire).min(to);
            let commits = storage::read_followed_feed(&ro.reader, ro.dir(), after, until)?;
            return Ok(logged(commits, until));
        }
        let st = self.state();
        let until = st.applied.min(to);
        Ok(ChangeFeed::new(st.history.since(after, until)?, until))
    }

    /// A subscriber of changes after `version`: those committed before now first (read
    /// back from the feed, as if lost), then each commit as it is applied.
    #[cfg_attr(not(feature = "tokio"), allow(dead_code))]
    pub(crate) fn subscribe_changes(&self, version: u64, capacity: usize) -> Arc<Channel<Change>> {
        let mut st = self.state();
        let at = st.applied;
        let backlog = (version < at).then_some(Lost {
            after: version,
            to: at,
            missed: 0,
        });
        st.subscribers.subscribe_changes(capacity, None, backlog)
    }

    /// Whether the tree's feed is read from files (a log, or a followed directory).
    #[cfg_attr(not(feature = "tokio"), allow(dead_code))]
    pub(crate) fn has_files(&self) -> bool {
        self.inner.durable.is_some() || self.inner.read_only.is_some()
    }

    /// What a subscriber of this tree reads the commits it lost back with (holding the
    /// tree only while it reads).
    pub(crate) fn refill(&self) -> Refill {
        let tree = Arc::downgrade(&self.inner);
        Arc::new(move |after, to| {
            let inner = tree.upgrade()?;
            super::without_waiting(|| {
                let feed = Tree { inner }.changes_between(after, to).ok()?;
                Some(feed.collect())
            })
        })
    }
}
