//! The async API (feature `tokio`): [`AsyncTree`], a cheap handle whose writes are futures.
//!
//! Every write is the blocking API's own operation run through the same commit pipeline
//! (`tree::Write`, `Tree::begin`, `InFlight::finish`): this module only decides how to
//! wait. In memory, and under `SyncPolicy::Never`, a write never waits: its future
//! completes on its first poll, doing exactly what the blocking call does. A durable write
//! under `Always` or `Group` is logged on the first poll, then waits for its fsync as a
//! waker in the log (see `storage/wal/group.rs`): no runtime thread and no blocking-pool
//! thread is parked per waiting writer. The log's own sync thread (one per durable tree, started
//! by the first async commit) leads the fsyncs, and every fsync completes all the commits
//! it covers at once, so thousands of tasks share each one.
//!
//! What may still block the polling thread, briefly: the commit lock while another
//! writer appends its frame (a `write` to the page cache, microseconds), and, while a
//! compaction starts, its cut of the log (a few fsyncs). Compaction itself, manual or
//! automatic, runs on tokio's blocking pool.

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Weak};
use std::task::{Context, Poll};
use std::time::Duration;

use crate::batch::Batch;
use crate::events::{Channel, Lost, Next};
use crate::feed::Change;
use crate::storage::Durable;
use crate::tree::{
    without_waiting, BackgroundTree, Compaction, Inner, Purge, Stash, Toss, Tree, Write,
};
use crate::txn::{Retries, Retry, Settled, Txn, TxnCommit};
use crate::{Error, Result};

/// Changes a [`ChangeStream`] buffers before it drops commits (which it then reads back
/// from the change feed).
const STREAM_CAPACITY: usize = 4096;

/// A [`Tree`] whose writes are futures (see the module docs for what waits and how).
/// Cheap to clone; reads go through [`Deref`](std::ops::Deref) to the tree and stay
/// synchronous: they never wait for a lock or the disk.
#[derive(Clone, Debug)]
pub struct AsyncTree {
    tree: Tree,
}

impl Tree {
    /// An async handle on this tree (shares it; the tree stays usable as is).
    pub fn to_async(&self) -> AsyncTree {
        AsyncTree { tree: self.clone() }
    }
}

impl std::ops::Deref for AsyncTree {
    type Target = Tree;
    fn deref(&self) -> &Tree {
        &self.tree
    }
}

/// Waits for a logged commit's fsync (and under `Always` its application) as a waker in
/// the log; ready at once when there is nothing to wait for.
struct Durability<'a> {
    log: &'a Durable,
    ticket: u64,
    id: u64,
}

impl<'a> Durability<'a> {
    /// Registers the waiter at once, before any await: even a future dropped after its
    /// first poll has its commit made durable and applied by the log's sync thread.
    fn new(log: &'a Durable, ticket: u64) -> Self {
        let id = log.register(ticket);
        Durability { log, ticket, id }
    }
}

impl Future for Durability<'_> {
    type Output = Result<()>;
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<()>> {
        self.log.poll_wait(self.ticket, self.id, cx)
    }
}

impl AsyncTree {
    /// The tree behind this handle.
    pub fn tree(&self) -> &Tree {
        &self.tree
    }

    /// Runs `write` through the commit pipeline ([`Tree::run`]'s async twin): logs and
    /// (except under `Always`) applies on the first poll, then waits for durability as a
    /// waker; an automatic compaction runs on the blocking pool.
    async fn run<W: Write>(&self, write: W) -> Result<W::Output> {
        if let Some(log) = self.tree.log().filter(|log| log.waits()) {
            log.ensure_syncer()?;
        }
        let commit = self.tree.begin(write)?;
        if let Some((log, ticket)) = commit.durability() {
            Durability::new(log, ticket).await?;
        }
        Ok(commit.finish(Compaction::Background))
    }

    /// [`Tree::stash`], completing once the write is as durable as the policy says.
    pub async fn stash(&self, key: impl AsRef<str>, value: impl AsRef<[u8]>) -> Result<u64> {
        self.stash_inner(key.as_ref(), value.as_ref(), None).await
    }

    /// [`Tree::stash_with_ttl`] as a future.
    pub async fn stash_with_ttl(
        &self,
        key: impl AsRef<str>,
        value: impl AsRef<[u8]>,
        ttl: Duration,
    ) -> Result<u64> {
        self.stash_inner(key.as_ref(), value.as_ref(), Some(ttl))
            .await
    }

    // As in the blocking API, the generic methods only convert their arguments, so the
    // pipeline is compiled once, in this crate.
    async fn stash_inner(&self, key: &str, value: &[u8], ttl: Option<Duration>) -> Result<u64> {
        self.run(Stash::new(&self.tree, key, value, ttl)?).await
    }

    /// [`Tree::toss`] as a future: whether a visible nut was there.
    pub async fn toss(&self, key: impl AsRef<str>) -> Result<bool> {
        self.toss_inner(key.as_ref()).await
    }

    async fn toss_inner(&self, key: &str) -> Result<bool> {
        self.run(Toss::new(&self.tree, key)?).await
    }

    /// Commits `batch` (built with [`Tree::batch`] on this tree) atomically: the async
    /// form of [`Batch::commit`].
    pub async fn commit(&self, batch: Batch) -> Result<u64> {
        self.run(batch.into_write()?).await
    }

    /// [`Tree::transaction`] as a future: `f` runs synchronously (it reads and buffers;
    /// nothing in it waits), the commit waits for durability as a future, a conflict
    /// yields to the runtime before `f` runs again, and a read that came before a pending
    /// commit's fsync waits for it as a future.
    pub async fn transaction<R>(&self, mut f: impl FnMut(&mut Txn<'_>) -> Result<R>) -> Result<R> {
        let mut retries = Retries::default();
        loop {
            let (out, writes) = self.tree.txn_attempt(&mut f)?;
            match retries.after(&self.tree, self.commit_txn(writes).await) {
                Retry::Done(result) => return result.map(|()| out),
                Retry::Yield => tokio::task::yield_now().await,
                Retry::Sleep(pause) => tokio::time::sleep(pause).await,
                Retry::Durable(ticket) => {
                    if let Some(log) = self.tree.log() {
                        // Only `Always` asks for it: `run` started the sync thread.
                        Durability::new(log, ticket).await?;
                    }
                }
            }
        }
    }

    async fn commit_txn(&self, writes: TxnCommit) -> Result<Settled> {
        self.run(writes).await
    }

    /// [`Tree::purge_expired`] as a future.
    pub async fn purge_expired(&self) -> Result<usize> {
        self.run(Purge).await
    }

    /// Makes every write logged so far durable: waits, as a future, for an fsync led by
    /// the log's sync thread (at once when everything is durable already; a no-op in
    /// memory).
    pub async fn flush(&self) -> Result<()> {
        let Some(log) = self.tree.log() else {
            return Ok(());
        };
        log.ensure_syncer()?;
        Durability::new(log, log.written()).await
    }

    /// The change feed as a [`Stream`](futures_core::Stream): every change after
    /// `version` (what [`Tree::changes_since`] returns), then every change committed
    /// later, as it is applied, in commit order; it ends when the tree is dropped. Items
    /// are `Result<Change>`: an error ends the stream — [`Error::Compacted`] when what it
    /// needs is no longer in the feed (asked from before a durable tree's last compaction,
    /// or fell further behind than an in-memory tree's history), [`Error::Io`] or
    /// [`Error::Corrupt`] reading a durable tree's log.
    ///
    /// Never blocks: a durable tree's log is read on tokio's blocking pool (outside a
    /// runtime, on the polling thread). The stream buffers up to 4,096 changes (each holds
    /// the value it wrote); a consumer that falls further behind has the commits it missed
    /// read back from the feed, as a [`crate::Subscription`] does. `futures_core::Stream`
    /// is implemented (use `StreamExt` from `futures` or `tokio-stream`), and
    /// [`ChangeStream::next_change`] needs neither.
    ///
    /// ```
    /// use acorn::{Change, Tree};
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> acorn::Result<()> {
    /// let tree = Tree::open_memory().to_async();
    /// tree.stash("a", b"1").await?;
    /// let mut changes = tree.changes_since(0);   // what came before, then what comes
    /// tree.stash("b", b"2").await?;
    /// # // An in-memory tree keeps no history by default: `a` was not kept.
    /// # assert!(matches!(changes.next_change().await, Some(Err(acorn::Error::Compacted { .. }))));
    /// let mut changes = tree.changes_since(tree.stats().version);
    /// tree.toss("b").await?;
    /// let next = changes.next_change().await.expect("the tree is alive")?;
    /// assert!(matches!(next, Change::Tossed { key, .. } if key == "b"));
    /// # Ok(()) }
    /// ```
    pub fn changes_since(&self, version: u64) -> ChangeStream {
        ChangeStream {
            chan: self.tree.subscribe_changes(version, STREAM_CAPACITY),
            tree: Arc::downgrade(&self.tree.inner),
            since: version,
            reading: None,
            done: false,
        }
    }

    /// [`Tree::compact`] on tokio's blocking pool (writing a snapshot is long, blocking
    /// file I/O); outside a tokio runtime it runs on the calling thread.
    ///
    /// A compaction whose future is dropped goes on; the tree's last handle, dropped
    /// meanwhile, waits for it to end, so the tree is closed when that drop returns.
    pub async fn compact(&self) -> Result<()> {
        match tokio::runtime::Handle::try_current() {
            Ok(handle) => {
                let tree = BackgroundTree::new(&self.tree);
                handle
                    .spawn_blocking(move || tree.run(Tree::compact))
                    .await
                    .map_err(|e| Error::Io(std::io::Error::other(e.to_string())))?
            }
            Err(_) => self.tree.compact(),
        }
    }
}

/// The change feed of a tree as a stream: see [`AsyncTree::changes_since`].
pub struct ChangeStream {
    chan: Arc<Channel<Change>>,
    tree: Weak<Inner>,
    /// Changes of this version and before are not wanted (asked from a version the tree
    /// had not reached yet).
    since: u64,
    /// Commits being read back from the feed.
    reading: Option<Reading>,
    done: bool,
}

/// A read of lost commits back from the feed.
enum Reading {
    Done(Result<Vec<Change>>),
    Blocking(tokio::task::JoinHandle<Result<Vec<Change>>>),
}

impl std::fmt::Debug for ChangeStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ChangeStream")
            .field("since", &self.since)
            .field("done", &self.done)
            .finish_non_exhaustive()
    }
}

impl ChangeStream {
    /// The next change; `None` once the tree is gone (or after an error).
    pub async fn next_change(&mut self) -> Option<Result<Change>> {
        std::future::poll_fn(|cx| futures_core::Stream::poll_next(Pin::new(&mut *self), cx)).await
    }

    /// Starts reading `lost` back from the feed: in memory at once (a copy of handles), a
    /// log on the blocking pool.
    fn read_back(&self, lost: Lost) -> Option<Reading> {
        let tree = Tree {
            inner: self.tree.upgrade()?,
        };
        let on_disk = tree.has_files();
        // A handle for a moment, on a thread of the blocking pool: its drop never waits.
        let read = move || {
            without_waiting(move || {
                tree.changes_between(lost.after, lost.to)
                    .map(Iterator::collect)
            })
        };
        Some(match tokio::runtime::Handle::try_current() {
            Ok(handle) if on_disk => Reading::Blocking(handle.spawn_blocking(read)),
            _ => Reading::Done(read()),
        })
    }

    fn end(&mut self, error: Option<Error>) -> Poll<Option<Result<Change>>> {
        self.done = true;
        self.chan.abandon();
        Poll::Ready(error.map(Err))
    }
}

impl futures_core::Stream for ChangeStream {
    type Item = Result<Change>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Change>>> {
        let this = &mut *self;
        loop {
            if this.done {
                return Poll::Ready(None);
            }
            if let Some(reading) = &mut this.reading {
                let read = match reading {
                    Reading::Done(r) => std::mem::replace(r, Ok(Vec::new())),
                    Reading::Blocking(job) => match Pin::new(job).poll(cx) {
                        Poll::Pending => return Poll::Pending,
                        Poll::Ready(joined) => joined.unwrap_or_else(|e| {
                            Err(Error::Io(std::io::Error::other(format!(
                                "reading the change feed failed: {e}"
                            ))))
                        }),
                    },
                };
                this.reading = None;
                match read {
                    Ok(changes) => this.chan.refilled(changes.into_iter()),
                    Err(e) => return this.end(Some(e)),
                }
            }
            match this.chan.poll_take(cx.waker()) {
                Next::Item(change) if change.version() <= this.since => {}
                Next::Item(change) => return Poll::Ready(Some(Ok(change))),
                Next::Gap(lost) => match this.read_back(lost) {
                    Some(reading) => this.reading = Some(reading),
                    None => return this.end(None),
                },
                Next::Empty => return Poll::Pending,
                Next::Closed => return this.end(None),
            }
        }
    }
}

impl Drop for ChangeStream {
    fn drop(&mut self) {
        self.chan.abandon();
    }
}
