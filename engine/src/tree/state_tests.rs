//! `NoUnwind` (in `state.rs`): a panic while applying a commit aborts the process.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::os::unix::process::ExitStatusExt;
use std::process::Command;

const CHILD: &str = "ACORN_NO_UNWIND_CHILD";

#[test]
fn a_panic_under_no_unwind_aborts_the_process() {
    if std::env::var_os(CHILD).is_some() {
        let _whole = super::NoUnwind;
        panic!("a panic half way through applying");
    }
    // Run this test again in a child, where it panics under the guard: the child must
    // die of SIGABRT (an unwind would end the test with exit code 101 instead).
    let out = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "tree::state::tests::a_panic_under_no_unwind_aborts_the_process",
            "--test-threads=1",
            "--nocapture",
        ])
        .env(CHILD, "1")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.signal(), Some(6), "{:?}: {stderr}", out.status);
    assert!(stderr.contains("aborting rather than leaving"), "{stderr}");
}
