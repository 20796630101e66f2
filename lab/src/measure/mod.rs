//! Measurement, independent of any backend: per-thread recording of latencies, errors and
//! intervals, the counting allocator for bytes per item and allocations per operation, the
//! process's resident memory, and instruction counting under callgrind.

pub mod alloc;
pub mod callgrind;
pub mod client;
pub mod recorder;
pub mod rss;

pub use recorder::Recorder;
