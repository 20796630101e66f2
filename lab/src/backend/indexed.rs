//! `plain:indexed`: `plain` with a secondary index on the documents' `value` (acorn's
//! `Tree::index`), so a query with `min_value` reads only the index range from it, and
//! `order = "value_desc"` reads the index backwards instead of sorting. Every write pays
//! for the index (one extraction: a JSON parse of the `value` field, and the index
//! update). The engine's query cache is off for this variant, so a repeated query shows the
//! index's cost, not a cached answer.

use acorn::IndexKey;
use serde::Deserialize;

use super::engine::{key_str, value_and_time, EngineBackend, EngineWorker, Variant};
use super::{Backend, BackendInfo, Options, QueryOrder, QuerySpec, Result, Worker};
use crate::doc::Doc;

const VARIANT: Variant = Variant {
    name: "plain:indexed",
    ..super::plain::VARIANT
};

/// The one field the index reads (serde_json skips the rest without building it).
#[derive(Deserialize)]
struct ValueOnly {
    value: i64,
}

pub(crate) struct IndexedBackend {
    engine: EngineBackend,
}

pub(crate) fn open(options: &Options, durable: bool) -> Result<Box<dyn Backend>> {
    let engine = EngineBackend::open_with(VARIANT, options, durable, |b| {
        b.query_cache(0).index("value", |n: &acorn::NutRef<'_>| {
            serde_json::from_slice::<ValueOnly>(n.value)
                .ok()
                .map(|d| IndexKey::i64(d.value))
        })
    })?;
    Ok(Box::new(IndexedBackend { engine }))
}

impl Backend for IndexedBackend {
    fn name(&self) -> &str {
        self.engine.name()
    }

    fn describe(&self) -> BackendInfo {
        self.engine
            .info("none; secondary index on `value`, query cache off")
    }

    fn worker(&self) -> Box<dyn Worker + '_> {
        Box::new(IndexedWorker {
            w: self.engine.worker(),
        })
    }
}

struct IndexedWorker<'a> {
    w: EngineWorker<'a>,
}

impl Worker for IndexedWorker<'_> {
    fn insert(&mut self, key: &[u8], doc: &Doc) -> Result<()> {
        self.w.insert(key, doc)
    }

    fn read(&mut self, key: &[u8]) -> Result<Option<&Doc>> {
        self.w.read(key)
    }

    fn update(&mut self, key: &[u8], doc: &Doc) -> Result<()> {
        self.w.update(key, doc)
    }

    fn delete(&mut self, key: &[u8]) -> Result<bool> {
        self.w.delete(key)
    }

    fn scan(&mut self, start: &[u8], limit: usize) -> Result<usize> {
        self.w.scan(start, limit)
    }

    fn batch_insert(&mut self, items: &[(Vec<u8>, Doc)]) -> Result<()> {
        self.w.batch_insert(items)
    }

    /// Through the index when it helps (a `min_value`, or ordering by value); otherwise
    /// the same scan as `plain`.
    fn query(&mut self, q: &QuerySpec) -> Result<usize> {
        if q.min_value.is_none() && q.order != QueryOrder::ValueDesc {
            return self.w.query(q);
        }
        let b = self.w.b;
        let format = b.variant.format;
        let mut index = b
            .tree
            .query()
            .prefix(key_str(b.name(), &q.prefix)?)
            .index("value");
        if q.order == QueryOrder::ValueDesc {
            index = index.desc();
        }
        let query = match q.min_value {
            Some(min) => index.range(IndexKey::i64(min)..),
            None => index.all(),
        };
        let query = match q.order {
            QueryOrder::ValueDesc => query,
            QueryOrder::Key => query.order_by(|n| n.key.to_owned()),
            QueryOrder::Newest => {
                query.order_by_desc(move |n| value_and_time(format, n.value).map(|(_, t)| t))
            }
        };
        query
            .skip(q.skip)
            .take(q.take)
            .count()
            .map_err(|e| b.err(e))
    }
}
