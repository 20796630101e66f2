//! "Process killed (`kill -9`, panic, OOM): every acknowledged write, under every
//! `SyncPolicy` (the OS holds what was written). A last commit cut mid-write is dropped at
//! the next open and counted in `stats().torn_bytes_dropped`; it was never acknowledged."
//!
//! Killed for real: `tests/crash/` (its own binary, `harness = false`) kills child
//! processes with SIGKILL while they commit under `Always` and `Group` and compact, and
//! while a compaction is held at each of its steps with at least two segments on disk;
//! every acknowledged batch must be there, whole, after each kill (`scripts/soak.sh` runs
//! it for minutes). A commit cut at every byte of the last three frames:
//! `tests/durable.rs::a_torn_tail_at_every_byte_recovers_exactly_the_complete_frames`.
//! What is and is not a torn tail (bytes all present but wrong are damage):
//! `damaged_files`.

use std::fs;

use crate::support::*;

/// The torn tail is cut off, counted, and logged with the file, offset and bytes.
#[test]
fn a_torn_tail_is_cut_counted_and_logged() {
    let dir = tempfile::tempdir().unwrap();
    {
        let tree = open_never(dir.path());
        stash_versions(&tree, 1..=5);
    }
    let seg = segments(dir.path()).pop().unwrap();
    let data = fs::read(&seg).unwrap();
    fs::write(&seg, &data[..data.len() - 7]).unwrap();
    let start = crate::damage::frame_starts(&data).pop().unwrap();
    let torn = (data.len() - 7 - start) as u64;
    let (tree, lines) = capture_logs(|| acorn::Tree::open(dir.path()).unwrap());
    assert_eq!(versions_held(&tree), (1..=4).collect());
    assert_eq!(tree.stats().torn_bytes_dropped, torn);
    let name = seg.file_name().unwrap().to_str().unwrap();
    assert!(
        lines.iter().any(|l| l.starts_with("WARN")
            && l.contains(name)
            && l.contains(&format!("{torn} bytes"))
            && l.contains(&format!("byte {start}"))),
        "no log line says what was dropped: {lines:?}"
    );
    // Cut once: the next open drops nothing.
    drop(tree);
    let (tree, lines) = capture_logs(|| acorn::Tree::open(dir.path()).unwrap());
    assert_eq!(tree.stats().torn_bytes_dropped, 0);
    assert!(lines.is_empty(), "{lines:?}");
}
