//! The async API (feature `tokio`): [`AsyncTree`], a cheap handle whose writes are futures.
//!
//! In memory, and under `SyncPolicy::Never`, a write never waits: its future completes on
//! its first poll, doing exactly what the blocking call does. A durable write under
//! `Always` or `Group` is logged on the first poll, then waits for its fsync as a waker in
//! the log (see `storage/wal.rs`): no runtime thread and no blocking-pool thread is parked
//! per waiting writer. The log's own sync thread (one per durable tree, started by the
//! first async commit) leads the fsyncs, and every fsync completes all the commits it
//! covers at once, so thousands of tasks share each one.
//!
//! What may still block the polling thread, briefly: the commit lock while another
//! writer appends its frame (a `write` to the page cache, microseconds), and, while a
//! compaction starts, its cut of the log (one fsync). Compaction itself, manual or
//! automatic, runs on tokio's blocking pool.

#[cfg(feature = "tokio")]
pub use api::AsyncTree;

#[cfg(feature = "tokio")]
mod api {
    use std::future::Future;
    use std::pin::Pin;
    use std::task::{Context, Poll};
    use std::time::Duration;

    use crate::limits::MAX_ATTEMPTS;
    use crate::record::{check_key, Change, Changes};
    use crate::stats::Op;
    use crate::storage::Durable;
    use crate::tree::{Committed, State};
    use crate::{Batch, Error, Result, Tree, Txn};

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
        durable: &'a Durable,
        ticket: u64,
        id: u64,
    }

    impl Future for Durability<'_> {
        type Output = Result<()>;
        fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<()>> {
            self.durable.poll_wait(self.ticket, self.id, cx)
        }
    }

    impl AsyncTree {
        /// The tree behind this handle.
        pub fn tree(&self) -> &Tree {
            &self.tree
        }

        /// The async form of [`Tree::commit_with`]: logs and (except under `Always`)
        /// applies on the first poll, then waits for durability without a thread.
        async fn commit_with(
            &self,
            build: impl FnOnce(&State, u64) -> Result<Changes>,
        ) -> Result<Committed> {
            let durable = self.tree.inner.durable.as_ref();
            if let Some(d) = durable.filter(|d| d.waits()) {
                d.ensure_syncer()?;
            }
            let prepared = self.tree.prepare(build)?;
            if let (Some(d), Some(ticket)) = (durable, prepared.ticket) {
                // Registered before the first await: even a future dropped now has its
                // commit made durable and applied by the log's sync thread.
                let id = d.register(ticket);
                Durability {
                    durable: d,
                    ticket,
                    id,
                }
                .await?;
            }
            self.tree.after_commit(prepared, true);
            Ok(prepared.done)
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

        async fn stash_inner(&self, key: &str, value: &[u8], ttl: Option<Duration>) -> Result<u64> {
            let rec = self.tree.make_record(key, value, ttl)?;
            self.tree.tally(Op::Stash, 1);
            let changes: Changes = smallvec::smallvec![Change::Put(rec)];
            Ok(self.commit_with(|_, _| Ok(changes)).await?.version)
        }

        /// [`Tree::toss`] as a future: whether a visible nut was there.
        pub async fn toss(&self, key: impl AsRef<str>) -> Result<bool> {
            let key = key.as_ref();
            check_key(key)?;
            self.tree.tally(Op::Toss, 1);
            let changes: Changes = smallvec::smallvec![Change::Delete(key.as_bytes().into())];
            Ok(self.commit_with(|_, _| Ok(changes)).await?.removed == 1)
        }

        /// Commits `batch` (built with [`Tree::batch`] on this tree) atomically: the async
        /// form of [`Batch::commit`].
        pub async fn commit(&self, batch: Batch) -> Result<u64> {
            let (changes, puts, tosses) = batch.into_changes()?;
            let done = self.commit_with(|_, _| Ok(changes)).await?;
            self.tree.tally(Op::Batch, 1);
            self.tree.tally(Op::Stash, puts);
            self.tree.tally(Op::Toss, tosses);
            Ok(done.version)
        }

        /// [`Tree::transaction`] as a future: `f` runs synchronously (it reads and buffers;
        /// nothing in it waits), the commit waits for durability as a future, and a
        /// conflict yields to the runtime before `f` runs again.
        pub async fn transaction<R>(
            &self,
            mut f: impl FnMut(&mut Txn<'_>) -> Result<R>,
        ) -> Result<R> {
            for attempt in 0..MAX_ATTEMPTS {
                let (out, validate) = self.tree.txn_attempt(&mut f)?;
                match self.commit_with(validate).await {
                    Ok(_) => {
                        self.tree.tally(Op::Txn, 1);
                        return Ok(out);
                    }
                    Err(Error::Conflict) => {
                        self.tree.tally(Op::TxnRetry, 1);
                        if attempt < 4 {
                            tokio::task::yield_now().await;
                        } else {
                            tokio::time::sleep(Duration::from_micros(1 << attempt.min(10))).await;
                        }
                    }
                    Err(e) => return Err(e),
                }
            }
            Err(Error::Conflict)
        }

        /// [`Tree::purge_expired`] as a future.
        pub async fn purge_expired(&self) -> Result<usize> {
            let mut purged = 0;
            let purged_ref = &mut purged;
            self.commit_with(move |st, now| {
                let keys = st.expired_keys(now);
                *purged_ref = keys.len();
                Ok(keys.into_iter().map(Change::Delete).collect())
            })
            .await?;
            self.tree.tally(Op::Purged, purged as u64);
            Ok(purged)
        }

        /// Makes every write logged so far durable: waits, as a future, for an fsync led by
        /// the log's sync thread (at once when everything is durable already; a no-op in
        /// memory).
        pub async fn flush(&self) -> Result<()> {
            let Some(d) = &self.tree.inner.durable else {
                return Ok(());
            };
            d.ensure_syncer()?;
            let ticket = d.written();
            let id = d.register(ticket);
            Durability {
                durable: d,
                ticket,
                id,
            }
            .await
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
}
