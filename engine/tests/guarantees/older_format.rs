//! "A directory written by an older acorn": format 2 (before segments were sealed) opens
//! and is rewritten in the current format at once; format 1 is `Error::UnsupportedFormat`
//! (unit tests in `storage/recovery`).
//!
//! The fixtures in `tests/fixtures/format2-*` were written by acorn at format 2 (the commit
//! before the format changed), with `stash_versions`'s keys: `format2-torn-tail` (20
//! commits, then half of commit 21), `format2-two-segments` (snapshot at 10, a compaction
//! that failed after cutting the log at 20, commits to 30), `format2-leftover` (snapshot at
//! 20 with the segment it covers still there, commits to 25).

use std::fs;
use std::path::Path;

use acorn::Tree;

use crate::support::*;

/// The format a segment's or snapshot's header declares.
fn format_of(path: &Path) -> u32 {
    let data = fs::read(path).unwrap();
    // [frame header 12][tag 1][magic 13 or 14][format u32]
    let magic = if data[12] == b'W' { 13 } else { 14 };
    let at = 12 + 1 + magic;
    u32::from_le_bytes(data[at..at + 4].try_into().unwrap())
}

/// A copy of the fixture `name` (opening converts a directory: never the original).
fn fixture(name: &str) -> tempfile::TempDir {
    copy_dir(
        &Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures")
            .join(name),
    )
}

#[test]
fn format_2_directories_open_and_are_rewritten_in_the_current_format() {
    for (name, last, torn) in [
        ("format2-torn-tail", 20, true),
        ("format2-two-segments", 30, false),
        ("format2-leftover", 25, false),
    ] {
        let dir = fixture(name);
        assert!(segments(dir.path()).iter().all(|s| format_of(s) == 2));
        let tree = Tree::open(dir.path()).unwrap();
        assert_eq!(versions_held(&tree), (1..=last).collect(), "{name}");
        assert_eq!(tree.stats().torn_bytes_dropped > 0, torn, "{name}");
        // One snapshot and one empty segment, both of the current format.
        assert_eq!(
            segments(dir.path()),
            [segment(dir.path(), last + 1)],
            "{name}"
        );
        assert_eq!(format_of(&segment(dir.path(), last + 1)), 3, "{name}");
        assert_eq!(format_of(&dir.path().join("snapshot.acorn")), 3, "{name}");
        stash_versions(&tree, last + 1..=last + 5);
        drop(tree);
        let tree = Tree::open(dir.path()).unwrap();
        assert_eq!(versions_held(&tree), (1..=last + 5).collect(), "{name}");
    }
}

/// Once rewritten, the directory has the current format's proof: after a compaction that
/// stopped after cutting the log, deleting the newest segment is noticed.
#[test]
fn a_rewritten_format_2_directory_notices_a_deleted_newest_segment() {
    let dir = fixture("format2-two-segments");
    let tree = open_never(dir.path());
    stash_versions(&tree, 31..=35);
    let blocked = block(dir.path(), "snapshot.tmp");
    assert!(tree.compact().is_err());
    stash_versions(&tree, 36..=40);
    drop(tree);
    fs::remove_dir_all(blocked).unwrap();
    assert_eq!(
        segments(dir.path()),
        [segment(dir.path(), 31), segment(dir.path(), 36)]
    );
    let newest = segment(dir.path(), 36);
    fs::remove_file(&newest).unwrap();
    assert_corrupt(Tree::open(dir.path()), &newest, "36");
}
