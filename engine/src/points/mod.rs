//! The point index: a hash table of records beside the ordered index, read without a lock.
//!
//! Point reads (`crack`, `crack_with`, `contains`) never touch the B+tree: at a million keys
//! an ordered lookup costs a dozen cache misses, a probe here about two (the slot, then the
//! record). Readers take no lock and write no shared cache line: they pin a
//! `crossbeam-epoch` guard (a store to their own thread's slot), load the table pointer and
//! the slot, and read the record behind it.
//!
//! Writers are serialized by the tree (every write method needs the [`Writer`] half, which
//! lives in the tree's locked state) and change slots in place with single atomic stores.
//!
//! Slots *borrow* their records: the reference a slot stands for is the tree's ordered
//! index's (the live B+tree's), not one of the slot's own, so a write takes no second
//! reference for the hash index and drops none (two locked instructions a stash fewer).
//! The price is a rule for the tree: a record the live B+tree gives up while a slot may
//! still point at it (an overwrite, a delete) is not dropped but handed to
//! [`Writer::retire`], which passes it to the epoch collector; the reference is released
//! once every reader pinned before has moved on, and a replaced table is retired the same
//! way. So a reader can always follow the pointer it loaded.
//!
//! Slots hold the record's 8-byte thin pointer with 16 bits of the key's hash in the
//! pointer's unused top bits (x86-64 and AArch64 user addresses fit in 48 bits; a table
//! switches to untagged slots for good if an allocation ever does not), so a probe
//! dereferences a record only when the tag matches. Linear probing, slot index by
//! multiply-shift (any capacity works, so the table grows by 1.45× rather than 2×); the
//! load stays between 0.55 and 0.8: 10–14.5 bytes per item.
//!
//! A commit of several changes (a batch, a transaction, a purge) must become visible at
//! once, yet its slots change one by one. The writer first publishes an *overlay* (the
//! last change of each key, in a small table of its own) with one pointer store; readers
//! consult it before the table, so they see either none or all of the commit, then the
//! writer updates the slots and retires the overlay.

#![allow(unsafe_code)]

use std::ffi::c_void;
use std::hash::{BuildHasher, Hasher};
use std::ptr;
use std::sync::atomic::{AtomicPtr, Ordering};

use crossbeam_epoch::{Atomic, Guard, Owned, Shared};

use overlay::Overlay;
use retire::spare_batch;

use crate::index::Keyed;
use crate::record::{Borrowed, Record};

const TAG_SHIFT: u32 = 48;
const ADDR_MASK: u64 = (1 << TAG_SHIFT) - 1;
/// Grow (or clean out tombstones) past this load, in percent.
const MAX_LOAD: usize = 80;
/// A rebuilt table starts at this load, in percent.
const FRESH_LOAD: usize = 55;
/// Shrink below this load, in percent.
const MIN_LOAD: usize = 20;
const MIN_CAP: usize = 8;

/// A deleted slot: probing continues past it. No record lives at address 1 (records are
/// 8-byte aligned).
fn tomb() -> *mut c_void {
    ptr::without_provenance_mut(1)
}

/// `a == b`, with keys of up to 32 bytes (the usual kind) compared inline as two
/// overlapping pairs of words: the slice comparison calls `memcmp`, whose call and
/// dispatch cost more than the comparison on every probe that reaches a record.
#[inline]
fn same_bytes(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    if a.len() <= 16 {
        if let (Some(a0), Some(b0), Some(a1), Some(b1)) = (
            a.first_chunk::<8>(),
            b.first_chunk::<8>(),
            a.last_chunk::<8>(),
            b.last_chunk::<8>(),
        ) {
            return a0 == b0 && a1 == b1;
        }
    } else if a.len() <= 32 {
        if let (Some(a0), Some(b0), Some(a1), Some(b1)) = (
            a.first_chunk::<16>(),
            b.first_chunk::<16>(),
            a.last_chunk::<16>(),
            b.last_chunk::<16>(),
        ) {
            return a0 == b0 && a1 == b1;
        }
    }
    a == b
}

fn home(hash: u64, cap: usize) -> usize {
    ((u128::from(hash) * cap as u128) >> 64) as usize
}

/// 16 bits of the hash (not the top ones, which pick the home slot), never 0.
fn tag(hash: u64) -> u64 {
    (hash & 0xffff).max(1)
}

struct Table {
    slots: Box<[AtomicPtr<c_void>]>,
    /// Whether slots carry tags in their top bits.
    tagged: bool,
}

impl Table {
    fn new(cap: usize, tagged: bool) -> Self {
        Table {
            slots: (0..cap.max(MIN_CAP))
                .map(|_| AtomicPtr::new(ptr::null_mut()))
                .collect(),
            tagged,
        }
    }

    fn encode(&self, raw: *const c_void, tag: u64) -> *mut c_void {
        let raw = raw.cast_mut();
        if self.tagged {
            raw.map_addr(|a| (a as u64 | tag << TAG_SHIFT) as usize)
        } else {
            raw
        }
    }

    /// The record pointer in slot value `s` if its tag can match `tag` (`None` for empty
    /// and deleted slots too).
    fn candidate(&self, s: *mut c_void, tag: u64) -> Option<*const c_void> {
        if s.is_null() || s == tomb() {
            return None;
        }
        if !self.tagged {
            return Some(s);
        }
        ((s.addr() as u64) >> TAG_SHIFT == tag)
            .then(|| s.map_addr(|a| (a as u64 & ADDR_MASK) as usize).cast_const())
    }

    /// The record pointer in a live slot, whatever its tag.
    fn untag(&self, s: *mut c_void) -> *const c_void {
        if self.tagged {
            s.map_addr(|a| (a as u64 & ADDR_MASK) as usize)
        } else {
            s
        }
    }

    fn live(&self, s: *mut c_void) -> bool {
        !s.is_null() && s != tomb()
    }
}

/// The shared half: what readers load.
pub(crate) struct Points {
    /// Shared with its one writer (see [`Writer::check`]).
    id: u64,
    table: Atomic<Table>,
    overlay: Atomic<Overlay>,
    hasher: foldhash::fast::FixedState,
}

impl std::fmt::Debug for Points {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Points").finish_non_exhaustive()
    }
}

/// The writer's half: counts, and the right to change slots. The tree keeps it in its
/// locked state, so writes are serialized by construction.
#[derive(Debug)]
pub(crate) struct Writer {
    /// Live entries.
    live: usize,
    /// Live entries plus tombstones.
    used: usize,
    /// References the tree's B+tree gave up (records taken out of slots, see the module
    /// docs), handed to the collector `RETIRE_BATCH` at a time
    /// (one deferred function per batch instead of per record), or sooner once they hold
    /// `RETIRE_BYTES`.
    retired: Vec<Record>,
    /// Bytes of the records in `retired`.
    retired_bytes: usize,
    /// The id of the index this writer was made with.
    id: u64,
    /// Address bits a record may use while slots are tagged: `TAG_SHIFT` (tests lower it
    /// to stand in for an allocator that hands out addresses past 48 bits).
    addr_bits: u32,
}

/// A new, empty point index: its shared half and its one writer.
pub(crate) fn new() -> (Points, Writer) {
    static NEXT_ID: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let id = NEXT_ID.fetch_add(1, Ordering::Relaxed);
    let tagged = cfg!(target_pointer_width = "64");
    (
        Points {
            id,
            table: Atomic::new(Table::new(MIN_CAP, tagged)),
            overlay: Atomic::null(),
            hasher: keyed_hasher(),
        },
        Writer {
            live: 0,
            used: 0,
            retired: spare_batch(),
            retired_bytes: 0,
            addr_bits: TAG_SHIFT,
            id,
        },
    )
}

/// The index's hash function, keyed per index from the operating system's randomness (the
/// keys of std's `RandomState`, from `getrandom`), so keys cannot be chosen to collide. Not
/// foldhash's own `RandomState`: that seeds itself from the clock and from addresses, so a
/// program that makes `getrandom` repeatable (the lab counting instructions under valgrind)
/// still could not make the index's hashing, and with it every lookup's cost, repeat.
fn keyed_hasher() -> foldhash::fast::FixedState {
    let key = std::collections::hash_map::RandomState::new().hash_one(0x6b65_7965_645f_6978_u64);
    foldhash::fast::FixedState::with_seed(key)
}

impl Points {
    /// The key's bytes alone, written once (`hash_one` would write the length first, then
    /// fold once more in `finish`: ~20 more instructions per write and per read; one slice
    /// needs no length to keep keys apart, and foldhash mixes the length into its seed).
    fn hash(&self, key: &[u8]) -> u64 {
        let mut hasher = self.hasher.build_hasher();
        hasher.write(key);
        hasher.finish()
    }

    /// The hash [`Writer::get_hashed`] and the other `_hashed` methods take for `key`.
    pub(crate) fn hash_of(&self, key: &[u8]) -> u64 {
        self.hash(key)
    }

    /// The current table, for as long as both `self` and `guard` live: dropping the index
    /// frees its table at once, whatever guards are pinned.
    fn table<'g>(&'g self, guard: &'g Guard) -> &'g Table {
        let t = self.table.load(Ordering::Acquire, guard);
        // SAFETY: the table pointer is never null while `self` is borrowed (set at
        // construction, only ever replaced by another table; `Drop` takes it), and a
        // replaced table is retired through the epoch collector, so it outlives every
        // guard pinned while it was current.
        unsafe { t.deref() }
    }

    /// The record stored under `key`, borrowed for as long as `guard` is pinned and the
    /// index lives (the tree that owns its records drops them with it, guard or not).
    pub(crate) fn get<'g>(&'g self, key: &[u8], guard: &'g Guard) -> Option<Borrowed<'g>> {
        let hash = self.hash(key);
        let ov = self.overlay.load(Ordering::Acquire, guard);
        // SAFETY: an overlay is retired through the epoch collector, like a table (and
        // freed at once only by `Drop`, which cannot run while `self` is borrowed).
        if let Some(ov) = unsafe { ov.as_ref() } {
            if let Some(hit) = ov.find(hash, key) {
                // SAFETY: a record an overlay borrows lives while `guard` is pinned (see
                // `Writer::begin_overlay`).
                return hit.map(|raw| unsafe { Record::borrow_raw(raw) });
            }
        }
        let t = self.table(guard);
        let cap = t.slots.len();
        let tag = tag(hash);
        let mut i = home(hash, cap);
        // The table is never full (load ≤ MAX_LOAD), so an empty slot ends every probe.
        loop {
            let s = t.slots[i].load(Ordering::Acquire);
            if s.is_null() {
                return None;
            }
            if let Some(raw) = t.candidate(s, tag) {
                // SAFETY: the tree gives up a record only through `Writer::retire`, after
                // the slot stopped pointing at it, so it lives while `guard` is pinned (or
                // is dropped with the tree, which cannot happen while `self` is borrowed).
                let rec = unsafe { Record::borrow_raw(raw) };
                if same_bytes(rec.key(), key) {
                    return Some(rec);
                }
            }
            i += 1;
            if i == cap {
                i = 0;
            }
        }
    }
}

impl Writer {
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.live
    }

    /// Every write goes through the writer made with its index: only it changes the
    /// slots (and retires what they pointed at), and its counts keep the table from
    /// filling up (a full table would never end a reader's probe).
    fn check(&self, p: &Points) {
        assert_eq!(
            self.id, p.id,
            "a point index written through another index's writer"
        );
    }

    /// The current table, read without pinning: only this writer replaces it (`check`),
    /// and not while the reference lives (it borrows the writer), so it stays allocated.
    /// The writer pins only to retire something (a batch of records, a table, an
    /// overlay): a pin costs a full fence, a tenth of an in-memory stash.
    fn current<'a>(&'a self, p: &'a Points) -> &'a Table {
        // SAFETY: `unprotected` is used only to load; nothing is deferred through it.
        let guard = unsafe { crossbeam_epoch::unprotected() };
        let t = p.table.load(Ordering::Acquire, guard);
        // SAFETY: never null (see `Points::table`); only this writer retires a table, and
        // it cannot while `self` is borrowed here.
        unsafe { t.deref() }
    }

    /// The hash of `key`, having asked the CPU to fetch the slot its probe starts at, so
    /// that the line (an L2 miss, a fifth of `put`'s time in a stash) arrives while the
    /// commit does other work before its [`Writer::put_hashed`].
    pub(crate) fn prefetch(&self, p: &Points, key: &[u8]) -> u64 {
        self.check(p);
        let hash = p.hash(key);
        let t = self.current(p);
        let slot = t.slots[home(hash, t.slots.len())].as_ptr();
        #[cfg(target_arch = "x86_64")]
        // SAFETY: a prefetch is only a hint: it reads nothing and cannot fault (SSE is
        // part of every x86-64 CPU).
        unsafe {
            std::arch::x86_64::_mm_prefetch::<{ std::arch::x86_64::_MM_HINT_T0 }>(
                slot.cast_const().cast(),
            );
        }
        #[cfg(not(target_arch = "x86_64"))]
        let _ = slot;
        hash
    }

    /// Stores `rec` under its key; returns the address of the record it replaced (for
    /// identity only: the slot held no reference of its own, see the module docs).
    ///
    /// # Safety
    /// `rec` stays alive, at this address, for as long as a slot points at it: the tree's
    /// live B+tree owns it, and gives it up only through [`Writer::retire`] once this
    /// index no longer points at it (after `put` or `remove` of its key returned it).
    pub(crate) unsafe fn put(&mut self, p: &Points, rec: &Record) -> Option<*const c_void> {
        let hash = p.hash(rec.key());
        // SAFETY: the caller's contract.
        unsafe { self.put_hashed(p, rec, hash) }
    }

    /// [`Writer::put`] with the key's hash already known (from [`Writer::begin_overlay`]).
    ///
    /// # Safety
    /// As for [`Writer::put`].
    pub(crate) unsafe fn put_hashed(
        &mut self,
        p: &Points,
        rec: &Record,
        hash: u64,
    ) -> Option<*const c_void> {
        self.check(p);
        debug_assert_eq!(hash, p.hash(rec.key()), "a hash of another key or index");
        let (cap, tagged) = {
            let t = self.current(p);
            (t.slots.len(), t.tagged)
        };
        if tagged && (rec.as_ptr().addr() as u64) >> self.addr_bits != 0 {
            // An address past 48 bits: no room for tags in this process. Rare enough
            // (5-level paging with high mappings) to pay one rebuild, once.
            self.rebuild(p, cap, false);
        } else if (self.used + 1) * 100 > cap * MAX_LOAD {
            self.rebuild(p, self.fresh_cap(1), tagged);
        }
        let t = self.current(p);
        let tag = tag(hash);
        let cap = t.slots.len();
        let mut i = home(hash, cap);
        let mut free = None;
        loop {
            let s = t.slots[i].load(Ordering::Relaxed);
            if s.is_null() {
                break;
            }
            if s == tomb() {
                free.get_or_insert(i);
            } else if let Some(raw) = t.candidate(s, tag) {
                // SAFETY: a record in a slot is alive (`put`'s contract).
                let old = unsafe { Record::borrow_raw(raw) };
                if same_bytes(old.key(), rec.key()) {
                    t.slots[i].store(t.encode(rec.as_ptr(), tag), Ordering::Release);
                    return Some(raw);
                }
            }
            i += 1;
            if i == cap {
                i = 0;
            }
        }
        t.slots[free.unwrap_or(i)].store(t.encode(rec.as_ptr(), tag), Ordering::Release);
        self.used += usize::from(free.is_none());
        self.live += 1;
        None
    }

    /// Removes `key`; returns the address of the record that was there (for identity
    /// only, as in `put`: its owner may now retire it).
    pub(crate) fn remove(&mut self, p: &Points, key: &[u8]) -> Option<*const c_void> {
        self.remove_hashed(p, key, p.hash(key))
    }

    /// [`Writer::remove`] with the key's hash already known (from
    /// [`Writer::begin_overlay`]).
    pub(crate) fn remove_hashed(
        &mut self,
        p: &Points,
        key: &[u8],
        hash: u64,
    ) -> Option<*const c_void> {
        let (i, raw) = self.find(p, key, hash)?;
        let t = self.current(p);
        t.slots[i].store(tomb(), Ordering::Release);
        let (cap, tagged) = (t.slots.len(), t.tagged);
        self.live -= 1;
        if cap > 64 && self.live * 100 < cap * MIN_LOAD {
            self.rebuild(p, self.fresh_cap(0), tagged);
        }
        Some(raw)
    }

    /// The record stored under `key`, whose hash is `hash` (from [`Writer::prefetch`] or
    /// [`Points::hash_of`]), as the writer sees it (no overlay is ever published outside
    /// `apply`). One probe: the B+tree's leaf search would read the keys of half a dozen
    /// records to find the same one, and for a key nobody read lately each is a cache miss.
    /// Borrowed from the writer: the record is the tree's B+tree's, which only changes
    /// through the same locked state.
    pub(crate) fn get_hashed<'a>(
        &'a self,
        p: &Points,
        key: &[u8],
        hash: u64,
    ) -> Option<Borrowed<'a>> {
        let (_, raw) = self.find(p, key, hash)?;
        // SAFETY: a record in a slot is alive while the B+tree holds it (`put`'s
        // contract), and the B+tree changes only through the state this writer is part of,
        // which the borrow of `self` keeps as it is.
        Some(unsafe { Record::borrow_raw(raw) })
    }

    /// The slot holding `key` (hash `hash`) and the record in it.
    fn find(&self, p: &Points, key: &[u8], hash: u64) -> Option<(usize, *const c_void)> {
        self.check(p);
        debug_assert_eq!(hash, p.hash(key), "a hash of another key or index");
        let t = self.current(p);
        let tag = tag(hash);
        let cap = t.slots.len();
        let mut i = home(hash, cap);
        loop {
            let s = t.slots[i].load(Ordering::Relaxed);
            if s.is_null() {
                return None;
            }
            if let Some(raw) = t.candidate(s, tag) {
                // SAFETY: as in `put`.
                if same_bytes(unsafe { Record::borrow_raw(raw) }.key(), key) {
                    return Some((i, raw));
                }
            }
            i += 1;
            if i == cap {
                i = 0;
            }
        }
    }

    fn fresh_cap(&self, extra: usize) -> usize {
        ((self.live + extra) * 100)
            .div_ceil(FRESH_LOAD)
            .max(MIN_CAP)
    }

    /// Moves every live entry into a new table of `cap` slots (no tombstones) and retires
    /// the old one. The pointers move; no record is touched but to hash its key.
    fn rebuild(&mut self, p: &Points, cap: usize, tagged: bool) {
        let guard = &crossbeam_epoch::pin();
        let old = p.table.load(Ordering::Relaxed, guard);
        // SAFETY: as in `Points::table`.
        let old_t = unsafe { old.deref() };
        let new = Table::new(cap, tagged);
        let cap = new.slots.len();
        for slot in old_t.slots.iter() {
            let s = slot.load(Ordering::Relaxed);
            if !old_t.live(s) {
                continue;
            }
            let raw = old_t.untag(s);
            // SAFETY: as in `put`.
            let hash = p.hash(unsafe { Record::borrow_raw(raw) }.key());
            let mut i = home(hash, cap);
            while !new.slots[i].load(Ordering::Relaxed).is_null() {
                i = if i + 1 == cap { 0 } else { i + 1 };
            }
            new.slots[i].store(new.encode(raw, tag(hash)), Ordering::Relaxed);
        }
        p.table.store(Owned::new(new), Ordering::Release);
        // SAFETY: `old` is unreachable for readers pinned from now on; the collector frees
        // it (the slot array only: the records moved) once earlier readers are done.
        unsafe { guard.defer_destroy(old) };
        // Hand the old table to the global queue now, so later pins (of any thread) free
        // it, instead of it waiting in this thread's bag for 63 more retirements.
        guard.flush();
        self.used = self.live;
    }
}

impl Drop for Writer {
    fn drop(&mut self) {
        // Pending records may still be borrowed by pinned readers: they go through the
        // collector like every other reference taken out of a slot.
        self.hand_off();
    }
}

impl Drop for Points {
    fn drop(&mut self) {
        // SAFETY: `&mut self`: no reader or writer can reach this index any more.
        let guard = unsafe { crossbeam_epoch::unprotected() };
        let t = self.table.swap(Shared::null(), Ordering::Relaxed, guard);
        // SAFETY: as above. The slots hold no references (their records are the tree's).
        drop(unsafe { t.try_into_owned() });
        let ov = self.overlay.swap(Shared::null(), Ordering::Relaxed, guard);
        // SAFETY: as above.
        drop(unsafe { ov.try_into_owned() });
    }
}

mod overlay;
mod retire;

pub(crate) use overlay::Hashed;

#[cfg(test)]
mod tests;
