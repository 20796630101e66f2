//! Read-only trees: [`Tree::open_read_only`] follows a directory another tree (in this or
//! another process) writes, and [`Tree::refresh`] brings the view up to what it has
//! written since. The directory is only read (`storage::Follower`); every write through
//! such a tree is [`Error::ReadOnly`], refused at the start of the one commit pipeline.

use std::ops::Bound;
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::sync::{Mutex, MutexGuard, PoisonError};

use super::{State, Tree};
use crate::index::{Index, Keyed};
use crate::record::{Change, Changes, Record};
use crate::storage::{Follower, LogReader, Recovered, Refresh};
use crate::{Error, Result};

/// The directory a read-only tree follows.
#[derive(Debug)]
pub(crate) struct ReadOnly {
    dir: PathBuf,
    /// Where the view is in the directory; held across a refresh (one at a time).
    follower: Mutex<Follower>,
    /// Reads the directory's log back for the change feed.
    pub(crate) reader: LogReader,
}

impl ReadOnly {
    pub(super) fn new(dir: PathBuf, follower: Follower) -> ReadOnly {
        ReadOnly {
            dir,
            follower: Mutex::new(follower),
            reader: LogReader::default(),
        }
    }

    fn follower(&self) -> MutexGuard<'_, Follower> {
        self.follower.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub(crate) fn dir(&self) -> &Path {
        &self.dir
    }
}

impl Tree {
    /// Opens the durable tree in `dir` read-only, beside the tree (in this or another
    /// process) that writes it: a consistent view of it (the snapshot and the log up to
    /// its last whole commit), brought up to date by [`Tree::refresh`]. It never writes,
    /// removes or locks anything in the directory: not even a torn tail, a leftover or a
    /// temporary file a writer's open would tidy up. Reads, queries, iterators,
    /// subscriptions, secondary indexes (built in memory) and the change feed work as on
    /// any tree; writes, `purge_expired` and `compact` fail with [`Error::ReadOnly`]
    /// ([`Tree::checkpoint`] works: it writes only its own directory).
    ///
    /// The writer may compact meanwhile: a file removed, or a new snapshot renamed in,
    /// while the directory is read makes the read start again; the view is never a mix.
    /// Under [`crate::SyncPolicy::Group`] or `Never` the view may hold a commit whose fsync
    /// has not landed yet (as the writer's own readers may). Errors: those of
    /// [`Tree::open`] except [`Error::Locked`]; [`Error::Corrupt`] only when the directory
    /// stays damaged while it is read again.
    ///
    /// ```
    /// use acorn::Tree;
    /// let dir = tempfile::tempdir()?;
    /// let writer = Tree::open(dir.path())?;
    /// writer.stash("k", b"v1")?;
    /// let reader = Tree::open_read_only(dir.path())?;   // beside the writer's lock
    /// assert_eq!(reader.crack("k")?.unwrap().value, b"v1");
    /// writer.stash("k", b"v2")?;
    /// assert_eq!(reader.refresh()?, 2);
    /// assert_eq!(reader.crack("k")?.unwrap().value, b"v2");
    /// assert!(matches!(reader.stash("k", b"v3"), Err(acorn::Error::ReadOnly { .. })));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn open_read_only(dir: impl AsRef<Path>) -> Result<Tree> {
        Self::builder().path(dir).read_only().open()
    }

    /// Brings a read-only tree's view up to what the writer has written since (see
    /// [`Tree::open_read_only`]); returns the tree's version now. Reads only what is new
    /// (after a compaction removed the segment it was reading, the directory again).
    /// What changed is applied as commits are: subscribers hear of it, the query cache
    /// and secondary indexes follow. On any other tree, the tree's version (nothing to
    /// read). Errors: [`Error::Io`], [`Error::Corrupt`] as for opening; the view is then
    /// unchanged. A directory that went back before the view (an older checkpoint
    /// restored over it, another tree put in its place) is [`Error::Corrupt`], from then
    /// on at every refresh: open it read-only again.
    pub fn refresh(&self) -> Result<u64> {
        let Some(ro) = &self.inner.read_only else {
            return Ok(self.inner.applied.load(Ordering::Acquire));
        };
        let mut follower = ro.follower();
        // Only a refresh changes a read-only tree, one at a time (the follower's lock).
        let found = follower.refresh(self.inner.applied.load(Ordering::Acquire))?;
        let now = self.now();
        let mut st = self.state();
        match found {
            Refresh::Commits(commits) => {
                for (version, changes) in commits {
                    st.seq = version;
                    // Written by another process: the extractors run as the records are indexed.
                    self.apply_commit(
                        &mut st,
                        Changes::from_vec(changes),
                        None,
                        version,
                        now,
                        None,
                    );
                }
            }
            Refresh::Reload(recovered) => {
                let changes = difference(&st, recovered);
                st.seq = changes.1;
                self.apply_commit(&mut st, changes.0, None, changes.1, now, None);
            }
        }
        Ok(st.applied)
    }

    /// Refuses writes through a read-only tree (called at the start of every commit).
    pub(crate) fn check_writable(&self) -> Result<()> {
        match &self.inner.read_only {
            Some(ro) => Err(Error::ReadOnly {
                path: ro.dir.clone(),
            }),
            None => Ok(()),
        }
    }
}

/// The changes that turn the view in `st` into the directory's state in `recovered`, as
/// one commit at the directory's version: every record that is new or of another version,
/// and the removal of every key no longer there.
fn difference(st: &State, recovered: Recovered) -> (Changes, u64) {
    let mut now: Index<Record> = Index::default();
    for rec in recovered.records {
        now.insert(rec);
    }
    for (_, changes) in recovered.frames {
        for change in changes {
            match change {
                Change::Put(rec) => {
                    now.insert(rec);
                }
                Change::Delete(key) | Change::Expire(key) => {
                    now.remove(&key);
                }
            }
        }
    }
    let mut changes = Changes::new();
    let mut old = st.index.cursor(Bound::Unbounded);
    let mut new = now.cursor(Bound::Unbounded);
    loop {
        let order = match (old.peek(), new.peek()) {
            (None, None) => break,
            (Some(_), None) => std::cmp::Ordering::Less,
            (None, Some(_)) => std::cmp::Ordering::Greater,
            (Some(o), Some(n)) => o.key().cmp(n.key()),
        };
        match (order, old.peek(), new.peek()) {
            (std::cmp::Ordering::Equal, Some(o), Some(n)) => {
                if o.version() != n.version() {
                    changes.push(Change::Put(n.clone()));
                }
                old.advance();
                new.advance();
            }
            (std::cmp::Ordering::Less, Some(o), _) => {
                changes.push(Change::Delete(o.key().into()));
                old.advance();
            }
            (_, _, Some(n)) => {
                changes.push(Change::Put(n.clone()));
                new.advance();
            }
            (_, _, None) => break,
        }
    }
    (changes, recovered.seq)
}
