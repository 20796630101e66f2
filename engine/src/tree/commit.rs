//! The commit pipeline every write goes through, blocking or async: **validate → stamp
//! → extract index keys → log → apply and publish → sync → acknowledge** (under `Always`
//! the apply and publish wait for the sync; a panicking extractor fails the commit before
//! anything is logged). A write operation is a [`Write`]; [`Tree::begin`] does everything
//! that never waits for the disk and returns the commit [`InFlight`]; the caller waits for
//! [`InFlight::durability`] (blocking in [`Tree::run`], as a future in `crate::aio`) and
//! acknowledges with [`InFlight::finish`].

use std::sync::atomic::Ordering;
use std::sync::Arc;

use super::maintenance::Compaction;
use super::state::Stamp;
use super::{State, Tree};
use crate::cache::Changed;
use crate::limits::MAX_VERSION;
use crate::record::{Change, Changes};
use crate::secondary::{Extracted, Touched};
use crate::storage::Durable;
use crate::{Error, Result};

/// The result of one commit.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Committed {
    pub(crate) version: u64,
    pub(crate) removed: usize,
}

/// One write operation, described once for the blocking API and [`crate::AsyncTree`]:
/// the changes it commits and what its caller gets back. Both run it through the same
/// pipeline ([`Tree::begin`], a wait for [`InFlight::durability`], [`InFlight::finish`]);
/// they differ only in how they wait.
pub(crate) trait Write: Sized {
    /// What the caller gets once the commit is acknowledged.
    type Output;
    /// What the write keeps while its commit is in flight, to make its output (often
    /// nothing: a write moves its changes into the commit and keeps no copy).
    type Kept;
    /// The one key the write changes, if it is a single change known before
    /// [`Write::changes`] runs (a stash, a toss): its hash-index slot is then fetched while
    /// the change is built. A write that names a key makes exactly one change, of that key.
    fn key(&self) -> Option<&[u8]> {
        None
    }
    /// The changes to commit, built under the state lock at the commit's time `now` (a
    /// transaction validates its reads here, a purge picks the expired keys, a small stash
    /// copies its value into its record); an error (a transaction's conflict) commits
    /// nothing.
    fn changes(self, st: &State, now: u64) -> Result<(Changes, Self::Kept)>;
    /// The caller's result once the commit is acknowledged; counts the operation.
    fn output(kept: Self::Kept, tree: &Tree, done: Committed) -> Self::Output;
}

/// A commit built, stamped, logged and (except under `Always`) applied: its writer waits
/// for [`InFlight::durability`] as it can, then calls [`InFlight::finish`]. Dropped
/// unfinished (a future dropped while it waits), the commit still becomes durable and
/// visible; only its automatic compaction and its tallies are skipped.
#[must_use]
pub(crate) struct InFlight<'t, W: Write> {
    tree: &'t Tree,
    kept: W::Kept,
    done: Committed,
    /// The log position to wait for (`Always`, `Group`).
    ticket: Option<u64>,
    /// The log outgrew the live data: compact once the commit is durable.
    compact: bool,
}

impl<'t, W: Write> InFlight<'t, W> {
    /// The log and the position in it the writer must wait for before [`InFlight::finish`]
    /// (`None`: nothing to wait for: in memory, or under `Never`).
    pub(crate) fn durability(&self) -> Option<(&'t Durable, u64)> {
        Some((self.tree.inner.durable.as_ref()?, self.ticket?))
    }

    /// Acknowledges the commit, once it is durable as the policy says: runs the automatic
    /// compaction it asked for, counts it and returns the caller's result.
    pub(crate) fn finish(self, compaction: Compaction) -> W::Output {
        if self.compact {
            self.tree.compact_after_commit(compaction);
        }
        W::output(self.kept, self.tree, self.done)
    }
}

/// The smallest and largest key a commit changes.
fn key_span(changes: &Changes) -> (Box<[u8]>, Box<[u8]>) {
    let mut keys = changes.iter().map(Change::key);
    let first = keys.next().unwrap_or_default();
    let (min, max) = keys.fold((first, first), |(lo, hi), k| (lo.min(k), hi.max(k)));
    (min.into(), max.into())
}

impl Tree {
    /// Runs `write` through the commit pipeline, blocking: the calling thread waits for
    /// its fsync (leading one when no other writer is) and runs an automatic compaction
    /// itself. [`crate::AsyncTree`] runs the same pipeline and waits as a future.
    pub(crate) fn run<W: Write>(&self, write: W) -> Result<W::Output> {
        let commit = self.begin(write)?;
        if let Some((log, ticket)) = commit.durability() {
            log.wait(ticket)?;
        }
        Ok(commit.finish(Compaction::Inline))
    }

    /// The commit pipeline up to the wait for the disk, which it never does: validates
    /// (`write` builds its changes under the state lock), stamps the changes with the next
    /// version, logs them in durable mode (state lock released meanwhile), and applies and
    /// publishes them (under `Always` queues them until their fsync lands instead).
    pub(crate) fn begin<W: Write>(&self, write: W) -> Result<InFlight<'_, W>> {
        self.check_writable()?;
        let mut arrival = self.inner.durable.as_ref().map(Durable::arrive);
        let serial = self.commit_lock();
        let now = self.now();
        let mut st = self.state();
        let points = &self.inner.points;
        let named = write.key().map(|key| st.prefetch(points, key));
        let (mut changes, kept) = write.changes(&st, now)?;
        debug_assert!(
            named.is_none() || changes.len() == 1,
            "a named key, one change"
        );
        let hashed = named.or_else(|| match &changes[..] {
            [change] => Some(st.prefetch(points, change.key())),
            _ => None,
        });
        // What the log and the change feed record: no delete that changes nothing, and a
        // delete of an expired nut as an expiry.
        st.settle(points, &mut changes, now, hashed);
        let in_flight = |done, ticket, compact| InFlight {
            tree: self,
            kept,
            done,
            ticket,
            compact,
        };
        if changes.is_empty() {
            let done = Committed {
                version: st.seq,
                removed: 0,
            };
            return Ok(in_flight(done, None, false));
        }
        let Some(version) = st.seq.checked_add(1).filter(|v| *v <= MAX_VERSION) else {
            return Err(Error::VersionsExhausted { version: st.seq });
        };
        for change in &mut changes {
            if let Change::Put(rec) = change {
                rec.stamp(version, now);
            }
        }
        // Index extractors run on the new records before anything is logged or applied,
        // so one that panics fails this commit alone.
        let keys = st.extract(&changes)?;
        let (Some(d), Some(arrival)) = (&self.inner.durable, &mut arrival) else {
            st.seq = version;
            let removed = self.apply_commit(&mut st, changes, keys, version, now, hashed);
            return Ok(in_flight(Committed { version, removed }, None, false));
        };
        // `commit` keeps other writers out; readers of the state need not wait for the log.
        drop(st);
        let ticket = d.append(version, &changes, arrival)?;
        st = self.state();
        st.seq = version;
        let removed = if d.applies_after_sync() {
            // Visible only once durable: the log's leader applies it after its fsync.
            let removed = st.predict_removed(&changes, now);
            st.queue(ticket, version, changes, keys, now);
            // The fsync covering it may have landed before it was queued.
            let synced = d.synced();
            if synced >= ticket {
                self.apply_durable_locked(&mut st, synced);
            }
            removed
        } else {
            self.apply_commit(&mut st, changes, keys, version, now, hashed)
        };
        let compact = d.wants_compaction(st.live_bytes);
        drop(st);
        drop(serial);
        let ticket = d.waits().then_some(ticket);
        Ok(in_flight(Committed { version, removed }, ticket, compact))
    }

    /// Applies stamped changes (with their extracted index keys) to the indexes and
    /// announces them; returns how many deletes removed a visible nut.
    pub(super) fn apply_commit(
        &self,
        st: &mut State,
        changes: Changes,
        keys: Option<Box<Extracted>>,
        version: u64,
        now: u64,
        hashed: Option<u64>,
    ) -> usize {
        let listened = st.history.is_on() || !st.subscribers.is_empty();
        let mut feed = listened.then(|| st.history.buffer());
        // With results cached, note what this commit touches so it can drop them.
        let cache = &self.inner.cache;
        let caching = cache.in_use();
        let span = caching.then(|| key_span(&changes));
        if caching && !st.indexes.is_empty() {
            st.indexes.touched = Some(vec![Touched::default(); st.indexes.list.len()]);
        }
        // Held from before the first change is visible until what the commit touched is
        // dropped. Nothing can be cached meanwhile if nothing was before: a query stores
        // its result under the state lock, which this commit holds.
        let held = caching.then(|| cache.hold());
        let stamp = Stamp { version, now };
        let removed = st.apply(&self.inner.points, changes, stamp, keys, &mut feed, hashed);
        st.applied = version;
        // Queries that store results judge them by `st.applied`, under the state lock
        // (see `crate::cache`); this copy is for readers that take no lock.
        self.inner.applied.store(version, Ordering::Release);
        if let Some(held) = held {
            let touched = st.indexes.touched.take().map(|t| {
                st.indexes
                    .list
                    .iter()
                    .map(|s| Arc::clone(&s.name))
                    .zip(t)
                    .collect()
            });
            held.invalidate(&Changed {
                keys: span.as_ref().map(|(min, max)| (&**min, &**max)),
                indexes: touched,
            });
        } else {
            st.indexes.touched = None;
        }
        self.inner.items.store(st.index.len(), Ordering::Release);
        self.inner
            .ttl_items
            .store(st.expiry.len(), Ordering::Release);
        match feed {
            Some(feed) => {
                if !st.subscribers.is_empty() {
                    st.subscribers.publish(version, &feed);
                }
                st.history.push(version, feed);
            }
            None => st.history.pass(version),
        }
        removed
    }

    /// Applies, in version order, the pending `Always` commits the log position `synced`
    /// covers (called by the log's leader after its fsync).
    pub(super) fn apply_durable(&self, synced: u64) {
        let mut st = self.state();
        self.apply_durable_locked(&mut st, synced);
    }

    fn apply_durable_locked(&self, st: &mut State, synced: u64) {
        while let Some(commit) = st.next_durable(synced) {
            self.apply_commit(
                st,
                commit.changes,
                commit.keys,
                commit.version,
                commit.now,
                None,
            );
        }
    }
}
