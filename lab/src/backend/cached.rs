//! `cached`: `plain` plus a shared cache of decoded documents (quick_cache: sharded,
//! concurrent, no global lock, so readers on several threads do not queue on one mutex as
//! they would around the `lru` crate). A hit hands out an `Arc<Doc>`: no decode, no copy.
//!
//! Staleness: a reader that misses fills the cache from the tree; a writer changes the tree
//! and then drops the cached entry. Both hold the same per-key stripe lock for the whole
//! step, so a fill can never put back a value that a concurrent write already replaced.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use quick_cache::sync::Cache;

use super::engine::{EngineBackend, EngineWorker};
use super::{Backend, BackendInfo, Options, QuerySpec, Result, Worker};
use crate::doc::Doc;

const STRIPES: usize = 64;

pub(crate) struct CachedBackend {
    engine: EngineBackend,
    cache: Cache<Vec<u8>, Arc<Doc>>,
    capacity: usize,
    stripes: Vec<Mutex<()>>,
    hits: AtomicU64,
    misses: AtomicU64,
}

pub(crate) fn open(options: &Options, durable: bool) -> Result<Box<dyn Backend>> {
    let mut variant = super::plain::VARIANT;
    variant.name = "cached";
    let capacity = options.cache_capacity.max(1);
    Ok(Box::new(CachedBackend {
        engine: EngineBackend::open(variant, options, durable)?,
        cache: Cache::new(capacity),
        capacity,
        stripes: (0..STRIPES).map(|_| Mutex::new(())).collect(),
        hits: AtomicU64::new(0),
        misses: AtomicU64::new(0),
    }))
}

/// The stripe of `key` (FNV-1a: cheap, and spreads keys well enough).
fn stripe_of(key: &[u8]) -> usize {
    let h = key.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
        (h ^ u64::from(*b)).wrapping_mul(0x100_0000_01b3)
    });
    (h as usize) % STRIPES
}

impl CachedBackend {
    fn stripe(&self, key: &[u8]) -> std::sync::MutexGuard<'_, ()> {
        self.stripes[stripe_of(key)]
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    pub(crate) fn hit_ratio(&self) -> f64 {
        let (h, m) = (
            self.hits.load(Ordering::Relaxed),
            self.misses.load(Ordering::Relaxed),
        );
        if h + m == 0 {
            0.0
        } else {
            h as f64 / (h + m) as f64
        }
    }
}

impl Backend for CachedBackend {
    fn name(&self) -> &str {
        self.engine.name()
    }

    fn describe(&self) -> BackendInfo {
        let mut info = self.engine.describe();
        info.cache = format!(
            "quick_cache of {} decoded docs, invalidated on write",
            self.capacity
        );
        info
    }

    fn worker(&self) -> Box<dyn Worker + '_> {
        Box::new(CachedWorker {
            b: self,
            inner: self.engine.worker(),
            last: None,
        })
    }

    fn metrics(&self) -> Vec<(String, f64)> {
        vec![("cache_hit_ratio".into(), self.hit_ratio())]
    }
}

struct CachedWorker<'a> {
    b: &'a CachedBackend,
    inner: EngineWorker<'a>,
    /// Keeps the document handed out by the last read alive.
    last: Option<Arc<Doc>>,
}

impl CachedWorker<'_> {
    /// A write to the tree followed by dropping the cached entry, under the stripe lock.
    fn write<T>(
        &mut self,
        key: &[u8],
        f: impl FnOnce(&mut EngineWorker<'_>) -> Result<T>,
    ) -> Result<T> {
        let _stripe = self.b.stripe(key);
        let out = f(&mut self.inner);
        self.b.cache.remove(key);
        out
    }
}

impl Worker for CachedWorker<'_> {
    fn insert(&mut self, key: &[u8], doc: &Doc) -> Result<()> {
        self.write(key, |w| w.insert(key, doc))
    }

    fn read(&mut self, key: &[u8]) -> Result<Option<&Doc>> {
        if let Some(doc) = self.b.cache.get(key) {
            self.b.hits.fetch_add(1, Ordering::Relaxed);
            return Ok(Some(&**self.last.insert(doc)));
        }
        self.b.misses.fetch_add(1, Ordering::Relaxed);
        let _stripe = self.b.stripe(key);
        if !self.inner.fetch(key)? {
            return Ok(None);
        }
        let doc = Arc::new(std::mem::take(&mut self.inner.doc));
        self.b.cache.insert(key.to_vec(), Arc::clone(&doc));
        Ok(Some(&**self.last.insert(doc)))
    }

    fn update(&mut self, key: &[u8], doc: &Doc) -> Result<()> {
        self.write(key, |w| w.update(key, doc))
    }

    fn delete(&mut self, key: &[u8]) -> Result<bool> {
        self.write(key, |w| w.delete(key))
    }

    fn scan(&mut self, start: &[u8], limit: usize) -> Result<usize> {
        self.inner.scan(start, limit)
    }

    fn batch_insert(&mut self, items: &[(Vec<u8>, Doc)]) -> Result<()> {
        // Hold every stripe a batch touches, in stripe order, so fills cannot interleave.
        let mut touched = [false; STRIPES];
        for (key, _) in items {
            touched[stripe_of(key)] = true;
        }
        let held: Vec<_> = (0..STRIPES)
            .filter(|s| touched[*s])
            .map(|s| {
                self.b.stripes[s]
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
            })
            .collect();
        let out = self.inner.batch_insert(items);
        for (key, _) in items {
            self.b.cache.remove(key.as_slice());
        }
        drop(held);
        out
    }

    fn delete_batch(&mut self, keys: &[Vec<u8>]) -> Result<()> {
        // Untimed clean-up between phases: no reader runs, so no stripe locks are needed.
        let out = self.inner.delete_batch(keys);
        for key in keys {
            self.b.cache.remove(key.as_slice());
        }
        out
    }

    fn query(&mut self, q: &QuerySpec) -> Result<usize> {
        self.inner.query(q)
    }
}
