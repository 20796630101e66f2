//! Length-prefixed, CRC32-checked frames, shared by the log and snapshots.
//!
//! ```text
//! [payload_len u32][payload_crc u32][header_crc u32 = crc32(first 8 bytes)][payload]
//! ```
//! The header has its own checksum so a flipped bit in a length is caught as corruption
//! instead of looking like a frame that runs past the end of the file (a torn tail).
//!
//! Every log segment starts with a header frame (`W`, magic, format, first version) and,
//! once a newer segment follows it, ends with a seal (`T`, its last version, the first
//! version of the segment after it); a snapshot starts with its own header (`H`, magic,
//! format, last version, next segment). Format 4 is format 3 with a flags word at the end
//! of those heads, written only by a tree that compresses (`storage::compress`); a commit
//! frame is then `C` as it is, or `Z` (its version, then the compressed rest).

use crate::index::Keyed;
use crate::limits::{MAX_BATCH_BYTES, MAX_KEY_LEN, MAX_VERSION};
use crate::record::{Change, Record};

use super::compress::{self, READ_FLAGS};
use super::{Damage, Unreadable};

pub(crate) const FRAME_HEADER: usize = 12;
/// Largest payload a writer produces and a reader accepts: the log refuses a commit that
/// would encode larger (`Error::TooLarge`), so a longer length is damage, never a torn tail.
pub(crate) const MAX_FRAME: usize = MAX_BATCH_BYTES * 2;

/// The on-disk format this build writes. Format 3 seals every segment but the newest with
/// the name of its successor. Format 2 (no seals) is still read, and rewritten in format 3
/// at once; format 1 (no segment headers, no chain fields in the snapshot) is recognized
/// only to be refused with a clear error.
pub(crate) const FORMAT: u32 = 3;
/// Format 3 with a flags word in the heads (see `storage::compress`): written by a tree
/// that compresses, and the newest format this build reads.
pub(crate) const FORMAT_FLAGS: u32 = 4;
/// The oldest on-disk format this build reads.
pub(crate) const OLDEST_FORMAT: u32 = 2;
const TAG_SEGMENT: u8 = b'W';
const TAG_SEAL: u8 = b'T';
const SEGMENT_MAGIC: &[u8] = b"ACORN-SEGMENT";

const TAG_COMMIT: u8 = b'C';
/// A commit whose changes are compressed: `[Z][version u64][raw length u32][LZ4 block]`.
const TAG_COMMIT_LZ4: u8 = b'Z';
pub(crate) const TAG_SNAP_HEAD: u8 = b'H';
pub(crate) const TAG_SNAP_RECORDS: u8 = b'R';
pub(crate) const TAG_SNAP_END: u8 = b'E';
const PUT: u8 = 1;
const DELETE: u8 = 2;

/// Appends one frame around `payload` (which the caller built in place after
/// [`begin`]).
pub(crate) fn begin(buf: &mut Vec<u8>) -> usize {
    let start = buf.len();
    buf.extend_from_slice(&[0u8; FRAME_HEADER]);
    start
}

/// Fills in the header of the frame started at `start`.
pub(crate) fn finish(buf: &mut [u8], start: usize) {
    let payload = &buf[start + FRAME_HEADER..];
    let len = u32::try_from(payload.len()).unwrap_or(u32::MAX);
    let crc = crc32fast::hash(payload);
    buf[start..start + 4].copy_from_slice(&len.to_le_bytes());
    buf[start + 4..start + 8].copy_from_slice(&crc.to_le_bytes());
    let hcrc = crc32fast::hash(&buf[start..start + 8]);
    buf[start + 8..start + 12].copy_from_slice(&hcrc.to_le_bytes());
}

/// Why bytes read from a data file are not a valid frame, or not the payload they claim to
/// be. Its text becomes the `reason` of [`crate::Error::Corrupt`].
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub(crate) enum FrameError {
    #[error("frame header checksum mismatch")]
    HeaderChecksum,
    #[error("frame length {0} over the maximum {MAX_FRAME}")]
    TooLong(usize),
    #[error("frame payload checksum mismatch")]
    PayloadChecksum,
    #[error("payload ends early (need {need} bytes at {at})")]
    Short { need: usize, at: usize },
    #[error("{0} unexpected bytes after the payload")]
    Trailing(usize),
    #[error("not a segment header (frame tag {0})")]
    NotSegmentHead(u8),
    #[error("not an acorn log segment (bad magic)")]
    SegmentMagic,
    #[error("segment header names version 0 (versions start at 1)")]
    SegmentVersionZero,
    #[error("not a commit frame")]
    NotCommit,
    #[error("commit version {0} is impossible (versions run from 1 to {MAX_VERSION})")]
    ImpossibleVersion(u64),
    #[error("change count {0} does not fit the frame")]
    ChangeCount(usize),
    #[error("unknown change tag {0}")]
    ChangeTag(u8),
    #[error("record version {record} inside commit {commit}")]
    RecordVersion { record: u64, commit: u64 },
    #[error("record shorter than its header or key")]
    ShortRecord,
    #[error("record key is empty, too long or not UTF-8")]
    RecordKey,
    #[error("delete of an invalid key")]
    DeleteKey,
    #[error("not a seal")]
    NotSeal,
    #[error("seal names segment {next} to follow version {last}")]
    SealNext { last: u64, next: u64 },
    #[error("a compressed payload does not decode: {0}")]
    Decompress(String),
}

impl From<FrameError> for Unreadable {
    fn from(why: FrameError) -> Self {
        Unreadable::Damage(Damage {
            offset: 0,
            reason: why.to_string(),
        })
    }
}

/// What the reader found at an offset.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Next<'a> {
    /// A whole, valid frame and the offset after it.
    Frame(&'a [u8], usize),
    /// Clean end of data.
    End,
    /// The data stops inside this frame: what a crash mid-append leaves.
    Incomplete,
    /// The bytes here are not a valid frame.
    Bad(FrameError),
}

fn u32_at(b: &[u8], at: usize) -> u32 {
    let mut w = [0u8; 4];
    w.copy_from_slice(&b[at..at + 4]);
    u32::from_le_bytes(w)
}

/// The payload length the header at `at` states (trust it only once the header's checksum
/// passed, e.g. after [`next`] found the payload damaged).
pub(crate) fn payload_len(buf: &[u8], at: usize) -> usize {
    u32_at(buf, at) as usize
}

/// Reads the frame at `at`.
pub(crate) fn next(buf: &[u8], at: usize) -> Next<'_> {
    let rest = buf.len().saturating_sub(at);
    if rest == 0 {
        return Next::End;
    }
    if rest < FRAME_HEADER {
        return Next::Incomplete;
    }
    let h = &buf[at..at + FRAME_HEADER];
    if crc32fast::hash(&h[..8]) != u32_at(h, 8) {
        return Next::Bad(FrameError::HeaderChecksum);
    }
    let len = u32_at(h, 0) as usize;
    if len > MAX_FRAME {
        return Next::Bad(FrameError::TooLong(len));
    }
    if rest - FRAME_HEADER < len {
        return Next::Incomplete;
    }
    let payload = &buf[at + FRAME_HEADER..at + FRAME_HEADER + len];
    if crc32fast::hash(payload) != u32_at(h, 4) {
        return Next::Bad(FrameError::PayloadChecksum);
    }
    Next::Frame(payload, at + FRAME_HEADER + len)
}

/// Appends the header frame a segment starts with (format 3, or 4 with `flags` when there
/// are any).
pub(crate) fn encode_segment_head(buf: &mut Vec<u8>, first_version: u64, flags: u32) {
    let start = begin(buf);
    buf.push(TAG_SEGMENT);
    buf.extend_from_slice(SEGMENT_MAGIC);
    let format = if flags == 0 { FORMAT } else { FORMAT_FLAGS };
    buf.extend_from_slice(&format.to_le_bytes());
    buf.extend_from_slice(&first_version.to_le_bytes());
    if flags != 0 {
        buf.extend_from_slice(&flags.to_le_bytes());
    }
    finish(buf, start);
}

/// The flags word of a format-4 head (read at the end of it), refused when this build
/// cannot read what it announces.
pub(crate) fn head_flags(r: &mut Reader<'_>, format: u32) -> Result<u32, HeadError> {
    if format < FORMAT_FLAGS {
        return Ok(0);
    }
    let flags = r.u32()?;
    if flags & !READ_FLAGS != 0 {
        return Err(HeadError::Flags(flags));
    }
    Ok(flags)
}

/// Why a segment header could not be used.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum HeadError {
    /// Written in another on-disk format.
    Format(u32),
    /// Its flags announce what this build cannot read (compression without the feature).
    Flags(u32),
    Bad(FrameError),
}

impl From<FrameError> for HeadError {
    fn from(why: FrameError) -> Self {
        HeadError::Bad(why)
    }
}

/// Decodes a segment's header frame; returns its first version, its format and its
/// flags.
pub(crate) fn decode_segment_head(payload: &[u8]) -> Result<(u64, u32, u32), HeadError> {
    let mut r = Reader::new(payload);
    match r.u8()? {
        TAG_SEGMENT => {}
        // Format 1 segments have no header: they start with a commit.
        TAG_COMMIT => return Err(HeadError::Format(1)),
        t => return Err(FrameError::NotSegmentHead(t).into()),
    }
    if r.take(SEGMENT_MAGIC.len())? != SEGMENT_MAGIC {
        return Err(FrameError::SegmentMagic.into());
    }
    let format = r.u32()?;
    if !(OLDEST_FORMAT..=FORMAT_FLAGS).contains(&format) {
        return Err(HeadError::Format(format));
    }
    let first = r.u64()?;
    let flags = head_flags(&mut r, format)?;
    r.done()?;
    if first == 0 {
        return Err(FrameError::SegmentVersionZero.into());
    }
    Ok((first, format, flags))
}

/// Appends the seal that ends a segment: its last version (`first - 1` when it holds no
/// commit) and the first version of the segment that follows it, `last + 1`.
pub(crate) fn encode_seal(buf: &mut Vec<u8>, last: u64) {
    let start = begin(buf);
    buf.push(TAG_SEAL);
    buf.extend_from_slice(&last.to_le_bytes());
    buf.extend_from_slice(&last.saturating_add(1).to_le_bytes());
    finish(buf, start);
}

/// Whether a frame's payload is a seal.
pub(crate) fn is_seal(payload: &[u8]) -> bool {
    payload.first() == Some(&TAG_SEAL)
}

/// Decodes a seal; returns the segment's last version and the next segment's first.
pub(crate) fn decode_seal(payload: &[u8]) -> Result<(u64, u64), FrameError> {
    let mut r = Reader::new(payload);
    if r.u8()? != TAG_SEAL {
        return Err(FrameError::NotSeal);
    }
    let last = r.u64()?;
    let next = r.u64()?;
    r.done()?;
    if last > MAX_VERSION || next != last + 1 {
        return Err(FrameError::SealNext { last, next });
    }
    Ok((last, next))
}

/// Appends a commit frame for `changes` at `version`.
///
/// An expiry ([`Change::Expire`]) is written as two entries every reader of format 3
/// already understands: a put of the expiry mark (an empty value under the key that
/// expired at the first instant there is, `Record::encode_expiry_mark`), then the delete
/// of the key. Applied in order they delete the key, as the expiry does; [`decode_commit`]
/// reads the pair back as one expiry, so the change feed tells an expiry from a toss after
/// a reopen. No write of a nut produces the pair: a delete of an expired nut (the mark is
/// one) is always written as an expiry, with its own mark in front.
pub(crate) fn encode_commit(buf: &mut Vec<u8>, version: u64, changes: &[Change]) {
    let start = begin(buf);
    buf.push(TAG_COMMIT);
    buf.extend_from_slice(&version.to_le_bytes());
    let marks = changes
        .iter()
        .filter(|c| matches!(c, Change::Expire(_)))
        .count();
    buf.extend_from_slice(&((changes.len() + marks) as u32).to_le_bytes());
    for c in changes {
        match c {
            Change::Put(rec) => {
                buf.push(PUT);
                put_bytes(buf, rec.bytes());
            }
            Change::Delete(key) => {
                buf.push(DELETE);
                put_bytes(buf, key);
            }
            Change::Expire(key) => {
                buf.push(PUT);
                let at = buf.len();
                buf.extend_from_slice(&[0; 4]);
                Record::encode_expiry_mark(buf, key, version);
                let len = (buf.len() - at - 4) as u32;
                buf[at..at + 4].copy_from_slice(&len.to_le_bytes());
                buf.push(DELETE);
                put_bytes(buf, key);
            }
        }
    }
    finish(buf, start);
}

/// Compresses the commit frame that starts at `start` (the last in `buf`) when that makes
/// it smaller; returns `(raw, stored)` payload bytes when it did.
#[cfg(feature = "compression")]
pub(crate) fn compress_commit(
    buf: &mut Vec<u8>,
    start: usize,
    scratch: &mut Vec<u8>,
) -> Option<(usize, usize)> {
    let tag_at = start + FRAME_HEADER;
    let raw = buf.len() - tag_at;
    // After the tag and the version, which stay as they are.
    if !compress::shrink(buf, tag_at + 9, scratch) {
        return None;
    }
    buf[tag_at] = TAG_COMMIT_LZ4;
    finish(buf, start);
    Some((raw, buf.len() - tag_at))
}

pub(crate) fn put_bytes(buf: &mut Vec<u8>, b: &[u8]) {
    buf.extend_from_slice(&(b.len() as u32).to_le_bytes());
    buf.extend_from_slice(b);
}

/// A cursor over a payload that reports malformed content instead of panicking.
pub(crate) struct Reader<'a> {
    b: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    pub(crate) fn new(b: &'a [u8]) -> Self {
        Self { b, at: 0 }
    }

    pub(crate) fn take(&mut self, n: usize) -> Result<&'a [u8], FrameError> {
        let end = self.at.checked_add(n).filter(|e| *e <= self.b.len());
        let end = end.ok_or(FrameError::Short {
            need: n,
            at: self.at,
        })?;
        let s = &self.b[self.at..end];
        self.at = end;
        Ok(s)
    }

    pub(crate) fn u8(&mut self) -> Result<u8, FrameError> {
        Ok(self.take(1)?[0])
    }

    pub(crate) fn u32(&mut self) -> Result<u32, FrameError> {
        Ok(u32_at(self.take(4)?, 0))
    }

    pub(crate) fn u64(&mut self) -> Result<u64, FrameError> {
        let mut w = [0u8; 8];
        w.copy_from_slice(self.take(8)?);
        Ok(u64::from_le_bytes(w))
    }

    pub(crate) fn bytes(&mut self) -> Result<&'a [u8], FrameError> {
        let n = self.u32()? as usize;
        self.take(n)
    }

    pub(crate) fn done(&self) -> Result<(), FrameError> {
        if self.at == self.b.len() {
            Ok(())
        } else {
            Err(FrameError::Trailing(self.b.len() - self.at))
        }
    }
}

/// Checks stored record bytes and wraps them.
pub(crate) fn record(bytes: &[u8]) -> Result<Record, FrameError> {
    let rec = Record::from_bytes(bytes).ok_or(FrameError::ShortRecord)?;
    if rec.key().is_empty()
        || rec.key().len() > MAX_KEY_LEN
        || std::str::from_utf8(rec.key()).is_err()
    {
        return Err(FrameError::RecordKey);
    }
    Ok(rec)
}

/// The version of a commit frame, read without decoding it (`None`: not a commit).
pub(crate) fn commit_version(payload: &[u8]) -> Option<u64> {
    let mut r = Reader::new(payload);
    if !matches!(r.u8().ok()?, TAG_COMMIT | TAG_COMMIT_LZ4) {
        return None;
    }
    r.u64().ok()
}

/// Decodes a commit frame's payload (compressed or not) into its version and changes.
pub(crate) fn decode_commit(payload: &[u8]) -> Result<(u64, Vec<Change>), FrameError> {
    if payload.first() == Some(&TAG_COMMIT_LZ4) && payload.len() >= 9 {
        let mut plain = Vec::with_capacity(payload.len() * 3);
        plain.push(TAG_COMMIT);
        plain.extend_from_slice(&payload[1..9]);
        compress::expand(&payload[9..], MAX_FRAME, &mut plain).map_err(FrameError::Decompress)?;
        return decode_plain_commit(&plain);
    }
    decode_plain_commit(payload)
}

fn decode_plain_commit(payload: &[u8]) -> Result<(u64, Vec<Change>), FrameError> {
    let mut r = Reader::new(payload);
    if r.u8()? != TAG_COMMIT {
        return Err(FrameError::NotCommit);
    }
    let version = r.u64()?;
    if version == 0 || version > MAX_VERSION {
        return Err(FrameError::ImpossibleVersion(version));
    }
    let count = r.u32()? as usize;
    // Each change takes at least 5 bytes; reject counts the payload cannot hold.
    if count > payload.len() / 5 {
        return Err(FrameError::ChangeCount(count));
    }
    let mut changes = Vec::with_capacity(count);
    let mut left = count;
    while left > 0 {
        left -= 1;
        match r.u8()? {
            PUT => {
                let rec = record(r.bytes()?)?;
                if rec.version() != version {
                    return Err(FrameError::RecordVersion {
                        record: rec.version(),
                        commit: version,
                    });
                }
                // An expiry mark followed by the delete of its key is one expiry (see
                // `encode_commit`).
                if rec.is_expiry_mark() && left > 0 {
                    let mark = r.at;
                    if r.u8()? == DELETE {
                        let key = delete_key(r.bytes()?)?;
                        if key == rec.key() {
                            left -= 1;
                            changes.push(Change::Expire(key.into()));
                            continue;
                        }
                    }
                    r.at = mark;
                }
                changes.push(Change::Put(rec));
            }
            DELETE => changes.push(Change::Delete(delete_key(r.bytes()?)?.into())),
            t => return Err(FrameError::ChangeTag(t)),
        }
    }
    r.done()?;
    Ok((version, changes))
}

/// The key of a delete, checked.
fn delete_key(key: &[u8]) -> Result<&[u8], FrameError> {
    if key.is_empty() || key.len() > MAX_KEY_LEN || std::str::from_utf8(key).is_err() {
        return Err(FrameError::DeleteKey);
    }
    Ok(key)
}

#[cfg(test)]
mod tests;
