//! `btreemap`: `RwLock<BTreeMap<Vec<u8>, Vec<u8>>>` + JSON — what people write by hand.

use std::collections::BTreeMap;
use std::sync::{PoisonError, RwLock, RwLockWriteGuard};

use super::codec::{Decode, Format};
use super::page::Pager;
use super::{peer_format, Backend, BackendInfo, Options, OrStore, Page, QuerySpec, Result, Worker};
use crate::doc::Value;

const NAME: &str = "btreemap";

pub(crate) struct BTreeMapBackend {
    map: RwLock<BTreeMap<Vec<u8>, Vec<u8>>>,
    format: Format,
}

pub(crate) fn open(options: &Options) -> Result<Box<dyn Backend>> {
    Ok(Box::new(BTreeMapBackend {
        map: RwLock::default(),
        format: peer_format(options),
    }))
}

impl Backend for BTreeMapBackend {
    fn name(&self) -> &str {
        NAME
    }

    fn describe(&self) -> BackendInfo {
        BackendInfo {
            name: NAME.into(),
            store: "std RwLock<BTreeMap<Vec<u8>, Vec<u8>>>".into(),
            durability: "in memory".into(),
            serialization: self.format.label().into(),
            cache: "none; reads copy the value out under the read lock, then decode".into(),
            stores_data: true,
            rust_heap: true,
        }
    }

    fn worker(&self) -> Box<dyn Worker + '_> {
        Box::new(BTreeMapWorker {
            b: self,
            value: Value::default(),
            out: Vec::new(),
            pager: Pager::default(),
            page: Page::default(),
        })
    }
}

struct BTreeMapWorker<'a> {
    b: &'a BTreeMapBackend,
    value: Value,
    /// The stored bytes of the last read, copied out under the lock (reused).
    out: Vec<u8>,
    pager: Pager,
    page: Page,
}

impl BTreeMapWorker<'_> {
    fn map_mut(&self) -> RwLockWriteGuard<'_, BTreeMap<Vec<u8>, Vec<u8>>> {
        self.b.map.write().unwrap_or_else(PoisonError::into_inner)
    }
}

impl Worker for BTreeMapWorker<'_> {
    fn insert(&mut self, key: &[u8], value: &Value) -> Result<()> {
        let bytes = self.b.format.encoded(value).or_store(NAME)?;
        self.map_mut().insert(key.to_vec(), bytes);
        Ok(())
    }

    fn read(&mut self, key: &[u8]) -> Result<Option<&Value>> {
        let (b, format) = (self.b, self.b.format);
        let map = b.map.read().unwrap_or_else(PoisonError::into_inner);
        let Some(stored) = map.get(key) else {
            return Ok(None);
        };
        if format == Format::Raw {
            // Opaque bytes: the copy into the worker's buffer is the whole read.
            format.decode(stored, &mut self.value, Decode::Fresh)
        } else {
            // Copy out (into a reused buffer) and decode after the lock is released.
            self.out.clear();
            self.out.extend_from_slice(stored);
            drop(map);
            format.decode(&self.out, &mut self.value, Decode::Fresh)
        }
        .or_store(NAME)?;
        Ok(Some(&self.value))
    }

    fn update(&mut self, key: &[u8], value: &Value) -> Result<()> {
        self.insert(key, value)
    }

    fn delete(&mut self, key: &[u8]) -> Result<bool> {
        Ok(self.map_mut().remove(key).is_some())
    }

    fn scan(&mut self, start: &[u8], limit: usize) -> Result<usize> {
        let (format, map) = (self.b.format, self.b.map.read());
        let map = map.unwrap_or_else(PoisonError::into_inner);
        let mut n = 0;
        for (_, v) in map.range(start.to_vec()..).take(limit) {
            format
                .decode(v, &mut self.value, Decode::Fresh)
                .or_store(NAME)?;
            n += 1;
        }
        Ok(n)
    }

    fn batch_insert(&mut self, items: &[(Vec<u8>, Value)]) -> Result<()> {
        let format = self.b.format;
        let encoded = items
            .iter()
            .map(|(k, v)| Ok((k.clone(), format.encoded(v).or_store(NAME)?)))
            .collect::<Result<Vec<_>>>()?;
        self.map_mut().extend(encoded);
        Ok(())
    }

    fn query(&mut self, q: &QuerySpec) -> Result<&Page> {
        let (format, map) = (self.b.format, self.b.map.read());
        let map = map.unwrap_or_else(PoisonError::into_inner);
        self.pager.start(&mut self.page);
        for (k, v) in map.range(q.prefix.clone()..) {
            if !k.starts_with(&q.prefix) || !self.pager.offer(q, format, k, v, &mut self.page) {
                break;
            }
        }
        self.pager.finish(q, &mut self.page);
        Ok(&self.page)
    }
}
