use std::path::PathBuf;

/// Everything that can go wrong in `acorn`. Each message says what happened and what to do.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The operating system refused a read, write, fsync or rename. After a failed write or
    /// fsync the tree refuses further writes: reopen it to recover from what reached disk.
    #[error("I/O error: {0}")]
    Io(#[from] std::io::Error),

    /// A data file is damaged somewhere other than its final, incomplete frame.
    #[error(
        "{path}: corrupt data at byte offset {offset}: {reason}. Nothing was skipped; restore \
         from a backup, or open with RecoveryMode::Salvage to keep everything before the damage"
    )]
    Corrupt {
        path: PathBuf,
        offset: u64,
        reason: String,
    },

    /// Another `Tree` (in this or another process) has the directory open.
    #[error("{path} is locked by another open tree; close it first (one writer per directory)")]
    Locked { path: PathBuf },

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

    /// The closure of a transaction asked to roll back.
    #[error("transaction aborted: {0}")]
    Aborted(String),
}

/// `Result` with [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
