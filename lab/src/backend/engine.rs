//! What the acorn variants share: opening a tree (in memory, or durable in a temporary
//! directory), the document formats, and one worker whose every operation follows the
//! variant's [`Access`] path.

use acorn::{SyncPolicy, Tree};
use serde::Deserialize;

use super::{
    scratch_dir, store_err, variant_name, Backend, BackendInfo, OrStore, QueryOrder, QuerySpec,
    Result, Worker,
};
use crate::doc::Doc;

/// How documents are serialized (the lab's choice per variant; not `acorn::Codec`, the
/// engine's typed-access trait).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Format {
    Json,
    Postcard,
}

impl Format {
    pub(crate) fn label(self) -> &'static str {
        match self {
            Format::Json => "JSON (serde_json)",
            Format::Postcard => "postcard (binary serde)",
        }
    }

    /// Appends the encoding of `doc` to `out`.
    pub(crate) fn encode(self, doc: &Doc, out: &mut Vec<u8>) -> std::result::Result<(), String> {
        match self {
            Format::Json => serde_json::to_writer(&mut *out, doc).map_err(|e| e.to_string()),
            Format::Postcard => {
                let buf = std::mem::take(out);
                *out = postcard::to_extend(doc, buf).map_err(|e| e.to_string())?;
                Ok(())
            }
        }
    }

    pub(crate) fn decode(self, bytes: &[u8]) -> std::result::Result<Doc, String> {
        match self {
            Format::Json => serde_json::from_slice(bytes).map_err(|e| e.to_string()),
            Format::Postcard => postcard::from_bytes(bytes).map_err(|e| e.to_string()),
        }
    }

    /// Decodes into `doc`, reusing its strings and vectors (no allocation once warm).
    pub(crate) fn decode_into(
        self,
        bytes: &[u8],
        doc: &mut Doc,
    ) -> std::result::Result<(), String> {
        match self {
            Format::Json => {
                let mut de = serde_json::Deserializer::from_slice(bytes);
                Doc::deserialize_in_place(&mut de, doc).map_err(|e| e.to_string())?;
                de.end().map_err(|e| e.to_string())
            }
            Format::Postcard => {
                let mut de = postcard::Deserializer::from_bytes(bytes);
                Doc::deserialize_in_place(&mut de, doc).map_err(|e| e.to_string())
            }
        }
    }
}

/// The path every operation of a variant takes between the tree and a [`Doc`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Access {
    /// The straightforward way: reads copy the nut out (`crack`, owned iteration) and
    /// decode a fresh `Doc`; writes encode into a fresh buffer.
    Copy,
    /// Reads decode a fresh `Doc` straight from the stored bytes (`crack_with`,
    /// `next_ref`), without copying the nut first; writes encode into a fresh buffer.
    Borrow,
    /// Reads decode into the worker's reused `Doc` in place; writes encode into the
    /// worker's reused buffer: nothing allocated per operation but the stored record.
    Pooled,
}

/// How a variant reads and writes.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Variant {
    pub(crate) name: &'static str,
    pub(crate) format: Format,
    pub(crate) access: Access,
}

pub(crate) struct EngineBackend {
    pub(crate) variant: Variant,
    pub(crate) tree: Tree,
    name: String,
    durable: bool,
    _dir: Option<tempfile::TempDir>,
}

impl EngineBackend {
    pub(crate) fn open(variant: Variant, options: &super::Options, durable: bool) -> Result<Self> {
        let name = variant_name(variant.name, durable);
        let (tree, dir) = if durable {
            let dir = scratch_dir(options, &name)?;
            let tree = Tree::builder()
                .path(dir.path())
                .sync(SyncPolicy::Always)
                .open()
                .or_store(&name)?;
            (tree, Some(dir))
        } else {
            (Tree::open_memory(), None)
        };
        Ok(Self {
            variant,
            tree,
            name,
            durable,
            _dir: dir,
        })
    }

    /// The description, with `cache` saying what (if anything) the variant caches.
    pub(crate) fn info(&self, cache: &str) -> BackendInfo {
        BackendInfo {
            name: self.name.clone(),
            store: format!("acorn {}", env!("CARGO_PKG_VERSION")),
            durability: if self.durable {
                "durable: WAL, fsync before each commit returns (SyncPolicy::Always)".into()
            } else {
                "in memory".into()
            },
            serialization: self.variant.format.label().into(),
            cache: cache.into(),
            stores_data: true,
            rust_heap: true,
        }
    }

    pub(crate) fn worker(&self) -> EngineWorker<'_> {
        EngineWorker {
            b: self,
            doc: Doc::default(),
            buf: Vec::new(),
        }
    }

    pub(crate) fn err(&self, e: impl std::fmt::Display) -> super::BackendError {
        store_err(&self.name, e)
    }
}

impl Backend for EngineBackend {
    fn name(&self) -> &str {
        &self.name
    }

    fn describe(&self) -> BackendInfo {
        self.info(match self.variant.access {
            Access::Pooled => "none; per-worker pooled Doc and buffers",
            Access::Copy | Access::Borrow => "none",
        })
    }

    fn worker(&self) -> Box<dyn Worker + '_> {
        Box::new(EngineBackend::worker(self))
    }
}

pub(crate) struct EngineWorker<'a> {
    pub(crate) b: &'a EngineBackend,
    /// The last document read (decoded in place when pooled).
    pub(crate) doc: Doc,
    buf: Vec<u8>,
}

pub(crate) fn key_str<'k>(backend: &str, key: &'k [u8]) -> Result<&'k str> {
    std::str::from_utf8(key).map_err(|_| store_err(backend, "acorn keys must be UTF-8"))
}

impl EngineWorker<'_> {
    /// Encodes `doc` for storing: into the reused buffer when pooled, else a fresh one.
    fn encode(&mut self, doc: &Doc) -> Result<Vec<u8>> {
        let v = self.b.variant;
        let mut out = match v.access {
            Access::Pooled => std::mem::take(&mut self.buf),
            Access::Copy | Access::Borrow => Vec::new(),
        };
        out.clear();
        v.format.encode(doc, &mut out).map_err(|e| self.b.err(e))?;
        Ok(out)
    }

    /// Hands an encoding buffer back for reuse (pooled only).
    fn recycle(&mut self, buf: Vec<u8>) {
        if self.b.variant.access == Access::Pooled {
            self.buf = buf;
        }
    }

    /// Encodes `doc` and stashes it.
    fn put(&mut self, key: &[u8], doc: &Doc) -> Result<()> {
        let key = key_str(&self.b.name, key)?;
        let bytes = self.encode(doc)?;
        self.b.tree.stash(key, &bytes).map_err(|e| self.b.err(e))?;
        self.recycle(bytes);
        Ok(())
    }

    /// Decodes `bytes` into `self.doc` the variant's way.
    fn decode(&mut self, bytes: &[u8]) -> std::result::Result<(), String> {
        let format = self.b.variant.format;
        match self.b.variant.access {
            Access::Pooled => format.decode_into(bytes, &mut self.doc),
            Access::Copy | Access::Borrow => format.decode(bytes).map(|d| self.doc = d),
        }
    }

    /// Reads and decodes into `self.doc`; false when absent.
    pub(crate) fn fetch(&mut self, key: &[u8]) -> Result<bool> {
        let b = self.b;
        let key = key_str(&b.name, key)?;
        let decoded = match b.variant.access {
            Access::Copy => match b.tree.crack(key).map_err(|e| b.err(e))? {
                None => return Ok(false),
                Some(nut) => self.decode(&nut.value),
            },
            Access::Borrow | Access::Pooled => {
                match b
                    .tree
                    .crack_with(key, |n| self.decode(n.value))
                    .map_err(|e| b.err(e))?
                {
                    None => return Ok(false),
                    Some(r) => r,
                }
            }
        };
        decoded.map_err(|e| b.err(e))?;
        Ok(true)
    }
}

/// The fields queries filter and sort on; undecodable values sort first and never match.
fn value_and_time(format: Format, bytes: &[u8]) -> Option<(i64, u64)> {
    format.decode(bytes).ok().map(|d| (d.value, d.timestamp))
}

impl Worker for EngineWorker<'_> {
    fn insert(&mut self, key: &[u8], doc: &Doc) -> Result<()> {
        self.put(key, doc)
    }

    fn read(&mut self, key: &[u8]) -> Result<Option<&Doc>> {
        Ok(self.fetch(key)?.then_some(&self.doc))
    }

    fn update(&mut self, key: &[u8], doc: &Doc) -> Result<()> {
        self.put(key, doc)
    }

    fn delete(&mut self, key: &[u8]) -> Result<bool> {
        let key = key_str(&self.b.name, key)?;
        self.b.tree.toss(key).map_err(|e| self.b.err(e))
    }

    fn scan(&mut self, start: &[u8], limit: usize) -> Result<usize> {
        let b = self.b;
        let mut it = b.tree.iter_from(key_str(&b.name, start)?);
        let mut n = 0;
        while n < limit {
            let decoded = match b.variant.access {
                Access::Copy => it.next().map(|nut| self.decode(&nut.value)),
                Access::Borrow | Access::Pooled => it.next_ref(|nut| self.decode(nut.value)),
            };
            match decoded {
                None => break,
                Some(r) => r.map_err(|e| b.err(e))?,
            }
            n += 1;
        }
        Ok(n)
    }

    fn batch_insert(&mut self, items: &[(Vec<u8>, Doc)]) -> Result<()> {
        let b = self.b;
        let mut batch = b.tree.batch();
        for (key, doc) in items {
            let bytes = self.encode(doc)?;
            batch.stash(key_str(&b.name, key)?, &bytes);
            self.recycle(bytes);
        }
        batch.commit().map_err(|e| b.err(e))?;
        Ok(())
    }

    fn delete_batch(&mut self, keys: &[Vec<u8>]) -> Result<()> {
        let b = self.b;
        let mut batch = b.tree.batch();
        for key in keys {
            batch.toss(key_str(&b.name, key)?);
        }
        batch.commit().map_err(|e| b.err(e))?;
        Ok(())
    }

    fn query(&mut self, q: &QuerySpec) -> Result<usize> {
        let codec = self.b.variant.format;
        let prefix = key_str(&self.b.name, &q.prefix)?;
        let mut query = self.b.tree.query().prefix(prefix);
        if let Some(min) = q.min_value {
            query = query
                .filter(move |n| value_and_time(codec, n.value).is_some_and(|(v, _)| v >= min));
        }
        query = match q.order {
            QueryOrder::Key => query,
            QueryOrder::ValueDesc => {
                query.order_by_desc(move |n| value_and_time(codec, n.value).map(|(v, _)| v))
            }
            QueryOrder::Newest => {
                query.order_by_desc(move |n| value_and_time(codec, n.value).map(|(_, t)| t))
            }
        };
        query
            .skip(q.skip)
            .take(q.take)
            .count()
            .map_err(|e| self.b.err(e))
    }
}
