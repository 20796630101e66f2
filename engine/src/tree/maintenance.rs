//! Work that keeps a tree in shape rather than changing what it holds: compaction
//! (manual, and the automatic one a commit asks for), the wait for every queued `Always`
//! commit that compaction and index building start with, and adding or dropping
//! secondary indexes.

use std::sync::atomic::Ordering;
use std::sync::{Arc, MutexGuard};

use super::write::Purge;
use super::{State, Tree};
use crate::nut::NutRef;
use crate::secondary::Extract;
use crate::{Error, Result};

/// Where the automatic compaction a commit asks for runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Compaction {
    /// On the writer's thread, before its call returns (the blocking API).
    Inline,
    /// On tokio's blocking pool, or on a thread of its own outside a runtime (the async
    /// API: a future must not block its runtime thread for a snapshot).
    #[cfg(feature = "tokio")]
    Background,
}

/// Runs `f` on tokio's blocking pool when called inside a runtime, else on a new thread.
#[cfg(feature = "tokio")]
fn spawn_blocking(f: impl FnOnce() + Send + 'static) {
    match tokio::runtime::Handle::try_current() {
        Ok(handle) => drop(handle.spawn_blocking(f)),
        Err(_) => drop(
            std::thread::Builder::new()
                .name("acorn-compact".into())
                .spawn(f),
        ),
    }
}

/// Index names must be non-empty.
pub(super) fn check_index_name(name: &str) -> Result<()> {
    if name.is_empty() {
        return Err(Error::InvalidKey("an index name must not be empty".into()));
    }
    Ok(())
}

/// Wraps a user's extractor: its key bytes go into the caller's reused buffer.
pub(super) fn erase<K: AsRef<[u8]>>(
    extract: impl Fn(&NutRef<'_>) -> Option<K> + Send + Sync + 'static,
) -> Extract {
    Arc::new(
        move |nut: &NutRef<'_>, out: &mut Vec<u8>| match extract(nut) {
            Some(k) => {
                out.extend_from_slice(k.as_ref());
                true
            }
            None => false,
        },
    )
}

impl Tree {
    /// Removes every nut whose TTL ran out (a commit of its own, as
    /// [`Tree::purge_expired`]: the change feed and subscribers hear of each as expired),
    /// then writes the live state to a new snapshot and drops the log it covers. In memory
    /// only the purge happens. Recovery then reads the snapshot plus only the log written
    /// since. A read-only tree refuses with [`Error::ReadOnly`].
    pub fn compact(&self) -> Result<()> {
        self.compact_inner(true)
    }

    fn compact_inner(&self, wait: bool) -> Result<()> {
        self.check_writable()?;
        let Some(d) = &self.inner.durable else {
            self.purge_before_compaction()?;
            return Ok(());
        };
        let Some(_guard) = d.compaction_guard(wait) else {
            return Ok(()); // an automatic compaction while another runs: skip it
        };
        // Expired nuts go first, by a commit (their removal has a version, in the feed);
        // the snapshot then holds none of them. (The purge's own automatic compaction finds
        // this one running and is skipped.)
        self.purge_before_compaction()?;
        // Writers wait only while the log is cut and the index copied (one `Arc` clone);
        // the snapshot file is then written from that frozen copy without any lock.
        let (index, seq) = {
            let _serial = self.commit_lock();
            self.drain()?;
            let st = self.state();
            d.begin_compaction(st.seq)?;
            (st.index.clone(), st.seq)
        };
        d.finish_compaction(&index, seq)
    }

    /// The purge a compaction starts with, when any nut has a TTL.
    fn purge_before_compaction(&self) -> Result<()> {
        if self.inner.ttl_items.load(Ordering::Acquire) > 0 {
            self.run(Purge)?;
        }
        Ok(())
    }

    /// Runs the automatic compaction a commit asked for, once the commit is durable. The
    /// commit is durable by now: a failed automatic compaction must not turn it into an
    /// error (a caller would retry a write that happened). The log still holds everything;
    /// the failure is counted in stats, and a disk fault poisons the log, so the next write
    /// reports it.
    pub(super) fn compact_after_commit(&self, compaction: Compaction) {
        let run = |tree: &Tree| {
            if tree.compact_inner(false).is_err() {
                if let Some(d) = &tree.inner.durable {
                    d.note_failed_compaction();
                }
            }
        };
        match compaction {
            #[cfg(feature = "tokio")]
            Compaction::Background => {
                // The tree's last drop waits for this handle (see `background.rs`).
                let tree = super::BackgroundTree::new(self);
                spawn_blocking(move || tree.run(run));
            }
            Compaction::Inline => run(self),
        }
    }

    /// Waits (commit lock held) until every pending `Always` commit is applied, so the
    /// state holds every logged version.
    pub(super) fn drain(&self) -> Result<()> {
        let Some(d) = &self.inner.durable else {
            return Ok(());
        };
        let last = self.state().pending.back().map(|p| p.ticket);
        if let Some(ticket) = last {
            d.wait(ticket)?;
        }
        Ok(())
    }

    /// Adds (or replaces) the secondary index `name`, built now from the tree's items and
    /// kept in step by every later commit, inside that commit: a batch or transaction
    /// changes its index entries atomically with its items.
    ///
    /// `extract` gives a nut's index key, or `None` to leave the nut out; keys compare as
    /// bytes ([`crate::IndexKey`] encodes numbers so). It must be a pure function of the
    /// nut (same nut, same key): it runs again on a nut's old version when the nut is
    /// overwritten or tossed (an impure one still never leaves an entry behind, but costs a
    /// walk of the index on such a write). It runs while a commit holds the tree's state
    /// lock, the one place user code does: keep it quick and do not call back into the
    /// tree from it. Takes every writer's turn while it builds; a durable tree must be
    /// given its indexes again on each open (better: [`crate::TreeBuilder::index`]).
    ///
    /// A panic in `extract` fails only the call that ran it, with
    /// [`Error::ExtractorPanicked`] naming the index and the nut: here the index is not
    /// added (one of the same name stays as it was); in a commit (on the nut it writes,
    /// before anything is logged) that commit changes nothing. The tree stays fully usable.
    pub fn index<K: AsRef<[u8]>>(
        &self,
        name: impl Into<String>,
        extract: impl Fn(&NutRef<'_>) -> Option<K> + Send + Sync + 'static,
    ) -> Result<()> {
        let name = name.into();
        check_index_name(&name)?;
        let extract = erase(extract);
        let _serial = self.commit_lock();
        self.drain()?;
        let mut st = self.state();
        st.add_index(&name, extract)?;
        self.indexes_changed(st);
        Ok(())
    }

    /// Removes the secondary index `name`; whether there was one.
    pub fn drop_index(&self, name: &str) -> bool {
        let mut st = self.state();
        let dropped = st.indexes.remove(name);
        if dropped {
            self.indexes_changed(st);
        }
        dropped
    }

    /// Publishes the indexes' new generation (under the state lock, where it changed), then
    /// drops every cached result: one computed on an index now replaced or dropped is
    /// stored by no query after this (see `crate::cache`).
    fn indexes_changed(&self, st: MutexGuard<'_, State>) {
        self.inner
            .index_generation
            .store(st.indexes.generation, Ordering::SeqCst);
        drop(st);
        self.inner.cache.clear();
    }

    /// The names of the tree's secondary indexes.
    pub fn index_names(&self) -> Vec<String> {
        self.state().indexes.names()
    }
}
