//! "Power loss or OS crash: `Always` (the default) and `Group` keep every acknowledged
//! write: a call (or an `AsyncTree` future) returns only after its fsync; concurrent
//! writers share fsyncs. Under `Always` nobody sees a commit before its fsync. Under
//! `Group` another thread may already have *read* a commit that is not yet durable and
//! then lost. `Never` may lose writes made since the last `flush()`..."
//!
//! A power loss is `FaultyIo::lose_unsynced`: the machine halts (every later call fails)
//! and every file is cut back to its length at its last fsync.

use std::collections::BTreeSet;
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use acorn::faults::{Action, Call, FaultyIo};
use acorn::{SyncPolicy, Tree};

use crate::support::*;

fn group() -> SyncPolicy {
    SyncPolicy::Group {
        max_delay: Duration::from_millis(1),
    }
}

/// Writers on three threads (and compactions on a fourth) until the power goes, in the
/// middle of a write (the `n`-th); a strict reopen then holds every write that was
/// acknowledged.
#[test]
fn acknowledged_writes_survive_a_power_loss_under_always_and_group() {
    let mut lost_in_all = 0;
    for policy in [SyncPolicy::Always, group()] {
        for round in 0..4u64 {
            let dir = tempfile::tempdir().unwrap();
            let io = Arc::new(
                FaultyIo::on_nth(Call::Write, 150 + 97 * round, Action::Halt).without_fsync(),
            );
            let tree = Tree::builder()
                .path(dir.path())
                .sync(policy)
                .io(Arc::clone(&io))
                .open()
                .unwrap();
            let acked = Mutex::new(BTreeSet::new());
            let lost = std::thread::scope(|s| {
                for t in 0..3 {
                    let (tree, acked) = (&tree, &acked);
                    s.spawn(move || {
                        for i in 0u64.. {
                            let key = format!("t{t}-{i:06}");
                            if tree.stash(&key, b"v").is_err() {
                                return;
                            }
                            acked.lock().unwrap().insert(key);
                        }
                    });
                }
                let tree = &tree;
                s.spawn(move || while tree.compact().is_ok() {});
                let deadline = std::time::Instant::now() + Duration::from_secs(30);
                while !io.halted() {
                    assert!(std::time::Instant::now() < deadline, "the power never went");
                    std::thread::sleep(Duration::from_millis(1));
                }
                io.lose_unsynced().unwrap()
            });
            drop(tree);
            lost_in_all += lost;
            let acked = acked.into_inner().unwrap();
            assert!(!acked.is_empty());
            let tree = Tree::open(dir.path())
                .unwrap_or_else(|e| panic!("{policy:?}: no strict open after a power loss: {e}"));
            let held: BTreeSet<String> = tree.iter().map(|n| n.key.to_string()).collect();
            let missing: Vec<_> = acked.difference(&held).collect();
            assert!(
                missing.is_empty(),
                "{policy:?}: {} acknowledged writes lost (of {}; {lost} unsynced bytes cut), \
                 first {:?}",
                missing.len(),
                acked.len(),
                missing.first()
            );
        }
    }
    // The write the power cut took half of was never fsynced.
    assert!(lost_in_all > 0, "no power loss cut anything");
}

/// `Never` loses what was written since the last `flush()`, only at the end of the log: a
/// strict reopen holds everything flushed and a prefix of the rest. With no buffer the
/// OS held the later writes and the power cut takes them; with the default buffer they
/// were still waiting in the process (the halted machine fails their write at drop).
#[test]
fn never_loses_only_the_writes_since_the_last_flush() {
    for buffer in [0, 64 << 10] {
        let dir = tempfile::tempdir().unwrap();
        let io = Arc::new(FaultyIo::counting().without_fsync());
        let tree = Tree::builder()
            .path(dir.path())
            .sync(SyncPolicy::Never)
            .log_buffer(buffer, Duration::from_secs(3600))
            .io(Arc::clone(&io))
            .open()
            .unwrap();
        stash_versions(&tree, 1..=100);
        tree.flush().unwrap();
        stash_versions(&tree, 101..=200);
        let cut = io.lose_unsynced().unwrap();
        assert_eq!(cut > 0, buffer == 0, "buffer {buffer}: {cut} bytes cut");
        drop(tree);
        let tree = Tree::open(dir.path()).unwrap();
        let held = versions_held(&tree);
        assert!(
            held.iter().copied().eq(1..=held.len() as u64),
            "not a prefix"
        );
        assert_eq!(held.len(), 100, "only the flushed writes are on disk");
    }
}

/// Under `Always` a commit is invisible while its fsync is under way; under `Group` a
/// reader may see it before (the line says so).
#[test]
fn only_group_shows_a_commit_before_its_fsync() {
    for (policy, visible) in [(SyncPolicy::Always, false), (group(), true)] {
        let dir = tempfile::tempdir().unwrap();
        // The first fsync of a segment after `armed` waits until `release` says go.
        let armed = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let (entered_tx, entered) = mpsc::channel::<()>();
        let (release, gate) = mpsc::channel::<()>();
        let gate = Mutex::new(gate);
        let entered_tx = Mutex::new(entered_tx);
        let plan_armed = Arc::clone(&armed);
        let io = FaultyIo::new(move |c| {
            let segment = c.path.to_string_lossy().contains("wal-");
            if c.call == Call::Sync
                && segment
                && plan_armed.swap(false, std::sync::atomic::Ordering::SeqCst)
            {
                entered_tx.lock().unwrap().send(()).unwrap();
                gate.lock().unwrap().recv().unwrap();
            }
            Action::Pass
        })
        .without_fsync();
        let tree = Tree::builder()
            .path(dir.path())
            .sync(policy)
            .io(Arc::new(io))
            .open()
            .unwrap();
        armed.store(true, std::sync::atomic::Ordering::SeqCst);
        std::thread::scope(|s| {
            let writer = s.spawn(|| tree.stash("k", b"v").unwrap());
            entered.recv().unwrap();
            assert_eq!(
                tree.contains("k"),
                visible,
                "{policy:?}: visibility while the fsync is under way"
            );
            release.send(()).unwrap();
            writer.join().unwrap();
        });
        assert!(tree.contains("k"));
    }
}
