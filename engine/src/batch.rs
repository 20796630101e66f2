//! Atomic batches: every change commits together, as one version and one log frame, or
//! none does.

use std::time::Duration;

use crate::limits::MAX_BATCH_BYTES;
use crate::record::{check_key, Change, Changes, Items};
use crate::stats::Op;
use crate::tree::{Committed, State, Write};
use crate::{Error, Result, Tree};

/// A set of stashes and tosses that commit atomically. Dropping it uncommitted changes
/// nothing. The first invalid key or value is remembered and returned by
/// [`Batch::commit`], which then applies nothing.
#[derive(Debug)]
#[must_use = "a batch changes nothing until it is committed"]
pub struct Batch {
    tree: Tree,
    changes: Vec<Change>,
    bytes: usize,
    error: Option<Error>,
}

impl Tree {
    /// Starts an empty batch.
    pub fn batch(&self) -> Batch {
        Batch {
            tree: self.clone(),
            changes: crate::record::spare_changes(),
            bytes: 0,
            error: None,
        }
    }
}

impl Batch {
    /// Queues a stash of `value` under `key`. An invalid key or an oversized value is
    /// remembered and returned by [`Batch::commit`] (which then applies nothing).
    pub fn stash(&mut self, key: impl AsRef<str>, value: impl AsRef<[u8]>) -> &mut Self {
        self.put(key.as_ref(), value.as_ref(), None)
    }

    /// Queues a stash that becomes invisible `ttl` after the moment it is queued.
    pub fn stash_with_ttl(
        &mut self,
        key: impl AsRef<str>,
        value: impl AsRef<[u8]>,
        ttl: Duration,
    ) -> &mut Self {
        self.put(key.as_ref(), value.as_ref(), Some(ttl))
    }

    fn put(&mut self, key: &str, value: &[u8], ttl: Option<Duration>) -> &mut Self {
        if self.error.is_none() {
            match self.tree.make_record(key, value, ttl) {
                Ok(rec) => {
                    self.bytes += key.len() + value.len();
                    self.changes.push(Change::Put(rec));
                }
                Err(e) => self.error = Some(e),
            }
        }
        self
    }

    /// Queues the removal of `key` (a no-op at commit if it is absent).
    pub fn toss(&mut self, key: impl AsRef<str>) -> &mut Self {
        let key = key.as_ref();
        if self.error.is_none() {
            match check_key(key) {
                Ok(()) => {
                    self.bytes += key.len();
                    self.changes.push(Change::Delete(key.as_bytes().into()));
                }
                Err(e) => self.error = Some(e),
            }
        }
        self
    }

    /// Number of changes queued.
    pub fn len(&self) -> usize {
        self.changes.len()
    }

    /// Whether nothing is queued.
    pub fn is_empty(&self) -> bool {
        self.changes.is_empty()
    }

    /// Applies every change atomically; returns the version they share (the current
    /// version when nothing changed).
    pub fn commit(self) -> Result<u64> {
        let tree = self.tree.clone();
        tree.run(self.into_write()?)
    }

    /// The checked changes, as a write.
    pub(crate) fn into_write(self) -> Result<BatchCommit> {
        if let Some(e) = self.error {
            return Err(e);
        }
        if self.bytes > MAX_BATCH_BYTES {
            return Err(Error::TooLarge(format!(
                "batch of {} bytes is over the maximum of {MAX_BATCH_BYTES} bytes; split it",
                self.bytes
            )));
        }
        Ok(BatchCommit {
            items: Items::of(&self.changes),
            changes: Changes::from_vec(self.changes),
        })
    }
}

/// A batch's checked changes, committed as they are; counts the batch, its stashes and
/// its tosses once committed, and returns the version they share.
pub(crate) struct BatchCommit {
    changes: Changes,
    items: Items,
}

impl Write for BatchCommit {
    type Output = u64;
    /// How many stashes and tosses it holds.
    type Kept = Items;
    fn changes(self, _: &State, _: u64) -> Result<(Changes, Items)> {
        Ok((self.changes, self.items))
    }
    fn output(items: Items, tree: &Tree, done: Committed) -> u64 {
        tree.tally(Op::Batch, 1);
        tree.tally_items(items);
        done.version
    }
}
