//! Results of AcornLab runs: the versioned `results.json` schema, summaries (throughput
//! spread, latency percentiles from merged HDR histograms), target verdicts, and the
//! terminal table. Reports read results; they never call the runner.

#![warn(clippy::too_many_lines)]

pub mod ab;
pub mod charts;
pub mod compare;
pub mod counts;
pub mod estimate;
pub mod export;
pub mod format;
pub mod html;
pub mod instructions;
pub mod merge;
pub mod op;
pub mod paired;
pub mod plan;
pub mod results;
pub mod stats;
pub mod storage;
pub mod sweep;
pub mod table;
pub mod targets;
pub mod verdict;
pub mod winners;

pub use counts::Measure;
pub use op::OpKind;
pub use results::{
    Histogram, Machine, OpResult, Results, ResultsError, RunResult, TargetStatus, TargetVerdict,
    VariantSummary, SCHEMA_VERSION,
};
