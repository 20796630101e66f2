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
//!
//! Files: `mod.rs` (status codes, handle types, the handle registry, argument checks),
//! `tree.rs` (open, close, stash, crack, toss), `batch.rs`, `query.rs` (queries and scans,
//! read one result at a time), `views.rs` (the change feed, read one change at a time;
//! checkpoints; read-only open and refresh).
#![allow(unsafe_code)]

mod batch;
mod query;
mod tree;
mod views;

use std::cell::RefCell;
use std::collections::HashSet;
use std::ffi::{c_char, c_int, CString};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::{Mutex, PoisonError};

use crate::limits::MAX_VALUE_LEN;
use crate::{Error, Tree};

pub use batch::*;
pub use query::*;
pub use tree::*;
pub use views::*;

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
/// The change feed no longer holds the version asked for ([`crate::Error::Compacted`]).
pub const ACORN_ERR_COMPACTED: c_int = -13;
/// A write through a read-only tree ([`crate::Error::ReadOnly`]).
pub const ACORN_ERR_READ_ONLY: c_int = -14;

const TREE_TAG: u64 = 0x6163_6f72_6e54_5245; // "acornTRE"
const BATCH_TAG: u64 = 0x6163_6f72_6e42_4154; // "acornBAT"
const QUERY_TAG: u64 = 0x6163_6f72_6e51_5259; // "acornQRY"
const CHANGES_TAG: u64 = 0x6163_6f72_6e43_4847; // "acornCHG"

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
    /// The status and message of the first operation the batch rejected: its commit then
    /// fails whole with them.
    rejected: Option<(c_int, String)>,
}

/// The results of a query, read one at a time.
#[derive(Debug)]
#[repr(C)]
pub struct AcornQuery {
    tag: u64,
    items: Vec<(String, Vec<u8>)>,
    next: usize,
}

/// Changes from the change feed, read one at a time.
#[derive(Debug)]
#[repr(C)]
pub struct AcornChanges {
    tag: u64,
    changes: Vec<crate::Change>,
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

/// The message of the last error set on this thread.
fn last_error() -> String {
    LAST_ERROR.with(|e| e.borrow().to_string_lossy().into_owned())
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
        Error::Compacted { .. } => ACORN_ERR_COMPACTED,
        Error::ReadOnly { .. } => ACORN_ERR_READ_ONLY,
        _ => ACORN_ERR_OTHER,
    };
    fail(code, &e.to_string())
}

/// What a function body returns: `Ok` with a success status (`ACORN_OK`,
/// `ACORN_NOT_FOUND`), or `Err` with an error status whose message is already set, so a body
/// checks its arguments one after the other with `?` and stops at the first bad one.
type Status = Result<c_int, c_int>;

/// Runs `f`, turning a panic into `ACORN_ERR_PANIC`.
fn guard(f: impl FnOnce() -> Status) -> c_int {
    match catch_unwind(AssertUnwindSafe(f)) {
        Ok(Ok(code) | Err(code)) => code,
        Err(_) => fail(
            ACORN_ERR_PANIC,
            "internal panic inside acorn (this is a bug)",
        ),
    }
}

/// Borrows `len` bytes at `ptr` (an empty slice for a null pointer with length 0). A
/// length over any limit (no key or value is longer than [`MAX_VALUE_LEN`]) is refused
/// before anything is read: `(size_t)-1` for a length is a common slip in C, and no slice
/// can be that long.
///
/// # Safety
/// `ptr` must point to `len` readable bytes that stay valid for the returned lifetime.
unsafe fn bytes<'a>(ptr: *const u8, len: usize, what: &str) -> Result<&'a [u8], c_int> {
    if len > MAX_VALUE_LEN {
        return Err(fail(
            ACORN_ERR_TOO_LARGE,
            &format!("{what} is {len} bytes: no key or value is longer than {MAX_VALUE_LEN}"),
        ));
    }
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

/// The handle `p` of kind `tag` that a `*_next` call reads on (`what` names the kind in
/// errors), once `p` and the call's output pointers are checked: `outputs_null` says
/// whether any of those is null.
///
/// # Safety
/// `p` must be null or a live handle of any kind (its tag is read before typed access).
unsafe fn cursor<'a, T>(
    p: *mut T,
    outputs_null: bool,
    tag: u64,
    what: &str,
) -> Result<&'a mut T, c_int> {
    if p.is_null() || outputs_null {
        return Err(fail(
            ACORN_ERR_NULL,
            &format!("{what} handle or an output pointer is null"),
        ));
    }
    // SAFETY: non-null; the caller promises a live handle; tag read before typed access.
    if unsafe { tag_at(p) } != tag {
        return Err(fail(
            ACORN_ERR_INVALID_HANDLE,
            &format!("not a live {what} handle"),
        ));
    }
    // SAFETY: the tag says this is a live `T`.
    Ok(unsafe { &mut *p })
}

fn hand_out<T>(value: T, tag: u64, out: *mut *mut T) -> Status {
    if out.is_null() {
        return Err(fail(ACORN_ERR_NULL, "output pointer is null"));
    }
    let p = Box::into_raw(Box::new(value));
    register(p as usize, tag);
    // SAFETY: `out` is non-null and the caller promises it is writable.
    unsafe { *out = p };
    Ok(ACORN_OK)
}

/// Writes `value` to `out` unless `out` is null (an output the caller may skip).
///
/// # Safety
/// `out` must be null or writable.
unsafe fn put<T>(out: *mut T, value: T) {
    if !out.is_null() {
        // SAFETY: non-null and writable per the contract.
        unsafe { *out = value };
    }
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
unsafe fn release<T>(p: *mut T, tag: u64, what: &str) -> Status {
    // SAFETY: forwarded contract; `take_back` checks the registry before dereferencing.
    drop(unsafe { take_back(p, tag, what) }?);
    Ok(ACORN_OK)
}

/// The message of the last failed call on this thread ("" if none has failed): a call that
/// succeeds leaves it as it was, so read it only after a negative status. Valid until the
/// next acorn call on this thread.
#[no_mangle]
pub extern "C" fn acorn_last_error() -> *const c_char {
    LAST_ERROR.with(|e| e.borrow().as_ptr())
}
