//! The seeded operation stream. It depends only on the seed and the thread number, so every
//! variant and every repeat sees the same sequence of operations and keys.

use super::keys::{Distribution, KeyChooser};
use super::sections::Mix;
use crate::doc::SplitMix;
use acorn_reports::OpKind;

/// What the operation stream depends on: the mix, the key distribution, the dataset size,
/// the batch size and the seed (nothing else of the plan).
#[derive(Clone, Copy, Debug)]
pub struct StreamSpec<'a> {
    pub mix: &'a Mix,
    pub distribution: Distribution,
    pub records: u64,
    pub batch_size: usize,
    pub seed: u64,
}

/// One operation: what to do and to which record number (for inserts and batches, the
/// first new record number).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Op {
    pub kind: OpKind,
    pub id: u64,
}

/// An endless, deterministic stream of operations for one thread.
#[derive(Clone, Debug)]
pub struct OpStream {
    rng: SplitMix,
    /// Cumulative weights.
    cdf: Vec<(u32, OpKind)>,
    keys: KeyChooser,
    records: u64,
    thread: u64,
    threads: u64,
    inserted: u64,
    batch_size: u64,
}

impl OpStream {
    /// The stream of thread `thread` out of `threads`.
    pub fn new(spec: &StreamSpec<'_>, thread: usize, threads: usize) -> OpStream {
        let mut acc = 0;
        let cdf = spec
            .mix
            .0
            .iter()
            .map(|(k, w)| {
                acc += w;
                (acc, *k)
            })
            .collect();
        let thread = thread as u64;
        OpStream {
            rng: SplitMix(spec.seed ^ (thread + 1).wrapping_mul(0x9e37_79b9_7f4a_7c15)),
            cdf,
            keys: KeyChooser::new(
                spec.distribution,
                spec.records,
                thread * spec.records / threads.max(1) as u64,
            ),
            records: spec.records,
            thread,
            threads: threads as u64,
            inserted: 0,
            batch_size: spec.batch_size as u64,
        }
    }

    /// A new record number for this thread: threads take turns, so they never collide.
    fn fresh(&mut self) -> u64 {
        let id = self.records + self.inserted * self.threads + self.thread;
        self.inserted += 1;
        id
    }
}

impl Iterator for OpStream {
    type Item = Op;

    fn next(&mut self) -> Option<Op> {
        let roll = self.rng.below(100) as u32;
        let kind = self
            .cdf
            .iter()
            .find(|(c, _)| roll < *c)
            .map_or(OpKind::Read, |(_, k)| *k);
        let id = match kind {
            OpKind::Insert => self.fresh(),
            OpKind::Batch => {
                let first = self.fresh();
                for _ in 1..self.batch_size {
                    self.fresh();
                }
                first
            }
            _ => {
                let live = self.records + self.inserted * self.threads;
                self.keys.next(&mut self.rng, live)
            }
        };
        Some(Op { kind, id })
    }
}
