//! What `lab ab` and its workers (`lab worker`) say to each other: one JSON object per
//! line, requests on the worker's stdin, replies on its stdout. A worker answers every
//! request before it reads the next, and does nothing in between, so the idle side of a
//! pair never competes with the running one.
//!
//! The baseline may be an older or newer build of the lab: [`PROTOCOL`] changes whenever a
//! message changes meaning, and the parent refuses a worker that speaks another.

use acorn_reports::Histogram;
use serde::{Deserialize, Serialize};

/// The version of these messages.
pub const PROTOCOL: u32 = 1;

/// What the parent asks a worker.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "request")]
pub enum Request {
    /// Run the warm-up stream for `millis` ms at `threads` threads on `cpus` (not judged;
    /// its rate sets how many operations a slice holds).
    Warm {
        threads: usize,
        millis: u64,
        cpus: Vec<usize>,
    },
    /// Run slice number `index`: `ops` operations per thread at `threads` threads, on
    /// `cpus` (the same for both sides: `ab::pin`; empty: anywhere).
    Slice {
        threads: usize,
        ops: u64,
        index: u64,
        cpus: Vec<usize>,
    },
    /// Exit.
    Quit,
}

/// What a worker answers.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "reply")]
pub enum Reply {
    /// Sent once, when the dataset is loaded.
    Ready {
        protocol: u32,
        /// The worker build's git revision.
        revision: String,
        /// The store, as the backend describes it.
        store: String,
        load_s: f64,
    },
    /// A warm-up or a slice finished.
    Ran(Ran),
}

/// One warm-up or slice: operations, failures, the time from the threads' common start to
/// the last operation's end, the threads' busy time (on average: that time less their
/// wait for a CPU, `measure::sched`; absent where the system does not say), and every
/// operation's latency.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Ran {
    pub ops: u64,
    pub errors: u64,
    pub elapsed_ns: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub busy_ns: Option<u64>,
    pub latency: Histogram,
}
