//! What the peer stores share. A peer is a [`Kv`]: bytes in, bytes out, plus what a store
//! really does its own way (a transaction per operation, its durability flush, where the
//! bytes of a read live). [`Peer`] and its worker do the rest, once for every peer: the
//! codec (the peers' format: JSON, `Raw` for opaque values), the worker's buffers (the
//! last value read, the query page), the `Worker` contract (update is an upsert, scans
//! decode what they read, queries by [`Pager`]: the engine's rule), and batches.

use std::borrow::Cow;

use super::codec::{Decode, Format};
use super::page::Pager;
use super::{
    Backend, BackendInfo, Options, OrStore, Page, QuerySpec, Registration, Result, Worker,
};
use crate::doc::Value;

/// What a scan hands each `(key, value)` to; `false` stops it.
pub(crate) type Each<'a> = dyn FnMut(&[u8], &[u8]) -> Result<bool> + 'a;

/// The peers' format for documents: JSON, what a user of them would write (`Raw` when the
/// values are opaque).
pub(crate) fn format(options: &Options) -> Format {
    Format::for_values(Format::Json, options.values.is_opaque())
}

/// A peer store as the lab drives it. Every write is complete, visible to every worker and
/// as durable as the store's tier says when it returns.
pub(crate) trait Kv: Send + Sync {
    /// The description: `info` comes with the name and serialization filled in and
    /// `stores_data`, `rust_heap` true; the store says what it is (and its version), its
    /// durability and its cache.
    fn describe(&self, info: BackendInfo) -> BackendInfo;

    /// Stores `value` under `key`, whether or not it exists, in one commit. `value` is
    /// owned when encoding made it, so a store that keeps owned bytes takes it as it is.
    fn put(&self, key: &[u8], value: Cow<'_, [u8]>) -> Result<()>;

    /// Hands the bytes stored under `key` to `read`; `None` when absent. `scratch` is the
    /// worker's own buffer, for a store that copies the bytes out first (to release a
    /// lock before `read` decodes them).
    fn get<T>(
        &self,
        key: &[u8],
        scratch: &mut Vec<u8>,
        read: impl FnOnce(&[u8]) -> T,
    ) -> Result<Option<T>>;

    /// Removes `key` in one commit; returns whether it was there.
    fn delete(&self, key: &[u8]) -> Result<bool>;

    /// Hands each `(key, value)` from `start` (inclusive) on, in key order, to `each`
    /// until it returns false or the keys run out (one read transaction for the walk).
    fn scan(&self, start: &[u8], each: impl FnMut(&[u8], &[u8]) -> Result<bool>) -> Result<()>;

    /// [`Kv::scan`] over the keys that start with `prefix`: by default a scan from
    /// `prefix` that stops at the first key without it.
    fn scan_prefix(
        &self,
        prefix: &[u8],
        mut each: impl FnMut(&[u8], &[u8]) -> Result<bool>,
    ) -> Result<()> {
        self.scan(prefix, |k, v| Ok(k.starts_with(prefix) && each(k, v)?))
    }

    /// Stores every item in one atomic commit: after an `Err` none of them is visible.
    fn put_batch(&self, items: Items<'_>) -> Result<()>;

    /// Removes every key (absent ones are no error): by default one `delete` each. The
    /// runner uses it, untimed, to take out what a phase inserted.
    fn delete_batch(&self, keys: &[Vec<u8>]) -> Result<()> {
        for k in keys {
            self.delete(k)?;
        }
        Ok(())
    }

    /// The directory the store's files are in (durable stores); `None` in memory.
    fn dir(&self) -> Option<&std::path::Path> {
        None
    }

    /// Whether [`Kv::reopen`] can reopen it (stores on disk that implement it).
    fn can_reopen(&self) -> bool {
        false
    }

    /// Closes the store and opens it again from its files (see [`Backend::reopen`]); only
    /// called when [`Kv::can_reopen`] says so.
    fn reopen(self) -> Result<Self>
    where
        Self: Sized,
    {
        Err(super::BackendError::Unsupported {
            backend: "peer".into(),
            op: "reopen",
        })
    }
}

/// The items of a batch, encoded the way the store takes them.
#[derive(Debug)]
pub(crate) struct Items<'a> {
    items: &'a [(Vec<u8>, Value)],
    format: Format,
    backend: &'a str,
}

impl<'a> Items<'a> {
    /// Each key with its value's bytes, owned: a fresh encoding per document, a copy of
    /// opaque bytes (for a store that keeps what it is given, or encodes all first).
    pub(crate) fn owned(&self) -> impl Iterator<Item = Result<(&'a [u8], Vec<u8>)>> + '_ {
        self.items.iter().map(|(k, v)| {
            let bytes = self.format.encoded(v).or_store(self.backend)?;
            Ok((k.as_slice(), bytes))
        })
    }

    /// Hands each key with its value's bytes to `put`, documents encoded into one buffer
    /// reused from item to item, opaque bytes as they are.
    pub(crate) fn each(&self, mut put: impl FnMut(&[u8], &[u8]) -> Result<()>) -> Result<()> {
        let mut buf = Vec::new();
        for (k, v) in self.items {
            put(k, self.format.stored(v, &mut buf).or_store(self.backend)?)?;
        }
        Ok(())
    }
}

/// A peer backend: a [`Kv`] under its registered name, values in the peers' format.
#[derive(Debug)]
pub(crate) struct Peer<K> {
    name: &'static str,
    format: Format,
    kv: K,
}

impl<K: Kv + 'static> Peer<K> {
    /// The backend registered as `reg`, storing through `kv`.
    pub(crate) fn open(reg: &Registration, options: &Options, kv: K) -> Result<Box<dyn Backend>> {
        Ok(Box::new(Peer {
            name: reg.name,
            format: format(options),
            kv,
        }))
    }
}

impl<K: Kv + 'static> Backend for Peer<K> {
    fn name(&self) -> &str {
        self.name
    }

    fn data_dir(&self) -> Option<&std::path::Path> {
        self.kv.dir()
    }

    fn can_reopen(&self) -> bool {
        self.kv.can_reopen()
    }

    fn reopen(self: Box<Self>) -> Result<Box<dyn Backend>> {
        let Peer { name, format, kv } = *self;
        let kv = kv.reopen()?;
        Ok(Box::new(Peer { name, format, kv }))
    }

    fn describe(&self) -> BackendInfo {
        self.kv.describe(BackendInfo {
            name: self.name.into(),
            store: String::new(),
            durability: String::new(),
            serialization: self.format.label().into(),
            cache: String::new(),
            stores_data: true,
            rust_heap: true,
        })
    }

    fn worker(&self) -> Box<dyn Worker + '_> {
        Box::new(PeerWorker {
            peer: self,
            value: Value::default(),
            scratch: Vec::new(),
            pager: Pager::default(),
            page: Page::default(),
        })
    }
}

/// One thread's worker on a peer: the buffers it reuses, and the `Worker` contract.
struct PeerWorker<'a, K> {
    peer: &'a Peer<K>,
    /// The last value read (or scanned), decoded.
    value: Value,
    /// The store's copy of a read's bytes, where it makes one ([`Kv::get`]).
    scratch: Vec<u8>,
    pager: Pager,
    page: Page,
}

impl<K: Kv> Worker for PeerWorker<'_, K> {
    fn insert(&mut self, key: &[u8], value: &Value) -> Result<()> {
        let p = self.peer;
        p.kv.put(key, p.format.bytes(value).or_store(p.name)?)
    }

    fn read(&mut self, key: &[u8]) -> Result<Option<&Value>> {
        let (p, value) = (self.peer, &mut self.value);
        let read = |bytes: &[u8]| p.format.decode(bytes, value, Decode::Fresh);
        match p.kv.get(key, &mut self.scratch, read)? {
            None => Ok(None),
            Some(decoded) => {
                decoded.or_store(p.name)?;
                Ok(Some(&self.value))
            }
        }
    }

    fn update(&mut self, key: &[u8], value: &Value) -> Result<()> {
        self.insert(key, value)
    }

    fn delete(&mut self, key: &[u8]) -> Result<bool> {
        self.peer.kv.delete(key)
    }

    fn scan(&mut self, start: &[u8], limit: usize) -> Result<usize> {
        let (p, value) = (self.peer, &mut self.value);
        let mut n = 0;
        if limit > 0 {
            p.kv.scan(start, |_, v| {
                p.format.decode(v, value, Decode::Fresh).or_store(p.name)?;
                n += 1;
                Ok(n < limit)
            })?;
        }
        Ok(n)
    }

    fn batch_insert(&mut self, items: &[(Vec<u8>, Value)]) -> Result<()> {
        let p = self.peer;
        p.kv.put_batch(Items {
            items,
            format: p.format,
            backend: p.name,
        })
    }

    fn delete_batch(&mut self, keys: &[Vec<u8>]) -> Result<()> {
        self.peer.kv.delete_batch(keys)
    }

    fn query(&mut self, q: &QuerySpec) -> Result<&Page> {
        let (p, pager, page) = (self.peer, &mut self.pager, &mut self.page);
        pager.start(page);
        p.kv.scan_prefix(&q.prefix, |k, v| Ok(pager.offer(q, p.format, k, v, page)))?;
        pager.finish(q, page);
        Ok(&self.page)
    }
}
