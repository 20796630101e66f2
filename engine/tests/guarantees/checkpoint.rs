//! "A checkpoint ... is a directory that opens strictly at exactly the version the call
//! returned ...; a checkpoint that fails leaves no copy behind and the tree as it was."
//!
//! Tried: every call a checkpoint makes, failed in turn (`ENOSPC`, `EIO`, a short write);
//! hard links refused (the files are copied instead); a power loss right after the call
//! (the copy was fsynced, whatever the source's sync policy); a checkpoint of a tree in
//! every state of [`crate::states`] (compactions failed at each step). Writers and
//! compactions running meanwhile: `tests/checkpoint.rs`; killed in the middle:
//! `tests/crash/`.

use std::collections::BTreeSet;
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use acorn::faults::{Action, Call, FaultyIo, EIO, ENOSPC};
use acorn::{SyncPolicy, Tree};

use crate::states;
use crate::support::*;

/// A tree whose checkpoint has a snapshot and a sealed segment to link and an active
/// segment to copy (a compaction failed after cutting the log); `io` sees every call.
fn source(dir: &Path, io: Arc<FaultyIo>) -> Tree {
    // No log buffer: the checkpoint's calls are its copy's alone (a buffered tree's would
    // start with the log's write-out, whose failure is the log's, `durable.rs`).
    let tree = Tree::builder()
        .path(dir)
        .sync(SyncPolicy::Never)
        .log_buffer(0, Duration::ZERO)
        .compact_factor(0)
        .io(io)
        .open()
        .unwrap();
    stash_versions(&tree, 1..=40);
    tree.compact().unwrap();
    stash_versions(&tree, 41..=80);
    let blocked = block(dir, "snapshot.tmp");
    assert!(tree.compact().is_err());
    std::fs::remove_dir_all(blocked).unwrap();
    stash_versions(&tree, 81..=100);
    tree
}

/// `EXDEV`: a hard link across file systems.
const EXDEV: i32 = 18;

/// A plan that, once `armed`, fails the `nth` call of the checkpoint (from 1) as `action`
/// says, and every hard link with `EXDEV` when `no_links` (another file system); counts
/// the calls it saw armed.
fn armed_plan(
    nth: u64,
    action: Action,
    no_links: bool,
) -> (Arc<FaultyIo>, Arc<AtomicBool>, Arc<AtomicU64>) {
    let armed = Arc::new(AtomicBool::new(false));
    let seen = Arc::new(AtomicU64::new(0));
    let (a, n) = (Arc::clone(&armed), Arc::clone(&seen));
    let io = FaultyIo::new(move |c| {
        if !a.load(Ordering::SeqCst) {
            return Action::Pass;
        }
        if n.fetch_add(1, Ordering::SeqCst) + 1 == nth {
            action
        } else if no_links && c.call == Call::Link {
            Action::Fail(EXDEV)
        } else {
            Action::Pass
        }
    })
    .without_fsync();
    (Arc::new(io), armed, seen)
}

#[test]
fn every_failed_call_of_a_checkpoint_leaves_no_copy_and_the_tree_as_it_was() {
    for no_links in [false, true] {
        every_call_failed(no_links);
    }
}

fn every_call_failed(no_links: bool) {
    // How many calls a checkpoint makes, and of which kinds.
    let dir = tempfile::tempdir().unwrap();
    let (io, armed, seen) = armed_plan(0, Action::Pass, no_links);
    let tree = source(&dir.path().join("live"), Arc::clone(&io));
    let before = io.calls().len();
    armed.store(true, Ordering::SeqCst);
    assert_eq!(tree.checkpoint(dir.path().join("copy")).unwrap(), 100);
    let calls: Vec<Call> = io.calls()[before..].iter().map(|c| c.0).collect();
    let n = seen.load(Ordering::SeqCst);
    assert_eq!(n as usize, calls.len());
    for kind in [
        Call::Link,
        Call::Create,
        Call::Write,
        Call::Sync,
        Call::Rename,
        Call::SyncDir,
    ] {
        assert!(calls.contains(&kind), "{kind:?} not among {calls:?}");
    }
    // Refused links: the snapshot and the sealed segment are copied instead.
    let copies = calls.iter().filter(|c| **c == Call::Create).count();
    assert_eq!(copies, if no_links { 3 } else { 1 }, "{calls:?}");
    drop(tree);

    let mut runs = 0;
    for k in 1..=n {
        let kind = calls[k as usize - 1];
        let mut actions = vec![Action::Fail(ENOSPC), Action::Fail(EIO)];
        if kind == Call::Write {
            actions.push(Action::Short(ENOSPC));
        }
        for action in actions {
            let what = format!("links refused: {no_links}; call {k} of {n} ({kind:?}), {action:?}");
            let dir = tempfile::tempdir().unwrap();
            let (io, armed, _) = armed_plan(k, action, no_links);
            let tree = source(&dir.path().join("live"), Arc::clone(&io));
            armed.store(true, Ordering::SeqCst);
            // Into a directory whose parents are missing too: all made by the checkpoint.
            let parents = dir.path().join("parents");
            let copy = parents.join("made").join("copy");
            let result = tree.checkpoint(&copy);
            armed.store(false, Ordering::SeqCst);
            assert!(io.fired().is_some(), "{what}: the call never came");
            match result {
                // A refused hard link is no failure: the file is copied instead.
                Ok(version) => {
                    assert_eq!(kind, Call::Link, "{what}: succeeded");
                    assert_eq!(version, 100);
                    assert_eq!(
                        versions_held(&Tree::open(&copy).unwrap()),
                        (1..=100).collect()
                    );
                }
                Err(e) => {
                    assert_ne!(kind, Call::Link, "{what}: {e}");
                    let message = e.to_string();
                    assert!(
                        message.contains(&dir.path().display().to_string()),
                        "{what}: {message}"
                    );
                    assert!(!copy.exists(), "{what}: a failed checkpoint left {copy:?}");
                    assert!(
                        !parents.exists(),
                        "{what}: a failed checkpoint left {parents:?}"
                    );
                }
            }
            // The tree goes on: it takes writes, and the next checkpoint is whole.
            stash_versions(&tree, 101..=101);
            let again = dir.path().join("again");
            assert_eq!(tree.checkpoint(&again).unwrap(), 101, "{what}");
            assert_eq!(
                versions_held(&Tree::open(&again).unwrap()),
                (1..=101).collect(),
                "{what}"
            );
            runs += 1;
        }
    }
    println!("{runs} checkpoints, each with one call failed, of {n} calls: {calls:?}");
    let writes = calls.iter().filter(|c| **c == Call::Write).count();
    assert_eq!(runs, 2 * calls.len() + writes);
}

#[test]
fn a_copy_survives_a_power_loss_right_after_the_call_whatever_the_source_lost() {
    let dir = tempfile::tempdir().unwrap();
    let io = Arc::new(FaultyIo::counting().without_fsync());
    let tree = source(&dir.path().join("live"), Arc::clone(&io));
    stash_versions(&tree, 101..=150);
    let copy = dir.path().join("copy");
    assert_eq!(tree.checkpoint(&copy).unwrap(), 150);
    stash_versions(&tree, 151..=160);
    // Nothing the source wrote under `Never` since its last fsync survives; the copy was
    // fsynced file by file.
    let lost = io.lose_unsynced().unwrap();
    assert!(lost > 0, "the source had unsynced writes to lose");
    drop(tree);
    let copy = Tree::open(&copy).unwrap();
    assert_eq!(copy.stats().version, 150);
    assert_eq!(versions_held(&copy), (1..=150).collect());
    let source = Tree::open(dir.path().join("live")).unwrap();
    assert!(
        source.stats().version < 160,
        "the source lost its unsynced end"
    );
}

#[test]
fn a_checkpoint_of_a_tree_in_every_state_opens_at_its_version_or_is_refused_with_the_tree() {
    let work = tempfile::tempdir().unwrap();
    let mut checked = 0;
    states::all_live(&mut |name, tree, acked: &BTreeSet<u64>| {
        let copy = work.path().join(format!("copy-{checked}"));
        checked += 1;
        match tree.checkpoint(&copy) {
            Ok(version) => {
                assert_eq!(Some(&version), acked.last(), "{name}");
                let opened = Tree::open(&copy).unwrap_or_else(|e| panic!("{name}: {e}"));
                assert_eq!(opened.stats().version, version, "{name}");
                assert_eq!(&versions_held(&opened), acked, "{name}");
                // Nothing a strict open would have to tidy: the copy holds only the
                // snapshot and the segments after it.
                let files: Vec<String> = std::fs::read_dir(&copy)
                    .unwrap()
                    .map(|e| e.unwrap().file_name().into_string().unwrap())
                    .filter(|f| f != "LOCK")
                    .collect();
                assert!(
                    files
                        .iter()
                        .all(|f| f == "snapshot.acorn" || f.starts_with("wal-")),
                    "{name}: {files:?}"
                );
            }
            // A tree whose log failed refuses writes, and checkpoints.
            Err(e) => {
                assert!(
                    tree.stash("x", b"y").is_err(),
                    "{name}: the checkpoint failed ({e}) but the tree takes writes"
                );
                assert!(!copy.exists(), "{name}");
            }
        }
    });
    assert_eq!(checked, 10);
}
