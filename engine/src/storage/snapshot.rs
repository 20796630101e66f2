//! Snapshots: the live state written as frames to `snapshot.tmp`, fsynced, renamed over
//! `snapshot.acorn`, and the directory fsynced, so a crash leaves the old or the new one.
//! The head frame records the last version the snapshot holds and the first version of the
//! log segment that must follow it: recovery proves the chain from there.

use std::ops::Bound;
use std::path::Path;

use super::compress;
use super::frame::{
    self, HeadError, Next, Reader, FORMAT, FORMAT_FLAGS, OLDEST_FORMAT, TAG_SNAP_END,
    TAG_SNAP_HEAD, TAG_SNAP_RECORDS,
};
use super::io::Io;
use super::{io_at, Damage, Unreadable};
use crate::index::Index;
use crate::limits::MAX_VERSION;
use crate::record::Record;
use crate::{Error, Result};

pub(crate) const FILE: &str = "snapshot.acorn";
pub(crate) const TMP: &str = "snapshot.tmp";
const MAGIC: &[u8] = b"ACORN-SNAPSHOT";
/// The whole head magic of a format-1 snapshot (followed by its version), recognized only
/// to refuse it clearly.
const MAGIC_V1: &[u8] = b"ACORN-SNAPSHOT-1";
const CHUNK: usize = 256 << 10;
/// A records frame whose body (count and records) is compressed:
/// `[Q][raw length u32][LZ4 block]` (format 4 only, see `storage::compress`).
const TAG_SNAP_RECORDS_LZ4: u8 = b'Q';

/// Writes every record of `index` as the state at version `last`. Expired records are kept:
/// compaction changes no logical state, and only `purge_expired` removes them (with events).
/// On a failure before the rename, `snapshot.tmp` is removed again. After a failed
/// directory fsync the new snapshot may be in place, but it is not known to be durable: the
/// caller keeps the log it covers either way. With [`compress::FLAG_LZ4`] in `flags` (format
/// 4), each records frame is compressed when that makes it smaller. Returns the bytes of
/// records frames compressed and what they were written as.
pub(crate) fn write(
    io: &dyn Io,
    dir: &Path,
    index: &Index<Record>,
    last: u64,
    flags: u32,
) -> Result<(u64, u64)> {
    let tmp = dir.join(TMP);
    let before_rename = |error: Error| {
        // Best effort: a leftover is removed at the next compaction or open anyway.
        let _ = io.remove(&tmp);
        error
    };
    let file = io.create(&tmp).map_err(|e| io_at(&tmp, e))?;
    let mut buf = Vec::with_capacity(CHUNK + 4096);
    let start = frame::begin(&mut buf);
    buf.push(TAG_SNAP_HEAD);
    buf.extend_from_slice(MAGIC);
    let format = if flags == 0 { FORMAT } else { FORMAT_FLAGS };
    buf.extend_from_slice(&format.to_le_bytes());
    buf.extend_from_slice(&last.to_le_bytes());
    buf.extend_from_slice(&(last + 1).to_le_bytes());
    if flags != 0 {
        buf.extend_from_slice(&flags.to_le_bytes());
    }
    frame::finish(&mut buf, start);
    let mut packer = Packer {
        on: flags & compress::FLAG_LZ4 != 0,
        scratch: Vec::new(),
        raw: 0,
        stored: 0,
    };

    let mut total: u64 = 0;
    // (frame start, record count) of the records frame being filled.
    let mut chunk: Option<(usize, u32)> = None;
    let mut cursor = index.cursor(Bound::Unbounded);
    while let Some(rec) = cursor.peek() {
        {
            let (_, count) = chunk.get_or_insert_with(|| {
                let start = frame::begin(&mut buf);
                buf.push(TAG_SNAP_RECORDS);
                buf.extend_from_slice(&0u32.to_le_bytes());
                (start, 0)
            });
            *count += 1;
            frame::put_bytes(&mut buf, rec.bytes());
            total += 1;
            if buf.len() >= CHUNK {
                packer.close(&mut buf, chunk.take());
                io.write(&file, &tmp, &buf)
                    .map_err(|e| before_rename(io_at(&tmp, e)))?;
                buf.clear();
            }
        }
        cursor.advance();
    }
    packer.close(&mut buf, chunk);
    let start = frame::begin(&mut buf);
    buf.push(TAG_SNAP_END);
    buf.extend_from_slice(&total.to_le_bytes());
    frame::finish(&mut buf, start);
    io.write(&file, &tmp, &buf)
        .map_err(|e| before_rename(io_at(&tmp, e)))?;
    io.sync(&file, &tmp)
        .map_err(|e| before_rename(io_at(&tmp, e)))?;
    drop(file);
    let target = dir.join(FILE);
    io.rename(&tmp, &target)
        .map_err(|e| before_rename(io_at(&target, e)))?;
    io.sync_dir(dir).map_err(|e| io_at(dir, e))?;
    Ok((packer.raw, packer.stored))
}

/// The version of the snapshot in `dir` (0 when there is none), from its head frame alone.
pub(crate) fn version_in(dir: &Path) -> Result<u64> {
    use std::io::Read;
    let path = dir.join(FILE);
    let file = match std::fs::File::open(&path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(0),
        Err(e) => return Err(io_at(&path, e)),
    };
    // The head frame: header, tag, magic, format, last version, next segment (and in
    // format 4 the flags: other frames always follow, so reading them too is harmless).
    let head_len = frame::FRAME_HEADER + 1 + MAGIC.len() + 4 + 8 + 8 + 4;
    let mut head = Vec::with_capacity(head_len);
    file.take(head_len as u64)
        .read_to_end(&mut head)
        .map_err(|e| io_at(&path, e))?;
    let damaged = |reason: String| Error::Corrupt {
        path: path.clone(),
        offset: 0,
        reason,
    };
    let payload = match frame::next(&head, 0) {
        Next::Frame(p, _) => p,
        Next::Bad(why) => return Err(damaged(why.to_string())),
        Next::End | Next::Incomplete => return Err(damaged("no whole head frame".into())),
    };
    let mut r = Reader::new(payload);
    let head = (|| -> std::result::Result<_, frame::FrameError> {
        let tag = r.u8()?;
        let magic = r.take(MAGIC.len())?;
        r.u32()?;
        Ok((tag == TAG_SNAP_HEAD && magic == MAGIC, r.u64()?))
    })();
    match head {
        Ok((true, last)) => Ok(last),
        _ => Err(damaged("not an acorn snapshot head".into())),
    }
}

/// Closes records frames, compressing them when asked.
struct Packer {
    on: bool,
    #[cfg_attr(not(feature = "compression"), allow(dead_code))]
    scratch: Vec<u8>,
    raw: u64,
    stored: u64,
}

impl Packer {
    /// Patches the record count into an open records frame, compresses its body when on
    /// and that makes it smaller, and seals it.
    fn close(&mut self, buf: &mut Vec<u8>, chunk: Option<(usize, u32)>) {
        let Some((start, count)) = chunk else { return };
        let at = start + frame::FRAME_HEADER + 1;
        buf[at..at + 4].copy_from_slice(&count.to_le_bytes());
        if self.on {
            self.shrink(buf, at);
        }
        frame::finish(buf, start);
    }

    #[cfg(feature = "compression")]
    fn shrink(&mut self, buf: &mut Vec<u8>, body: usize) {
        let raw = buf.len() - body;
        if compress::shrink(buf, body, &mut self.scratch) {
            buf[body - 1] = TAG_SNAP_RECORDS_LZ4;
            self.raw += raw as u64;
            self.stored += (buf.len() - body) as u64;
        }
    }

    #[cfg(not(feature = "compression"))]
    fn shrink(&mut self, _: &mut Vec<u8>, _: usize) {}
}

/// What a snapshot file held.
#[derive(Debug, Default)]
pub(crate) struct Loaded {
    /// The last version the snapshot covers, once its head frame was read.
    pub(crate) last: Option<u64>,
    pub(crate) records: Vec<Record>,
    /// Records the end frame declares (salvage reports how many it could not read).
    pub(crate) declared: Option<u64>,
    /// Bytes of damaged frames skipped, and of what could not be read after damage.
    pub(crate) dropped_bytes: u64,
    /// The on-disk format its header declares (0 before the header was read).
    pub(crate) format: u32,
}

/// Parses snapshot bytes. Any damage (a snapshot is only ever renamed into place whole) is
/// reported with its offset; `salvage` keeps the records before it instead.
pub(crate) fn parse(
    data: &[u8],
    salvage: bool,
) -> std::result::Result<(Loaded, Option<Damage>), Unreadable> {
    let mut loaded = Loaded::default();
    match parse_into(data, &mut loaded) {
        Ok(()) => Ok((loaded, None)),
        Err(Unreadable::Damage(d)) if salvage => Ok((loaded, Some(d))),
        Err(u) => Err(u),
    }
}

type Parsed = std::result::Result<(), Unreadable>;

/// Damage at `offset` of the snapshot.
fn damage(offset: usize, reason: String) -> Unreadable {
    Unreadable::Damage(Damage {
        offset: offset as u64,
        reason,
    })
}

/// Reads the frames of `data` into `loaded` in order, then checks the end frame's count
/// against the records read. After the head, a damaged frame whose own header is intact
/// (so its length is known: a payload that fails its checksum, does not decompress or
/// does not parse) is skipped and the frames after it read on, so salvage keeps every
/// readable chunk and learns the declared count; the first damage is still the result.
/// Damage that hides where the next frame starts (a damaged frame header, a cut) ends the
/// reading there. `loaded.dropped_bytes` counts the bytes not read either way.
fn parse_into(data: &[u8], loaded: &mut Loaded) -> Parsed {
    let mut at = 0;
    let mut first: Option<Unreadable> = None;
    loop {
        let skippable = loaded.last.is_some() && loaded.declared.is_none();
        let (payload, next) = match frame::next(data, at) {
            Next::Frame(p, n) => (p, n),
            Next::End if at == 0 => return Err(damage(at, "empty snapshot".into())),
            Next::End => break,
            Next::Incomplete => {
                loaded.dropped_bytes += (data.len() - at) as u64;
                return Err(first.unwrap_or(damage(at, "snapshot ends inside a frame".into())));
            }
            Next::Bad(why @ frame::FrameError::PayloadChecksum) if skippable => {
                let next = at + frame::FRAME_HEADER + frame::payload_len(data, at);
                loaded.dropped_bytes += (next - at) as u64;
                first.get_or_insert(damage(at, why.to_string()));
                at = next;
                continue;
            }
            Next::Bad(why) => {
                loaded.dropped_bytes += (data.len() - at) as u64;
                return Err(first.unwrap_or(damage(at, why.to_string())));
            }
        };
        let records = loaded.records.len();
        match parse_frame(payload, at, loaded) {
            Ok(()) => {}
            Err(Unreadable::Damage(d)) if skippable => {
                // Whatever the frame gave before its damage is not kept.
                loaded.records.truncate(records);
                loaded.declared = None;
                loaded.dropped_bytes += (next - at) as u64;
                first.get_or_insert(damage(at, d.reason));
            }
            Err(Unreadable::Damage(d)) => {
                loaded.dropped_bytes += (data.len() - at) as u64;
                return Err(first.unwrap_or(damage(at, d.reason)));
            }
            Err(format) => return Err(format),
        }
        at = next;
    }
    if let Some(d) = first {
        return Err(d);
    }
    match loaded.declared {
        Some(t) if t == loaded.records.len() as u64 => Ok(()),
        Some(t) => Err(damage(
            at,
            format!(
                "snapshot declares {t} records but holds {}",
                loaded.records.len()
            ),
        )),
        None => Err(damage(at, "snapshot has no end frame".into())),
    }
}

/// One frame at `at`: the head (first), then records frames, then the end frame.
fn parse_frame(payload: &[u8], at: usize, loaded: &mut Loaded) -> Parsed {
    let mut r = Reader::new(payload);
    match r.u8()? {
        TAG_SNAP_HEAD if at == 0 => parse_head(&mut r, payload, loaded)?,
        tag @ (TAG_SNAP_RECORDS | TAG_SNAP_RECORDS_LZ4)
            if loaded.last.is_some() && loaded.declared.is_none() =>
        {
            parse_records(tag, &mut r, payload, loaded)?
        }
        TAG_SNAP_END if loaded.last.is_some() && loaded.declared.is_none() => {
            loaded.declared = Some(r.u64()?);
        }
        t => return Err(format!("unexpected snapshot frame tag {t}").into()),
    }
    r.done()?;
    Ok(())
}

/// The head frame (after its tag): magic, format, last version, the segment that follows
/// it, and the flags this build must read.
fn parse_head(r: &mut Reader<'_>, payload: &[u8], loaded: &mut Loaded) -> Parsed {
    if payload[1..].starts_with(MAGIC_V1) {
        return Err(Unreadable::Format(1));
    }
    if r.take(MAGIC.len())? != MAGIC {
        return Err("not an acorn snapshot (bad magic)".to_string().into());
    }
    let format = r.u32()?;
    if !(OLDEST_FORMAT..=FORMAT_FLAGS).contains(&format) {
        return Err(Unreadable::Format(format));
    }
    loaded.format = format;
    let last = r.u64()?;
    let next = r.u64()?;
    match frame::head_flags(r, format) {
        Ok(_) => {}
        Err(HeadError::Flags(f)) => return Err(Unreadable::Flags(f)),
        Err(HeadError::Format(f)) => return Err(Unreadable::Format(f)),
        Err(HeadError::Bad(why)) => return Err(why.into()),
    }
    if last > MAX_VERSION {
        return Err(
            format!("snapshot version {last} is impossible (the last is {MAX_VERSION})").into(),
        );
    }
    if next != last + 1 {
        return Err(format!(
            "snapshot of version {last} names segment {next} to follow, not {}",
            last + 1
        )
        .into());
    }
    loaded.last = Some(last);
    Ok(())
}

/// A records frame (after its tag), expanded first when compressed: its count, then each
/// record, none newer than the snapshot's version.
fn parse_records(tag: u8, r: &mut Reader<'_>, payload: &[u8], loaded: &mut Loaded) -> Parsed {
    let last = loaded.last.unwrap_or_default();
    let plain;
    // The frame after its tag, as it is or expanded.
    let mut body = Reader::new(r.take(payload.len() - 1)?);
    if tag == TAG_SNAP_RECORDS_LZ4 {
        if loaded.format < FORMAT_FLAGS {
            return Err("a compressed records frame in a snapshot without the flag"
                .to_string()
                .into());
        }
        let mut out = Vec::new();
        compress::expand(&payload[1..], frame::MAX_FRAME, &mut out)
            .map_err(|why| frame::FrameError::Decompress(why).to_string())?;
        plain = out;
        body = Reader::new(&plain);
    }
    let count = body.u32()?;
    for _ in 0..count {
        let rec = frame::record(body.bytes()?)?;
        if rec.version() > last {
            return Err(format!(
                "record of version {} in a snapshot of version {last}",
                rec.version()
            )
            .into());
        }
        loaded.records.push(rec);
    }
    body.done()?;
    Ok(())
}
