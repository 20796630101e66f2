//! "Directory deleted, moved or replaced while open: noticed at the next fsync (`Always`,
//! `Group`), `flush()` or compaction; the tree then refuses writes with `Error::Io` saying
//! so, instead of acknowledging writes into a file nobody will read."

use std::fs;

use acorn::Tree;

use crate::support::open_never;

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
