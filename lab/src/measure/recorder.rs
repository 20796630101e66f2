//! Recording one phase: a latency histogram per operation kind and per tenth of the phase
//! (so one repeat carries its own latency noise), error counts with a few distinct
//! messages, and completions per time interval. Each thread records into its own
//! [`Recorder`] (no shared counter on the hot path); the phase merges them at the end.

use std::collections::BTreeMap;

use hdrhistogram::Histogram as Hdr;

use acorn_reports::results::{OpResult, PartLatency};
use acorn_reports::{stats, OpKind};

/// Distinct error messages kept per operation kind.
const SAMPLES: usize = 3;

/// The parts a phase's latencies are kept in: tenths of its time (or of its operations),
/// the blocks of the reports' estimates.
pub const PARTS: usize = acorn_reports::estimate::BLOCKS;

const KINDS: usize = OpKind::ALL.len();

/// An empty latency histogram in nanoseconds (1 ns .. 1 hour, auto-resizing), at the
/// precision every lab histogram uses.
pub fn histogram() -> Hdr<u64> {
    Hdr::new(stats::SIGFIG).unwrap_or_else(|_| unreachable!("3 significant figures is valid"))
}

/// What one thread (or, merged, one phase) measured.
#[derive(Debug)]
pub struct Recorder {
    /// Index `part * KINDS + kind`; created on first use.
    hists: Vec<Option<Hdr<u64>>>,
    /// The part being recorded.
    part: usize,
    errors: Vec<u64>,
    samples: Vec<Vec<String>>,
    /// Allocations made by each operation kind on the recording thread, when counted
    /// (the counting allocator is installed).
    allocations: Option<Vec<u64>>,
    /// Completions per interval of `interval_ns`, counted from `start_ns`.
    intervals: Vec<u64>,
    interval_ns: u64,
    start_ns: u64,
    /// The current interval, and when the next one begins.
    slot: usize,
    next_slot_ns: u64,
}

fn keep_sample(samples: &mut Vec<String>, message: &str) {
    if samples.len() < SAMPLES && !samples.iter().any(|s| s == message) {
        samples.push(message.to_owned());
    }
}

impl Recorder {
    /// A recorder whose intervals start at `start_ns` and last `interval_ns` (> 0).
    pub fn new(start_ns: u64, interval_ns: u64) -> Self {
        let interval_ns = interval_ns.max(1);
        Recorder {
            hists: (0..PARTS * KINDS).map(|_| None).collect(),
            part: 0,
            errors: vec![0; KINDS],
            samples: vec![Vec::new(); KINDS],
            allocations: None,
            intervals: Vec::new(),
            interval_ns,
            start_ns,
            slot: 0,
            next_slot_ns: start_ns.saturating_add(interval_ns),
        }
    }

    /// Records into part `part` (`0..PARTS`) from now on.
    pub fn set_part(&mut self, part: usize) {
        self.part = part.min(PARTS - 1);
    }

    /// Records one finished operation: its latency, its completion time and its outcome.
    #[inline]
    pub fn record(&mut self, kind: OpKind, latency_ns: u64, done_ns: u64, error: Option<&str>) {
        let k = kind.index();
        let h = self.hists[self.part * KINDS + k].get_or_insert_with(histogram);
        let _ = h.record(latency_ns.max(1));
        if let Some(message) = error {
            self.errors[k] += 1;
            keep_sample(&mut self.samples[k], message);
        }
        // Completions of one thread arrive in time order: the slot rarely changes.
        if done_ns >= self.next_slot_ns
            || done_ns < self.next_slot_ns.saturating_sub(self.interval_ns)
        {
            self.slot = (done_ns.saturating_sub(self.start_ns) / self.interval_ns) as usize;
            self.next_slot_ns = self
                .start_ns
                .saturating_add((self.slot as u64 + 1).saturating_mul(self.interval_ns));
        }
        if self.slot >= self.intervals.len() {
            self.intervals.resize(self.slot + 1, 0);
        }
        self.intervals[self.slot] += 1;
    }

    /// Adds the allocations one operation of `kind` made (call it for every operation, or
    /// for none: a recorder that was never told reports no allocation counts).
    pub fn allocated(&mut self, kind: OpKind, allocations: u64) {
        self.allocations.get_or_insert_with(|| vec![0; KINDS])[kind.index()] += allocations;
    }

    /// Adds another thread's recording of the same phase (same start and interval length).
    pub fn merge(&mut self, other: Recorder) {
        if let Some(theirs) = other.allocations {
            let mine = self.allocations.get_or_insert_with(|| vec![0; KINDS]);
            for (m, t) in mine.iter_mut().zip(theirs) {
                *m += t;
            }
        }
        for (mine, theirs) in self.hists.iter_mut().zip(other.hists) {
            match (mine.as_mut(), theirs) {
                (Some(m), Some(t)) => {
                    let _ = m.add(t);
                }
                (None, Some(t)) => *mine = Some(t),
                _ => {}
            }
        }
        for k in 0..KINDS {
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

    /// The latencies of `kind` in each part.
    fn parts(&self, kind: OpKind) -> impl Iterator<Item = Option<&Hdr<u64>>> {
        (0..PARTS).map(move |p| self.hists[p * KINDS + kind.index()].as_ref())
    }

    /// The latencies recorded for `kind`, over the whole phase.
    pub fn latencies(&self, kind: OpKind) -> Hdr<u64> {
        let mut all = histogram();
        for h in self.parts(kind).flatten() {
            let _ = all.add(h);
        }
        all
    }

    /// Failed operations of `kind`, and up to three distinct messages.
    pub fn failures(&self, kind: OpKind) -> (u64, &[String]) {
        (self.errors[kind.index()], &self.samples[kind.index()])
    }

    /// Operations recorded.
    pub fn ops(&self) -> u64 {
        self.hists.iter().flatten().map(Hdr::len).sum()
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

    /// Per operation kind that ran: percentiles, errors, throughput over `elapsed_s`, and
    /// the median and 99th percentile of each part.
    pub fn per_op(&self, elapsed_s: f64) -> BTreeMap<String, OpResult> {
        OpKind::ALL
            .into_iter()
            .filter_map(|k| {
                let all = self.latencies(k);
                if all.is_empty() {
                    return None;
                }
                let i = k.index();
                let mut r =
                    stats::op_result(&all, self.errors[i], self.samples[i].clone(), elapsed_s);
                r.parts = self
                    .parts(k)
                    .map(|h| h.map_or_else(PartLatency::default, PartLatency::of))
                    .collect();
                r.allocations = self.allocations.as_ref().map(|a| a[i]);
                Some((k.name().to_owned(), r))
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
        assert_eq!(per_op["read"].parts.len(), PARTS);
        assert_eq!(per_op["read"].parts[0].count, 3);
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

    #[test]
    fn parts_keep_their_own_latencies() {
        let mut r = Recorder::new(0, 100);
        for part in 0..PARTS {
            r.set_part(part);
            for _ in 0..100 {
                r.record(OpKind::Read, 1000 * (part as u64 + 1), 1, None);
            }
        }
        let per_op = r.per_op(1.0);
        let p50s: Vec<u64> = per_op["read"].parts.iter().map(|p| p.p50_ns).collect();
        assert_eq!(p50s.len(), PARTS);
        for (got, want) in p50s.iter().zip((1..).map(|p| 1000 * p)) {
            assert!(got.abs_diff(want) * 1000 <= want, "{p50s:?}");
        }
        let all = 100 * PARTS as u64;
        assert_eq!(r.latencies(OpKind::Read).len(), all);
        assert_eq!(r.intervals(), [all]);
    }
}
