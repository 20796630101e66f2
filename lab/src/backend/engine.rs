//! What the acorn variants share: opening a tree (in memory, or durable in a temporary
//! directory), and one worker whose every operation follows the variant's [`Access`] path
//! with the variant's format (`Raw` for every variant when the values are opaque).

use std::cell::Cell;

use acorn::{Compression, SyncPolicy, Tree, TreeBuilder};

use super::codec::{Decode, Format};
use super::page::{reads_fields, select};
use super::{
    scratch_dir, store_err, Backend, BackendInfo, Options, OrStore, Page, QueryOrder, QuerySpec,
    Registration, Result, Version, Worker,
};
use crate::doc::Value;

/// The path every operation of a variant takes between the tree and a [`Value`] (queries
/// decode no document, so they read borrowed views under both).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Access {
    /// The straightforward way: reads copy the nut out (`crack`, owned iteration and query
    /// results) and decode a fresh document; writes encode into a fresh buffer.
    Copy,
    /// Reads decode from the stored bytes (`crack_with`, `next_ref`, borrowed query
    /// results) into the worker's reused document, in place; writes encode into the
    /// worker's reused buffer: nothing allocated per operation but the stored record.
    Pooled,
}

impl Access {
    fn decode(self) -> Decode {
        match self {
            Access::Copy => Decode::Fresh,
            Access::Pooled => Decode::InPlace,
        }
    }
}

/// How a variant reads and writes.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Variant {
    /// The format of documents (opaque values are always stored raw).
    pub(crate) format: Format,
    pub(crate) access: Access,
    /// What `describe()` says the variant does, beside its format.
    pub(crate) policy: &'static str,
}

pub(crate) struct EngineBackend {
    pub(crate) variant: Variant,
    /// The variant's format for this run's values.
    pub(crate) format: Format,
    pub(crate) tree: Tree,
    name: &'static str,
    durable: bool,
    /// Added to the durability description (how the files are written, when not plainly).
    files: &'static str,
    /// When a durable tree fsyncs (see [`sync_policy`]).
    policy: SyncPolicy,
    /// How the tree compresses its files (`reopen` opens it the same way).
    compression: Compression,
    _dir: Option<tempfile::TempDir>,
}

/// How long a `:group` variant's first writer waits for others before the shared fsync.
pub(crate) const GROUP_DELAY: std::time::Duration = std::time::Duration::from_micros(200);

/// The sync policy of a durable engine variant, by its registered name: `…:never`
/// (`SyncPolicy::Never`: os-buffered), `…:group` (`SyncPolicy::Group`, [`GROUP_DELAY`]:
/// group commit), any other (`SyncPolicy::Always`: an fsync before each commit returns,
/// shared by commits in flight together).
pub(crate) fn sync_policy(name: &str) -> SyncPolicy {
    if name.ends_with(":never") {
        SyncPolicy::Never
    } else if name.ends_with(":group") {
        SyncPolicy::Group {
            max_delay: GROUP_DELAY,
        }
    } else {
        SyncPolicy::Always
    }
}

impl EngineBackend {
    /// The tree registered as `reg`: in memory, or durable (`SyncPolicy::Always`) in a
    /// temporary directory when its tier is on disk.
    pub(crate) fn open(variant: Variant, reg: &Registration, options: &Options) -> Result<Self> {
        Self::open_with(variant, reg, options, |b| b)
    }

    /// [`EngineBackend::open`], with `configure` adding to the tree's builder (indexes,
    /// the query cache).
    pub(crate) fn open_with(
        variant: Variant,
        reg: &Registration,
        options: &Options,
        configure: impl FnOnce(TreeBuilder) -> TreeBuilder,
    ) -> Result<Self> {
        let (name, durable, policy) = (reg.name, reg.tier.on_disk(), sync_policy(reg.name));
        let (tree, dir) = if durable {
            let dir = scratch_dir(options, name)?;
            let builder = Tree::builder().path(dir.path()).sync(policy);
            let tree = configure(builder).open().or_store(name)?;
            (tree, Some(dir))
        } else {
            (configure(Tree::builder()).open().or_store(name)?, None)
        };
        Ok(Self {
            variant,
            format: Format::for_values(variant.format, options.values.is_opaque()),
            tree,
            name,
            durable,
            files: "",
            policy,
            compression: Compression::None,
            _dir: dir,
        })
    }

    /// The same backend, opened with `compression` (its builder already had it: `reopen`
    /// opens it the same way), its description saying how its files are written (`files`,
    /// e.g. "; LZ4-compressed log frames and snapshots").
    pub(crate) fn compressed(mut self, compression: Compression, files: &'static str) -> Self {
        self.compression = compression;
        self.files = files;
        self
    }

    /// The description, with `cache` saying what (if anything) the variant caches.
    pub(crate) fn info(&self, cache: &str) -> BackendInfo {
        BackendInfo {
            name: self.name.into(),
            store: Version::Acorn.label(),
            durability: if self.durable {
                let policy: String = match self.policy {
                    SyncPolicy::Always => {
                        "durable: WAL, fsync before each commit returns (SyncPolicy::Always)".into()
                    }
                    SyncPolicy::Group { max_delay } => format!(
                        "durable: WAL, group commit: one fsync for the writers of up to {} \
                         (SyncPolicy::Group)",
                        acorn_reports::format::human_ns(max_delay.as_nanos() as f64)
                    ),
                    // `Never` (and any policy added later: SyncPolicy is non-exhaustive).
                    _ => {
                        "durable against a process crash: WAL written to the OS per commit, never \
                          fsynced on the write path \
                         (SyncPolicy::Never)"
                            .into()
                    }
                };
                format!("{policy}{}", self.files)
            } else {
                "in memory".into()
            },
            serialization: self.format.label().into(),
            cache: cache.into(),
            stores_data: true,
            rust_heap: true,
        }
    }

    pub(crate) fn worker(&self) -> EngineWorker<'_> {
        EngineWorker {
            b: self,
            value: Value::default(),
            buf: Vec::new(),
            page: Page::default(),
        }
    }

    /// The tree's directory when durable.
    pub(crate) fn data_dir(&self) -> Option<&std::path::Path> {
        self._dir.as_ref().map(tempfile::TempDir::path)
    }

    pub(crate) fn err(&self, e: impl std::fmt::Display) -> super::BackendError {
        store_err(self.name, e)
    }
}

impl Backend for EngineBackend {
    fn name(&self) -> &str {
        self.name
    }

    fn data_dir(&self) -> Option<&std::path::Path> {
        EngineBackend::data_dir(self)
    }

    fn can_reopen(&self) -> bool {
        self.durable
    }

    fn reopen(mut self: Box<Self>) -> Result<Box<dyn Backend>> {
        let name = self.name;
        let dir = EngineBackend::data_dir(&self)
            .map(std::path::Path::to_path_buf)
            .ok_or_else(|| store_err(name, "reopen: not on disk"))?;
        // The old tree closes (its files released) before the new one opens them.
        let empty = Tree::builder().open().or_store(name)?;
        drop(std::mem::replace(&mut self.tree, empty));
        self.tree = Tree::builder()
            .path(&dir)
            .sync(self.policy)
            .compression(self.compression)
            .open()
            .or_store(name)?;
        Ok(self)
    }

    fn describe(&self) -> BackendInfo {
        self.info(&format!("none; {}", self.variant.policy))
    }

    fn worker(&self) -> Box<dyn Worker + '_> {
        Box::new(EngineBackend::worker(self))
    }
}

pub(crate) struct EngineWorker<'a> {
    pub(crate) b: &'a EngineBackend,
    /// The last value read (decoded in place when pooled).
    pub(crate) value: Value,
    buf: Vec<u8>,
    pub(crate) page: Page,
}

pub(crate) fn key_str<'k>(backend: &str, key: &'k [u8]) -> Result<&'k str> {
    std::str::from_utf8(key).map_err(|_| store_err(backend, "acorn keys must be UTF-8"))
}

impl EngineWorker<'_> {
    /// Stores `value` under `key`, encoding into the reused buffer when pooled, else into
    /// a fresh one.
    pub(crate) fn put(&mut self, key: &[u8], value: &Value) -> Result<()> {
        self.put_under(key, value, || ()).map(drop)
    }

    /// [`EngineWorker::put`], with `lock` taken after the value is encoded and held (its
    /// guard returned) from before the stash: a caller that must order the stash with
    /// other work (`cached`'s stripes) holds its lock for the stash alone, not the encoding.
    pub(crate) fn put_under<G>(
        &mut self,
        key: &[u8],
        value: &Value,
        lock: impl FnOnce() -> G,
    ) -> Result<G> {
        let b = self.b;
        let key = key_str(b.name, key)?;
        let mut fresh = Vec::new();
        let buf = match b.variant.access {
            Access::Pooled => &mut self.buf,
            Access::Copy => &mut fresh,
        };
        let bytes = b.format.stored(value, buf).map_err(|e| b.err(e))?;
        let held = lock();
        b.tree.stash(key, bytes).map_err(|e| b.err(e))?;
        Ok(held)
    }

    /// Reads and decodes into `self.value`; false when absent.
    pub(crate) fn fetch(&mut self, key: &[u8]) -> Result<bool> {
        let mut value = std::mem::take(&mut self.value);
        let found = self.fetch_into(key, &mut value);
        self.value = value;
        found
    }

    /// Reads and decodes into `out` (in place when pooled); false when absent.
    pub(crate) fn fetch_into(&self, key: &[u8], out: &mut Value) -> Result<bool> {
        let b = self.b;
        let key = key_str(b.name, key)?;
        let (format, how) = (b.format, b.variant.access.decode());
        let decoded = match b.variant.access {
            Access::Copy => b
                .tree
                .crack(key)
                .map_err(|e| b.err(e))?
                .map(|nut| format.decode(&nut.value, out, how)),
            Access::Pooled => b
                .tree
                .crack_with(key, |n| format.decode(n.value, out, how))
                .map_err(|e| b.err(e))?,
        };
        match decoded {
            None => Ok(false),
            Some(r) => r.map(|()| true).map_err(|e| b.err(e)),
        }
    }

    /// The engine's own query, with the filter and the order read from one look at each
    /// value: a value that does not match gets no order key, so it sorts after every
    /// match, and the page ends where the matches do (the order key is computed once per
    /// value, which is also how the matches are counted). A query decodes no document, so
    /// every variant reads borrowed views (the access path is about decoding) and copies
    /// out only the page's keys.
    fn query_page(&mut self, q: &QuerySpec) -> Result<()> {
        let b = self.b;
        let format = b.format;
        let matches = Cell::new(0usize);
        let mut query = b.tree.query().prefix(key_str(b.name, &q.prefix)?);
        let sorted = q.order != QueryOrder::Key;
        if sorted {
            query = query.order_by_desc(|n| {
                let key = select(q, format, n.value);
                matches.set(matches.get() + usize::from(key.is_some()));
                key
            });
        } else if reads_fields(q) {
            query = query.filter_raw(move |v| select(q, format, v).is_some());
        }
        let page = &mut self.page;
        page.clear();
        let mut at = q.skip;
        query
            .skip(q.skip)
            .take(q.take)
            .for_each(|n| {
                if !sorted || at < matches.get() {
                    page.push(n.key.as_bytes());
                }
                at += 1;
            })
            .map_err(|e| b.err(e))
    }
}

impl Worker for EngineWorker<'_> {
    fn insert(&mut self, key: &[u8], value: &Value) -> Result<()> {
        self.put(key, value)
    }

    fn read(&mut self, key: &[u8]) -> Result<Option<&Value>> {
        Ok(self.fetch(key)?.then_some(&self.value))
    }

    fn update(&mut self, key: &[u8], value: &Value) -> Result<()> {
        self.put(key, value)
    }

    fn delete(&mut self, key: &[u8]) -> Result<bool> {
        let key = key_str(self.b.name, key)?;
        self.b.tree.toss(key).map_err(|e| self.b.err(e))
    }

    fn scan(&mut self, start: &[u8], limit: usize) -> Result<usize> {
        let b = self.b;
        let (format, how) = (b.format, b.variant.access.decode());
        let mut it = b.tree.iter_from(key_str(b.name, start)?);
        let mut n = 0;
        while n < limit {
            let value = &mut self.value;
            let decoded = match b.variant.access {
                Access::Copy => it.next().map(|nut| format.decode(&nut.value, value, how)),
                Access::Pooled => it.next_ref(|nut| format.decode(nut.value, value, how)),
            };
            match decoded {
                None => break,
                Some(r) => r.map_err(|e| b.err(e))?,
            }
            n += 1;
        }
        Ok(n)
    }

    fn batch_insert(&mut self, items: &[(Vec<u8>, Value)]) -> Result<()> {
        let b = self.b;
        let mut batch = b.tree.batch();
        for (key, value) in items {
            let mut fresh = Vec::new();
            let buf = match b.variant.access {
                Access::Pooled => &mut self.buf,
                Access::Copy => &mut fresh,
            };
            let bytes = b.format.stored(value, buf).map_err(|e| b.err(e))?;
            batch.stash(key_str(b.name, key)?, bytes);
        }
        batch.commit().map_err(|e| b.err(e))?;
        Ok(())
    }

    fn delete_batch(&mut self, keys: &[Vec<u8>]) -> Result<()> {
        let b = self.b;
        let mut batch = b.tree.batch();
        for key in keys {
            batch.toss(key_str(b.name, key)?);
        }
        batch.commit().map_err(|e| b.err(e))?;
        Ok(())
    }

    fn query(&mut self, q: &QuerySpec) -> Result<&Page> {
        self.query_page(q)?;
        Ok(&self.page)
    }
}
