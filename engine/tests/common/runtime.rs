//! The tokio runtimes the async integration tests run on: one place for the builder calls
//! they would otherwise each repeat.
#![allow(dead_code, clippy::unwrap_used)]

/// A multi-thread runtime with `threads` workers, timers on.
pub fn multi(threads: usize) -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(threads)
        .enable_all()
        .build()
        .unwrap()
}

/// A current-thread runtime, timers on.
pub fn single() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}
