//! "A missing or damaged file ...: opening fails with `Error::Corrupt` naming the file ...
//! and changes nothing. ... `RecoveryMode::Salvage` ... lists what it dropped."

use std::collections::BTreeSet;
use std::fs;

use acorn::{Error, Tree};

use crate::support::*;

/// Issue 25, defect 1: a compaction failed after cutting the log, so a snapshot and two
/// segments remain; the newest segment is deleted. A strict open used to succeed with 200
/// of 300 acknowledged items.
#[test]
fn a_deleted_newest_segment_after_a_failed_compaction_is_corruption() {
    let dir = snapshot_and_two_segments();
    let newest = segment(dir.path(), 201);
    fs::remove_file(&newest).unwrap();
    let before = contents(dir.path());
    assert_corrupt(Tree::open(dir.path()), &newest, "201");
    assert_eq!(
        contents(dir.path()),
        before,
        "the refused open changed nothing"
    );
}

/// Issue 25, defect 2: the newest segment renamed to a name at or below the snapshot's
/// version was deleted as a compaction leftover, with 100 acknowledged items in it.
#[test]
fn a_segment_renamed_below_the_snapshot_is_never_deleted() {
    let dir = snapshot_and_two_segments();
    let renamed = segment(dir.path(), 50);
    fs::rename(segment(dir.path(), 201), &renamed).unwrap();
    let before = contents(dir.path());
    assert_corrupt(Tree::open(dir.path()), &renamed, "201");
    assert_eq!(
        contents(dir.path()),
        before,
        "the refused open changed nothing"
    );

    // A real leftover (the file a compaction stopped before deleting) is still removed,
    // once read: every commit in it is at or below the snapshot's version.
    let dir = tempfile::tempdir().unwrap();
    let tree = open_never(dir.path());
    stash_versions(&tree, 1..=100);
    let saved = fs::read(segment(dir.path(), 1)).unwrap();
    tree.compact().unwrap();
    stash_versions(&tree, 101..=110);
    drop(tree);
    fs::write(segment(dir.path(), 1), saved).unwrap();
    let tree = Tree::open(dir.path()).unwrap();
    assert_eq!(tree.len(), 110);
    assert_eq!(segments(dir.path()), [segment(dir.path(), 101)]);
}

/// Writes `n` commits into a fresh tree's only segment; returns the directory, the
/// segment, and where each frame ends (`ends[0]` is the end of the segment's header).
fn one_segment(n: u64) -> (tempfile::TempDir, std::path::PathBuf, Vec<u64>) {
    let dir = tempfile::tempdir().unwrap();
    let tree = open_never(dir.path());
    let seg = segments(dir.path()).pop().unwrap();
    let mut ends = vec![fs::metadata(&seg).unwrap().len()];
    for v in 1..=n {
        stash_versions(&tree, v..=v);
        ends.push(fs::metadata(&seg).unwrap().len());
    }
    (dir, seg, ends)
}

/// Issue 25, defect 3: a flipped bit in the last complete frame was taken for a torn tail
/// and the acknowledged commit in it silently dropped. Every bit of that frame whose bytes
/// are all present is damage at the frame's offset.
#[test]
fn a_flipped_bit_in_the_last_frame_is_corruption_not_a_torn_tail() {
    let (src, seg, ends) = one_segment(5);
    let full = fs::read(&seg).unwrap();
    let last = ends[4] as usize;
    for byte in last..full.len() {
        for bit in [0, 5] {
            let dir = tempfile::tempdir().unwrap();
            let path = dir.path().join(seg.file_name().unwrap());
            let mut bad = full.clone();
            bad[byte] ^= 1 << bit;
            fs::write(&path, &bad).unwrap();
            fs::copy(
                src.path().join("snapshot.acorn"),
                dir.path().join("snapshot.acorn"),
            )
            .unwrap();
            match Tree::open(dir.path()) {
                Err(Error::Corrupt {
                    path: p, offset, ..
                }) => {
                    assert_eq!((p, offset), (path.clone(), last as u64), "byte {byte}");
                }
                Err(e) => panic!("byte {byte} bit {bit}: expected Corrupt, got {e}"),
                Ok(t) => panic!(
                    "byte {byte} bit {bit}: opened at version {} ({} torn bytes dropped)",
                    t.stats().version,
                    t.stats().torn_bytes_dropped
                ),
            }
            assert_eq!(fs::read(&path).unwrap(), bad, "nothing was truncated");
        }
    }
}

/// Issue 25, defect 3: zeroed bytes in the last complete frame, or the whole frame zeroed,
/// are damage too: the bytes are all there, and nothing records that they were never
/// written.
#[test]
fn zeroed_bytes_in_the_last_frame_are_corruption() {
    let (dir, seg, ends) = one_segment(5);
    let full = fs::read(&seg).unwrap();
    let last = ends[4] as usize;
    for zeroed in [
        full.len() - 4..full.len(),
        last..full.len(),
        last + 3..last + 9,
    ] {
        let mut bad = full.clone();
        bad[zeroed.clone()].fill(0);
        fs::write(&seg, &bad).unwrap();
        match Tree::open(dir.path()) {
            Err(Error::Corrupt { path, offset, .. }) => {
                assert_eq!((path, offset), (seg.clone(), last as u64), "{zeroed:?}");
            }
            Err(e) => panic!("{zeroed:?}: expected Corrupt, got {e}"),
            Ok(t) => panic!("{zeroed:?}: opened at version {}", t.stats().version),
        }
        assert_eq!(fs::read(&seg).unwrap(), bad, "nothing was truncated");
    }
}

/// Issue 25, defect 8: with a renamed segment the salvage report listed versions as
/// dropped that it kept, or said nothing of versions it dropped. For each rename, the
/// report must say exactly what a strict reopen afterwards lacks.
#[test]
fn the_salvage_report_matches_the_reopened_tree_with_renamed_segments() {
    let acked: BTreeSet<u64> = (1..=300).collect();
    // (segment renamed, new first version in its name)
    for (from, to) in [
        (201, 150),
        (201, 50),
        (101, 250),
        (101, 999),
        (1, 150),
        (201, 301),
    ] {
        let dir = three_segments();
        fs::rename(segment(dir.path(), from), segment(dir.path(), to)).unwrap();
        let what = format!("wal-{from} renamed to wal-{to}");
        assert!(
            Tree::open(dir.path()).is_err(),
            "{what}: a strict open accepted it"
        );
        let held = salvage_matches_report(dir.path(), &acked, &what);
        // Renaming moves no bytes: salvage reads each segment by its header.
        assert_eq!(held, acked, "{what}");
    }
}
