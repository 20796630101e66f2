//! Workload files: spec (TOML as written) → plan (validated) → key distributions and the
//! seeded operation stream.

pub mod keys;
pub mod ops;
pub mod plan;
pub mod spec;

pub use ops::{Op, OpKind, OpStream};
pub use plan::{Bound, Mode, Plan, Target, WorkloadError};
