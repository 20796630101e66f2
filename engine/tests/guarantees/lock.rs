//! "`LOCK` deleted under a running writer: the directory itself stays locked; a second open,
//! in any process, is still `Error::Locked`." Across processes: `tests/crash/` deletes
//! `LOCK` under each child it kills and tries a second open from the parent.

use std::fs;

use acorn::{Error, Tree};

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
