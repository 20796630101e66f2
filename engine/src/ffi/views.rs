//! The C ABI for what reads a tree from the side: the change feed (an iterator handle,
//! read one change at a time), checkpoints, and read-only trees (open, refresh).

#![allow(unsafe_code)]

use std::ffi::{c_char, c_int};

use super::{
    code_of, cursor, guard, hand_out, put, release, tree, AcornChanges, AcornTree, ACORN_NOT_FOUND,
    ACORN_OK, CHANGES_TAG,
};
use crate::{Change, Tree};

/// A change that stashed a nut (`acorn_changes_next`'s kind).
pub const ACORN_CHANGE_STASHED: c_int = 1;
/// A change that removed a nut by a toss.
pub const ACORN_CHANGE_TOSSED: c_int = 2;
/// A change that removed a nut whose TTL had run out.
pub const ACORN_CHANGE_EXPIRED: c_int = 3;

/// Opens the durable tree in directory `path` read-only, beside the process that writes
/// it (see `Tree::open_read_only`): writes through it return `ACORN_ERR_READ_ONLY`;
/// `acorn_refresh` brings it up to date. Close it with `acorn_close`.
///
/// # Safety
/// `path` must be null or a NUL-terminated string; `out` null or writable.
#[no_mangle]
pub unsafe extern "C" fn acorn_open_read_only(
    path_ptr: *const c_char,
    out: *mut *mut AcornTree,
) -> c_int {
    guard(|| {
        // SAFETY: per the function's contract.
        let p = unsafe { tree::path(path_ptr) }?;
        let tree = Tree::open_read_only(p).map_err(|e| code_of(&e))?;
        tree::hand_out_tree(tree, out)
    })
}

/// Brings a read-only tree up to what its writer has written since; writes the tree's
/// version to `*version` when non-null (on any other tree: its version).
///
/// # Safety
/// `t` a live tree handle; `version` null or writable.
#[no_mangle]
pub unsafe extern "C" fn acorn_refresh(t: *const AcornTree, version: *mut u64) -> c_int {
    guard(|| {
        // SAFETY: per the function's contract.
        let tree = unsafe { tree(t) }?;
        let v = tree.refresh().map_err(|e| code_of(&e))?;
        // SAFETY: null or writable per the contract.
        unsafe { put(version, v) };
        Ok(ACORN_OK)
    })
}

/// Copies the tree into directory `path` (new, or empty) while writers go on; the copy
/// opens as a tree at exactly the version written to `*version` (when non-null). See
/// `Tree::checkpoint`.
///
/// # Safety
/// `t` a live tree handle; `path` null or a NUL-terminated string; `version` null or
/// writable.
#[no_mangle]
pub unsafe extern "C" fn acorn_checkpoint(
    t: *const AcornTree,
    path_ptr: *const c_char,
    version: *mut u64,
) -> c_int {
    guard(|| {
        // SAFETY (both): per the function's contract.
        let tree = unsafe { tree(t) }?;
        let p = unsafe { tree::path(path_ptr) }?;
        let v = tree.checkpoint(p).map_err(|e| code_of(&e))?;
        // SAFETY: null or writable per the contract.
        unsafe { put(version, v) };
        Ok(ACORN_OK)
    })
}

/// The changes committed after version `since` (see `Tree::changes_since`), read with
/// `acorn_changes_next`; writes the tree's version they reach to `*until` when non-null
/// (ask from it next time). `ACORN_ERR_COMPACTED` when the feed no longer holds `since`
/// (the message names the oldest version it holds).
///
/// # Safety
/// `t` a live tree handle; `out` writable; `until` null or writable.
#[no_mangle]
pub unsafe extern "C" fn acorn_changes_new(
    t: *const AcornTree,
    since: u64,
    out: *mut *mut AcornChanges,
    until: *mut u64,
) -> c_int {
    guard(|| {
        // SAFETY: per the function's contract.
        let tree = unsafe { tree(t) }?;
        let feed = tree.changes_since(since).map_err(|e| code_of(&e))?;
        let reached = feed.until();
        let status = hand_out(
            AcornChanges {
                tag: CHANGES_TAG,
                changes: feed.collect(),
                next: 0,
            },
            CHANGES_TAG,
            out,
        )?;
        // SAFETY: null or writable per the contract.
        unsafe { put(until, reached) };
        Ok(status)
    })
}

/// The next change: its kind (`ACORN_CHANGE_*`), version and key, and for a stash the
/// value (`*value` null and `*value_len` 0 for a removal). Pointers are valid until the
/// handle is freed. `ACORN_NOT_FOUND` after the last one.
///
/// # Safety
/// `c` a live changes handle; the six output pointers writable.
#[no_mangle]
pub unsafe extern "C" fn acorn_changes_next(
    c: *mut AcornChanges,
    kind: *mut c_int,
    version: *mut u64,
    key_out: *mut *const u8,
    key_len: *mut usize,
    value_out: *mut *const u8,
    value_len: *mut usize,
) -> c_int {
    guard(|| {
        let outputs_null = kind.is_null()
            || version.is_null()
            || key_out.is_null()
            || key_len.is_null()
            || value_out.is_null()
            || value_len.is_null();
        // SAFETY: per the function's contract.
        let h = unsafe { cursor(c, outputs_null, CHANGES_TAG, "changes") }?;
        let Some(change) = h.changes.get(h.next) else {
            return Ok(ACORN_NOT_FOUND);
        };
        h.next += 1;
        let (k, value) = match change {
            Change::Stashed(nut) => (ACORN_CHANGE_STASHED, Some(&nut.value[..])),
            Change::Tossed { .. } => (ACORN_CHANGE_TOSSED, None),
            _ => (ACORN_CHANGE_EXPIRED, None),
        };
        let key = change.key().as_bytes();
        // SAFETY: all six are non-null and writable per the contract; the pointed-to
        // bytes live in the handle until it is freed.
        unsafe {
            *kind = k;
            *version = change.version();
            *key_out = key.as_ptr();
            *key_len = key.len();
            *value_out = value.map_or(std::ptr::null(), <[u8]>::as_ptr);
            *value_len = value.map_or(0, <[u8]>::len);
        }
        Ok(ACORN_OK)
    })
}

/// Frees a changes handle.
///
/// # Safety
/// `c` must be null or a handle from `acorn_changes_new` (double frees are detected).
#[no_mangle]
pub unsafe extern "C" fn acorn_changes_free(c: *mut AcornChanges) -> c_int {
    // SAFETY: checked against the registry before use.
    guard(|| unsafe { release(c, CHANGES_TAG, "changes") })
}
