//! "A missing or damaged file ...: opening fails with `Error::Corrupt` naming the file ...
//! and changes nothing. ... `RecoveryMode::Salvage` ... lists what it dropped."

use std::collections::BTreeSet;
use std::fs;
use std::path::Path;

use acorn::{Error, Tree};

use crate::damage::{self, Damage};
use crate::states::{self, State};
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

#[test]
fn a_deleted_snapshot_is_reported_with_the_versions_it_held() {
    let dir = tempfile::tempdir().unwrap();
    {
        let tree = open_never(dir.path());
        stash_versions(&tree, 1..=300);
        tree.compact().unwrap();
        stash_versions(&tree, 301..=350);
    }
    let snap = dir.path().join("snapshot.acorn");
    fs::remove_file(&snap).unwrap();
    assert_corrupt(Tree::open(dir.path()), &snap, "1..=300");
    // Nothing was changed by the refused open.
    assert_eq!(segments(dir.path()), [segment(dir.path(), 301)]);

    let tree = salvage(dir.path()).unwrap();
    assert_eq!(versions_held(&tree), (301..=350).collect());
    let stats = tree.stats();
    assert_eq!(stats.salvaged_versions_dropped, 300, "{stats:?}");
    assert!(
        stats
            .salvage_report
            .iter()
            .any(|l| l.contains("snapshot.acorn") && l.contains("1..=300")),
        "{stats:?}"
    );
    assert_eq!(tree.stash("new", b"x").unwrap(), 351);
    drop(tree);
    // The salvaged directory opens strictly, with what salvage kept.
    let tree = Tree::open(dir.path()).unwrap();
    assert_eq!(tree.len(), 51);
    assert_eq!(tree.stats().salvaged_versions_dropped, 0);
}

#[test]
fn a_deleted_middle_segment_is_reported_with_its_versions() {
    let dir = three_segments();
    let middle = segment(dir.path(), 101);
    fs::remove_file(&middle).unwrap();
    assert_corrupt(Tree::open(dir.path()), &middle, "101..=200");
    let tree = salvage(dir.path()).unwrap();
    assert_eq!(versions_held(&tree), (1..=100).chain(201..=300).collect());
    assert_eq!(tree.stats().salvaged_versions_dropped, 100);
    drop(tree);
    assert_eq!(Tree::open(dir.path()).unwrap().len(), 200);
}

#[test]
fn an_emptied_middle_segment_is_reported_with_its_versions() {
    let dir = three_segments();
    let middle = segment(dir.path(), 101);
    fs::write(&middle, b"").unwrap();
    assert_corrupt(Tree::open(dir.path()), &middle, "101..=200");
    assert_eq!(fs::metadata(&middle).unwrap().len(), 0, "left as found");
}

#[test]
fn a_middle_segment_cut_at_a_frame_boundary_is_reported_with_its_versions() {
    let dir = three_segments();
    let middle = segment(dir.path(), 101);
    // Drop its last ten commits (191..=200) and its seal, cleanly at a frame boundary.
    let data = fs::read(&middle).unwrap();
    let frames = damage::frame_starts(&data);
    fs::write(&middle, &data[..frames[frames.len() - 11]]).unwrap();
    // Its seal went with the cut, so the file itself is named: it ends without naming the
    // segment after it, though one follows.
    assert_corrupt(Tree::open(dir.path()), &middle, "191..=200");
}

#[test]
fn a_deleted_active_segment_after_compaction_is_reported() {
    let dir = tempfile::tempdir().unwrap();
    {
        let tree = open_never(dir.path());
        stash_versions(&tree, 1..=100);
        tree.compact().unwrap();
        stash_versions(&tree, 101..=150);
    }
    let active = segment(dir.path(), 101);
    let saved = fs::read(&active).unwrap();
    fs::remove_file(&active).unwrap();
    assert_corrupt(Tree::open(dir.path()), &active, "101");
    // Emptied instead of deleted: the same.
    fs::write(&active, b"").unwrap();
    assert_corrupt(Tree::open(dir.path()), &active, "101");
    fs::write(&active, &saved).unwrap();
    assert_eq!(Tree::open(dir.path()).unwrap().len(), 150);
}

#[test]
fn a_deleted_segment_of_a_tree_never_compacted_is_reported() {
    let dir = tempfile::tempdir().unwrap();
    {
        let tree = open_never(dir.path());
        stash_versions(&tree, 1..=20);
    }
    let only = segment(dir.path(), 1);
    fs::remove_file(&only).unwrap();
    assert_corrupt(Tree::open(dir.path()), &only, "1");
    let tree = salvage(dir.path()).unwrap();
    assert!(tree.is_empty());
    assert!(
        tree.stats()
            .salvage_report
            .iter()
            .any(|l| l.contains("wal-")),
        "{:?}",
        tree.stats()
    );
}

/// Rewrites the frame header at `at` with a matching checksum.
fn reseal_header(data: &mut [u8], at: usize) {
    let crc = crc32fast::hash(&data[at..at + 8]);
    data[at + 8..at + 12].copy_from_slice(&crc.to_le_bytes());
}

#[test]
fn an_impossible_frame_length_mid_log_is_corruption_not_a_torn_tail() {
    let (dir, seg, ends) = one_segment(300);
    let mut data = fs::read(&seg).unwrap();
    let at = ends[150] as usize;
    // A length no writer can produce, with a header checksum that matches it.
    data[at..at + 4].copy_from_slice(&0x7fff_fff0u32.to_le_bytes());
    reseal_header(&mut data, at);
    fs::write(&seg, &data).unwrap();
    assert_corrupt_at(Tree::open(dir.path()), &seg, ends[150], "length");
    assert_eq!(fs::read(&seg).unwrap(), data, "nothing was truncated");
}

#[test]
fn a_logged_version_of_u64_max_is_refused_at_open_instead_of_wrapping() {
    let (dir, seg, ends) = one_segment(4);
    let mut data = fs::read(&seg).unwrap();
    // Commit 4: [tag][version u64][count u32][change]. Make its version u64::MAX.
    let at = ends[3] as usize;
    let end = ends[4] as usize;
    data[at + 13..at + 21].copy_from_slice(&u64::MAX.to_le_bytes());
    let crc = crc32fast::hash(&data[at + 12..end]);
    data[at + 4..at + 8].copy_from_slice(&crc.to_le_bytes());
    reseal_header(&mut data, at);
    fs::write(&seg, &data).unwrap();
    assert_corrupt_at(Tree::open(dir.path()), &seg, ends[3], "u64::MAX");
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
            let what = format!("byte {byte} bit {bit}");
            assert_corrupt_at(Tree::open(dir.path()), &path, last as u64, &what);
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
        let what = format!("{zeroed:?}");
        assert_corrupt_at(Tree::open(dir.path()), &seg, last as u64, &what);
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

/// The last commit version in segment bytes (0 when it holds none).
fn last_commit(data: &[u8]) -> u64 {
    damage::frame_starts(data)
        .iter()
        .skip(1)
        .filter(|&&at| data.get(at + 12) == Some(&b'C'))
        .map(|&at| u64::from_le_bytes(data[at + 13..at + 21].try_into().unwrap()))
        .max()
        .unwrap_or(0)
}

/// How a strict open of a damaged directory went.
#[derive(Debug, PartialEq, Eq)]
enum Outcome {
    /// Opened with every acknowledged write.
    Whole,
    /// Opened without the end of the log, which was cut short (looks like a crash).
    CutEnd,
    /// Refused with `Error::Corrupt` naming the damaged file.
    Refused,
}

/// One damaged directory: a strict open holds every acknowledged write or refuses with
/// `Error::Corrupt` naming the damaged file (`original`, or `renamed` where it went) and
/// changing nothing; it removes no file it has not proven redundant. After a refusal,
/// salvage reports exactly what a strict reopen lacks.
fn check(
    dir: &Path,
    state: &State,
    original: &Path,
    renamed: &Path,
    damage: Damage,
    what: &str,
) -> Outcome {
    let before = contents(dir);
    let snapshot_at = damage::snapshot_version(&dir.join("snapshot.acorn"));
    match open_strict(dir) {
        Ok(tree) => {
            let held = versions_held(&tree);
            drop(tree);
            for (path, data) in &before {
                if path.exists() {
                    continue;
                }
                let name = path.file_name().unwrap().to_str().unwrap();
                let temporary = name == "snapshot.tmp" || name == "segment.tmp";
                let proven = name.starts_with("wal-")
                    && (last_commit(data) <= snapshot_at || damage::frame_starts(data).len() == 1);
                assert!(
                    temporary || proven,
                    "{what}: the open removed {name}, which it could not prove redundant"
                );
            }
            if held == state.acked {
                return Outcome::Whole;
            }
            let prefix = held.iter().copied().eq(1..=held.len() as u64);
            assert!(
                damage.cuts_the_end() && original == state.end && prefix,
                "{what}: opened holding {} of {} acknowledged versions, missing {:?}",
                held.len(),
                state.acked.len(),
                state.acked.difference(&held).collect::<Vec<_>>()
            );
            Outcome::CutEnd
        }
        Err(Error::Corrupt { path, reason, .. }) => {
            assert!(
                path == original || path == renamed,
                "{what}: refused naming {} ({reason})",
                path.display()
            );
            assert!(
                contents(dir) == before,
                "{what}: the refused open changed the directory"
            );
            salvage_matches_report(dir, &state.acked, what);
            Outcome::Refused
        }
        Err(e) => panic!("{what}: expected Corrupt or a tree, got {e}"),
    }
}

/// Every file of every state (`states::all`: failed compactions at each step, unfinished
/// cuts of the log) damaged every way (`Damage::ALL`): see `check`.
#[test]
fn every_file_of_every_state_damaged_every_way_is_refused_or_whole() {
    let mut counts = std::collections::BTreeMap::<String, usize>::new();
    for state in states::all() {
        damage::each_way(&state, |d| {
            let state_view = State {
                name: state.name,
                dir: tempfile::tempdir().unwrap(),
                acked: state.acked.clone(),
                end: d.copy.path().join(state.end.file_name().unwrap()),
            };
            let outcome = check(
                d.copy.path(),
                &state_view,
                &d.original,
                &d.renamed,
                d.kind,
                &d.what,
            );
            if d.name == "snapshot.tmp" {
                assert_eq!(outcome, Outcome::Whole, "{}", d.what);
            }
            state_view.dir.close().unwrap();
            *counts.entry(format!("{outcome:?}")).or_default() += 1;
        });
    }
    let total: usize = counts.values().sum();
    println!("{total} damaged directories: {counts:?}");
    assert!(total > 450, "{counts:?}");
}
