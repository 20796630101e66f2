//! `acorn`: an embedded document store.
//!
//! Stash (put), crack (get) and toss (delete) "nuts" — values with a version, a wall-clock
//! timestamp and an optional TTL — under string keys, with atomic batches, optimistic
//! transactions, queries and key-ordered snapshot iteration. In memory
//! ([`Tree::open_memory`]) or durable on disk ([`Tree::open`]).
//!
//! ```
//! use acorn::{Tree, Event};
//! # fn main() -> acorn::Result<()> {
//! let tree = Tree::open_memory();
//! let events = tree.subscribe();
//! let v1 = tree.stash("user-1", br#"{"name":"ada"}"#)?;
//! let nut = tree.crack("user-1")?.expect("just stashed");
//! assert_eq!(nut.value, br#"{"name":"ada"}"#);
//! assert_eq!(nut.version, v1);
//!
//! let mut batch = tree.batch();
//! batch.stash("user-2", b"{}").stash("user-3", b"{}").toss("user-1");
//! batch.commit()?;
//! let keys: Vec<String> = tree.prefix("user-").map(|n| n.key).collect();
//! assert_eq!(keys, ["user-2", "user-3"]);
//! assert_eq!(events.try_iter().count(), 4);
//! # Ok(()) }
//! ```
#![cfg_attr(not(test), warn(clippy::unwrap_used))]
#![deny(missing_docs)]
// `pub` means public API: an item only the crate uses is `pub(crate)` (the API itself is
// listed in engine/public-api.txt, checked by scripts/public-api).
#![warn(unreachable_pub)]

#[cfg(feature = "tokio")]
mod aio;
mod batch;
mod cache;
mod clock;
mod codec;
mod error;
mod events;
mod feed;
#[cfg(feature = "ffi")]
pub mod ffi;
mod index;
mod iter;
mod limits;
mod nut;
mod points;
mod query;
mod record;
mod secondary;
mod spares;
mod stats;
mod storage;
mod tree;
mod txn;

#[cfg(feature = "tokio")]
pub use aio::{AsyncTree, ChangeStream};
pub use batch::Batch;
pub use clock::{Clock, ManualClock, SystemClock};
pub use codec::{Binary, Codec, Json, Typed};
pub use error::{Error, Result};
pub use events::{Event, Subscription, DEFAULT_SUBSCRIBER_CAPACITY};
pub use feed::{Change, ChangeFeed};
pub use iter::Iter;
pub use limits::{MAX_ATTEMPTS, MAX_BATCH_BYTES, MAX_KEY_LEN, MAX_VALUE_LEN, MAX_VERSION};
pub use nut::{Key, Nut, NutRef, Value};
pub use query::{CacheUse, Explain, IndexQuery, Query};
pub use secondary::IndexKey;
pub use stats::{OpCounts, Stats};
#[cfg(feature = "fault-injection")]
#[doc(hidden)]
pub use storage::faults;
#[doc(hidden)]
pub use storage::fuzz_decode;
pub use storage::{Compression, RecoveryMode, SyncPolicy};
pub use tree::{Tree, TreeBuilder, DEFAULT_QUERY_CACHE};
pub use txn::Txn;

#[cfg(doctest)]
#[doc = include_str!("../../README.md")]
struct ReadmeDoctests;
