//! `ffi`: acorn through its C ABI, every operation, as a C or Python caller would use it:
//! JSON is encoded on this side and handed over as pointer + length; reads copy the value
//! into a reused buffer (`acorn_crack`, growing it when told the buffer is too small) and
//! decode it here. Side by side with `plain`, the difference is the cost of the boundary.
#![allow(unsafe_code)]

use std::ffi::CStr;
use std::ptr;

use acorn::ffi::{
    acorn_batch_commit, acorn_batch_free, acorn_batch_new, acorn_batch_stash, acorn_close,
    acorn_crack, acorn_last_error, acorn_open, acorn_open_memory, acorn_query_free,
    acorn_query_new, acorn_query_next, acorn_scan_new, acorn_stash, acorn_toss, AcornQuery,
    AcornTree, ACORN_ERR_BUFFER_TOO_SMALL, ACORN_NOT_FOUND, ACORN_OK,
};

use super::{
    from_json, page, scratch_dir, store_err, to_json, variant_name, Backend, BackendInfo, Options,
    OrStore, QuerySpec, Result, Worker,
};
use crate::doc::Doc;

pub(crate) struct FfiBackend {
    tree: *mut AcornTree,
    name: String,
    durable: bool,
    _dir: Option<tempfile::TempDir>,
}

// SAFETY: the handle owns an `acorn::Tree` (Send + Sync); the C functions this backend calls
// with it only read the handle itself, so sharing the pointer across threads is sound.
unsafe impl Send for FfiBackend {}
// SAFETY: as above.
unsafe impl Sync for FfiBackend {}

const NAME: &str = "ffi";

/// Turns a status code into a result, with the library's message.
fn check(code: i32) -> Result<i32> {
    if code >= 0 {
        return Ok(code);
    }
    // SAFETY: `acorn_last_error` returns a NUL-terminated string valid until the next call.
    let msg = unsafe { CStr::from_ptr(acorn_last_error()) }
        .to_string_lossy()
        .into_owned();
    Err(store_err(NAME, format!("status {code}: {msg}")))
}

pub(crate) fn open(options: &Options, durable: bool) -> Result<Box<dyn Backend>> {
    let mut tree = ptr::null_mut();
    let dir = if durable {
        let dir = scratch_dir(options, NAME)?;
        let path =
            std::ffi::CString::new(dir.path().to_string_lossy().as_bytes()).or_store(NAME)?;
        // SAFETY: `path` is NUL-terminated and `tree` is writable.
        check(unsafe { acorn_open(path.as_ptr(), &raw mut tree) })?;
        Some(dir)
    } else {
        // SAFETY: `tree` is writable.
        check(unsafe { acorn_open_memory(&raw mut tree) })?;
        None
    };
    Ok(Box::new(FfiBackend {
        tree,
        name: variant_name(NAME, durable),
        durable,
        _dir: dir,
    }))
}

impl Drop for FfiBackend {
    fn drop(&mut self) {
        // SAFETY: `tree` is the live handle opened in `open`, closed exactly once here.
        unsafe { acorn_close(self.tree) };
    }
}

impl Backend for FfiBackend {
    fn name(&self) -> &str {
        &self.name
    }

    fn describe(&self) -> BackendInfo {
        BackendInfo {
            name: self.name().into(),
            store: format!("acorn {} through its C ABI", env!("CARGO_PKG_VERSION")),
            durability: if self.durable {
                "durable: WAL, fsync before each commit returns (SyncPolicy::Always)".into()
            } else {
                "in memory".into()
            },
            serialization: "JSON (serde_json)".into(),
            cache: "none".into(),
            stores_data: true,
            rust_heap: true,
        }
    }

    fn worker(&self) -> Box<dyn Worker + '_> {
        Box::new(FfiWorker {
            tree: self.tree,
            buf: vec![0; 4096],
            enc: Vec::new(),
            doc: Doc::default(),
            _backend: self,
        })
    }
}

struct FfiWorker<'a> {
    tree: *const AcornTree,
    buf: Vec<u8>,
    enc: Vec<u8>,
    doc: Doc,
    _backend: &'a FfiBackend,
}

/// Reads every result of a query or scan cursor, then frees it.
///
/// # Safety
/// `q` must be a live cursor from `acorn_query_new` or `acorn_scan_new`.
unsafe fn drain(q: *mut AcornQuery, mut each: impl FnMut(&[u8]) -> Result<()>) -> Result<usize> {
    let (mut k, mut kl, mut v, mut vl) = (ptr::null(), 0, ptr::null(), 0);
    let mut n = 0;
    let out = loop {
        // SAFETY: `q` is live and the four outputs are writable locals.
        match check(unsafe {
            acorn_query_next(q, &raw mut k, &raw mut kl, &raw mut v, &raw mut vl)
        }) {
            Ok(ACORN_NOT_FOUND) => break Ok(n),
            Ok(_) => {
                // SAFETY: the library guarantees `vl` readable bytes at `v` until the next call.
                if let Err(e) = each(unsafe { std::slice::from_raw_parts(v, vl) }) {
                    break Err(e);
                }
                n += 1;
            }
            Err(e) => break Err(e),
        }
    };
    // SAFETY: `q` is live and freed exactly once.
    unsafe { acorn_query_free(q) };
    out
}

impl Worker for FfiWorker<'_> {
    fn insert(&mut self, key: &[u8], doc: &Doc) -> Result<()> {
        self.enc.clear();
        serde_json::to_writer(&mut self.enc, doc).or_store(NAME)?;
        // SAFETY: live handle; key and value are valid for their lengths; version may be null.
        check(unsafe {
            acorn_stash(
                self.tree,
                key.as_ptr(),
                key.len(),
                self.enc.as_ptr(),
                self.enc.len(),
                ptr::null_mut(),
            )
        })?;
        Ok(())
    }

    fn read(&mut self, key: &[u8]) -> Result<Option<&Doc>> {
        loop {
            let mut len = 0;
            // SAFETY: live handle; `buf` is writable for its length; `len` is writable.
            let code = unsafe {
                acorn_crack(
                    self.tree,
                    key.as_ptr(),
                    key.len(),
                    self.buf.as_mut_ptr(),
                    self.buf.len(),
                    &raw mut len,
                )
            };
            match code {
                ACORN_OK => {
                    self.doc = from_json(NAME, &self.buf[..len])?;
                    return Ok(Some(&self.doc));
                }
                ACORN_NOT_FOUND => return Ok(None),
                ACORN_ERR_BUFFER_TOO_SMALL => self.buf.resize(len, 0),
                other => {
                    check(other)?;
                }
            }
        }
    }

    fn update(&mut self, key: &[u8], doc: &Doc) -> Result<()> {
        self.insert(key, doc)
    }

    fn delete(&mut self, key: &[u8]) -> Result<bool> {
        let mut existed = 0;
        // SAFETY: live handle; key valid for its length; `existed` writable.
        check(unsafe { acorn_toss(self.tree, key.as_ptr(), key.len(), &raw mut existed) })?;
        Ok(existed == 1)
    }

    fn scan(&mut self, start: &[u8], limit: usize) -> Result<usize> {
        let mut q = ptr::null_mut();
        // SAFETY: live handle; `start` valid for its length; `q` writable.
        check(unsafe {
            acorn_scan_new(self.tree, start.as_ptr(), start.len(), limit, &raw mut q)
        })?;
        // SAFETY: `q` was just handed out.
        unsafe { drain(q, |v| from_json(NAME, v).map(drop)) }
    }

    fn batch_insert(&mut self, items: &[(Vec<u8>, Doc)]) -> Result<()> {
        let mut b = ptr::null_mut();
        // SAFETY: live handle; `b` writable.
        check(unsafe { acorn_batch_new(self.tree, &raw mut b) })?;
        let mut result: Result<()> = Ok(());
        for (k, d) in items {
            let enc = to_json(NAME, d);
            // SAFETY: `b` is live; key and value valid for their lengths.
            result = enc.and_then(|v| {
                check(unsafe { acorn_batch_stash(b, k.as_ptr(), k.len(), v.as_ptr(), v.len()) })
                    .map(drop)
            });
            if result.is_err() {
                break;
            }
        }
        if result.is_ok() {
            // SAFETY: `b` is live; version may be null.
            result = check(unsafe { acorn_batch_commit(b, ptr::null_mut()) }).map(drop);
        }
        // SAFETY: `b` is live and freed exactly once.
        unsafe { acorn_batch_free(b) };
        result
    }

    fn query(&mut self, q: &QuerySpec) -> Result<usize> {
        let mut cursor = ptr::null_mut();
        // SAFETY: live handle; prefix valid for its length; `cursor` writable.
        check(unsafe {
            acorn_query_new(
                self.tree,
                q.prefix.as_ptr(),
                q.prefix.len(),
                0,
                0,
                &raw mut cursor,
            )
        })?;
        let mut rows = Vec::new();
        // SAFETY: `cursor` was just handed out.
        unsafe {
            drain(cursor, |v| {
                let d = from_json(NAME, v)?;
                rows.push((d.value, d.timestamp));
                Ok(())
            })
        }?;
        Ok(page(rows, q))
    }
}
