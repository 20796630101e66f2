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

/// A child process copies every open file of its parent when it is forked and closes
/// them (all opened close-on-exec) only when it runs its program. A tree dropped in that
/// gap is still locked through the child's copy: the lock belongs to the open file, not to
/// the process. A reopen right after the drop must not fail for it (CI saw `Locked` when a
/// test spawned a child beside one that dropped and reopened its tree).
#[cfg(unix)]
#[test]
fn a_tree_dropped_while_another_thread_spawns_a_process_reopens() {
    use std::os::unix::process::CommandExt;
    use std::process::Command;
    use std::time::Duration;

    let dir = tempfile::tempdir().unwrap();
    let tree = Tree::open(dir.path()).unwrap();
    tree.stash("a", b"1").unwrap();
    let spawner = std::thread::spawn(|| {
        let mut child = Command::new("true");
        // The gap between fork and exec, widened on purpose: the child sleeps in it.
        #[allow(unsafe_code)]
        // SAFETY: the closure only sleeps (nanosleep is async-signal-safe).
        unsafe {
            child.pre_exec(|| {
                std::thread::sleep(Duration::from_millis(400));
                Ok(())
            });
        }
        child.status().unwrap()
    });
    // The fork happens at once; the child then holds its copies for 400 ms.
    std::thread::sleep(Duration::from_millis(100));
    drop(tree);
    let tree = Tree::open(dir.path()).expect("a reopen right after the drop");
    assert_eq!(tree.crack("a").unwrap().unwrap().value.as_ref(), b"1");
    assert!(spawner.join().unwrap().success());
}
