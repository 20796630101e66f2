//! Opening a tree: [`TreeBuilder`] (path, sync policy, recovery mode, compaction factor,
//! clock, secondary indexes, query cache) and the in-memory and durable constructors,
//! which build the [`State`] (recovered from disk when durable) and the handle around it.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, AtomicUsize};
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use super::follow::ReadOnly;
use super::maintenance::{check_index_name, erase};
use super::{Inner, State, Tree};
use crate::cache::QueryCache;
use crate::clock::{Clock, TreeClock};
use crate::feed::History;
use crate::nut::NutRef;
use crate::points::{self, Points};
use crate::secondary::Extract;
use crate::stats::Counters;
use crate::storage::{
    Compression, Durable, Follower, LogBuffer, Options, RecoveryMode, SyncPolicy,
};
use crate::{Error, Result};

/// Configures and opens a [`Tree`].
#[derive(Debug, Clone)]
pub struct TreeBuilder {
    path: Option<PathBuf>,
    clock: TreeClock,
    options: Options,
    indexes: Vec<NamedExtract>,
    query_cache: usize,
    history: usize,
    read_only: bool,
}

/// Query results a tree caches by default ([`TreeBuilder::query_cache`]).
pub const DEFAULT_QUERY_CACHE: usize = 64;

/// An index's name and extractor, as the builder keeps them.
#[derive(Clone)]
struct NamedExtract(String, Extract);

impl std::fmt::Debug for NamedExtract {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("Index").field(&self.0).finish()
    }
}

impl Default for TreeBuilder {
    fn default() -> Self {
        Self {
            path: None,
            clock: TreeClock::System,
            options: Options::default(),
            indexes: Vec::new(),
            query_cache: DEFAULT_QUERY_CACHE,
            history: 0,
            read_only: false,
        }
    }
}

impl TreeBuilder {
    /// Makes the tree durable in this directory (created if missing).
    #[must_use]
    pub fn path(mut self, path: impl AsRef<Path>) -> Self {
        self.path = Some(path.as_ref().to_path_buf());
        self
    }

    /// When a durable write is acknowledged; see [`SyncPolicy`]. Default: `Always`.
    #[must_use]
    pub fn sync(mut self, policy: SyncPolicy) -> Self {
        self.options.sync = policy;
        self
    }

    /// Under [`SyncPolicy::Never`]: how many bytes of commits the log gathers in memory
    /// before handing them to the OS in one write, and the longest a commit waits there
    /// before a background thread writes it out. Default: 64 KiB and 10 ms. `flush()`,
    /// a compaction and dropping the tree write out what is waiting. A process killed
    /// meanwhile loses the commits still waiting (what survives is a prefix of the
    /// acknowledged commits); `log_buffer(0, _)` hands each commit to the OS as it is
    /// logged, so a killed process loses none (a write syscall per commit). Ignored under
    /// `Always` and `Group`, which write each commit before its fsync.
    #[must_use]
    pub fn log_buffer(mut self, bytes: usize, max_delay: Duration) -> Self {
        self.options.buffer = LogBuffer { bytes, max_delay };
        self
    }

    /// What to do when a data file is damaged or missing. Default: refuse to open.
    #[must_use]
    pub fn recovery(mut self, mode: RecoveryMode) -> Self {
        self.options.recovery = mode;
        self
    }

    /// How a durable tree writes its log frames and snapshots: [`Compression::None`] (the
    /// default), or with the `compression` feature `Compression::Lz4`, each frame and each
    /// snapshot chunk of about 256 KiB compressed when that makes it smaller
    /// ([`crate::Stats::compression_ratio`] says by how much). Applies to what is written
    /// from now on (turned on at a reopen, the open cuts the log, so the next write is
    /// compressed): a tree keeps reading what it wrote either way. A tree written with
    /// compression is refused by a build without the feature
    /// ([`crate::Error::CompressionUnsupported`], naming the file); one written without it
    /// opens in every build. In memory it changes nothing.
    #[must_use]
    pub fn compression(mut self, compression: Compression) -> Self {
        self.options.compression = compression;
        self
    }

    /// Compact automatically when the log grows past `factor` × the live data (and past
    /// 4 MiB). Default 4; 0 turns automatic compaction off.
    #[must_use]
    pub fn compact_factor(mut self, factor: u32) -> Self {
        self.options.compact_factor = factor;
        self
    }

    /// Adds a secondary index named `name`: `extract` gives each nut's index key (or
    /// `None` to leave it out), as bytes compared lexicographically ([`crate::IndexKey`]
    /// encodes numbers so). A durable tree keeps no index on disk: it is built at open from
    /// the recovered items (one extraction per item plus a sorted load; measured in
    /// docs/design.md), so an index must be given on every open. See [`Tree::index`] for
    /// what `extract` must be; if it panics on a recovered nut, [`TreeBuilder::open`]
    /// fails with [`crate::Error::ExtractorPanicked`] and leaves the directory as it was.
    #[must_use]
    pub fn index<K: AsRef<[u8]>>(
        mut self,
        name: impl Into<String>,
        extract: impl Fn(&NutRef<'_>) -> Option<K> + Send + Sync + 'static,
    ) -> Self {
        self.indexes.push(NamedExtract(name.into(), erase(extract)));
        self
    }

    /// How many query results the tree caches (default [`DEFAULT_QUERY_CACHE`]; 0 turns
    /// the cache off). See [`crate::Query`] for which queries are cached.
    #[must_use]
    pub fn query_cache(mut self, entries: usize) -> Self {
        self.query_cache = entries;
        self
    }

    /// How many of its latest changes an in-memory tree keeps for
    /// [`Tree::changes_since`] (and for subscribers that fall behind): whole commits, the
    /// oldest dropped first. Default 0: an in-memory tree keeps no history, so its feed
    /// holds nothing before the present ([`crate::Error::Compacted`]) and a subscriber that
    /// falls behind gets [`crate::Event::Lagged`]. Each change kept costs about 80 bytes
    /// and keeps the value it wrote alive (a value since overwritten too), and a commit
    /// pays for keeping it (a reference count and a push). A durable or read-only tree
    /// needs none: its history is its log, back to the last compaction, across reopens;
    /// there this setting is ignored.
    #[must_use]
    pub fn history(mut self, changes: usize) -> Self {
        self.history = changes;
        self
    }

    /// Opens the directory given with [`TreeBuilder::path`] read-only: see
    /// [`Tree::open_read_only`]. The sync policy and compaction settings do not apply;
    /// [`RecoveryMode::Salvage`] is refused (it changes the directory).
    #[must_use]
    pub fn read_only(mut self) -> Self {
        self.read_only = true;
        self
    }

    /// Routes every change to the directory through `io`, which fails calls on purpose
    /// (feature `fault-injection`; for tests, not part of the supported API).
    #[cfg(any(test, feature = "fault-injection"))]
    #[doc(hidden)]
    #[must_use]
    pub fn io(mut self, io: Arc<crate::storage::faults::FaultyIo>) -> Self {
        self.options.io = io;
        self
    }

    /// Lets automatic compaction start on a log this short (feature `fault-injection`;
    /// tests use tiny logs).
    #[cfg(any(test, feature = "fault-injection"))]
    #[doc(hidden)]
    #[must_use]
    pub fn compact_min_bytes(mut self, bytes: u64) -> Self {
        self.options.compact_min_bytes = bytes;
        self
    }

    /// The clock used for timestamps and TTLs (tests use [`crate::ManualClock`]).
    #[must_use]
    pub fn clock(mut self, clock: impl Clock + 'static) -> Self {
        self.clock = TreeClock::Custom(Arc::new(clock));
        self
    }

    /// Opens the tree. In memory this cannot fail. With a path it creates the directory
    /// when missing, takes its lock and recovers its contents (snapshot, then the log);
    /// errors: [`crate::Error::Locked`] when another tree has it open,
    /// [`crate::Error::Corrupt`] when a file is damaged or missing (see
    /// [`RecoveryMode`]), [`crate::Error::UnsupportedFormat`], [`crate::Error::Io`],
    /// [`crate::Error::ExtractorPanicked`] when an index's extractor panics on an item.
    /// Cost: reading every byte of the snapshot and the log once (about 0.4 s for
    /// 1M × 100 B on a 2-core VM).
    ///
    /// With [`TreeBuilder::read_only`]: errors as [`Tree::open_read_only`] says.
    pub fn open(self) -> Result<Tree> {
        let (points, writer) = points::new();
        let mut state = State::new(writer);
        let mut durable = None;
        let mut read_only = None;
        match &self.path {
            None if self.read_only => {
                return Err(Error::Io(std::io::Error::new(
                    std::io::ErrorKind::InvalidInput,
                    "a read-only tree reads a directory: give it with TreeBuilder::path",
                )))
            }
            None => state.history = History::new(self.history, 0),
            Some(path) if self.read_only => {
                if self.options.recovery == RecoveryMode::Salvage {
                    return Err(Error::ReadOnly { path: path.clone() });
                }
                let (follower, recovered) = Follower::open(path)?;
                state.load(&points, recovered, self.clock.nanos());
                read_only = Some(ReadOnly::new(path.clone(), follower));
            }
            Some(path) => {
                let (d, recovered) = Durable::open(path, self.options.clone())?;
                state.load(&points, recovered, self.clock.nanos());
                durable = Some(d);
            }
        }
        for NamedExtract(name, extract) in self.indexes {
            check_index_name(&name)?;
            state.add_index(&name, extract)?;
        }
        Ok(Tree::from_parts(
            state,
            points,
            self.clock,
            (durable, read_only),
            self.query_cache,
        ))
    }
}

impl Tree {
    /// A new, empty, in-memory tree.
    pub fn open_memory() -> Tree {
        let (points, writer) = points::new();
        Tree::from_parts(
            State::new(writer),
            points,
            TreeClock::System,
            (None, None),
            DEFAULT_QUERY_CACHE,
        )
    }

    /// The handle around a built state; `files` is the tree's directory, when it has one:
    /// written (`Durable`) or followed read-only.
    fn from_parts(
        state: State,
        points: Points,
        clock: TreeClock,
        files: (Option<Durable>, Option<ReadOnly>),
        query_cache: usize,
    ) -> Tree {
        let (durable, read_only) = files;
        let inner = Arc::new_cyclic(|weak: &Weak<Inner>| {
            if let Some(d) = &durable {
                // After each fsync the log's leader applies the `Always` commits it covers.
                let tree = weak.clone();
                d.set_hook(Box::new(move |synced| {
                    if let Some(inner) = tree.upgrade() {
                        super::without_waiting(|| Tree { inner }.apply_durable(synced));
                    }
                }));
            }
            Inner {
                applied: AtomicU64::new(state.applied),
                index_generation: AtomicU64::new(state.indexes.generation),
                cache: QueryCache::new(query_cache),
                items: AtomicUsize::new(state.index.len()),
                ttl_items: AtomicUsize::new(state.expiry.len()),
                state: Mutex::new(state),
                commit: Mutex::new(()),
                points,
                clock,
                counters: Counters::default(),
                durable,
                read_only,
                background: Arc::default(),
            }
        });
        Tree { inner }
    }

    /// Opens (or creates) a durable tree in `path` with the default [`SyncPolicy::Always`].
    pub fn open(path: impl AsRef<Path>) -> Result<Tree> {
        Self::builder().path(path).open()
    }

    /// A builder for a durable or specially configured tree.
    ///
    /// ```
    /// use std::time::Duration;
    /// use acorn::{SyncPolicy, Tree};
    /// let dir = tempfile::tempdir()?;
    /// let tree = Tree::builder()
    ///     .path(dir.path())
    ///     .sync(SyncPolicy::Group { max_delay: Duration::from_millis(2) })
    ///     .open()?;
    /// tree.stash("k", b"v")?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn builder() -> TreeBuilder {
        TreeBuilder::default()
    }
}
