//! What the acorn variants share: opening a tree (in memory, or durable in a temporary
//! directory), the codecs, and a worker whose read and write paths each variant picks.

use acorn::{SyncPolicy, Tree};
use serde::Deserialize;

use super::{store_err, Backend, BackendInfo, QueryOrder, QuerySpec, Result, Worker};
use crate::doc::Doc;

/// How documents are serialized.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Codec {
    Json,
    Postcard,
}

impl Codec {
    pub(crate) fn label(self) -> &'static str {
        match self {
            Codec::Json => "JSON (serde_json)",
            Codec::Postcard => "postcard (binary serde)",
        }
    }

    /// Appends the encoding of `doc` to `out`.
    pub(crate) fn encode(self, doc: &Doc, out: &mut Vec<u8>) -> std::result::Result<(), String> {
        match self {
            Codec::Json => serde_json::to_writer(&mut *out, doc).map_err(|e| e.to_string()),
            Codec::Postcard => {
                let buf = std::mem::take(out);
                *out = postcard::to_extend(doc, buf).map_err(|e| e.to_string())?;
                Ok(())
            }
        }
    }

    pub(crate) fn decode(self, bytes: &[u8]) -> std::result::Result<Doc, String> {
        match self {
            Codec::Json => serde_json::from_slice(bytes).map_err(|e| e.to_string()),
            Codec::Postcard => postcard::from_bytes(bytes).map_err(|e| e.to_string()),
        }
    }

    /// Decodes into `doc`, reusing its strings and vectors (no allocation once warm).
    pub(crate) fn decode_into(
        self,
        bytes: &[u8],
        doc: &mut Doc,
    ) -> std::result::Result<(), String> {
        match self {
            Codec::Json => {
                let mut de = serde_json::Deserializer::from_slice(bytes);
                Doc::deserialize_in_place(&mut de, doc).map_err(|e| e.to_string())?;
                de.end().map_err(|e| e.to_string())
            }
            Codec::Postcard => {
                let mut de = postcard::Deserializer::from_bytes(bytes);
                Doc::deserialize_in_place(&mut de, doc).map_err(|e| e.to_string())
            }
        }
    }
}

/// How a variant reads and writes.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Variant {
    pub(crate) name: &'static str,
    pub(crate) codec: Codec,
    /// `crack` (copies key and value out) rather than decoding the stored bytes in place.
    pub(crate) copy_on_read: bool,
    /// Decode into the worker's pooled `Doc` and encode into its reused buffer.
    pub(crate) pooled: bool,
}

pub(crate) struct EngineBackend {
    pub(crate) variant: Variant,
    pub(crate) tree: Tree,
    durable: bool,
    _dir: Option<tempfile::TempDir>,
}

impl EngineBackend {
    pub(crate) fn open(variant: Variant, options: &super::Options, durable: bool) -> Result<Self> {
        let (tree, dir) = if durable {
            let dir = tempfile::Builder::new()
                .prefix("acorn-lab-")
                .tempdir_in(&options.scratch_dir)
                .map_err(|e| store_err(variant.name, e))?;
            let tree = Tree::builder()
                .path(dir.path())
                .sync(SyncPolicy::Always)
                .open()
                .map_err(|e| store_err(variant.name, e))?;
            (tree, Some(dir))
        } else {
            (Tree::open_memory(), None)
        };
        Ok(Self {
            variant,
            tree,
            durable,
            _dir: dir,
        })
    }

    pub(crate) fn info(&self, name: &str, cache: &str) -> BackendInfo {
        BackendInfo {
            name: name.to_owned(),
            store: format!("acorn {}", env!("CARGO_PKG_VERSION")),
            durability: if self.durable {
                "durable: WAL, fsync before each commit returns (SyncPolicy::Always)".into()
            } else {
                "in memory".into()
            },
            serialization: self.variant.codec.label().into(),
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
        store_err(self.variant.name, e)
    }
}

impl Backend for EngineBackend {
    fn name(&self) -> &str {
        self.variant.name
    }

    fn describe(&self) -> BackendInfo {
        let name = if self.durable {
            format!("{}:durable", self.variant.name)
        } else {
            self.variant.name.to_owned()
        };
        let cache = if self.variant.pooled {
            "none; per-worker pooled Doc and buffers"
        } else {
            "none"
        };
        self.info(&name, cache)
    }

    fn worker(&self) -> Box<dyn Worker + '_> {
        Box::new(EngineBackend::worker(self))
    }

    fn memory_bytes(&self) -> Option<u64> {
        Some(self.tree.stats().live_bytes)
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
    /// Encodes `doc` and stashes it.
    fn put(&mut self, key: &[u8], doc: &Doc) -> Result<()> {
        let (b, v) = (self.b, self.b.variant);
        let key = key_str(v.name, key)?;
        if v.pooled {
            self.buf.clear();
            v.codec.encode(doc, &mut self.buf).map_err(|e| b.err(e))?;
            b.tree.stash(key, &self.buf).map_err(|e| b.err(e))?;
        } else {
            let mut bytes = Vec::new();
            v.codec.encode(doc, &mut bytes).map_err(|e| b.err(e))?;
            b.tree.stash(key, bytes).map_err(|e| b.err(e))?;
        }
        Ok(())
    }

    /// Reads and decodes into `self.doc`; false when absent.
    pub(crate) fn fetch(&mut self, key: &[u8]) -> Result<bool> {
        let (b, v) = (self.b, self.b.variant);
        let key = key_str(v.name, key)?;
        let decoded = if v.copy_on_read {
            match b.tree.crack(key).map_err(|e| b.err(e))? {
                None => return Ok(false),
                Some(nut) => v.codec.decode(&nut.value).map(|d| self.doc = d),
            }
        } else if v.pooled {
            let doc = &mut self.doc;
            match b
                .tree
                .crack_with(key, |n| v.codec.decode_into(n.value, doc))
                .map_err(|e| b.err(e))?
            {
                None => return Ok(false),
                Some(r) => r,
            }
        } else {
            match b
                .tree
                .crack_with(key, |n| v.codec.decode(n.value))
                .map_err(|e| b.err(e))?
            {
                None => return Ok(false),
                Some(r) => r.map(|d| self.doc = d),
            }
        };
        decoded.map_err(|e| b.err(e))?;
        Ok(true)
    }
}

/// The fields queries filter and sort on; undecodable values sort first and never match.
fn value_and_time(codec: Codec, bytes: &[u8]) -> Option<(i64, u64)> {
    codec.decode(bytes).ok().map(|d| (d.value, d.timestamp))
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
        let key = key_str(self.b.variant.name, key)?;
        self.b.tree.toss(key).map_err(|e| self.b.err(e))
    }

    fn scan(&mut self, start: &[u8], limit: usize) -> Result<usize> {
        let (b, v) = (self.b, self.b.variant);
        let mut it = b.tree.iter_from(key_str(v.name, start)?);
        let mut n = 0;
        while n < limit {
            let doc = &mut self.doc;
            match it.next_ref(|nut| v.codec.decode_into(nut.value, doc)) {
                None => break,
                Some(r) => r.map_err(|e| b.err(e))?,
            }
            n += 1;
        }
        Ok(n)
    }

    fn batch_insert(&mut self, items: &[(Vec<u8>, Doc)]) -> Result<()> {
        let (b, v) = (self.b, self.b.variant);
        let mut batch = b.tree.batch();
        for (key, doc) in items {
            self.buf.clear();
            v.codec.encode(doc, &mut self.buf).map_err(|e| b.err(e))?;
            batch.stash(key_str(v.name, key)?, &self.buf);
        }
        batch.commit().map_err(|e| b.err(e))?;
        Ok(())
    }

    fn query(&mut self, q: &QuerySpec) -> Result<usize> {
        let codec = self.b.variant.codec;
        let prefix = key_str(self.b.variant.name, &q.prefix)?;
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
