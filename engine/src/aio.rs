//! The async API (feature `tokio`): [`AsyncTree`], a cheap handle whose writes are futures.
//!
//! Every write is the blocking API's own operation run through the same commit pipeline
//! (`tree::Write`, `Tree::begin`, `InFlight::finish`): this module only decides how to
//! wait. In memory, and under `SyncPolicy::Never`, a write never waits: its future
//! completes on its first poll, doing exactly what the blocking call does. A durable write
//! under `Always` or `Group` is logged on the first poll, then waits for its fsync as a
//! waker in the log (see `storage/wal.rs`): no runtime thread and no blocking-pool thread
//! is parked per waiting writer. The log's own sync thread (one per durable tree, started
//! by the first async commit) leads the fsyncs, and every fsync completes all the commits
//! it covers at once, so thousands of tasks share each one.
//!
//! What may still block the polling thread, briefly: the commit lock while another
//! writer appends its frame (a `write` to the page cache, microseconds), and, while a
//! compaction starts, its cut of the log (a few fsyncs). Compaction itself, manual or
//! automatic, runs on tokio's blocking pool.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use crate::batch::Batch;
use crate::storage::Durable;
use crate::tree::{Compaction, Purge, Stash, Toss, Tree, Write};
use crate::txn::{Retries, Retry, Settled, Txn, TxnCommit};
use crate::{Error, Result};

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

    /// [`Tree::compact`] on tokio's blocking pool (writing a snapshot is long, blocking
    /// file I/O); outside a tokio runtime it runs on the calling thread.
    pub async fn compact(&self) -> Result<()> {
        let tree = self.tree.clone();
        match tokio::runtime::Handle::try_current() {
            Ok(handle) => handle
                .spawn_blocking(move || tree.compact())
                .await
                .map_err(|e| Error::Io(std::io::Error::other(e.to_string())))?,
            Err(_) => tree.compact(),
        }
    }
}
