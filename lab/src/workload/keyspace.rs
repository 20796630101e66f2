//! The records one phase may touch, shared by all its threads: the loaded records, then
//! inserts numbered from one shared counter (so threads and batches never write the same
//! id), made visible to readers only once acknowledged — YCSB's
//! `AcknowledgedCounterGenerator`. Reads and `latest` therefore never target a record that
//! no thread has finished writing.
//!
//! Records are addressed by *index*: `0..records` are the loaded records, `records..` the
//! inserts in the order they were handed out. An index maps to a record *id* (what key
//! names are made of): the same number, except that a warmup's inserts start at
//! [`WARMUP_IDS`] so they never write an id the measured phase will insert.

use std::collections::BTreeMap;
use std::ops::Range;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, PoisonError};

/// Offset of the ids a warmup inserts (far above anything a measured phase reaches).
pub const WARMUP_IDS: u64 = 1 << 40;

/// See the module documentation.
#[derive(Debug)]
pub struct KeySpace {
    records: u64,
    /// The id of insert index `records`.
    insert_base: u64,
    /// The next index to hand out.
    next: AtomicU64,
    /// Every index below this is acknowledged (loaded or written).
    acked: AtomicU64,
    /// Acknowledged ranges above `acked`, waiting for the gap below them to close.
    pending: Mutex<BTreeMap<u64, u64>>,
}

impl KeySpace {
    /// A key space over `records` loaded records whose inserts get ids from `insert_base`.
    pub fn new(records: u64, insert_base: u64) -> KeySpace {
        KeySpace {
            records,
            insert_base,
            next: AtomicU64::new(records),
            acked: AtomicU64::new(records),
            pending: Mutex::new(BTreeMap::new()),
        }
    }

    /// The key space of a measured phase (inserts continue the record numbers).
    pub fn measured(records: u64) -> KeySpace {
        Self::new(records, records)
    }

    /// The key space of a warmup (inserts far away from the measured phase's ids).
    pub fn warmup(records: u64) -> KeySpace {
        Self::new(records, records + WARMUP_IDS)
    }

    /// Hands out `n` consecutive new indexes; returns the first.
    pub fn reserve(&self, n: u64) -> u64 {
        self.next.fetch_add(n, Ordering::Relaxed)
    }

    /// Marks `n` indexes from `first` as written (whether the write succeeded or not, as
    /// YCSB does), so readers may draw them once every lower index is written too.
    pub fn acknowledge(&self, first: u64, n: u64) {
        let mut pending = self.pending.lock().unwrap_or_else(PoisonError::into_inner);
        if first != self.acked.load(Ordering::Acquire) {
            pending.insert(first, first + n);
            return;
        }
        let mut end = first + n;
        while let Some(next) = pending.remove(&end) {
            end = next;
        }
        self.acked.store(end, Ordering::Release);
    }

    /// How many indexes readers may draw from (`0..live()`).
    #[inline]
    pub fn live(&self) -> u64 {
        self.acked.load(Ordering::Acquire)
    }

    /// The record id of index `i`.
    #[inline]
    pub fn id(&self, i: u64) -> u64 {
        if i < self.records {
            i
        } else {
            self.insert_base + (i - self.records)
        }
    }

    /// The index of record id `id` (the inverse of [`KeySpace::id`]).
    #[inline]
    pub fn index(&self, id: u64) -> u64 {
        if id < self.records {
            id
        } else {
            self.records + (id - self.insert_base)
        }
    }

    /// The ids handed out to inserts so far (written or not).
    pub fn inserted_ids(&self) -> Range<u64> {
        let n = self.next.load(Ordering::Acquire) - self.records;
        self.insert_base..self.insert_base + n
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn readers_see_inserts_only_once_every_lower_one_is_acknowledged() {
        let ks = KeySpace::measured(10);
        let a = ks.reserve(1);
        let b = ks.reserve(3);
        assert_eq!((a, b, ks.live()), (10, 11, 10));
        ks.acknowledge(b, 3); // out of order: hidden until `a` is written
        assert_eq!(ks.live(), 10);
        ks.acknowledge(a, 1);
        assert_eq!(ks.live(), 14);
        assert_eq!(ks.inserted_ids(), 10..14);
    }

    #[test]
    fn warmup_inserts_use_ids_the_measured_phase_never_does() {
        let ks = KeySpace::warmup(100);
        let i = ks.reserve(2);
        assert_eq!(ks.id(5), 5);
        assert_eq!(ks.id(i), 100 + WARMUP_IDS);
        assert_eq!(ks.index(ks.id(i + 1)), i + 1);
        assert_eq!(ks.inserted_ids(), 100 + WARMUP_IDS..102 + WARMUP_IDS);
    }

    #[test]
    fn concurrent_inserts_get_distinct_ids_and_all_become_visible() {
        let ks = KeySpace::measured(0);
        std::thread::scope(|s| {
            for _ in 0..4 {
                s.spawn(|| {
                    for n in 1..200 {
                        let first = ks.reserve(n % 5 + 1);
                        ks.acknowledge(first, n % 5 + 1);
                    }
                });
            }
        });
        let total: u64 = 4 * (1..200u64).map(|n| n % 5 + 1).sum::<u64>();
        assert_eq!(ks.live(), total);
        assert_eq!(ks.inserted_ids(), 0..total);
    }
}
