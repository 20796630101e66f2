//! Every repeat starts from identical data. Before a repeat after the first, the records the
//! previous measured phase inserted (single inserts and batches) are removed and every
//! loaded record is rewritten; after each warmup, the records it inserted (under ids the
//! measured phase never uses) are removed. All of it is untimed.

use std::ops::Range;

use crate::backend::{Backend, BackendError};
use crate::workload::Plan;

/// Keys removed per `delete_batch` call.
const CHUNK: u64 = 1000;

/// Removes the records with ids in `ids`.
pub(super) fn remove(
    backend: &dyn Backend,
    plan: &Plan,
    ids: Range<u64>,
) -> Result<(), BackendError> {
    let mut w = backend.worker();
    let mut keys: Vec<Vec<u8>> = Vec::new();
    let mut id = ids.start;
    while id < ids.end {
        let end = ids.end.min(id + CHUNK);
        keys.resize_with((end - id) as usize, Vec::new);
        for (k, i) in keys.iter_mut().zip(id..end) {
            plan.dataset.write_key(k, i);
        }
        w.delete_batch(&keys)?;
        id = end;
    }
    Ok(())
}
