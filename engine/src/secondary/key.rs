//! What an index stores and how it orders it: [`IndexKey`]'s order-preserving encodings,
//! the composite key of an entry (escaped index key, terminator, primary key), the bounds
//! of an index range over composite keys, and [`Entry`], the reference to a record that an
//! index's B+tree holds (with the abbreviation its nodes search by).

use std::ops::Bound;

use triomphe::ThinArc;

use crate::index::Keyed;
use crate::record::Record;

/// Order-preserving byte encodings for index keys: byte order equals the values' order.
#[derive(Debug)]
pub struct IndexKey;

impl IndexKey {
    /// Big-endian: unsigned integers sort numerically.
    pub fn u64(v: u64) -> [u8; 8] {
        v.to_be_bytes()
    }

    /// Big-endian with the sign bit flipped: negative numbers sort before positive ones.
    pub fn i64(v: i64) -> [u8; 8] {
        ((v as u64) ^ (1 << 63)).to_be_bytes()
    }

    /// IEEE 754 bits arranged so that byte order is numeric order (-0.0 sorts just before
    /// 0.0, NaNs at the ends).
    pub fn f64(v: f64) -> [u8; 8] {
        let bits = v.to_bits();
        let ordered = if bits >> 63 == 1 {
            !bits
        } else {
            bits | (1 << 63)
        };
        ordered.to_be_bytes()
    }

    /// UTF-8 bytes: strings sort by code point.
    pub fn str(v: &str) -> Vec<u8> {
        v.as_bytes().to_vec()
    }
}

/// Appends the composite key of (`ikey`, `pkey`) to `out`.
// Always inlined: once per indexed write, and out of line its call and register saves cost
// a fifth of it (`#[inline]` alone was dropped by the compiler in some builds).
#[inline(always)]
pub(crate) fn composite(out: &mut Vec<u8>, ikey: &[u8], pkey: &[u8]) {
    // The usual case, a short key whose index key has no zero byte to escape: built in a
    // fixed-size buffer by fixed-size copies and appended whole, then cut to length (a byte
    // loop and a call to `memcpy` cost more than the key is long).
    const SHORT: usize = 32;
    let len = ikey.len() + 2 + pkey.len();
    if len <= SHORT && !has_zero(ikey) {
        let mut buf = [0u8; SHORT];
        copy_short(&mut buf, ikey);
        if let Some(tail) = buf.get_mut(ikey.len() + 2..) {
            copy_short(tail, pkey);
        }
        let start = out.len();
        out.extend_from_slice(&buf);
        out.truncate(start + len);
        return;
    }
    out.reserve(ikey.len() + pkey.len() + 4);
    escaped(out, ikey);
    out.extend_from_slice(&[0, 0]);
    out.extend_from_slice(pkey);
}

/// Copies `src` (at most 32 bytes, and `dst` as long) to the start of `dst` in at most two
/// fixed-size copies that overlap (inline moves, no call).
fn copy_short(dst: &mut [u8], src: &[u8]) {
    fn two<const N: usize>(dst: &mut [u8], src: &[u8]) {
        let n = src.len();
        if let (Some(head), Some(tail)) = (src.first_chunk::<N>(), src.last_chunk::<N>()) {
            if let Some(d) = dst.first_chunk_mut::<N>() {
                *d = *head;
            }
            if let Some(d) = dst.get_mut(n - N..n).and_then(|d| d.first_chunk_mut::<N>()) {
                *d = *tail;
            }
        }
    }
    match src.len() {
        16.. => two::<16>(dst, src),
        8.. => two::<8>(dst, src),
        4.. => two::<4>(dst, src),
        n => {
            if let Some(d) = dst.get_mut(..n) {
                for (d, s) in d.iter_mut().zip(src) {
                    *d = *s;
                }
            }
        }
    }
}

/// Whether `bytes` holds a zero byte: a key of 4 to 16 bytes tested in two overlapping
/// words (`contains` scans byte by byte up to 16 bytes, a compare and a branch each).
#[inline]
pub(super) fn has_zero(bytes: &[u8]) -> bool {
    // A byte is flagged only if it is zero or above a zero byte: any flag means a zero.
    const LO: u64 = 0x0101_0101_0101_0101;
    const HI: u64 = 0x8080_8080_8080_8080;
    let zero = |w: u64| w.wrapping_sub(LO) & !w & HI != 0;
    let n = bytes.len();
    if let (Some(head), Some(tail), true) = (bytes.first_chunk(), bytes.last_chunk(), n <= 16) {
        return zero(u64::from_le_bytes(*head)) | zero(u64::from_le_bytes(*tail));
    }
    if let (Some(head), Some(tail), true) = (bytes.first_chunk(), bytes.last_chunk(), n < 8) {
        let word = |w: &[u8; 4]| u64::from(u32::from_le_bytes(*w)) | !0 << 32;
        return zero(word(head)) | zero(word(tail));
    }
    bytes.contains(&0)
}

fn escaped(out: &mut Vec<u8>, ikey: &[u8]) {
    for &b in ikey {
        out.push(b);
        if b == 0 {
            out.push(0xFF);
        }
    }
}

/// The composite bound below every entry whose index key is at (or, `after`, past) `ikey`.
fn lower(ikey: &[u8], after: bool) -> Box<[u8]> {
    let mut out = Vec::with_capacity(ikey.len() + 2);
    escaped(&mut out, ikey);
    out.extend_from_slice(&[0, u8::from(after)]);
    out.into_boxed_slice()
}

/// A range of keys, as owned bounds.
pub(crate) type KeyRange = (Bound<Box<[u8]>>, Bound<Box<[u8]>>);

/// The index key a composite key or bound starts with (for showing it).
pub(crate) fn index_key_of(composite: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(composite.len());
    let mut bytes = composite.iter();
    while let Some(&b) = bytes.next() {
        if b == 0 {
            match bytes.next() {
                Some(0xFF) => out.push(0),
                _ => break,
            }
        } else {
            out.push(b);
        }
    }
    out
}

/// Index-key bounds as composite-key bounds.
pub(crate) fn bounds(start: Bound<&[u8]>, end: Bound<&[u8]>) -> KeyRange {
    let start = match start {
        Bound::Unbounded => Bound::Unbounded,
        Bound::Included(k) => Bound::Included(lower(k, false)),
        Bound::Excluded(k) => Bound::Included(lower(k, true)),
    };
    let end = match end {
        Bound::Unbounded => Bound::Unbounded,
        Bound::Included(k) => Bound::Excluded(lower(k, true)),
        Bound::Excluded(k) => Bound::Excluded(lower(k, false)),
    };
    (start, end)
}

/// One index entry, as its leaf slot holds it (16 bytes): the record itself, so the entry of
/// a given record is found in its leaf by the record's address without reading any entry's
/// allocation, and its composite key in an allocation of its own, headed by the first 8
/// bytes of its index key (a leaf search compares those, and reads the key only on a tie).
/// Cloning it for a copied node is two reference-count increments.
#[derive(Clone)]
pub(crate) struct Entry {
    record: Record,
    key: ThinArc<u64, u8>,
}

/// The composite-key allocation of an entry taken out of its index, kept for the next
/// entry put in ([`Entry::reusing`]): no allocation and no free per moved index key.
pub(crate) struct Spare(ThinArc<u64, u8>);

impl std::fmt::Debug for Spare {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Spare")
            .field("len", &self.0.slice.len())
            .finish()
    }
}

/// The first 8 bytes of the index key a composite key starts with, big-endian, zero-padded:
/// if two differ, the composite keys compare the same way.
pub(super) fn abbreviation(composite: &[u8]) -> u64 {
    // The usual case, a word at a time: the first 8 bytes, cut at a terminator among them
    // (a zero byte not followed by 0xFF). A byte loop costs ~40 instructions a key.
    if let Some(head) = composite.first_chunk::<8>() {
        let word = u64::from_le_bytes(*head);
        // The lowest zero byte (the first in the key) is flagged exactly (only bytes
        // above a zero can be flagged spuriously).
        let zeros = word.wrapping_sub(0x0101_0101_0101_0101) & !word & 0x8080_8080_8080_8080;
        let big_endian = u64::from_be_bytes(*head);
        if zeros == 0 {
            return big_endian;
        }
        let z = (zeros.trailing_zeros() / 8) as usize;
        if composite.get(z + 1) != Some(&0xFF) {
            // The index key ends at byte `z`: the bytes from there on are padding.
            return big_endian & !(u64::MAX >> (8 * z));
        }
    }
    let mut w = [0u8; 8];
    let mut n = 0;
    let mut bytes = composite.iter();
    while n < 8 {
        match bytes.next() {
            Some(0) => match bytes.next() {
                Some(0xFF) => n += 1,
                _ => break,
            },
            Some(&b) => {
                w[n] = b;
                n += 1;
            }
            None => break,
        }
    }
    u64::from_be_bytes(w)
}

impl Entry {
    pub(super) fn new(rec: Record, composite: &[u8]) -> Entry {
        Entry {
            record: rec,
            key: ThinArc::from_header_and_slice(abbreviation(composite), composite),
        }
    }

    pub(crate) fn record(&self) -> &Record {
        &self.record
    }

    /// Points the entry at `rec` (a newer record of the same nut under the same index key)
    /// and returns the record it held. In place, always: the entry sits in a node that the
    /// write copied on its way down if a snapshot shared it, and the snapshot keeps its own
    /// slot (and record).
    pub(super) fn swap_record(&mut self, rec: Record) -> Record {
        std::mem::replace(&mut self.record, rec)
    }

    /// The key allocation of this entry (just taken out of its index), kept for
    /// [`Entry::reusing`]: `None` when a snapshot shares it. The record is let go.
    pub(super) fn vacate(self) -> Option<Spare> {
        self.key
            .with_arc(triomphe::Arc::is_unique)
            .then_some(Spare(self.key))
    }

    /// An entry for `rec` under `composite`, in `spare`'s key allocation when it is as
    /// long (a nut whose index key moved to another of the same size, as fixed-width keys
    /// do), otherwise in a new one.
    pub(super) fn reusing(spare: Option<Spare>, rec: Record, composite: &[u8]) -> Entry {
        if let Some(Spare(mut key)) = spare {
            let reused = key.with_arc_mut(|arc| match triomphe::Arc::get_mut(arc) {
                Some(inner) if inner.slice().len() == composite.len() => {
                    *inner.header_mut() = abbreviation(composite);
                    inner.slice_mut().copy_from_slice(composite);
                    true
                }
                _ => false,
            });
            if reused {
                return Entry { record: rec, key };
            }
        }
        Entry::new(rec, composite)
    }
}

impl Keyed for Entry {
    fn key(&self) -> &[u8] {
        &self.key.slice
    }

    const ABBREVIATED: bool = true;

    fn abbr(&self) -> u64 {
        self.key.header.header
    }

    fn abbreviate_key(key: &[u8]) -> u64 {
        abbreviation(key)
    }
}

impl std::fmt::Debug for Entry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Entry")
            .field("record", self.record())
            .finish()
    }
}
