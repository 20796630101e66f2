//! The query result cache: results of keyable queries (no unnamed closures), keyed by the
//! query's description, kept until a commit touches their range.
//!
//! Each entry records the key range it read (primary keys, or composite keys of one
//! index). Every commit, while it holds the state lock, drops the entries whose range
//! holds a key it changed (the smallest to the largest it touched, so a commit spread wide
//! drops more than it must, never less); an entry also lapses when the first record it
//! read expires. So an entry present is exactly the answer a scan would give now, and a
//! repeated query on an unchanged range is answered without scanning. A commit holds the
//! cache from before its first change is visible until it has dropped what it touched
//! ([`QueryCache::hold`]): a point read can see a batch's changes before the batch is
//! fully applied, and no cached answer from before the batch may follow it.
//!
//! A result is stored only if no commit was applied since the query's snapshot: the
//! query checks the tree's applied version and stores its result under the state lock,
//! which a commit holds from applying to invalidating, so a commit either comes first
//! (the query sees its version and stores nothing) or sees the stored entry. (Before, the
//! check was a sequentially consistent store and load pair between commit and query, and
//! every commit paid a locked instruction for its store.) A query through a secondary
//! index is also keyed by the generation of the tree's indexes, which adding, replacing or
//! dropping an index moves on (under the state lock, then the cache is cleared): a result
//! computed on a replaced or dropped index is neither stored nor found.

use std::collections::HashMap;
use std::ops::Bound;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use crate::record::Record;
use crate::secondary::Touched;

/// Results longer than this are not cached (they would pin that many records).
pub(crate) const MAX_CACHED_RESULTS: usize = 10_000;

/// The keys a cached result depends on.
#[derive(Debug, Clone)]
pub(crate) enum Reach {
    Keys {
        start: Bound<Box<[u8]>>,
        end: Bound<Box<[u8]>>,
    },
    Index {
        name: Arc<str>,
        start: Bound<Box<[u8]>>,
        end: Bound<Box<[u8]>>,
    },
}

/// Whether `[min, max]` meets the range `(start, end)`.
fn meets(start: &Bound<Box<[u8]>>, end: &Bound<Box<[u8]>>, min: &[u8], max: &[u8]) -> bool {
    let above_start = match start {
        Bound::Unbounded => true,
        Bound::Included(s) => max >= &**s,
        Bound::Excluded(s) => max > &**s,
    };
    let below_end = match end {
        Bound::Unbounded => true,
        Bound::Included(e) => min <= &**e,
        Bound::Excluded(e) => min < &**e,
    };
    above_start && below_end
}

#[derive(Debug)]
struct Entry {
    results: Arc<[Record]>,
    reach: Reach,
    /// The earliest expiry among the records the query read (`u64::MAX`: none expires).
    valid_until: u64,
    used: u64,
}

#[derive(Debug, Default)]
struct State {
    entries: HashMap<Box<[u8]>, Entry, foldhash::fast::RandomState>,
    tick: u64,
}

/// What one commit changed, for [`QueryCache::invalidate`].
#[derive(Debug)]
pub(crate) struct Changed<'a> {
    /// The smallest and largest primary key changed; `None`: unknown, drop everything.
    pub(crate) keys: Option<(&'a [u8], &'a [u8])>,
    /// Per index (by name), the composite keys touched; `None`: unknown for every index.
    pub(crate) indexes: Option<Vec<(Arc<str>, Touched)>>,
}

#[derive(Debug)]
pub(crate) struct QueryCache {
    capacity: usize,
    in_use: AtomicBool,
    state: Mutex<State>,
    hits: AtomicU64,
    misses: AtomicU64,
}

impl QueryCache {
    pub(crate) fn new(capacity: usize) -> Self {
        Self {
            capacity,
            in_use: AtomicBool::new(false),
            state: Mutex::new(State::default()),
            hits: AtomicU64::new(0),
            misses: AtomicU64::new(0),
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub(crate) fn enabled(&self) -> bool {
        self.capacity > 0
    }

    /// Whether any result is cached (commits skip the cache otherwise).
    pub(crate) fn in_use(&self) -> bool {
        self.in_use.load(Ordering::SeqCst)
    }

    /// The cached results under `key`, if still valid at `now`.
    pub(crate) fn get(&self, key: &[u8], now: u64) -> Option<Arc<[Record]>> {
        if !self.in_use() {
            self.misses.fetch_add(1, Ordering::Relaxed);
            return None;
        }
        let mut st = self.lock();
        st.tick += 1;
        let tick = st.tick;
        let found = match st.entries.get_mut(key) {
            Some(e) if now < e.valid_until => {
                e.used = tick;
                Some(Arc::clone(&e.results))
            }
            Some(_) => {
                st.entries.remove(key);
                None
            }
            None => None,
        };
        drop(st);
        let counter = if found.is_some() {
            &self.hits
        } else {
            &self.misses
        };
        counter.fetch_add(1, Ordering::Relaxed);
        found
    }

    /// Whether `key` would be answered from the cache at `now` (for `explain`; changes
    /// nothing).
    pub(crate) fn contains(&self, key: &[u8], now: u64) -> bool {
        self.in_use()
            && self
                .lock()
                .entries
                .get(key)
                .is_some_and(|e| now < e.valid_until)
    }

    /// Stores results computed on a snapshot, unless `current` is false: the tree changed
    /// since (a commit applied, or an index replaced or dropped). The caller holds the
    /// tree's state lock, under which it judged `current` (see the module docs).
    pub(crate) fn put(
        &self,
        key: Box<[u8]>,
        current: bool,
        results: Arc<[Record]>,
        reach: Reach,
        valid_until: u64,
    ) {
        if results.len() > MAX_CACHED_RESULTS || !self.enabled() {
            return;
        }
        let mut st = self.lock();
        self.in_use.store(true, Ordering::SeqCst);
        if !current {
            if st.entries.is_empty() {
                self.in_use.store(false, Ordering::SeqCst);
            }
            return;
        }
        if st.entries.len() >= self.capacity && !st.entries.contains_key(&key) {
            let oldest = st
                .entries
                .iter()
                .min_by_key(|(_, e)| e.used)
                .map(|(k, _)| k.clone());
            if let Some(k) = oldest {
                st.entries.remove(&k);
            }
        }
        st.tick += 1;
        let used = st.tick;
        st.entries.insert(
            key,
            Entry {
                results,
                reach,
                valid_until,
                used,
            },
        );
    }

    /// Holds the cache for a commit about to apply (called under the state lock): no
    /// result is answered from it until [`Held::invalidate`] dropped what the commit
    /// touched. A reader may see the commit's first change (a point read) before its last
    /// is applied; a cached result answered in between would be older than what that
    /// reader has already seen.
    pub(crate) fn hold(&self) -> Held<'_> {
        Held {
            cache: self,
            st: self.lock(),
        }
    }
}

/// The query cache, held by a commit from before it applies until it has invalidated.
pub(crate) struct Held<'a> {
    cache: &'a QueryCache,
    st: MutexGuard<'a, State>,
}

impl Held<'_> {
    /// Drops every entry the commit touched (called under the state lock, after the commit
    /// was applied and its version published), then lets readers in again.
    pub(crate) fn invalidate(mut self, changed: &Changed<'_>) {
        let st = &mut *self.st;
        st.entries.retain(|_, e| match &e.reach {
            Reach::Keys { start, end } => match changed.keys {
                None => false,
                Some((min, max)) => !meets(start, end, min, max),
            },
            Reach::Index { name, start, end } => match &changed.indexes {
                None => false,
                Some(list) => match list.iter().find(|(n, _)| n == name) {
                    // The index is gone: its results cannot be asked for again.
                    None => false,
                    Some((_, t)) => match (&t.min, &t.max) {
                        (Some(min), Some(max)) => !meets(start, end, min, max),
                        _ => true,
                    },
                },
            },
        });
        if st.entries.is_empty() {
            self.cache.in_use.store(false, Ordering::SeqCst);
        }
    }
}

impl QueryCache {
    /// Drops every entry.
    pub(crate) fn clear(&self) {
        let mut st = self.lock();
        st.entries.clear();
        self.in_use.store(false, Ordering::SeqCst);
    }

    /// (hits, misses, entries).
    pub(crate) fn counts(&self) -> (u64, u64, usize) {
        (
            self.hits.load(Ordering::Relaxed),
            self.misses.load(Ordering::Relaxed),
            self.lock().entries.len(),
        )
    }
}
