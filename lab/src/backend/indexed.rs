//! `plain:indexed`: `plain` with a secondary index on the documents' `value` (acorn's
//! `Tree::index`), so a query with `min_value` reads only the index range from it, and
//! `order = "value_desc"` reads the index backwards instead of sorting. Every write pays
//! for the index (one extraction: the `value` field read by the codec's non-allocating
//! projection, and the index update). Opaque values have no `value`: nothing is indexed,
//! and queries over them (key order, no filter) scan as `plain`'s do. The engine's query cache is off for this variant, so a repeated query shows the
//! index's cost, not a cached answer.

use acorn::IndexKey;

use super::codec::Format;
use super::engine::{key_str, EngineBackend, EngineWorker, Variant};
use super::{Backend, BackendInfo, Options, Page, QueryOrder, QuerySpec, Registration, Result, Tier, Version, Worker};
use crate::doc::Value;

pub(crate) const REGISTRATIONS: &[Registration] = &[Registration::store(
    "plain:indexed",
    "plain + a secondary index on value: queries read the index, query cache off",
    Tier::Memory,
    Version::Acorn,
    open,
)];

const VARIANT: Variant = super::plain::VARIANT;

/// The index key of a record: its `value` (order-preserving), then its primary key with
/// every byte complemented and a 0xFF terminator. Reading the index backwards then gives
/// value descending and, among equal values, primary key *ascending* (a shorter key's 0xFF
/// outranks any complemented byte where a longer key goes on): the tie order every backend
/// keeps. A range from `IndexKey::i64(min)` still starts at the first record with that
/// value, since the suffix only extends the key.
fn index_key(value: i64, key: &[u8]) -> Vec<u8> {
    let mut k = Vec::with_capacity(8 + key.len() + 1);
    k.extend_from_slice(&IndexKey::i64(value));
    k.extend(key.iter().map(|b| !b));
    k.push(0xFF);
    k
}

pub(crate) struct IndexedBackend {
    engine: EngineBackend,
}

fn open(reg: &Registration, options: &Options) -> Result<Box<dyn Backend>> {
    let format = Format::for_values(VARIANT.format, options.values.is_opaque());
    let engine = EngineBackend::open_with(VARIANT, reg, options, |b| {
        b.query_cache(0)
            .index("value", move |n: &acorn::NutRef<'_>| {
                format
                    .project(n.value)
                    .map(|f| index_key(f.value, n.key.as_bytes()))
            })
    })?;
    Ok(Box::new(IndexedBackend { engine }))
}

impl Backend for IndexedBackend {
    fn data_dir(&self) -> Option<&std::path::Path> {
        self.engine.data_dir()
    }

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
    fn insert(&mut self, key: &[u8], value: &Value) -> Result<()> {
        self.w.insert(key, value)
    }

    fn read(&mut self, key: &[u8]) -> Result<Option<&Value>> {
        self.w.read(key)
    }

    fn update(&mut self, key: &[u8], value: &Value) -> Result<()> {
        self.w.update(key, value)
    }

    fn delete(&mut self, key: &[u8]) -> Result<bool> {
        self.w.delete(key)
    }

    fn scan(&mut self, start: &[u8], limit: usize) -> Result<usize> {
        self.w.scan(start, limit)
    }

    fn batch_insert(&mut self, items: &[(Vec<u8>, Value)]) -> Result<()> {
        self.w.batch_insert(items)
    }

    /// Through the index when it helps (a `min_value`, or ordering by value); otherwise
    /// the same scan as `plain`.
    fn query(&mut self, q: &QuerySpec) -> Result<&Page> {
        if q.min_value.is_none() && q.order != QueryOrder::ValueDesc {
            return self.w.query(q);
        }
        let b = self.w.b;
        let format = b.format;
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
            // Newest first; equal timestamps in key order, as every backend keeps ties.
            QueryOrder::Newest => query.order_by_desc(move |n| {
                let t = format.project(n.value).map(|f| f.timestamp);
                (t, std::cmp::Reverse(n.key.to_owned()))
            }),
        };
        let page = &mut self.w.page;
        page.clear();
        query
            .skip(q.skip)
            .take(q.take)
            .for_each(|n| page.push(n.key.as_bytes()))
            .map_err(|e| b.err(e))?;
        Ok(&self.w.page)
    }
}

#[cfg(test)]
mod tests {
    use super::index_key;

    #[test]
    fn backwards_the_index_gives_value_descending_then_key_ascending() {
        let mut keys = [
            index_key(5, b"b"),
            index_key(5, b"a"),
            index_key(5, b"ab"),
            index_key(7, b"z"),
            index_key(-1, b"a"),
        ];
        keys.sort();
        keys.reverse();
        assert_eq!(
            keys,
            [
                index_key(7, b"z"),
                index_key(5, b"a"),
                index_key(5, b"ab"),
                index_key(5, b"b"),
                index_key(-1, b"a"),
            ]
        );
    }
}
