//! The fuzz target's property, run by proptest in every test run: arbitrary or mangled
//! log and snapshot bytes decode without panicking, and opening a directory holding them
//! gives a tree or `Error::Corrupt`, never a crash or another error.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::fs;

use acorn::{Error, SyncPolicy, Tree};
use proptest::prelude::*;

#[path = "common/trees.rs"]
mod trees;

/// A valid log segment and snapshot to mangle.
fn valid_files() -> (String, Vec<u8>, Vec<u8>) {
    let dir = tempfile::tempdir().unwrap();
    {
        let tree = trees::durable(dir.path(), SyncPolicy::Never);
        for i in 0..20 {
            tree.stash(format!("k{i}"), format!("value-{i}")).unwrap();
        }
        tree.compact().unwrap();
        let mut b = tree.batch();
        b.stash("x", b"1")
            .toss("k3")
            .stash_with_ttl("t", b"2", std::time::Duration::from_secs(60));
        b.commit().unwrap();
    }
    let mut seg = None;
    for e in fs::read_dir(dir.path()).unwrap() {
        let p = e.unwrap().path();
        if p.file_name().unwrap().to_str().unwrap().starts_with("wal-") {
            seg = Some(p);
        }
    }
    let seg = seg.unwrap();
    let name = seg.file_name().unwrap().to_str().unwrap().to_string();
    (
        name,
        fs::read(seg).unwrap(),
        fs::read(dir.path().join("snapshot.acorn")).unwrap(),
    )
}

fn mangle(mut data: Vec<u8>, edits: &[(usize, u8)], cut: Option<usize>) -> Vec<u8> {
    for (at, x) in edits {
        if !data.is_empty() {
            let i = at % data.len();
            data[i] ^= x;
        }
    }
    if let Some(c) = cut {
        data.truncate(c % (data.len() + 1));
    }
    data
}

fn open_never_panics(name: &str, seg: &[u8], snap: &[u8]) {
    let dir = tempfile::tempdir().unwrap();
    fs::write(dir.path().join(name), seg).unwrap();
    fs::write(dir.path().join("snapshot.acorn"), snap).unwrap();
    match Tree::open(dir.path()) {
        Ok(tree) => {
            // Whatever opened must be internally consistent.
            let n = tree.iter().count();
            assert_eq!(n, tree.len());
        }
        Err(Error::Corrupt { .. }) => {}
        Err(other) => panic!("expected a tree or Corrupt, got {other:?}"),
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn arbitrary_bytes_decode_without_panicking(data in proptest::collection::vec(any::<u8>(), 0..2048)) {
        acorn::fuzz_decode(&data);
    }

    #[test]
    fn mangled_files_open_or_report_corruption(
        seg_edits in proptest::collection::vec((any::<usize>(), 1u8..), 0..4),
        snap_edits in proptest::collection::vec((any::<usize>(), 1u8..), 0..3),
        seg_cut in proptest::option::of(any::<usize>()),
        snap_cut in proptest::option::weighted(0.2, any::<usize>()),
    ) {
        let (name, seg, snap) = valid_files();
        let seg = mangle(seg, &seg_edits, seg_cut);
        let snap = mangle(snap, &snap_edits, snap_cut);
        acorn::fuzz_decode(&seg);
        acorn::fuzz_decode(&snap);
        open_never_panics(&name, &seg, &snap);
    }
}
