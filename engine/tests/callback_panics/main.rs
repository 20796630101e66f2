//! Panics in user callbacks (issue 25): secondary index extractors, query filters and
//! `order_by` keys, `crack_with` and `next_ref` closures, transaction closures and threads
//! consuming a `Subscription`, in memory and under every `SyncPolicy`, blocking and async.
//!
//! What must hold whatever a callback does: its own call fails (an extractor's commit, index
//! creation or open returns `Error::ExtractorPanicked` naming the index, having changed
//! nothing) or the panic reaches the caller who passed the closure (the Rust convention);
//! no other caller hangs or fails, index and data never disagree, every later write, read
//! and query works, and a reopen neither panics nor holds anything unacknowledged.
//!
//! One module per kind of callback: [`extractors`] (commits, index creation, reopen, an
//! impure one), [`writers`] (blocking and async writers beside a panicking extractor),
//! [`closures`] (read and transaction closures, a `Subscription` consumer); the shared
//! places, modes and checks are here.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod closures;
mod extractors;
mod writers;

use std::collections::BTreeMap;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::mpsc;
use std::sync::Once;
use std::time::Duration;

use acorn::{Error, NutRef, SyncPolicy, Tree, TreeBuilder};
use tempfile::TempDir;

/// What a deliberate panic says; the panic hook keeps these out of the test output.
const DELIBERATE: &str = "deliberate panic in a user callback";

/// Every panic message but the deliberate ones still reaches stderr.
fn quiet_deliberate_panics() {
    static HOOK: Once = Once::new();
    HOOK.call_once(|| {
        let default = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            let text = info
                .payload()
                .downcast_ref::<&str>()
                .map(ToString::to_string)
                .or_else(|| info.payload().downcast_ref::<String>().cloned())
                .unwrap_or_default();
            if !text.contains(DELIBERATE) {
                default(info);
            }
        }));
    });
}

/// How long anything here may take before the test calls it a hang.
const DEADLINE: Duration = Duration::from_secs(30);

/// Runs `f` on its own thread; fails the test if it panics or does not finish in time.
fn within<R: Send + 'static>(what: &str, f: impl FnOnce() -> R + Send + 'static) -> R {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let out = catch_unwind(AssertUnwindSafe(f));
        let _ = tx.send(out);
    });
    match rx.recv_timeout(DEADLINE) {
        Ok(Ok(out)) => out,
        Ok(Err(_)) => panic!("{what}: panicked"),
        Err(_) => panic!("{what}: still running after {DEADLINE:?} (hung)"),
    }
}

#[path = "../common/runtime.rs"]
mod tokio_runtime;

/// A tokio runtime with two worker threads.
fn runtime() -> tokio::runtime::Runtime {
    tokio_runtime::multi(2)
}

/// Where a tree lives: in memory, or durable under one policy.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Mode {
    Memory,
    Always,
    Group,
    Never,
}

const MODES: [Mode; 4] = [Mode::Memory, Mode::Always, Mode::Group, Mode::Never];

/// A place for a tree: its mode and, when durable, its directory (kept across reopens).
struct Place {
    mode: Mode,
    dir: Option<TempDir>,
}

impl Place {
    fn new(mode: Mode) -> Place {
        let dir = (mode != Mode::Memory).then(|| tempfile::tempdir().unwrap());
        Place { mode, dir }
    }

    fn builder(&self) -> TreeBuilder {
        let policy = match self.mode {
            Mode::Memory | Mode::Always => SyncPolicy::Always,
            Mode::Group => SyncPolicy::Group {
                max_delay: Duration::from_millis(1),
            },
            Mode::Never => SyncPolicy::Never,
        };
        let b = Tree::builder().sync(policy);
        match &self.dir {
            Some(d) => b.path(d.path()),
            None => b,
        }
    }

    /// Opens the tree with the `by_value` index kept by [`picky`].
    fn open(&self) -> Tree {
        self.open_with(picky)
    }

    /// Opens the tree with the `by_value` index kept by `extract`.
    fn open_with(
        &self,
        extract: impl Fn(&NutRef<'_>) -> Option<Vec<u8>> + Send + Sync + 'static,
    ) -> Tree {
        self.builder().index("by_value", extract).open().unwrap()
    }

    /// Reopens a durable tree (with `picky`'s index) and checks it holds exactly `model`,
    /// in its items and in its index; a tree in memory has nothing to reopen.
    fn reopen_holds(&self, tree: Tree, model: &BTreeMap<String, String>) {
        drop(tree);
        if self.dir.is_some() {
            let tree = self.open();
            assert_holds(&tree, model, self.mode);
        }
    }
}

/// Indexes a nut by its value, and panics on the value `boom`.
fn picky(n: &NutRef<'_>) -> Option<Vec<u8>> {
    assert!(n.value != b"boom", "{DELIBERATE}: extractor");
    Some(n.value.to_vec())
}

/// Items, index and point reads all agree with `model`.
fn assert_holds(tree: &Tree, model: &BTreeMap<String, String>, mode: Mode) {
    let items: BTreeMap<String, String> = tree
        .iter()
        .map(|n| {
            (
                n.key.to_string(),
                String::from_utf8(n.value.to_vec()).unwrap(),
            )
        })
        .collect();
    assert_eq!(&items, model, "{mode:?}: items");
    for (k, v) in model {
        assert_eq!(&*tree.crack(k).unwrap().unwrap().value, v.as_bytes());
        // Each value is unique here, so the index finds exactly its key.
        let hits: Vec<String> = tree
            .query()
            .index("by_value")
            .eq(v)
            .collect()
            .unwrap()
            .into_iter()
            .map(|n| n.key.to_string())
            .collect();
        assert_eq!(
            hits,
            std::slice::from_ref(k),
            "{mode:?}: index entry of {k}"
        );
    }
    let indexed = tree.query().index("by_value").all().count().unwrap();
    assert_eq!(indexed, model.len(), "{mode:?}: index entries");
    assert_eq!(tree.len(), model.len(), "{mode:?}: len");
}

fn assert_extractor_panicked<T: std::fmt::Debug>(r: acorn::Result<T>, key: &str) {
    match r {
        Err(Error::ExtractorPanicked {
            index,
            key: k,
            message,
        }) => {
            assert_eq!(index, "by_value");
            assert_eq!(k, key);
            assert!(message.contains(DELIBERATE), "{message}");
        }
        other => panic!("expected ExtractorPanicked on {key}, got {other:?}"),
    }
}

impl Place {
    fn open_result(&self) -> acorn::Result<Tree> {
        self.builder().index("by_value", picky).open()
    }
}
