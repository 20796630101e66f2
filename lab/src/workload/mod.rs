//! Workload files: spec (TOML as written) → sections (each table validated by its own
//! constructor) → plan → key distributions and the seeded operation stream. YCSB's own
//! property files (`ycsb.rs`) map onto the same plan.

mod context;
pub mod keys;
pub mod keyspace;
mod load;
pub mod names;
pub mod ops;
pub mod plan;
pub mod sample;
pub mod sections;
pub mod spec;
mod ycsb;
pub mod zipf;

pub use acorn_reports::OpKind;
pub use context::WorkloadError;
pub use keys::{Distribution, ScanLength};
pub use keyspace::KeySpace;
pub use load::resolve;
pub use names::{KeyOrder, KeyTable};
pub use ops::{Op, OpStream, StreamSpec};
pub use plan::Plan;
pub use sections::{Bound, CacheSettings, Dataset, Mix, Mode, RunSettings, DEFAULT_VARIANTS};
