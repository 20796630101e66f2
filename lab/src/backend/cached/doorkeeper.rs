//! Admission for `cached`'s reads: a doorkeeper, as in TinyLFU.

use std::sync::atomic::{AtomicU64, Ordering};

/// Admission (TinyLFU's doorkeeper): a read caches what it found on its key's second miss
/// within a window, so a key read once (the long tail of a skewed mix) neither evicts a
/// cached value nor costs a decode into a cold spare and an insert; its first miss decodes
/// into the worker's own document, as `pooled` reads, and caches nothing (not even that
/// the key is absent). One bit per key hash, set on a first miss; all are cleared after
/// `window` first misses. Writes are not gated: a write caches what it stored.
pub(super) struct Doorkeeper {
    bits: Box<[AtomicU64]>,
    pub(super) set: AtomicU64,
    pub(super) window: u64,
}

impl Doorkeeper {
    /// A window of `capacity` first misses (at least 256), over 8 bits per key of it (a
    /// key first missed in a window is then taken for a second one at most 1 time in 8).
    pub(super) fn new(capacity: usize) -> Self {
        let window = capacity.max(256);
        let words = (window * 8).next_power_of_two() / 64;
        Doorkeeper {
            bits: (0..words).map(|_| AtomicU64::new(0)).collect(),
            set: AtomicU64::new(0),
            window: window as u64,
        }
    }

    /// Whether the key of `hash` was missed before in this window; if not, remembers it.
    pub(super) fn admit(&self, hash: u64) -> bool {
        let h = hash.rotate_left(40);
        let word = &self.bits[(h as usize / 64) % self.bits.len()];
        let bit = 1u64 << (h % 64);
        if word.load(Ordering::Relaxed) & bit != 0 {
            return true;
        }
        word.fetch_or(bit, Ordering::Relaxed);
        if self.set.fetch_add(1, Ordering::Relaxed) + 1 >= self.window {
            self.set.store(0, Ordering::Relaxed);
            for w in &*self.bits {
                w.store(0, Ordering::Relaxed);
            }
        }
        false
    }
}
