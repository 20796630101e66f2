//! The C ABI keeps the Rust API's rules, called here through its extern functions (issue
//! 25): a batch with a rejected operation commits nothing (all or nothing), and a durable
//! tree's reads follow the one visibility rule (a commit that failed its fsync under
//! `Always` is never read).

#![allow(unsafe_code, clippy::unwrap_used)]

use std::ffi::CString;
use std::ptr;

use acorn::ffi::*;

/// Whether `key` is stored in `t`, and its value.
///
/// # Safety
/// `t` a live tree handle.
unsafe fn crack(t: *const AcornTree, key: &[u8]) -> Option<Vec<u8>> {
    let mut buf = [0u8; 64];
    let mut len = 0usize;
    // SAFETY: `t` per the contract; the buffer and length are ours.
    let code = unsafe {
        acorn_crack(
            t,
            key.as_ptr(),
            key.len(),
            buf.as_mut_ptr(),
            buf.len(),
            &mut len,
        )
    };
    match code {
        ACORN_OK => Some(buf[..len].to_vec()),
        ACORN_NOT_FOUND => None,
        other => panic!("acorn_crack: {other}"),
    }
}

const BAD_UTF8: &[u8] = &[0xff, 0xfe];

#[test]
fn a_batch_with_a_rejected_operation_commits_nothing() {
    // Each case: the operations (a good stash, a good toss, then one the call rejects, then
    // a good stash), and the status the rejected call and the commit both return.
    type Op = unsafe fn(*mut AcornBatch) -> i32;
    let cases: [(&str, Op, i32); 5] = [
        (
            "stash with a key that is not UTF-8",
            |b| unsafe { acorn_batch_stash(b, BAD_UTF8.as_ptr(), 2, b"v".as_ptr(), 1) },
            ACORN_ERR_UTF8,
        ),
        (
            "toss with a key that is not UTF-8",
            |b| unsafe { acorn_batch_toss(b, BAD_UTF8.as_ptr(), 2) },
            ACORN_ERR_UTF8,
        ),
        (
            "stash with a null value",
            |b| unsafe { acorn_batch_stash(b, b"k".as_ptr(), 1, ptr::null(), 3) },
            ACORN_ERR_NULL,
        ),
        (
            "stash with an empty key",
            |b| unsafe { acorn_batch_stash(b, b"".as_ptr(), 0, b"v".as_ptr(), 1) },
            ACORN_ERR_INVALID_KEY,
        ),
        (
            "stash of a value over the limit",
            |b| {
                let big = vec![0u8; acorn::MAX_VALUE_LEN + 1];
                unsafe { acorn_batch_stash(b, b"k".as_ptr(), 1, big.as_ptr(), big.len()) }
            },
            ACORN_ERR_TOO_LARGE,
        ),
    ];
    for (what, rejected, code) in cases {
        // SAFETY: every pointer is valid for its length, and every handle is live until
        // this test frees it.
        unsafe {
            let mut t = ptr::null_mut();
            assert_eq!(acorn_open_memory(&mut t), ACORN_OK);
            assert_eq!(
                acorn_stash(t, b"old".as_ptr(), 3, b"1".as_ptr(), 1, ptr::null_mut()),
                ACORN_OK
            );
            let mut b = ptr::null_mut();
            assert_eq!(acorn_batch_new(t, &mut b), ACORN_OK);
            assert_eq!(
                acorn_batch_stash(b, b"a".as_ptr(), 1, b"1".as_ptr(), 1),
                ACORN_OK
            );
            assert_eq!(acorn_batch_toss(b, b"old".as_ptr(), 3), ACORN_OK);
            assert_eq!(rejected(b), code, "{what}");
            assert_eq!(
                acorn_batch_stash(b, b"z".as_ptr(), 1, b"1".as_ptr(), 1),
                ACORN_OK
            );
            let mut version = 0u64;
            assert_eq!(
                acorn_batch_commit(b, &mut version),
                code,
                "{what}: the commit"
            );
            assert_eq!(version, 0, "{what}: a version was written");
            assert_eq!(acorn_batch_free(b), ACORN_OK);
            assert_eq!(crack(t, b"a"), None, "{what}: committed in part");
            assert_eq!(crack(t, b"z"), None, "{what}: committed in part");
            assert_eq!(crack(t, b"old").as_deref(), Some(&b"1"[..]), "{what}");
            assert_eq!(acorn_close(t), ACORN_OK);
        }
    }
}

#[test]
fn a_durable_tree_through_the_c_abi_never_reads_a_commit_that_failed_its_fsync() {
    let root = tempfile::tempdir().unwrap();
    let dir = root.path().join("db");
    let path = CString::new(dir.to_str().unwrap()).unwrap();
    // SAFETY: valid pointers and lengths; the handle is live until closed here.
    unsafe {
        let mut t = ptr::null_mut();
        assert_eq!(acorn_open(path.as_ptr(), &mut t), ACORN_OK);
        assert_eq!(
            acorn_stash(t, b"k".as_ptr(), 1, b"old".as_ptr(), 3, ptr::null_mut()),
            ACORN_OK
        );
        std::fs::rename(&dir, root.path().join("moved")).unwrap();
        assert_eq!(
            acorn_stash(t, b"k".as_ptr(), 1, b"new".as_ptr(), 3, ptr::null_mut()),
            ACORN_ERR_IO
        );
        assert_eq!(crack(t, b"k").as_deref(), Some(&b"old"[..]));
        let mut q = ptr::null_mut();
        assert_eq!(acorn_query_new(t, b"k".as_ptr(), 1, 0, 0, &mut q), ACORN_OK);
        let (mut k, mut kl, mut v, mut vl) = (ptr::null(), 0, ptr::null(), 0);
        assert_eq!(
            acorn_query_next(q, &mut k, &mut kl, &mut v, &mut vl),
            ACORN_OK
        );
        assert_eq!(std::slice::from_raw_parts(v, vl), b"old");
        assert_eq!(acorn_query_free(q), ACORN_OK);
        assert_eq!(acorn_close(t), ACORN_OK);
    }
}

/// The last error message on this thread.
fn last_error() -> String {
    // SAFETY: acorn_last_error returns a NUL-terminated string valid until the next call.
    unsafe { std::ffi::CStr::from_ptr(acorn_last_error()) }
        .to_string_lossy()
        .into_owned()
}

#[test]
fn a_next_call_refuses_a_null_handle_or_output_and_a_handle_of_another_kind_by_name() {
    // SAFETY: every pointer passed is null, ours and writable, or a live handle.
    unsafe {
        let mut t = ptr::null_mut();
        assert_eq!(acorn_open_memory(&mut t), ACORN_OK);
        let (mut k, mut kl, mut v, mut vl) = (ptr::null(), 0, ptr::null(), 0);
        let (mut kind, mut version) = (0, 0);

        let mut q = ptr::null_mut();
        assert_eq!(acorn_query_new(t, ptr::null(), 0, 0, 0, &mut q), ACORN_OK);
        assert_eq!(
            acorn_query_next(q, &mut k, &mut kl, ptr::null_mut(), &mut vl),
            ACORN_ERR_NULL
        );
        assert_eq!(last_error(), "query handle or an output pointer is null");
        assert_eq!(
            acorn_query_next(ptr::null_mut(), &mut k, &mut kl, &mut v, &mut vl),
            ACORN_ERR_NULL
        );

        let mut c = ptr::null_mut();
        assert_eq!(acorn_changes_new(t, 0, &mut c, ptr::null_mut()), ACORN_OK);
        let mut changes_next =
            |c, kind| acorn_changes_next(c, kind, &mut version, &mut k, &mut kl, &mut v, &mut vl);
        assert_eq!(changes_next(c, ptr::null_mut()), ACORN_ERR_NULL);
        assert_eq!(last_error(), "changes handle or an output pointer is null");
        // A query handle where a changes handle belongs: refused by its tag.
        assert_eq!(
            changes_next(q.cast::<AcornChanges>(), &mut kind),
            ACORN_ERR_INVALID_HANDLE
        );
        assert_eq!(last_error(), "not a live changes handle");
        assert_eq!(changes_next(c, &mut kind), ACORN_NOT_FOUND);

        assert_eq!(acorn_changes_free(c), ACORN_OK);
        assert_eq!(acorn_query_free(q), ACORN_OK);
        assert_eq!(acorn_close(t), ACORN_OK);
    }
}

/// Expiry through the C ABI (`acorn_stash_with_ttl`, milliseconds): a nut is there until
/// its TTL runs out and invisible at once after; a TTL of 0 is expired at once, an absurd
/// one never runs out; a toss of an expired nut is reported by the change feed as an
/// expiry (`ACORN_CHANGE_EXPIRED`); bad input is refused as `acorn_stash` refuses it.
#[test]
fn stash_with_ttl_expires_through_the_c_abi_and_the_feed_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let path = CString::new(dir.path().to_str().unwrap()).unwrap();
    let mut t: *mut AcornTree = ptr::null_mut();
    let mut v = 0u64;
    // SAFETY: every pointer is ours and live; the handle is closed once, at the end.
    unsafe {
        assert_eq!(acorn_open(path.as_ptr(), &mut t), ACORN_OK);
        let stash = |key: &[u8], ttl_ms: u64, v: &mut u64| {
            acorn_stash_with_ttl(t, key.as_ptr(), key.len(), b"v".as_ptr(), 1, ttl_ms, v)
        };
        assert_eq!(stash(b"short", 150, &mut v), ACORN_OK);
        assert_eq!(v, 1);
        assert_eq!(stash(b"zero", 0, &mut v), ACORN_OK);
        assert_eq!(stash(b"forever", u64::MAX, &mut v), ACORN_OK);
        assert_eq!(crack(t, b"short"), Some(b"v".to_vec()));
        assert_eq!(crack(t, b"zero"), None, "a TTL of 0 is expired at once");
        assert_eq!(crack(t, b"forever"), Some(b"v".to_vec()));
        std::thread::sleep(std::time::Duration::from_millis(200));
        assert_eq!(crack(t, b"short"), None, "expired");
        assert_eq!(crack(t, b"forever"), Some(b"v".to_vec()));
        assert_eq!(
            acorn_toss(t, b"short".as_ptr(), 5, ptr::null_mut()),
            ACORN_OK
        );
        let mut c: *mut AcornChanges = ptr::null_mut();
        assert_eq!(acorn_changes_new(t, 3, &mut c, ptr::null_mut()), ACORN_OK);
        let (mut kind, mut version) = (0, 0u64);
        let (mut k, mut kl, mut val, mut vl) = (ptr::null(), 0usize, ptr::null(), 0usize);
        assert_eq!(
            acorn_changes_next(
                c,
                &mut kind,
                &mut version,
                &mut k,
                &mut kl,
                &mut val,
                &mut vl
            ),
            ACORN_OK
        );
        assert_eq!((kind, version), (ACORN_CHANGE_EXPIRED, 4));
        assert_eq!(std::slice::from_raw_parts(k, kl), b"short");
        assert_eq!(acorn_changes_free(c), ACORN_OK);
        // Bad input, as for acorn_stash.
        assert_eq!(
            acorn_stash_with_ttl(
                t,
                BAD_UTF8.as_ptr(),
                2,
                b"v".as_ptr(),
                1,
                10,
                ptr::null_mut()
            ),
            ACORN_ERR_UTF8
        );
        assert_eq!(
            acorn_stash_with_ttl(t, b"k".as_ptr(), 1, ptr::null(), 1, 10, ptr::null_mut()),
            ACORN_ERR_NULL
        );
        assert_eq!(acorn_close(t), ACORN_OK);
    }
}

/// A length no buffer can have (`(size_t)-1`, a common C slip) is refused before any
/// byte is read: `ACORN_ERR_TOO_LARGE`, naming the argument, for a key and a value, with
/// a valid pointer or a null one. (It used to build a slice of that length: an abort in a
/// debug build, undefined behaviour in a release one.)
#[test]
fn an_impossible_length_is_refused_before_anything_is_read() {
    // SAFETY: the pointers are live; the lengths are wrong on purpose, and must be refused
    // before either is used.
    unsafe {
        let mut t = ptr::null_mut();
        assert_eq!(acorn_open_memory(&mut t), ACORN_OK);
        let mut version = 0;
        let (k, v) = (b"k", b"v");
        let huge = usize::MAX;
        assert_eq!(
            acorn_stash(t, k.as_ptr(), huge, v.as_ptr(), 1, &mut version),
            ACORN_ERR_TOO_LARGE
        );
        assert!(last_error().starts_with("key is "), "{}", last_error());
        assert_eq!(
            acorn_stash(t, k.as_ptr(), 1, v.as_ptr(), huge, &mut version),
            ACORN_ERR_TOO_LARGE
        );
        assert!(last_error().starts_with("value is "), "{}", last_error());
        assert_eq!(
            acorn_stash_with_ttl(t, k.as_ptr(), 1, ptr::null(), huge, 10, &mut version),
            ACORN_ERR_TOO_LARGE
        );
        assert_eq!(
            acorn_toss(t, k.as_ptr(), huge, ptr::null_mut()),
            ACORN_ERR_TOO_LARGE
        );
        assert_eq!(
            acorn_stash(t, k.as_ptr(), 1, v.as_ptr(), 1, &mut version),
            ACORN_OK
        );
        assert_eq!(crack(t, k), Some(v.to_vec()));
        assert_eq!(acorn_close(t), ACORN_OK);
    }
}
