//! The C ABI for a tree handle: open (in memory or durable), close, stash (also with a
//! TTL), crack (into the caller's buffer or a new one), toss.

#![allow(unsafe_code)]

use std::ffi::{c_char, c_int, CStr};

use super::{
    bytes, code_of, fail, guard, hand_out, key, put, release, tree, AcornTree,
    ACORN_ERR_BUFFER_TOO_SMALL, ACORN_ERR_NULL, ACORN_ERR_UTF8, ACORN_NOT_FOUND, ACORN_OK,
    TREE_TAG,
};

use crate::Tree;

/// Opens a new in-memory tree into `*out`.
///
/// # Safety
/// `out` must be null or writable.
#[no_mangle]
pub unsafe extern "C" fn acorn_open_memory(out: *mut *mut AcornTree) -> c_int {
    guard(|| hand_out_tree(Tree::open_memory(), out))
}

/// Opens (or creates) a durable tree in directory `path` (NUL-terminated UTF-8).
///
/// # Safety
/// `path` must be null or a NUL-terminated string; `out` null or writable.
#[no_mangle]
pub unsafe extern "C" fn acorn_open(path: *const c_char, out: *mut *mut AcornTree) -> c_int {
    guard(|| {
        // SAFETY: per the function's contract.
        let p = unsafe { self::path(path) }?;
        hand_out_tree(Tree::open(p).map_err(|e| code_of(&e))?, out)
    })
}

/// Closes a tree handle (the tree itself lives on while batches made from it exist).
///
/// # Safety
/// `t` must be null or a handle from `acorn_open*` (double closes are detected).
#[no_mangle]
pub unsafe extern "C" fn acorn_close(t: *mut AcornTree) -> c_int {
    // SAFETY: checked against the registry before use.
    guard(|| unsafe { release(t, TREE_TAG, "tree") })
}

/// Stores `value` under `key`; writes the new version to `*version` when non-null.
///
/// # Safety
/// `t` a live tree handle; `key`/`value` readable for their lengths; `version` null or writable.
#[no_mangle]
pub unsafe extern "C" fn acorn_stash(
    t: *const AcornTree,
    key_ptr: *const u8,
    key_len: usize,
    value_ptr: *const u8,
    value_len: usize,
    version: *mut u64,
) -> c_int {
    // SAFETY: the same contract.
    unsafe { stash_ttl(t, key_ptr, key_len, value_ptr, value_len, None, version) }
}

/// Stores `value` under `key` with a time to live of `ttl_ms` milliseconds (see
/// `Tree::stash_with_ttl`: invisible to every read once it runs out, removed by a purge or
/// compaction, reported by the change feed as `ACORN_CHANGE_EXPIRED`); 0 is expired at
/// once, a TTL past the end of representable time never runs out. Writes the new version
/// to `*version` when non-null.
///
/// # Safety
/// `t` a live tree handle; `key`/`value` readable for their lengths; `version` null or writable.
#[no_mangle]
pub unsafe extern "C" fn acorn_stash_with_ttl(
    t: *const AcornTree,
    key_ptr: *const u8,
    key_len: usize,
    value_ptr: *const u8,
    value_len: usize,
    ttl_ms: u64,
    version: *mut u64,
) -> c_int {
    let ttl = Some(std::time::Duration::from_millis(ttl_ms));
    // SAFETY: the same contract.
    unsafe { stash_ttl(t, key_ptr, key_len, value_ptr, value_len, ttl, version) }
}

/// `acorn_stash` and `acorn_stash_with_ttl`: a stash with or without a time to live.
///
/// # Safety
/// As `acorn_stash`.
unsafe fn stash_ttl(
    t: *const AcornTree,
    key_ptr: *const u8,
    key_len: usize,
    value_ptr: *const u8,
    value_len: usize,
    ttl: Option<std::time::Duration>,
    version: *mut u64,
) -> c_int {
    guard(|| {
        // SAFETY (the three): per the function's contract.
        let tree = unsafe { tree(t) }?;
        let k = unsafe { key(key_ptr, key_len) }?;
        let v = unsafe { bytes(value_ptr, value_len, "value") }?;
        let ver = match ttl {
            None => tree.stash(k, v),
            Some(ttl) => tree.stash_with_ttl(k, v, ttl),
        }
        .map_err(|e| code_of(&e))?;
        // SAFETY: null or writable per the contract.
        unsafe { put(version, ver) };
        Ok(ACORN_OK)
    })
}

/// Copies the value under `key` into `buf` (`buf_len` bytes) and its length to `*value_len`.
/// Returns `ACORN_NOT_FOUND` when absent, `ACORN_ERR_BUFFER_TOO_SMALL` (with the needed
/// length in `*value_len`) when it does not fit.
///
/// # Safety
/// `t` a live tree handle; `key` readable; `buf` writable for `buf_len` bytes (or null with
/// length 0); `value_len` writable.
#[no_mangle]
pub unsafe extern "C" fn acorn_crack(
    t: *const AcornTree,
    key_ptr: *const u8,
    key_len: usize,
    buf: *mut u8,
    buf_len: usize,
    value_len: *mut usize,
) -> c_int {
    guard(|| {
        // SAFETY (both): per the function's contract.
        let tree = unsafe { tree(t) }?;
        let k = unsafe { key(key_ptr, key_len) }?;
        if value_len.is_null() || (buf.is_null() && buf_len > 0) {
            return Err(fail(ACORN_ERR_NULL, "value_len or buf is null"));
        }
        let copied = tree.crack_with(k, |n| {
            let len = n.value.len();
            if len <= buf_len && len > 0 {
                // SAFETY: `buf` holds `buf_len >= len` writable bytes that cannot overlap
                // the tree's own storage.
                unsafe { std::ptr::copy_nonoverlapping(n.value.as_ptr(), buf, len) };
            }
            len
        });
        let Some(len) = copied.map_err(|e| code_of(&e))? else {
            return Ok(ACORN_NOT_FOUND);
        };
        // SAFETY: checked non-null above; writable per the contract.
        unsafe { *value_len = len };
        if len > buf_len {
            return Err(fail(
                ACORN_ERR_BUFFER_TOO_SMALL,
                &format!("value of {len} bytes does not fit a {buf_len}-byte buffer"),
            ));
        }
        Ok(ACORN_OK)
    })
}

/// Reads the value under `key` into a new buffer owned by the caller: `*value` and
/// `*value_len`; release it with `acorn_free_value`. `ACORN_NOT_FOUND` when absent.
///
/// # Safety
/// `t` a live tree handle; `key` readable; `value` and `value_len` writable.
#[no_mangle]
pub unsafe extern "C" fn acorn_crack_alloc(
    t: *const AcornTree,
    key_ptr: *const u8,
    key_len: usize,
    value: *mut *mut u8,
    value_len: *mut usize,
) -> c_int {
    guard(|| {
        // SAFETY (both): per the function's contract.
        let tree = unsafe { tree(t) }?;
        let k = unsafe { key(key_ptr, key_len) }?;
        if value.is_null() || value_len.is_null() {
            return Err(fail(ACORN_ERR_NULL, "value or value_len is null"));
        }
        let copy = tree.crack_with(k, |n| n.value.to_vec().into_boxed_slice());
        let Some(b) = copy.map_err(|e| code_of(&e))? else {
            return Ok(ACORN_NOT_FOUND);
        };
        let len = b.len();
        let p = Box::into_raw(b).cast::<u8>();
        // SAFETY: both checked non-null, writable per the contract.
        unsafe {
            *value = p;
            *value_len = len;
        }
        Ok(ACORN_OK)
    })
}

/// Releases a buffer from `acorn_crack_alloc` (with the length it reported).
///
/// # Safety
/// `value`/`len` must come from one `acorn_crack_alloc` call and not be freed before.
#[no_mangle]
pub unsafe extern "C" fn acorn_free_value(value: *mut u8, len: usize) -> c_int {
    guard(|| {
        if value.is_null() {
            return Err(fail(ACORN_ERR_NULL, "value is null"));
        }
        // SAFETY: `value` and `len` describe a boxed slice from `acorn_crack_alloc`.
        drop(unsafe { Box::from_raw(std::ptr::slice_from_raw_parts_mut(value, len)) });
        Ok(ACORN_OK)
    })
}

/// Removes `key`; writes 1 to `*existed` if a visible value was there, else 0.
///
/// # Safety
/// `t` a live tree handle; `key` readable; `existed` null or writable.
#[no_mangle]
pub unsafe extern "C" fn acorn_toss(
    t: *const AcornTree,
    key_ptr: *const u8,
    key_len: usize,
    existed: *mut c_int,
) -> c_int {
    guard(|| {
        // SAFETY (both): per the function's contract.
        let tree = unsafe { tree(t) }?;
        let k = unsafe { key(key_ptr, key_len) }?;
        let was = tree.toss(k).map_err(|e| code_of(&e))?;
        // SAFETY: null or writable per the contract.
        unsafe { put(existed, c_int::from(was)) };
        Ok(ACORN_OK)
    })
}

/// A new tree handle for `tree` in `*out` (every `acorn_open*` ends here).
pub(super) fn hand_out_tree(tree: Tree, out: *mut *mut AcornTree) -> super::Status {
    hand_out(
        AcornTree {
            tag: TREE_TAG,
            tree,
        },
        TREE_TAG,
        out,
    )
}

/// A NUL-terminated UTF-8 path.
///
/// # Safety
/// `path` must be null or a NUL-terminated string.
pub(super) unsafe fn path<'a>(path: *const c_char) -> Result<&'a str, c_int> {
    if path.is_null() {
        return Err(fail(ACORN_ERR_NULL, "path is null"));
    }
    // SAFETY: non-null and NUL-terminated per the contract.
    unsafe { CStr::from_ptr(path) }
        .to_str()
        .map_err(|_| fail(ACORN_ERR_UTF8, "path is not UTF-8"))
}
