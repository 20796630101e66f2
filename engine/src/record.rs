//! The stored form of one nut: a single shared allocation.
//!
//! Layout, little endian, times in nanoseconds since the Unix epoch:
//! `[version u64][timestamp u64][key_len u16][flags u8]([expires u64] if flags & TTL)[key][value]`.
//! The bytes live in one `triomphe::ThinArc` allocation (reference count and length, then the
//! bytes above), reached through an 8-byte pointer: one allocation per item, 35 bytes of
//! overhead (43 with a TTL), and cloning a record — for a snapshot's node copy, for the point
//! index, or for every [`crate::Nut`] handed out — is one reference-count increment.
//! A record is written straight into its allocation (header, key, value: three copies, no
//! scratch buffer).

#![allow(unsafe_code)]

use std::ffi::c_void;
use std::mem::{ManuallyDrop, MaybeUninit};

use triomphe::{HeaderSlice, HeaderWithLength, ThinArc, UniqueArc};

use crate::index::Keyed;
use crate::limits::{MAX_KEY_LEN, MAX_VALUE_LEN};
use crate::spares::Spares;
use crate::{Error, Result};

pub(crate) mod recycle;

/// Header bytes without a TTL.
pub(crate) const HEADER: usize = 19;
const TTL_FLAG: u8 = 1;

#[derive(Clone)]
pub(crate) struct Record(ThinArc<(), u8>);

impl std::fmt::Debug for Record {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Record")
            .field("key", &String::from_utf8_lossy(self.key()))
            .field("version", &self.version())
            .field("value_len", &self.value().len())
            .finish()
    }
}

/// The changes of one commit; a single stash or toss keeps its one change inline, so the
/// write path allocates nothing but the stored record.
pub(crate) type Changes = smallvec::SmallVec<[Change; 1]>;

/// Emptied buffers of multi-change commits, reused by the next [`crate::Batch`]: a batch
/// filling a fresh buffer wrote every change to a cold line (a tenth of a batch's time).
/// Two of a few thousand changes (at most 192 KiB), not a burst's worth.
static SPARE_CHANGES: Spares<Change> = Spares::new(2, 4096);

/// An empty buffer for a batch's changes: a reused one if any.
pub(crate) fn spare_changes() -> Vec<Change> {
    SPARE_CHANGES.take().unwrap_or_default()
}

/// Keeps an applied commit's buffer for [`spare_changes`] (a single change's is inline:
/// nothing to keep).
pub(crate) fn give_back(changes: Changes) {
    if changes.spilled() {
        SPARE_CHANGES.give(changes.into_vec());
    }
}

/// One change inside a commit.
#[derive(Clone, Debug)]
pub(crate) enum Change {
    Put(Record),
    /// The removal of a nut (by a toss, a batch or a transaction).
    Delete(Box<[u8]>),
    /// The removal of a nut whose TTL had run out by the commit's time (by a purge, a
    /// compaction, or a toss of it). Written as a delete only once the commit knows it
    /// removes an expired nut (`State::settle`), so the change feed can say so after a
    /// reopen too (see `storage::frame` for how the log keeps it apart from a delete).
    Expire(Box<[u8]>),
}

impl Change {
    pub(crate) fn key(&self) -> &[u8] {
        match self {
            Change::Put(rec) => rec.key(),
            Change::Delete(key) | Change::Expire(key) => key,
        }
    }
}

/// How many stashes and tosses a batch or transaction commits: counted in
/// [`crate::OpCounts`] once it is.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Items {
    pub(crate) puts: u64,
    pub(crate) tosses: u64,
}

impl Items {
    pub(crate) fn of(changes: &[Change]) -> Items {
        let puts = changes
            .iter()
            .filter(|c| matches!(c, Change::Put(_)))
            .count() as u64;
        Items {
            puts,
            tosses: changes.len() as u64 - puts,
        }
    }
}

/// Writes a record's header (`HEADER` bytes of `head`, all of it with a TTL), key and
/// value one after another to `dst`. The header is copied at a constant length: a few
/// moves, not a call to `memcpy`.
///
/// # Safety
/// `dst` is valid for writes of the parts' total length and overlaps none of them.
#[inline]
unsafe fn write_parts(dst: *mut u8, head: &[u8; HEADER + 8], ttl: bool, key: &[u8], value: &[u8]) {
    // SAFETY (all three copies): within the caller's `dst`, which no part overlaps.
    let at = if ttl {
        unsafe { std::ptr::copy_nonoverlapping(head.as_ptr(), dst, HEADER + 8) };
        HEADER + 8
    } else {
        unsafe { std::ptr::copy_nonoverlapping(head.as_ptr(), dst, HEADER) };
        HEADER
    };
    unsafe {
        std::ptr::copy_nonoverlapping(key.as_ptr(), dst.add(at), key.len());
        std::ptr::copy_nonoverlapping(value.as_ptr(), dst.add(at + key.len()), value.len());
    }
}

fn u64_at(b: &[u8], at: usize) -> u64 {
    let mut w = [0u8; 8];
    w.copy_from_slice(&b[at..at + 8]);
    u64::from_le_bytes(w)
}

/// A record borrowed from a raw pointer (see [`Record::as_ptr`]) without touching its
/// reference count; valid only as long as whoever owns that record keeps it alive.
pub(crate) struct Borrowed<'a> {
    rec: ManuallyDrop<Record>,
    _owner: std::marker::PhantomData<&'a ()>,
}

impl std::ops::Deref for Borrowed<'_> {
    type Target = Record;
    fn deref(&self) -> &Record {
        &self.rec
    }
}

impl Record {
    /// Builds a record with one allocation, writing the header, key and value straight
    /// into it (no scratch buffer, no second copy).
    pub(crate) fn new(
        key: &[u8],
        value: &[u8],
        version: u64,
        timestamp: u64,
        expires: u64,
    ) -> Self {
        let mut head = [0u8; HEADER + 8];
        head[0..8].copy_from_slice(&version.to_le_bytes());
        head[8..16].copy_from_slice(&timestamp.to_le_bytes());
        // Keys are bounded by MAX_KEY_LEN (4096), well within u16.
        head[16..18].copy_from_slice(&(key.len() as u16).to_le_bytes());
        let ttl = expires != 0;
        if ttl {
            head[18] = TTL_FLAG;
            head[HEADER..].copy_from_slice(&expires.to_le_bytes());
        }
        let len = if ttl { HEADER + 8 } else { HEADER } + key.len() + value.len();
        if let Some(mut rec) = recycle::take(len) {
            let filled = rec.0.with_arc_mut(|arc| {
                triomphe::Arc::get_mut(arc).map(|inner| {
                    let dst = inner.slice_mut();
                    // SAFETY: `dst` is `len` bytes (`take` matched the length), which the
                    // borrowed parts cannot overlap: the record is unique, so unreachable.
                    unsafe { write_parts(dst.as_mut_ptr(), &head, ttl, key, value) };
                })
            });
            if filled.is_some() {
                return rec;
            }
        }
        let mut uninit =
            UniqueArc::<HeaderSlice<_, [MaybeUninit<u8>]>>::from_header_and_uninit_slice(
                HeaderWithLength::new((), len),
                len,
            );
        // SAFETY: the slice is `len` bytes of the new allocation, which the borrowed parts
        // cannot overlap; `MaybeUninit<u8>` is a `u8`'s layout.
        unsafe { write_parts(uninit.slice.as_mut_ptr().cast(), &head, ttl, key, value) };
        // SAFETY: the three parts together wrote all `len` bytes.
        let arc = unsafe { uninit.assume_init_slice_with_header() }.shareable();
        Record(triomphe::Arc::into_thin(arc))
    }

    /// Whether this record's allocation may be reused for another record of the same
    /// length: small (see [`recycle`]) and this the only reference to it.
    fn reusable(&self) -> bool {
        self.bytes().len() <= recycle::MAX_LEN && self.0.with_arc(triomphe::Arc::is_unique)
    }

    /// The stored bytes, as written to the log and snapshots.
    #[inline]
    pub(crate) fn bytes(&self) -> &[u8] {
        &self.0.slice
    }

    /// Wraps stored bytes; `None` when they cannot hold a header and the key it declares.
    pub(crate) fn from_bytes(b: &[u8]) -> Option<Record> {
        if b.len() < HEADER || b[18] & !TTL_FLAG != 0 {
            return None;
        }
        let head = if b[18] & TTL_FLAG != 0 {
            HEADER + 8
        } else {
            HEADER
        };
        let klen = usize::from(u16::from_le_bytes([b[16], b[17]]));
        (head + klen <= b.len()).then(|| Record(ThinArc::from_header_and_slice((), b)))
    }

    /// Appends the stored bytes of the log's mark of an expiry (see [`Change::Expire`]): an
    /// empty value under `key` at `version` that expired at the first instant there is
    /// (expiry 1, timestamp 1), a record no write of a nut produces.
    pub(crate) fn encode_expiry_mark(buf: &mut Vec<u8>, key: &[u8], version: u64) {
        buf.extend_from_slice(&version.to_le_bytes());
        buf.extend_from_slice(&1u64.to_le_bytes());
        // Keys are bounded by MAX_KEY_LEN (4096), well within u16.
        buf.extend_from_slice(&(key.len() as u16).to_le_bytes());
        buf.push(TTL_FLAG);
        buf.extend_from_slice(&1u64.to_le_bytes());
        buf.extend_from_slice(key);
    }

    /// Whether this is the log's mark of an expiry ([`Record::encode_expiry_mark`]).
    pub(crate) fn is_expiry_mark(&self) -> bool {
        self.expires() == 1 && self.timestamp() == 1 && self.value().is_empty()
    }

    /// Borrows the record behind a pointer from [`Record::as_ptr`] without taking a
    /// reference.
    ///
    /// # Safety
    /// The reference behind `ptr` stays alive for `'a` (the point index guarantees it for
    /// as long as an epoch guard is held).
    pub(crate) unsafe fn borrow_raw<'a>(ptr: *const c_void) -> Borrowed<'a> {
        Borrowed {
            // SAFETY: wrapped in ManuallyDrop, so the count this pointer stands for is never
            // released here; the caller keeps the allocation alive.
            rec: ManuallyDrop::new(Record(unsafe { ThinArc::from_raw(ptr) })),
            _owner: std::marker::PhantomData,
        }
    }

    /// The key of the record at `ptr` (from [`Record::as_ptr`]), without taking a
    /// reference.
    ///
    /// # Safety
    /// The record stays alive for `'a`.
    pub(crate) unsafe fn key_at<'a>(ptr: *const c_void) -> &'a [u8] {
        // SAFETY: the caller keeps the record alive for `'a`.
        let rec = unsafe { Self::borrow_raw(ptr) };
        let key: *const [u8] = rec.key();
        // SAFETY: the key's bytes are in the record's allocation, alive for `'a`.
        unsafe { &*key }
    }

    /// Whether `self` is the record at address `ptr`.
    pub(crate) fn is_at(&self, ptr: *const c_void) -> bool {
        self.0.as_ptr() == ptr
    }

    /// The thin pointer, without giving up the reference.
    pub(crate) fn as_ptr(&self) -> *const c_void {
        self.0.as_ptr()
    }

    /// The key as text (keys are checked to be UTF-8 before they are stored; an invalid
    /// one reads as ""). An ASCII key, the usual kind, is not validated again:
    /// `is_ascii` reads a short key a word at a time, where `str::from_utf8` walks it byte
    /// by byte (~120 instructions for a 10-byte key, paid by every index extractor call).
    pub(crate) fn key_str(&self) -> &str {
        let key = self.key();
        // A key of 8 to 16 bytes (the common size) in two overlapping words, no loop.
        let ascii = match (key.first_chunk::<8>(), key.last_chunk::<8>()) {
            (Some(head), Some(tail)) if key.len() <= 16 => {
                (u64::from_ne_bytes(*head) | u64::from_ne_bytes(*tail)) & 0x8080_8080_8080_8080 == 0
            }
            _ => key.is_ascii(),
        };
        if ascii {
            // SAFETY: ASCII bytes are valid UTF-8.
            unsafe { std::str::from_utf8_unchecked(key) }
        } else {
            std::str::from_utf8(key).unwrap_or_default()
        }
    }

    #[inline]
    pub(crate) fn version(&self) -> u64 {
        u64_at(self.bytes(), 0)
    }

    #[inline]
    pub(crate) fn timestamp(&self) -> u64 {
        u64_at(self.bytes(), 8)
    }

    #[inline]
    fn has_ttl(&self) -> bool {
        self.bytes()[18] & TTL_FLAG != 0
    }

    /// Expiry in nanoseconds since the epoch; 0 when the record never expires.
    #[inline]
    pub(crate) fn expires(&self) -> u64 {
        if self.has_ttl() {
            u64_at(self.bytes(), HEADER)
        } else {
            0
        }
    }

    /// Where the key starts.
    #[inline]
    fn key_start(&self) -> usize {
        if self.has_ttl() {
            HEADER + 8
        } else {
            HEADER
        }
    }

    #[inline]
    fn key_len(&self) -> usize {
        let b = self.bytes();
        usize::from(u16::from_le_bytes([b[16], b[17]]))
    }

    /// The bytes from the key's start to the end (key, then value).
    #[inline]
    pub(crate) fn key_onwards(&self) -> &[u8] {
        &self.bytes()[self.key_start()..]
    }

    #[inline]
    pub(crate) fn value(&self) -> &[u8] {
        &self.bytes()[self.key_start() + self.key_len()..]
    }

    #[inline]
    pub(crate) fn is_expired(&self, now: u64) -> bool {
        let e = self.expires();
        e != 0 && e <= now
    }

    /// Key and value bytes, as counted in `Stats::live_bytes`.
    pub(crate) fn payload_len(&self) -> usize {
        self.bytes().len() - self.key_start()
    }

    /// Sets version and timestamp at commit time. Records are unshared until committed,
    /// so this writes in place; a shared one is rebuilt.
    pub(crate) fn stamp(&mut self, version: u64, timestamp: u64) {
        let done = self
            .0
            .with_arc_mut(|arc| match triomphe::Arc::get_mut(arc) {
                Some(inner) => {
                    inner.slice_mut()[0..8].copy_from_slice(&version.to_le_bytes());
                    inner.slice_mut()[8..16].copy_from_slice(&timestamp.to_le_bytes());
                    true
                }
                None => false,
            });
        if !done {
            *self = Record::new(self.key(), self.value(), version, timestamp, self.expires());
        }
    }
}

impl Keyed for Record {
    #[inline]
    fn key(&self) -> &[u8] {
        let start = self.key_start();
        &self.bytes()[start..start + self.key_len()]
    }
}

pub(crate) fn check_key(key: &str) -> Result<()> {
    if key.is_empty() {
        return Err(Error::InvalidKey("keys must not be empty".into()));
    }
    if key.len() > MAX_KEY_LEN {
        return Err(Error::TooLarge(format!(
            "key of {} bytes (starting {:?}) is over the maximum of {MAX_KEY_LEN} bytes",
            key.len(),
            key.chars().take(32).collect::<String>()
        )));
    }
    Ok(())
}

pub(crate) fn check_value(key: &str, value: &[u8]) -> Result<()> {
    if value.len() > MAX_VALUE_LEN {
        return Err(Error::TooLarge(format!(
            "value of {} bytes for key {key:?} is over the maximum of {MAX_VALUE_LEN} bytes",
            value.len()
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_round_trip_and_stamp_in_place() {
        let mut r = Record::new(b"user-1", b"{\"a\":1}", 0, 0, 99);
        assert_eq!(r.key(), b"user-1");
        assert_eq!(r.value(), b"{\"a\":1}");
        assert_eq!(r.expires(), 99);
        r.stamp(7, 1234);
        assert_eq!((r.version(), r.timestamp()), (7, 1234));
        let shared = r.clone();
        r.stamp(8, 5678);
        assert_eq!((shared.version(), r.version()), (7, 8));
        assert_eq!(r.value(), b"{\"a\":1}");
        assert!(r.is_expired(99) && !r.is_expired(98));
        assert_eq!(r.payload_len(), 6 + 7);
        let plain = Record::new(b"k", b"v", 3, 4, 0);
        assert_eq!(
            (plain.expires(), plain.key(), plain.value()),
            (0, b"k".as_slice(), b"v".as_slice())
        );
        assert_eq!(plain.bytes().len(), HEADER + 2);
        assert!(Record::from_bytes(plain.bytes()).is_some());
        assert!(
            Record::from_bytes(&plain.bytes()[..HEADER]).is_none(),
            "key past the end"
        );
    }

    #[test]
    fn a_key_reads_as_text_ascii_or_not_and_an_invalid_one_as_empty() {
        // Every length around the two-word check (8 to 16 bytes), with a non-ASCII
        // character at its start, its end or none.
        let mut keys = vec![
            String::new(),
            "user-1".into(),
            "ключ-7".into(),
            "naïve".into(),
            "🌰".into(),
        ];
        for n in 6..=18 {
            let ascii = "k".repeat(n);
            keys.extend([format!("é{ascii}"), format!("{ascii}é"), ascii]);
        }
        for key in &keys {
            assert_eq!(Record::new(key.as_bytes(), b"v", 0, 0, 0).key_str(), key);
        }
        // Never stored (keys are checked), but reading one must still be safe.
        assert_eq!(Record::new(b"a\xffb", b"v", 0, 0, 0).key_str(), "");
        assert_eq!(Record::new(b"abcdefgh\xffb", b"v", 0, 0, 0).key_str(), "");
    }
}
