//! The write-ahead log: segment files of commit frames, appended under the tree's commit
//! lock, made durable per [`SyncPolicy`].
//!
//! Group commit (`Always` and `Group`) is leader/follower: the first waiter becomes the
//! leader and fsyncs everything written so far while later writers append; they then share
//! its fsync or the next one. A waiter is either a blocked thread (`wait`, on a condvar) or
//! a future (`register` + `poll_wait`): a future parks no thread at all; it leaves its
//! waker in `waiters`, and the log's sync thread (started on the first async commit) leads
//! the fsyncs that no thread is waiting to lead. Every fsync that lands completes every
//! waiter it covers at once, so thousands of async writers share one fsync.
//!
//! Under `Always` a commit becomes visible only once durable: after each fsync the leader
//! calls the tree's hook (`set_hook`), which applies the commits it covers, and only then
//! marks them `done` and wakes their writers. Under `Group` the tree applied them already.
//!
//! Under `Never` the log buffers: commit frames gather in `Active::buf` and reach the OS in
//! one write once they fill the buffer, after at most its delay (the flusher thread), at
//! `flush()`, before a compaction cuts the log, and when the tree is dropped: no syscall per
//! commit. Frames are written whole and in order, so what reaches the file is always a
//! prefix of the commits logged; after a failed write nothing more is written.
//!
//! Segment files themselves (names, creation) are in `segment.rs`.

use std::collections::BTreeMap;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, OnceLock, PoisonError};
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

use super::io::Io;
use super::segment::{create_segment, Segment};
use super::{frame, io_at, FileId, LogBuffer, SyncPolicy};
use crate::limits::MAX_VERSION;
use crate::record::Change;
use crate::{Error, Result};

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

#[derive(Debug, Default)]
struct SyncState {
    /// Log position (see `Active::written`) known durable.
    synced: u64,
    /// Log position whose commits are complete: durable and, under `Always`, applied by the
    /// hook. Waiters wait for this.
    done: u64,
    /// Commits covered by fsyncs so far, and by the last one: the group size a leader
    /// expects to gather again.
    synced_commits: u64,
    last_group: u64,
    leader: bool,
    /// Set by the first failed write or fsync; every later write is refused.
    failed: Option<String>,
    /// Async waiters by (ticket, id): the waker of the future waiting for that commit
    /// (`None` until first polled). Registered as soon as the commit is appended, so the
    /// sync thread fsyncs and completes it even if the future is dropped unpolled.
    waiters: BTreeMap<(u64, u64), Option<Waker>>,
    #[cfg_attr(not(feature = "tokio"), allow(dead_code))]
    next_waiter: u64,
    /// The sync thread: started, waiting for work, told to stop.
    #[cfg_attr(not(feature = "tokio"), allow(dead_code))]
    syncer_started: bool,
    syncer_idle: bool,
    shutdown: bool,
}

impl SyncState {
    /// Whether an async waiter waits for a position past `done` (work for a leader).
    fn async_work(&self) -> bool {
        self.waiters
            .keys()
            .next_back()
            .is_some_and(|(t, _)| *t > self.done)
    }
}

/// Called by a leader after an fsync, with the log position it made durable, before the
/// commits up to it are marked done (the tree applies `Always` commits here).
pub(crate) type Hook = Box<dyn Fn(u64) + Send + Sync>;

struct HookSlot(OnceLock<Hook>);

impl std::fmt::Debug for HookSlot {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(if self.0.get().is_some() {
            "Hook(set)"
        } else {
            "Hook(unset)"
        })
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
        {
            // What the buffer holds reaches the OS before the directory is unlocked.
            let mut a = lock(&self.log.active);
            if let Err(e) = self.log.write_out(&mut a) {
                log::warn!("closing the log: {e}");
            }
            a.closed = true;
            self.log.flush_cv.notify_all();
        }
        let mut s = lock(&self.log.sync);
        s.shutdown = true;
        self.log.syncer_cv.notify_all();
    }
}

#[derive(Debug)]
pub(crate) struct Log {
    dir: PathBuf,
    io: Arc<dyn Io>,
    policy: SyncPolicy,
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

/// A writer on its way to [`Log::append`]; counted until it appends or gives up.
#[derive(Debug)]
pub(crate) struct Arrival<'a> {
    wal: &'a Log,
    done: bool,
}

impl Arrival<'_> {
    fn finish(&mut self) {
        if !self.done {
            self.done = true;
            self.wal.arriving.fetch_sub(1, Ordering::AcqRel);
            if self.wal.gathering.load(Ordering::Acquire) {
                let _s = lock(&self.wal.sync);
                self.wal.synced_cv.notify_all();
            }
        }
    }
}

impl Drop for Arrival<'_> {
    fn drop(&mut self) {
        self.finish();
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
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
        policy: SyncPolicy,
        buffer: LogBuffer,
    ) -> Result<Wal> {
        let (file, segment) = match active {
            Some(segment) => {
                let file = io
                    .open_append(&segment.path)
                    .map_err(|e| io_at(&segment.path, e))?;
                (file, segment)
            }
            None => {
                let first = seq.checked_add(1).ok_or_else(|| exhausted(seq))?;
                create_segment(io.as_ref(), dir, first).map_err(|f| f.error)?
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

    #[cfg_attr(not(feature = "tokio"), allow(dead_code))]
    /// Starts the sync thread if it is not running: it leads the fsyncs that async waiters
    /// need (a future cannot block on one). It holds the log until the `Wal` is dropped.
    pub(crate) fn ensure_syncer(&self) -> Result<()> {
        let mut s = lock(&self.log.sync);
        if s.syncer_started {
            return Ok(());
        }
        spawn(&self.log, "acorn-log-sync", "sync", Log::syncer)?;
        s.syncer_started = true;
        Ok(())
    }
}

impl Log {
    /// Sets what a leader calls after each fsync (once, when the tree is built).
    pub(crate) fn set_hook(&self, hook: Hook) {
        let _ = self.hook.0.set(hook);
    }

    /// Whether commits become visible only once durable (they wait for the hook).
    pub(crate) fn applies_after_sync(&self) -> bool {
        self.policy == SyncPolicy::Always
    }

    /// Whether a commit's writer waits for an fsync before its call returns.
    pub(crate) fn waits(&self) -> bool {
        !matches!(self.policy, SyncPolicy::Never)
    }

    /// The log position known durable (see [`Log::synced_at`] on the field).
    pub(crate) fn synced(&self) -> u64 {
        self.synced_at.load(Ordering::Acquire)
    }

    fn refuse(&self) -> Result<()> {
        match &lock(&self.sync).failed {
            None => Ok(()),
            Some(why) => Err(self.refusal(why)),
        }
    }

    fn refusal(&self, why: &str) -> Error {
        Error::Io(std::io::Error::other(format!(
            "{}: the tree refuses writes after an earlier I/O failure ({why}); reopen it to \
             recover what reached the disk",
            self.dir.display()
        )))
    }

    /// The error for a write after a failed one.
    fn refused(&self) -> Error {
        let s = lock(&self.sync);
        self.refusal(s.failed.as_deref().unwrap_or("a write of the log failed"))
    }

    /// Poisons the log: every later write is refused. Returns `error` for the caller.
    fn poison(&self, error: Error) -> Error {
        let mut s = lock(&self.sync);
        s.failed.get_or_insert_with(|| match &error {
            Error::Io(e) => e.to_string(),
            other => other.to_string(),
        });
        let wake = take_completed(&mut s);
        self.synced_cv.notify_all();
        drop(s);
        wake.into_iter().for_each(Waker::wake);
        error
    }

    fn fail(&self, path: &Path, e: std::io::Error) -> Error {
        self.poison(io_at(path, e))
    }

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

    /// Announces a writer before it takes the tree lock (see [`Arrival`]).
    pub(crate) fn arrive(&self) -> Arrival<'_> {
        self.arriving.fetch_add(1, Ordering::AcqRel);
        Arrival {
            wal: self,
            done: false,
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
        let n = a.buf.len() - start;
        let payload = n - frame::FRAME_HEADER;
        if payload > frame::MAX_FRAME {
            a.buf.truncate(start);
            return Err(Error::TooLarge(format!(
                "the commit encodes to {payload} bytes, over the log's frame maximum of {} \
                 bytes; split it",
                frame::MAX_FRAME
            )));
        }
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

    /// Hands the frames in the buffer to the OS in one write (append lock held). After a
    /// failed write nothing more is written: the buffer is dropped and the log refuses.
    fn write_out(&self, a: &mut Active) -> Result<()> {
        if a.buf.is_empty() {
            return Ok(());
        }
        let result = if a.write_failed {
            Err(self.refused())
        } else {
            self.io.write(&a.file, &a.path, &a.buf).map_err(|e| {
                a.write_failed = true;
                self.fail(&a.path, e)
            })
        };
        a.buf.clear();
        if a.buf.capacity() > 4 << 20 {
            a.buf = Vec::new();
        }
        result
    }

    /// The flusher thread (under `Never` with a buffer): once frames arrive in an empty
    /// buffer, lets more gather for at most `buffer_delay`, then writes what is there,
    /// until the `Wal` is dropped. A failed write poisons the log (the next write or
    /// `flush()` reports it).
    fn flusher(&self) {
        let mut a = lock(&self.active);
        loop {
            while a.buf.is_empty() && !a.closed {
                a.flusher_waiting = true;
                a = self
                    .flush_cv
                    .wait(a)
                    .unwrap_or_else(PoisonError::into_inner);
                a.flusher_waiting = false;
            }
            if a.closed {
                return;
            }
            a = self
                .flush_cv
                .wait_timeout_while(a, self.buffer_delay, |a| !a.closed)
                .unwrap_or_else(PoisonError::into_inner)
                .0;
            let _ = self.write_out(&mut a);
        }
    }

    /// Blocks until the commit at `ticket` is done (durable and, under `Always`, applied):
    /// leads an fsync when no one else is, or waits for the leader's.
    pub(crate) fn wait(&self, ticket: u64) -> Result<()> {
        let mut s = lock(&self.sync);
        loop {
            if s.done >= ticket {
                return Ok(());
            }
            if s.failed.is_some() {
                drop(s);
                return self.refuse();
            }
            if s.leader {
                s = self
                    .synced_cv
                    .wait(s)
                    .unwrap_or_else(PoisonError::into_inner);
            } else {
                s = self.lead(s);
            }
        }
    }

    #[cfg_attr(not(feature = "tokio"), allow(dead_code))]
    /// Registers an async waiter for the commit at `ticket` (right after it was appended,
    /// so it is completed even if the future is dropped unpolled); returns its id for
    /// [`Log::poll_wait`]. The sync thread must be running ([`Wal::ensure_syncer`]).
    pub(crate) fn register(&self, ticket: u64) -> u64 {
        let mut s = lock(&self.sync);
        let id = s.next_waiter;
        s.next_waiter += 1;
        if ticket > s.done && s.failed.is_none() {
            s.waiters.insert((ticket, id), None);
            if s.syncer_idle && !s.leader {
                self.syncer_cv.notify_one();
            }
        }
        id
    }

    #[cfg_attr(not(feature = "tokio"), allow(dead_code))]
    /// Polls the async waiter `(ticket, id)`: ready once its commit is done or the log
    /// failed; otherwise leaves the task's waker for the leader that completes it.
    pub(crate) fn poll_wait(&self, ticket: u64, id: u64, cx: &Context<'_>) -> Poll<Result<()>> {
        let mut s = lock(&self.sync);
        if s.done >= ticket {
            s.waiters.remove(&(ticket, id));
            return Poll::Ready(Ok(()));
        }
        if s.failed.is_some() {
            s.waiters.remove(&(ticket, id));
            drop(s);
            return Poll::Ready(self.refuse());
        }
        let slot = s.waiters.entry((ticket, id)).or_insert(None);
        match slot {
            Some(w) if w.will_wake(cx.waker()) => {}
            _ => *slot = Some(cx.waker().clone()),
        }
        if s.syncer_idle && !s.leader {
            self.syncer_cv.notify_one();
        }
        Poll::Pending
    }

    #[cfg_attr(not(feature = "tokio"), allow(dead_code))]
    /// The sync thread: leads an fsync whenever an async waiter needs one and no thread is
    /// leading, until the `Wal` is dropped.
    fn syncer(&self) {
        let mut s = lock(&self.sync);
        loop {
            if s.shutdown {
                return;
            }
            if !s.leader && s.failed.is_none() && s.async_work() {
                s = self.lead(s);
                continue;
            }
            s.syncer_idle = true;
            s = self
                .syncer_cv
                .wait(s)
                .unwrap_or_else(PoisonError::into_inner);
            s.syncer_idle = false;
        }
    }

    /// One round of group commit, as the leader: gathers (under `Group`), fsyncs everything
    /// appended so far, checks the segment is still in place, lets the hook apply what the
    /// fsync covers, marks it done and wakes every waiter it completes. Called and returns
    /// with the sync lock held; `leader` must be false on entry.
    fn lead<'a>(&'a self, mut s: MutexGuard<'a, SyncState>) -> MutexGuard<'a, SyncState> {
        s.leader = true;
        // Let writers already mid-commit, or as many as joined the last group, append
        // first so this one fsync covers them too (bounded by `max_delay`).
        if let SyncPolicy::Group { max_delay } = self.policy {
            let deadline = Instant::now() + max_delay;
            loop {
                let pending = self
                    .commits
                    .load(Ordering::Acquire)
                    .saturating_sub(s.synced_commits);
                let now = Instant::now();
                let more = self.arriving.load(Ordering::Acquire) > 0 || pending < s.last_group;
                if !more || now >= deadline {
                    break;
                }
                self.gathering.store(true, Ordering::Release);
                s = self
                    .synced_cv
                    .wait_timeout(s, deadline - now)
                    .unwrap_or_else(PoisonError::into_inner)
                    .0;
            }
            self.gathering.store(false, Ordering::Release);
        }
        drop(s);
        let (handle, path, target, commits, written_out) = {
            let mut a = lock(&self.active);
            let written_out = self.write_out(&mut a);
            (
                Arc::clone(&a.sync_handle),
                a.path.clone(),
                a.written,
                self.commits.load(Ordering::Acquire),
                written_out,
            )
        };
        let result = written_out.and_then(|()| {
            self.syncs.fetch_add(1, Ordering::Relaxed);
            self.io
                .sync(&handle, &path)
                .map_err(|e| io_at(&path, e))
                .and_then(|()| self.check_place(&lock(&self.active)))
        });
        s = lock(&self.sync);
        s.leader = false;
        match result {
            Ok(()) => {
                s.synced = s.synced.max(target);
                self.synced_at.store(s.synced, Ordering::Release);
                if commits > s.synced_commits {
                    s.last_group = commits - s.synced_commits;
                    s.synced_commits = commits;
                }
                if let Some(hook) = self.hook.0.get().filter(|_| self.applies_after_sync()) {
                    // Another leader may fsync meanwhile; the hook applies in commit order
                    // whatever it is given, so two hooks may overlap.
                    drop(s);
                    hook(target);
                    s = lock(&self.sync);
                }
                s.done = s.done.max(target);
            }
            Err(e) => {
                let why = match e {
                    Error::Io(e) => e.to_string(),
                    other => other.to_string(),
                };
                s.failed.get_or_insert(why);
            }
        }
        let wake = take_completed(&mut s);
        self.synced_cv.notify_all();
        if s.syncer_idle && s.async_work() {
            self.syncer_cv.notify_one();
        }
        drop(s);
        wake.into_iter().for_each(Waker::wake);
        lock(&self.sync)
    }

    /// fsyncs the active segment (append lock held), checks it is still in its directory,
    /// and marks all it holds durable and done. Only where no `Always` commit waits to be
    /// applied: compaction drains them first.
    fn sync_active(&self, a: &Active) -> Result<()> {
        self.syncs.fetch_add(1, Ordering::Relaxed);
        if let Err(e) = self.io.sync(&a.file, &a.path) {
            return Err(self.fail(&a.path, e));
        }
        self.check_place(a)?;
        let mut s = lock(&self.sync);
        s.synced = s.synced.max(a.written);
        s.done = s.done.max(a.written);
        self.synced_at.store(s.synced, Ordering::Release);
        let wake = take_completed(&mut s);
        self.synced_cv.notify_all();
        drop(s);
        wake.into_iter().for_each(Waker::wake);
        Ok(())
    }

    /// fsyncs everything appended so far (as a leader, so `Always` commits it covers are
    /// applied), and checks the segment is still in place.
    pub(crate) fn flush(&self) -> Result<()> {
        self.refuse()?;
        let mut s = lock(&self.sync);
        while s.leader {
            s = self
                .synced_cv
                .wait(s)
                .unwrap_or_else(PoisonError::into_inner);
        }
        if s.failed.is_none() {
            s = self.lead(s);
        }
        drop(s);
        self.refuse()
    }

    #[cfg_attr(not(feature = "tokio"), allow(dead_code))]
    /// The log position of the last commit appended.
    pub(crate) fn written(&self) -> u64 {
        lock(&self.active).written
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
        let (file, segment) = match create_segment(self.io.as_ref(), &self.dir, first) {
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
        self.log_bytes.store(a.total(), Ordering::Relaxed);
        Ok(a.older.clone())
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

/// Takes the wakers of the async waiters whose commits are done, or of all of them once the
/// log has failed (each then finds its result in `poll_wait`).
fn take_completed(s: &mut SyncState) -> Vec<Waker> {
    let keep = if s.failed.is_some() {
        BTreeMap::new()
    } else {
        s.waiters.split_off(&(s.done.saturating_add(1), 0))
    };
    let done = std::mem::replace(&mut s.waiters, keep);
    done.into_values().flatten().collect()
}

/// The error for a commit or segment past the last version.
pub(crate) fn exhausted(seq: u64) -> Error {
    Error::VersionsExhausted { version: seq }
}
