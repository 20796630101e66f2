//! What each `lab` command does, one file per command (`main` parses with `cli.rs` and
//! calls the one it names). Each returns how it turned out ([`Exit`]) or why it could not
//! do its job ([`LabError`]); `main` turns either into the exit code. This file holds
//! only what several commands share: reading results and workload files, `--variants`,
//! the Ctrl-C flag.

mod ab;
mod compare;
mod count;
mod inspect;
mod merge;
mod report;
mod run;
mod sweep;

use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use acorn_reports::Results;

use crate::error::{Exit, LabError};
use crate::runner::{self, RunOptions};
use crate::workload::sections::variants_from_cli;
use crate::workload::Plan;

pub use ab::{ab, worker};
pub use compare::compare;
pub use count::count;
// `backend/toy.rs` reads `lab list`'s lines in its tests.
#[cfg(test)]
pub(crate) use inspect::backend_list;
pub use inspect::{list, sample, validate};
pub use merge::merge;
pub use report::report;
pub use run::run;
pub use sweep::sweep;

fn load_results(path: &Path) -> Result<Results, LabError> {
    Results::load(path).map_err(|e| LabError::BadInput(e.to_string()))
}

/// Loads a workload file (TOML or YCSB properties) and prints its warnings.
fn load_plan(path: &Path) -> Result<Plan, LabError> {
    let plan = Plan::load(path)?;
    for w in &plan.warnings {
        eprintln!("{w}");
    }
    Ok(plan)
}

/// A workload file with `--variants` applied (`lab ab`, `lab sweep`).
fn load_plan_for(path: &Path, variants: Option<&[String]>) -> Result<Plan, LabError> {
    let plan = load_plan(path)?;
    let opts = RunOptions {
        variants: variants_arg(variants)?,
        ..RunOptions::default()
    };
    runner::adjust(&plan, &opts).map_err(|e| LabError::BadInput(e.to_string()))
}

/// Sets a handler so the first Ctrl-C stops the run (within a second, loading included)
/// and writes the phases that finished; the second quits at once.
fn interrupt_flag() -> Arc<AtomicBool> {
    let stop = Arc::new(AtomicBool::new(false));
    let flag = Arc::clone(&stop);
    let _ = ctrlc::set_handler(move || {
        if flag.swap(true, Ordering::SeqCst) {
            std::process::exit(i32::from(Exit::Interrupted.code()));
        }
        eprintln!(
            "\ninterrupted: stopping, and writing the phases that finished as partial results \
             (Ctrl-C again to quit now)"
        );
    });
    stop
}

/// The same workload's results in the other measure, if `path` holds them.
fn other_view(path: &Path, results: &Results) -> Option<Results> {
    let other = Results::load(path).ok()?;
    (other.workload == results.workload && other.measure != results.measure).then_some(other)
}

/// `--variants` checked (trimmed, no duplicates, known names).
fn variants_arg(given: Option<&[String]>) -> Result<Option<Vec<String>>, LabError> {
    given
        .map(variants_from_cli)
        .transpose()
        .map_err(LabError::BadInput)
}
