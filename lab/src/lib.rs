//! AcornLab: a performance lab for the `acorn` engine and the stores people would pick
//! instead. The pipeline reads in one direction: workload spec → plan → runner →
//! measurements → results → report.

#![warn(clippy::too_many_lines)]

pub mod ab;
pub mod backend;
pub mod budget;
pub mod cli;
pub mod commands;
pub mod doc;
pub mod error;
pub mod formats;
pub mod machine;
pub mod measure;
pub mod output;
pub mod per_measure;
pub mod progress;
pub mod runner;
pub mod workload;

// The library's own unit tests count sync calls as `lab` does (measure/syncs.rs).
#[cfg(test)]
count_sync_calls!();
