//! The seeded operation stream. It depends only on the seed and the thread number, so every
//! variant and every repeat sees the same sequence of operations and keys.

use serde::Serialize;

use super::keys::KeyChooser;
use super::plan::Plan;
use crate::doc::SplitMix;

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum OpKind {
    Read,
    Update,
    Insert,
    Delete,
    Scan,
    /// Read-modify-write: read a record, then update it.
    Rmw,
    Query,
    Batch,
}

impl OpKind {
    pub const ALL: [OpKind; 8] = [
        OpKind::Read,
        OpKind::Update,
        OpKind::Insert,
        OpKind::Delete,
        OpKind::Scan,
        OpKind::Rmw,
        OpKind::Query,
        OpKind::Batch,
    ];

    pub fn name(self) -> &'static str {
        match self {
            OpKind::Read => "read",
            OpKind::Update => "update",
            OpKind::Insert => "insert",
            OpKind::Delete => "delete",
            OpKind::Scan => "scan",
            OpKind::Rmw => "rmw",
            OpKind::Query => "query",
            OpKind::Batch => "batch",
        }
    }

    pub fn parse(s: &str) -> Option<OpKind> {
        OpKind::ALL.into_iter().find(|k| k.name() == s)
    }

    pub fn index(self) -> usize {
        self as usize
    }
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
    pub fn new(plan: &Plan, thread: usize, threads: usize) -> OpStream {
        let mut acc = 0;
        let cdf = plan
            .mix
            .iter()
            .map(|(k, w)| {
                acc += w;
                (acc, *k)
            })
            .collect();
        let thread = thread as u64;
        OpStream {
            rng: SplitMix(plan.seed ^ (thread + 1).wrapping_mul(0x9e37_79b9_7f4a_7c15)),
            cdf,
            keys: KeyChooser::new(
                plan.distribution,
                plan.records,
                thread * plan.records / threads.max(1) as u64,
            ),
            records: plan.records,
            thread,
            threads: threads as u64,
            inserted: 0,
            batch_size: plan.batch_size as u64,
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
