//! `synthetic`: `btreemap` with a known amount of extra work on its read path, for checking
//! the lab's own gates rather than for comparing stores. `LAB_SYNTHETIC_READ_WORK=N` adds N
//! rounds of integer arithmetic to every read (read when the backend opens; default 0, when
//! it is `btreemap` under another name). A test sets N to make reads a known fraction more
//! expensive and checks that `lab compare` flags exactly that.

use std::hint::black_box;

use super::{btreemap, store_err, Backend, BackendInfo, Options, Page, QuerySpec, Result, Worker};
use crate::doc::Value;

/// The environment variable that sets the extra rounds per read.
pub const READ_WORK_VAR: &str = "LAB_SYNTHETIC_READ_WORK";

const NAME: &str = "synthetic";

pub(crate) struct Synthetic {
    inner: Box<dyn Backend>,
    rounds: u64,
}

pub(crate) fn open(options: &Options) -> Result<Box<dyn Backend>> {
    let rounds = match std::env::var(READ_WORK_VAR) {
        Err(_) => 0,
        Ok(v) => v.trim().parse().map_err(|_| {
            store_err(
                NAME,
                format!("{READ_WORK_VAR}={v:?}: not a number of rounds per read"),
            )
        })?,
    };
    Ok(Box::new(Synthetic {
        inner: btreemap::open(options)?,
        rounds,
    }))
}

/// `rounds` rounds of arithmetic the compiler cannot fold away: a fixed cost per round.
#[inline(never)]
fn work(rounds: u64) -> u64 {
    let mut x = 0x9e37_79b9_7f4a_7c15u64;
    for i in 0..rounds {
        x = black_box(x.rotate_left(5) ^ i).wrapping_mul(0x2545_f491_4f6c_dd1d);
    }
    x
}

impl Backend for Synthetic {
    fn name(&self) -> &str {
        NAME
    }

    fn describe(&self) -> BackendInfo {
        BackendInfo {
            name: NAME.into(),
            store: format!(
                "btreemap plus {} rounds of arithmetic per read ({READ_WORK_VAR}); a test fixture",
                self.rounds
            ),
            ..self.inner.describe()
        }
    }

    fn worker(&self) -> Box<dyn Worker + '_> {
        Box::new(SyntheticWorker {
            inner: self.inner.worker(),
            rounds: self.rounds,
        })
    }
}

struct SyntheticWorker<'a> {
    inner: Box<dyn Worker + 'a>,
    rounds: u64,
}

impl Worker for SyntheticWorker<'_> {
    fn insert(&mut self, key: &[u8], value: &Value) -> Result<()> {
        self.inner.insert(key, value)
    }

    fn read(&mut self, key: &[u8]) -> Result<Option<&Value>> {
        black_box(work(self.rounds));
        self.inner.read(key)
    }

    fn update(&mut self, key: &[u8], value: &Value) -> Result<()> {
        self.inner.update(key, value)
    }

    fn delete(&mut self, key: &[u8]) -> Result<bool> {
        self.inner.delete(key)
    }

    fn scan(&mut self, start: &[u8], limit: usize) -> Result<usize> {
        self.inner.scan(start, limit)
    }

    fn batch_insert(&mut self, items: &[(Vec<u8>, Value)]) -> Result<()> {
        self.inner.batch_insert(items)
    }

    fn delete_batch(&mut self, keys: &[Vec<u8>]) -> Result<()> {
        self.inner.delete_batch(keys)
    }

    fn query(&mut self, q: &QuerySpec) -> Result<&Page> {
        self.inner.query(q)
    }
}
