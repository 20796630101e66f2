//! Writes from a thread-local destructor (a per-thread buffer flushed into the tree when
//! its thread ends): the engine's own per-thread scratch buffers may already be gone by
//! then, and a write must still work instead of aborting the process. The scenario runs
//! in a child process (this binary again), because an abort would end the test harness.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::cell::RefCell;
use std::process::Command;

use acorn::{Json, Tree};

const CHILD: &str = "ACORN_THREAD_EXIT_CHILD";

/// Flushes into the tree when the thread's locals are torn down.
struct FlushOnExit(Option<Tree>);

impl Drop for FlushOnExit {
    fn drop(&mut self) {
        if let Some(tree) = &self.0 {
            tree.stash("raw", b"flushed").unwrap();
            tree.typed::<Vec<u32>, Json>()
                .stash("typed", &vec![1, 2, 3])
                .unwrap();
            let mut b = tree.batch();
            b.stash("batched", b"flushed");
            b.commit().unwrap();
        }
    }
}

thread_local! {
    static BUFFER: RefCell<FlushOnExit> = const { RefCell::new(FlushOnExit(None)) };
}

fn scenario() {
    let tree = Tree::open_memory();
    let handle = tree.clone();
    std::thread::spawn(move || {
        // Registered first, so torn down after the engine's locals registered below.
        BUFFER.with(|b| b.borrow_mut().0 = Some(handle.clone()));
        handle.stash("warm", b"up").unwrap();
        handle
            .typed::<Vec<u32>, Json>()
            .stash("warm-typed", &vec![0])
            .unwrap();
    })
    .join()
    .unwrap();
    assert_eq!(tree.crack("raw").unwrap().unwrap().value, b"flushed");
    assert_eq!(tree.crack("batched").unwrap().unwrap().value, b"flushed");
    let typed = tree.typed::<Vec<u32>, Json>().crack("typed").unwrap();
    assert_eq!(typed, Some(vec![1, 2, 3]));
    println!("child: flushed on exit");
}

#[test]
fn a_thread_local_destructor_can_write_to_the_tree() {
    if std::env::var_os(CHILD).is_some() {
        scenario();
        return;
    }
    let out = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "a_thread_local_destructor_can_write_to_the_tree",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD, "1")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success() && stdout.contains("child: flushed on exit"),
        "child {:?}\nstdout:\n{stdout}\nstderr:\n{stderr}",
        out.status
    );
}
