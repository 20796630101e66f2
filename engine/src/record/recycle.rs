//! Retired records' allocations, reused for new records of the same length.
//!
//! A record that leaves the point index is released by the epoch collector 64 at a time
//! (`points::Writer::retire`), and glibc's per-thread cache keeps only 7 freed blocks of a
//! size: freeing 64 records and then allocating the next 64 took `free`'s and `malloc`'s
//! slow paths, ~400 of a stash's ~2,000 instructions. Instead, each record of a released
//! batch that is small ([`MAX_LEN`]) and unreferenced elsewhere goes to a shared stock (at
//! most [`STOCK_BYTES`]; past that they are freed as before), and a thread building
//! a record takes a handful of them at a time into its own hand (at most [`HAND_MAX`]),
//! reusing the top one when its length is the new record's. One of another length is
//! freed instead, so a hand never stays stuck on sizes nobody writes any more.
//!
//! This is exactly as safe as freeing and allocating again: a record reaches the stock only
//! from the collector, once every reader pinned before it was retired has moved on, and
//! only while the stock's reference is its last (an acquire load of the count, as
//! `Arc::get_mut` does), so no reader, snapshot or [`crate::Nut`] can still see it.
//! Memory held: at most `STOCK_BYTES` in the stock (counted as the records' heap bytes),
//! and `HAND_MAX` × (`MAX_LEN` + 16) in the hand of each thread that writes.

use std::cell::RefCell;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, MutexGuard, PoisonError};

use super::Record;

/// Longest record (stored bytes) reused; longer ones are freed (their copy costs more
/// than the allocation anyway).
pub(crate) const MAX_LEN: usize = 1024;
/// Most heap bytes (a record's stored bytes and the 16 of its count and length) the
/// shared stock holds: a batch of 1,000 small records is reused whole.
pub(crate) const STOCK_BYTES: usize = 256 << 10;
/// Most records a thread takes from the stock at once.
pub(crate) const HAND_MAX: usize = 64;

/// Reusable records, and their heap bytes.
struct Stock {
    records: Vec<Record>,
    bytes: usize,
}

static STOCK: Mutex<Stock> = Mutex::new(Stock {
    records: Vec::new(),
    bytes: 0,
});
/// `STOCK`'s length, read without its lock, so a thread with nothing to take (a tree
/// that only inserts) does not lock it per record.
static STOCKED: AtomicUsize = AtomicUsize::new(0);

thread_local! {
    static HAND: RefCell<Vec<Record>> = const { RefCell::new(Vec::new()) };
}

fn stock() -> MutexGuard<'static, Stock> {
    STOCK.lock().unwrap_or_else(PoisonError::into_inner)
}

/// A record of `len` stored bytes whose allocation is free for reuse (unique: only the
/// caller holds it), if this thread's hand (refilled from the stock) has one on top.
#[inline]
pub(super) fn take(len: usize) -> Option<Record> {
    if len > MAX_LEN {
        return None;
    }
    HAND.try_with(|hand| {
        let mut hand = hand.try_borrow_mut().ok()?;
        if hand.is_empty() {
            if STOCKED.load(Ordering::Relaxed) == 0 {
                return None;
            }
            let mut stock = stock();
            let from = stock.records.len().saturating_sub(HAND_MAX);
            for rec in stock.records.drain(from..) {
                hand.push(rec);
            }
            stock.bytes -= hand.iter().map(heap_bytes).sum::<usize>();
            STOCKED.store(stock.records.len(), Ordering::Relaxed);
        }
        let top = hand.pop()?;
        // Another length: freed here (it was retired, so it would have been anyway).
        (top.bytes().len() == len).then_some(top)
    })
    .ok()
    .flatten()
}

/// Takes the records of a released batch (no reader pinned before they were retired is
/// left): keeps the reusable ones in the stock while it has room, drops the rest. Leaves
/// `batch` empty, its buffer kept.
pub(crate) fn give(batch: &mut Vec<Record>) {
    batch.retain(Record::reusable);
    if !batch.is_empty() {
        let mut stock = stock();
        let mut keep = 0;
        for rec in batch.iter() {
            if stock.bytes + heap_bytes(rec) > STOCK_BYTES {
                break;
            }
            stock.bytes += heap_bytes(rec);
            keep += 1;
        }
        stock.records.extend(batch.drain(..keep));
        STOCKED.store(stock.records.len(), Ordering::Relaxed);
    }
    // Past the stock's room: freed, outside its lock.
    batch.clear();
}

/// A record's heap bytes: its stored bytes, and the count and length words before them.
fn heap_bytes(rec: &Record) -> usize {
    rec.bytes().len() + 16
}

#[cfg(test)]
mod tests {
    use super::*;

    fn held() -> usize {
        let stock = stock();
        let bytes = stock.records.iter().map(heap_bytes).sum();
        assert_eq!(stock.bytes, bytes, "the stock's count of its bytes");
        bytes
    }

    /// Whatever it is given, the stock keeps at most `STOCK_BYTES` of records of at most
    /// `MAX_LEN` bytes, and never one referenced elsewhere. (Other tests of this binary
    /// write to the same stock meanwhile: only bounds are asserted about its contents.)
    #[test]
    fn the_stock_is_bounded_and_keeps_only_small_unshared_records() {
        let shared = Record::new(b"shared", &[7; 100], 1, 1, 0);
        let big = Record::new(b"big", &[1; MAX_LEN], 1, 1, 0);
        let big_at = big.as_ptr();
        for round in 0..20u8 {
            let mut batch: Vec<Record> = (0..64)
                .map(|i| Record::new(b"k", &vec![round; MAX_LEN - 20 - i], 1, 1, 0))
                .collect();
            batch.push(shared.clone());
            if round == 0 {
                batch.push(big.clone());
            }
            give(&mut batch);
            assert!(batch.is_empty());
            let bytes = held();
            assert!(bytes <= STOCK_BYTES, "{bytes} bytes in stock");
            let stock = stock();
            assert!(stock.records.iter().all(|r| !r.is_at(shared.as_ptr())));
            assert!(stock.records.iter().all(|r| r.bytes().len() <= MAX_LEN));
        }
        drop(big);
        // Released by its last holder: the stock never kept it (too long).
        assert!(stock().records.iter().all(|r| !r.is_at(big_at)));
        assert_eq!(shared.value(), &[7; 100]);
        // A hand takes at most HAND_MAX, and only a record of the asked-for length.
        let len = crate::record::HEADER + 1 + 100;
        for _ in 0..(HAND_MAX + 10) {
            if let Some(rec) = take(len) {
                assert_eq!(rec.bytes().len(), len);
                assert!(rec.0.with_arc(triomphe::Arc::is_unique));
            }
            let hand = HAND.with(|h| h.borrow().len());
            assert!(hand <= HAND_MAX, "{hand} records in a hand");
        }
    }
}
