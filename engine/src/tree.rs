//! [`Tree`]: the ordered in-memory index with metadata, the lock-free point index beside
//! it, and the one commit path that every write (stash, toss, batch, transaction, purge)
//! goes through.
//!
//! Locks: `state` (the ordered index, TTLs, subscribers) is held by a writer only while it
//! builds and applies a commit in memory, and by scans for one `Arc` clone. A durable
//! writer also holds `commit` across its log append, which runs outside `state`, so no
//! reader ever waits for the disk. Point reads take no lock at all (see
//! [`crate::points`]), and no user closure runs under either lock.

use std::collections::{BTreeSet, HashMap, VecDeque};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, Weak};
use std::time::Duration;

use crate::cache::{Changed, QueryCache};
use crate::clock::{Clock, SystemClock};
use crate::events::{Event, Subscribers, Subscription, DEFAULT_SUBSCRIBER_CAPACITY};
use crate::index::{Index, Keyed};
use crate::points::{self, Points};

use crate::limits::MAX_VERSION;
use crate::nut::{to_nanos, Nut, NutRef};
use crate::record::{check_key, check_value, Change, Changes, Record};
use crate::secondary::{Extract, Indexes, Touched};
use crate::stats::{Counters, Op, Stats};
use crate::storage::{Durable, Options, Recovered, RecoveryMode, SyncPolicy};
use crate::{Error, Result};

/// An embedded, ordered document store. Cheap to clone (an `Arc` inside); share it freely
/// between threads.
#[derive(Clone, Debug)]
pub struct Tree {
    pub(crate) inner: Arc<Inner>,
}

#[derive(Debug)]
pub(crate) struct Inner {
    state: Mutex<State>,
    /// Serializes durable commits across the log append (held outside `state`).
    commit: Mutex<()>,
    points: Points,
    /// Items in the index as of the last applied commit, and how many of them carry a
    /// TTL: `len()` reads these without a lock when nothing can expire.
    items: AtomicUsize,
    ttl_items: AtomicUsize,
    clock: Arc<dyn Clock>,
    pub(crate) counters: Counters,
    pub(crate) durable: Option<Durable>,
    /// Results of keyable queries (see [`crate::cache`]).
    pub(crate) cache: QueryCache,
    /// `State::applied`, published (before the cache is consulted) by every commit.
    pub(crate) applied: AtomicU64,
}

#[derive(Debug)]
pub(crate) struct State {
    pub(crate) index: Index<Record>,
    /// The write half of `Inner::points`.
    points: points::Writer,
    live_bytes: u64,
    /// The last version handed out (logged, under `Always` perhaps not yet applied).
    pub(crate) seq: u64,
    /// The last version applied (visible).
    pub(crate) applied: u64,
    /// `Always` commits logged but not yet durable, hence not applied, in version order;
    /// the log's leader applies them once its fsync covers them.
    pending: VecDeque<PendingCommit>,
    /// The newest pending change of each key in `pending`, with its version (`None`: a
    /// delete), so commits built meanwhile see the state they will be applied to.
    pending_keys: HashMap<Box<[u8]>, (u64, Option<Record>)>,
    /// `(expires, key)` of every record with a TTL.
    expiry: BTreeSet<(u64, Box<[u8]>)>,
    subscribers: Subscribers,
    /// Named secondary indexes (none: nothing per item).
    pub(crate) indexes: Indexes,
}

impl State {
    fn new(points: points::Writer) -> Self {
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
        }
    }

    /// Version of the visible nut under `key`, if any, counting pending commits.
    pub(crate) fn visible_version(&self, key: &[u8], now: u64) -> Option<u64> {
        let rec = match self.pending_keys.get(key) {
            Some((_, pending)) => pending.as_ref(),
            None => self.index.get(key),
        };
        rec.filter(|r| !r.is_expired(now)).map(Record::version)
    }

    /// Whether a record (even an expired one) is stored under `key`, counting pending
    /// commits: a delete of an absent key changes nothing.
    fn present(&self, key: &[u8]) -> bool {
        match self.pending_keys.get(key) {
            Some((_, pending)) => pending.is_some(),
            None => self.index.get(key).is_some(),
        }
    }

    /// How many of `changes` will delete a visible nut when applied after everything
    /// pending (what `apply` will count).
    fn predict_removed(&self, changes: &Changes, now: u64) -> usize {
        let mut within: HashMap<&[u8], bool> = HashMap::new();
        let mut removed = 0;
        for change in changes {
            let key = change.key();
            let visible = within
                .get(key)
                .copied()
                .unwrap_or_else(|| self.visible_version(key, now).is_some());
            match change {
                Change::Put(rec) => {
                    if changes.len() > 1 {
                        within.insert(key, !rec.is_expired(now));
                    }
                }
                Change::Delete(_) => {
                    removed += usize::from(visible);
                    if changes.len() > 1 {
                        within.insert(key, false);
                    }
                }
            }
        }
        removed
    }

    /// Queues a logged `Always` commit until its fsync lands.
    fn queue(&mut self, ticket: u64, version: u64, changes: Changes, now: u64) {
        for change in &changes {
            let newest = match change {
                Change::Put(rec) => Some(rec.clone()),
                Change::Delete(_) => None,
            };
            self.pending_keys
                .insert(Box::from(change.key()), (version, newest));
        }
        self.pending.push_back(PendingCommit {
            ticket,
            version,
            changes,
            now,
        });
    }

    /// Takes the oldest pending commit if the log position `synced` covers it.
    fn next_durable(&mut self, synced: u64) -> Option<PendingCommit> {
        if self.pending.front()?.ticket > synced {
            return None;
        }
        let commit = self.pending.pop_front()?;
        for change in &commit.changes {
            if self
                .pending_keys
                .get(change.key())
                .is_some_and(|(v, _)| *v == commit.version)
            {
                self.pending_keys.remove(change.key());
            }
        }
        Some(commit)
    }

    fn expired_count(&self, now: u64) -> usize {
        if self.expiry.is_empty() {
            return 0;
        }
        let end: (u64, Box<[u8]>) = (now.saturating_add(1), Box::default());
        self.expiry.range(..end).count()
    }

    /// Applies changes already stamped with `seq` to both indexes. Returns how many deletes
    /// removed a visible item, and fills `events` when someone listens.
    pub(crate) fn apply(
        &mut self,
        points: &Points,
        changes: Changes,
        now: u64,
        events: &mut Option<Vec<Event>>,
    ) -> usize {
        let guard = crossbeam_epoch::pin();
        // Several changes become visible to point readers at once (see `points`).
        let overlay = changes.len() > 1;
        if overlay {
            self.points.begin_overlay(points, &changes, &guard);
        }
        let mut removed = 0;
        for change in changes {
            match change {
                Change::Put(rec) => {
                    if let Some(ev) = events {
                        ev.push(Event::Stashed {
                            key: rec.view().key.to_owned(),
                            version: rec.version(),
                        });
                    }
                    let expiry =
                        (rec.expires() != 0).then(|| (rec.expires(), Box::from(rec.key())));
                    let indexed = (!self.indexes.is_empty()).then(|| rec.clone());
                    self.live_bytes += rec.payload_len() as u64;
                    // The hash index finds the old record; the B+tree then only has to
                    // find that pointer in its leaf (no key comparisons there).
                    let old = match self.points.put(points, rec.clone(), &guard) {
                        Some(at) => match self.index.replace(|r| r.is_at(at), rec) {
                            Ok(old) => Some(old),
                            Err(rec) => self.index.insert(rec),
                        },
                        None => self.index.insert(rec),
                    };
                    if let Some(new) = indexed {
                        self.indexes.put(old.as_ref(), &new);
                    }
                    if let Some(old) = old {
                        self.forget(&old);
                    }
                    // After forgetting the old record: both may expire at the same instant.
                    if let Some(entry) = expiry {
                        self.expiry.insert(entry);
                    }
                }
                Change::Delete(key) => {
                    // As for overwrites: the hash index finds the record, the leaf is
                    // searched by its address.
                    let old = self
                        .points
                        .remove(points, &key, &guard)
                        .and_then(|at| self.index.remove_known(&key, |r| r.is_at(at)));
                    if let Some(old) = old {
                        if !self.indexes.is_empty() {
                            self.indexes.delete(&old);
                        }
                        self.forget(&old);
                        let expired = old.is_expired(now);
                        removed += usize::from(!expired);
                        if let Some(ev) = events {
                            let key = old.view().key.to_owned();
                            ev.push(if expired {
                                Event::Expired { key }
                            } else {
                                Event::Tossed { key }
                            });
                        }
                    }
                }
            }
        }
        if overlay {
            self.points.end_overlay(points, &guard);
        }
        removed
    }

    fn forget(&mut self, old: &Record) {
        self.live_bytes -= old.payload_len() as u64;
        if old.expires() != 0 {
            self.expiry.remove(&(old.expires(), Box::from(old.key())));
        }
    }

    /// Rebuilds the state from a snapshot and the commits logged after it.
    fn load(&mut self, points: &Points, recovered: Recovered, now: u64) {
        let guard = crossbeam_epoch::pin();
        for rec in recovered.records {
            self.live_bytes += rec.payload_len() as u64;
            if rec.expires() != 0 {
                self.expiry.insert((rec.expires(), rec.key().into()));
            }
            self.points.put(points, rec.clone(), &guard);
            if let Some(old) = self.index.insert(rec) {
                self.forget(&old);
            }
        }
        let mut no_events = None;
        for (_, changes) in recovered.frames {
            self.apply(points, Changes::from_vec(changes), now, &mut no_events);
        }
        self.seq = recovered.seq;
        self.applied = recovered.seq;
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

/// The smallest and largest key a commit changes.
fn key_span(changes: &Changes) -> (Box<[u8]>, Box<[u8]>) {
    let mut keys = changes.iter().map(Change::key);
    let first = keys.next().unwrap_or_default();
    let (min, max) = keys.fold((first, first), |(lo, hi), k| (lo.min(k), hi.max(k)));
    (min.into(), max.into())
}

/// Index names must be non-empty.
fn check_index_name(name: &str) -> Result<()> {
    if name.is_empty() {
        return Err(Error::InvalidKey("an index name must not be empty".into()));
    }
    Ok(())
}

/// An `Always` commit logged and waiting for its fsync before it is applied.
#[derive(Debug)]
struct PendingCommit {
    /// Its log position: durable once the log's `synced` reaches it.
    ticket: u64,
    version: u64,
    changes: Changes,
    /// The time it was built at (judges expiry for its events, as an immediate apply would).
    now: u64,
}

/// The result of one commit.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Committed {
    pub(crate) version: u64,
    pub(crate) removed: usize,
}

/// A commit logged and (except under `Always`) applied, whose writer may still have to
/// wait for its fsync.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Prepared {
    pub(crate) done: Committed,
    /// The log position to wait for (`Always`, `Group`).
    pub(crate) ticket: Option<u64>,
    /// The log outgrew the live data: compact once the commit is durable.
    pub(crate) compact: bool,
}

/// Configures and opens a [`Tree`].
#[derive(Debug, Clone)]
pub struct TreeBuilder {
    path: Option<PathBuf>,
    clock: Arc<dyn Clock>,
    options: Options,
    indexes: Vec<NamedExtract>,
    query_cache: usize,
}

/// Query results a tree caches by default ([`TreeBuilder::query_cache`]).
pub const DEFAULT_QUERY_CACHE: usize = 64;

/// An index's name and extractor, as the builder keeps them.
#[derive(Clone)]
struct NamedExtract(String, Extract);

impl std::fmt::Debug for NamedExtract {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("Index").field(&self.0).finish()
    }
}

/// Wraps a user's extractor: its key bytes go into the caller's reused buffer.
fn erase<K: AsRef<[u8]>>(
    extract: impl Fn(&NutRef<'_>) -> Option<K> + Send + Sync + 'static,
) -> Extract {
    Arc::new(
        move |nut: &NutRef<'_>, out: &mut Vec<u8>| match extract(nut) {
            Some(k) => {
                out.extend_from_slice(k.as_ref());
                true
            }
            None => false,
        },
    )
}

impl Default for TreeBuilder {
    fn default() -> Self {
        Self {
            path: None,
            clock: Arc::new(SystemClock),
            options: Options::default(),
            indexes: Vec::new(),
            query_cache: DEFAULT_QUERY_CACHE,
        }
    }
}

impl TreeBuilder {
    /// Makes the tree durable in this directory (created if missing).
    #[must_use]
    pub fn path(mut self, path: impl AsRef<Path>) -> Self {
        self.path = Some(path.as_ref().to_path_buf());
        self
    }

    /// When a durable write is acknowledged; see [`SyncPolicy`]. Default: `Always`.
    #[must_use]
    pub fn sync(mut self, policy: SyncPolicy) -> Self {
        self.options.sync = policy;
        self
    }

    /// What to do when a data file is damaged or missing. Default: refuse to open.
    #[must_use]
    pub fn recovery(mut self, mode: RecoveryMode) -> Self {
        self.options.recovery = mode;
        self
    }

    /// Compact automatically when the log grows past `factor` × the live data (and past
    /// 4 MiB). Default 4; 0 turns automatic compaction off.
    #[must_use]
    pub fn compact_factor(mut self, factor: u32) -> Self {
        self.options.compact_factor = factor;
        self
    }

    /// Accepted so code written for AcornDB's builder compiles; it changes nothing. The
    /// engine keeps every item in memory and reads hand out shared handles, so there is no
    /// page or object cache to size (a decoded-document cache is the lab's `cached`
    /// variant, in front of the tree).
    #[must_use]
    pub fn cache_capacity(self, _items: usize) -> Self {
        self
    }

    /// Adds a secondary index named `name`: `extract` gives each nut's index key (or
    /// `None` to leave it out), as bytes compared lexicographically ([`crate::IndexKey`]
    /// encodes numbers so). A durable tree keeps no index on disk: it is built at open from
    /// the recovered items (one extraction per item plus a sorted load; measured in
    /// docs/design.md), so an index must be given on every open. See [`Tree::index`] for
    /// what `extract` must be.
    #[must_use]
    pub fn index<K: AsRef<[u8]>>(
        mut self,
        name: impl Into<String>,
        extract: impl Fn(&NutRef<'_>) -> Option<K> + Send + Sync + 'static,
    ) -> Self {
        self.indexes.push(NamedExtract(name.into(), erase(extract)));
        self
    }

    /// How many query results the tree caches (default [`DEFAULT_QUERY_CACHE`]; 0 turns
    /// the cache off). See [`crate::Query`] for which queries are cached.
    #[must_use]
    pub fn query_cache(mut self, entries: usize) -> Self {
        self.query_cache = entries;
        self
    }

    /// Routes every change to the directory through `io`, which fails calls on purpose
    /// (feature `fault-injection`; for tests, not part of the supported API).
    #[cfg(any(test, feature = "fault-injection"))]
    #[doc(hidden)]
    #[must_use]
    pub fn io(mut self, io: Arc<crate::storage::faults::FaultyIo>) -> Self {
        self.options.io = io;
        self
    }

    /// Lets automatic compaction start on a log this short (feature `fault-injection`;
    /// tests use tiny logs).
    #[cfg(any(test, feature = "fault-injection"))]
    #[doc(hidden)]
    #[must_use]
    pub fn compact_min_bytes(mut self, bytes: u64) -> Self {
        self.options.compact_min_bytes = bytes;
        self
    }

    /// The clock used for timestamps and TTLs (tests use [`crate::ManualClock`]).
    #[must_use]
    pub fn clock(mut self, clock: impl Clock + 'static) -> Self {
        self.clock = Arc::new(clock);
        self
    }

    /// Opens the tree. In memory this cannot fail. With a path it creates the directory
    /// when missing, takes its lock and recovers its contents (snapshot, then the log);
    /// errors: [`crate::Error::Locked`] when another tree has it open,
    /// [`crate::Error::Corrupt`] when a file is damaged or missing (see
    /// [`RecoveryMode`]), [`crate::Error::UnsupportedFormat`], [`crate::Error::Io`].
    /// Cost: reading every byte of the snapshot and the log once (about 0.4 s for
    /// 1M × 100 B on a 2-core VM).
    pub fn open(self) -> Result<Tree> {
        let (points, writer) = points::new();
        let mut state = State::new(writer);
        let durable = match &self.path {
            None => None,
            Some(path) => {
                let (durable, recovered) = Durable::open(path, self.options.clone())?;
                state.load(&points, recovered, to_nanos(self.clock.now()));
                Some(durable)
            }
        };
        for NamedExtract(name, extract) in self.indexes {
            check_index_name(&name)?;
            let records = state.index.clone();
            let mut cursor = records.cursor(std::ops::Bound::Unbounded);
            state.indexes.add(
                &name,
                extract,
                std::iter::from_fn(|| {
                    let rec = cursor.peek().cloned();
                    cursor.advance();
                    rec
                })
                .collect::<Vec<_>>()
                .iter(),
            );
        }
        Ok(Tree::from_parts(
            state,
            points,
            self.clock,
            durable,
            self.query_cache,
        ))
    }
}

impl Tree {
    /// A new, empty, in-memory tree.
    pub fn open_memory() -> Tree {
        let (points, writer) = points::new();
        Tree::from_parts(
            State::new(writer),
            points,
            Arc::new(SystemClock),
            None,
            DEFAULT_QUERY_CACHE,
        )
    }

    fn from_parts(
        state: State,
        points: Points,
        clock: Arc<dyn Clock>,
        durable: Option<Durable>,
        query_cache: usize,
    ) -> Tree {
        let inner = Arc::new_cyclic(|weak: &Weak<Inner>| {
            if let Some(d) = &durable {
                // After each fsync the log's leader applies the `Always` commits it covers.
                let tree = weak.clone();
                d.set_hook(Box::new(move |synced| {
                    if let Some(inner) = tree.upgrade() {
                        Tree { inner }.apply_durable(synced);
                    }
                }));
            }
            Inner {
                applied: AtomicU64::new(state.applied),
                cache: QueryCache::new(query_cache),
                items: AtomicUsize::new(state.index.len()),
                ttl_items: AtomicUsize::new(state.expiry.len()),
                state: Mutex::new(state),
                commit: Mutex::new(()),
                points,
                clock,
                counters: Counters::default(),
                durable,
            }
        });
        Tree { inner }
    }

    /// Opens (or creates) a durable tree in `path` with the default [`SyncPolicy::Always`].
    pub fn open(path: impl AsRef<Path>) -> Result<Tree> {
        Self::builder().path(path).open()
    }

    /// A builder for a durable or specially configured tree.
    ///
    /// ```
    /// use std::time::Duration;
    /// use acorn::{SyncPolicy, Tree};
    /// let dir = tempfile::tempdir()?;
    /// let tree = Tree::builder()
    ///     .path(dir.path())
    ///     .sync(SyncPolicy::Group { max_delay: Duration::from_millis(2) })
    ///     .open()?;
    /// tree.stash("k", b"v")?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn builder() -> TreeBuilder {
        TreeBuilder::default()
    }

    pub(crate) fn now(&self) -> u64 {
        to_nanos(self.inner.clock.now())
    }

    /// The in-memory state; held only for short, bounded work (never user code, never I/O).
    pub(crate) fn state(&self) -> MutexGuard<'_, State> {
        self.inner
            .state
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// Held by durable writers across the log append, and by compaction.
    fn commit_lock(&self) -> Option<MutexGuard<'_, ()>> {
        self.inner.durable.as_ref().map(|_| {
            self.inner
                .commit
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
        })
    }

    pub(crate) fn tally(&self, op: Op, n: u64) {
        self.inner.counters.add(op, n);
    }

    /// The single write path. `build` runs under the state lock and returns the changes
    /// (or an error, e.g. a transaction's failed validation); they get the next version,
    /// go to the log in durable mode, are applied, and are announced to subscribers.
    pub(crate) fn commit_with(
        &self,
        build: impl FnOnce(&State, u64) -> Result<Changes>,
    ) -> Result<Committed> {
        let prepared = self.prepare(build)?;
        if let (Some(d), Some(ticket)) = (&self.inner.durable, prepared.ticket) {
            d.wait(ticket)?;
        }
        self.after_commit(prepared, false);
        Ok(prepared.done)
    }

    /// The part of a commit that never waits for the disk: builds, stamps and logs it, and
    /// applies it (under `Always` queues it until its fsync lands instead). The caller then
    /// waits for `ticket`, blocking ([`Tree::commit_with`]) or as a future.
    pub(crate) fn prepare(
        &self,
        build: impl FnOnce(&State, u64) -> Result<Changes>,
    ) -> Result<Prepared> {
        let mut arrival = self.inner.durable.as_ref().map(Durable::arrive);
        let serial = self.commit_lock();
        let now = self.now();
        let mut st = self.state();
        let mut changes = build(&st, now)?;
        if changes.is_empty()
            || changes
                .iter()
                .all(|c| matches!(c, Change::Delete(k) if !st.present(k)))
        {
            return Ok(Prepared {
                done: Committed {
                    version: st.seq,
                    removed: 0,
                },
                ticket: None,
                compact: false,
            });
        }
        let Some(version) = st.seq.checked_add(1).filter(|v| *v <= MAX_VERSION) else {
            return Err(Error::VersionsExhausted { version: st.seq });
        };
        for change in &mut changes {
            if let Change::Put(rec) = change {
                rec.stamp(version, now);
            }
        }
        let (Some(d), Some(arrival)) = (&self.inner.durable, &mut arrival) else {
            st.seq = version;
            let removed = self.apply_commit(&mut st, changes, version, now);
            return Ok(Prepared {
                done: Committed { version, removed },
                ticket: None,
                compact: false,
            });
        };
        // `commit` keeps other writers out; readers of the state need not wait for the log.
        drop(st);
        let ticket = d.append(version, &changes, arrival)?;
        st = self.state();
        st.seq = version;
        let removed = if d.applies_after_sync() {
            // Visible only once durable: the log's leader applies it after its fsync.
            let removed = st.predict_removed(&changes, now);
            st.queue(ticket, version, changes, now);
            // The fsync covering it may have landed before it was queued.
            let synced = d.synced();
            if synced >= ticket {
                self.apply_durable_locked(&mut st, synced);
            }
            removed
        } else {
            self.apply_commit(&mut st, changes, version, now)
        };
        let compact = d.wants_compaction(st.live_bytes);
        drop(st);
        drop(serial);
        Ok(Prepared {
            done: Committed { version, removed },
            ticket: d.waits().then_some(ticket),
            compact,
        })
    }

    /// Runs the automatic compaction a commit asked for, once the commit is durable (in
    /// `background`, on a thread of its own). The commit is durable by now: a failed
    /// automatic compaction must not turn it into an error (a caller would retry a write
    /// that happened). The log still holds everything; the failure is counted in stats,
    /// and a disk fault poisons the log, so the next write reports it.
    pub(crate) fn after_commit(&self, prepared: Prepared, background: bool) {
        if !prepared.compact {
            return;
        }
        let tree = self.clone();
        let run = move || {
            if tree.compact_inner(false).is_err() {
                if let Some(d) = &tree.inner.durable {
                    d.note_failed_compaction();
                }
            }
        };
        if background {
            spawn_blocking(run);
        } else {
            run();
        }
    }

    /// Applies stamped changes to the indexes and announces them; returns how many deletes
    /// removed a visible nut.
    fn apply_commit(&self, st: &mut State, changes: Changes, version: u64, now: u64) -> usize {
        let mut events = (!st.subscribers.is_empty()).then(Vec::new);
        // With results cached, note what this commit touches so it can drop them.
        let cache = &self.inner.cache;
        let caching = cache.in_use();
        let keys = caching.then(|| key_span(&changes));
        if caching && !st.indexes.is_empty() {
            st.indexes.touched = Some(vec![Touched::default(); st.indexes.list.len()]);
        }
        let removed = st.apply(&self.inner.points, changes, now, &mut events);
        st.applied = version;
        // Published before the cache is looked at (see `crate::cache`).
        self.inner.applied.store(version, Ordering::SeqCst);
        if cache.in_use() {
            let touched = st.indexes.touched.take().map(|t| {
                st.indexes
                    .list
                    .iter()
                    .map(|s| Arc::clone(&s.name))
                    .zip(t)
                    .collect()
            });
            cache.invalidate(&Changed {
                keys: keys.as_ref().map(|(min, max)| (&**min, &**max)),
                indexes: touched.filter(|_| caching),
            });
        } else {
            st.indexes.touched = None;
        }
        self.inner.items.store(st.index.len(), Ordering::Release);
        self.inner
            .ttl_items
            .store(st.expiry.len(), Ordering::Release);
        if let Some(events) = events {
            st.subscribers.publish(&events);
        }
        removed
    }

    /// Applies, in version order, the pending `Always` commits the log position `synced`
    /// covers (called by the log's leader after its fsync).
    fn apply_durable(&self, synced: u64) {
        let mut st = self.state();
        self.apply_durable_locked(&mut st, synced);
    }

    fn apply_durable_locked(&self, st: &mut State, synced: u64) {
        while let Some(commit) = st.next_durable(synced) {
            self.apply_commit(st, commit.changes, commit.version, commit.now);
        }
    }

    /// Waits (commit lock held) until every pending `Always` commit is applied, so the
    /// state holds every logged version.
    fn drain(&self) -> Result<()> {
        let Some(d) = &self.inner.durable else {
            return Ok(());
        };
        let last = self.state().pending.back().map(|p| p.ticket);
        if let Some(ticket) = last {
            d.wait(ticket)?;
        }
        Ok(())
    }

    pub(crate) fn commit(&self, changes: Changes) -> Result<Committed> {
        self.commit_with(|_, _| Ok(changes))
    }

    /// Stores `value` under `key`, replacing any previous value; returns the new version.
    pub fn stash(&self, key: impl AsRef<str>, value: impl AsRef<[u8]>) -> Result<u64> {
        self.stash_inner(key.as_ref(), value.as_ref(), None)
    }

    /// Like [`Tree::stash`], but the nut becomes invisible `ttl` from now.
    pub fn stash_with_ttl(
        &self,
        key: impl AsRef<str>,
        value: impl AsRef<[u8]>,
        ttl: Duration,
    ) -> Result<u64> {
        self.stash_inner(key.as_ref(), value.as_ref(), Some(ttl))
    }

    fn stash_inner(&self, key: &str, value: &[u8], ttl: Option<Duration>) -> Result<u64> {
        let rec = self.make_record(key, value, ttl)?;
        self.tally(Op::Stash, 1);
        Ok(self.commit(smallvec::smallvec![Change::Put(rec)])?.version)
    }

    /// Validates and builds an unstamped record.
    pub(crate) fn make_record(
        &self,
        key: &str,
        value: &[u8],
        ttl: Option<Duration>,
    ) -> Result<Record> {
        check_key(key)?;
        check_value(key, value)?;
        let expires = match ttl {
            None => 0,
            // A TTL past the end of representable time means "never expires in practice".
            Some(ttl) => self
                .inner
                .clock
                .now()
                .checked_add(ttl)
                .map_or(u64::MAX, to_nanos),
        };
        Ok(Record::new(key.as_bytes(), value, 0, 0, expires))
    }

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

    /// A transaction's read: like `crack`, but under `Always` it also sees commits that are
    /// logged and waiting for their fsync (the transaction's own commit follows them, and
    /// is acknowledged only once they are durable too). Reading only durable state would
    /// make a transaction on a key written by others conflict until the writes pause.
    pub(crate) fn crack_latest(&self, key: &str) -> Result<Option<Nut>> {
        if self
            .inner
            .durable
            .as_ref()
            .is_some_and(Durable::applies_after_sync)
        {
            check_key(key)?;
            let st = self.state();
            if let Some((_, pending)) = st.pending_keys.get(key.as_bytes()) {
                self.tally(Op::Crack, 1);
                let now = self.now();
                return Ok(pending
                    .as_ref()
                    .filter(|r| !r.is_expired(now))
                    .map(Record::to_nut));
            }
        }
        self.crack(key)
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

    /// Removes `key`; returns whether a visible nut was there.
    pub fn toss(&self, key: impl AsRef<str>) -> Result<bool> {
        let key = key.as_ref();
        check_key(key)?;
        self.tally(Op::Toss, 1);
        let done = self.commit(smallvec::smallvec![Change::Delete(key.as_bytes().into())])?;
        Ok(done.removed == 1)
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

    /// Removes every nut whose TTL ran out, emitting [`Event::Expired`] for each; returns
    /// how many were removed.
    pub fn purge_expired(&self) -> Result<usize> {
        let mut purged = 0;
        self.commit_with(|st, now| {
            let keys = st.expired_keys(now);
            purged = keys.len();
            Ok(keys.into_iter().map(Change::Delete).collect())
        })?;
        self.tally(Op::Purged, purged as u64);
        Ok(purged)
    }

    /// A receiver of every committed change from now on, in commit order, buffering up to
    /// [`DEFAULT_SUBSCRIBER_CAPACITY`] events; past that it misses events and is told so
    /// with [`Event::Lagged`] (writers never wait for a subscriber).
    pub fn subscribe(&self) -> Subscription {
        self.subscribe_with_capacity(DEFAULT_SUBSCRIBER_CAPACITY)
    }

    /// Like [`Tree::subscribe`], buffering up to `capacity` events (at least one).
    pub fn subscribe_with_capacity(&self, capacity: usize) -> Subscription {
        self.state().subscribers.subscribe(capacity)
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

    /// Adds (or replaces) the secondary index `name`, built now from the tree's items and
    /// kept in step by every later commit, inside that commit: a batch or transaction
    /// changes its index entries atomically with its items.
    ///
    /// `extract` gives a nut's index key, or `None` to leave the nut out; keys compare as
    /// bytes ([`crate::IndexKey`] encodes numbers so). It must be a pure function of the
    /// nut (same nut, same key): it runs again on a nut's old version when the nut is
    /// overwritten or tossed (an impure one still never leaves an entry behind, but costs a
    /// walk of the index on such a write). It runs while the commit holds the tree's state
    /// lock, the one place user code does: keep it quick and do not call back into the
    /// tree from it. Takes every writer's turn while it builds; a durable tree must be
    /// given its indexes again on each open (better: [`TreeBuilder::index`]).
    pub fn index<K: AsRef<[u8]>>(
        &self,
        name: impl Into<String>,
        extract: impl Fn(&NutRef<'_>) -> Option<K> + Send + Sync + 'static,
    ) -> Result<()> {
        let name = name.into();
        check_index_name(&name)?;
        let extract = erase(extract);
        let _serial = self.commit_lock();
        self.drain()?;
        let mut st = self.state();
        let records = st.index.clone();
        let mut cursor = records.cursor(std::ops::Bound::Unbounded);
        let all = std::iter::from_fn(|| {
            let rec = cursor.peek().cloned();
            cursor.advance();
            rec
        })
        .collect::<Vec<_>>();
        st.indexes.add(&name, extract, all.iter());
        drop(st);
        // Results cached under an older index of this name are stale.
        self.inner.cache.clear();
        Ok(())
    }

    /// Removes the secondary index `name`; whether there was one.
    pub fn drop_index(&self, name: &str) -> bool {
        let dropped = self.state().indexes.remove(name);
        if dropped {
            self.inner.cache.clear();
        }
        dropped
    }

    /// The names of the tree's secondary indexes.
    pub fn index_names(&self) -> Vec<String> {
        self.state().indexes.names()
    }

    /// Makes every acknowledged write durable now (a no-op in memory).
    pub fn flush(&self) -> Result<()> {
        match &self.inner.durable {
            Some(d) => d.flush(),
            None => Ok(()),
        }
    }

    /// Writes the live state to a new snapshot and drops the log it covers (a no-op in
    /// memory). Recovery then reads the snapshot plus only the log written since.
    pub fn compact(&self) -> Result<()> {
        self.compact_inner(true)
    }

    fn compact_inner(&self, wait: bool) -> Result<()> {
        let Some(d) = &self.inner.durable else {
            return Ok(());
        };
        let Some(_guard) = d.compaction_guard(wait) else {
            return Ok(()); // an automatic compaction while another runs: skip it
        };
        // Writers wait only while the log is cut and the index copied (one `Arc` clone);
        // the snapshot file is then written from that frozen copy without any lock.
        let (index, seq) = {
            let _serial = self.commit_lock();
            self.drain()?;
            let st = self.state();
            d.begin_compaction(st.seq)?;
            (st.index.clone(), st.seq)
        };
        d.finish_compaction(&index, seq)
    }

    /// A consistent copy of the index (one `Arc` clone) and the time to judge expiry by.
    pub(crate) fn snapshot(&self) -> (Index<Record>, u64) {
        let index = self.state().index.clone();
        (index, self.now())
    }
}

impl Drop for Inner {
    fn drop(&mut self) {
        // Records this tree replaced lately wait in the epoch collector (the last few in
        // the writer's pending batch, handed on here); with no reader pinned, a few
        // flushes free them now rather than at some later collection.
        let state = self.state.get_mut().unwrap_or_else(PoisonError::into_inner);
        state.points.hand_off(&crossbeam_epoch::pin());
        for _ in 0..3 {
            crossbeam_epoch::pin().flush();
        }
    }
}

/// Runs `f` on tokio's blocking pool when called inside a runtime, else on a new thread
/// (automatic compaction in the background).
fn spawn_blocking(f: impl FnOnce() + Send + 'static) {
    #[cfg(feature = "tokio")]
    let f = match tokio::runtime::Handle::try_current() {
        Ok(handle) => {
            drop(handle.spawn_blocking(f));
            return;
        }
        Err(_) => f,
    };
    let _ = std::thread::Builder::new()
        .name("acorn-compact".into())
        .spawn(f);
}
