//! Recording one phase: a latency histogram per operation kind, error counts with a few
//! distinct messages, and completions per time interval. Each thread records into its own
//! [`Recorder`] (no shared counter on the hot path); the phase merges them at the end.

use std::collections::BTreeMap;

use hdrhistogram::Histogram as Hdr;

use acorn_reports::results::OpResult;
use acorn_reports::{stats, OpKind};

/// Distinct error messages kept per operation kind.
const SAMPLES: usize = 3;

/// An empty latency histogram in nanoseconds (1 ns .. 1 hour, auto-resizing), at the
/// precision every lab histogram uses.
pub fn histogram() -> Hdr<u64> {
    Hdr::new(stats::SIGFIG).unwrap_or_else(|_| unreachable!("3 significant figures is valid"))
}

/// What one thread (or, merged, one phase) measured.
#[derive(Debug)]
pub struct Recorder {
    hists: Vec<Hdr<u64>>,
    errors: Vec<u64>,
    samples: Vec<Vec<String>>,
    /// Allocations made by each operation kind on the recording thread, when counted
    /// (the counting allocator is installed).
    allocations: Option<Vec<u64>>,
    /// Completions per interval of `interval_ns`, counted from `start_ns`.
    intervals: Vec<u64>,
    interval_ns: u64,
    start_ns: u64,
}

fn keep_sample(samples: &mut Vec<String>, message: &str) {
    if samples.len() < SAMPLES && !samples.iter().any(|s| s == message) {
        samples.push(message.to_owned());
    }
}

impl Recorder {
    /// A recorder whose intervals start at `start_ns` and last `interval_ns` (> 0).
    pub fn new(start_ns: u64, interval_ns: u64) -> Self {
        Recorder {
            hists: OpKind::ALL.iter().map(|_| histogram()).collect(),
            errors: vec![0; OpKind::ALL.len()],
            samples: vec![Vec::new(); OpKind::ALL.len()],
            allocations: None,
            intervals: Vec::new(),
            interval_ns: interval_ns.max(1),
            start_ns,
        }
    }

    /// Records one finished operation: its latency, its completion time and its outcome.
    pub fn record(&mut self, kind: OpKind, latency_ns: u64, done_ns: u64, error: Option<&str>) {
        let k = kind.index();
        let _ = self.hists[k].record(latency_ns.max(1));
        if let Some(message) = error {
            self.errors[k] += 1;
            keep_sample(&mut self.samples[k], message);
        }
        let slot = (done_ns.saturating_sub(self.start_ns) / self.interval_ns) as usize;
        if slot >= self.intervals.len() {
            self.intervals.resize(slot + 1, 0);
        }
        self.intervals[slot] += 1;
    }

    /// Adds the allocations one operation of `kind` made (call it for every operation, or
    /// for none: a recorder that was never told reports no allocation counts).
    pub fn allocated(&mut self, kind: OpKind, allocations: u64) {
        self.allocations
            .get_or_insert_with(|| vec![0; OpKind::ALL.len()])[kind.index()] += allocations;
    }

    /// Adds another thread's recording of the same phase (same interval length).
    pub fn merge(&mut self, other: Recorder) {
        if let Some(theirs) = other.allocations {
            let mine = self
                .allocations
                .get_or_insert_with(|| vec![0; OpKind::ALL.len()]);
            for (m, t) in mine.iter_mut().zip(theirs) {
                *m += t;
            }
        }
        for (k, h) in other.hists.into_iter().enumerate() {
            let _ = self.hists[k].add(h);
            self.errors[k] += other.errors[k];
            for s in &other.samples[k] {
                keep_sample(&mut self.samples[k], s);
            }
        }
        if other.intervals.len() > self.intervals.len() {
            self.intervals.resize(other.intervals.len(), 0);
        }
        for (i, c) in other.intervals.iter().enumerate() {
            self.intervals[i] += c;
        }
    }

    /// The latencies recorded for `kind`.
    pub fn latencies(&self, kind: OpKind) -> &Hdr<u64> {
        &self.hists[kind.index()]
    }

    /// Failed operations of `kind`, and up to three distinct messages.
    pub fn failures(&self, kind: OpKind) -> (u64, &[String]) {
        (self.errors[kind.index()], &self.samples[kind.index()])
    }

    /// Operations recorded.
    pub fn ops(&self) -> u64 {
        self.hists.iter().map(Hdr::len).sum()
    }

    /// Failed operations recorded.
    pub fn errors(&self) -> u64 {
        self.errors.iter().sum()
    }

    pub fn interval_ns(&self) -> u64 {
        self.interval_ns
    }

    pub fn intervals(&self) -> &[u64] {
        &self.intervals
    }

    /// Per operation kind that ran: percentiles, errors, and throughput over `elapsed_s`.
    pub fn per_op(&self, elapsed_s: f64) -> BTreeMap<String, OpResult> {
        OpKind::ALL
            .into_iter()
            .filter(|k| !self.hists[k.index()].is_empty())
            .map(|k| {
                let i = k.index();
                let mut r = stats::op_result(
                    &self.hists[i],
                    self.errors[i],
                    self.samples[i].clone(),
                    elapsed_s,
                );
                r.allocations = self.allocations.as_ref().map(|a| a[i]);
                (k.name().to_owned(), r)
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn merged_threads_add_counts_errors_and_intervals() {
        let mut a = Recorder::new(0, 10);
        let mut b = Recorder::new(0, 10);
        a.record(OpKind::Read, 5, 3, None);
        a.record(OpKind::Read, 7, 15, Some("boom"));
        b.record(OpKind::Read, 9, 25, Some("boom"));
        b.record(OpKind::Update, 4, 4, Some("other"));
        a.merge(b);
        assert_eq!((a.ops(), a.errors()), (4, 3));
        assert_eq!(a.intervals(), [2, 1, 1]);
        let per_op = a.per_op(1.0);
        assert_eq!(per_op["read"].count, 3);
        assert_eq!(per_op["read"].error_samples, ["boom"]);
        assert_eq!(per_op["update"].errors, 1);
        assert!(!per_op.contains_key("delete"));
        assert_eq!(per_op["read"].allocations, None, "never told: not counted");
    }

    #[test]
    fn allocations_add_per_kind_across_threads() {
        let mut a = Recorder::new(0, 10);
        let mut b = Recorder::new(0, 10);
        a.record(OpKind::Read, 5, 3, None);
        a.allocated(OpKind::Read, 2);
        b.record(OpKind::Read, 5, 3, None);
        b.allocated(OpKind::Read, 3);
        b.record(OpKind::Update, 5, 3, None);
        b.allocated(OpKind::Update, 1);
        a.merge(b);
        let per_op = a.per_op(1.0);
        assert_eq!(per_op["read"].allocations, Some(5));
        assert_eq!(per_op["update"].allocations, Some(1));
    }
}
