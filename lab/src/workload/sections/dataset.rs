//! `[dataset]` (what is loaded before anything is measured), `[cache]` (what the `cached`
//! variant does) and `[query]` (the query every backend answers, over the dataset's keys).

use serde::Serialize;

use crate::backend::{CachePolicy, QueryOrder, QuerySpec};
use crate::doc::{DocShape, ValueShape};
use crate::workload::context::{Ctx, WorkloadError};
use crate::workload::names::{write_key, KeyOrder, KeyTable};
use crate::workload::spec::{CacheSpec, DatasetSpec, DocSpec, QueryToml, RunSpec};

/// `[dataset]`: what is loaded before anything is measured.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Dataset {
    pub records: u64,
    pub key_prefix: String,
    /// Digits the number in a key name is zero-padded to, at least (YCSB's `zeropadding`).
    pub key_width: usize,
    /// Whether key names carry the record number or its hash (YCSB's `insertorder`).
    pub key_order: KeyOrder,
    /// Documents of a shape (`doc = { .. }`, the default) or opaque bytes
    /// (`value = { bytes = N }`).
    pub value: ValueShape,
}

/// `[cache]`: what the `cached` variant does (other variants ignore it).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct CacheSettings {
    pub policy: CachePolicy,
    /// Values it keeps.
    pub capacity: usize,
}

impl Default for CacheSettings {
    /// Write-through, 10k values (AcornDB's default cache size).
    fn default() -> Self {
        CacheSettings {
            policy: CachePolicy::default(),
            capacity: 10_000,
        }
    }
}

impl Dataset {
    /// Writes the key name of record `id` into `buf`.
    #[inline]
    pub fn write_key(&self, buf: &mut Vec<u8>, id: u64) {
        write_key(buf, &self.key_prefix, self.key_width, self.key_order, id);
    }

    /// The names of the loaded records, computed once (see [`KeyTable`]).
    pub fn key_table(&self) -> KeyTable {
        KeyTable::new(
            &self.key_prefix,
            self.key_width,
            self.key_order,
            self.records,
        )
    }
}

impl Dataset {
    pub(crate) fn from_spec(cx: Ctx<'_>, ds: &DatasetSpec) -> Result<Dataset, WorkloadError> {
        let records = cx.positive(
            &ds.records,
            "dataset.records",
            1_000_000_000,
            "records to load",
        )?;
        let key = ds.key.as_ref();
        let key_prefix = key
            .and_then(|k| k.prefix.clone())
            .unwrap_or_else(|| "user".into());
        let key_width = match key.and_then(|k| k.width.as_ref()) {
            None => 1,
            Some(w) => cx.positive(
                w,
                "dataset.key.width",
                32,
                "digits a key number is padded to",
            )? as usize,
        };
        let key_order = match key.and_then(|k| k.order.as_ref()) {
            None => KeyOrder::Hashed,
            Some(o) => cx.choice(
                o,
                "dataset.key.order",
                "key order",
                &[("hashed", KeyOrder::Hashed), ("ordered", KeyOrder::Ordered)],
            )?,
        };
        Ok(Dataset {
            records,
            key_prefix,
            key_width,
            key_order,
            value: value_shape(cx, ds)?,
        })
    }
}

/// `doc = { .. }` or `value = { bytes = N }` (not both); documents of the default shape
/// when neither is given.
fn value_shape(cx: Ctx<'_>, ds: &DatasetSpec) -> Result<ValueShape, WorkloadError> {
    match (&ds.doc, &ds.value) {
        (Some(_), Some(v)) => Err(cx.err(
            v.span(),
            "dataset.value",
            "give `doc` (documents) or `value` (opaque bytes), not both",
        )),
        (None, Some(v)) => {
            let b = &v.get_ref().bytes;
            let n = cx.positive(b, "dataset.value.bytes", 1 << 24, "bytes per value")?;
            Ok(ValueShape::Bytes(n as usize))
        }
        (Some(d), None) => Ok(ValueShape::Doc(doc_shape(cx, d.get_ref())?)),
        (None, None) => Ok(ValueShape::default()),
    }
}

fn doc_shape(cx: Ctx<'_>, d: &DocSpec) -> Result<DocShape, WorkloadError> {
    let mut doc = DocShape::default();
    if let Some(f) = &d.fields {
        doc.fields = cx.nonneg(f, "dataset.doc.fields", 1000)?;
    }
    if let Some(f) = &d.field_bytes {
        doc.field_bytes =
            cx.positive(f, "dataset.doc.field_bytes", 1 << 20, "bytes per field")? as usize;
    }
    if let Some(t) = &d.tags {
        doc.tags = cx.nonneg(t, "dataset.doc.tags", 100)?;
    }
    Ok(doc)
}

impl CacheSettings {
    /// `[cache]`, plus `[run] cache_capacity`, the older spelling of `cache.capacity`.
    pub(crate) fn from_spec(
        cx: Ctx<'_>,
        cache: Option<&CacheSpec>,
        run: Option<&RunSpec>,
    ) -> Result<CacheSettings, WorkloadError> {
        let old = run.and_then(|r| r.cache_capacity.as_ref());
        let new = cache.and_then(|c| c.capacity.as_ref());
        let capacity = match (new, old) {
            (Some(c), Some(_)) => {
                return Err(cx.err(
                    c.span(),
                    "cache.capacity",
                    "also given as `run.cache_capacity` (its older spelling); keep one",
                ))
            }
            (Some(c), None) => cx.positive(c, "cache.capacity", 1 << 30, "values cached")?,
            (None, Some(c)) => cx.positive(c, "run.cache_capacity", 1 << 30, "values cached")?,
            (None, None) => CacheSettings::default().capacity as u64,
        };
        let policy = match cache.and_then(|c| c.policy.as_ref()) {
            None => CachePolicy::default(),
            Some(p) => cx.choice(
                p,
                "cache.policy",
                "cache policy",
                &[
                    ("write-through", CachePolicy::WriteThrough),
                    ("invalidate", CachePolicy::Invalidate),
                ],
            )?,
        };
        Ok(CacheSettings {
            policy,
            capacity: capacity as usize,
        })
    }
}

/// `[query]`: the query every backend answers, over the dataset's key prefix. Over opaque
/// values (which have no fields) it pages in key order and may not filter.
pub(crate) fn query_from_spec(
    cx: Ctx<'_>,
    q: Option<&QueryToml>,
    dataset: &Dataset,
) -> Result<QuerySpec, WorkloadError> {
    let opaque = dataset.value.is_opaque();
    let mut query = QuerySpec {
        prefix: dataset.key_prefix.as_bytes().to_vec(),
        min_value: (!opaque).then_some(500),
        order: if opaque {
            QueryOrder::Key
        } else {
            QueryOrder::ValueDesc
        },
        skip: 0,
        take: 10,
    };
    let Some(q) = q else { return Ok(query) };
    if let Some(m) = &q.min_value {
        if opaque {
            return Err(cx.err(
                m.span(),
                "query.min_value",
                "opaque values (`dataset.value`) have no fields to filter on; leave it out",
            ));
        }
    }
    query.min_value = q.min_value.as_ref().map(|m| *m.get_ref());
    if let Some(o) = &q.order {
        query.order = cx.choice(
            o,
            "query.order",
            "order",
            &[
                ("key", QueryOrder::Key),
                ("value_desc", QueryOrder::ValueDesc),
                ("newest", QueryOrder::Newest),
            ],
        )?;
        if opaque && query.order != QueryOrder::Key {
            return Err(cx.err(
                o.span(),
                "query.order",
                "opaque values (`dataset.value`) have no fields to order by; use \"key\"",
            ));
        }
    }
    if let Some(s) = &q.skip {
        query.skip = cx.nonneg(s, "query.skip", 1 << 30)?;
    }
    if let Some(t) = &q.take {
        query.take = cx.positive(t, "query.take", 1 << 30, "results per page")? as usize;
    }
    Ok(query)
}
