//! Group commit and the log's failure state.
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
//! The first failed write or fsync poisons the log (`poison`): every later write is
//! refused, and every waiter is woken with the refusal.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::atomic::Ordering;
use std::sync::{Arc, MutexGuard, OnceLock, PoisonError};
use std::task::{Context, Poll, Waker};
use std::time::Instant;

use super::{io_at, lock, spawn, Active, Log, SyncPolicy, Wal};
use crate::{Error, Result};

#[derive(Debug, Default)]
pub(super) struct SyncState {
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

pub(super) struct HookSlot(pub(super) OnceLock<Hook>);

impl std::fmt::Debug for HookSlot {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(if self.0.get().is_some() {
            "Hook(set)"
        } else {
            "Hook(unset)"
        })
    }
}

/// A writer on its way to [`Log::append`]; counted until it appends or gives up.
#[derive(Debug)]
pub(crate) struct Arrival<'a> {
    wal: &'a Log,
    done: bool,
}

impl Arrival<'_> {
    pub(super) fn finish(&mut self) {
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

impl Wal {
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

    pub(super) fn refuse(&self) -> Result<()> {
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
    pub(super) fn refused(&self) -> Error {
        let s = lock(&self.sync);
        self.refusal(s.failed.as_deref().unwrap_or("a write of the log failed"))
    }

    /// Poisons the log: every later write is refused. Returns `error` for the caller.
    pub(super) fn poison(&self, error: Error) -> Error {
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

    pub(super) fn fail(&self, path: &Path, e: std::io::Error) -> Error {
        self.poison(io_at(path, e))
    }

    /// Announces a writer before it takes the tree lock (see [`Arrival`]).
    pub(crate) fn arrive(&self) -> Arrival<'_> {
        self.arriving.fetch_add(1, Ordering::AcqRel);
        Arrival {
            wal: self,
            done: false,
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
    pub(super) fn sync_active(&self, a: &Active) -> Result<()> {
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

    /// Tells the sync thread to stop (the `Wal` is dropped).
    pub(super) fn stop_syncer(&self) {
        let mut s = lock(&self.sync);
        s.shutdown = true;
        self.syncer_cv.notify_all();
    }
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
