//! Compression (`TreeBuilder::compression`, the `compression` feature): a compressed tree
//! holds exactly what a model of its commits holds, across reopens, compactions and
//! switches between compressed and plain; damage inside a compressed frame or snapshot
//! chunk is `Corrupt` naming the file, and salvage keeps what comes before it; a build
//! without the feature refuses a compressed tree naming the file (the fixture
//! `fixtures/compressed-lz4`, written by a build with it, which one with it opens).
//!
//! The kill -9 cases are `tests/crash/`'s `group`, `never` and `checkpoint` scenarios,
//! compressed when the feature is on.

#![allow(clippy::unwrap_used, clippy::expect_used)]

#[cfg(feature = "compression")]
#[path = "common/rng.rs"]
mod rng;

use std::path::{Path, PathBuf};

use acorn::{Error, Tree};

/// A copy of the fixture (written with compression: a snapshot of 40 items at version 40,
/// then 20 more commits in the log) in a temporary directory.
fn fixture() -> (tempfile::TempDir, PathBuf) {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("tree");
    let from = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/compressed-lz4");
    std::fs::create_dir(&dir).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        std::fs::copy(entry.path(), dir.join(entry.file_name())).unwrap();
    }
    (tmp, dir)
}

/// The directory's files, with their bytes (to show an open changed nothing).
fn files(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut out: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| {
            let e = e.unwrap();
            let name = e.file_name().to_string_lossy().into_owned();
            (name, std::fs::read(e.path()).unwrap_or_default())
        })
        .filter(|(name, _)| name != "LOCK")
        .collect();
    out.sort();
    out
}

#[cfg(not(feature = "compression"))]
#[test]
fn a_build_without_the_feature_refuses_a_compressed_tree_naming_the_file() {
    let (_tmp, dir) = fixture();
    let before = files(&dir);
    for open in [
        Tree::builder().path(&dir).open(),
        Tree::builder()
            .path(&dir)
            .recovery(acorn::RecoveryMode::Salvage)
            .open(),
        Tree::open_read_only(&dir),
    ] {
        match open {
            Err(Error::CompressionUnsupported { path, flags }) => {
                assert!(path.starts_with(&dir), "{}", path.display());
                assert_eq!(flags, 1);
                let text = Error::CompressionUnsupported { path, flags }.to_string();
                assert!(text.contains("`compression` feature"), "{text}");
            }
            other => panic!("{:?}", other.map(|t| t.stats())),
        }
    }
    assert_eq!(files(&dir), before, "a refused open changed nothing");
}

#[cfg(feature = "compression")]
mod with_the_feature {
    use std::collections::BTreeMap;

    use acorn::{Change, Compression, RecoveryMode, SyncPolicy};

    use super::rng::Rng;
    use super::*;

    fn open(dir: &Path, compression: Compression) -> Tree {
        Tree::builder()
            .path(dir)
            .sync(SyncPolicy::Never)
            .compression(compression)
            .compact_factor(0)
            .open()
            .unwrap()
    }

    /// A value that compresses (a JSON-ish document with repeated field names).
    fn value(i: u64, round: u64) -> String {
        format!(
            r#"{{"id":{i},"round":{round},"name":"user-{i:06}","email":"user-{i:06}@example.com","tags":["alpha","beta","gamma"],"bio":"{}"}}"#,
            "lorem ipsum dolor sit amet ".repeat((i % 5) as usize + 1)
        )
    }

    fn contents(tree: &Tree) -> BTreeMap<String, String> {
        tree.iter()
            .map(|n| {
                (
                    n.key.to_string(),
                    String::from_utf8(n.value.to_vec()).unwrap(),
                )
            })
            .collect()
    }

    fn check(tree: &Tree, model: &BTreeMap<String, String>) {
        assert_eq!(&contents(tree), model);
    }

    /// Compression turned on at a reopen applies to the next write, not only after the
    /// next compaction: the plain segment the tree was writing is sealed at the open (or,
    /// holding no commit yet, replaced), and the new one is compressed. Everything written
    /// before reads back, also after another reopen.
    #[test]
    fn compression_turned_on_at_a_reopen_applies_to_the_next_write() {
        for commits_before in [0u64, 50] {
            let tmp = tempfile::tempdir().unwrap();
            let dir = tmp.path();
            let mut model = BTreeMap::new();
            let tree = open(dir, Compression::None);
            for i in 0..commits_before {
                tree.stash(format!("k{i:03}"), value(i, 0)).unwrap();
                model.insert(format!("k{i:03}"), value(i, 0));
            }
            drop(tree);
            let tree = open(dir, Compression::Lz4);
            for i in 0..50 {
                tree.stash(format!("n{i:03}"), value(i, 1)).unwrap();
                model.insert(format!("n{i:03}"), value(i, 1));
            }
            tree.flush().unwrap();
            let ratio = tree.stats().compression_ratio();
            assert!(
                ratio.is_some_and(|r| r > 1.1),
                "{commits_before} commits before: {ratio:?}"
            );
            check(&tree, &model);
            drop(tree);
            check(&open(dir, Compression::None), &model);
        }
    }

    #[test]
    fn a_compressed_tree_matches_a_model_across_reopens_compactions_and_switches() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path();
        let mut model = BTreeMap::new();
        let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
        // Rounds alternate: compressed, compressed, plain, compressed (a plain round's
        // segments and snapshot are read back by compressed ones, and the other way round).
        for (round, compression) in [
            Compression::Lz4,
            Compression::Lz4,
            Compression::None,
            Compression::Lz4,
        ]
        .into_iter()
        .enumerate()
        {
            let round = round as u64;
            let tree = open(dir, compression);
            check(&tree, &model);
            for step in 0..300u64 {
                match rng.below(10) {
                    0..=5 => {
                        let i = rng.below(200);
                        let (k, v) = (format!("k{i:04}"), value(i, round));
                        tree.stash(&k, v.as_bytes()).unwrap();
                        model.insert(k, v);
                    }
                    6 => {
                        let k = format!("k{:04}", rng.below(200));
                        tree.toss(&k).unwrap();
                        model.remove(&k);
                    }
                    7 | 8 => {
                        let mut b = tree.batch();
                        for _ in 0..rng.below(20) + 1 {
                            let i = rng.below(200);
                            let (k, v) = (format!("k{i:04}"), value(i, round + step));
                            b.stash(&k, v.as_bytes());
                            model.insert(k, v);
                        }
                        b.commit().unwrap();
                    }
                    _ => tree.compact().unwrap(),
                }
            }
            check(&tree, &model);
            let stats = tree.stats();
            if compression == Compression::Lz4 {
                let ratio = stats.compression_ratio().unwrap();
                assert!(ratio > 1.5, "ratio {ratio} ({stats:?})");
                assert!(stats.compressed_stored_bytes < stats.compressed_raw_bytes);
            } else {
                assert_eq!(stats.compression_ratio(), None);
            }
            // The change feed reads compressed frames back too.
            let since = stats.version.saturating_sub(5);
            if let Ok(feed) = tree.changes_since(since) {
                let changes: Vec<Change> = feed.collect();
                assert!(changes.iter().all(|c| c.version() > since));
            }
            drop(tree);
            let tree = open(dir, compression);
            check(&tree, &model);
            // A read-only open beside nothing reads the same.
            check(&Tree::open_read_only(dir).unwrap(), &model);
        }
    }

    /// The bytes of the first compressed commit frame (tag `Z`) in a segment, as
    /// (frame start, frame length).
    fn compressed_frame(data: &[u8]) -> Option<(usize, usize)> {
        let mut at = 0;
        while at + 12 <= data.len() {
            let len = u32::from_le_bytes(data[at..at + 4].try_into().unwrap()) as usize;
            if data.get(at + 12) == Some(&b'Z') {
                return Some((at, 12 + len));
            }
            at += 12 + len;
        }
        None
    }

    fn segments(dir: &Path) -> Vec<PathBuf> {
        let mut out: Vec<PathBuf> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.file_name().unwrap().to_string_lossy().starts_with("wal-"))
            .collect();
        out.sort();
        out
    }

    #[test]
    fn a_flipped_bit_in_a_compressed_frame_is_corrupt_and_salvage_keeps_what_came_before() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path();
        let tree = open(dir, Compression::Lz4);
        for i in 0..30u64 {
            tree.stash(format!("k{i:03}"), value(i, 0)).unwrap();
        }
        drop(tree);
        let seg = segments(dir).pop().unwrap();
        let data = std::fs::read(&seg).unwrap();
        // The 11th commit's frame: compressed (its value repeats itself).
        let mut at = 0;
        let mut found = Vec::new();
        while let Some((start, len)) = compressed_frame(&data[at..]) {
            found.push((at + start, len));
            at += start + len;
        }
        assert_eq!(found.len(), 30, "every commit compressed");
        let (start, len) = found[10];
        for bit in [8 * 20, 8 * (len - 13) + 3] {
            let mut bad = data.clone();
            bad[start + bit / 8] ^= 1 << (bit % 8);
            std::fs::write(&seg, &bad).unwrap();
            match Tree::open(dir) {
                Err(Error::Corrupt { path, offset, .. }) => {
                    assert_eq!(path, seg);
                    assert_eq!(offset, start as u64);
                }
                other => panic!("{:?}", other.map(|t| t.stats())),
            }
            let saved = tempfile::tempdir().unwrap();
            let copy = saved.path().join("t");
            std::fs::create_dir(&copy).unwrap();
            for f in files(dir) {
                std::fs::write(copy.join(f.0), f.1).unwrap();
            }
            let salvaged = Tree::builder()
                .path(&copy)
                .recovery(RecoveryMode::Salvage)
                .compression(Compression::Lz4)
                .open()
                .unwrap();
            // The ten commits before the damage, and the nineteen after it (read on past
            // the damaged frame: its header is intact).
            assert_eq!(salvaged.len(), 29, "every commit but the damaged one");
            assert_eq!(
                salvaged.crack("k009").unwrap().unwrap().value,
                value(9, 0).as_bytes()
            );
            assert!(salvaged.crack("k010").unwrap().is_none());
            assert!(!salvaged.stats().salvage_report.is_empty());
            drop(salvaged);
            assert_eq!(Tree::open(&copy).unwrap().len(), 29, "strict after salvage");
        }
    }

    /// Salvage of a segment with one damaged commit frame in the middle (its frame header
    /// intact, so where the next frame starts is known), plain or compressed: the commits
    /// after it are read on and kept, and the report names exactly the one version
    /// dropped. Before, the rest of the segment was dropped ("how many is unknown").
    #[test]
    fn salvage_keeps_the_commits_after_a_damaged_frame_in_a_segment() {
        for compression in [Compression::None, Compression::Lz4] {
            let tmp = tempfile::tempdir().unwrap();
            let dir = tmp.path();
            let tree = open(dir, compression);
            for i in 0..30u64 {
                tree.stash(format!("k{i:03}"), value(i, 0)).unwrap();
            }
            drop(tree);
            let seg = segments(dir).pop().unwrap();
            let mut data = std::fs::read(&seg).unwrap();
            // Frames: the header, then one per commit; damage the 11th commit's payload.
            let mut starts = Vec::new();
            let mut at = 0;
            while at < data.len() {
                starts.push(at);
                at += 12 + u32::from_le_bytes(data[at..at + 4].try_into().unwrap()) as usize;
            }
            assert_eq!(starts.len(), 31);
            data[starts[11] + 20] ^= 0x08;
            std::fs::write(&seg, &data).unwrap();
            assert!(matches!(Tree::open(dir), Err(Error::Corrupt { .. })));
            let salvaged = Tree::builder()
                .path(dir)
                .recovery(RecoveryMode::Salvage)
                .open()
                .unwrap();
            let stats = salvaged.stats();
            let report = stats.salvage_report.join("\n");
            assert_eq!(salvaged.len(), 29, "{compression:?}: {report}");
            assert!(salvaged.crack("k010").unwrap().is_none());
            for i in (0..30u64).filter(|i| *i != 10) {
                assert_eq!(
                    salvaged.crack(format!("k{i:03}")).unwrap().unwrap().value,
                    value(i, 0).as_bytes(),
                    "{compression:?}"
                );
            }
            assert_eq!(stats.salvaged_versions_dropped, 1, "{report}");
            assert!(report.contains("dropped versions 11..=11"), "{report}");
            assert!(!report.contains("how many is unknown"), "{report}");
            assert_eq!(
                stats.salvaged_bytes_dropped,
                (starts[12] - starts[11]) as u64
            );
            drop(salvaged);
            assert_eq!(Tree::open(dir).unwrap().len(), 29, "strict after salvage");
        }
    }

    #[test]
    fn a_flipped_bit_in_a_compressed_snapshot_chunk_is_corrupt() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path();
        let tree = open(dir, Compression::Lz4);
        for i in 0..2000u64 {
            tree.stash(format!("k{i:05}"), value(i, 0)).unwrap();
        }
        tree.compact().unwrap();
        let stats = tree.stats();
        assert!(stats.compression_ratio().unwrap() > 1.5, "{stats:?}");
        drop(tree);
        let snap = dir.join("snapshot.acorn");
        let data = std::fs::read(&snap).unwrap();
        // The head frame, then the first records frame: compressed (`Q`).
        let head = 12 + u32::from_le_bytes(data[0..4].try_into().unwrap()) as usize;
        assert_eq!(data[head + 12], b'Q');
        let chunk = u32::from_le_bytes(data[head..head + 4].try_into().unwrap()) as usize;
        assert!(chunk < 2000 * 100, "compressed chunk of {chunk} bytes");
        let mut bad = data.clone();
        bad[head + 12 + chunk / 2] ^= 0x10;
        std::fs::write(&snap, &bad).unwrap();
        match Tree::open(dir) {
            Err(Error::Corrupt { path, .. }) => assert_eq!(path, snap),
            other => panic!("{:?}", other.map(|t| t.stats())),
        }
        std::fs::write(&snap, &data).unwrap();
        assert_eq!(Tree::open(dir).unwrap().len(), 2000);
    }

    /// Salvage of a snapshot with one damaged records chunk (its frame header intact, so
    /// its length is known) keeps every record of the chunks around it, plain or
    /// compressed, and says exactly how many it dropped (the end frame declares the
    /// total); before, it stopped at the damage and dropped the readable chunks after it
    /// too, "an unknown number".
    #[test]
    fn salvage_of_a_snapshot_with_a_damaged_chunk_keeps_the_chunks_after_it() {
        for compression in [Compression::None, Compression::Lz4] {
            let tmp = tempfile::tempdir().unwrap();
            let dir = tmp.path();
            let tree = open(dir, compression);
            let n = 6000u64;
            let mut model = BTreeMap::new();
            for i in 0..n {
                tree.stash(format!("k{i:05}"), value(i, 0)).unwrap();
                model.insert(format!("k{i:05}"), value(i, 0));
            }
            tree.compact().unwrap();
            drop(tree);
            let snap = dir.join("snapshot.acorn");
            let data = std::fs::read(&snap).unwrap();
            // Frames: head, records chunks, end.
            let mut frames = Vec::new();
            let mut at = 0;
            while at < data.len() {
                let len = u32::from_le_bytes(data[at..at + 4].try_into().unwrap()) as usize;
                frames.push((at, len));
                at += 12 + len;
            }
            assert!(frames.len() >= 5, "at least 3 chunks: {frames:?}");
            let (start, len) = frames[2];
            let mut bad = data.clone();
            bad[start + 12 + len / 2] ^= 0x10;
            std::fs::write(&snap, &bad).unwrap();
            match Tree::open(dir) {
                Err(Error::Corrupt { path, offset, .. }) => {
                    assert_eq!((path, offset), (snap.clone(), start as u64))
                }
                other => panic!("{:?}", other.map(|t| t.stats())),
            }
            let salvaged = Tree::builder()
                .path(dir)
                .recovery(RecoveryMode::Salvage)
                .compression(compression)
                .open()
                .unwrap();
            let kept = contents(&salvaged);
            let lost = n - kept.len() as u64;
            assert!(
                lost > 0 && lost < n / 2,
                "{compression:?}: lost {lost} of {n}"
            );
            for (k, v) in &kept {
                assert_eq!(model.get(k), Some(v), "{compression:?}: {k}");
            }
            assert!(
                kept.contains_key(&format!("k{:05}", n - 1)),
                "{compression:?}: the chunks after the damaged one are kept"
            );
            let stats = salvaged.stats();
            assert!(
                stats.salvage_report[0].contains(&format!("dropped {lost} of its {n} records")),
                "{compression:?}: {:?}",
                stats.salvage_report
            );
            assert_eq!(stats.salvaged_bytes_dropped, (12 + len) as u64);
            drop(salvaged);
            assert_eq!(
                Tree::open(dir).unwrap().len(),
                kept.len(),
                "strict after salvage"
            );
        }
    }

    #[test]
    fn the_fixture_written_with_compression_opens_here() {
        let (_tmp, dir) = fixture();
        let tree = Tree::open(&dir).unwrap();
        assert_eq!(tree.stats().version, 60);
        assert_eq!(tree.len(), 60);
        for i in 0..60u64 {
            assert_eq!(
                tree.crack(format!("k{i:03}")).unwrap().unwrap().value,
                value(i, 0).as_bytes()
            );
        }
    }

    #[test]
    fn a_never_tree_buffers_compressed_frames_and_reads_them_back() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("tree");
        let mut model = BTreeMap::new();
        {
            // The frames wait in the log's buffer, compressed, and are written together.
            let tree = Tree::builder()
                .path(&dir)
                .sync(SyncPolicy::Never)
                .log_buffer(1 << 20, std::time::Duration::from_secs(3600))
                .compression(Compression::Lz4)
                .open()
                .unwrap();
            for i in 0..300u64 {
                tree.stash(format!("k{i:04}"), value(i, 1)).unwrap();
                model.insert(format!("k{i:04}"), value(i, 1));
            }
            let stats = tree.stats();
            assert!(
                stats.compressed_stored_bytes < stats.compressed_raw_bytes,
                "{stats:?}"
            );
            // The feed and a checkpoint write the buffer out first and read it back.
            assert_eq!(tree.changes_since(0).unwrap().count(), 300);
            for i in 300..400u64 {
                tree.stash(format!("k{i:04}"), value(i, 1)).unwrap();
                model.insert(format!("k{i:04}"), value(i, 1));
            }
            let version = tree.checkpoint(tmp.path().join("copy")).unwrap();
            assert_eq!(version, 400);
            let copy = Tree::open(tmp.path().join("copy")).unwrap();
            assert_eq!(copy.stats().version, 400);
            check(&copy, &model);
            for i in 400..450u64 {
                tree.stash(format!("k{i:04}"), value(i, 2)).unwrap();
                model.insert(format!("k{i:04}"), value(i, 2));
            }
            // Dropped with 50 commits in the buffer: written out at the close.
        }
        let tree = open(&dir, Compression::Lz4);
        assert_eq!(tree.stats().version, 450);
        check(&tree, &model);
        let replayed = tree.changes_since(0).unwrap();
        assert_eq!(replayed.count(), 450);
    }
}
