//! Durable mode, behind a seam: the tree hands each commit to [`Durable`] under its write
//! lock and waits for durability after releasing it. The in-memory index never knows
//! whether a log exists.

use std::path::Path;
use std::time::Duration;

use crate::index::Index;
use crate::record::Record;
use crate::stats::Stats;
use crate::tree::Change;
use crate::{Error, Result};

/// When a durable write is acknowledged.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum SyncPolicy {
    /// fsync before `stash`/`commit` returns. Nothing acknowledged is ever lost.
    #[default]
    Always,
    /// Group commit: concurrent writers share one fsync, issued at most `max_delay` after
    /// the first of them; each call still returns only once its frame is durable.
    Group { max_delay: Duration },
    /// Never fsync on the write path; the OS writes back when it likes. Survives a process
    /// crash, but a power loss loses recent writes. `flush()` makes them durable.
    Never,
}

/// What opening does when a data file is damaged before its final frame.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum RecoveryMode {
    /// Refuse to open with [`Error::Corrupt`] naming the file and offset (the default).
    #[default]
    Strict,
    /// Keep everything before the first damaged frame and drop the rest of the log. Opt in
    /// only after saving a copy of the directory: dropped writes are gone.
    Salvage,
}

#[derive(Clone, Debug)]
pub(crate) struct Options {
    pub(crate) sync: SyncPolicy,
    pub(crate) recovery: RecoveryMode,
    pub(crate) compact_factor: u32,
    pub(crate) cache_capacity: usize,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            sync: SyncPolicy::Always,
            recovery: RecoveryMode::Strict,
            compact_factor: 4,
            cache_capacity: 10_000,
        }
    }
}

/// What recovery found on open.
#[derive(Debug, Default)]
pub(crate) struct Recovered {
    pub(crate) records: Vec<Record>,
    pub(crate) seq: u64,
}

#[derive(Debug)]
pub(crate) struct Durable {}

impl Durable {
    pub(crate) fn open(path: &Path, _options: Options) -> Result<(Durable, Recovered)> {
        Err(Error::Io(std::io::Error::new(
            std::io::ErrorKind::Unsupported,
            format!("{}: durable mode is not built yet", path.display()),
        )))
    }

    pub(crate) fn append(&self, _version: u64, _changes: &[Change]) -> Result<u64> {
        Ok(0)
    }

    pub(crate) fn wait(&self, _ticket: u64) -> Result<()> {
        Ok(())
    }

    pub(crate) fn wants_compaction(&self, _live_bytes: u64) -> bool {
        false
    }

    pub(crate) fn fill_stats(&self, _stats: &mut Stats) {}

    pub(crate) fn flush(&self) -> Result<()> {
        Ok(())
    }

    pub(crate) fn begin_compaction(&self, _seq: u64) -> Result<()> {
        Ok(())
    }

    pub(crate) fn finish_compaction(
        &self,
        _index: &Index<Record>,
        _seq: u64,
        _now: u64,
    ) -> Result<()> {
        Ok(())
    }
}
