//! Short slices of a measured phase on a loaded store, run on command: what `lab ab`'s
//! worker processes run, and what `lab run` alternates its variants with for the paired
//! verdicts (`acorn_reports::paired`).
//!
//! Slice number `k` runs `ops` operations per thread of the measured stream seeded for
//! `k`, closed loop: the same operations on any store, in any process, of any build.
//! Before them, untimed, a quarter as many of the warm-up stream: whatever ran in between
//! (the other side, another process) took the caches, and the slice should not pay for
//! that (it cut the advantage of going first in a round from about 9% to 1–4% on this
//! VM). Each slice starts from the same data as far as inserts go: what it inserted is
//! removed afterwards, untimed. Deletes are not undone one by one; once the slices have deleted a
//! tenth of the records, every record is written again (untimed), so a long run of slices
//! does not thin the dataset away. All of this follows from the slice numbers alone, so two
//! stores given the same slices run the same operations (on one thread, in the same order,
//! through the same states).

use std::sync::atomic::AtomicBool;
use std::time::Duration;

use super::clock::Clock;
use super::phase::{run_phase_with, Draws, PhaseResult};
use super::restore;
use crate::backend::{Backend, BackendError};
use crate::workload::{Bound, OpKind, Plan};

/// Runs slices of `plan`'s measured phase on one loaded store.
pub struct Slicer<'p> {
    backend: &'p dyn Backend,
    /// The plan, closed loop; its bound is set per slice.
    plan: Plan,
    draws: Draws<'p>,
    seed: u64,
    /// Deletes since every record was last written.
    deleted: u64,
}

impl std::fmt::Debug for Slicer<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Slicer")
            .field("backend", &self.backend.name())
            .field("seed", &self.seed)
            .field("deleted", &self.deleted)
            .finish_non_exhaustive()
    }
}

impl<'p> Slicer<'p> {
    /// Slices of `plan` on `backend`, which holds the loaded dataset.
    pub fn new(backend: &'p dyn Backend, plan: &'p Plan) -> Self {
        let mut closed = plan.clone();
        closed.run.rate = None;
        Slicer {
            backend,
            plan: closed,
            draws: Draws::of(plan),
            seed: plan.run.seed,
            deleted: 0,
        }
    }

    /// The seed of slice `index`'s streams.
    pub fn seed_of(&self, index: u64) -> u64 {
        self.seed ^ index.wrapping_add(1).wrapping_mul(0x9e37_79b9_7f4a_7c15)
    }

    /// Runs one phase bounded by `bound`, from the streams seeded with `seed` (the
    /// warm-up's when `warmup`), and removes what it inserted; counts its deletes.
    fn phase(
        &mut self,
        (threads, bound, seed, warmup): (usize, Bound, u64, bool),
        clock: &dyn Clock,
        stop: &AtomicBool,
    ) -> Result<PhaseResult, BackendError> {
        self.plan.run.bound = bound;
        self.draws.spec.seed = seed;
        let p = run_phase_with(
            self.backend,
            &self.plan,
            &self.draws,
            threads,
            warmup,
            clock,
            stop,
        );
        restore::remove(self.backend, &self.plan, p.inserted.clone())?;
        self.deleted += p.recorded.latencies(OpKind::Delete).len();
        Ok(p)
    }

    /// Runs the warm-up stream (as before a measured repeat: other seeds, ids the slices
    /// never insert) for `duration` at `threads`, then removes what it inserted. `None`
    /// when `stop` was raised.
    pub fn warm(
        &mut self,
        threads: usize,
        duration: Duration,
        clock: &dyn Clock,
        stop: &AtomicBool,
    ) -> Result<Option<PhaseResult>, BackendError> {
        let bound = Bound::Duration(duration);
        let p = self.phase((threads, bound, self.seed, true), clock, stop)?;
        Ok((!p.stopped).then_some(p))
    }

    /// Runs slice `index`: `ops` operations per thread at `threads`, then restores the
    /// data as the module documentation says (untimed). `None` when `stop` was raised.
    pub fn slice(
        &mut self,
        threads: usize,
        ops: u64,
        index: u64,
        clock: &dyn Clock,
        stop: &AtomicBool,
    ) -> Result<Option<PhaseResult>, BackendError> {
        let seed = self.seed_of(index);
        // Untimed first: the warm-up stream for a quarter of the slice, so the slice does
        // not pay for the caches the other side (or anything else) took meanwhile.
        let quarter = Bound::Ops(ops.div_ceil(4).max(1));
        self.phase((threads, quarter, seed ^ 0x5741_524d, true), clock, stop)?;
        let p = self.phase((threads, Bound::Ops(ops.max(1)), seed, false), clock, stop)?;
        if self.deleted * 10 >= self.plan.dataset.records.max(1) {
            self.deleted = 0;
            if restore::fill(self.backend, &self.plan, stop)?.is_none() {
                return Ok(None);
            }
        }
        Ok((!p.stopped).then_some(p))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use std::path::Path;

    use super::*;
    use crate::backend::{self, Options};
    use crate::runner::clock::FakeClock;

    fn plan(mix: &str) -> Plan {
        let src = format!(
            "name = \"t\"\nvariants = [\"btreemap\"]\n[dataset]\nrecords = 200\n[run]\n\
             ops = 10\nwarmup = \"0s\"\n[mix]\n{mix}\n"
        );
        Plan::parse(Path::new("t.toml"), &src).unwrap()
    }

    fn loaded(plan: &Plan) -> Box<dyn Backend> {
        let b = backend::open("btreemap", &Options::default()).unwrap();
        restore::fill(b.as_ref(), plan, &AtomicBool::new(false)).unwrap();
        b
    }

    /// Every record's key and whether it is there, and how many there are in all.
    fn contents(b: &dyn Backend, plan: &Plan) -> (Vec<bool>, usize) {
        let mut w = b.worker();
        let mut key = Vec::new();
        let present = (0..plan.dataset.records)
            .map(|i| {
                plan.dataset.write_key(&mut key, i);
                w.read(&key).unwrap().is_some()
            })
            .collect();
        (present, w.scan(b"", usize::MAX).unwrap())
    }

    #[test]
    fn inserts_are_removed_after_each_slice_and_deletes_refilled_after_a_tenth() {
        let plan = plan("insert = 50\ndelete = 50");
        let b = loaded(&plan);
        let (stop, clock) = (AtomicBool::new(false), FakeClock::default());
        let mut s = Slicer::new(b.as_ref(), &plan);
        // 8 operations on one thread (and 2 untimed before them): about 5 deletes, never
        // 20 (a tenth of 200).
        let p = s.slice(1, 8, 0, &clock, &stop).unwrap().unwrap();
        assert_eq!(p.recorded.ops(), 8);
        let (present, total) = contents(b.as_ref(), &plan);
        let missing = present.iter().filter(|p| !**p).count() as u64;
        assert!(
            missing > 0 && missing <= s.deleted,
            "{missing} of {}",
            s.deleted
        );
        assert_eq!(total as u64, 200 - missing, "the slice's inserts are gone");
        // Enough slices to delete a tenth: every record is back, no insert left.
        for k in 1..40 {
            s.slice(1, 8, k, &clock, &stop).unwrap().unwrap();
            if s.deleted == 0 {
                assert_eq!(contents(b.as_ref(), &plan), (vec![true; 200], 200));
                return;
            }
        }
        panic!("40 slices never deleted a tenth of the records");
    }

    #[test]
    fn a_slice_number_gives_the_same_operations_on_every_store() {
        let plan = plan("read = 50\nupdate = 30\ndelete = 20");
        let (stop, clock) = (AtomicBool::new(false), FakeClock::default());
        let mut states = Vec::new();
        for _ in 0..2 {
            let b = loaded(&plan);
            let mut s = Slicer::new(b.as_ref(), &plan);
            for k in [3, 9, 4] {
                s.slice(1, 5, k, &clock, &stop).unwrap().unwrap();
            }
            states.push(contents(b.as_ref(), &plan));
        }
        assert_eq!(states[0], states[1]);
        assert!(states[0].1 < 200, "some slice deleted something");
        let b = loaded(&plan);
        let s = Slicer::new(b.as_ref(), &plan);
        assert_ne!(s.seed_of(0), s.seed_of(1));
    }
}
