//! The `Never` buffer: commit frames gather in `Active::buf` and reach the OS in one write
//! once they fill the buffer, after at most its delay (the flusher thread), at `flush()`,
//! before a compaction cuts the log, and when the tree is dropped: no syscall per commit.
//! Frames are written whole and in order, so what reaches the file is always a prefix of
//! the commits logged; after a failed write nothing more is written. Under `Always` and
//! `Group` the buffer holds only the frame being written.

use std::sync::PoisonError;

use super::{lock, Active, Log};
use crate::Result;

impl Log {
    /// Hands the frames in the buffer to the OS in one write (append lock held). After a
    /// failed write nothing more is written: the buffer is dropped and the log refuses.
    pub(super) fn write_out(&self, a: &mut Active) -> Result<()> {
        if a.buf.is_empty() {
            return Ok(());
        }
        let result = if a.write_failed {
            Err(self.refused())
        } else {
            self.io.write(&a.file, &a.path, &a.buf).map_err(|e| {
                a.write_failed = true;
                self.fail(&a.path, e)
            })
        };
        a.buf.clear();
        if a.buf.capacity() > 4 << 20 {
            a.buf = Vec::new();
        }
        result
    }

    /// The flusher thread (under `Never` with a buffer): once frames arrive in an empty
    /// buffer, lets more gather for at most `buffer_delay`, then writes what is there,
    /// until the `Wal` is dropped. A failed write poisons the log (the next write or
    /// `flush()` reports it).
    pub(super) fn flusher(&self) {
        let mut a = lock(&self.active);
        loop {
            while a.buf.is_empty() && !a.closed {
                a.flusher_waiting = true;
                a = self
                    .flush_cv
                    .wait(a)
                    .unwrap_or_else(PoisonError::into_inner);
                a.flusher_waiting = false;
            }
            if a.closed {
                return;
            }
            a = self
                .flush_cv
                .wait_timeout_while(a, self.buffer_delay, |a| !a.closed)
                .unwrap_or_else(PoisonError::into_inner)
                .0;
            let _ = self.write_out(&mut a);
        }
    }

    /// Hands the frames waiting in the buffer (under `Never`) to the OS, so a reader of
    /// the files sees every commit appended so far. No fsync.
    pub(crate) fn write_buffered(&self) -> Result<()> {
        self.write_out(&mut lock(&self.active))
    }

    /// Writes out what the buffer holds and stops the flusher thread (the `Wal` is
    /// dropped): what the buffer holds reaches the OS before the directory is unlocked.
    pub(super) fn close_buffer(&self) {
        let mut a = lock(&self.active);
        if let Err(e) = self.write_out(&mut a) {
            log::warn!("closing the log: {e}");
        }
        a.closed = true;
        self.flush_cv.notify_all();
    }
}
