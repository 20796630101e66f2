//! Measurement, independent of any backend: per-thread recording of latencies, errors and
//! intervals, and the counting allocator for bytes per item and allocations per operation.

pub mod alloc;
pub mod recorder;

pub use recorder::Recorder;
