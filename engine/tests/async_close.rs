//! Closing a durable tree while work it started on another thread still runs: the
//! automatic compaction an async write starts, or an async `compact()` whose future was
//! dropped. The last handle's drop waits for that work, so the directory is unlocked (and
//! the snapshot whole) when the drop returns: a reopen right after it opens.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use acorn::faults::{Action, Call, FaultyIo};
use acorn::{AsyncTree, SyncPolicy, Tree};

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

/// A durable tree whose compactions announce themselves on the returned channel and then
/// wait at `door` before they create their snapshot file (not the open's first snapshot).
/// `automatic`: compactions start on a tiny log (else not in these tests).
fn held_tree(dir: &Path, door: &Arc<Door>, automatic: bool) -> (Tree, mpsc::Receiver<()>) {
    let (started, starts) = mpsc::channel();
    let started = Mutex::new(started);
    let door = Arc::clone(door);
    let armed = Arc::new(AtomicBool::new(false));
    let opened = Arc::clone(&armed);
    let io = FaultyIo::new(move |c| {
        if armed.load(Ordering::Acquire)
            && c.call == Call::Create
            && c.path.ends_with("snapshot.tmp")
        {
            let _ = started.lock().unwrap().send(());
            door.wait();
        }
        Action::Pass
    });
    let builder = Tree::builder()
        .path(dir)
        .sync(SyncPolicy::Never)
        .io(Arc::new(io));
    let builder = if automatic {
        builder.compact_min_bytes(1)
    } else {
        builder.compact_factor(0)
    };
    let tree = builder.open().unwrap();
    opened.store(true, Ordering::Release);
    (tree, starts)
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

/// Overwrites ten keys until a write's automatic compaction has started (and waits at the
/// door).
async fn write_until_a_compaction_starts(at: &AsyncTree, starts: &mpsc::Receiver<()>) {
    let mut i = 0u32;
    while starts.try_recv().is_err() {
        at.stash(format!("k{}", i % 10), i.to_le_bytes())
            .await
            .unwrap();
        i += 1;
        assert!(i < 100_000, "no automatic compaction started");
        tokio::task::yield_now().await;
    }
}

fn contents(tree: &Tree) -> Vec<(String, Vec<u8>)> {
    tree.iter()
        .map(|n| (n.key.to_string(), n.value.to_vec()))
        .collect()
}

#[test]
fn the_last_drop_waits_for_an_automatic_compaction_then_the_tree_reopens() {
    let dir = tempfile::tempdir().unwrap();
    let door = Arc::new(Door::default());
    let (tree, starts) = held_tree(dir.path(), &door, true);
    let at = tree.to_async();
    drop(tree);
    let rt = runtime();
    rt.block_on(async {
        write_until_a_compaction_starts(&at, &starts).await;
    });
    let written = contents(&at);
    let opener = door.open_after(Duration::from_millis(300));
    drop(at);
    // The compaction held its handle; the drop waited for it, so nothing holds the lock.
    let reopened = Tree::open(dir.path()).expect("the dropped tree's directory is unlocked");
    assert_eq!(contents(&reopened), written);
    assert!(
        dir.path().join("snapshot.acorn").exists(),
        "the compaction finished"
    );
    assert!(!dir.path().join("snapshot.tmp").exists());
    opener.join().unwrap();
    drop(rt);
}

#[test]
fn the_last_drop_waits_for_an_abandoned_async_compact_then_the_tree_reopens() {
    let dir = tempfile::tempdir().unwrap();
    let door = Arc::new(Door::default());
    let (tree, starts) = held_tree(dir.path(), &door, false);
    for i in 0..50u32 {
        tree.stash(format!("k{i:05}"), vec![b'v'; 64]).unwrap();
    }
    let at = tree.to_async();
    drop(tree);
    let rt = runtime();
    rt.block_on(async {
        // The caller gives up on the compaction (a timeout); it goes on, on the blocking pool.
        let gave_up = tokio::time::timeout(Duration::from_millis(50), at.compact()).await;
        assert!(gave_up.is_err(), "the compaction waits at the door");
    });
    starts
        .recv_timeout(Duration::from_secs(30))
        .expect("the compaction started");
    let opener = door.open_after(Duration::from_millis(300));
    drop(at);
    let reopened = Tree::open(dir.path()).expect("the dropped tree's directory is unlocked");
    assert_eq!(reopened.len(), 50);
    opener.join().unwrap();
    drop(rt);
}

/// Two pieces of background work at once: an automatic compaction held at the door and
/// an abandoned `compact()` queued behind it (compactions take turns). The last drop
/// waits for both: the directory is unlocked when it returns, with every write.
#[test]
fn the_last_drop_waits_for_every_background_compaction() {
    let dir = tempfile::tempdir().unwrap();
    let door = Arc::new(Door::default());
    let (tree, starts) = held_tree(dir.path(), &door, true);
    let at = tree.to_async();
    drop(tree);
    let rt = runtime();
    rt.block_on(async {
        write_until_a_compaction_starts(&at, &starts).await;
        let gave_up = tokio::time::timeout(Duration::from_millis(50), at.compact()).await;
        assert!(
            gave_up.is_err(),
            "the second compaction waits for the first"
        );
    });
    let written = contents(&at);
    let opener = door.open_after(Duration::from_millis(300));
    drop(at);
    let reopened = Tree::open(dir.path()).expect("the dropped tree's directory is unlocked");
    assert_eq!(contents(&reopened), written);
    assert!(!dir.path().join("snapshot.tmp").exists());
    opener.join().unwrap();
    drop(rt);
}
