//! `cached`: `plain` plus a shared cache of decoded values (quick_cache: sharded,
//! concurrent, no global lock, so readers on several threads do not queue on one mutex as
//! they would around the `lru` crate). A hit hands out an `Arc<Value>`: no decode, no copy.
//!
//! Policies (`[cache] policy` in a workload): `write-through` (the default) puts the value a
//! write just stored into the cache (it is in hand already, decoded: a clone, not a
//! decode), so hot keys stay cached under writes; `invalidate` drops the cached value and
//! lets the next read refill it. A delete removes the entry under both.
//!
//! Ordering: a reader that misses fills the cache from the tree; a writer changes the tree
//! and then the cache. Both hold the same per-key stripe lock for the whole step, so a fill
//! can never put back a value that a concurrent write already replaced, and a writer's
//! cache update never lands after a newer writer's.
//!
//! Counting: each worker counts its hits and misses in plain fields and adds them to the
//! backend's totals once, when dropped; nothing shared is written per read.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use quick_cache::sync::Cache;

use super::engine::{EngineBackend, EngineWorker};
use super::{Backend, BackendInfo, CachePolicy, Options, Page, QuerySpec, Result, Worker};
use crate::doc::Value;

const STRIPES: usize = 64;

pub(crate) struct CachedBackend {
    engine: EngineBackend,
    cache: Cache<Vec<u8>, Arc<Value>>,
    capacity: usize,
    policy: CachePolicy,
    stripes: Vec<Mutex<()>>,
    /// Totals of the workers dropped since the last `metrics()`.
    hits: AtomicU64,
    misses: AtomicU64,
}

pub(crate) fn open(options: &Options, durable: bool) -> Result<Box<dyn Backend>> {
    Ok(Box::new(CachedBackend::new(options, durable)?))
}

/// The stripe of `key` (FNV-1a: cheap, and spreads keys well enough).
fn stripe_of(key: &[u8]) -> usize {
    let h = key.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
        (h ^ u64::from(*b)).wrapping_mul(0x100_0000_01b3)
    });
    (h as usize) % STRIPES
}

impl CachedBackend {
    fn new(options: &Options, durable: bool) -> Result<CachedBackend> {
        let mut variant = super::plain::VARIANT;
        variant.name = "cached";
        let capacity = options.cache_capacity.max(1);
        Ok(CachedBackend {
            engine: EngineBackend::open(variant, options, durable)?,
            cache: Cache::new(capacity),
            capacity,
            policy: options.cache_policy,
            stripes: (0..STRIPES).map(|_| Mutex::new(())).collect(),
            hits: AtomicU64::new(0),
            misses: AtomicU64::new(0),
        })
    }

    fn cached_worker(&self) -> CachedWorker<'_> {
        CachedWorker {
            b: self,
            inner: self.engine.worker(),
            last: None,
            hits: 0,
            misses: 0,
        }
    }

    fn lock(&self, stripe: usize) -> MutexGuard<'_, ()> {
        self.stripes[stripe]
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// After a write of `key` under its stripe lock: the value it stored (write-through),
    /// or nothing (invalidate, a delete, or a write that failed and left the tree unknown).
    fn settle(&self, key: &[u8], written: Option<&Value>) {
        match (self.policy, written) {
            (CachePolicy::WriteThrough, Some(v)) => {
                self.cache.insert(key.to_vec(), Arc::new(v.clone()));
            }
            _ => {
                self.cache.remove(key);
            }
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
            "quick_cache of {} decoded values, {}: {}",
            self.capacity,
            self.policy.label(),
            match self.policy {
                CachePolicy::WriteThrough => {
                    "a write caches the value it stored, a delete removes it"
                }
                CachePolicy::Invalidate => "a write or delete drops the cached value",
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
    /// Writes `value` to the tree and settles the cache, under the key's stripe lock.
    fn write(&mut self, key: &[u8], value: &Value) -> Result<()> {
        let _stripe = self.b.lock(stripe_of(key));
        let out = self.inner.put(key, value);
        self.b.settle(key, out.is_ok().then_some(value));
        out
    }

    /// A miss: reads the tree and caches what it read, both under the key's stripe lock,
    /// so no write of the key can land in between. `between` runs in that gap (a test
    /// tries to write there).
    fn fill(&mut self, key: &[u8], between: impl FnOnce()) -> Result<Option<Arc<Value>>> {
        let _stripe = self.b.lock(stripe_of(key));
        if !self.inner.fetch(key)? {
            return Ok(None);
        }
        between();
        let v = Arc::new(std::mem::take(&mut self.inner.value));
        self.b.cache.insert(key.to_vec(), Arc::clone(&v));
        Ok(Some(v))
    }
}

impl Worker for CachedWorker<'_> {
    fn insert(&mut self, key: &[u8], value: &Value) -> Result<()> {
        self.write(key, value)
    }

    fn read(&mut self, key: &[u8]) -> Result<Option<&Value>> {
        if let Some(v) = self.b.cache.get(key) {
            self.hits += 1;
            return Ok(Some(&**self.last.insert(v)));
        }
        self.misses += 1;
        Ok(match self.fill(key, || {})? {
            None => None,
            Some(v) => Some(&**self.last.insert(v)),
        })
    }

    fn update(&mut self, key: &[u8], value: &Value) -> Result<()> {
        self.write(key, value)
    }

    fn delete(&mut self, key: &[u8]) -> Result<bool> {
        let _stripe = self.b.lock(stripe_of(key));
        let out = self.inner.delete(key);
        self.b.settle(key, None);
        out
    }

    fn scan(&mut self, start: &[u8], limit: usize) -> Result<usize> {
        self.inner.scan(start, limit)
    }

    fn batch_insert(&mut self, items: &[(Vec<u8>, Value)]) -> Result<()> {
        // Hold every stripe a batch touches, in stripe order, so fills cannot interleave.
        let mut touched = [false; STRIPES];
        for (key, _) in items {
            touched[stripe_of(key)] = true;
        }
        let held: Vec<_> = (0..STRIPES)
            .filter(|s| touched[*s])
            .map(|s| self.b.lock(s))
            .collect();
        let out = self.inner.batch_insert(items);
        for (key, value) in items {
            self.b.settle(key, out.is_ok().then_some(value));
        }
        drop(held);
        out
    }

    fn query(&mut self, q: &QuerySpec) -> Result<&Page> {
        self.inner.query(q)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::doc::Doc;

    fn version(v: u64) -> Value {
        Value::Doc(Doc {
            id: v,
            ..Doc::default()
        })
    }

    /// A reader misses and reads version 1 from the tree; a writer then stores version 2.
    /// The writer must wait until the reader's fill is in the cache, so the cache ends with
    /// version 2. Without the stripe lock around the fill, the writer finishes inside the
    /// gap and the reader caches version 1 after it: a stale value, served forever.
    #[test]
    fn a_fill_never_lands_after_a_newer_write() {
        for policy in [CachePolicy::WriteThrough, CachePolicy::Invalidate] {
            let options = Options {
                cache_policy: policy,
                ..Options::default()
            };
            let b = CachedBackend::new(&options, false).unwrap();
            let key = b"user-1".as_slice();
            b.cached_worker().insert(key, &version(1)).unwrap();
            b.cache.remove(key);
            std::thread::scope(|s| {
                let mut reader = b.cached_worker();
                let mut writer = None;
                let filled = reader
                    .fill(key, || {
                        let w = s.spawn(|| b.cached_worker().update(key, &version(2)));
                        std::thread::sleep(std::time::Duration::from_millis(100));
                        assert!(!w.is_finished(), "{policy:?}: a write landed inside a fill");
                        writer = Some(w);
                    })
                    .unwrap();
                assert_eq!(filled.as_deref(), Some(&version(1)));
                writer.unwrap().join().unwrap().unwrap();
            });
            let mut w = b.cached_worker();
            assert_eq!(w.read(key).unwrap(), Some(&version(2)), "{policy:?}");
            assert_eq!(w.hits + w.misses, 1);
        }
    }
}
