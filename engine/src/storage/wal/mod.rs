//! The write-ahead log: segment files of commit frames, appended under the tree's commit
//! lock, made durable per [`SyncPolicy`].
//!
//! This file owns the log's state ([`Log`], the active segment) and its files: opening,
//! appending a commit frame, cutting a new segment at a compaction (`rotate`), and
//! checking that the active segment is still in its directory. Around it:
//! - `group.rs`: group commit (who fsyncs, who waits, async waiters and the sync thread)
//!   and the failure that stops every later write;
//! - `buffer.rs`: the `Never` buffer (frames gathered before one write) and its flusher
//!   thread;
//! - `segment.rs` (beside this module): segment files themselves (names, creation);
//! - `frame.rs` and `compress.rs`: how a commit is encoded and compressed.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, OnceLock, PoisonError};
use std::time::Duration;

use super::compress;
use super::io::Io;
use super::segment::{self, create_segment, Segment};
use super::{frame, io_at, FileId, LogBuffer, SyncPolicy};
use crate::limits::MAX_VERSION;
use crate::record::Change;
use crate::{Error, Result};

mod buffer;
mod group;

pub(crate) use group::{Arrival, Hook};
use group::{HookSlot, SyncState};

#[derive(Debug)]
struct Active {
    file: File,
    /// A second handle to the same file, fsynced by the group-commit leader without
    /// holding the append lock.
    sync_handle: Arc<File>,
    path: PathBuf,
    /// The file's identity when it was opened: if its path stops naming it (the file or
    /// its directory was deleted, moved or replaced), the log is poisoned.
    id: FileId,
    first: u64,
    /// The last version appended (`first - 1` before the first commit).
    last: u64,
    /// Bytes in the active segment.
    bytes: u64,
    /// Bytes ever appended (across segments): group-commit tickets are positions in it.
    written: u64,
    /// The segments before the active one, oldest first, still on disk.
    older: Vec<Segment>,
    /// Frames not handed to the OS yet: under `Never` up to `Log::buffer` bytes of them,
    /// otherwise the one being written. Counted in `written` and `bytes` already.
    buf: Vec<u8>,
    /// Its head has [`compress::FLAG_LZ4`]: its commit frames may be compressed.
    lz4: bool,
    /// Reused by the compressor.
    #[cfg_attr(not(feature = "compression"), allow(dead_code))]
    scratch: Vec<u8>,
    /// A write of the log failed: nothing more may be written after it (it may have left
    /// part of a frame at the end of the file).
    write_failed: bool,
    /// The flusher thread waits for frames to arrive (an append that starts a buffer
    /// wakes it).
    flusher_waiting: bool,
    /// The `Wal` was dropped: the flusher thread stops.
    closed: bool,
}

impl Active {
    fn total(&self) -> u64 {
        self.bytes + self.older.iter().map(|s| s.bytes).sum::<u64>()
    }
}

/// The log, shared with its sync thread. Dropping it tells that thread to stop.
#[derive(Debug)]
pub(crate) struct Wal {
    log: Arc<Log>,
}

impl std::ops::Deref for Wal {
    type Target = Log;
    fn deref(&self) -> &Log {
        &self.log
    }
}

impl Drop for Wal {
    fn drop(&mut self) {
        self.log.close_buffer();
        self.log.stop_syncer();
    }
}

#[derive(Debug)]
pub(crate) struct Log {
    dir: PathBuf,
    io: Arc<dyn Io>,
    policy: SyncPolicy,
    /// The head flags of the segments it creates (`storage::compress`).
    flags: u32,
    /// Commit payloads compressed, and their compressed size.
    pub(crate) compressed: compress::Tally,
    /// Bytes of frames gathered before they are written (0: each frame is written as it is
    /// appended; always so under `Always` and `Group`).
    buffer: usize,
    /// The longest a buffered frame waits for the flusher thread.
    buffer_delay: Duration,
    active: Mutex<Active>,
    /// Wakes the flusher thread (with `active`'s lock).
    flush_cv: Condvar,
    /// Bytes of every segment on disk (read on the write path without the append lock).
    log_bytes: AtomicU64,
    sync: Mutex<SyncState>,
    synced_cv: Condvar,
    /// Writers that have started a commit but not appended yet: a group-commit leader
    /// waits (at most `max_delay`) for them so one fsync covers them all.
    arriving: AtomicUsize,
    /// A leader is waiting for arrivals; appends wake it.
    gathering: AtomicBool,
    /// Commits ever appended (read by a gathering leader without the append lock).
    commits: AtomicU64,
    /// `SyncState::synced`, readable without the lock (the tree checks it after queueing an
    /// `Always` commit, in case the fsync covering it landed before it was queued).
    synced_at: AtomicU64,
    /// fsyncs of log segments so far (`Stats::wal_syncs`).
    syncs: AtomicU64,
    hook: HookSlot,
    /// Wakes the sync thread when an async waiter needs a leader.
    syncer_cv: Condvar,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// How a log writes: when it fsyncs, the head flags of the segments it creates
/// (`storage::compress`), and its buffer under `Never`.
pub(crate) struct Writing {
    pub(crate) policy: SyncPolicy,
    pub(crate) flags: u32,
    pub(crate) buffer: LogBuffer,
}

impl Wal {
    /// Continues the log after version `seq` in `active` (already cut to its last whole
    /// frame), or in a new segment when there is none. Under `Never` with a buffer, starts
    /// the flusher thread.
    pub(crate) fn open(
        io: Arc<dyn Io>,
        dir: &Path,
        active: Option<Segment>,
        older: Vec<Segment>,
        seq: u64,
        writing: Writing,
    ) -> Result<Wal> {
        let Writing {
            policy,
            flags,
            buffer,
        } = writing;
        let (file, segment, head) = match active {
            // Holding no commit yet, and written with other flags (compression turned on
            // or off since): an empty segment with this open's flags is renamed over it.
            Some(segment) if segment.first > seq && segment::head_flags(&segment.path) != flags => {
                let (file, segment) =
                    create_segment(io.as_ref(), dir, segment.first, flags).map_err(|f| f.error)?;
                (file, segment, flags)
            }
            Some(segment) => {
                let file = io
                    .open_append(&segment.path)
                    .map_err(|e| io_at(&segment.path, e))?;
                let head = segment::head_flags(&segment.path);
                (file, segment, head)
            }
            None => {
                let first = seq.checked_add(1).ok_or_else(|| exhausted(seq))?;
                let (file, segment) =
                    create_segment(io.as_ref(), dir, first, flags).map_err(|f| f.error)?;
                (file, segment, flags)
            }
        };
        let path = segment.path;
        let id = file
            .metadata()
            .map(|m| FileId::of(&m))
            .map_err(|e| io_at(&path, e))?;
        let sync_handle = Arc::new(file.try_clone().map_err(|e| io_at(&path, e))?);
        let active = Active {
            file,
            sync_handle,
            path,
            id,
            first: segment.first,
            last: seq,
            bytes: segment.bytes,
            written: 0,
            older,
            buf: Vec::new(),
            // Compressed frames only where the head says so (a segment written before
            // compression was turned on is cut by `Durable::open`, see `writes_plain`).
            lz4: flags & head & compress::FLAG_LZ4 != 0,
            scratch: Vec::new(),
            write_failed: false,
            flusher_waiting: false,
            closed: false,
        };
        let buffered = if policy == SyncPolicy::Never {
            buffer.bytes
        } else {
            0
        };
        let log = Log {
            dir: dir.to_path_buf(),
            io,
            policy,
            flags,
            compressed: compress::Tally::default(),
            buffer: buffered,
            buffer_delay: buffer.max_delay,
            flush_cv: Condvar::new(),
            log_bytes: AtomicU64::new(active.total()),
            active: Mutex::new(active),
            sync: Mutex::new(SyncState::default()),
            synced_cv: Condvar::new(),
            arriving: AtomicUsize::new(0),
            gathering: AtomicBool::new(false),
            commits: AtomicU64::new(0),
            synced_at: AtomicU64::new(0),
            syncs: AtomicU64::new(0),
            hook: HookSlot(OnceLock::new()),
            syncer_cv: Condvar::new(),
        };
        let log = Arc::new(log);
        if buffered > 0 {
            spawn(&log, "acorn-log-flush", "flusher", Log::flusher)?;
        }
        Ok(Wal { log })
    }
}

impl Log {
    /// Checks that the active segment's path still names the file being written: otherwise
    /// the file or its directory was deleted, moved or replaced, later writes would go to a
    /// file nobody will read, and the log is poisoned.
    fn check_place(&self, a: &Active) -> Result<()> {
        let found = std::fs::metadata(&a.path).map(|m| FileId::of(&m));
        match found {
            Ok(id) if id == a.id => Ok(()),
            other => {
                let now = match other {
                    Ok(_) => "another file is there now".to_string(),
                    Err(e) => e.to_string(),
                };
                Err(self.poison(Error::Io(std::io::Error::new(
                    std::io::ErrorKind::NotFound,
                    format!(
                        "{}: the log segment or its directory was deleted, moved or replaced \
                         while the tree was open ({now}); writes since the last check may be \
                         in a file no longer in the directory. Put the directory back or \
                         reopen the tree",
                        a.path.display()
                    ),
                ))))
            }
        }
    }

    /// Appends one commit frame; under `Always` also fsyncs. Returns the ticket that
    /// [`Log::wait`] needs under `Group`.
    pub(crate) fn append(
        &self,
        version: u64,
        changes: &[Change],
        arrival: &mut Arrival<'_>,
    ) -> Result<u64> {
        let result = self.append_frame(version, changes);
        arrival.finish();
        result
    }

    fn append_frame(&self, version: u64, changes: &[Change]) -> Result<u64> {
        self.refuse()?;
        let mut guard = lock(&self.active);
        let a = &mut *guard;
        if version != a.last + 1 || version > MAX_VERSION {
            // The chain recovery proves must hold: refuse rather than write a gap.
            return Err(Error::Io(std::io::Error::other(format!(
                "internal error: commit version {version} does not follow {} in {}",
                a.last,
                a.path.display()
            ))));
        }
        let start = a.buf.len();
        frame::encode_commit(&mut a.buf, version, changes);
        let payload = a.buf.len() - start - frame::FRAME_HEADER;
        if payload > frame::MAX_FRAME {
            a.buf.truncate(start);
            return Err(Error::TooLarge(format!(
                "the commit encodes to {payload} bytes, over the log's frame maximum of {} \
                 bytes; split it",
                frame::MAX_FRAME
            )));
        }
        // Compressed in place before it waits in the buffer: what is written is the frame
        // as stored (its version still in front, see `frame::compress_commit`).
        #[cfg(feature = "compression")]
        if a.lz4 {
            if let Some((raw, stored)) = frame::compress_commit(&mut a.buf, start, &mut a.scratch) {
                self.compressed.add(raw, stored);
            }
        }
        let n = a.buf.len() - start;
        if a.buf.len() >= self.buffer {
            self.write_out(a)?;
        } else if start == 0 && a.flusher_waiting {
            self.flush_cv.notify_one();
        }
        let n = n as u64;
        a.written += n;
        a.bytes += n;
        a.last = version;
        self.log_bytes.fetch_add(n, Ordering::Relaxed);
        // Under the append lock, so it moves in step with `written`.
        self.commits.fetch_add(1, Ordering::AcqRel);
        Ok(a.written)
    }

    /// Whether this log was asked to compress but its active segment, written before
    /// compression was turned on, takes plain frames only (until it is cut).
    pub(crate) fn writes_plain(&self) -> bool {
        self.flags & compress::FLAG_LZ4 != 0 && !lock(&self.active).lz4
    }

    /// Starts a new segment for the commits after `seq` (the last one logged) and returns
    /// every older segment: a snapshot at `seq` makes them obsolete. When the active segment
    /// holds no commit yet it simply stays. The old segment is fsynced, the new one put in
    /// place (`segment.rs`), and only then the old one sealed with the new one's name and
    /// fsynced again: from then on a missing newest segment is noticed at open. A crash
    /// before the seal leaves an empty newest segment after an unsealed one, which opening
    /// recognizes as an unfinished cut. A failure before the new segment is in place
    /// changes nothing; one after it (its directory fsync, or the seal) poisons the log,
    /// since the old segment may no longer grow.
    pub(crate) fn rotate(&self, seq: u64) -> Result<Vec<Segment>> {
        self.refuse()?;
        let mut guard = lock(&self.active);
        let a = &mut *guard;
        self.check_place(a)?;
        if seq != a.last {
            return Err(Error::Io(std::io::Error::other(format!(
                "internal error: compaction at version {seq}, but the log ends at {}",
                a.last
            ))));
        }
        if a.first > seq {
            return Ok(a.older.clone());
        }
        self.write_out(a)?;
        self.sync_active(a)?;
        let first = seq.checked_add(1).ok_or_else(|| exhausted(seq))?;
        let (file, segment) = match create_segment(self.io.as_ref(), &self.dir, first, self.flags) {
            Ok(created) => created,
            Err(f) if f.renamed => return Err(self.poison(f.error)),
            Err(f) => return Err(f.error),
        };
        let id = file.metadata().map(|m| FileId::of(&m));
        let sync_handle = file.try_clone();
        let (id, sync_handle) = match (id, sync_handle) {
            (Ok(id), Ok(h)) => (id, Arc::new(h)),
            (Err(e), _) | (_, Err(e)) => return Err(self.fail(&segment.path, e)),
        };
        frame::encode_seal(&mut a.buf, seq);
        let sealed = self.io.write(&a.file, &a.path, &a.buf);
        let seal = a.buf.len() as u64;
        a.buf.clear();
        if let Err(e) = sealed {
            return Err(self.fail(&a.path, e));
        }
        a.bytes += seal;
        self.syncs.fetch_add(1, Ordering::Relaxed);
        if let Err(e) = self.io.sync(&a.file, &a.path) {
            return Err(self.fail(&a.path, e));
        }
        let old = Segment {
            path: std::mem::replace(&mut a.path, segment.path),
            first: a.first,
            bytes: a.bytes,
        };
        a.older.push(old);
        a.file = file;
        a.sync_handle = sync_handle;
        a.id = id;
        a.first = first;
        a.bytes = segment.bytes;
        a.lz4 = self.flags & compress::FLAG_LZ4 != 0;
        self.log_bytes.store(a.total(), Ordering::Relaxed);
        Ok(a.older.clone())
    }

    /// Every segment on disk, in order: (first version, path); the active one last.
    pub(crate) fn segments(&self) -> Vec<(u64, PathBuf)> {
        let a = lock(&self.active);
        a.older
            .iter()
            .map(|s| (s.first, s.path.clone()))
            .chain(std::iter::once((a.first, a.path.clone())))
            .collect()
    }

    /// The active segment (its path, first version) and how many of its bytes are whole
    /// commits: the part a copy may take while appends go on. Writes out the buffered
    /// frames first (under `Never`), so those bytes are all in the file.
    pub(crate) fn active_extent(&self) -> Result<(PathBuf, u64, u64)> {
        let mut a = lock(&self.active);
        self.write_out(&mut a)?;
        Ok((a.path.clone(), a.first, a.bytes))
    }

    /// Forgets segments a snapshot made obsolete, once they are deleted.
    pub(crate) fn forget(&self, removed: &[PathBuf]) {
        let mut a = lock(&self.active);
        a.older.retain(|s| !removed.contains(&s.path));
        self.log_bytes.store(a.total(), Ordering::Relaxed);
    }

    /// fsyncs of log segments so far.
    pub(crate) fn syncs(&self) -> u64 {
        self.syncs.load(Ordering::Relaxed)
    }

    /// Bytes of every log segment on disk.
    pub(crate) fn log_bytes(&self) -> u64 {
        self.log_bytes.load(Ordering::Relaxed)
    }

    /// Checks the active segment is still where it was opened (poisons the log if not).
    pub(crate) fn check(&self) -> Result<()> {
        self.refuse()?;
        self.check_place(&lock(&self.active))
    }
}

/// Starts the log's thread `name` (the `what` thread in errors), running `body` on the log
/// until the `Wal` is dropped.
fn spawn(log: &Arc<Log>, name: &str, what: &str, body: fn(&Log)) -> Result<()> {
    let held = Arc::clone(log);
    std::thread::Builder::new()
        .name(name.into())
        .spawn(move || body(&held))
        .map(drop)
        .map_err(|e| {
            Error::Io(std::io::Error::new(
                e.kind(),
                format!(
                    "{}: cannot start the log's {what} thread: {e}",
                    log.dir.display()
                ),
            ))
        })
}

/// The error for a commit or segment past the last version.
pub(crate) fn exhausted(seq: u64) -> Error {
    Error::VersionsExhausted { version: seq }
}
