//! What can end a `lab` command, and the one table that maps each outcome to an exit code.
//!
//! | code | meaning |
//! |---|---|
//! | 0 | success: every target held, no regression |
//! | 1 | a target was missed, or `compare` or `ab` found a regression |
//! | 2 | bad input: a workload file, an argument, a results or targets file, or a tool an argument needs (valgrind for `--measure instructions`) is missing |
//! | 3 | a store failed while running (opening, loading or an operation the run cannot go on without) |
//! | 4 | output could not be written (results, report, targets table, merged file) |
//! | 130 | interrupted (Ctrl-C); finished phases were written as partial results |

use std::path::{Path, PathBuf};

use crate::backend::BackendError;
use crate::workload::WorkloadError;

/// The exit-code table, as `lab --help` prints it.
pub const EXIT_CODES: &str = "\
Exit codes:
  0    success: every target held, no regression
  1    a target was missed, or `compare` or `ab` found a regression
  2    bad input: a workload file, an argument, a results or targets file,
       or a missing tool (valgrind for --measure instructions)
  3    a store failed while running
  4    output could not be written (results, report, targets table)
  130  interrupted (Ctrl-C); finished phases were written as partial results";

/// A command that could not do its job.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LabError {
    /// A workload file is invalid.
    #[error("{0}")]
    Workload(#[from] WorkloadError),
    /// An argument, a results file or a targets file is unusable.
    #[error("{0}")]
    BadInput(String),
    /// A store failed during a run.
    #[error("{file}: {source}")]
    Store { file: PathBuf, source: BackendError },
    /// A variant's counted process (under callgrind) failed or left no usable counts.
    #[error("{file}: {message}")]
    Counted { file: PathBuf, message: String },
    /// A `lab ab` worker process failed while running (its stderr is in the message).
    #[error("{0}")]
    AbWorker(String),
    /// A file could not be written.
    #[error("cannot write {path}: {reason}")]
    Output { path: PathBuf, reason: String },
}

impl LabError {
    /// An unwritable output file.
    pub fn output(path: &Path, reason: impl std::fmt::Display) -> Self {
        LabError::Output {
            path: path.to_path_buf(),
            reason: reason.to_string(),
        }
    }

    /// This error's exit code (see the module table).
    pub fn exit_code(&self) -> u8 {
        match self {
            LabError::Workload(_) | LabError::BadInput(_) => Exit::BadInput.code(),
            LabError::Store { .. } | LabError::Counted { .. } | LabError::AbWorker(_) => {
                Exit::StoreFailed.code()
            }
            LabError::Output { .. } => Exit::OutputFailed.code(),
        }
    }
}

/// How a command that ran to its end turned out.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Exit {
    Success,
    /// A target was missed or a regression found.
    Failed,
    BadInput,
    StoreFailed,
    OutputFailed,
    Interrupted,
}

impl Exit {
    /// The process exit code (see the module table).
    pub fn code(self) -> u8 {
        match self {
            Exit::Success => 0,
            Exit::Failed => 1,
            Exit::BadInput => 2,
            Exit::StoreFailed => 3,
            Exit::OutputFailed => 4,
            Exit::Interrupted => 130,
        }
    }
}
