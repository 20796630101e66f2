//! Durable mode, behind a seam: the tree hands each commit to [`Durable`] under its write
//! lock and waits for durability after releasing it. The in-memory index never knows
//! whether a log exists.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

pub(crate) use io::FileId;
use io::{Io, StdIo};
use lock::DirLock;
use segment::Segment;
use wal::Wal;
pub(crate) use wal::{Arrival, Hook};

use crate::index::Index;
use crate::record::Change;
use crate::record::Record;
use crate::stats::Stats;
use crate::{Error, Result};

/// When a durable write is acknowledged.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum SyncPolicy {
    /// fsync before `stash`/`commit` returns. Nothing acknowledged is ever lost, and no
    /// reader sees a commit before its fsync. Concurrent writers (threads, or tasks through
    /// `AsyncTree`) share fsyncs: a group commit with no added delay.
    #[default]
    Always,
    /// Group commit: concurrent writers share one fsync, issued at most `max_delay` after
    /// the first of them; each call still returns only once its frame is durable.
    Group {
        /// The longest the first writer of a group waits for others before the fsync.
        max_delay: Duration,
    },
    /// Never fsync on the write path, and hand commits to the OS in batches: the log
    /// gathers them in memory and writes them out once 64 KiB are waiting, at most 10 ms
    /// after the first of them, at `flush()`, before a compaction and when the tree is
    /// dropped (tune with [`crate::TreeBuilder::log_buffer`]). A process killed meanwhile
    /// loses the commits still waiting, so what survives it is a prefix of the
    /// acknowledged commits; a power loss loses what the OS had not written back.
    /// `flush()` makes every commit before it durable.
    Never,
}

/// What opening does when a data file is damaged or missing.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum RecoveryMode {
    /// Refuse to open with [`Error::Corrupt`] naming the file, the offset and the missing
    /// versions, changing nothing (the default).
    #[default]
    Strict,
    /// When a strict open refuses: keep every commit that can be read (segments are read
    /// by their headers, so a renamed one still counts), skipping gaps and damage, and
    /// report what was dropped in [`crate::Stats`] (`salvage_report`,
    /// `salvaged_versions_dropped`, `salvaged_bytes_dropped`). Damaged, renamed and copied
    /// files are moved, whole, into `salvaged-<n>/` in the directory, and a fresh snapshot
    /// is written so the directory opens strictly afterwards, holding exactly what the
    /// report leaves. Skipping a gap can leave a state that never existed (a change made by
    /// a lost commit is missing). Opt in only after saving a copy of the directory.
    Salvage,
}

/// How the log buffers commits under [`SyncPolicy::Never`] (see
/// [`crate::TreeBuilder::log_buffer`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct LogBuffer {
    /// Bytes of frames gathered before one write (0: a write per commit).
    pub(crate) bytes: usize,
    /// The longest a commit waits in the buffer.
    pub(crate) max_delay: Duration,
}

impl Default for LogBuffer {
    fn default() -> Self {
        Self {
            bytes: 64 << 10,
            max_delay: Duration::from_millis(10),
        }
    }
}

#[derive(Clone, Debug)]
pub(crate) struct Options {
    pub(crate) sync: SyncPolicy,
    pub(crate) buffer: LogBuffer,
    pub(crate) recovery: RecoveryMode,
    pub(crate) compact_factor: u32,
    /// Automatic compaction waits until the log is at least this long.
    pub(crate) compact_min_bytes: u64,
    /// Every change to the directory goes through this (tests inject failures here).
    pub(crate) io: Arc<dyn Io>,
    /// How new log frames and snapshots are written.
    pub(crate) compression: Compression,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            sync: SyncPolicy::Always,
            buffer: LogBuffer::default(),
            recovery: RecoveryMode::Strict,
            compact_factor: 4,
            compact_min_bytes: 4 << 20,
            io: Arc::new(StdIo),
            compression: Compression::None,
        }
    }
}

mod checkpoint;
mod compress;
#[cfg(any(test, feature = "fault-injection"))]
pub mod faults;
mod follower;
mod frame;
mod io;
mod lock;
mod log_reader;
mod recovery;
mod segment;
mod snapshot;
mod wal;

pub use compress::Compression;
pub(crate) use follower::{read_feed as read_followed_feed, Follower, Refresh};
pub(crate) use log_reader::LogReader;

/// Damage found while reading, before it is tied to a file.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Damage {
    pub(crate) offset: u64,
    pub(crate) reason: String,
}

/// Why a file could not be read.
#[derive(Debug)]
pub(crate) enum Unreadable {
    Damage(Damage),
    /// Written in another on-disk format (the number it declares).
    Format(u32),
    /// Its head's flags announce what this build cannot read (`storage::compress`).
    Flags(u32),
}

impl From<String> for Unreadable {
    fn from(reason: String) -> Self {
        Unreadable::Damage(Damage { offset: 0, reason })
    }
}

impl Unreadable {
    pub(crate) fn into_error(self, path: &Path) -> Error {
        match self {
            Unreadable::Damage(d) => Error::Corrupt {
                path: path.to_path_buf(),
                offset: d.offset,
                reason: d.reason,
            },
            Unreadable::Format(found) => Error::UnsupportedFormat {
                path: path.to_path_buf(),
                found,
                supported: frame::FORMAT_FLAGS,
            },
            Unreadable::Flags(flags) => Error::CompressionUnsupported {
                path: path.to_path_buf(),
                flags,
            },
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

/// Commits as read from the log: each version with its changes, in order.
pub(crate) type Commits = Vec<(u64, Vec<Change>)>;

/// What recovery found on open, for the tree to load.
#[derive(Debug, Default)]
pub(crate) struct Recovered {
    /// The snapshot's records, in key order.
    pub(crate) records: Vec<Record>,
    /// Commits after the snapshot, in order.
    pub(crate) frames: Vec<(u64, Vec<Change>)>,
    pub(crate) seq: u64,
}

/// Reads the commits of versions `after + 1 ..= until` from the log of `dir` for the change
/// feed. `base` gives the version of the snapshot the log goes on from now and `segments`
/// the log's segments (first version, path) in order; both are asked again when a
/// compaction removed a segment meanwhile. [`Error::Compacted`] when `after` is before the
/// snapshot.
fn read_log(
    reader: &log_reader::LogReader,
    mut base: impl FnMut() -> Result<u64>,
    mut segments: impl FnMut() -> Result<Vec<(u64, PathBuf)>>,
    after: u64,
    until: u64,
) -> Result<Commits> {
    let mut attempts = 0;
    loop {
        let snapshot = base()?;
        if after < snapshot {
            return Err(Error::Compacted {
                oldest: snapshot + 1,
            });
        }
        let mut listed = segments()?;
        // A compaction puts its snapshot in place before it removes (and forgets) the
        // segments it covers: a list taken under the same snapshot is one the snapshot
        // explains. One that finished between the two looks may have taken the segments
        // `after` needs off the list: look again, under its snapshot.
        if base()? != snapshot {
            continue;
        }
        // Segments named at or before the snapshot hold nothing after it (the log is cut
        // where a snapshot is taken): leftovers of a compaction, never read here.
        listed.retain(|(first, _)| *first > snapshot);
        match reader.read(&listed, after, until) {
            Ok(commits) => return Ok(commits),
            // A compaction removed it after it was listed: its snapshot is in place now.
            Err(log_reader::ReadError::Missing(path)) => {
                attempts += 1;
                if attempts > 100 {
                    return Err(io_at(
                        &path,
                        std::io::Error::new(
                            std::io::ErrorKind::NotFound,
                            "a segment of the log disappeared while the change feed read it, \
                             and no compaction explains it",
                        ),
                    ));
                }
                std::thread::sleep(Duration::from_millis(1));
            }
            Err(log_reader::ReadError::Failed(e)) => return Err(e),
        }
    }
}

/// Writes `index` as the state at `version` into `to`, a new or empty directory: the
/// checkpoint of a tree without a log of its own (in memory, or read-only).
pub(crate) fn write_checkpoint(index: &Index<Record>, version: u64, to: &Path) -> Result<()> {
    checkpoint::write(&StdIo, index, version, to)
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
    obsolete: Mutex<Vec<Segment>>,
    torn_bytes: u64,
    salvaged_bytes: u64,
    salvaged_versions: u64,
    salvage_report: Vec<String>,
    compactions: AtomicU64,
    failed_compactions: AtomicU64,
    /// After a failed automatic compaction, the log size at which to try again.
    retry_at: AtomicU64,
    /// The version of the snapshot in place: the log holds every commit after it.
    snapshot_at: AtomicU64,
    /// Reads the log back for the change feed.
    reader: log_reader::LogReader,
    /// Snapshot chunks compressed, and their compressed size.
    snapshot_compressed: compress::Tally,
    _lock: DirLock,
}

impl Durable {
    pub(crate) fn open(path: &Path, options: Options) -> Result<(Durable, Recovered)> {
        std::fs::create_dir_all(path).map_err(|e| io_at(path, e))?;
        let lock = DirLock::acquire(path)?;
        let io = Arc::clone(&options.io);
        let flags = options.compression.flags();
        let replay = recovery::recover(io.as_ref(), path, options.recovery, flags)?;
        let wal = Wal::open(
            io,
            path,
            replay.active,
            replay.older,
            replay.seq,
            wal::Writing {
                policy: options.sync,
                flags,
                buffer: options.buffer,
            },
        )?;
        if wal.writes_plain() {
            // Compression turned on since the active segment was begun: cut the log now,
            // so it applies to the next write, not only after the next compaction. The
            // sealed segment stays until a snapshot covers it, as after a failed compaction.
            wal.rotate(replay.seq)?;
        }
        let durable = Durable {
            dir: path.to_path_buf(),
            options,
            wal,
            compaction: Mutex::new(()),
            obsolete: Mutex::new(Vec::new()),
            torn_bytes: replay.torn_bytes,
            salvaged_bytes: replay.salvaged_bytes,
            salvaged_versions: replay.salvaged_versions,
            salvage_report: replay.salvage_report,
            compactions: AtomicU64::new(0),
            failed_compactions: AtomicU64::new(0),
            retry_at: AtomicU64::new(0),
            snapshot_at: AtomicU64::new(replay.base),
            reader: log_reader::LogReader::default(),
            snapshot_compressed: compress::Tally::default(),
            _lock: lock,
        };
        let recovered = Recovered {
            records: replay.records,
            frames: replay.frames,
            seq: replay.seq,
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

    /// Blocks until the commit with `ticket` is durable, and under `Always` applied
    /// (called without the tree's locks).
    pub(crate) fn wait(&self, ticket: u64) -> Result<()> {
        self.wal.wait(ticket)
    }

    #[cfg_attr(not(feature = "tokio"), allow(dead_code))]
    /// Starts the log's sync thread, which completes async waiters (idempotent).
    pub(crate) fn ensure_syncer(&self) -> Result<()> {
        self.wal.ensure_syncer()
    }

    #[cfg_attr(not(feature = "tokio"), allow(dead_code))]
    /// Registers an async waiter for `ticket`; see [`Durable::poll_wait`].
    pub(crate) fn register(&self, ticket: u64) -> u64 {
        self.wal.register(ticket)
    }

    #[cfg_attr(not(feature = "tokio"), allow(dead_code))]
    /// Ready once the commit with `ticket` is durable (and under `Always` applied).
    pub(crate) fn poll_wait(
        &self,
        ticket: u64,
        id: u64,
        cx: &std::task::Context<'_>,
    ) -> std::task::Poll<Result<()>> {
        self.wal.poll_wait(ticket, id, cx)
    }

    /// What a leader calls after each fsync with the log position it made durable.
    pub(crate) fn set_hook(&self, hook: Hook) {
        self.wal.set_hook(hook);
    }

    /// `Always`: commits are applied (made visible) only once durable, by the hook.
    pub(crate) fn applies_after_sync(&self) -> bool {
        self.wal.applies_after_sync()
    }

    /// Whether a writer waits for an fsync (`Always`, `Group`) before its call returns.
    pub(crate) fn waits(&self) -> bool {
        self.wal.waits()
    }

    /// The log position known durable.
    pub(crate) fn synced(&self) -> u64 {
        self.wal.synced()
    }

    #[cfg_attr(not(feature = "tokio"), allow(dead_code))]
    /// The log position of the last commit appended.
    pub(crate) fn written(&self) -> u64 {
        self.wal.written()
    }

    pub(crate) fn flush(&self) -> Result<()> {
        self.wal.flush()
    }

    /// Whether the log has outgrown the live data by the configured factor (and, after a
    /// failed automatic compaction, grown enough since to try again).
    pub(crate) fn wants_compaction(&self, live_bytes: u64) -> bool {
        let factor = u64::from(self.options.compact_factor);
        let log = self.wal.log_bytes();
        factor > 0
            && log > self.options.compact_min_bytes
            && log > factor.saturating_mul(live_bytes)
            && log >= self.retry_at.load(Ordering::Relaxed)
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

    /// Writes the snapshot of `index` at `seq`, then deletes the segments it covers. A
    /// failure leaves the tree writable and the log whole: the temporary file is removed,
    /// and the covered segments stay (and stay counted) until a snapshot is surely in place.
    pub(crate) fn finish_compaction(&self, index: &Index<Record>, seq: u64) -> Result<()> {
        let old =
            std::mem::take(&mut *self.obsolete.lock().unwrap_or_else(PoisonError::into_inner));
        // Into a directory that is no longer ours, a snapshot would be lost too.
        self.wal.check()?;
        let io = self.options.io.as_ref();
        let (raw, stored) =
            snapshot::write(io, &self.dir, index, seq, self.options.compression.flags())?;
        self.snapshot_compressed.add(raw as usize, stored as usize);
        self.snapshot_at.store(seq, Ordering::Release);
        let mut removed = Vec::new();
        let mut result = Ok(());
        for segment in old {
            match io.remove(&segment.path) {
                Ok(()) => removed.push(segment.path),
                Err(e) => {
                    result = Err(io_at(&segment.path, e));
                    break;
                }
            }
        }
        self.wal.forget(&removed);
        result?;
        io.sync_dir(&self.dir).map_err(|e| io_at(&self.dir, e))?;
        self.compactions.fetch_add(1, Ordering::Relaxed);
        self.retry_at.store(0, Ordering::Relaxed);
        Ok(())
    }

    /// Counts a failed automatic compaction and puts the next attempt off until the log has
    /// grown by a quarter (at least the minimum size), so a full disk is not hammered with
    /// a snapshot per commit.
    pub(crate) fn note_failed_compaction(&self) {
        self.failed_compactions.fetch_add(1, Ordering::Relaxed);
        let log = self.wal.log_bytes();
        let step = (log / 4).max(self.options.compact_min_bytes);
        self.retry_at
            .store(log.saturating_add(step), Ordering::Relaxed);
    }

    /// The commits of versions `after + 1 ..= until` from the log, for the change feed
    /// ([`Error::Compacted`] when a snapshot holds them now).
    pub(crate) fn read_feed(&self, after: u64, until: u64) -> Result<Commits> {
        // Under `Never` the last commits may still wait in the log's buffer: out with them
        // (no fsync), so every commit up to `until` (applied, hence appended) is in a file.
        self.wal.write_buffered()?;
        read_log(
            &self.reader,
            || Ok(self.snapshot_at.load(Ordering::Acquire)),
            || Ok(self.wal.segments()),
            after,
            until,
        )
    }

    /// The directory's files a checkpoint at the log's last version copies (call with
    /// every commit appended, under the tree's commit lock, and hold
    /// [`Durable::compaction_guard`] until the copy is made): the segments after the
    /// snapshot, and the whole commits of the active one.
    pub(crate) fn checkpoint_plan(&self) -> Result<checkpoint::Plan> {
        self.wal.check()?;
        let base = self.snapshot_at.load(Ordering::Acquire);
        let (path, first, len) = self.wal.active_extent()?;
        let sealed = self
            .wal
            .segments()
            .into_iter()
            .filter(|(f, p)| *f > base && *p != path)
            .collect();
        Ok(checkpoint::Plan {
            dir: self.dir.clone(),
            sealed,
            active: (first, path, len),
        })
    }

    /// Copies the files of `plan` into `to` (no tree lock held).
    pub(crate) fn checkpoint(&self, plan: &checkpoint::Plan, to: &Path) -> Result<()> {
        checkpoint::copy(self.options.io.as_ref(), plan, to)
    }

    pub(crate) fn fill_stats(&self, stats: &mut Stats) {
        stats.failed_compactions = self.failed_compactions.load(Ordering::Relaxed);
        stats.torn_bytes_dropped = self.torn_bytes;
        stats.salvaged_bytes_dropped = self.salvaged_bytes;
        stats.salvaged_versions_dropped = self.salvaged_versions;
        stats.salvage_report.clone_from(&self.salvage_report);
        stats.wal_bytes = self.wal.log_bytes();
        stats.wal_syncs = self.wal.syncs();
        stats.compactions = self.compactions.load(Ordering::Relaxed);
        let (log_raw, log_stored) = self.wal.compressed.get();
        let (snap_raw, snap_stored) = self.snapshot_compressed.get();
        stats.compressed_raw_bytes = log_raw + snap_raw;
        stats.compressed_stored_bytes = log_stored + snap_stored;
    }
}

/// Decodes `bytes` as a log segment and as a snapshot, the way recovery does, without
/// touching any file. For the fuzz target; returns how many commits decoded.
#[doc(hidden)]
pub fn fuzz_decode(bytes: &[u8]) -> usize {
    let whole = recovery::scan(bytes).map_or(0, |s| s.frames.len());
    // The same bytes as the body of a segment, so commit decoding is reached even when
    // the input carries no valid header.
    let mut with_head = Vec::with_capacity(bytes.len() + 64);
    frame::encode_segment_head(&mut with_head, 1, 0);
    with_head.extend_from_slice(bytes);
    let body = recovery::scan(&with_head).map_or(0, |s| s.frames.len());
    let _ = snapshot::parse(bytes, true);
    whole + body
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::Cell;

    /// A compaction that finishes between the feed's look at the snapshot's version and its
    /// listing of the segments: the list no longer has the segments the old snapshot
    /// needs. That is a compaction (the feed reaches back only to the new snapshot), not a
    /// gap in the log.
    #[test]
    fn a_compaction_between_the_snapshot_look_and_the_listing_is_compacted_not_damage() {
        let dir = tempfile::tempdir().unwrap();
        // The segment the compaction started (after its snapshot at version 5).
        let newer = dir.path().join("wal-6.log");
        std::fs::write(&newer, b"").unwrap();
        let looks = Cell::new(0);
        let base = || {
            looks.set(looks.get() + 1);
            // The first look is from before the compaction's snapshot was in place.
            Ok(if looks.get() == 1 { 0 } else { 5 })
        };
        let segments = || Ok(vec![(6, newer.clone())]);
        let reader = log_reader::LogReader::default();
        match read_log(&reader, base, segments, 3, 8) {
            Err(Error::Compacted { oldest: 6 }) => {}
            other => panic!("{other:?}"),
        }
    }
}
