//! The write-ahead log: segment files of commit frames, appended under the tree's write
//! lock, made durable per [`SyncPolicy`]. Group commit is leader/follower: the first waiter
//! fsyncs everything written so far while later writers append; they then share its fsync
//! or the next one.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::time::Instant;

use super::{frame, io_at, sync_dir, SyncPolicy};
use crate::record::Change;
use crate::{Error, Result};

pub(crate) fn segment_name(start_seq: u64) -> String {
    format!("wal-{start_seq:020}.log")
}

/// Start sequence of a segment file name, if it is one.
pub(crate) fn parse_segment(name: &str) -> Option<u64> {
    name.strip_prefix("wal-")?
        .strip_suffix(".log")?
        .parse()
        .ok()
}

#[derive(Debug)]
struct Active {
    file: File,
    /// A second handle to the same file, fsynced by the group-commit leader without
    /// holding the append lock.
    sync_handle: Arc<File>,
    path: PathBuf,
    /// Bytes ever appended (across segments): group-commit tickets are positions in it.
    written: u64,
    /// Bytes in the segments that the next snapshot will cover.
    log_bytes: u64,

    buf: Vec<u8>,
}

#[derive(Debug, Default)]
struct SyncState {
    synced: u64,
    /// Commits covered by fsyncs so far, and by the last one: the group size a leader
    /// expects to gather again.
    synced_commits: u64,
    last_group: u64,
    leader: bool,
    /// Set by the first failed write or fsync; every later write is refused.
    failed: Option<String>,
}

#[derive(Debug)]
pub(crate) struct Wal {
    dir: PathBuf,
    policy: SyncPolicy,
    active: Mutex<Active>,
    sync: Mutex<SyncState>,
    synced_cv: Condvar,
    /// Writers that have started a commit but not appended yet: a group-commit leader
    /// waits (at most `max_delay`) for them so one fsync covers them all.
    arriving: AtomicUsize,
    /// A leader is waiting for arrivals; appends wake it.
    gathering: AtomicBool,
    /// Commits ever appended (read by a gathering leader without the append lock).
    commits: AtomicU64,
}

/// A writer on its way to [`Wal::append`]; counted until it appends or gives up.
#[derive(Debug)]
pub(crate) struct Arrival<'a> {
    wal: &'a Wal,
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

fn open_append(path: &Path) -> Result<(File, Arc<File>)> {
    let file = OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .map_err(|e| io_at(path, e))?;
    let handle = file.try_clone().map_err(|e| io_at(path, e))?;
    Ok((file, Arc::new(handle)))
}

impl Wal {
    /// Continues appending to `path` (already truncated to its last whole frame).
    pub(crate) fn open(
        dir: &Path,
        path: PathBuf,
        log_bytes: u64,
        policy: SyncPolicy,
    ) -> Result<Wal> {
        let (file, sync_handle) = open_append(&path)?;
        sync_dir(dir)?;
        Ok(Wal {
            dir: dir.to_path_buf(),
            policy,
            active: Mutex::new(Active {
                file,
                sync_handle,
                path,
                written: 0,
                log_bytes,
                buf: Vec::new(),
            }),
            sync: Mutex::new(SyncState::default()),
            synced_cv: Condvar::new(),
            arriving: AtomicUsize::new(0),
            gathering: AtomicBool::new(false),
            commits: AtomicU64::new(0),
        })
    }

    fn refuse(&self) -> Result<()> {
        match &lock(&self.sync).failed {
            None => Ok(()),
            Some(why) => Err(Error::Io(std::io::Error::other(format!(
                "{}: the tree refuses writes after an earlier I/O failure ({why}); reopen it to \
                 recover what reached the disk",
                self.dir.display()
            )))),
        }
    }

    fn fail(&self, path: &Path, e: std::io::Error) -> Error {
        let mut s = lock(&self.sync);
        s.failed
            .get_or_insert_with(|| format!("{}: {e}", path.display()));
        self.synced_cv.notify_all();
        io_at(path, e)
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
    /// [`Wal::wait`] needs under `Group`.
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
        a.buf.clear();
        frame::encode_commit(&mut a.buf, version, changes);
        if let Err(e) = a.file.write_all(&a.buf) {
            return Err(self.fail(&a.path, e));
        }
        let n = a.buf.len() as u64;
        a.written += n;
        a.log_bytes += n;
        // Under the append lock, so it moves in step with `written`.
        self.commits.fetch_add(1, Ordering::AcqRel);
        if a.buf.capacity() > 4 << 20 {
            a.buf = Vec::new();
        }
        if self.policy == SyncPolicy::Always {
            self.sync_active(a)?;
        }
        Ok(a.written)
    }

    /// Returns once everything up to `ticket` is durable (group commit), at once otherwise.
    pub(crate) fn wait(&self, ticket: u64) -> Result<()> {
        if !matches!(self.policy, SyncPolicy::Group { .. }) {
            return Ok(());
        }
        let mut s = lock(&self.sync);
        loop {
            if s.synced >= ticket {
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
                continue;
            }
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
            let (handle, path, target, commits) = {
                let a = lock(&self.active);
                (
                    Arc::clone(&a.sync_handle),
                    a.path.clone(),
                    a.written,
                    self.commits.load(Ordering::Acquire),
                )
            };
            let result = handle.sync_data();
            s = lock(&self.sync);
            s.leader = false;
            match result {
                Ok(()) => {
                    s.synced = s.synced.max(target);
                    if commits > s.synced_commits {
                        s.last_group = commits - s.synced_commits;
                        s.synced_commits = commits;
                    }
                }
                Err(e) => {
                    s.failed
                        .get_or_insert_with(|| format!("{}: {e}", path.display()));
                }
            }
            self.synced_cv.notify_all();
        }
    }

    /// fsyncs the active segment (append lock held) and marks all it holds durable.
    fn sync_active(&self, a: &Active) -> Result<()> {
        if let Err(e) = a.file.sync_data() {
            return Err(self.fail(&a.path, e));
        }
        let mut s = lock(&self.sync);
        s.synced = s.synced.max(a.written);
        self.synced_cv.notify_all();
        Ok(())
    }

    /// fsyncs everything appended so far.
    pub(crate) fn flush(&self) -> Result<()> {
        self.refuse()?;
        self.sync_active(&lock(&self.active))
    }

    /// Starts a new segment for commits after `seq`; returns the paths of the older
    /// segments, which a snapshot at `seq` makes obsolete.
    pub(crate) fn rotate(&self, seq: u64) -> Result<Vec<PathBuf>> {
        self.refuse()?;
        let mut a = lock(&self.active);
        self.sync_active(&a)?;
        let path = self.dir.join(segment_name(seq + 1));
        let (file, sync_handle) = open_append(&path)?;
        sync_dir(&self.dir)?;
        a.file = file;
        a.sync_handle = sync_handle;
        a.path = path;
        a.log_bytes = 0;
        let current = a.path.clone();
        drop(a);
        let mut old = Vec::new();
        for entry in std::fs::read_dir(&self.dir).map_err(|e| io_at(&self.dir, e))? {
            let entry = entry.map_err(|e| io_at(&self.dir, e))?;
            let name = entry.file_name();
            if name.to_str().and_then(parse_segment).is_some() && entry.path() != current {
                old.push(entry.path());
            }
        }
        Ok(old)
    }

    pub(crate) fn log_bytes(&self) -> u64 {
        lock(&self.active).log_bytes
    }
}
