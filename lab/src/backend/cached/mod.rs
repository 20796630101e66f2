//! `cached`: `pooled` plus a shared cache of decoded values (quick_cache: sharded,
//! concurrent, no global lock, so readers on several threads do not queue on one mutex as
//! they would around the `lru` crate). A hit hands out an `Arc<Value>`: no decode, no copy.
//!
//! Policies (`[cache] policy` in a workload): `write-through` (the default) puts the value a
//! write just stored into the cache (it is in hand already, decoded: a copy, not a decode),
//! so hot keys stay cached under writes; `invalidate` drops the cached value and lets the
//! next read refill it.
//!
//! Admission: a read that misses caches what it found only on the key's second miss in a
//! while (a doorkeeper, as in TinyLFU: [`Doorkeeper`]); a first miss is answered from the
//! worker's own document, as `pooled` answers every read. On `mixed` this took the hit
//! ratio from 83.7% to 84.2% and the variant from 0.88× to 0.93–0.96× `pooled` at 1 thread
//! (docs/PERFORMANCE.md).
//!
//! Absent keys: the cache also remembers that a key is absent (a negative entry, `None`),
//! after a delete (under both policies: the delete knows the key is gone) and after an
//! admitted read that found nothing in the tree. A read answered by a negative entry is a
//! hit. A write of the key replaces the negative entry (write-through) or drops it
//! (invalidate), under the key's stripe lock like every other change, so a negative entry
//! never hides a stored value.
//!
//! Ordering: a reader that misses fills the cache from the tree; a writer changes the tree
//! and then the cache. Both hold the same per-key stripe lock for the whole step, so a fill
//! can never put back a value that a concurrent write already replaced, and a writer's
//! cache update never lands after a newer writer's.
//!
//! Recycling: a decoded document is fifteen allocations. A value the cache evicts (handed
//! back by a quick_cache lifecycle hook to the worker whose insert evicted it), a deleted
//! one, or the last read's once nobody holds it, becomes the worker's spare; a miss decodes
//! into a spare in place and a write copies into one, so a warm cache allocates nothing
//! to fill or to write through. A write copies the value into a spare before it takes any
//! lock, and swaps it into the entry in one look-up: the value it replaces becomes a spare
//! unless a reader still holds it. (Against copying into the cached value itself under the
//! shard's write lock, and encoding under the stripe lock: `lab ab` 1.048× at 1 thread and
//! 1.077× at 2 on `mixed`, no verdict; docs/PERFORMANCE.md, "The eighth session".) A worker
//! keeps up to 32 spares: with 4, `mixed` (10% deletes, each freeing a value, and writes
//! re-creating deleted keys) overflowed and drained the pool in turn, freeing cold values
//! and allocating new ones.
//!
//! Counting: each worker counts its hits and misses in plain fields and adds them to the
//! backend's totals once, when dropped; nothing shared is written per read.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use quick_cache::sync::{Cache, EntryAction, EntryResult};
use quick_cache::{DefaultHashBuilder, Lifecycle, OptionsBuilder, UnitWeighter};
use smallvec::SmallVec;

use super::engine::{EngineBackend, EngineWorker};
use super::{Backend, BackendInfo, CachePolicy, Options, OrStore, Page, QuerySpec, Registration, Result, Tier, Version, Worker};
use crate::doc::Value;
use doorkeeper::Doorkeeper;

const STRIPES: usize = 64;

/// Keys up to 32 bytes live inside the cache entry: a lookup compares them without
/// following a pointer to another cache line.
type CacheKey = SmallVec<[u8; 32]>;

/// Cache shards, each with its own lock: more than quick_cache's default (4 per core), so
/// threads reading different hot keys rarely share a lock word.
const SHARDS: usize = 64;

/// Spare values a worker keeps for reuse (see the module comment).
const SPARES: usize = 32;

/// Hands the values one insert evicted back to the inserting worker.
#[derive(Clone, Copy, Debug, Default)]
struct Recycle;

/// What the cache knows of a key: its decoded value, or (`None`) that the tree has none.
type Entry = Option<Arc<Value>>;

impl Lifecycle<CacheKey, Entry> for Recycle {
    type RequestState = SmallVec<[Arc<Value>; 2]>;

    fn begin_request(&self) -> Self::RequestState {
        SmallVec::new()
    }

    fn on_evict(&self, evicted: &mut Self::RequestState, _key: CacheKey, val: Entry) {
        evicted.extend(val);
    }
}

type ValueCache = Cache<CacheKey, Entry, UnitWeighter, DefaultHashBuilder, Recycle>;

pub(crate) struct CachedBackend {
    engine: EngineBackend,
    cache: ValueCache,
    capacity: usize,
    policy: CachePolicy,
    stripes: Vec<Mutex<()>>,
    doorkeeper: Doorkeeper,
    /// Totals of the workers dropped since the last `metrics()`.
    hits: AtomicU64,
    misses: AtomicU64,
}

pub(crate) const REGISTRATIONS: &[Registration] = &[
    Registration::store(
        "cached",
        "pooled + a shared cache of decoded values (quick_cache), write-through by \
                default ([cache] policy)",
        Tier::Memory,
        Version::Acorn,
        open,
    ),
    Registration::store(
        "cached:durable",
        "cached on a WAL, fsync per commit",
        Tier::FsyncPerCommit,
        Version::Acorn,
        open,
    ),
];

fn open(reg: &Registration, options: &Options) -> Result<Box<dyn Backend>> {
    Ok(Box::new(CachedBackend::new(reg, options)?))
}

/// `key`'s hash for stripes and the doorkeeper (each takes other bits): foldhash with a
/// fixed seed, so counted runs repeat exactly. (A hand-rolled FNV-1a spread keys alike
/// but for their last bytes poorly: 10k keys over 1,091 of 131k doorkeeper bits.)
fn hash_of(key: &[u8]) -> u64 {
    use std::hash::BuildHasher;
    foldhash::fast::FixedState::default().hash_one(key)
}

/// The stripe of the key of `hash`.
fn stripe_of(hash: u64) -> usize {
    (hash >> 50) as usize % STRIPES
}

impl CachedBackend {
    fn new(reg: &Registration, options: &Options) -> Result<CachedBackend> {
        let capacity = options.cache_capacity.max(1);
        Ok(CachedBackend {
            engine: EngineBackend::open(super::pooled::VARIANT, reg, options)?,
            cache: Cache::with_options(
                OptionsBuilder::new()
                    .estimated_items_capacity(capacity)
                    .weight_capacity(capacity as u64)
                    .shards(SHARDS)
                    .build()
                    .or_store("cached")?,
                UnitWeighter,
                DefaultHashBuilder::default(),
                Recycle,
            ),
            capacity,
            policy: options.cache_policy,
            stripes: (0..STRIPES).map(|_| Mutex::new(())).collect(),
            doorkeeper: Doorkeeper::new(capacity),
            hits: AtomicU64::new(0),
            misses: AtomicU64::new(0),
        })
    }

    fn cached_worker(&self) -> CachedWorker<'_> {
        CachedWorker {
            b: self,
            inner: self.engine.worker(),
            last: None,
            spares: Vec::with_capacity(SPARES),
            hits: 0,
            misses: 0,
        }
    }

    fn lock(&self, stripe: usize) -> MutexGuard<'_, ()> {
        self.stripes[stripe]
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// Holds every stripe of `keys`, taken in stripe order (so two batches never deadlock):
    /// no fill of any of them can interleave with the change made under them.
    fn lock_all<'k>(&self, keys: impl Iterator<Item = &'k [u8]>) -> Vec<MutexGuard<'_, ()>> {
        let mut touched = [false; STRIPES];
        for key in keys {
            touched[stripe_of(hash_of(key))] = true;
        }
        (0..STRIPES)
            .filter(|s| touched[*s])
            .map(|s| self.lock(s))
            .collect()
    }
}

impl Backend for CachedBackend {
    fn data_dir(&self) -> Option<&std::path::Path> {
        self.engine.data_dir()
    }

    fn name(&self) -> &str {
        self.engine.name()
    }

    fn describe(&self) -> BackendInfo {
        let mut info = self.engine.describe();
        info.cache = format!(
            "quick_cache of {} decoded values, {}: {}",
            self.capacity,
            self.policy.label(),
            match self.policy {
                CachePolicy::WriteThrough => {
                    "a write caches the value it stored, a delete caches the key as absent, a \
                     read caches what it found on the key's second miss in a while"
                }
                CachePolicy::Invalidate => {
                    "a write drops the cached value, a delete caches the key as absent, a read \
                     caches what it found on the key's second miss in a while"
                }
            }
        );
        info
    }

    fn worker(&self) -> Box<dyn Worker + '_> {
        Box::new(self.cached_worker())
    }

    fn metrics(&self) -> Vec<(String, f64)> {
        let hits = self.hits.swap(0, Ordering::Relaxed);
        let misses = self.misses.swap(0, Ordering::Relaxed);
        vec![
            ("cache_hits".into(), hits as f64),
            ("cache_misses".into(), misses as f64),
        ]
    }
}

struct CachedWorker<'a> {
    b: &'a CachedBackend,
    inner: EngineWorker<'a>,
    /// Keeps the value handed out by the last read alive.
    last: Option<Arc<Value>>,
    /// Values nobody else holds, to decode or copy into (at most `SPARES`).
    spares: Vec<Arc<Value>>,
    hits: u64,
    misses: u64,
}

impl Drop for CachedWorker<'_> {
    fn drop(&mut self) {
        self.b.hits.fetch_add(self.hits, Ordering::Relaxed);
        self.b.misses.fetch_add(self.misses, Ordering::Relaxed);
    }
}

impl CachedWorker<'_> {
    /// Keeps `v` as a spare if nobody else holds it and there is room; drops it otherwise.
    fn recycle(&mut self, mut v: Arc<Value>) {
        if self.spares.len() < SPARES && Arc::get_mut(&mut v).is_some() {
            self.spares.push(v);
        }
    }

    /// A value nobody else holds: a spare, or a new (empty) one.
    fn spare(&mut self) -> Arc<Value> {
        self.spares.pop().unwrap_or_default()
    }

    /// Inserts into the cache; whatever the insert evicted becomes a spare.
    fn insert_cached(&mut self, key: CacheKey, v: Entry) {
        for evicted in self.b.cache.insert_with_lifecycle(key, v) {
            self.recycle(evicted);
        }
    }

    /// A copy of `v` in a value nobody else holds: a spare's allocations reused, or a new
    /// value should the spare be held after all.
    fn copy_of(&mut self, v: &Value) -> Arc<Value> {
        let mut spare = self.spare();
        match Arc::get_mut(&mut spare) {
            Some(c) => c.assign(v),
            None => spare = Arc::new(v.clone()),
        }
        spare
    }

    /// Writes `value` to the tree and settles the cache, under the key's stripe lock. What
    /// needs no lock comes first: the copy the cache will hold (write-through) and the
    /// encoding; the stripe is held from the stash to the cache's update, and the cache's
    /// shard lock only for a swap of two pointers.
    fn write(&mut self, key: &[u8], value: &Value) -> Result<()> {
        self.let_go();
        let b = self.b;
        let stripe = stripe_of(hash_of(key));
        let copy = match b.policy {
            CachePolicy::WriteThrough => Some(self.copy_of(value)),
            CachePolicy::Invalidate => None,
        };
        match self.inner.put_under(key, value, || b.lock(stripe)) {
            Ok(_stripe) => {
                match copy {
                    Some(copy) => self.store(key, copy),
                    None => self.forget(key),
                }
                Ok(())
            }
            Err(e) => {
                if let Some(copy) = copy {
                    self.recycle(copy);
                }
                let _stripe = b.lock(stripe);
                self.forget(key);
                Err(e)
            }
        }
    }

    /// The last read's value is no longer handed out: the cache may reuse it.
    fn let_go(&mut self) {
        if let Some(last) = self.last.take() {
            self.recycle(last);
        }
    }

    /// Write-through: `copy` (of the value just stored) goes into the cache under `key` in
    /// one look-up; the value it replaces becomes a spare if nobody holds it. The entry
    /// keeps its place in the eviction order.
    fn store(&mut self, key: &[u8], copy: Arc<Value>) {
        let key = CacheKey::from_slice(key);
        let mut copy = Some(copy);
        let result = self.b.cache.entry(&key, None, |_, cached| {
            EntryAction::Retain(std::mem::replace(cached, copy.take()))
        });
        match result {
            EntryResult::Retained(old) => {
                if let Some(old) = old {
                    self.recycle(old);
                }
            }
            // The callback ran only if the key was there: `copy` is still in hand (and
            // never becomes a negative entry, which would hide the value just stored).
            EntryResult::Vacant(slot) => {
                if let Some(copy) = copy {
                    if let Ok(evicted) = slot.insert_with_lifecycle(Some(copy)) {
                        for e in evicted {
                            self.recycle(e);
                        }
                    }
                }
            }
            _ => {
                if let Some(copy) = copy {
                    self.insert_cached(key, Some(copy));
                }
            }
        }
    }

    /// Drops `key` from the cache (its value becomes a spare if nobody holds it).
    fn forget(&mut self, key: &[u8]) {
        if let Some((_, Some(v))) = self.b.cache.remove(key) {
            self.recycle(v);
        }
    }

    /// Remembers that `key` is absent: its cached value (a spare now, if nobody holds it)
    /// gives way to a negative entry. The caller holds the key's stripe lock.
    fn remember_absent(&mut self, key: &[u8]) {
        let key = CacheKey::from_slice(key);
        let was = self.b.cache.entry(&key, None, |_, cached| {
            EntryAction::Retain(cached.take())
        });
        match was {
            EntryResult::Retained(old) => {
                if let Some(old) = old {
                    self.recycle(old);
                }
            }
            EntryResult::Vacant(slot) => {
                if let Ok(evicted) = slot.insert_with_lifecycle(None) {
                    for e in evicted {
                        self.recycle(e);
                    }
                }
            }
            _ => self.insert_cached(key, None),
        }
    }

    /// A miss: reads the tree and caches what it read (the value, or a negative entry when
    /// the key is absent), both under the key's stripe lock, so no write of the key can
    /// land in between. `between` runs in that gap (a test tries to write there). The value
    /// is decoded in place into a spare.
    fn fill(&mut self, key: &[u8], between: impl FnOnce()) -> Result<Entry> {
        let _stripe = self.b.lock(stripe_of(hash_of(key)));
        let mut v = self.spare();
        let found = match Arc::get_mut(&mut v) {
            Some(out) => self.inner.fetch_into(key, out)?,
            // Spares are held by nobody else; were one not, decode into a new value.
            None => {
                let mut fresh = Value::default();
                let found = self.inner.fetch_into(key, &mut fresh)?;
                v = Arc::new(fresh);
                found
            }
        };
        let entry = if found {
            Some(v)
        } else {
            self.recycle(v);
            None
        };
        between();
        self.insert_cached(CacheKey::from_slice(key), entry.clone());
        Ok(entry)
    }
}

impl Worker for CachedWorker<'_> {
    fn insert(&mut self, key: &[u8], value: &Value) -> Result<()> {
        self.write(key, value)
    }

    fn read(&mut self, key: &[u8]) -> Result<Option<&Value>> {
        let entry = if let Some(entry) = self.b.cache.get(key) {
            self.hits += 1;
            entry
        } else {
            self.misses += 1;
            if !self.b.doorkeeper.admit(hash_of(key)) {
                self.let_go();
                return self.inner.read(key);
            }
            self.fill(key, || {})?
        };
        let Some(v) = entry else {
            return Ok(None);
        };
        if let Some(old) = self.last.replace(v) {
            self.recycle(old);
        }
        Ok(self.last.as_deref())
    }

    fn update(&mut self, key: &[u8], value: &Value) -> Result<()> {
        self.write(key, value)
    }

    fn delete(&mut self, key: &[u8]) -> Result<bool> {
        let _stripe = self.b.lock(stripe_of(hash_of(key)));
        let out = self.inner.delete(key);
        match out {
            Ok(_) => self.remember_absent(key),
            Err(_) => self.forget(key),
        }
        out
    }

    fn scan(&mut self, start: &[u8], limit: usize) -> Result<usize> {
        self.inner.scan(start, limit)
    }

    fn batch_insert(&mut self, items: &[(Vec<u8>, Value)]) -> Result<()> {
        let b = self.b;
        let held = b.lock_all(items.iter().map(|(key, _)| key.as_slice()));
        let out = self.inner.batch_insert(items);
        for (key, value) in items {
            match (b.policy, &out) {
                (CachePolicy::WriteThrough, Ok(())) => {
                    let copy = self.copy_of(value);
                    self.store(key, copy);
                }
                _ => self.forget(key),
            }
        }
        drop(held);
        out
    }

    fn delete_batch(&mut self, keys: &[Vec<u8>]) -> Result<()> {
        // Under the stripes as every change: the runner deletes between phases, when no
        // reader runs, but a fill of a key that read it before the delete would otherwise
        // cache it after the delete forgot it.
        let held = self.b.lock_all(keys.iter().map(Vec::as_slice));
        let out = self.inner.delete_batch(keys);
        for key in keys {
            self.forget(key);
        }
        drop(held);
        out
    }

    fn query(&mut self, q: &QuerySpec) -> Result<&Page> {
        self.inner.query(q)
    }
}

mod doorkeeper;
#[cfg(test)]
mod tests;
