//! The durable trees the integration tests open again and again, each named by what it is
//! for: one place for the builder calls they would otherwise each repeat.
#![allow(dead_code, clippy::unwrap_used)]

use std::path::Path;
use std::time::Duration;

use acorn::{SyncPolicy, Tree};

/// A durable tree at `dir` under `policy`, every other setting its default.
pub fn durable(dir: &Path, policy: SyncPolicy) -> Tree {
    Tree::builder().path(dir).sync(policy).open().unwrap()
}

/// A durable tree that leaves fsync to the OS, hands each commit to the OS as it is logged
/// (no buffer: tests read and damage the files it writes) and never compacts by itself.
pub fn never_unbuffered(dir: &Path) -> Tree {
    Tree::builder()
        .path(dir)
        .sync(SyncPolicy::Never)
        .log_buffer(0, Duration::ZERO)
        .compact_factor(0)
        .open()
        .unwrap()
}

/// A tree under `Never` whose log buffer holds up to `bytes` of commits for at most
/// `delay`.
pub fn never_buffered(dir: &Path, bytes: usize, delay: Duration) -> Tree {
    Tree::builder()
        .path(dir)
        .sync(SyncPolicy::Never)
        .log_buffer(bytes, delay)
        .open()
        .unwrap()
}
