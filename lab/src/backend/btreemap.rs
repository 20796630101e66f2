//! `btreemap`: `RwLock<BTreeMap<Vec<u8>, Vec<u8>>>` + JSON — what people write by hand.

use std::collections::BTreeMap;
use std::sync::{PoisonError, RwLock};

use super::{page, Backend, BackendInfo, QuerySpec, Result, Worker};
use crate::doc::Doc;

#[derive(Default)]
pub(crate) struct BTreeMapBackend {
    map: RwLock<BTreeMap<Vec<u8>, Vec<u8>>>,
}

fn json(doc: &Doc) -> Result<Vec<u8>> {
    super::to_json("btreemap", doc)
}

fn decode(bytes: &[u8]) -> Result<Doc> {
    super::from_json("btreemap", bytes)
}

impl Backend for BTreeMapBackend {
    fn name(&self) -> &str {
        "btreemap"
    }

    fn describe(&self) -> BackendInfo {
        BackendInfo {
            name: "btreemap".into(),
            store: "std RwLock<BTreeMap<Vec<u8>, Vec<u8>>>".into(),
            durability: "in memory".into(),
            serialization: "JSON (serde_json)".into(),
            cache: "none".into(),
            stores_data: true,
            rust_heap: true,
        }
    }

    fn worker(&self) -> Box<dyn Worker + '_> {
        Box::new(BTreeMapWorker {
            b: self,
            doc: Doc::default(),
        })
    }
}

struct BTreeMapWorker<'a> {
    b: &'a BTreeMapBackend,
    doc: Doc,
}

impl BTreeMapWorker<'_> {
    fn map(&self) -> std::sync::RwLockReadGuard<'_, BTreeMap<Vec<u8>, Vec<u8>>> {
        self.b.map.read().unwrap_or_else(PoisonError::into_inner)
    }

    fn map_mut(&self) -> std::sync::RwLockWriteGuard<'_, BTreeMap<Vec<u8>, Vec<u8>>> {
        self.b.map.write().unwrap_or_else(PoisonError::into_inner)
    }
}

impl Worker for BTreeMapWorker<'_> {
    fn insert(&mut self, key: &[u8], doc: &Doc) -> Result<()> {
        let bytes = json(doc)?;
        self.map_mut().insert(key.to_vec(), bytes);
        Ok(())
    }

    fn read(&mut self, key: &[u8]) -> Result<Option<&Doc>> {
        let bytes = self.map().get(key).cloned();
        match bytes {
            None => Ok(None),
            Some(b) => {
                self.doc = decode(&b)?;
                Ok(Some(&self.doc))
            }
        }
    }

    fn update(&mut self, key: &[u8], doc: &Doc) -> Result<()> {
        self.insert(key, doc)
    }

    fn delete(&mut self, key: &[u8]) -> Result<bool> {
        Ok(self.map_mut().remove(key).is_some())
    }

    fn scan(&mut self, start: &[u8], limit: usize) -> Result<usize> {
        let map = self.map();
        let mut n = 0;
        for (_, v) in map.range(start.to_vec()..).take(limit) {
            decode(v)?;
            n += 1;
        }
        Ok(n)
    }

    fn batch_insert(&mut self, items: &[(Vec<u8>, Doc)]) -> Result<()> {
        let encoded = items
            .iter()
            .map(|(k, d)| Ok((k.clone(), json(d)?)))
            .collect::<Result<Vec<_>>>()?;
        self.map_mut().extend(encoded);
        Ok(())
    }

    fn query(&mut self, q: &QuerySpec) -> Result<usize> {
        let map = self.map();
        let mut rows = Vec::new();
        for (k, v) in map.range(q.prefix.clone()..) {
            if !k.starts_with(&q.prefix) {
                break;
            }
            let d = decode(v)?;
            rows.push((d.value, d.timestamp));
        }
        Ok(page(rows, q))
    }
}
