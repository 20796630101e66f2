//! Stores under test: the [`Backend`] / [`Worker`] traits, the registry by name, and one
//! file per implementation.
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

mod asyncplain;
mod binary;
mod btreemap;
mod cached;
mod codec;
mod engine;
mod ffi;
mod fjall;
mod indexed;
mod noop;
mod page;
mod plain;
mod pooled;
mod redb;
mod sqlite;
pub mod synthetic;

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

/// The registered name of a backend that exists in memory and durable: `base` or
/// `base:durable`.
pub(crate) fn variant_name(base: &str, durable: bool) -> String {
    if durable {
        format!("{base}:durable")
    } else {
        base.to_owned()
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
    /// A write puts the value it wrote into the cache; a delete removes it.
    #[default]
    WriteThrough,
    /// A write or delete drops the cached value; the next read refills it from the tree.
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

/// A registered backend.
#[derive(Clone, Copy)]
pub struct Registration {
    pub name: &'static str,
    /// Whether it writes to disk.
    pub durable: bool,
    /// What sets it apart from the others, in a phrase (`lab list`).
    pub about: &'static str,
    pub open: fn(&Options) -> Result<Box<dyn Backend>>,
}

impl std::fmt::Debug for Registration {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Registration")
            .field("name", &self.name)
            .field("durable", &self.durable)
            .finish_non_exhaustive()
    }
}

macro_rules! register {
    ($($name:literal, $durable:literal, $about:literal => $open:expr;)*) => {
        &[$(Registration { name: $name, durable: $durable, about: $about, open: $open },)*]
    };
}

/// Every backend, by name. Adding one is one new file and one line here.
pub fn registry() -> &'static [Registration] {
    register! {
        "plain", false, "acorn in memory; reads copy the value out, then decode JSON" => |o| plain::open(o, false);
        "plain:durable", true, "plain on a WAL, fsync per commit" => |o| plain::open(o, true);
        "cached", false, "pooled + a shared cache of decoded values (quick_cache), write-through by default ([cache] policy)" => |o| cached::open(o, false);
        "cached:durable", true, "cached on a WAL, fsync per commit" => |o| cached::open(o, true);
        "pooled", false, "acorn in memory; JSON decoded in place into a per-worker document, no allocation per read" => |o| pooled::open(o, false);
        "pooled:durable", true, "pooled on a WAL, fsync per commit" => |o| pooled::open(o, true);
        "binary", false, "acorn in memory; postcard decoded straight from the stored bytes" => |o| binary::open(o, false);
        "binary:durable", true, "binary on a WAL, fsync per commit" => |o| binary::open(o, true);
        "plain:async", false, "plain through AsyncTree: writes awaited as tokio tasks, [run] in_flight per thread" => |o| asyncplain::open(o, false);
        "plain:async:durable", true, "plain:async on a WAL (Always): in-flight writes share fsyncs" => |o| asyncplain::open(o, true);
        "plain:indexed", false, "plain + a secondary index on value: queries read the index, query cache off" => |o| indexed::open(o, false);
        "ffi", false, "acorn through its C ABI on every call (the cost of the boundary), JSON" => |o| ffi::open(o, false);
        "ffi:durable", true, "ffi on a WAL, fsync per commit" => |o| ffi::open(o, true);
        "btreemap", false, "RwLock<BTreeMap> + JSON: what people write by hand" => btreemap::open;
        "redb", false, "redb (B-tree) in memory, a transaction per operation, JSON" => |o| redb::open(o, false);
        "redb:durable", true, "redb in a file, fsync per commit" => |o| redb::open(o, true);
        "fjall", true, "fjall (LSM tree), journal flushed to the OS per write, no fsync" => |o| fjall::open(o, false);
        "fjall:sync", true, "fjall, journal fsynced after every write" => |o| fjall::open(o, true);
        "sqlite", false, "SQLite in memory (:memory:), prepared statements, JSON in a BLOB" => |o| sqlite::open(o, false);
        "sqlite:durable", true, "SQLite in a file, WAL journal, synchronous=FULL" => |o| sqlite::open(o, true);
        "noop", false, "stores nothing: measures the harness itself" => |_| Ok(Box::new(noop::Noop));
        "synthetic", false, "btreemap plus LAB_SYNTHETIC_READ_WORK rounds of arithmetic per read: checks the lab's own gates" => synthetic::open;
    }
}

/// Why the backend registered as `name` cannot be measured by instruction count
/// (`--measure instructions`), or `None` when it can. Callgrind counts the user-space
/// instructions of the measuring thread, so a backend whose cost is mostly elsewhere would
/// get a number that ranks it wrongly rather than no number.
pub fn uncountable(name: &str) -> Option<&'static str> {
    let reg = registry().iter().find(|r| r.name == name)?;
    if reg.name.starts_with("fjall") {
        Some(
            "it flushes and compacts on background threads, whose work and timing fall outside \
             the counted thread (and it writes to disk); compare it by wall clock",
        )
    } else if reg.durable {
        Some(
            "it writes to disk and its cost is mostly fsync and kernel I/O, which instruction \
             counts cannot see; compare it by wall clock",
        )
    } else {
        None
    }
}

/// The names of every registered backend, comma separated.
pub fn known_names() -> String {
    registry()
        .iter()
        .map(|r| r.name)
        .collect::<Vec<_>>()
        .join(", ")
}

/// Opens the backend registered as `name`.
pub fn open(name: &str, options: &Options) -> Result<Box<dyn Backend>> {
    let reg = registry()
        .iter()
        .find(|r| r.name == name)
        .ok_or_else(|| BackendError::Unknown {
            name: name.to_owned(),
            known: known_names(),
        })?;
    (reg.open)(options)
}

/// The peers' format for documents: JSON, what a user of them would write (`Raw` when the
/// values are opaque).
pub(crate) fn peer_format(options: &Options) -> codec::Format {
    codec::Format::for_values(codec::Format::Json, options.values.is_opaque())
}
