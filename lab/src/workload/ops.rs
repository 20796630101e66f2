//! The seeded operation stream. Its random choices (operation kinds, ranks, scan lengths)
//! depend only on the seed and the thread number, so every variant and every repeat draws
//! the same ones. Inserts take ids from the phase's shared [`KeySpace`], so with several
//! threads *which* new id a thread gets, and how far readers may reach, depend on how the
//! threads interleave — as in YCSB; with one thread the whole stream is deterministic.

use std::sync::Arc;

use super::keys::{Distribution, KeyChooser, KeyLaw, ScanChooser, ScanLength};
use super::keyspace::KeySpace;
use super::sections::Mix;
use crate::doc::SplitMix;
use acorn_reports::OpKind;

/// What the operation streams depend on: the mix, the key distribution and the key space it
/// is drawn over, the dataset size, scan and batch sizes and the seed (nothing else of the
/// plan). Built once per phase: it holds the tables every thread shares.
#[derive(Clone, Debug)]
pub struct StreamSpec<'a> {
    pub mix: &'a Mix,
    pub distribution: Distribution,
    pub records: u64,
    /// Records the distribution is drawn over: the loaded ones plus the inserts expected
    /// (YCSB's item count); draws beyond what exists are redrawn.
    pub item_count: u64,
    pub scan: ScanLength,
    pub batch_size: usize,
    pub seed: u64,
    pub law: KeyLaw,
}

/// One operation: what to do, to which record id (for inserts and batches, the first new
/// id), and how many records (scan length, batch size; 1 for an insert, else 0).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Op {
    pub kind: OpKind,
    pub id: u64,
    pub len: u64,
}

/// An endless operation stream for one thread.
#[derive(Clone, Debug)]
pub struct OpStream {
    rng: SplitMix,
    /// Cumulative weights, and their total.
    cdf: Vec<(u64, OpKind)>,
    total: u64,
    keys: KeyChooser,
    scans: ScanChooser,
    space: Arc<KeySpace>,
    batch_size: u64,
}

impl OpStream {
    /// The stream of thread `thread` out of `threads`, inserting into `space`.
    pub fn new(
        spec: &StreamSpec<'_>,
        thread: usize,
        threads: usize,
        space: Arc<KeySpace>,
    ) -> OpStream {
        let mut acc = 0;
        let cdf: Vec<(u64, OpKind)> = spec
            .mix
            .0
            .iter()
            .map(|(k, w)| {
                acc += u64::from(*w);
                (acc, *k)
            })
            .collect();
        let thread = thread as u64;
        OpStream {
            rng: SplitMix(spec.seed ^ (thread + 1).wrapping_mul(0x9e37_79b9_7f4a_7c15)),
            cdf,
            total: acc.max(1),
            keys: KeyChooser::new(
                &spec.law,
                spec.records,
                thread * spec.records / threads.max(1) as u64,
            ),
            scans: ScanChooser::new(spec.scan),
            space,
            batch_size: spec.batch_size as u64,
        }
    }

    /// Reports `op` done (successfully or not): its inserts become visible to readers.
    #[inline]
    pub fn done(&self, op: &Op) {
        if matches!(op.kind, OpKind::Insert | OpKind::Batch) {
            self.space.acknowledge(self.space.index(op.id), op.len);
        }
    }

    /// The key space this stream inserts into.
    pub fn space(&self) -> &KeySpace {
        &self.space
    }

    fn kind(&mut self) -> OpKind {
        if self.cdf.len() == 1 {
            return self.cdf[0].1;
        }
        let roll = self.rng.below(self.total);
        self.cdf
            .iter()
            .find(|(c, _)| roll < *c)
            .map_or(OpKind::Read, |(_, k)| *k)
    }
}

impl Iterator for OpStream {
    type Item = Op;

    #[inline]
    fn next(&mut self) -> Option<Op> {
        let kind = self.kind();
        let (index, len) = match kind {
            OpKind::Insert => (self.space.reserve(1), 1),
            OpKind::Batch => (self.space.reserve(self.batch_size), self.batch_size),
            OpKind::Scan => {
                let live = self.space.live();
                let start = self.keys.next(&mut self.rng, live);
                (start, self.scans.next(&mut self.rng))
            }
            OpKind::Query => (0, 0),
            _ => {
                let live = self.space.live();
                (self.keys.next(&mut self.rng, live), 0)
            }
        };
        Some(Op {
            kind,
            id: self.space.id(index),
            len,
        })
    }
}
