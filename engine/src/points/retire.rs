//! Records the tree's B+tree gave up, on their way to the epoch collector (and from there
//! to `record::recycle` or the allocator).

use super::Writer;
use crate::record::Record;
use crate::spares::Spares;

const RETIRE_BATCH: usize = 64;

/// Bytes of retired records that may wait before they are handed on (values reach
/// 16 MiB: a batch of big records is handed on before it holds 64 of them).
const RETIRE_BYTES: usize = 1 << 20;

/// Heap bytes of a record: its bytes plus the count and length words before them.
fn footprint(rec: &Record) -> usize {
    rec.bytes().len() + 16
}

/// Emptied batch buffers, reused so that retiring records allocates nothing once warm.
/// (A `Vec` is three words: the deferred function holding one is stored inline.)
static SPARE: Spares<Record> = Spares::new(64, usize::MAX);

pub(super) fn spare_batch() -> Vec<Record> {
    SPARE
        .take()
        .unwrap_or_else(|| Vec::with_capacity(RETIRE_BATCH))
}

/// Releases a batch's references (the collector calls this once no reader can see them):
/// records nothing else holds go to `record::recycle` for reuse, the rest are dropped; and
/// keeps the buffer for reuse.
fn release_batch(mut batch: Vec<Record>) {
    crate::record::recycle::give(&mut batch);
    SPARE.give(batch);
}

impl Writer {
    /// Queues a reference the tree's B+tree gave up (a record no slot points at any more,
    /// which readers pinned earlier may still be reading); it is released once every
    /// reader pinned now has moved on (later is fine too: holding a record longer is
    /// always safe).
    #[inline]
    pub(crate) fn retire(&mut self, rec: Record) {
        self.retired_bytes += footprint(&rec);
        self.retired.push(rec);
        if self.retired.len() == RETIRE_BATCH || self.retired_bytes >= RETIRE_BYTES {
            self.hand_batch();
        }
    }

    /// Hands the pending batch to the collector (once per `RETIRE_BATCH` records).
    #[cold]
    fn hand_batch(&mut self) {
        let batch = std::mem::replace(&mut self.retired, spare_batch());
        self.retired_bytes = 0;
        let guard = &crossbeam_epoch::pin();
        guard.defer(move || release_batch(batch));
        // The writer pins once per batch, and the collector looks at a thread's garbage
        // only every 128th pin and keeps deferred functions in a local bag until 64
        // accumulate: left alone, ~12k dead records would wait. So the bag goes to the
        // global queue, and a collection runs, at every batch.
        guard.flush();
    }

    /// Hands every pending retired record to the collector now.
    pub(crate) fn hand_off(&mut self) {
        if !self.retired.is_empty() {
            let batch = std::mem::take(&mut self.retired);
            self.retired_bytes = 0;
            crossbeam_epoch::pin().defer(move || release_batch(batch));
        }
    }
}
