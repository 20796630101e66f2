//! Results schema and reports for AcornLab (filled in by the reports issue).

/// Version of the `results.json` schema this crate reads and writes.
pub const SCHEMA_VERSION: u32 = 1;
