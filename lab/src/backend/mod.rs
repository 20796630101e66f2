//! Stores under test: the [`Backend`] / [`Worker`] traits, and one file per backend, each
//! declaring its [`Registration`]s (`registry.rs`: name, tier, version, measures) and
//! listed once, in `backends!` below. Peer stores are a `peer::Kv` each (`peer.rs` holds
//! the worker they share); the acorn variants share `engine.rs`.
//!
//! A `Backend` is shared by every thread of a run; each thread gets its own `Worker`, which
//! owns whatever buffers it reuses. Values are documents or opaque bytes ([`Value`], fixed
//! per run by the dataset): every backend stores documents serialized and `read` returns
//! them fully decoded, so serialization cost is part of what is measured; opaque bytes are
//! stored and handed back as they are (`codec.rs` holds both ways, for every backend).

use std::future::Future;
use std::path::PathBuf;
use std::pin::Pin;

use crate::doc::{Value, ValueShape};
pub use page::Page;

mod codec;
mod engine;
mod page;
mod peer;
mod registry;

pub(crate) use registry::WRITES_TO_DISK;
pub use registry::{
    find, is_fixture, known_names, open, registry, uncountable, Measures, Registration, Role, Tier,
    Version,
};

/// Declares each backend file as a module and collects its `REGISTRATIONS` into
/// `BACKENDS`, so a file and its registrations cannot be listed apart.
macro_rules! backends {
    ($($(#[$attr:meta])* $vis:vis $file:ident,)*) => {
        $($(#[$attr])* $vis mod $file;)*
        /// Every backend file's registrations, in the order `lab list` shows them.
        const BACKENDS: &[&[Registration]] = &[$($(#[$attr])* $file::REGISTRATIONS,)*];
    };
}

// The backends: one file each (`<file>.rs`, declaring its `REGISTRATIONS`), one line here,
// in the order `lab list` shows them. (`toy` is a test of exactly this: see toy.rs.)
backends! {
    plain,
    cached,
    pooled,
    binary,
    asyncplain,
    indexed,
    ffi,
    btreemap,
    redb,
    fjall,
    sqlite,
    noop,
    pub synthetic,
    #[cfg(test)] toy,
}

/// What went wrong in a backend.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BackendError {
    /// The backend cannot do this operation; the runner reports it instead of skipping it.
    #[error("backend {backend} does not support {op}")]
    Unsupported { backend: String, op: &'static str },
    /// The store itself failed.
    #[error("backend {backend}: {message}")]
    Store { backend: String, message: String },
    /// No backend is registered under this name.
    #[error("unknown backend {name:?}; registered backends: {known}")]
    Unknown { name: String, known: String },
}

pub type Result<T, E = BackendError> = std::result::Result<T, E>;

/// Wraps any displayable store error.
pub(crate) fn store_err(backend: &str, e: impl std::fmt::Display) -> BackendError {
    BackendError::Store {
        backend: backend.to_owned(),
        message: e.to_string(),
    }
}

/// `.or_store("redb")?`: a store's own error as a [`BackendError::Store`] naming the backend.
pub(crate) trait OrStore<T> {
    fn or_store(self, backend: &str) -> Result<T>;
}

impl<T, E: std::fmt::Display> OrStore<T> for std::result::Result<T, E> {
    fn or_store(self, backend: &str) -> Result<T> {
        self.map_err(|e| store_err(backend, e))
    }
}

/// A fresh temporary directory for a durable backend, under `--scratch` (default: the
/// system's temp dir); removed when dropped.
pub(crate) fn scratch_dir(options: &Options, backend: &str) -> Result<tempfile::TempDir> {
    tempfile::Builder::new()
        .prefix(&format!("{}-lab-", backend.replace(':', "-")))
        .tempdir_in(&options.scratch_dir)
        .or_store(backend)
}

/// What a report prints next to every number from this backend.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct BackendInfo {
    pub name: String,
    /// The store and its version, e.g. "acorn 0.1.0", "redb 3.1".
    pub store: String,
    /// In memory, or what is fsynced when.
    pub durability: String,
    pub serialization: String,
    pub cache: String,
    /// False for `noop`, which stores nothing: it measures the harness.
    pub stores_data: bool,
    /// Whether the store allocates through Rust's global allocator, so the lab's counting
    /// allocator sees its memory (SQLite uses its own malloc: false).
    pub rust_heap: bool,
}

/// Order of query results.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum QueryOrder {
    Key,
    ValueDesc,
    Newest,
}

/// The query every backend answers: documents under `prefix` with `value >= min_value`,
/// ordered (ties in key order), then `skip` and `take`. Returns the page's keys. Every
/// backend answers it by the same rule: each document is looked at once, reading only the
/// fields the filter and order need (no allocation, no full decode); no document is
/// decoded in full. Over opaque values only `min_value = None` and `order = Key` apply
/// (they have no fields: the workload validator rejects the rest).
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct QuerySpec {
    pub prefix: Vec<u8>,
    pub min_value: Option<i64>,
    pub order: QueryOrder,
    pub skip: usize,
    pub take: usize,
}

/// One store under test, shared by all threads of a run. It is opened empty; the runner
/// loads the dataset through a worker's [`Worker::batch_insert`].
pub trait Backend: Send + Sync {
    /// The registered name (`plain`, `redb:durable`, ...).
    fn name(&self) -> &str;
    /// What every number from this backend is printed next to.
    fn describe(&self) -> BackendInfo;
    /// A handle for one thread. Workers of one backend run concurrently; each owns the
    /// buffers it reuses, so nothing on a worker's hot path is shared but the store.
    fn worker(&self) -> Box<dyn Worker + '_>;
    /// Counters for the report (e.g. `("cache_hits", 930.0)`), summed over the workers
    /// dropped since the last call, then reset: the runner calls it after each phase (whose
    /// workers are gone by then), so each phase gets its own. Workers count privately and
    /// add their totals once, when dropped: nothing shared is written per operation.
    fn metrics(&self) -> Vec<(String, f64)> {
        Vec::new()
    }
    /// A handle whose writes are futures, for backends with an async API: the runner then
    /// keeps `[run] in_flight` operations going per thread as tokio tasks, each with its
    /// own async worker. `None` (the default): one operation at a time per thread.
    fn async_worker(&self) -> Option<Box<dyn AsyncWorker + '_>> {
        None
    }
    /// The directory the store keeps its files in, when it has one: the lab measures its
    /// size (space amplification) and syncs its file system around a phase.
    fn data_dir(&self) -> Option<&std::path::Path> {
        None
    }
    /// Whether [`Backend::reopen`] can close the store and open it again from its files.
    fn can_reopen(&self) -> bool {
        false
    }
    /// Closes the store (every handle dropped, as a program that exits would) and opens it
    /// again from its files, as the same variant: the `recover` phase (`[run] recover`)
    /// times it. Only called when [`Backend::can_reopen`] says so.
    fn reopen(self: Box<Self>) -> Result<Box<dyn Backend>> {
        Err(BackendError::Unsupported {
            backend: self.name().to_owned(),
            op: "reopen",
        })
    }
}

/// A future borrowed from an [`AsyncWorker`], polled on the thread that made it.
pub type LocalFuture<'a, T> = Pin<Box<dyn Future<Output = T> + 'a>>;

/// A task's handle on an async backend: the same contract as [`Worker`] (each write is
/// complete, visible and as durable as described when its future yields `Ok`), but a write
/// waiting for the disk holds no thread. Reads, scans and queries never wait, so they go
/// through [`AsyncWorker::blocking`].
pub trait AsyncWorker {
    fn insert<'a>(&'a mut self, key: &'a [u8], value: &'a Value) -> LocalFuture<'a, Result<()>>;
    fn update<'a>(&'a mut self, key: &'a [u8], value: &'a Value) -> LocalFuture<'a, Result<()>>;
    fn delete<'a>(&'a mut self, key: &'a [u8]) -> LocalFuture<'a, Result<bool>>;
    fn batch_insert<'a>(&'a mut self, items: &'a [(Vec<u8>, Value)])
        -> LocalFuture<'a, Result<()>>;
    /// The synchronous worker behind it, for operations that never wait.
    fn blocking(&mut self) -> &mut dyn Worker;
}

/// A thread's handle on a backend. Every operation is complete and visible to every other
/// worker when it returns `Ok`; durable backends have also made it as durable as their
/// description says. An `Err` is counted against the operation by the runner and the run
/// goes on.
pub trait Worker {
    /// Stores `value` under `key` (a document serialized with the backend's format; opaque
    /// bytes as they are), whether or not the key exists. A value of the other kind than
    /// the backend was opened for ([`Options::values`]) is an error.
    fn insert(&mut self, key: &[u8], value: &Value) -> Result<()>;
    /// Reads `key`: a document fully decoded (serialization cost is part of what is
    /// measured), opaque bytes copied out. `None` when absent. The value is borrowed from
    /// the worker and lives until the worker's next call.
    fn read(&mut self, key: &[u8]) -> Result<Option<&Value>>;
    /// Replaces the value under `key` (stores it when absent, like `insert`).
    fn update(&mut self, key: &[u8], value: &Value) -> Result<()>;
    /// Removes `key`; returns whether it was there.
    fn delete(&mut self, key: &[u8]) -> Result<bool>;
    /// Reads (and decodes, as `read` does) up to `limit` values in key order from `start`
    /// (inclusive); returns how many it read.
    fn scan(&mut self, start: &[u8], limit: usize) -> Result<usize>;
    /// Stores every item atomically: after an `Err` none of them is visible (one batch,
    /// transaction or write set in every store).
    fn batch_insert(&mut self, items: &[(Vec<u8>, Value)]) -> Result<()>;
    /// Removes every key (absent ones are no error). The runner uses it, untimed, to take
    /// out what a phase inserted; stores with batches or transactions do it in one.
    fn delete_batch(&mut self, keys: &[Vec<u8>]) -> Result<()> {
        for k in keys {
            self.delete(k)?;
        }
        Ok(())
    }
    /// Answers `q` (see [`QuerySpec`]): the page's keys, in order, borrowed from the worker
    /// until its next call.
    fn query(&mut self, q: &QuerySpec) -> Result<&Page>;
}

/// What the `cached` variant does with a written value.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum CachePolicy {
    /// A write puts the value it wrote into the cache; a delete leaves a negative entry (the
    /// key is known absent).
    #[default]
    WriteThrough,
    /// A write drops the cached value and the next read refills it from the tree; a delete
    /// leaves a negative entry, as under write-through.
    Invalidate,
}

impl CachePolicy {
    pub fn label(self) -> &'static str {
        match self {
            CachePolicy::WriteThrough => "write-through",
            CachePolicy::Invalidate => "invalidate",
        }
    }
}

/// Settings a backend is opened with.
#[derive(Clone, Debug)]
pub struct Options {
    /// Decoded values the `cached` variant keeps (AcornDB's default is 10k).
    pub cache_capacity: usize,
    pub cache_policy: CachePolicy,
    /// Where durable backends create their (temporary) directories.
    pub scratch_dir: PathBuf,
    /// What the values are: documents, or opaque bytes ([`Value::Bytes`]) that every
    /// backend stores as given, without a codec.
    pub values: ValueShape,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            cache_capacity: 10_000,
            cache_policy: CachePolicy::default(),
            scratch_dir: std::env::temp_dir(),
            values: ValueShape::default(),
        }
    }
}
