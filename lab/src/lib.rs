//! AcornLab: a performance lab for the `acorn` engine and the stores people would pick
//! instead. The pipeline reads in one direction: workload spec → plan → runner →
//! measurements → results → report.

pub mod backend;
pub mod doc;
pub mod measure;

/// What `lab run` says until the runner lands.
pub const NOT_YET: &str =
    "lab run: the workload runner is not built yet (see the lab runner issue); \
the engine benches run with `cargo bench -p acorn`";
