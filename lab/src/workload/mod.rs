//! Workload files: spec (TOML as written) → sections (each table validated by its own
//! constructor) → plan → key distributions and the seeded operation stream.

mod context;
pub mod keys;
pub mod ops;
pub mod plan;
pub mod sections;
pub mod spec;

pub use acorn_reports::OpKind;
pub use context::WorkloadError;
pub use ops::{Op, OpStream, StreamSpec};
pub use plan::Plan;
pub use sections::{Bound, CacheSettings, Dataset, Mix, Mode, RunSettings, DEFAULT_VARIANTS};
