//! The C ABI for batches: build one on a tree, commit it atomically, free it.

#![allow(unsafe_code)]

use std::ffi::c_int;

use super::{
    bytes, code_of, fail, guard, hand_out, key, put, release, tag_at, tree, AcornBatch, AcornTree,
    ACORN_ERR_INVALID_HANDLE, ACORN_ERR_NULL, ACORN_OK, BATCH_TAG,
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
            },
            BATCH_TAG,
            out,
        )
    })
}

/// The batch behind a handle, if it is live and not yet committed.
///
/// # Safety
/// `b` must be null or a live batch handle.
unsafe fn batch<'a>(b: *mut AcornBatch) -> Result<&'a mut crate::Batch, c_int> {
    if b.is_null() {
        return Err(fail(ACORN_ERR_NULL, "batch handle is null"));
    }
    // SAFETY: the caller promises a live handle; its tag is read before any typed access.
    if unsafe { tag_at(b) } != BATCH_TAG {
        return Err(fail(ACORN_ERR_INVALID_HANDLE, "not a live batch handle"));
    }
    // SAFETY: the tag says this is a live `AcornBatch`.
    let h = unsafe { &mut *b };
    h.batch
        .as_mut()
        .ok_or_else(|| fail(ACORN_ERR_INVALID_HANDLE, "batch was already committed"))
}

/// Adds a stash to the batch. An invalid key is reported now and also fails the commit.
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
        // SAFETY (the three): per the function's contract.
        let batch = unsafe { batch(b) }?;
        let k = unsafe { key(key_ptr, key_len) }?;
        let v = unsafe { bytes(value_ptr, value_len, "value") }?;
        let checked = crate::record::check_key(k).and_then(|()| crate::record::check_value(k, v));
        batch.stash(k, v); // an invalid one is remembered: the commit fails whole
        checked.map_err(|e| code_of(&e))?;
        Ok(ACORN_OK)
    })
}

/// Adds a toss to the batch.
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
        // SAFETY (both): per the function's contract.
        let batch = unsafe { batch(b) }?;
        let k = unsafe { key(key_ptr, key_len) }?;
        let checked = crate::record::check_key(k);
        batch.toss(k); // an invalid one is remembered: the commit fails whole
        checked.map_err(|e| code_of(&e))?;
        Ok(ACORN_OK)
    })
}

/// Commits the batch atomically (all or nothing); writes the version to `*version` when
/// non-null. The handle must still be freed with `acorn_batch_free`.
///
/// # Safety
/// `b` a live batch handle; `version` null or writable.
#[no_mangle]
pub unsafe extern "C" fn acorn_batch_commit(b: *mut AcornBatch, version: *mut u64) -> c_int {
    guard(|| {
        // SAFETY: per the function's contract.
        unsafe { batch(b) }?;
        // SAFETY: validated just above.
        let Some(batch) = (unsafe { &mut *b }).batch.take() else {
            return Err(fail(
                ACORN_ERR_INVALID_HANDLE,
                "batch was already committed",
            ));
        };
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
