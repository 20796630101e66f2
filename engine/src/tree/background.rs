//! Work a tree runs on another thread with a handle of its own (the automatic compaction
//! an async write starts, an async `compact()`), and the wait for it when the tree closes.
//!
//! A tree closes, and unlocks its directory, when its last handle is dropped. A handle
//! held by such work would keep it open after the caller dropped every handle of theirs
//! (a reopen right after the drop would be refused as `Locked`), and the work must not
//! touch the directory once it is unlocked. So the drop of the last handle besides the
//! background's waits until the background work has ended and released its handle: when
//! that drop returns the tree is closed.
//!
//! Not waited for: a handle the tree's own machinery takes only for a moment from a weak
//! reference (the log's sync thread applying commits, a change stream or a subscriber
//! reading lost commits back: [`without_waiting`]; its drop never waits, so it can neither
//! stall that thread for a compaction nor deadlock a blocking pool of one thread), and
//! the rare case of the last two handles dropped at the same instant on two threads (each
//! can see the other still there). Then the tree closes when the background work ends.

use std::cell::Cell;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, PoisonError};

use super::Tree;

thread_local! {
    /// Set while this thread runs background work: its own handles never wait.
    static IN_BACKGROUND: Cell<bool> = const { Cell::new(false) };
}

/// How many handles background work holds on a tree (in `Inner`, in an `Arc` of its own so
/// that work can count itself out after its handle is gone).
#[derive(Debug, Default)]
pub(crate) struct Background {
    /// Read without the lock on every drop: 0 almost always.
    running: AtomicUsize,
    lock: Mutex<()>,
    ended: Condvar,
}

/// A handle held by background work: see the module comment. Create it on the thread
/// that starts the work (which holds a handle of its own), move it to the work's thread,
/// and call [`BackgroundTree::run`] there.
#[derive(Debug)]
#[cfg_attr(not(feature = "tokio"), allow(dead_code))]
pub(crate) struct BackgroundTree {
    tree: Option<Tree>,
}

#[cfg_attr(not(feature = "tokio"), allow(dead_code))]
impl BackgroundTree {
    pub(crate) fn new(tree: &Tree) -> BackgroundTree {
        let background = &tree.inner.background;
        let _held = background
            .lock
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        background.running.fetch_add(1, Ordering::AcqRel);
        BackgroundTree {
            tree: Some(tree.clone()),
        }
    }

    /// Runs `work` with the tree on this thread, then releases the handle.
    pub(crate) fn run<R>(mut self, work: impl FnOnce(&Tree) -> R) -> R {
        let _flag = InBackground::enter();
        let result = self.tree.as_ref().map(work);
        self.release();
        result.unwrap_or_else(|| unreachable!("a background handle runs once"))
    }

    /// Drops the handle and counts it out in one step under the lock (a closing drop
    /// never sees the handle gone but still counted, or the other way round), then wakes
    /// a closing drop: by the time that drop returns, its own handle is the tree's last.
    fn release(&mut self) {
        let Some(tree) = self.tree.take() else {
            return;
        };
        let background = Arc::clone(&tree.inner.background);
        let _held = background
            .lock
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        // Its own drop does not wait (nor take the lock): this thread is marked.
        without_waiting(|| drop(tree));
        background.running.fetch_sub(1, Ordering::AcqRel);
        background.ended.notify_all();
    }
}

/// Runs `f` (which drops a handle taken for a moment) with this thread marked, so that
/// no drop in it waits for background work (see the module comment).
pub(crate) fn without_waiting<R>(f: impl FnOnce() -> R) -> R {
    let _flag = InBackground::enter();
    f()
}

/// Marks this thread as running background work until dropped (also when the work
/// panics: a pool thread runs other tasks afterwards).
struct InBackground(bool);

impl InBackground {
    fn enter() -> InBackground {
        InBackground(IN_BACKGROUND.replace(true))
    }
}

impl Drop for InBackground {
    fn drop(&mut self) {
        IN_BACKGROUND.set(self.0);
    }
}

impl Drop for BackgroundTree {
    /// Work that never ran (its task was dropped, or it panicked) releases the handle too.
    fn drop(&mut self) {
        self.release();
    }
}

impl Drop for Tree {
    fn drop(&mut self) {
        let background = &self.inner.background;
        if background.running.load(Ordering::Acquire) == 0 || IN_BACKGROUND.get() {
            return;
        }
        let mut lock = background
            .lock
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        // Wait while every other strong reference is a background handle.
        loop {
            let running = background.running.load(Ordering::Acquire);
            if running == 0 || Arc::strong_count(&self.inner) - 1 != running {
                return;
            }
            lock = background
                .ended
                .wait(lock)
                .unwrap_or_else(PoisonError::into_inner);
        }
    }
}
