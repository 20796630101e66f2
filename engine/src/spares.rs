//! Bounded pools of emptied buffers, handed to the next user instead of freed: a buffer
//! filled afresh allocates, and writes every element to a cold line. Used for the batches
//! of retired records (`points`) and for multi-change commits' change lists (`record`).

use std::sync::{Mutex, MutexGuard, PoisonError};

/// At most `keep` empty buffers of at most `max_cap` elements each.
pub(crate) struct Spares<T> {
    pool: Mutex<Vec<Vec<T>>>,
    keep: usize,
    max_cap: usize,
}

impl<T> Spares<T> {
    pub(crate) const fn new(keep: usize, max_cap: usize) -> Self {
        Spares {
            pool: Mutex::new(Vec::new()),
            keep,
            max_cap,
        }
    }

    fn lock(&self) -> MutexGuard<'_, Vec<Vec<T>>> {
        self.pool.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// An empty buffer, if one is kept.
    pub(crate) fn take(&self) -> Option<Vec<T>> {
        self.lock().pop()
    }

    /// Empties `buf` and keeps it, unless it never allocated, holds more than `max_cap`
    /// elements' room, or `keep` buffers are kept already.
    pub(crate) fn give(&self, mut buf: Vec<T>) {
        if buf.capacity() == 0 || buf.capacity() > self.max_cap {
            return;
        }
        buf.clear();
        let mut pool = self.lock();
        if pool.len() < self.keep {
            pool.push(buf);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Buffers come back empty, and a pool keeps at most `keep` of at most `max_cap`
    /// elements.
    #[test]
    fn spare_buffers_are_empty_and_bounded() {
        let spares = Spares::new(2, 4096);
        for _ in 0..5 {
            spares.give(vec![7u64; 100]);
        }
        spares.give(vec![7u64; 4097]);
        let taken: Vec<_> = std::iter::from_fn(|| spares.take()).take(8).collect();
        assert_eq!(taken.len(), 2);
        assert!(taken
            .iter()
            .all(|b| b.is_empty() && (100..=4096).contains(&b.capacity())));
    }
}
