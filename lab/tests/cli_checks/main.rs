//! `lab` refuses what would waste a run before running anything (an unwritable output, two
//! workloads in one directory, a name that is a path, a dataset that cannot fit in memory,
//! a `rate` too low to mean anything, a bad `--variants` list), stops within a second of
//! Ctrl-C (loading included) with only finished phases in its partial results, and reports
//! progress without a terminal. Every check runs the real binary (assert_cmd); no
//! assertion depends on how fast this machine is: the time limits are there so that a
//! check that came too late fails instead of hanging.

#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "../common/mod.rs"]
mod common;

use common::{catches_sigint, workload};
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command as StdCommand, Stdio};
use std::time::{Duration, Instant};

use acorn_reports::Results;
use assert_cmd::Command;
use predicates::prelude::*;

mod exclusive;
mod interrupts;
mod output;
mod refusals;

/// `lab` run from the repository root, with a time limit so a late check cannot hang.
fn lab() -> Command {
    let mut c = Command::cargo_bin("lab").unwrap();
    c.current_dir(Path::new(env!("CARGO_MANIFEST_DIR")).join(".."))
        .timeout(Duration::from_secs(60));
    c
}

/// A tiny noop workload named `name`; `run` is extra `[run]` keys.
fn noop(name: &str, run: &str) -> String {
    format!(
        "name = \"{name}\"\nvariants = [\"noop\"]\n[dataset]\nrecords = 10\n[run]\nwarmup = \"0s\"\nrepeats = 1\n{run}\n[mix]\nread = 100\n"
    )
}

/// Waits for `child` up to `limit`; kills it and fails when it is still running.
fn exits_within(mut child: std::process::Child, limit: Duration) -> std::process::Output {
    let start = Instant::now();
    while child.try_wait().unwrap().is_none() {
        if start.elapsed() > limit {
            child.kill().unwrap();
            panic!("lab was still running {limit:?} after Ctrl-C");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    child.wait_with_output().unwrap()
}
