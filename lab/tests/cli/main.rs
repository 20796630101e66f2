//! The `lab` binary end to end: the smoke workload over every backend, and every exit code
//! of the table in `lab --help` (0 ok, 1 target missed, 2 bad input, 3 store failed,
//! 4 unwritable output, 130 interrupted) with messages that name the file.

#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "../common/mod.rs"]
mod common;

use common::{catches_sigint, lab, run_quiet, text, workload};
use std::path::{Path, PathBuf};
use std::process::Command;

use acorn_reports::Results;

mod compare;
mod exit_codes;
mod reports;
mod smoke;
