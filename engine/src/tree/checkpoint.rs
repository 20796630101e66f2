//! Online checkpoints: [`Tree::checkpoint`] copies the tree into a directory of its own,
//! consistent at one version, while writers go on (`storage::checkpoint` makes the copy).

use std::path::Path;

use super::Tree;
use crate::storage;
use crate::Result;

impl Tree {
    /// Copies the tree into `dir` (created, or an existing empty directory; locked while the
    /// copy is made, so a second checkpoint into it or an open of it is refused) as a durable
    /// tree that opens, strictly, at exactly the version returned; writers go on
    /// meanwhile, and what they commit after that version is not in the copy.
    ///
    /// A durable tree's snapshot and sealed log segments are hard-linked into `dir` where
    /// the file system allows (they never change again), or copied; of the segment being
    /// written only the whole commits up to the version are copied. Writers wait only
    /// while the version is taken (after any `Always` commit still waiting for its fsync
    /// is durable); compactions wait for the copy (an automatic one is skipped and
    /// retried), so the files it names stay in place. The copy's files are fsynced before
    /// the call returns, under every [`crate::SyncPolicy`]: it is a backup. An in-memory or
    /// read-only tree is written as a snapshot of its state (its items are copied once).
    ///
    /// Errors: [`crate::Error::Io`] naming the file (`dir` not empty or locked, no space,
    /// ...): what the copy made so far is removed again, and the tree is untouched; a
    /// durable tree that refuses writes after a failed log write refuses this too.
    ///
    /// ```
    /// use acorn::Tree;
    /// let dir = tempfile::tempdir()?;
    /// let tree = Tree::open(dir.path().join("live"))?;
    /// tree.stash("k", b"v1")?;
    /// let version = tree.checkpoint(dir.path().join("backup"))?;
    /// tree.stash("k", b"v2")?;
    /// let copy = Tree::open(dir.path().join("backup"))?;
    /// assert_eq!(copy.stats().version, version);
    /// assert_eq!(copy.crack("k")?.unwrap().value, b"v1");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn checkpoint(&self, dir: impl AsRef<Path>) -> Result<u64> {
        self.checkpoint_into(dir.as_ref())
    }

    fn checkpoint_into(&self, to: &Path) -> Result<u64> {
        let Some(d) = &self.inner.durable else {
            let (index, version) = {
                let st = self.state();
                (st.index.clone(), st.applied)
            };
            storage::write_checkpoint(&index, version, to)?;
            return Ok(version);
        };
        // Held until the copy is made: no compaction replaces the snapshot or removes a
        // segment the copy names.
        let _no_compaction = d.compaction_guard(true);
        let (plan, version) = {
            let _serial = self.commit_lock();
            self.drain()?;
            let st = self.state();
            (d.checkpoint_plan()?, st.seq)
        };
        d.checkpoint(&plan, to)?;
        Ok(version)
    }
}
