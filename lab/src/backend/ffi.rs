//! `ffi`: acorn through its C ABI, every operation, as a C or Python caller would use it:
//! JSON is encoded on this side and handed over as pointer + length; reads copy the value
//! into a reused buffer (`acorn_crack`, growing it when told the buffer is too small) and
//! decode it here (opaque values: copied out, nothing to decode). Side by side with
//! `plain`, the difference is the cost of the boundary.
#![allow(unsafe_code)]

use std::ffi::CStr;
use std::ptr;

use acorn::ffi::{
    acorn_batch_commit, acorn_batch_free, acorn_batch_new, acorn_batch_stash, acorn_close,
    acorn_crack, acorn_last_error, acorn_open, acorn_open_memory, acorn_query_free,
    acorn_query_new, acorn_query_next, acorn_scan_new, acorn_stash, acorn_toss, AcornQuery,
    AcornTree, ACORN_ERR_BUFFER_TOO_SMALL, ACORN_NOT_FOUND, ACORN_OK,
};

use super::codec::{Decode, Format};
use super::page::Pager;
use super::{peer, scratch_dir, store_err, Backend, BackendInfo, Options, OrStore, Page, QuerySpec, Registration, Result, Tier, Version, Worker};
use crate::doc::Value;

pub(crate) struct FfiBackend {
    tree: *mut AcornTree,
    format: Format,
    name: &'static str,
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

pub(crate) const REGISTRATIONS: &[Registration] = &[
    Registration::store(
        "ffi",
        "acorn through its C ABI on every call (the cost of the boundary), JSON",
        Tier::Memory,
        Version::Acorn,
        open,
    ),
    Registration::store(
        "ffi:durable",
        "ffi on a WAL, fsync per commit",
        Tier::FsyncPerCommit,
        Version::Acorn,
        open,
    ),
];

fn open(reg: &Registration, options: &Options) -> Result<Box<dyn Backend>> {
    let durable = reg.tier.on_disk();
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
        format: peer::format(options),
        name: reg.name,
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
        self.name
    }

    fn data_dir(&self) -> Option<&std::path::Path> {
        self._dir.as_ref().map(tempfile::TempDir::path)
    }

    fn describe(&self) -> BackendInfo {
        BackendInfo {
            name: self.name().into(),
            store: format!("{} through its C ABI", Version::Acorn.label()),
            durability: if self.durable {
                "durable: WAL, fsync before each commit returns (SyncPolicy::Always)".into()
            } else {
                "in memory".into()
            },
            serialization: self.format.label().into(),
            cache: "none".into(),
            stores_data: true,
            rust_heap: true,
        }
    }

    fn worker(&self) -> Box<dyn Worker + '_> {
        Box::new(FfiWorker {
            tree: self.tree,
            format: self.format,
            buf: vec![0; 4096],
            enc: Vec::new(),
            value: Value::default(),
            pager: Pager::default(),
            page: Page::default(),
            _backend: self,
        })
    }
}

struct FfiWorker<'a> {
    tree: *const AcornTree,
    format: Format,
    buf: Vec<u8>,
    enc: Vec<u8>,
    value: Value,
    pager: Pager,
    page: Page,
    _backend: &'a FfiBackend,
}

/// Hands every `(key, value)` of a query or scan cursor to `each` until it says stop, then
/// frees the cursor; returns how many it was handed.
///
/// # Safety
/// `q` must be a live cursor from `acorn_query_new` or `acorn_scan_new`.
unsafe fn drain(
    q: *mut AcornQuery,
    mut each: impl FnMut(&[u8], &[u8]) -> Result<bool>,
) -> Result<usize> {
    let (mut k, mut kl, mut v, mut vl) = (ptr::null(), 0, ptr::null(), 0);
    let mut n = 0;
    let out = loop {
        // SAFETY: `q` is live and the four outputs are writable locals.
        match check(unsafe {
            acorn_query_next(q, &raw mut k, &raw mut kl, &raw mut v, &raw mut vl)
        }) {
            Ok(ACORN_NOT_FOUND) => break Ok(n),
            Ok(_) => {
                // SAFETY: the library guarantees `kl` and `vl` readable bytes at `k` and `v`
                // until the next call.
                let (key, value) = unsafe {
                    (
                        std::slice::from_raw_parts(k, kl),
                        std::slice::from_raw_parts(v, vl),
                    )
                };
                n += 1;
                match each(key, value) {
                    Ok(true) => {}
                    Ok(false) => break Ok(n),
                    Err(e) => break Err(e),
                }
            }
            Err(e) => break Err(e),
        }
    };
    // SAFETY: `q` is live and freed exactly once.
    unsafe { acorn_query_free(q) };
    out
}

impl Worker for FfiWorker<'_> {
    fn insert(&mut self, key: &[u8], value: &Value) -> Result<()> {
        let bytes = self.format.stored(value, &mut self.enc).or_store(NAME)?;
        // SAFETY: live handle; key and value are valid for their lengths; version may be null.
        check(unsafe {
            acorn_stash(
                self.tree,
                key.as_ptr(),
                key.len(),
                bytes.as_ptr(),
                bytes.len(),
                ptr::null_mut(),
            )
        })?;
        Ok(())
    }

    fn read(&mut self, key: &[u8]) -> Result<Option<&Value>> {
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
                    self.format
                        .decode(&self.buf[..len], &mut self.value, Decode::Fresh)
                        .or_store(NAME)?;
                    return Ok(Some(&self.value));
                }
                ACORN_NOT_FOUND => return Ok(None),
                ACORN_ERR_BUFFER_TOO_SMALL => self.buf.resize(len, 0),
                other => {
                    check(other)?;
                }
            }
        }
    }

    fn update(&mut self, key: &[u8], value: &Value) -> Result<()> {
        self.insert(key, value)
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
        let (format, value) = (self.format, &mut self.value);
        // SAFETY: `q` was just handed out.
        unsafe {
            drain(q, |_, v| {
                format.decode(v, value, Decode::Fresh).or_store(NAME)?;
                Ok(true)
            })
        }
    }

    fn batch_insert(&mut self, items: &[(Vec<u8>, Value)]) -> Result<()> {
        let mut b = ptr::null_mut();
        // SAFETY: live handle; `b` writable.
        check(unsafe { acorn_batch_new(self.tree, &raw mut b) })?;
        let mut result: Result<()> = Ok(());
        for (k, v) in items {
            let enc = self.format.stored(v, &mut self.enc).or_store(NAME);
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

    fn query(&mut self, q: &QuerySpec) -> Result<&Page> {
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
        let (format, pager, page) = (self.format, &mut self.pager, &mut self.page);
        pager.start(page);
        // SAFETY: `cursor` was just handed out.
        unsafe { drain(cursor, |k, v| Ok(pager.offer(q, format, k, v, page))) }?;
        pager.finish(q, page);
        Ok(&self.page)
    }
}
