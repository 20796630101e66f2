//! The C ABI (cargo feature `ffi`; header in `engine/include/acorn.h`).
//!
//! Conventions: every function returns an `int` status (`ACORN_OK` = 0, `ACORN_NOT_FOUND` =
//! 1, negative = error, with a message from `acorn_last_error()` on the same thread). Keys
//! are UTF-8 byte strings with explicit lengths. No panic crosses the boundary: each body
//! runs under `catch_unwind` and a panic becomes `ACORN_ERR_PANIC`.
//!
//! Handles are heap objects. Freeing a handle twice, or a pointer that is not a live handle,
//! is detected (a registry of live handles is consulted by the free functions only) and
//! returns `ACORN_ERR_INVALID_HANDLE`. Every other function checks the kind tag each handle
//! starts with, and freeing a handle clears that tag first: a use after free is refused
//! whatever the allocator does with the freed bytes, unless the same memory has been handed
//! out again as a handle of the same kind. It remains undefined behaviour, as in any C API.
#![allow(unsafe_code)]

use std::cell::RefCell;
use std::collections::HashSet;
use std::ffi::{c_char, c_int, CStr, CString};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::{Mutex, PoisonError};

use crate::{Error, Tree};

/// Success.
pub const ACORN_OK: c_int = 0;
/// Success, and the key (or the cursor's next item) is not there.
pub const ACORN_NOT_FOUND: c_int = 1;
/// A required pointer argument was null.
pub const ACORN_ERR_NULL: c_int = -1;
/// A key or path is not valid UTF-8.
pub const ACORN_ERR_UTF8: c_int = -2;
/// The caller's buffer is too small; the needed length was written to the length output.
pub const ACORN_ERR_BUFFER_TOO_SMALL: c_int = -3;
/// A handle is not a live handle of the expected kind (freed, or another kind).
pub const ACORN_ERR_INVALID_HANDLE: c_int = -4;
/// The key is empty ([`crate::Error::InvalidKey`]).
pub const ACORN_ERR_INVALID_KEY: c_int = -5;
/// A key, value or batch is over its limit ([`crate::Error::TooLarge`]).
pub const ACORN_ERR_TOO_LARGE: c_int = -6;
/// The operating system failed a read, write or fsync ([`crate::Error::Io`]).
pub const ACORN_ERR_IO: c_int = -7;
/// A data file is damaged, missing or in another format ([`crate::Error::Corrupt`]).
pub const ACORN_ERR_CORRUPT: c_int = -8;
/// Another tree has the directory open ([`crate::Error::Locked`]).
pub const ACORN_ERR_LOCKED: c_int = -9;
/// A transaction ran out of retries ([`crate::Error::Conflict`]).
pub const ACORN_ERR_CONFLICT: c_int = -10;
/// The library panicked; the panic was caught at the boundary (a bug: please report it).
pub const ACORN_ERR_PANIC: c_int = -11;
/// Any other error; `acorn_last_error()` says what.
pub const ACORN_ERR_OTHER: c_int = -12;

const TREE_TAG: u64 = 0x6163_6f72_6e54_5245; // "acornTRE"
const BATCH_TAG: u64 = 0x6163_6f72_6e42_4154; // "acornBAT"
const QUERY_TAG: u64 = 0x6163_6f72_6e51_5259; // "acornQRY"

/// An open tree.
#[derive(Debug)]
#[repr(C)]
pub struct AcornTree {
    tag: u64,
    tree: Tree,
}

/// A batch being built.
#[derive(Debug)]
#[repr(C)]
pub struct AcornBatch {
    tag: u64,
    batch: Option<crate::Batch>,
}

/// The results of a query, read one at a time.
#[derive(Debug)]
#[repr(C)]
pub struct AcornQuery {
    tag: u64,
    items: Vec<(String, Vec<u8>)>,
    next: usize,
}

thread_local! {
    static LAST_ERROR: RefCell<CString> = RefCell::new(CString::default());
}

/// (address, kind tag) of every live handle, so free functions can refuse what they did not
/// hand out, or a handle of another kind.
static LIVE: Mutex<Option<HashSet<(usize, u64)>>> = Mutex::new(None);

fn register(addr: usize, tag: u64) {
    LIVE.lock()
        .unwrap_or_else(PoisonError::into_inner)
        .get_or_insert_with(HashSet::new)
        .insert((addr, tag));
}

/// Removes a live handle of kind `tag`; false when there is none at `addr`.
fn unregister(addr: usize, tag: u64) -> bool {
    LIVE.lock()
        .unwrap_or_else(PoisonError::into_inner)
        .as_mut()
        .is_some_and(|s| s.remove(&(addr, tag)))
}

/// Reads the kind tag every handle starts with (`#[repr(C)]`, tag first).
///
/// # Safety
/// `p` must be non-null and point to a live handle of any kind.
unsafe fn tag_at<T>(p: *const T) -> u64 {
    // SAFETY: every handle type is `#[repr(C)]` with a `u64` tag as its first field.
    unsafe { p.cast::<u64>().read() }
}

fn set_error(msg: &str) {
    let c = CString::new(msg.replace('\0', " ")).unwrap_or_default();
    LAST_ERROR.with(|e| *e.borrow_mut() = c);
}

fn fail(code: c_int, msg: &str) -> c_int {
    set_error(msg);
    code
}

fn code_of(e: &Error) -> c_int {
    let code = match e {
        Error::Io(_) => ACORN_ERR_IO,
        Error::Corrupt { .. } | Error::UnsupportedFormat { .. } => ACORN_ERR_CORRUPT,
        Error::Locked { .. } => ACORN_ERR_LOCKED,
        Error::Conflict => ACORN_ERR_CONFLICT,
        Error::InvalidKey(_) => ACORN_ERR_INVALID_KEY,
        Error::TooLarge(_) => ACORN_ERR_TOO_LARGE,
        _ => ACORN_ERR_OTHER,
    };
    fail(code, &e.to_string())
}

/// Runs `f`, turning a panic into `ACORN_ERR_PANIC`.
fn guard(f: impl FnOnce() -> c_int) -> c_int {
    match catch_unwind(AssertUnwindSafe(f)) {
        Ok(code) => code,
        Err(_) => fail(
            ACORN_ERR_PANIC,
            "internal panic inside acorn (this is a bug)",
        ),
    }
}

/// Borrows `len` bytes at `ptr` (an empty slice for a null pointer with length 0).
///
/// # Safety
/// `ptr` must point to `len` readable bytes that stay valid for the returned lifetime.
unsafe fn bytes<'a>(ptr: *const u8, len: usize, what: &str) -> Result<&'a [u8], c_int> {
    if ptr.is_null() {
        if len == 0 {
            return Ok(&[]);
        }
        return Err(fail(ACORN_ERR_NULL, &format!("{what} is a null pointer")));
    }
    // SAFETY: non-null, and the caller promises `len` readable bytes.
    Ok(unsafe { std::slice::from_raw_parts(ptr, len) })
}

/// A UTF-8 key from the caller's bytes.
///
/// # Safety
/// As for [`bytes`].
unsafe fn key<'a>(ptr: *const u8, len: usize) -> Result<&'a str, c_int> {
    // SAFETY: forwarded contract.
    let b = unsafe { bytes(ptr, len, "key") }?;
    std::str::from_utf8(b).map_err(|e| fail(ACORN_ERR_UTF8, &format!("key is not UTF-8: {e}")))
}

/// The tree behind a handle.
///
/// # Safety
/// `t` must be null or a pointer returned by `acorn_open*` and not yet closed.
unsafe fn tree<'a>(t: *const AcornTree) -> Result<&'a Tree, c_int> {
    if t.is_null() {
        return Err(fail(ACORN_ERR_NULL, "tree handle is null"));
    }
    // SAFETY: the caller promises a live handle; its tag is read before any typed access.
    if unsafe { tag_at(t) } != TREE_TAG {
        return Err(fail(ACORN_ERR_INVALID_HANDLE, "not a live tree handle"));
    }
    // SAFETY: the tag says this is a live `AcornTree`.
    Ok(unsafe { &(*t).tree })
}

fn hand_out<T>(value: T, tag: u64, out: *mut *mut T) -> c_int {
    if out.is_null() {
        return fail(ACORN_ERR_NULL, "output pointer is null");
    }
    let p = Box::into_raw(Box::new(value));
    register(p as usize, tag);
    // SAFETY: `out` is non-null and the caller promises it is writable.
    unsafe { *out = p };
    ACORN_OK
}

/// Takes back a handle handed out by `hand_out`, checking it is live and of the right kind.
///
/// # Safety
/// `p` must be null or a pointer handed out by this library (checked against the registry
/// before it is dereferenced).
unsafe fn take_back<T>(p: *mut T, tag: u64, what: &str) -> Result<Box<T>, c_int> {
    if p.is_null() {
        return Err(fail(ACORN_ERR_NULL, &format!("{what} handle is null")));
    }
    if !unregister(p as usize, tag) {
        return Err(fail(
            ACORN_ERR_INVALID_HANDLE,
            &format!("not a live {what} handle (freed twice, never handed out, or another kind)"),
        ));
    }
    // SAFETY: the registry says `p` is a live handle (a `#[repr(C)]` type starting with its
    // `u64` tag) from `Box::into_raw`, not freed since. The tag is cleared with a volatile
    // write, which the compiler may not drop as a dead store before the free, so a later
    // use of the freed handle fails its tag check.
    unsafe { p.cast::<u64>().write_volatile(0) };
    // SAFETY: as above; nothing else owns `p`.
    Ok(unsafe { Box::from_raw(p) })
}

/// Frees a handle after checking it is live and of kind `tag`.
///
/// # Safety
/// As for [`take_back`].
unsafe fn release<T>(p: *mut T, tag: u64, what: &str) -> c_int {
    // SAFETY: forwarded contract; `take_back` checks the registry before dereferencing.
    match unsafe { take_back(p, tag, what) } {
        Ok(handle) => {
            drop(handle);
            ACORN_OK
        }
        Err(code) => code,
    }
}

/// The message of the last error on this thread ("" if none). Valid until the next acorn
/// call on this thread.
#[no_mangle]
pub extern "C" fn acorn_last_error() -> *const c_char {
    LAST_ERROR.with(|e| e.borrow().as_ptr())
}

/// Opens a new in-memory tree into `*out`.
///
/// # Safety
/// `out` must be null or writable.
#[no_mangle]
pub unsafe extern "C" fn acorn_open_memory(out: *mut *mut AcornTree) -> c_int {
    guard(|| {
        hand_out(
            AcornTree {
                tag: TREE_TAG,
                tree: Tree::open_memory(),
            },
            TREE_TAG,
            out,
        )
    })
}

/// Opens (or creates) a durable tree in directory `path` (NUL-terminated UTF-8).
///
/// # Safety
/// `path` must be null or a NUL-terminated string; `out` null or writable.
#[no_mangle]
pub unsafe extern "C" fn acorn_open(path: *const c_char, out: *mut *mut AcornTree) -> c_int {
    guard(|| {
        if path.is_null() {
            return fail(ACORN_ERR_NULL, "path is null");
        }
        // SAFETY: non-null and NUL-terminated per the contract.
        let Ok(p) = unsafe { CStr::from_ptr(path) }.to_str() else {
            return fail(ACORN_ERR_UTF8, "path is not UTF-8");
        };
        match Tree::open(p) {
            Ok(tree) => hand_out(
                AcornTree {
                    tag: TREE_TAG,
                    tree,
                },
                TREE_TAG,
                out,
            ),
            Err(e) => code_of(&e),
        }
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
    guard(|| {
        // SAFETY: per the function's contract.
        let (tree, k, v) = match unsafe {
            (
                tree(t),
                key(key_ptr, key_len),
                bytes(value_ptr, value_len, "value"),
            )
        } {
            (Ok(t), Ok(k), Ok(v)) => (t, k, v),
            (Err(c), _, _) | (_, Err(c), _) | (_, _, Err(c)) => return c,
        };
        match tree.stash(k, v) {
            Ok(ver) => {
                if !version.is_null() {
                    // SAFETY: non-null and writable per the contract.
                    unsafe { *version = ver };
                }
                ACORN_OK
            }
            Err(e) => code_of(&e),
        }
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
        // SAFETY: per the function's contract.
        let (tree, k) = match unsafe { (tree(t), key(key_ptr, key_len)) } {
            (Ok(t), Ok(k)) => (t, k),
            (Err(c), _) | (_, Err(c)) => return c,
        };
        if value_len.is_null() || (buf.is_null() && buf_len > 0) {
            return fail(ACORN_ERR_NULL, "value_len or buf is null");
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
        match copied {
            Err(e) => code_of(&e),
            Ok(None) => ACORN_NOT_FOUND,
            Ok(Some(len)) => {
                // SAFETY: checked non-null above; writable per the contract.
                unsafe { *value_len = len };
                if len > buf_len {
                    fail(
                        ACORN_ERR_BUFFER_TOO_SMALL,
                        &format!("value of {len} bytes does not fit a {buf_len}-byte buffer"),
                    )
                } else {
                    ACORN_OK
                }
            }
        }
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
        // SAFETY: per the function's contract.
        let (tree, k) = match unsafe { (tree(t), key(key_ptr, key_len)) } {
            (Ok(t), Ok(k)) => (t, k),
            (Err(c), _) | (_, Err(c)) => return c,
        };
        if value.is_null() || value_len.is_null() {
            return fail(ACORN_ERR_NULL, "value or value_len is null");
        }
        match tree.crack_with(k, |n| n.value.to_vec().into_boxed_slice()) {
            Err(e) => code_of(&e),
            Ok(None) => ACORN_NOT_FOUND,
            Ok(Some(b)) => {
                let len = b.len();
                let p = Box::into_raw(b).cast::<u8>();
                // SAFETY: both checked non-null, writable per the contract.
                unsafe {
                    *value = p;
                    *value_len = len;
                }
                ACORN_OK
            }
        }
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
            return fail(ACORN_ERR_NULL, "value is null");
        }
        // SAFETY: `value` and `len` describe a boxed slice from `acorn_crack_alloc`.
        drop(unsafe { Box::from_raw(std::ptr::slice_from_raw_parts_mut(value, len)) });
        ACORN_OK
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
        // SAFETY: per the function's contract.
        let (tree, k) = match unsafe { (tree(t), key(key_ptr, key_len)) } {
            (Ok(t), Ok(k)) => (t, k),
            (Err(c), _) | (_, Err(c)) => return c,
        };
        match tree.toss(k) {
            Ok(was) => {
                if !existed.is_null() {
                    // SAFETY: non-null and writable per the contract.
                    unsafe { *existed = c_int::from(was) };
                }
                ACORN_OK
            }
            Err(e) => code_of(&e),
        }
    })
}

/// Starts a batch on `t` into `*out`.
///
/// # Safety
/// `t` a live tree handle; `out` writable.
#[no_mangle]
pub unsafe extern "C" fn acorn_batch_new(t: *const AcornTree, out: *mut *mut AcornBatch) -> c_int {
    guard(|| {
        // SAFETY: per the function's contract.
        match unsafe { tree(t) } {
            Ok(tree) => hand_out(
                AcornBatch {
                    tag: BATCH_TAG,
                    batch: Some(tree.batch()),
                },
                BATCH_TAG,
                out,
            ),
            Err(c) => c,
        }
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
        // SAFETY: per the function's contract.
        let (batch, k, v) = match unsafe {
            (
                batch(b),
                key(key_ptr, key_len),
                bytes(value_ptr, value_len, "value"),
            )
        } {
            (Ok(b), Ok(k), Ok(v)) => (b, k, v),
            (Err(c), _, _) | (_, Err(c), _) | (_, _, Err(c)) => return c,
        };
        if let Err(e) = crate::record::check_key(k).and_then(|()| crate::record::check_value(k, v))
        {
            let code = code_of(&e);
            batch.stash(k, v); // remembered: the commit fails whole
            return code;
        }
        batch.stash(k, v);
        ACORN_OK
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
        // SAFETY: per the function's contract.
        let (batch, k) = match unsafe { (batch(b), key(key_ptr, key_len)) } {
            (Ok(b), Ok(k)) => (b, k),
            (Err(c), _) | (_, Err(c)) => return c,
        };
        if let Err(e) = crate::record::check_key(k) {
            let code = code_of(&e);
            batch.toss(k);
            return code;
        }
        batch.toss(k);
        ACORN_OK
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
        if let Err(c) = unsafe { batch(b) } {
            return c;
        }
        // SAFETY: validated just above.
        let Some(batch) = (unsafe { &mut *b }).batch.take() else {
            return fail(ACORN_ERR_INVALID_HANDLE, "batch was already committed");
        };
        match batch.commit() {
            Ok(v) => {
                if !version.is_null() {
                    // SAFETY: non-null and writable per the contract.
                    unsafe { *version = v };
                }
                ACORN_OK
            }
            Err(e) => code_of(&e),
        }
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
        // SAFETY: per the function's contract.
        let (tree, prefix) = match unsafe { (tree(t), bytes(prefix_ptr, prefix_len, "prefix")) } {
            (Ok(t), Ok(p)) => (t, p),
            (Err(c), _) | (_, Err(c)) => return c,
        };
        let Ok(prefix) = std::str::from_utf8(prefix) else {
            return fail(ACORN_ERR_UTF8, "prefix is not UTF-8");
        };
        let mut q = tree.query().prefix(prefix).skip(skip);
        if take > 0 {
            q = q.take(take);
        }
        let mut items = Vec::new();
        if let Err(e) = q.for_each(|n| items.push((n.key.to_owned(), n.value.to_vec()))) {
            return code_of(&e);
        }
        hand_out(
            AcornQuery {
                tag: QUERY_TAG,
                items,
                next: 0,
            },
            QUERY_TAG,
            out,
        )
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
        // SAFETY: per the function's contract.
        let (tree, start) = match unsafe { (tree(t), bytes(start_ptr, start_len, "start")) } {
            (Ok(t), Ok(s)) => (t, s),
            (Err(c), _) | (_, Err(c)) => return c,
        };
        let Ok(start) = std::str::from_utf8(start) else {
            return fail(ACORN_ERR_UTF8, "start key is not UTF-8");
        };
        let mut it = tree.iter_from(start);
        let mut items = Vec::with_capacity(limit.min(1024));
        while items.len() < limit {
            match it.next_ref(|n| (n.key.to_owned(), n.value.to_vec())) {
                Some(item) => items.push(item),
                None => break,
            }
        }
        hand_out(
            AcornQuery {
                tag: QUERY_TAG,
                items,
                next: 0,
            },
            QUERY_TAG,
            out,
        )
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
        if q.is_null()
            || key_out.is_null()
            || key_len.is_null()
            || value_out.is_null()
            || value_len.is_null()
        {
            return fail(ACORN_ERR_NULL, "query handle or an output pointer is null");
        }
        // SAFETY: non-null; the caller promises a live handle; tag read before typed access.
        if unsafe { tag_at(q) } != QUERY_TAG {
            return fail(ACORN_ERR_INVALID_HANDLE, "not a live query handle");
        }
        // SAFETY: the tag says this is a live `AcornQuery`.
        let h = unsafe { &mut *q };
        let Some((k, v)) = h.items.get(h.next) else {
            return ACORN_NOT_FOUND;
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
        ACORN_OK
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
