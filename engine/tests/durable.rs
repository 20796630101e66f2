//! Durable mode: reopen, locking, torn tails at every byte, bit flips, compaction, salvage.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::fs;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use acorn::faults::{Action, Call, FaultyIo, ENOSPC};
use acorn::{Error, ManualClock, RecoveryMode, SyncPolicy, Tree};

#[path = "common/trees.rs"]
mod trees;

fn segments(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.file_name().unwrap().to_str().unwrap().starts_with("wal-"))
        .collect();
    v.sort();
    v
}

#[test]
fn everything_survives_reopen_and_versions_keep_increasing() {
    let dir = tempfile::tempdir().unwrap();
    let clock = ManualClock::new(SystemTime::UNIX_EPOCH + Duration::from_secs(5_000));
    let v_last;
    {
        let tree = Tree::builder()
            .path(dir.path())
            .clock(clock.clone())
            .open()
            .unwrap();
        tree.stash("a", b"1").unwrap();
        tree.stash("b", b"2").unwrap();
        tree.stash_with_ttl("ttl", b"t", Duration::from_secs(10))
            .unwrap();
        tree.stash_with_ttl("ttl-long", b"t", Duration::from_secs(1000))
            .unwrap();
        let mut batch = tree.batch();
        batch.stash("c", b"3").toss("a");
        batch.commit().unwrap();
        tree.transaction(|tx| tx.stash("d", b"4")).unwrap();
        v_last = tree.stash("b", b"22").unwrap();
    }
    clock.advance(Duration::from_secs(11));
    let tree = Tree::builder()
        .path(dir.path())
        .clock(clock.clone())
        .open()
        .unwrap();
    let got: Vec<(String, Vec<u8>)> = tree
        .iter()
        .map(|n| (n.key.into(), n.value.into()))
        .collect();
    let expect: Vec<(String, Vec<u8>)> = [("b", "22"), ("c", "3"), ("d", "4"), ("ttl-long", "t")]
        .iter()
        .map(|(k, v)| ((*k).to_string(), v.as_bytes().to_vec()))
        .collect();
    assert_eq!(got, expect);
    assert_eq!(
        tree.crack("ttl").unwrap(),
        None,
        "expired before the restart stays invisible"
    );
    let b = tree.crack("b").unwrap().unwrap();
    assert_eq!(b.version, v_last);
    assert!(tree.stash("a", b"again").unwrap() > v_last);
    assert_eq!(tree.stats().torn_bytes_dropped, 0);
}

#[test]
fn a_second_open_of_the_same_directory_is_locked() {
    let dir = tempfile::tempdir().unwrap();
    let tree = Tree::open(dir.path()).unwrap();
    match Tree::open(dir.path()) {
        Err(Error::Locked { path }) => assert_eq!(path, dir.path()),
        other => panic!("expected Locked, got {other:?}"),
    }
    let clone = tree.clone();
    drop(tree);
    assert!(
        matches!(Tree::open(dir.path()), Err(Error::Locked { .. })),
        "a clone keeps it open"
    );
    drop(clone);
    Tree::open(dir.path()).unwrap();
}

/// Writes `n` single-key commits and returns the log's length after each one (each
/// handed to the OS as it is logged: no buffer).
fn write_commits(dir: &Path, n: usize) -> Vec<u64> {
    let tree = Tree::builder()
        .path(dir)
        .sync(SyncPolicy::Never)
        .log_buffer(0, Duration::ZERO)
        .open()
        .unwrap();
    let seg = segments(dir).pop().unwrap();
    let mut ends = vec![fs::metadata(&seg).unwrap().len()];
    for i in 0..n {
        if i % 3 == 2 {
            let mut b = tree.batch();
            b.stash(format!("k{i:03}"), format!("v{i}"))
                .stash(format!("k{i:03}-b"), format!("w{i}"));
            b.commit().unwrap();
        } else {
            tree.stash(format!("k{i:03}"), format!("v{i}")).unwrap();
        }
        ends.push(fs::metadata(&seg).unwrap().len());
    }
    ends
}

/// `n` commits written by [`write_commits`] in a new directory: the directory, the log's
/// length after each commit, its one segment and that segment's bytes.
fn logged(n: usize) -> (tempfile::TempDir, Vec<u64>, PathBuf, Vec<u8>) {
    let dir = tempfile::tempdir().unwrap();
    let ends = write_commits(dir.path(), n);
    let seg = segments(dir.path()).pop().unwrap();
    let data = fs::read(&seg).unwrap();
    (dir, ends, seg, data)
}

/// Opens `dir` with salvage and checks that it holds exactly the keys of the first
/// `commits` commits of [`write_commits`].
fn salvaged(dir: &Path, commits: usize) -> Tree {
    let tree = Tree::builder()
        .path(dir)
        .recovery(RecoveryMode::Salvage)
        .open()
        .unwrap();
    assert_eq!(
        tree.iter().map(|n| n.key).collect::<Vec<String>>(),
        expected_after(commits)
    );
    tree
}

/// The keys of the first `commits` commits of [`write_commits`], in order.
fn expected_after(commits: usize) -> Vec<String> {
    let mut keys: Vec<String> = (0..commits)
        .flat_map(|i| {
            let mut v = vec![format!("k{i:03}")];
            if i % 3 == 2 {
                v.push(format!("k{i:03}-b"));
            }
            v
        })
        .collect();
    keys.sort();
    keys
}

#[test]
fn a_torn_tail_at_every_byte_recovers_exactly_the_complete_frames() {
    let (_src, ends, seg, full) = logged(12);
    // Every cut inside the last three frames.
    let from = ends[ends.len() - 4] as usize;
    for cut in from..full.len() {
        let dir = tempfile::tempdir().unwrap();
        let name = seg.file_name().unwrap();
        fs::write(dir.path().join(name), &full[..cut]).unwrap();
        let tree = Tree::open(dir.path()).unwrap();
        let complete = ends.iter().filter(|e| **e as usize <= cut).count() - 1;
        let keys: Vec<String> = tree.iter().map(|n| n.key).collect();
        assert_eq!(keys, expected_after(complete), "cut at byte {cut}");
        let dropped = cut as u64 - ends[complete];
        assert_eq!(
            tree.stats().torn_bytes_dropped,
            dropped,
            "cut at byte {cut}"
        );
        // The log was truncated to the last whole frame and takes new commits.
        tree.stash("after", b"x").unwrap();
        drop(tree);
        let tree = Tree::open(dir.path()).unwrap();
        assert!(tree.contains("after"));
        assert_eq!(tree.stats().torn_bytes_dropped, 0);
    }
}

/// A last frame of zeros is not a torn tail: its bytes are all there, and nothing records
/// that they were never written (an acknowledged commit zeroed by a bad disk looks the
/// same). Strict refuses; salvage keeps the commits before it and counts the zeros.
#[test]
fn a_tail_of_zeros_is_damage_that_salvage_drops() {
    let (dir, ends, seg, mut data) = logged(5);
    let last = ends[ends.len() - 2] as usize;
    data[last..].fill(0);
    fs::write(&seg, &data).unwrap();
    match Tree::open(dir.path()) {
        Err(Error::Corrupt { path, offset, .. }) => assert_eq!((path, offset), (seg, last as u64)),
        other => panic!("expected Corrupt, got {other:?}"),
    }
    let tree = salvaged(dir.path(), 4);
    assert_eq!(
        tree.stats().salvaged_bytes_dropped,
        (data.len() - last) as u64
    );
    assert_eq!(tree.stats().torn_bytes_dropped, 0);
}

#[test]
fn a_flipped_bit_before_the_tail_is_corruption_at_that_frame() {
    let (_src, ends, seg, full) = logged(6);
    // Every bit of every frame but the last.
    for frame in 0..ends.len() - 2 {
        for byte in ends[frame]..ends[frame + 1] {
            for bit in [0, 3, 7] {
                let dir = tempfile::tempdir().unwrap();
                let mut bad = full.clone();
                bad[byte as usize] ^= 1 << bit;
                let path = dir.path().join(seg.file_name().unwrap());
                fs::write(&path, &bad).unwrap();
                match Tree::open(dir.path()) {
                    Err(Error::Corrupt {
                        path: p,
                        offset,
                        reason,
                    }) => {
                        assert_eq!(p, path);
                        assert_eq!(offset, ends[frame], "byte {byte} bit {bit}: {reason}");
                    }
                    other => panic!("byte {byte} bit {bit}: expected Corrupt, got {other:?}"),
                }
                // Nothing was changed by the failed open.
                assert_eq!(fs::read(&path).unwrap(), bad);
            }
        }
    }
}

#[test]
fn salvage_keeps_what_precedes_and_follows_a_damaged_frame_when_asked() {
    let (dir, ends, seg, mut data) = logged(6);
    // The fourth commit's payload (its frame header intact: the frames after it are found).
    data[ends[3] as usize + 14] ^= 0x40;
    fs::write(&seg, &data).unwrap();
    let err = Tree::open(dir.path()).unwrap_err();
    assert!(
        err.to_string().contains("Salvage"),
        "the message says how to recover: {err}"
    );
    let tree = Tree::builder()
        .path(dir.path())
        .recovery(RecoveryMode::Salvage)
        .open()
        .unwrap();
    let mut expected = expected_after(6);
    expected.retain(|k| k != "k003");
    assert_eq!(
        tree.iter().map(|n| n.key).collect::<Vec<String>>(),
        expected
    );
    assert_eq!(tree.stats().salvaged_bytes_dropped, ends[4] - ends[3]);
    assert_eq!(tree.stats().salvaged_versions_dropped, 1);
    drop(tree);
    // The salvaged directory now opens strictly.
    Tree::open(dir.path()).unwrap();
}

#[test]
fn compaction_drops_old_segments_and_recovery_reads_snapshot_plus_tail() {
    let dir = tempfile::tempdir().unwrap();
    {
        let tree = trees::durable(dir.path(), SyncPolicy::Never);
        for round in 0..5 {
            for i in 0..200 {
                tree.stash(format!("k{i:04}"), format!("r{round}")).unwrap();
            }
        }
        tree.toss("k0000").unwrap();
        tree.stash_with_ttl("short", b"x", Duration::from_nanos(1))
            .unwrap();
        let before = tree.stats().wal_bytes;
        tree.compact().unwrap();
        assert!(tree.stats().wal_bytes < before);
        assert_eq!(tree.stats().compactions, 1);
        assert_eq!(segments(dir.path()).len(), 1);
        tree.stash("k0001", b"after").unwrap();
        tree.toss("k0002").unwrap();
    }
    assert!(dir.path().join("snapshot.acorn").exists());
    let tree = Tree::open(dir.path()).unwrap();
    assert_eq!(tree.len(), 198);
    assert_eq!(tree.crack("k0001").unwrap().unwrap().value, b"after");
    assert_eq!(tree.crack("k0003").unwrap().unwrap().value, b"r4");
    assert!(!tree.contains("k0000") && !tree.contains("k0002") && !tree.contains("short"));
}

#[test]
fn the_log_compacts_itself_when_it_outgrows_the_data() {
    let dir = tempfile::tempdir().unwrap();
    let tree = Tree::builder()
        .path(dir.path())
        .sync(SyncPolicy::Never)
        .compact_factor(2)
        .open()
        .unwrap();
    let value = vec![7u8; 1000];
    for i in 0..20_000 {
        tree.stash(format!("k{:02}", i % 50), &value).unwrap();
    }
    let stats = tree.stats();
    assert!(stats.compactions >= 1, "{stats:?}");
    assert!(stats.wal_bytes < 8 << 20, "{stats:?}");
    drop(tree);
    let tree = Tree::open(dir.path()).unwrap();
    assert_eq!(tree.len(), 50);
}

#[test]
fn a_damaged_snapshot_is_corruption_with_its_offset() {
    let dir = tempfile::tempdir().unwrap();
    {
        let tree = Tree::open(dir.path()).unwrap();
        for i in 0..100 {
            tree.stash(format!("k{i}"), b"v").unwrap();
        }
        tree.compact().unwrap();
    }
    let snap = dir.path().join("snapshot.acorn");
    let mut data = fs::read(&snap).unwrap();
    let at = data.len() / 2;
    data[at] ^= 1;
    fs::write(&snap, &data).unwrap();
    match Tree::open(dir.path()) {
        Err(Error::Corrupt { path, offset, .. }) => {
            assert_eq!(path, snap);
            assert!(offset < at as u64);
        }
        other => panic!("expected Corrupt, got {other:?}"),
    }
    // Truncated snapshots are damage too (they are only ever renamed into place whole).
    fs::write(&snap, &data[..at]).unwrap();
    assert!(matches!(Tree::open(dir.path()), Err(Error::Corrupt { .. })));
}

#[test]
fn group_commit_with_many_writers_loses_nothing_on_reopen() {
    let dir = tempfile::tempdir().unwrap();
    {
        let tree = trees::durable(
            dir.path(),
            SyncPolicy::Group {
                max_delay: Duration::from_millis(1),
            },
        );
        std::thread::scope(|s| {
            for t in 0..4 {
                let tree = tree.clone();
                s.spawn(move || {
                    for i in 0..100 {
                        tree.stash(format!("t{t}-{i:03}"), b"v").unwrap();
                    }
                });
            }
        });
        tree.flush().unwrap();
    }
    assert_eq!(Tree::open(dir.path()).unwrap().len(), 400);
}

#[test]
fn garbage_files_are_errors_not_panics() {
    let dir = tempfile::tempdir().unwrap();
    fs::write(
        dir.path().join("snapshot.acorn"),
        b"definitely not a snapshot",
    )
    .unwrap();
    assert!(matches!(Tree::open(dir.path()), Err(Error::Corrupt { .. })));
    let dir = tempfile::tempdir().unwrap();
    fs::write(
        dir.path().join("wal-00000000000000000001.log"),
        vec![0xAB; 4096],
    )
    .unwrap();
    fs::write(dir.path().join("wal-00000000000000000009.log"), b"").unwrap();
    assert!(matches!(Tree::open(dir.path()), Err(Error::Corrupt { .. })));
    // A path that is a file, not a directory.
    let file = dir.path().join("plain-file");
    fs::write(&file, b"x").unwrap();
    assert!(matches!(Tree::open(&file), Err(Error::Io(_))));
}

/// Bytes of every log segment in `dir`.
fn log_size(dir: &Path) -> u64 {
    segments(dir)
        .iter()
        .map(|p| fs::metadata(p).unwrap().len())
        .sum()
}

/// Writes of log segments `io` saw so far.
fn log_writes(io: &FaultyIo) -> usize {
    io.calls()
        .iter()
        .filter(|(c, p)| *c == Call::Write && p.to_str().unwrap().contains("wal-"))
        .count()
}

#[test]
fn never_hands_commits_to_the_os_in_batches_and_on_drop() {
    // 1,000 commits of ~150 bytes: about 150 KB, so two or three writes of the 64 KiB
    // buffer (the hour-long delay keeps the flusher thread out); with no buffer, one write
    // a commit. Dropping the tree writes out what still waits.
    for (buffer, expect) in [(64 << 10, 1..=3), (0, 1000..=1000)] {
        let dir = tempfile::tempdir().unwrap();
        let io = Arc::new(FaultyIo::counting());
        let open = || {
            Tree::builder()
                .path(dir.path())
                .sync(SyncPolicy::Never)
                .log_buffer(buffer, Duration::from_secs(3600))
                .io(Arc::clone(&io))
                .open()
                .unwrap()
        };
        let tree = open();
        let before = log_writes(&io);
        for i in 0..1000 {
            tree.stash(format!("k{i:04}"), [b'v'; 100]).unwrap();
        }
        let writes = log_writes(&io) - before;
        assert!(
            expect.contains(&writes),
            "buffer {buffer}: {writes} writes for 1000 commits, expected {expect:?}"
        );
        drop(tree);
        let tree = open();
        assert_eq!(tree.len(), 1000, "buffer {buffer}: commits lost at drop");
        assert!(
            tree.contains("k0999"),
            "buffer {buffer}: the last commit lost at drop"
        );
    }
}

#[test]
fn never_writes_a_waiting_commit_out_after_its_delay_and_at_flush() {
    let dir = tempfile::tempdir().unwrap();
    let tree = trees::never_buffered(dir.path(), 64 << 10, Duration::from_millis(5));
    let size = || log_size(dir.path());
    let empty = size();
    tree.stash("a", b"1").unwrap();
    // The flusher thread writes it out without a flush (waited for, never timed).
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while size() == empty {
        assert!(
            std::time::Instant::now() < deadline,
            "the waiting commit never reached the file"
        );
        std::thread::sleep(Duration::from_millis(1));
    }
    assert_eq!(size(), tree.stats().wal_bytes);
}

#[test]
fn never_flush_writes_out_and_a_failed_buffered_write_keeps_a_prefix() {
    // Ten commits flushed, then 101 buffered; the write that hands those to the OS (at
    // `flush()`) takes half its bytes and fails: the flush reports it naming the segment,
    // the tree refuses writes, and a strict reopen holds the ten and a prefix of the 101
    // (the cut frame is a torn tail), never a later commit without an earlier one.
    let dir = tempfile::tempdir().unwrap();
    let armed = Arc::new(AtomicBool::new(false));
    let arm = Arc::clone(&armed);
    let io = Arc::new(FaultyIo::new(move |c| {
        let log = c.path.to_str().unwrap().contains("wal-");
        if c.call == Call::Write && log && arm.swap(false, Ordering::SeqCst) {
            Action::Short(ENOSPC)
        } else {
            Action::Pass
        }
    }));
    let tree = Tree::builder()
        .path(dir.path())
        .sync(SyncPolicy::Never)
        .log_buffer(1 << 20, Duration::from_secs(3600))
        .io(Arc::clone(&io))
        .open()
        .unwrap();
    let size = || log_size(dir.path());
    for i in 0..10 {
        tree.stash(format!("a{i}"), b"flushed").unwrap();
    }
    tree.flush().unwrap();
    assert_eq!(
        size(),
        tree.stats().wal_bytes,
        "flush() wrote out everything"
    );
    armed.store(true, Ordering::SeqCst);
    // 101 frames of one size: half of them ends inside one.
    for i in 0..101 {
        tree.stash(format!("b{i:03}"), [b'v'; 100]).unwrap();
    }
    let err = tree.flush().unwrap_err();
    assert!(err.to_string().contains("wal-"), "{err}");
    assert!(
        tree.stash("c", b"x").is_err(),
        "took a write after a failed one"
    );
    assert!(tree.flush().is_err());
    drop(tree);
    let tree = Tree::open(dir.path()).unwrap();
    for i in 0..10 {
        assert!(tree.contains(format!("a{i}")), "a{i} was flushed");
    }
    let kept: Vec<String> = tree
        .iter()
        .map(|n| n.key.to_string())
        .filter(|k| k.starts_with('b'))
        .collect();
    let prefix: Vec<String> = (0..kept.len()).map(|i| format!("b{i:03}")).collect();
    assert_eq!(kept, prefix, "not a prefix of the commits");
    assert!(kept.len() < 101, "half a write kept every commit");
    assert!(tree.stats().torn_bytes_dropped > 0);
    assert!(!tree.contains("c"));
}
