//! The C ABI for queries and key-ordered scans: run over a snapshot, read one result at
//! a time, free.

#![allow(unsafe_code)]

use std::ffi::c_int;

use super::{
    bytes, code_of, cursor, fail, guard, hand_out, release, tree, AcornQuery, AcornTree, Status,
    ACORN_ERR_UTF8, ACORN_NOT_FOUND, ACORN_OK, QUERY_TAG,
};

/// Runs a query over a snapshot: keys starting with `prefix` (may be empty), after skipping
/// `skip`, at most `take` (0 = no limit). Read the results with `acorn_query_next`.
///
/// # Safety
/// `t` a live tree handle; `prefix` readable for `prefix_len`; `out` writable.
#[no_mangle]
pub unsafe extern "C" fn acorn_query_new(
    t: *const AcornTree,
    prefix_ptr: *const u8,
    prefix_len: usize,
    skip: usize,
    take: usize,
    out: *mut *mut AcornQuery,
) -> c_int {
    guard(|| {
        // SAFETY (both): per the function's contract.
        let tree = unsafe { tree(t) }?;
        let prefix = unsafe { text(prefix_ptr, prefix_len, "prefix") }?;
        let mut q = tree.query().prefix(prefix).skip(skip);
        if take > 0 {
            q = q.take(take);
        }
        let mut items = Vec::new();
        q.for_each(|n| items.push((n.key.to_owned(), n.value.to_vec())))
            .map_err(|e| code_of(&e))?;
        hand_out_results(items, out)
    })
}

/// Starts a key-ordered scan over a snapshot: at most `limit` nuts from `start` (inclusive).
/// Read the results with `acorn_query_next`; free with `acorn_query_free`.
///
/// # Safety
/// `t` a live tree handle; `start` readable for `start_len`; `out` writable.
#[no_mangle]
pub unsafe extern "C" fn acorn_scan_new(
    t: *const AcornTree,
    start_ptr: *const u8,
    start_len: usize,
    limit: usize,
    out: *mut *mut AcornQuery,
) -> c_int {
    guard(|| {
        // SAFETY (both): per the function's contract.
        let tree = unsafe { tree(t) }?;
        let start = unsafe { text(start_ptr, start_len, "start key") }?;
        let mut it = tree.iter_from(start);
        let mut items = Vec::with_capacity(limit.min(1024));
        while items.len() < limit {
            match it.next_ref(|n| (n.key.to_owned(), n.value.to_vec())) {
                Some(item) => items.push(item),
                None => break,
            }
        }
        hand_out_results(items, out)
    })
}

/// The next result: pointers to its key and value, valid until the next call on this query
/// or its free. `ACORN_NOT_FOUND` after the last one.
///
/// # Safety
/// `q` a live query handle; the four output pointers writable.
#[no_mangle]
pub unsafe extern "C" fn acorn_query_next(
    q: *mut AcornQuery,
    key_out: *mut *const u8,
    key_len: *mut usize,
    value_out: *mut *const u8,
    value_len: *mut usize,
) -> c_int {
    guard(|| {
        let outputs_null =
            key_out.is_null() || key_len.is_null() || value_out.is_null() || value_len.is_null();
        // SAFETY: per the function's contract.
        let h = unsafe { cursor(q, outputs_null, QUERY_TAG, "query") }?;
        let Some((k, v)) = h.items.get(h.next) else {
            return Ok(ACORN_NOT_FOUND);
        };
        h.next += 1;
        // SAFETY: all four are non-null and writable per the contract; the pointed-to
        // bytes live in the handle until it is freed.
        unsafe {
            *key_out = k.as_ptr();
            *key_len = k.len();
            *value_out = v.as_ptr();
            *value_len = v.len();
        }
        Ok(ACORN_OK)
    })
}

/// Frees a query handle and its results.
///
/// # Safety
/// `q` must be null or a handle from `acorn_query_new` (double frees are detected).
#[no_mangle]
pub unsafe extern "C" fn acorn_query_free(q: *mut AcornQuery) -> c_int {
    // SAFETY: checked against the registry before use.
    guard(|| unsafe { release(q, QUERY_TAG, "query") })
}

/// UTF-8 text from the caller's bytes (`what` names it in the error).
///
/// # Safety
/// As for [`bytes`].
unsafe fn text<'a>(ptr: *const u8, len: usize, what: &str) -> Result<&'a str, c_int> {
    // SAFETY: forwarded contract.
    let b = unsafe { bytes(ptr, len, what) }?;
    std::str::from_utf8(b).map_err(|_| fail(ACORN_ERR_UTF8, &format!("{what} is not UTF-8")))
}

/// Hands out a query handle over `items`, read with `acorn_query_next`.
fn hand_out_results(items: Vec<(String, Vec<u8>)>, out: *mut *mut AcornQuery) -> Status {
    let query = AcornQuery {
        tag: QUERY_TAG,
        items,
        next: 0,
    };
    hand_out(query, QUERY_TAG, out)
}
