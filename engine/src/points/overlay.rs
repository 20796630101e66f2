//! The overlay of a multi-change commit: what point readers see of it while its slots
//! change one by one (see the module docs of `crate::points`).

#![allow(unsafe_code)]

use std::ffi::c_void;
use std::sync::atomic::Ordering;

use crossbeam_epoch::{Owned, Shared};

use super::{same_bytes, Points, Writer};
use crate::record::{Change, Record};

/// One key's last change in an overlay.
enum Last {
    /// The record it stores, borrowed (see [`Writer::begin_overlay`]'s contract).
    Put(*const c_void),
    /// A delete or an expiry: the key's bytes, owned (the change's own are dropped as it
    /// is applied).
    Gone(Box<[u8]>),
}

/// A multi-change commit in flight: the last change of each key it changes, in a small
/// open-addressing table of its own (slots hold an entry's index plus one; 0 is empty),
/// built before it is published and never changed after.
pub(super) struct Overlay {
    slots: Box<[usize]>,
    entries: Vec<(u64, Last)>,
}

// SAFETY: the borrowed record pointers are only read (a record's bytes never change once
// it is published), by any thread, while the records live (`Writer::begin_overlay`).
unsafe impl Send for Overlay {}
// SAFETY: as above.
unsafe impl Sync for Overlay {}

impl Overlay {
    fn key(last: &Last) -> &[u8] {
        match last {
            // SAFETY: the record lives while the overlay can be read (see `Last::Put`).
            Last::Put(raw) => unsafe { Record::key_at(*raw) },
            Last::Gone(key) => key,
        }
    }

    /// The slot of `key` (hash `hash`): the one holding its entry, or the empty one where
    /// it would go.
    fn slot(&self, hash: u64, key: &[u8]) -> usize {
        let mask = self.slots.len() - 1;
        let mut i = (hash as usize) & mask;
        loop {
            match self.slots[i] {
                0 => return i,
                e => {
                    let (h, last) = &self.entries[e - 1];
                    if *h == hash && same_bytes(Self::key(last), key) {
                        return i;
                    }
                }
            }
            i = (i + 1) & mask;
        }
    }

    /// What the commit does to `key`: `Some(Some(record))` stores it, `Some(None)` removes
    /// it, `None`: the commit leaves it alone.
    pub(super) fn find(&self, hash: u64, key: &[u8]) -> Option<Option<*const c_void>> {
        match self.slots[self.slot(hash, key)] {
            0 => None,
            e => Some(match &self.entries[e - 1].1 {
                Last::Put(raw) => Some(*raw),
                Last::Gone(_) => None,
            }),
        }
    }
}

/// What [`Writer::begin_overlay`] tells the commit about its changes.
#[derive(Debug, Default)]
pub(crate) struct Hashed {
    /// Each change's key hash, in the changes' order.
    pub(crate) hashes: Vec<u64>,
    /// The positions, ascending, of the changes a later change of the same key overrides.
    /// The slots must never show them (a reader that missed the overlay would see a state
    /// no commit made): they go to the B+tree alone.
    pub(crate) superseded: Vec<usize>,
}

impl Hashed {
    /// Whether the change at `at` is overridden by a later one of its key.
    pub(crate) fn is_superseded(&self, at: usize) -> bool {
        !self.superseded.is_empty() && self.superseded.binary_search(&at).is_ok()
    }
}

impl Writer {
    /// Publishes the changes of a multi-change commit before its slots are updated (the
    /// last change of each key: a key changed twice shows its last); returns their keys'
    /// hashes, in the changes' order (for [`Writer::put_hashed`] and
    /// [`Writer::remove_hashed`]: each key is hashed once per commit), and which changes
    /// are superseded (their slots must not be written).
    ///
    /// # Safety
    /// Every record the overlay borrows (the last `Put` of each key among `changes`) lives,
    /// at its address, until [`Writer::end_overlay`] has retired the overlay and every
    /// reader pinned before that has moved on. The tree keeps this by putting each into
    /// its B+tree (which gives records up only through [`Writer::retire`]): a record a
    /// later change of the same commit replaces is retired during the commit, so the
    /// overlay never borrows one (only a key's last change is kept).
    pub(crate) unsafe fn begin_overlay(&mut self, p: &Points, changes: &[Change]) -> Hashed {
        self.check(p);
        let hashes: Vec<u64> = changes.iter().map(|c| p.hash(c.key())).collect();
        // At most half full: probes stay short, and an empty slot ends every one.
        let cap = (changes.len() * 2).next_power_of_two().max(4);
        let mut superseded = Vec::new();
        let mut ov = Overlay {
            slots: vec![0; cap].into_boxed_slice(),
            entries: Vec::with_capacity(changes.len()),
        };
        for (change, &hash) in changes.iter().zip(&hashes) {
            let last = match change {
                Change::Put(rec) => Last::Put(rec.as_ptr()),
                Change::Delete(key) | Change::Expire(key) => Last::Gone(key.clone()),
            };
            let i = ov.slot(hash, change.key());
            // A key changed again: its slot moves to the later change (the earlier entry
            // stays unreachable), and the earlier change is superseded.
            if let Some(earlier) = ov.slots[i].checked_sub(1) {
                superseded.push(earlier);
            }
            ov.entries.push((hash, last));
            ov.slots[i] = ov.entries.len();
        }
        superseded.sort_unstable();
        // SAFETY: only to swap; the old overlay (always none) is not touched.
        let guard = unsafe { crossbeam_epoch::unprotected() };
        let old = p.overlay.swap(Owned::new(ov), Ordering::Release, guard);
        debug_assert!(old.is_null(), "overlays do not nest");
        Hashed { hashes, superseded }
    }

    /// Retires the overlay once every slot of the commit is in place.
    pub(crate) fn end_overlay(&mut self, p: &Points) {
        self.check(p);
        let guard = &crossbeam_epoch::pin();
        let old = p.overlay.swap(Shared::null(), Ordering::Release, guard);
        if !old.is_null() {
            // SAFETY: unreachable for readers pinned from now on; freed after earlier ones.
            unsafe { guard.defer_destroy(old) };
        }
    }
}
