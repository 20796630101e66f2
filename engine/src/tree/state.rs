//! [`State`]: the in-memory view a commit is applied to (the ordered index, the writer of
//! the lock-free point index, TTLs, subscribers, secondary indexes) and the `Always`
//! commits logged but waiting for their fsync, which every commit built meanwhile must
//! see. Held behind the tree's state lock; nothing here waits or runs user code, except
//! index extractors in [`State::extract`] and [`State::add_index`], which catch a panic
//! and change nothing.

use std::collections::{BTreeSet, HashMap, VecDeque};

use crate::events::Subscribers;
use crate::feed::{self, History};
use crate::index::{Index, Keyed};
use crate::points::{self, Hashed, Points};
use crate::record::{Change, Changes, Record};
use crate::secondary::{Extract, Extracted, Indexes};
use crate::storage::Recovered;
use crate::Result;

/// Aborts the process if dropped while a panic unwinds. Applying a commit must never stop
/// half way: the point index's slots and a multi-change commit's overlay borrow records
/// that the unapplied changes would drop on the way out, and readers would follow them.
/// (User code runs inside `apply` only as secondary-index extractors, whose panics, and
/// their payloads' panics, are caught: `crate::secondary`.)
struct NoUnwind;

impl Drop for NoUnwind {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!(
                "acorn: a panic while applying a commit; aborting rather than leaving \
                 readers with freed records"
            );
            std::process::abort();
        }
    }
}

/// The version a commit is applied at, and its time.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Stamp {
    pub(crate) version: u64,
    pub(crate) now: u64,
}

#[derive(Debug)]
pub(crate) struct State {
    /// Every live record, in key order. It owns the records the point index's slots
    /// point at (see `crate::points`): only `apply` and `load` change it, and every record
    /// they take out of it goes to `points.retire`, never straight to a drop.
    pub(crate) index: Index<Record>,
    /// The write half of `Inner::points`.
    pub(super) points: points::Writer,
    pub(super) live_bytes: u64,
    /// The last version handed out (logged, under `Always` perhaps not yet applied).
    pub(crate) seq: u64,
    /// The last version applied (visible).
    pub(crate) applied: u64,
    /// `Always` commits logged but not yet durable, hence not applied, in version order;
    /// the log's leader applies them once its fsync covers them.
    pub(super) pending: VecDeque<PendingCommit>,
    /// The newest pending change of each key in `pending`, so commits built meanwhile see
    /// the state they will be applied to.
    pub(super) pending_keys: HashMap<Box<[u8]>, Queued>,
    /// `(expires, key)` of every record with a TTL.
    pub(super) expiry: BTreeSet<(u64, Box<[u8]>)>,
    pub(super) subscribers: Subscribers,
    /// Named secondary indexes (none: nothing per item).
    pub(crate) indexes: Indexes,
    /// The recent changes an in-memory tree keeps for its change feed (none by default).
    pub(crate) history: History,
    /// Buffers for a commit's extracted index keys, reused from commit to commit.
    extracted: Option<Box<Extracted>>,
}

impl State {
    pub(super) fn new(points: points::Writer) -> Self {
        State {
            index: Index::default(),
            points,
            live_bytes: 0,
            seq: 0,
            applied: 0,
            pending: VecDeque::new(),
            pending_keys: HashMap::new(),
            expiry: BTreeSet::new(),
            subscribers: Subscribers::default(),
            indexes: Indexes::default(),
            history: History::new(0, 0),
            extracted: None,
        }
    }

    /// Version of the nut under `key` a commit built now would be applied after, if any:
    /// counting pending commits (what a write must see).
    pub(crate) fn latest_version(&self, key: &[u8], now: u64) -> Option<u64> {
        self.current(key)
            .filter(|r| !r.is_expired(now))
            .map(Record::version)
    }

    /// Version of the visible nut under `key`, if any: applied commits only (what every
    /// read sees).
    pub(crate) fn visible_version(&self, key: &[u8], now: u64) -> Option<u64> {
        self.index
            .get(key)
            .filter(|r| !r.is_expired(now))
            .map(Record::version)
    }

    /// The log position whose fsync applies the pending commit that last changed `key`, if
    /// one is waiting (`Always` only).
    pub(crate) fn pending_ticket(&self, key: &[u8]) -> Option<u64> {
        self.pending_keys.get(key).map(|q| q.ticket)
    }

    /// The record (even an expired one) a commit built now replaces under `key`, counting
    /// pending commits.
    fn current(&self, key: &[u8]) -> Option<&Record> {
        match self.pending_keys.get(key) {
            Some(queued) => queued.record.as_ref(),
            None => self.index.get(key),
        }
    }

    /// Whether a removal of `key` applied after everything pending finds a record, and
    /// whether that record's TTL has run out by `now`: as [`State::current`] would say, but
    /// an applied record is found through the point index (one probe, `hash` if known),
    /// not the B+tree, whose leaf search reads the keys of half a dozen records (each a
    /// cache miss when nobody read them lately).
    fn current_expired(
        &self,
        points: &Points,
        key: &[u8],
        hash: Option<u64>,
        now: u64,
    ) -> Option<bool> {
        match self.pending_keys.get(key) {
            Some(queued) => queued.record.as_ref().map(|r| r.is_expired(now)),
            None => {
                let hash = hash.unwrap_or_else(|| points.hash_of(key));
                let found = self.points.get_hashed(points, key, hash);
                found.map(|r| r.is_expired(now))
            }
        }
    }

    /// Settles a commit's changes against the state they will be applied to (pending
    /// commits and the commit's own earlier changes counted), so the log and the change
    /// feed record exactly what the commit does: a delete of a key with nothing under it
    /// changes nothing and is dropped; a delete of a nut whose TTL has run out by `now`
    /// becomes an expiry. A commit left with no change is no commit. Costs nothing for
    /// stashes; a toss looks its key up once in the point index (`hashed`: its key's hash,
    /// from [`State::prefetch`]), as deciding whether it is a no-op always did.
    #[inline]
    pub(super) fn settle(
        &self,
        points: &Points,
        changes: &mut Changes,
        now: u64,
        hashed: Option<u64>,
    ) {
        // Inlined into the commit, so a stash pays a check, not a call.
        if !changes.iter().all(|c| matches!(c, Change::Put(_))) {
            self.settle_removals(points, changes, now, hashed);
        }
    }

    /// [`State::settle`] for a commit with a delete or an expiry in it.
    fn settle_removals(
        &self,
        points: &Points,
        changes: &mut Changes,
        now: u64,
        hashed: Option<u64>,
    ) {
        #[derive(Clone, Copy)]
        enum Verdict {
            Keep,
            Drop,
            Delete,
            Expire,
        }
        let of = |key: &[u8], hash: Option<u64>| match self.current_expired(points, key, hash, now)
        {
            None => Verdict::Drop,
            Some(true) => Verdict::Expire,
            Some(false) => Verdict::Delete,
        };
        /// The change as the commit makes it (`None`: none at all).
        fn settled(change: Change, verdict: Verdict) -> Option<Change> {
            match (change, verdict) {
                (_, Verdict::Drop) => None,
                (Change::Delete(key) | Change::Expire(key), Verdict::Expire) => {
                    Some(Change::Expire(key))
                }
                (Change::Delete(key) | Change::Expire(key), Verdict::Delete) => {
                    Some(Change::Delete(key))
                }
                (change, _) => Some(change),
            }
        }
        if changes.len() == 1 {
            // A toss: settled in place (its change list is inline), nothing allocated.
            let verdict = of(changes[0].key(), hashed);
            let change = changes.pop().and_then(|c| settled(c, verdict));
            changes.extend(change);
            return;
        }
        // What the commit's earlier changes left under each key: `Some(expired?)` for a
        // record, `None` for nothing.
        let mut within: HashMap<&[u8], Option<bool>> = HashMap::new();
        let verdicts: Vec<Verdict> = changes
            .iter()
            .map(|c| match c {
                Change::Put(rec) => {
                    within.insert(rec.key(), Some(rec.is_expired(now)));
                    Verdict::Keep
                }
                Change::Delete(key) | Change::Expire(key) => {
                    let verdict = match within.get(&**key) {
                        Some(None) => Verdict::Drop,
                        Some(Some(true)) => Verdict::Expire,
                        Some(Some(false)) => Verdict::Delete,
                        None => of(key, None),
                    };
                    within.insert(key, None);
                    verdict
                }
            })
            .collect();
        let old = std::mem::take(changes);
        for (change, verdict) in old.into_iter().zip(verdicts) {
            changes.extend(settled(change, verdict));
        }
    }

    /// Runs every index's extractor on a commit's new records (stamped, before they are
    /// logged): the keys [`State::apply`] will index them under (`None`: the tree has no
    /// index). A panicking extractor fails the commit
    /// ([`crate::Error::ExtractorPanicked`]) before anything is written.
    #[inline]
    pub(super) fn extract(&mut self, changes: &Changes) -> Result<Option<Box<Extracted>>> {
        // Inlined into the commit, so a tree without indexes pays a check, not a call.
        if self.indexes.is_empty() {
            return Ok(None);
        }
        self.indexes.extract(changes, &mut self.extracted).map(Some)
    }

    /// How many of `changes` will delete a visible nut when applied after everything
    /// pending (what `apply` will count).
    pub(super) fn predict_removed(&self, changes: &Changes, now: u64) -> usize {
        let mut within: HashMap<&[u8], bool> = HashMap::new();
        let mut removed = 0;
        for change in changes {
            let key = change.key();
            let visible = within
                .get(key)
                .copied()
                .unwrap_or_else(|| self.latest_version(key, now).is_some());
            match change {
                Change::Put(rec) => {
                    if changes.len() > 1 {
                        within.insert(key, !rec.is_expired(now));
                    }
                }
                Change::Delete(_) | Change::Expire(_) => {
                    removed += usize::from(visible);
                    if changes.len() > 1 {
                        within.insert(key, false);
                    }
                }
            }
        }
        removed
    }

    /// Queues a logged `Always` commit (with its extracted index keys) until its fsync
    /// lands.
    pub(super) fn queue(
        &mut self,
        ticket: u64,
        version: u64,
        changes: Changes,
        keys: Option<Box<Extracted>>,
        now: u64,
    ) {
        for change in &changes {
            let record = match change {
                Change::Put(rec) => Some(rec.clone()),
                Change::Delete(_) | Change::Expire(_) => None,
            };
            let queued = Queued {
                version,
                ticket,
                record,
            };
            self.pending_keys.insert(Box::from(change.key()), queued);
        }
        self.pending.push_back(PendingCommit {
            ticket,
            version,
            changes,
            keys,
            now,
        });
    }

    /// Takes the oldest pending commit if the log position `synced` covers it.
    pub(super) fn next_durable(&mut self, synced: u64) -> Option<PendingCommit> {
        if self.pending.front()?.ticket > synced {
            return None;
        }
        let commit = self.pending.pop_front()?;
        for change in &commit.changes {
            if self
                .pending_keys
                .get(change.key())
                .is_some_and(|q| q.version == commit.version)
            {
                self.pending_keys.remove(change.key());
            }
        }
        Some(commit)
    }

    pub(super) fn expired_count(&self, now: u64) -> usize {
        if self.expiry.is_empty() {
            return 0;
        }
        let end: (u64, Box<[u8]>) = (now.saturating_add(1), Box::default());
        self.expiry.range(..end).count()
    }

    /// The hash of a single change's key, with its hash-index slot fetched meanwhile (see
    /// `points::Writer::prefetch`), for [`State::settle`] and [`State::apply`].
    #[inline]
    pub(super) fn prefetch(&self, points: &Points, key: &[u8]) -> u64 {
        self.points.prefetch(points, key)
    }

    /// Applies the changes of the commit at `version` (already stamped) to both indexes
    /// (and every secondary index, under the `keys` [`State::extract`] took for the new
    /// records; the records they replace have their keys extracted again, a panic there
    /// only costing a walk). Returns how many deletes removed a visible item, and fills
    /// `feed` with the public form of each change when someone reads it (the history, a
    /// subscriber). Gives the keys' buffers back for the next commit.
    #[allow(unsafe_code)]
    pub(crate) fn apply(
        &mut self,
        points: &Points,
        changes: Changes,
        Stamp { version, now }: Stamp,
        keys: Option<Box<Extracted>>,
        feed: &mut Option<Vec<feed::Change>>,
        hashed: Option<u64>,
    ) -> usize {
        let _whole = NoUnwind;
        // Several changes become visible to point readers at once (see `points`).
        let overlay = changes.len() > 1;
        // Each key hashed once: for the overlay, then for its slot.
        let hashed_all = if overlay {
            // SAFETY: each `Put` goes into the B+tree below, which gives records up only
            // through `retire` (see `crate::points`).
            unsafe { self.points.begin_overlay(points, &changes) }
        } else {
            Hashed::default()
        };
        let mut removed = 0;
        let mut changes = changes;
        for (at, change) in changes.drain(..).enumerate() {
            let (key, expire) = match change {
                Change::Put(rec) => {
                    if let Some(out) = feed {
                        out.push(feed::Change::Stashed(rec.to_nut()));
                    }
                    let expiry =
                        (rec.expires() != 0).then(|| (rec.expires(), Box::from(rec.key())));
                    let indexed = (!self.indexes.is_empty()).then(|| rec.as_ptr());
                    self.live_bytes += rec.payload_len() as u64;
                    let old = if hashed_all.is_superseded(at) {
                        // Overridden later in this commit: never in a slot.
                        self.index.insert(rec)
                    } else {
                        let hash = hashed_all.hashes.get(at).copied().or(hashed);
                        self.put_both(points, rec, hash)
                    };
                    if let Some(new) = indexed {
                        let keys = keys.as_ref().map(|k| k.change(at));
                        // SAFETY: the record was just put into the B+tree, which holds it
                        // until a later change replaces it (none does during this call).
                        // Borrowed, not cloned: no reference-count increment and decrement.
                        let new = unsafe { Record::borrow_raw(new) };
                        self.indexes.put(old.as_ref(), &new, keys);
                    }
                    if let Some(old) = old {
                        self.forget(&old);
                        // Point readers may still be reading it.
                        self.points.retire(old);
                    }
                    // After forgetting the old record: both may expire at the same instant.
                    if let Some(entry) = expiry {
                        self.expiry.insert(entry);
                    }
                    continue;
                }
                Change::Delete(key) => (key, false),
                Change::Expire(key) => (key, true),
            };
            let old = if hashed_all.is_superseded(at) {
                self.index.remove(&key)
            } else {
                let hash = hashed_all.hashes.get(at).copied().or(hashed);
                let old = self.take_both(points, &key, hash);
                // A key changed earlier in this commit: the B+tree may hold a record its
                // slot never pointed at.
                if old.is_none() && overlay {
                    self.index.remove(&key)
                } else {
                    old
                }
            };
            if let Some(old) = old {
                if !self.indexes.is_empty() {
                    self.indexes.delete(&old);
                }
                self.forget(&old);
                let expired = expire || old.is_expired(now);
                removed += usize::from(!expired);
                if let Some(out) = feed {
                    out.push(feed::Change::removal(&old, version, expired));
                }
                self.points.retire(old);
            }
        }
        if overlay {
            self.points.end_overlay(points);
        }
        crate::record::give_back(changes);
        if keys.is_some() {
            self.extracted = keys;
        }
        removed
    }

    /// Puts `rec` into both indexes: the hash index finds the old record, the B+tree then
    /// only has to find that pointer in its leaf (no key comparisons there). Returns the
    /// record the B+tree gave up, for the caller to retire.
    #[inline]
    #[allow(unsafe_code)]
    fn put_both(&mut self, points: &Points, rec: Record, hash: Option<u64>) -> Option<Record> {
        // SAFETY: `rec` goes into the B+tree next, and every record the B+tree gives up
        // goes to `retire` (see `crate::points`).
        let put = unsafe {
            match hash {
                Some(hash) => self.points.put_hashed(points, &rec, hash),
                None => self.points.put(points, &rec),
            }
        };
        match put {
            Some(at) => match self.index.replace(|r| r.is_at(at), rec) {
                Ok(old) => Some(old),
                Err(rec) => self.index.insert(rec),
            },
            None => self.index.insert(rec),
        }
    }

    /// Removes `key` from both indexes, as `put_both` does; returns the record the B+tree
    /// gave up (found by the address its slot held).
    #[inline]
    fn take_both(&mut self, points: &Points, key: &[u8], hash: Option<u64>) -> Option<Record> {
        let taken = match hash {
            Some(hash) => self.points.remove_hashed(points, key, hash),
            None => self.points.remove(points, key),
        };
        taken.and_then(|at| self.index.remove_known(key, |r| r.is_at(at)))
    }

    #[inline]
    fn forget(&mut self, old: &Record) {
        self.live_bytes -= old.payload_len() as u64;
        if old.expires() != 0 {
            self.forget_expiry(old);
        }
    }

    #[cold]
    fn forget_expiry(&mut self, old: &Record) {
        self.expiry.remove(&(old.expires(), Box::from(old.key())));
    }

    /// Rebuilds the state from a snapshot and the commits logged after it.
    #[allow(unsafe_code)]
    pub(super) fn load(&mut self, points: &Points, recovered: Recovered, now: u64) {
        for rec in recovered.records {
            self.live_bytes += rec.payload_len() as u64;
            if rec.expires() != 0 {
                self.expiry.insert((rec.expires(), rec.key().into()));
            }
            // SAFETY: as in `apply`.
            unsafe { self.points.put(points, &rec) };
            if let Some(old) = self.index.insert(rec) {
                self.forget(&old);
                self.points.retire(old);
            }
        }
        let mut no_feed = None;
        // No index yet (they are added after): nothing to extract.
        for (version, changes) in recovered.frames {
            self.apply(
                points,
                Changes::from_vec(changes),
                Stamp { version, now },
                None,
                &mut no_feed,
                None,
            );
        }
        self.seq = recovered.seq;
        self.applied = recovered.seq;
    }

    /// Adds (or replaces) the secondary index `name`, built from every record stored now.
    /// A panicking extractor changes nothing ([`crate::Error::ExtractorPanicked`]).
    pub(super) fn add_index(&mut self, name: &str, extract: Extract) -> Result<()> {
        let records = self.index.clone();
        let mut cursor = records.cursor(std::ops::Bound::Unbounded);
        let all = std::iter::from_fn(|| {
            let rec = cursor.peek().cloned();
            cursor.advance();
            rec
        })
        .collect::<Vec<_>>();
        self.indexes.add(name, extract, all.iter())
    }

    /// Keys of records whose TTL ran out by `now` (keys a pending commit rewrites are
    /// left to it).
    pub(crate) fn expired_keys(&self, now: u64) -> Vec<Box<[u8]>> {
        let end: (u64, Box<[u8]>) = (now.saturating_add(1), Box::default());
        self.expiry
            .range(..end)
            .filter(|(_, k)| !self.pending_keys.contains_key(k))
            .map(|(_, k)| k.clone())
            .collect()
    }
}

/// The newest pending change of one key.
#[derive(Debug)]
pub(super) struct Queued {
    /// The version of the commit that makes it.
    version: u64,
    /// That commit's log position (see [`PendingCommit::ticket`]).
    ticket: u64,
    /// The record it stores (`None`: a delete).
    record: Option<Record>,
}

/// An `Always` commit logged and waiting for its fsync before it is applied.
#[derive(Debug)]
pub(super) struct PendingCommit {
    /// Its log position: durable once the log's `synced` reaches it.
    pub(super) ticket: u64,
    pub(super) version: u64,
    pub(super) changes: Changes,
    /// Its index keys, extracted when it was built.
    pub(super) keys: Option<Box<Extracted>>,
    /// The time it was built at (judges expiry for its events, as an immediate apply would).
    pub(super) now: u64,
}

#[cfg(all(test, unix))]
#[path = "state_tests.rs"]
mod tests;
