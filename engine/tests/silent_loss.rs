//! Regression tests for issue 13: ways a durable directory lost acknowledged writes without
//! anything reporting it. Each test reproduces an operator's mistake or a bad disk: a missing
//! or emptied file, a deleted lock, an impossible frame length or version, a compaction that
//! fails, a directory removed under an open tree.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::fs;
use std::path::{Path, PathBuf};

use acorn::{Error, RecoveryMode, SyncPolicy, Tree};

fn segments(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            let name = p.file_name().unwrap().to_str().unwrap();
            name.starts_with("wal-") && name.ends_with(".log")
        })
        .collect();
    v.sort();
    v
}

fn segment(dir: &Path, first_version: u64) -> PathBuf {
    dir.join(format!("wal-{first_version:020}.log"))
}

fn log_size(dir: &Path) -> u64 {
    segments(dir)
        .iter()
        .map(|p| fs::metadata(p).unwrap().len())
        .sum()
}

fn open_never(dir: &Path) -> Tree {
    Tree::builder()
        .path(dir)
        .sync(SyncPolicy::Never)
        .open()
        .unwrap()
}

fn salvage(dir: &Path) -> Tree {
    Tree::builder()
        .path(dir)
        .recovery(RecoveryMode::Salvage)
        .open()
        .unwrap()
}

/// Stashes `k{i}` for every `i` in `range`, one commit each: commit `i` is version `i + 1`.
fn stash_range(tree: &Tree, range: std::ops::Range<u64>) {
    for i in range {
        assert_eq!(
            tree.stash(format!("k{i:05}"), format!("v{i}")).unwrap(),
            i + 1
        );
    }
}

fn keys(tree: &Tree) -> Vec<String> {
    tree.iter().map(|n| n.key).collect()
}

/// The keys `stash_range` wrote for each half-open `(from, to)`.
fn expected(ranges: &[(u64, u64)]) -> Vec<String> {
    let mut v: Vec<String> = ranges
        .iter()
        .flat_map(|&(from, to)| (from..to).map(|i| format!("k{i:05}")))
        .collect();
    v.sort();
    v
}

/// A directory `snapshot.acorn` (not empty) makes a compaction's final rename fail, the way
/// a full disk or an I/O error would, without needing either. It replaces the empty
/// snapshot a new tree starts with, which holds nothing the log does not.
fn block_snapshots(dir: &Path) -> PathBuf {
    let block = dir.join("snapshot.acorn");
    if block.is_file() {
        fs::remove_file(&block).unwrap();
    }
    fs::create_dir(&block).unwrap();
    fs::write(block.join("keep"), b"x").unwrap();
    block
}

#[track_caller]
fn assert_corrupt(result: acorn::Result<Tree>, file: &Path, range: &str) {
    match result {
        Err(Error::Corrupt { path, reason, .. }) => {
            assert_eq!(path, file, "{reason}");
            assert!(
                reason.contains(range),
                "reason does not name {range}: {reason}"
            );
        }
        Err(other) => panic!("expected Corrupt naming {}, got {other}", file.display()),
        Ok(tree) => panic!(
            "opened with {} items instead of reporting {} ({range})",
            tree.len(),
            file.display()
        ),
    }
}

/// Three segments: commits 1–100 in `wal-1`, 101–200 in `wal-101`, 201–300 in `wal-201`
/// (two compactions failed after cutting the log, so no segment was deleted). Also returns
/// where each frame of the middle segment ends.
fn three_segments() -> (tempfile::TempDir, Vec<u64>) {
    let dir = tempfile::tempdir().unwrap();
    let tree = open_never(dir.path());
    let block = block_snapshots(dir.path());
    stash_range(&tree, 0..100);
    assert!(tree.compact().is_err());
    let middle = segment(dir.path(), 101);
    let mut ends = vec![fs::metadata(&middle).unwrap().len()];
    for i in 100..200 {
        stash_range(&tree, i..i + 1);
        ends.push(fs::metadata(&middle).unwrap().len());
    }
    assert!(tree.compact().is_err());
    stash_range(&tree, 200..300);
    drop(tree);
    fs::remove_dir_all(block).unwrap();
    assert_eq!(
        segments(dir.path()),
        [
            segment(dir.path(), 1),
            segment(dir.path(), 101),
            segment(dir.path(), 201)
        ]
    );
    (dir, ends)
}

#[test]
fn a_deleted_snapshot_is_reported_with_the_versions_it_held() {
    let dir = tempfile::tempdir().unwrap();
    {
        let tree = open_never(dir.path());
        stash_range(&tree, 0..300);
        tree.compact().unwrap();
        stash_range(&tree, 300..350);
    }
    let snap = dir.path().join("snapshot.acorn");
    fs::remove_file(&snap).unwrap();
    assert_corrupt(Tree::open(dir.path()), &snap, "1..=300");
    // Nothing was changed by the refused open.
    assert_eq!(segments(dir.path()), [segment(dir.path(), 301)]);

    let tree = salvage(dir.path());
    assert_eq!(keys(&tree), expected(&[(300, 350)]));
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
    let (dir, _) = three_segments();
    let middle = segment(dir.path(), 101);
    fs::remove_file(&middle).unwrap();
    assert_corrupt(Tree::open(dir.path()), &middle, "101..=200");

    let tree = salvage(dir.path());
    assert_eq!(keys(&tree), expected(&[(0, 100), (200, 300)]));
    assert_eq!(tree.stats().salvaged_versions_dropped, 100);
    drop(tree);
    assert_eq!(Tree::open(dir.path()).unwrap().len(), 200);
}

#[test]
fn an_emptied_middle_segment_is_reported_with_its_versions() {
    let (dir, _) = three_segments();
    let middle = segment(dir.path(), 101);
    fs::write(&middle, b"").unwrap();
    assert_corrupt(Tree::open(dir.path()), &middle, "101..=200");
    assert_eq!(fs::metadata(&middle).unwrap().len(), 0, "left as found");
}

#[test]
fn a_middle_segment_cut_at_a_frame_boundary_is_a_gap() {
    let (dir, ends) = three_segments();
    let middle = segment(dir.path(), 101);
    // Drop its last ten frames (commits 191-200), cleanly at a frame boundary.
    let data = fs::read(&middle).unwrap();
    fs::write(&middle, &data[..ends[90] as usize]).unwrap();
    // Its seal went with the cut, so the file itself is named: it ends without naming the
    // segment after it, though one follows.
    assert_corrupt(Tree::open(dir.path()), &middle, "191..=200");
}

#[test]
fn a_deleted_active_segment_after_compaction_is_reported() {
    let dir = tempfile::tempdir().unwrap();
    {
        let tree = open_never(dir.path());
        stash_range(&tree, 0..100);
        tree.compact().unwrap();
        stash_range(&tree, 100..150);
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
        stash_range(&tree, 0..20);
    }
    let only = segment(dir.path(), 1);
    fs::remove_file(&only).unwrap();
    assert_corrupt(Tree::open(dir.path()), &only, "1");
    let tree = salvage(dir.path());
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

/// Byte offset of the end of each commit frame in the only segment, after `n` commits.
fn single_segment(n: u64) -> (tempfile::TempDir, Vec<u64>) {
    let dir = tempfile::tempdir().unwrap();
    let tree = open_never(dir.path());
    let seg = segments(dir.path()).pop().unwrap();
    let mut ends = vec![fs::metadata(&seg).unwrap().len()];
    for i in 0..n {
        if i % 2 == 1 {
            tree.toss(format!("k{:05}", i - 1)).unwrap();
        } else {
            tree.stash(format!("k{i:05}"), format!("v{i}")).unwrap();
        }
        ends.push(fs::metadata(&seg).unwrap().len());
    }
    (dir, ends)
}

fn reseal_header(data: &mut [u8], at: usize) {
    let crc = crc32fast::hash(&data[at..at + 8]);
    data[at + 8..at + 12].copy_from_slice(&crc.to_le_bytes());
}

#[test]
fn an_impossible_frame_length_mid_log_is_corruption_not_a_torn_tail() {
    let (dir, ends) = single_segment(300);
    let seg = segments(dir.path()).pop().unwrap();
    let mut data = fs::read(&seg).unwrap();
    let at = ends[150] as usize;
    // A length no writer can produce, with a header checksum that matches it.
    data[at..at + 4].copy_from_slice(&0x7fff_fff0u32.to_le_bytes());
    reseal_header(&mut data, at);
    fs::write(&seg, &data).unwrap();
    match Tree::open(dir.path()) {
        Err(Error::Corrupt { path, offset, .. }) => {
            assert_eq!(path, seg);
            assert_eq!(offset, ends[150]);
        }
        Err(other) => panic!("expected Corrupt, got {other}"),
        Ok(tree) => panic!(
            "opened at version {} after cutting {} bytes as a torn tail",
            tree.stats().version,
            tree.stats().torn_bytes_dropped
        ),
    }
    assert_eq!(fs::read(&seg).unwrap(), data, "nothing was truncated");
}

#[test]
fn a_logged_version_of_u64_max_is_refused_at_open_instead_of_wrapping() {
    let (dir, ends) = single_segment(4);
    let seg = segments(dir.path()).pop().unwrap();
    let mut data = fs::read(&seg).unwrap();
    // Commit 4 is a toss: [tag][version u64][count u32][change]. Make its version u64::MAX.
    let at = ends[3] as usize;
    let end = ends[4] as usize;
    data[at + 13..at + 21].copy_from_slice(&u64::MAX.to_le_bytes());
    let crc = crc32fast::hash(&data[at + 12..end]);
    data[at + 4..at + 8].copy_from_slice(&crc.to_le_bytes());
    reseal_header(&mut data, at);
    fs::write(&seg, &data).unwrap();
    match Tree::open(dir.path()) {
        Err(Error::Corrupt { path, offset, .. }) => {
            assert_eq!(path, seg);
            assert_eq!(offset, ends[3]);
        }
        Err(other) => panic!("expected Corrupt, got {other}"),
        Ok(tree) => {
            let next = tree.stash("next", b"x");
            panic!(
                "opened at version {}; the next stash gave {next:?}",
                tree.stats().version
            );
        }
    }
}

#[test]
fn a_deleted_lock_file_does_not_admit_a_second_writer() {
    let dir = tempfile::tempdir().unwrap();
    let tree = Tree::open(dir.path()).unwrap();
    tree.stash("a", b"1").unwrap();
    fs::remove_file(dir.path().join("LOCK")).unwrap();
    match Tree::open(dir.path()) {
        Err(Error::Locked { path }) => assert_eq!(path, dir.path()),
        Err(other) => panic!("expected Locked, got {other}"),
        Ok(_) => panic!("a second writer opened the directory after LOCK was deleted"),
    }
    tree.stash("b", b"2").unwrap();
    drop(tree);
    let tree = Tree::open(dir.path()).unwrap();
    assert_eq!(tree.len(), 2);
}

#[test]
fn a_failed_compaction_removes_its_temp_file_and_keeps_counting_the_log() {
    let dir = tempfile::tempdir().unwrap();
    let tree = open_never(dir.path());
    stash_range(&tree, 0..200);
    let block = block_snapshots(dir.path());
    assert!(tree.compact().is_err());
    assert!(
        !dir.path().join("snapshot.tmp").exists(),
        "the failed compaction left its temporary file"
    );
    assert_eq!(tree.stats().wal_bytes, log_size(dir.path()));
    assert!(tree.stats().wal_bytes > 0);
    // Still writable, without a reopen.
    stash_range(&tree, 200..250);
    assert_eq!(tree.stats().wal_bytes, log_size(dir.path()));
    fs::remove_dir_all(block).unwrap();
    tree.compact().unwrap();
    assert_eq!(tree.stats().wal_bytes, log_size(dir.path()));
    stash_range(&tree, 250..260);
    drop(tree);
    let tree = Tree::open(dir.path()).unwrap();
    assert_eq!(keys(&tree), expected(&[(0, 260)]));
}

#[test]
fn a_failing_automatic_compaction_backs_off_and_the_log_stays_counted() {
    let dir = tempfile::tempdir().unwrap();
    let tree = Tree::builder()
        .path(dir.path())
        .sync(SyncPolicy::Never)
        .compact_factor(1)
        .open()
        .unwrap();
    let block = block_snapshots(dir.path());
    let value = vec![b'v'; 1000];
    // 12 MB of log over 100 keys: far past the 4 MiB threshold.
    for i in 0..12_000u64 {
        tree.stash(format!("k{:03}", i % 100), &value).unwrap();
    }
    let stats = tree.stats();
    assert!(stats.failed_compactions >= 1, "{stats:?}");
    assert!(
        stats.failed_compactions <= 4,
        "a failing compaction was retried on every commit: {stats:?}"
    );
    assert_eq!(stats.wal_bytes, log_size(dir.path()));
    assert!(!dir.path().join("snapshot.tmp").exists());
    fs::remove_dir_all(block).unwrap();
    for i in 0..6_000u64 {
        tree.stash(format!("k{:03}", i % 100), &value).unwrap();
    }
    let stats = tree.stats();
    assert!(
        stats.compactions >= 1,
        "compaction resumed once it could: {stats:?}"
    );
    assert_eq!(stats.wal_bytes, log_size(dir.path()));
    drop(tree);
    assert_eq!(Tree::open(dir.path()).unwrap().len(), 100);
}

#[test]
fn a_directory_replaced_under_an_open_tree_poisons_it_at_the_next_flush() {
    let root = tempfile::tempdir().unwrap();
    let dir = root.path().join("db");
    let tree = open_never(&dir);
    tree.stash("a", b"1").unwrap();
    fs::rename(&dir, root.path().join("db-moved")).unwrap();
    fs::create_dir(&dir).unwrap();
    let err = tree
        .flush()
        .expect_err("flush into a directory that was replaced");
    assert!(err.to_string().contains("db"), "{err}");
    assert!(
        tree.stash("b", b"2").is_err(),
        "writes are refused after that"
    );
    assert!(tree.flush().is_err());
}

#[test]
fn a_directory_deleted_under_an_open_tree_poisons_it_at_the_next_compaction() {
    let root = tempfile::tempdir().unwrap();
    let dir = root.path().join("db");
    let tree = open_never(&dir);
    tree.stash("a", b"1").unwrap();
    fs::remove_dir_all(&dir).unwrap();
    assert!(tree.compact().is_err());
    assert!(
        tree.stash("b", b"2").is_err(),
        "writes are refused after that"
    );
}

#[test]
fn a_deleted_directory_is_noticed_before_an_always_commit_is_acknowledged() {
    let root = tempfile::tempdir().unwrap();
    let dir = root.path().join("db");
    let tree = Tree::open(&dir).unwrap();
    tree.stash("a", b"1").unwrap();
    fs::remove_dir_all(&dir).unwrap();
    assert!(
        tree.stash("b", b"2").is_err(),
        "acknowledged a write into an unlinked file"
    );
}

#[cfg(feature = "tokio")]
#[test]
fn a_deleted_directory_fails_the_waiting_async_commit_and_hides_it() {
    let root = tempfile::tempdir().unwrap();
    let dir = root.path().join("db");
    let tree = Tree::open(&dir).unwrap();
    let at = tree.to_async();
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    rt.block_on(async {
        at.stash("a", b"1").await.unwrap();
        fs::remove_dir_all(&dir).unwrap();
        assert!(
            at.stash("b", b"2").await.is_err(),
            "acknowledged an async write into an unlinked file"
        );
        assert!(
            !tree.contains("b"),
            "an unacknowledged Always commit is visible"
        );
        assert!(at.flush().await.is_err());
    });
}
