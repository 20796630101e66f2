//! The change feed: [`Change`], one changed key as [`crate::Tree::changes_since`] reports it;
//! [`ChangeFeed`], the iterator that call returns; and `History`, the bounded list of recent
//! changes an in-memory tree keeps when asked to ([`crate::TreeBuilder::history`]). A
//! durable tree's history is its log (read by `storage::log_reader`), so it reaches back to
//! the last compaction and survives a reopen.

use std::collections::VecDeque;

use crate::nut::{Key, Nut};
use crate::record::{self, Record};
use crate::{Error, Result};

/// One change to one key, in commit order: what a commit did to the key, at which version.
/// The key's new nut, or a tombstone: the log (and so the feed) records what each commit
/// wrote, not what it replaced; a reader that needs the value before a change keeps it
/// from the change before (or reads the tree before following its feed).
///
/// A batch or transaction is one version. A batch gives one change per stash or toss of it
/// that changed something, in the batch's order (a key stashed twice gives both; a toss of
/// nothing gives none); a transaction gives its last write per key, in key order.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Change {
    /// A nut was stashed (alone, or in a batch or transaction): the nut as written, with
    /// its key, value, version, timestamp and expiry.
    Stashed(Nut),
    /// A nut was removed by a toss (alone, or in a batch or transaction).
    Tossed {
        /// Its key.
        key: Key,
        /// The version of the commit that removed it.
        version: u64,
    },
    /// A nut whose TTL had run out was removed: by [`crate::Tree::purge_expired`], by a
    /// compaction (which purges first), or by a toss of it.
    Expired {
        /// Its key.
        key: Key,
        /// The version of the commit that removed it.
        version: u64,
    },
}

impl Change {
    /// The version of the commit that made the change.
    pub fn version(&self) -> u64 {
        match self {
            Change::Stashed(nut) => nut.version,
            Change::Tossed { version, .. } | Change::Expired { version, .. } => *version,
        }
    }

    /// The key it changed.
    pub fn key(&self) -> &Key {
        match self {
            Change::Stashed(nut) => &nut.key,
            Change::Tossed { key, .. } | Change::Expired { key, .. } => key,
        }
    }

    /// The nut written, or `None` for a removal (a tombstone).
    pub fn nut(&self) -> Option<&Nut> {
        match self {
            Change::Stashed(nut) => Some(nut),
            Change::Tossed { .. } | Change::Expired { .. } => None,
        }
    }

    /// The public form of a change read back from the log (or a snapshot of the feed):
    /// the record written, or the key removed.
    pub(crate) fn logged(version: u64, change: record::Change) -> Change {
        match change {
            record::Change::Put(rec) => Change::Stashed(rec.into_nut()),
            record::Change::Delete(key) => Change::Tossed {
                key: Key::from_utf8(&key),
                version,
            },
            record::Change::Expire(key) => Change::Expired {
                key: Key::from_utf8(&key),
                version,
            },
        }
    }

    /// The removal of `old` at `version`, as a commit applies it: without the removed
    /// value (the key only), so a kept change holds no value nobody can read.
    pub(crate) fn removal(old: &Record, version: u64, expired: bool) -> Change {
        let key = Key::from_utf8(crate::index::Keyed::key(old));
        if expired {
            Change::Expired { key, version }
        } else {
            Change::Tossed { key, version }
        }
    }
}

/// The changes [`crate::Tree::changes_since`] found: every change after the version asked
/// for, up to the tree's version at the call ([`ChangeFeed::until`]), in commit order.
/// Later commits are not seen; ask again from [`ChangeFeed::until`] for them.
#[derive(Debug)]
pub struct ChangeFeed {
    changes: std::vec::IntoIter<Change>,
    until: u64,
}

impl ChangeFeed {
    pub(crate) fn new(changes: Vec<Change>, until: u64) -> ChangeFeed {
        ChangeFeed {
            changes: changes.into_iter(),
            until,
        }
    }

    /// The tree's version this feed reads up to: the next call is
    /// `changes_since(feed.until())` (also when the feed was empty).
    pub fn until(&self) -> u64 {
        self.until
    }
}

impl Iterator for ChangeFeed {
    type Item = Change;

    fn next(&mut self) -> Option<Change> {
        self.changes.next()
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        self.changes.size_hint()
    }
}

impl ExactSizeIterator for ChangeFeed {}

/// The recent changes an in-memory tree keeps for its feed: at most `capacity` changes,
/// whole commits only (a commit's changes are all kept or all dropped).
#[derive(Debug)]
pub(crate) struct History {
    changes: VecDeque<Change>,
    capacity: usize,
    /// The first version whose changes are all held (the next one to come when none are).
    oldest: u64,
    /// A commit's changes are built here, reused from commit to commit.
    scratch: Vec<Change>,
}

impl History {
    pub(crate) fn new(capacity: usize, applied: u64) -> History {
        History {
            changes: VecDeque::new(),
            capacity,
            oldest: applied + 1,
            scratch: Vec::new(),
        }
    }

    /// An empty buffer for one commit's changes (handed back by [`History::push`]).
    pub(crate) fn buffer(&mut self) -> Vec<Change> {
        std::mem::take(&mut self.scratch)
    }

    /// Whether changes are kept at all (otherwise a commit's public changes need not be
    /// built for the history).
    pub(crate) fn is_on(&self) -> bool {
        self.capacity > 0
    }

    /// Notes that the commit at `version` went by while nothing listened (the history is
    /// off and no subscriber asked: no changes were built for it).
    pub(crate) fn pass(&mut self, version: u64) {
        debug_assert!(
            !self.is_on(),
            "a history that keeps changes missed a commit"
        );
        self.oldest = version + 1;
    }

    /// Keeps the changes of the commit at `version` (moved out of `changes`, whose buffer
    /// is kept for the next commit), dropping the oldest whole commits past the capacity.
    pub(crate) fn push(&mut self, version: u64, mut changes: Vec<Change>) {
        if self.is_on() {
            self.changes.extend(changes.drain(..));
        } else {
            self.oldest = version + 1;
            changes.clear();
        }
        if changes.capacity() <= 1024 {
            self.scratch = changes;
        }
        while self.changes.len() > self.capacity {
            let Some(dropped) = self.changes.pop_front() else {
                break;
            };
            let gone = dropped.version();
            while self.changes.front().is_some_and(|c| c.version() == gone) {
                self.changes.pop_front();
            }
            self.oldest = gone + 1;
        }
    }

    /// The changes of versions `after + 1 ..= until` (the tree is at `until`), or
    /// [`Error::Compacted`] when some of them are no longer kept.
    pub(crate) fn since(&self, after: u64, until: u64) -> Result<Vec<Change>> {
        if after >= until {
            return Ok(Vec::new());
        }
        if after + 1 < self.oldest {
            return Err(Error::Compacted {
                oldest: self.oldest,
            });
        }
        let start = self.changes.partition_point(|c| c.version() <= after);
        Ok(self
            .changes
            .range(start..)
            .take_while(|c| c.version() <= until)
            .cloned()
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stashed(version: u64) -> Change {
        Change::Stashed(Record::new(b"k", b"v", version, 1, 0).into_nut())
    }

    #[test]
    fn the_history_keeps_whole_commits_and_says_what_it_dropped() {
        let mut h = History::new(3, 0);
        assert_eq!(h.since(0, 0).unwrap(), []);
        h.push(1, vec![stashed(1)]);
        h.push(2, vec![stashed(2), stashed(2)]);
        assert_eq!(h.since(0, 2).unwrap().len(), 3);
        assert_eq!(h.since(1, 2).unwrap(), [stashed(2), stashed(2)]);
        // Version 3 pushes the count to 4: version 1 goes, and nothing of version 2.
        h.push(3, vec![stashed(3)]);
        assert!(matches!(h.since(0, 3), Err(Error::Compacted { oldest: 2 })));
        assert_eq!(h.since(1, 3).unwrap().len(), 3);
        // A commit over the capacity cannot be kept: everything before it goes too.
        h.push(4, vec![stashed(4), stashed(4), stashed(4), stashed(4)]);
        assert!(matches!(h.since(3, 4), Err(Error::Compacted { oldest: 5 })));
        assert_eq!(h.since(4, 4).unwrap(), []);
        // Off: only the present is known.
        let mut off = History::new(0, 7);
        assert!(off.since(7, 7).unwrap().is_empty());
        off.push(8, vec![stashed(8)]);
        assert!(matches!(
            off.since(7, 8),
            Err(Error::Compacted { oldest: 9 })
        ));
    }
}
