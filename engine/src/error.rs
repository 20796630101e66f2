//! [`Error`], the one error type of the engine's API, and its [`Result`] alias.

use std::path::PathBuf;

/// Everything that can go wrong in `acorn`. Each message says what happened and what to do.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The operating system refused a read, write, fsync or rename. After a failed write or
    /// fsync the tree refuses further writes: reopen it to recover from what reached disk.
    #[error("I/O error: {0}")]
    Io(#[from] std::io::Error),

    /// A data file is damaged somewhere other than its final, incomplete frame, or a file
    /// the chain of versions needs is missing (`reason` names the missing versions). Nothing
    /// in the directory was changed.
    #[error(
        "{path}: corrupt data at byte offset {offset}: {reason}. Nothing was skipped or \
         changed; put the missing or damaged file back from a backup, or save a copy of the \
         directory and open it with RecoveryMode::Salvage to keep every commit that can be read"
    )]
    Corrupt {
        /// The damaged file, or the file the chain of versions names but cannot find.
        path: PathBuf,
        /// Byte offset of the damage in `path` (0 for a missing file).
        offset: u64,
        /// What is wrong, including the missing version range where there is one.
        reason: String,
    },

    /// A data file was written in an on-disk format this build does not read.
    #[error(
        "{path}: written in acorn's on-disk format {found}, but this build reads formats 2 to \
         {supported} only; nothing was changed. Open the directory with the acorn release that \
         wrote it and copy its items into a new directory"
    )]
    UnsupportedFormat {
        /// The file whose header names the format.
        path: PathBuf,
        /// The format it was written in.
        found: u32,
        /// The format this build writes (the newest it reads).
        supported: u32,
    },

    /// The tree's version reached [`crate::MAX_VERSION`]: no commit can follow it.
    #[error(
        "the tree is at version {version}, the last one there is; no further commit is \
         possible. Copy the items into a new tree"
    )]
    VersionsExhausted {
        /// The tree's current (last possible) version.
        version: u64,
    },

    /// Another `Tree` (in this or another process) has the directory open.
    #[error("{path} is locked by another open tree; close it first (one writer per directory)")]
    Locked {
        /// The directory that is locked.
        path: PathBuf,
    },

    /// A transaction kept conflicting with concurrent writers and ran out of retries.
    #[error(
        "transaction conflicted with concurrent writes on every one of its {} attempts; \
         retry later or reduce contention on the keys it reads",
        crate::limits::MAX_ATTEMPTS
    )]
    Conflict,

    /// The key is empty or not valid UTF-8.
    #[error("invalid key: {0}")]
    InvalidKey(String),

    /// A key, value or batch is over its documented maximum.
    #[error("too large: {0}")]
    TooLarge(String),

    /// A typed value could not be encoded or decoded.
    #[error("codec error: {0}")]
    Codec(String),

    /// A query named a secondary index the tree does not have.
    #[error("no index named {name:?}; the tree's indexes: {known}. Add it with Tree::index or TreeBuilder::index (durable trees need it on every open)")]
    UnknownIndex {
        /// The index the query named.
        name: String,
        /// The tree's indexes, comma separated (`none` when it has none).
        known: String,
    },

    /// A secondary index's extractor panicked on a nut. The call that ran it changed
    /// nothing: a commit (stash, toss, batch, transaction) fails before anything is logged
    /// or applied, [`crate::Tree::index`] keeps the tree's indexes as they were, and an
    /// open that rebuilds the index ([`crate::TreeBuilder::index`]) fails and leaves the
    /// directory as it was. The tree stays fully usable.
    #[error(
        "the extractor of index {index:?} panicked on the nut under {key:?} ({message}); the \
         commit, index creation or open that ran it changed nothing. An extractor must \
         return a key or None for every nut the tree may hold: fix it (a durable tree opens \
         without the index meanwhile)"
    )]
    ExtractorPanicked {
        /// The index whose extractor panicked.
        index: String,
        /// The key of the nut it panicked on (lossy UTF-8).
        key: String,
        /// The panic's message.
        message: String,
    },

    /// The closure of a transaction asked to roll back.
    #[error("transaction aborted: {0}")]
    Aborted(String),
}

/// `Result` with [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
