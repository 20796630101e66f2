//! Online checkpoints (`Tree::checkpoint`): a copy taken while writers commit and a
//! compactor cuts the log opens strictly at exactly the version the call returned, holding
//! exactly the commits up to it; what never changes is hard-linked, the active segment
//! copied up to a frame boundary; the copy stays as it was while the source goes on; and
//! in-memory and read-only trees are checkpointed as a snapshot of their state.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::sync::Mutex;
use std::time::Duration;

use acorn::{Error, SyncPolicy, Tree};

#[path = "common/stop.rs"]
mod stop;
use stop::Stop;

#[path = "common/trees.rs"]
mod trees;

fn contents(tree: &Tree) -> BTreeMap<String, (Vec<u8>, u64)> {
    tree.iter()
        .map(|n| (n.key.to_string(), (n.value.to_vec(), n.version)))
        .collect()
}

/// The batch ids a tree holds, each checked whole: keys `b<id>-<k>` for k in 0..3.
fn batches(tree: &Tree) -> BTreeSet<u64> {
    let mut parts: BTreeMap<u64, usize> = BTreeMap::new();
    for n in tree.iter() {
        let id = n.key[1..].split('-').next().unwrap().parse().unwrap();
        *parts.entry(id).or_default() += 1;
    }
    for (id, n) in &parts {
        assert_eq!(*n, 3, "batch {id} is partial");
    }
    parts.into_keys().collect()
}

#[test]
fn a_checkpoint_taken_during_writes_and_compactions_opens_at_exactly_its_version() {
    for policy in [
        SyncPolicy::Always,
        SyncPolicy::Group {
            max_delay: Duration::from_micros(200),
        },
        SyncPolicy::Never,
    ] {
        let dir = tempfile::tempdir().unwrap();
        let tree = Tree::builder()
            .path(dir.path().join("live"))
            .sync(policy)
            .compact_factor(0)
            .open()
            .unwrap();
        // Batch id → version, as acknowledged.
        let versions = Mutex::new(BTreeMap::new());
        let stop = Stop::new();
        let mut checkpoints = Vec::new();
        std::thread::scope(|s| {
            // The writers and the compactor stop when the checkpoints are taken, or one
            // fails.
            let _stop = stop.on_drop();
            for w in 0..3u64 {
                let (tree, versions, stop) = (&tree, &versions, &stop);
                s.spawn(move || {
                    let mut i = 0;
                    while stop.go_on(i, 50_000) {
                        let id = w * 1_000_000 + i;
                        let mut b = tree.batch();
                        for k in 0..3 {
                            b.stash(format!("b{id}-{k}"), format!("{id}"));
                        }
                        let v = b.commit().unwrap();
                        versions.lock().unwrap().insert(id, v);
                        i += 1;
                    }
                });
            }
            s.spawn(|| {
                let mut round = 0;
                while stop.go_on(round, 1_000) {
                    round += 1;
                    std::thread::sleep(Duration::from_millis(3));
                    tree.compact().unwrap();
                }
            });
            for n in 0..6 {
                std::thread::sleep(Duration::from_millis(8));
                let to = dir.path().join(format!("copy-{n}"));
                let v = tree.checkpoint(&to).unwrap();
                checkpoints.push((to, v));
            }
            stop.stop();
        });
        let versions = versions.into_inner().unwrap();
        for (to, v) in &checkpoints {
            let copy = Tree::open(to).unwrap();
            assert_eq!(copy.stats().version, *v, "{policy:?}");
            let want: BTreeSet<u64> = versions
                .iter()
                .filter(|(_, version)| *version <= v)
                .map(|(id, _)| *id)
                .collect();
            assert_eq!(batches(&copy), want, "{policy:?}: checkpoint at {v}");
            assert!(copy.iter().all(|n| n.version <= *v));
            // A copy is a tree of its own: it takes writes and reopens.
            copy.stash("after", b"x").unwrap();
        }
        assert!(checkpoints.windows(2).all(|w| w[0].1 <= w[1].1));
    }
}

#[cfg(unix)]
fn inode(path: &Path) -> u64 {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata(path).unwrap().ino()
}

#[cfg(unix)]
#[test]
fn what_never_changes_is_linked_and_the_active_segment_copied_to_a_frame_boundary() {
    let dir = tempfile::tempdir().unwrap();
    let live = dir.path().join("live");
    // A compaction that fails after cutting the log leaves a sealed segment behind. The
    // active segment's length is read while the tree is open: no log buffer.
    let tree = trees::never_unbuffered(&live);
    for i in 0..100 {
        tree.stash(format!("k{i:03}"), b"v").unwrap();
    }
    tree.compact().unwrap();
    for i in 100..200 {
        tree.stash(format!("k{i:03}"), b"v").unwrap();
    }
    std::fs::create_dir(live.join("snapshot.tmp")).unwrap();
    std::fs::write(live.join("snapshot.tmp").join("x"), b"x").unwrap();
    assert!(tree.compact().is_err());
    std::fs::remove_dir_all(live.join("snapshot.tmp")).unwrap();
    for i in 200..250 {
        tree.stash(format!("k{i:03}"), b"v").unwrap();
    }
    let sealed = live.join(format!("wal-{:020}.log", 101));
    let active = live.join(format!("wal-{:020}.log", 201));
    let active_len = std::fs::metadata(&active).unwrap().len();

    let to = dir.path().join("copy");
    assert_eq!(tree.checkpoint(&to).unwrap(), 250);
    assert_eq!(
        inode(&to.join("snapshot.acorn")),
        inode(&live.join("snapshot.acorn"))
    );
    assert_eq!(inode(&to.join(sealed.file_name().unwrap())), inode(&sealed));
    let copied = to.join(active.file_name().unwrap());
    assert_ne!(inode(&copied), inode(&active));
    assert_eq!(std::fs::metadata(&copied).unwrap().len(), active_len);
    let mut names: Vec<String> = std::fs::read_dir(&to)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    assert_eq!(
        names,
        [
            "snapshot.acorn".to_string(),
            format!("wal-{:020}.log", 101),
            format!("wal-{:020}.log", 201)
        ]
    );

    // The source goes on (writes, a compaction that removes the linked files' names and
    // renames a new snapshot in); the copy stays as it was.
    let before = contents(&Tree::open(&to).unwrap());
    for i in 0..50 {
        tree.stash(format!("k{i:03}"), b"new").unwrap();
    }
    tree.compact().unwrap();
    assert!(!sealed.exists());
    let copy = Tree::open(&to).unwrap();
    assert_eq!(contents(&copy), before);
    assert_eq!(copy.len(), 250);
    assert_eq!(copy.stats().version, 250);
    // Its feed goes back to its snapshot, as the source's did.
    assert_eq!(copy.changes_since(100).unwrap().count(), 150);
}

#[test]
fn a_checkpoint_goes_only_into_a_new_or_empty_directory() {
    let dir = tempfile::tempdir().unwrap();
    let tree = Tree::open(dir.path().join("live")).unwrap();
    tree.stash("k", b"v").unwrap();
    let busy = dir.path().join("busy");
    std::fs::create_dir(&busy).unwrap();
    std::fs::write(busy.join("keep"), b"mine").unwrap();
    let err = tree.checkpoint(&busy).unwrap_err();
    assert!(
        matches!(&err, Error::Io(e) if e.kind() == std::io::ErrorKind::AlreadyExists),
        "{err}"
    );
    assert!(err.to_string().contains("busy"), "{err}");
    assert_eq!(std::fs::read(busy.join("keep")).unwrap(), b"mine");
    assert_eq!(std::fs::read_dir(&busy).unwrap().count(), 1);
    // Its own directory holds files too.
    assert!(tree.checkpoint(dir.path().join("live")).is_err());
    let empty = dir.path().join("empty");
    std::fs::create_dir(&empty).unwrap();
    assert_eq!(tree.checkpoint(&empty).unwrap(), 1);
    assert_eq!(Tree::open(&empty).unwrap().len(), 1);
}

/// Two checkpoints into one new directory at once (an in-memory tree and a durable one,
/// which share no lock): one claims the directory and its copy opens at exactly its
/// version; the other is refused and removes nothing of it. Before, both copied into it and
/// the loser's cleanup removed files of the winner, which had returned its version for a
/// copy that no longer opened. A writer opening the directory while a copy is made is
/// refused the same way.
#[test]
fn two_checkpoints_into_one_directory_at_once_leave_one_whole_copy() {
    for round in 0..30 {
        let dir = tempfile::tempdir().unwrap();
        let memory = Tree::open_memory();
        let durable = trees::never_unbuffered(&dir.path().join("live"));
        for i in 0..2000 {
            memory.stash(format!("m{i}"), b"v").unwrap();
            durable.stash(format!("d{i}"), b"v").unwrap();
        }
        if round % 2 == 0 {
            durable.compact().unwrap();
        }
        let to = dir.path().join("copy");
        let start = std::sync::Barrier::new(2);
        let (m, d) = std::thread::scope(|s| {
            let m = s.spawn(|| {
                start.wait();
                memory.checkpoint(&to)
            });
            let d = s.spawn(|| {
                start.wait();
                durable.checkpoint(&to)
            });
            (m.join().unwrap(), d.join().unwrap())
        });
        let (version, prefix) = match (&m, &d) {
            (Ok(v), Err(e)) => (*v, ("m", e)),
            (Err(e), Ok(v)) => (*v, ("d", e)),
            _ => panic!("round {round}: one must win: memory {m:?}, durable {d:?}"),
        };
        assert!(
            matches!(prefix.1, Error::Io(_) | Error::Locked { .. }),
            "{}",
            prefix.1
        );
        let copy = Tree::open(&to)
            .unwrap_or_else(|e| panic!("round {round}: the copy of version {version}: {e}"));
        assert_eq!(copy.stats().version, version);
        assert_eq!(copy.len(), 2000);
        assert!(copy.iter().all(|n| n.key.starts_with(prefix.0)));
    }
}

#[test]
fn in_memory_and_read_only_trees_are_checkpointed_as_a_snapshot() {
    let dir = tempfile::tempdir().unwrap();
    let memory = Tree::open_memory();
    for i in 0..20 {
        memory.stash(format!("k{i:02}"), format!("v{i}")).unwrap();
    }
    memory.toss("k03").unwrap();
    let v = memory.checkpoint(dir.path().join("from-memory")).unwrap();
    assert_eq!(v, 21);
    let copy = Tree::open(dir.path().join("from-memory")).unwrap();
    assert_eq!(contents(&copy), contents(&memory));
    assert_eq!(copy.stats().version, 21);
    assert_eq!(copy.stash("next", b"x").unwrap(), 22);

    let writer = Tree::open(dir.path().join("live")).unwrap();
    writer.stash("a", b"1").unwrap();
    let reader = Tree::open_read_only(dir.path().join("live")).unwrap();
    writer.stash("b", b"2").unwrap();
    // The reader's view (version 1), not the writer's latest.
    assert_eq!(
        reader.checkpoint(dir.path().join("from-reader")).unwrap(),
        1
    );
    let copy = Tree::open(dir.path().join("from-reader")).unwrap();
    assert_eq!(copy.len(), 1);
    assert_eq!(copy.stats().version, 1);
}

#[test]
fn a_checkpoint_of_a_never_tree_holds_the_commits_still_in_its_log_buffer() {
    let tmp = tempfile::tempdir().unwrap();
    // A buffer nothing fills and a delay nothing reaches: the commits wait in the process.
    let tree = Tree::builder()
        .path(tmp.path().join("live"))
        .sync(SyncPolicy::Never)
        .log_buffer(1 << 20, Duration::from_secs(3600))
        .open()
        .unwrap();
    for i in 0..50u64 {
        let mut b = tree.batch();
        for k in 0..3 {
            b.stash(format!("b{i}-{k}"), format!("v{i}"));
        }
        b.commit().unwrap();
    }
    // Nothing reached the file yet (a reader of the directory sees version 0).
    let reader = Tree::open_read_only(tmp.path().join("live")).unwrap();
    assert_eq!(
        reader.stats().version,
        0,
        "the commits should still be buffered"
    );
    let version = tree.checkpoint(tmp.path().join("copy")).unwrap();
    assert_eq!(version, 50);
    let copy = Tree::open(tmp.path().join("copy")).unwrap();
    assert_eq!(copy.stats().version, version);
    assert_eq!(batches(&copy), (0..50).collect());
    assert_eq!(contents(&copy), contents(&tree));
}
