//! Measurement, independent of any backend: per-thread recording of latencies, errors and
//! intervals, how long a thread waited for a CPU, the counting allocator for bytes per item
//! and allocations per operation, the process's resident memory, and instruction counting
//! under callgrind.

pub mod alloc;
pub mod callgrind;
pub mod client;
pub mod recorder;
pub mod rss;
pub mod sched;
pub mod storage;
pub mod syncs;

pub use recorder::Recorder;
