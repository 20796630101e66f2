//! The C ABI for batches: build one on a tree, commit it atomically, free it.

#![allow(unsafe_code)]

use std::ffi::c_int;

use super::{
    bytes, code_of, fail, guard, hand_out, key, last_error, put, release, tag_at, tree, AcornBatch,
    AcornTree, Status, ACORN_ERR_INVALID_HANDLE, ACORN_ERR_NULL, ACORN_OK, BATCH_TAG,
};

/// Starts a batch on `t` into `*out`.
///
/// # Safety
/// `t` a live tree handle; `out` writable.
#[no_mangle]
pub unsafe extern "C" fn acorn_batch_new(t: *const AcornTree, out: *mut *mut AcornBatch) -> c_int {
    guard(|| {
        // SAFETY: per the function's contract.
        let tree = unsafe { tree(t) }?;
        hand_out(
            AcornBatch {
                tag: BATCH_TAG,
                batch: Some(tree.batch()),
                rejected: None,
            },
            BATCH_TAG,
            out,
        )
    })
}

/// The batch handle `b`, if it is live and not yet committed.
///
/// # Safety
/// `b` must be null or a live batch handle.
unsafe fn handle<'a>(b: *mut AcornBatch) -> Result<&'a mut AcornBatch, c_int> {
    if b.is_null() {
        return Err(fail(ACORN_ERR_NULL, "batch handle is null"));
    }
    // SAFETY: the caller promises a live handle; its tag is read before any typed access.
    if unsafe { tag_at(b) } != BATCH_TAG {
        return Err(fail(ACORN_ERR_INVALID_HANDLE, "not a live batch handle"));
    }
    // SAFETY: the tag says this is a live `AcornBatch`.
    let h = unsafe { &mut *b };
    if h.batch.is_none() {
        return Err(fail(
            ACORN_ERR_INVALID_HANDLE,
            "batch was already committed",
        ));
    }
    Ok(h)
}

impl AcornBatch {
    /// Adds one operation to the batch with `add`, which checks its arguments first. A
    /// rejected operation is remembered (its status and message), so the commit fails whole,
    /// as [`crate::Batch::commit`] does after an invalid key.
    fn add(&mut self, add: impl FnOnce(&mut crate::Batch) -> Status) -> Status {
        let Some(batch) = self.batch.as_mut() else {
            return Err(fail(
                ACORN_ERR_INVALID_HANDLE,
                "batch was already committed",
            ));
        };
        let status = add(batch);
        if let (Err(code), None) = (status, &self.rejected) {
            self.rejected = Some((code, last_error()));
        }
        status
    }
}

/// Adds a stash to the batch. A rejected one (a key that is empty or not UTF-8, a null or
/// oversized value) returns its error now and fails the commit whole.
///
/// # Safety
/// `b` a live batch handle; `key`/`value` readable for their lengths.
#[no_mangle]
pub unsafe extern "C" fn acorn_batch_stash(
    b: *mut AcornBatch,
    key_ptr: *const u8,
    key_len: usize,
    value_ptr: *const u8,
    value_len: usize,
) -> c_int {
    guard(|| {
        // SAFETY: per the function's contract.
        unsafe { handle(b) }?.add(|batch| {
            // SAFETY (both): per the function's contract.
            let k = unsafe { key(key_ptr, key_len) }?;
            let v = unsafe { bytes(value_ptr, value_len, "value") }?;
            crate::record::check_key(k)
                .and_then(|()| crate::record::check_value(k, v))
                .map_err(|e| code_of(&e))?;
            batch.stash(k, v);
            Ok(ACORN_OK)
        })
    })
}

/// Adds a toss to the batch. A rejected one (a key that is empty or not UTF-8) returns its
/// error now and fails the commit whole.
///
/// # Safety
/// `b` a live batch handle; `key` readable.
#[no_mangle]
pub unsafe extern "C" fn acorn_batch_toss(
    b: *mut AcornBatch,
    key_ptr: *const u8,
    key_len: usize,
) -> c_int {
    guard(|| {
        // SAFETY: per the function's contract.
        unsafe { handle(b) }?.add(|batch| {
            // SAFETY: per the function's contract.
            let k = unsafe { key(key_ptr, key_len) }?;
            crate::record::check_key(k).map_err(|e| code_of(&e))?;
            batch.toss(k);
            Ok(ACORN_OK)
        })
    })
}

/// Commits the batch atomically (all or nothing); writes the version to `*version` when
/// non-null. A batch with a rejected operation commits nothing and returns that
/// operation's status. The handle must still be freed with `acorn_batch_free`.
///
/// # Safety
/// `b` a live batch handle; `version` null or writable.
#[no_mangle]
pub unsafe extern "C" fn acorn_batch_commit(b: *mut AcornBatch, version: *mut u64) -> c_int {
    guard(|| {
        // SAFETY: per the function's contract.
        let h = unsafe { handle(b) }?;
        let Some(batch) = h.batch.take() else {
            return Err(fail(
                ACORN_ERR_INVALID_HANDLE,
                "batch was already committed",
            ));
        };
        if let Some((code, why)) = h.rejected.take() {
            return Err(fail(
                code,
                &format!("nothing was committed: the batch holds a rejected operation ({why})"),
            ));
        }
        let v = batch.commit().map_err(|e| code_of(&e))?;
        // SAFETY: null or writable per the contract.
        unsafe { put(version, v) };
        Ok(ACORN_OK)
    })
}

/// Frees a batch handle; an uncommitted batch changes nothing.
///
/// # Safety
/// `b` must be null or a handle from `acorn_batch_new` (double frees are detected).
#[no_mangle]
pub unsafe extern "C" fn acorn_batch_free(b: *mut AcornBatch) -> c_int {
    // SAFETY: checked against the registry before use.
    guard(|| unsafe { release(b, BATCH_TAG, "batch") })
}
