//! A counting global allocator: live bytes (for bytes per item) and the number of
//! allocations, in total and per thread (for allocations per operation). Install it with
//! `#[global_allocator] static A: CountingAlloc = CountingAlloc;` in a binary or test.
//!
//! Counting writes nothing shared: each thread counts into its own cache-line-sized slot
//! (threads beyond the slot count share slots, still correctly, by atomic adds) and its own
//! thread-local allocation count; a snapshot sums the slots.
#![allow(unsafe_code)]

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::hint::black_box;
use std::sync::atomic::{AtomicI64, AtomicU64, AtomicUsize, Ordering};

const SLOTS: usize = 64;

/// One thread's counters, alone on its cache lines.
#[repr(align(128))]
struct Slot {
    live_bytes: AtomicI64,
    allocations: AtomicU64,
}

static SLOT_TABLE: [Slot; SLOTS] = [const {
    Slot {
        live_bytes: AtomicI64::new(0),
        allocations: AtomicU64::new(0),
    }
}; SLOTS];
static NEXT_SLOT: AtomicUsize = AtomicUsize::new(0);

thread_local! {
    // Const-initialized and without destructors: usable inside the allocator, at any
    // point of a thread's life, without allocating.
    static MY_SLOT: Cell<usize> = const { Cell::new(usize::MAX) };
    static MY_ALLOCATIONS: Cell<u64> = const { Cell::new(0) };
}

/// This thread's slot (assigned at its first allocation).
fn slot() -> &'static Slot {
    let i = MY_SLOT
        .try_with(|s| {
            let mut i = s.get();
            if i == usize::MAX {
                i = NEXT_SLOT.fetch_add(1, Ordering::Relaxed) % SLOTS;
                s.set(i);
            }
            i
        })
        .unwrap_or(0);
    &SLOT_TABLE[i]
}

fn count_allocation(bytes: usize) {
    let s = slot();
    s.allocations.fetch_add(1, Ordering::Relaxed);
    s.live_bytes.fetch_add(bytes as i64, Ordering::Relaxed);
    let _ = MY_ALLOCATIONS.try_with(|c| c.set(c.get() + 1));
}

/// Forwards to the system allocator and counts.
#[derive(Debug, Default, Clone, Copy)]
pub struct CountingAlloc;

// SAFETY: every method forwards its arguments unchanged to `System`, which upholds the
// `GlobalAlloc` contract; the counters are plain atomics and thread-local cells that never
// touch the memory and never allocate.
unsafe impl GlobalAlloc for CountingAlloc {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        count_allocation(layout.size());
        // SAFETY: the caller's contract for `alloc` is passed through.
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        count_allocation(layout.size());
        // SAFETY: as for `alloc`.
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        slot()
            .live_bytes
            .fetch_sub(layout.size() as i64, Ordering::Relaxed);
        // SAFETY: `ptr` was returned by `System` for this `layout`.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        count_allocation(new_size);
        slot()
            .live_bytes
            .fetch_sub(layout.size() as i64, Ordering::Relaxed);
        // SAFETY: the caller's contract for `realloc` is passed through.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

/// A reading of the counters, summed over every thread.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AllocSnapshot {
    pub live_bytes: i64,
    pub allocations: u64,
}

/// Current counters (all zero unless [`CountingAlloc`] is the global allocator).
pub fn snapshot() -> AllocSnapshot {
    SLOT_TABLE.iter().fold(
        AllocSnapshot {
            live_bytes: 0,
            allocations: 0,
        },
        |acc, s| AllocSnapshot {
            live_bytes: acc.live_bytes + s.live_bytes.load(Ordering::Relaxed),
            allocations: acc.allocations + s.allocations.load(Ordering::Relaxed),
        },
    )
}

/// Allocations (and reallocations) the calling thread has made so far: read it before
/// and after an operation to count the operation's own allocations, whatever other
/// threads do meanwhile.
pub fn thread_allocations() -> u64 {
    MY_ALLOCATIONS.try_with(Cell::get).unwrap_or(0)
}

/// Whether [`CountingAlloc`] is the global allocator (checked by allocating once).
pub fn counting() -> bool {
    let before = thread_allocations();
    drop(black_box(Box::new(black_box(1u64))));
    thread_allocations() != before
}
