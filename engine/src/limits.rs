//! The size limits every write is checked against. A leaf module that depends on nothing,
//! so storage and the error type can name the limits without importing the tree.

/// Longest accepted key, in bytes. Longer keys fail with [`crate::Error::TooLarge`].
pub const MAX_KEY_LEN: usize = 4096;
/// Largest accepted value, in bytes. Larger values fail with [`crate::Error::TooLarge`].
pub const MAX_VALUE_LEN: usize = 16 << 20;
/// Largest batch or transaction, in key plus value bytes.
pub const MAX_BATCH_BYTES: usize = 256 << 20;
/// How many times a conflicting transaction runs before [`crate::Error::Conflict`].
pub const MAX_ATTEMPTS: u32 = 64;
/// The last commit version. A commit after it fails with [`crate::Error::VersionsExhausted`]
/// instead of wrapping; recovery rejects a logged version above it as impossible. (One below
/// `u64::MAX`, so the log segment after it can still be named.)
pub const MAX_VERSION: u64 = u64::MAX - 1;
