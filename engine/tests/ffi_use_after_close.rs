//! Using a C handle after closing it is caught by its cleared kind tag, even when the
//! allocator leaves the freed bytes untouched. This binary's allocator never reuses or
//! overwrites freed memory (a quarantine, as memory checkers use), so a tag left in place
//! would be read back intact: the check must not depend on the allocator scribbling over it.

#![allow(unsafe_code, clippy::unwrap_used)]

use std::alloc::{GlobalAlloc, Layout, System};
use std::ptr;

use acorn::ffi::*;

struct Quarantine;

// SAFETY: allocation is forwarded to the system allocator unchanged; freed blocks are
// simply never returned, so they stay valid (and unchanged) for the life of the process.
unsafe impl GlobalAlloc for Quarantine {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: same contract as our caller's.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, _ptr: *mut u8, _layout: Layout) {}
}

#[global_allocator]
static GLOBAL: Quarantine = Quarantine;

#[test]
fn a_closed_tree_batch_or_query_handle_is_refused() {
    // SAFETY: every pointer passed is either valid or a handle this test closed itself,
    // whose memory the quarantine allocator keeps readable.
    unsafe {
        let mut t = ptr::null_mut();
        assert_eq!(acorn_open_memory(&mut t), ACORN_OK);
        assert_eq!(
            acorn_stash(t, b"k".as_ptr(), 1, b"v".as_ptr(), 1, ptr::null_mut()),
            ACORN_OK
        );

        let mut b = ptr::null_mut();
        assert_eq!(acorn_batch_new(t, &mut b), ACORN_OK);
        assert_eq!(acorn_batch_free(b), ACORN_OK);
        assert_eq!(
            acorn_batch_stash(b, b"x".as_ptr(), 1, b"y".as_ptr(), 1),
            ACORN_ERR_INVALID_HANDLE,
            "a freed batch was used"
        );

        let mut q = ptr::null_mut();
        assert_eq!(acorn_query_new(t, ptr::null(), 0, 0, 0, &mut q), ACORN_OK);
        assert_eq!(acorn_query_free(q), ACORN_OK);
        let (mut k, mut kl, mut v, mut vl) = (ptr::null(), 0, ptr::null(), 0);
        assert_eq!(
            acorn_query_next(q, &mut k, &mut kl, &mut v, &mut vl),
            ACORN_ERR_INVALID_HANDLE,
            "a freed query was read"
        );

        assert_eq!(acorn_close(t), ACORN_OK);
        assert_eq!(
            acorn_stash(t, b"k".as_ptr(), 1, b"v".as_ptr(), 1, ptr::null_mut()),
            ACORN_ERR_INVALID_HANDLE,
            "a closed tree took a write"
        );
        assert_eq!(
            acorn_batch_new(t, &mut b),
            ACORN_ERR_INVALID_HANDLE,
            "a closed tree made a batch"
        );
        // Double closes were already refused through the registry; still so.
        assert_eq!(acorn_close(t), ACORN_ERR_INVALID_HANDLE);
    }
}
