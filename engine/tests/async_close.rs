//! Closing a durable tree while work it started on another thread still runs: the
//! automatic compaction an async write starts, or an async `compact()` whose future was
//! dropped. The last handle's drop waits for that work, so the directory is unlocked (and
//! the snapshot whole) when the drop returns: a reopen right after it opens.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use acorn::faults::{Action, Call, FaultyIo};
use acorn::{AsyncTree, SyncPolicy, Tree};

#[path = "common/runtime.rs"]
mod runtime;

/// A door the test opens: the `FaultyIo` below holds the snapshot's creation at it.
#[derive(Default)]
struct Door {
    open: Mutex<bool>,
    opened: Condvar,
}

impl Door {
    fn wait(&self) {
        let deadline = Instant::now() + Duration::from_secs(30);
        let mut open = self.open.lock().unwrap();
        while !*open && Instant::now() < deadline {
            open = self
                .opened
                .wait_timeout(open, Duration::from_millis(50))
                .unwrap()
                .0;
        }
    }

    fn open_after(self: &Arc<Self>, delay: Duration) -> std::thread::JoinHandle<()> {
        let door = Arc::clone(self);
        std::thread::spawn(move || {
            std::thread::sleep(delay);
            *door.open.lock().unwrap() = true;
            door.opened.notify_all();
        })
    }
}

/// A durable tree whose compactions announce themselves on `starts` and then wait at
/// `door` before they create their snapshot file (not the open's first snapshot), held
/// only through `at`, with the runtime its async calls run on.
struct Held {
    dir: tempfile::TempDir,
    door: Arc<Door>,
    at: AsyncTree,
    starts: mpsc::Receiver<()>,
    rt: tokio::runtime::Runtime,
}

/// `automatic`: compactions start on a tiny log (else not in these tests).
fn held(automatic: bool) -> Held {
    let dir = tempfile::tempdir().unwrap();
    let door = Arc::new(Door::default());
    let (started, starts) = mpsc::channel();
    let started = Mutex::new(started);
    let at_door = Arc::clone(&door);
    let armed = Arc::new(AtomicBool::new(false));
    let opened = Arc::clone(&armed);
    let io = FaultyIo::new(move |c| {
        if armed.load(Ordering::Acquire)
            && c.call == Call::Create
            && c.path.ends_with("snapshot.tmp")
        {
            let _ = started.lock().unwrap().send(());
            at_door.wait();
        }
        Action::Pass
    });
    let builder = Tree::builder()
        .path(dir.path())
        .sync(SyncPolicy::Never)
        .io(Arc::new(io));
    let builder = if automatic {
        builder.compact_min_bytes(1)
    } else {
        builder.compact_factor(0)
    };
    let tree = builder.open().unwrap();
    opened.store(true, Ordering::Release);
    Held {
        dir,
        door,
        at: tree.to_async(),
        starts,
        rt: runtime::multi(2),
    }
}

impl Held {
    /// Overwrites ten keys until a write's automatic compaction has started (and waits
    /// at the door).
    fn write_until_a_compaction_starts(&self) {
        self.rt.block_on(async {
            let mut i = 0u32;
            while self.starts.try_recv().is_err() {
                self.at
                    .stash(format!("k{}", i % 10), i.to_le_bytes())
                    .await
                    .unwrap();
                i += 1;
                assert!(i < 100_000, "no automatic compaction started");
                tokio::task::yield_now().await;
            }
        });
    }

    /// Starts an async `compact()` and gives up on it (a timeout) while it waits: it goes
    /// on, on the blocking pool.
    fn abandon_a_compaction(&self, why: &str) {
        self.rt.block_on(async {
            let gave_up = tokio::time::timeout(Duration::from_millis(50), self.at.compact()).await;
            assert!(gave_up.is_err(), "{why}");
        });
    }

    /// Opens the door 300 ms from now and drops the tree's last handle at once, then opens
    /// the directory again: the drop must have waited for the background work, else the
    /// directory is still locked. Returns the reopened tree and the directory.
    fn close_and_reopen(self) -> (Tree, tempfile::TempDir) {
        let Held {
            dir, door, at, rt, ..
        } = self;
        let opener = door.open_after(Duration::from_millis(300));
        drop(at);
        let reopened = Tree::open(dir.path()).expect("the dropped tree's directory is unlocked");
        opener.join().unwrap();
        drop(rt);
        (reopened, dir)
    }
}

fn contents(tree: &Tree) -> Vec<(String, Vec<u8>)> {
    tree.iter()
        .map(|n| (n.key.to_string(), n.value.to_vec()))
        .collect()
}

#[test]
fn the_last_drop_waits_for_an_automatic_compaction_then_the_tree_reopens() {
    let held = held(true);
    held.write_until_a_compaction_starts();
    let written = contents(&held.at);
    let (reopened, dir) = held.close_and_reopen();
    assert_eq!(contents(&reopened), written);
    assert!(
        dir.path().join("snapshot.acorn").exists(),
        "the compaction finished"
    );
    assert!(!dir.path().join("snapshot.tmp").exists());
}

#[test]
fn the_last_drop_waits_for_an_abandoned_async_compact_then_the_tree_reopens() {
    let held = held(false);
    for i in 0..50u32 {
        held.at
            .tree()
            .stash(format!("k{i:05}"), vec![b'v'; 64])
            .unwrap();
    }
    held.abandon_a_compaction("the compaction waits at the door");
    held.starts
        .recv_timeout(Duration::from_secs(30))
        .expect("the compaction started");
    let (reopened, _dir) = held.close_and_reopen();
    assert_eq!(reopened.len(), 50);
}

/// Two pieces of background work at once: an automatic compaction held at the door and
/// an abandoned `compact()` queued behind it (compactions take turns). The last drop
/// waits for both: the directory is unlocked when it returns, with every write.
#[test]
fn the_last_drop_waits_for_every_background_compaction() {
    let held = held(true);
    held.write_until_a_compaction_starts();
    held.abandon_a_compaction("the second compaction waits for the first");
    let written = contents(&held.at);
    let (reopened, dir) = held.close_and_reopen();
    assert_eq!(contents(&reopened), written);
    assert!(!dir.path().join("snapshot.tmp").exists());
}
