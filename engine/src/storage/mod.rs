//! Durable mode, behind a seam: the tree hands each commit to [`Durable`] under its write
//! lock and waits for durability after releasing it. The in-memory index never knows
//! whether a log exists.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use lock::DirLock;
pub(crate) use wal::Arrival;
use wal::Wal;

use crate::index::Index;
use crate::record::Change;
use crate::record::Record;
use crate::stats::Stats;
use crate::{Error, Result};

/// When a durable write is acknowledged.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum SyncPolicy {
    /// fsync before `stash`/`commit` returns. Nothing acknowledged is ever lost.
    #[default]
    Always,
    /// Group commit: concurrent writers share one fsync, issued at most `max_delay` after
    /// the first of them; each call still returns only once its frame is durable.
    Group { max_delay: Duration },
    /// Never fsync on the write path; the OS writes back when it likes. Survives a process
    /// crash, but a power loss loses recent writes. `flush()` makes them durable.
    Never,
}

/// What opening does when a data file is damaged before its final frame.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum RecoveryMode {
    /// Refuse to open with [`Error::Corrupt`] naming the file and offset (the default).
    #[default]
    Strict,
    /// Keep everything before the first damaged frame and drop the rest of the log. Opt in
    /// only after saving a copy of the directory: dropped writes are gone.
    Salvage,
}

#[derive(Clone, Debug)]
pub(crate) struct Options {
    pub(crate) sync: SyncPolicy,
    pub(crate) recovery: RecoveryMode,
    pub(crate) compact_factor: u32,
    pub(crate) cache_capacity: usize,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            sync: SyncPolicy::Always,
            recovery: RecoveryMode::Strict,
            compact_factor: 4,
            cache_capacity: 10_000,
        }
    }
}

mod frame;
mod lock;
mod recovery;
mod snapshot;
mod wal;

/// Damage found while reading, before it is tied to a file.
#[derive(Debug)]
pub(crate) struct Damage {
    pub(crate) offset: u64,
    pub(crate) reason: String,
}

impl Damage {
    pub(crate) fn into_error(self, path: &Path) -> Error {
        Error::Corrupt {
            path: path.to_path_buf(),
            offset: self.offset,
            reason: self.reason,
        }
    }
}

/// An I/O error that names the file it happened on.
pub(crate) fn io_at(path: &Path, e: std::io::Error) -> Error {
    Error::Io(std::io::Error::new(
        e.kind(),
        format!("{}: {e}", path.display()),
    ))
}

/// fsyncs a directory so a created, renamed or removed entry in it is durable.
pub(crate) fn sync_dir(dir: &Path) -> Result<()> {
    std::fs::File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| io_at(dir, e))
}

/// What recovery found on open, for the tree to load.
#[derive(Debug, Default)]
pub(crate) struct Recovered {
    /// The snapshot's records, in key order.
    pub(crate) records: Vec<Record>,
    /// Commits after the snapshot, in order.
    pub(crate) frames: Vec<(u64, Vec<Change>)>,
    pub(crate) seq: u64,
}

/// The durable half of a tree: directory lock, log, snapshots.
#[derive(Debug)]
pub(crate) struct Durable {
    dir: PathBuf,
    options: Options,
    wal: Wal,
    /// Held for a whole compaction, so two never interleave.
    compaction: Mutex<()>,
    /// Old segments a running compaction deletes once its snapshot is in place.
    obsolete: Mutex<Vec<PathBuf>>,
    torn_bytes: u64,
    salvaged_bytes: u64,
    compactions: AtomicU64,
    failed_compactions: AtomicU64,
    _lock: DirLock,
}

impl Durable {
    pub(crate) fn open(path: &Path, options: Options) -> Result<(Durable, Recovered)> {
        std::fs::create_dir_all(path).map_err(|e| io_at(path, e))?;
        let lock = DirLock::acquire(path)?;
        let replay = recovery::recover(path, options.recovery)?;
        let seq = replay.seq();
        let wal = Wal::open(path, replay.active.clone(), replay.log_bytes, options.sync)?;
        let durable = Durable {
            dir: path.to_path_buf(),
            options,
            wal,
            compaction: Mutex::new(()),
            obsolete: Mutex::new(Vec::new()),
            torn_bytes: replay.torn_bytes,
            salvaged_bytes: replay.salvaged_bytes,
            compactions: AtomicU64::new(0),
            failed_compactions: AtomicU64::new(0),
            _lock: lock,
        };
        let recovered = Recovered {
            records: replay.snapshot.records,
            frames: replay.frames,
            seq,
        };
        Ok((durable, recovered))
    }

    /// Announces a writer before it takes the tree's write lock.
    pub(crate) fn arrive(&self) -> Arrival<'_> {
        self.wal.arrive()
    }

    /// Logs a commit (called under the tree's write lock, in version order).
    pub(crate) fn append(
        &self,
        version: u64,
        changes: &[Change],
        arrival: &mut Arrival<'_>,
    ) -> Result<u64> {
        self.wal.append(version, changes, arrival)
    }

    /// Waits until the commit with `ticket` is durable (called without the tree lock).
    pub(crate) fn wait(&self, ticket: u64) -> Result<()> {
        self.wal.wait(ticket)
    }

    pub(crate) fn flush(&self) -> Result<()> {
        self.wal.flush()
    }

    /// Whether the log has outgrown the live data by the configured factor.
    pub(crate) fn wants_compaction(&self, live_bytes: u64) -> bool {
        let factor = u64::from(self.options.compact_factor);
        let log = self.wal.log_bytes();
        factor > 0 && log > 4 << 20 && log > factor.saturating_mul(live_bytes)
    }

    /// Serializes compactions; `None` when one is already running and `wait` is false.
    pub(crate) fn compaction_guard(&self, wait: bool) -> Option<MutexGuard<'_, ()>> {
        if wait {
            Some(
                self.compaction
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner),
            )
        } else {
            self.compaction.try_lock().ok()
        }
    }

    /// Cuts the log at `seq` (under the tree's write lock): later commits go to a new segment.
    pub(crate) fn begin_compaction(&self, seq: u64) -> Result<()> {
        let old = self.wal.rotate(seq)?;
        *self.obsolete.lock().unwrap_or_else(PoisonError::into_inner) = old;
        Ok(())
    }

    /// Writes the snapshot of `index` at `seq`, then deletes the segments it covers.
    pub(crate) fn finish_compaction(&self, index: &Index<Record>, seq: u64) -> Result<()> {
        snapshot::write(&self.dir, index, seq)?;
        let old =
            std::mem::take(&mut *self.obsolete.lock().unwrap_or_else(PoisonError::into_inner));
        for path in old {
            std::fs::remove_file(&path).map_err(|e| io_at(&path, e))?;
        }
        sync_dir(&self.dir)?;
        self.compactions.fetch_add(1, Ordering::Relaxed);
        Ok(())
    }

    pub(crate) fn note_failed_compaction(&self) {
        self.failed_compactions.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn fill_stats(&self, stats: &mut Stats) {
        stats.failed_compactions = self.failed_compactions.load(Ordering::Relaxed);
        stats.torn_bytes_dropped = self.torn_bytes;
        stats.salvaged_bytes_dropped = self.salvaged_bytes;
        stats.wal_bytes = self.wal.log_bytes();
        stats.compactions = self.compactions.load(Ordering::Relaxed);
    }
}

/// Decodes `bytes` as a log segment and as a snapshot, the way recovery does, without
/// touching any file. For the fuzz target; returns how many commits decoded.
#[doc(hidden)]
pub fn fuzz_decode(bytes: &[u8]) -> usize {
    let mut seen = 0;
    let mut frames = Vec::new();
    let _ = recovery::scan(bytes, true, 0, &mut seen, &mut frames);
    let _ = snapshot::parse(bytes, true);
    frames.len()
}
