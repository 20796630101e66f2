//! Snapshots: the live state written as frames to `snapshot.tmp`, fsynced, renamed over
//! `snapshot.acorn`, and the directory fsynced, so a crash leaves the old or the new one.
//! The head frame records the last version the snapshot holds and the first version of the
//! log segment that must follow it: recovery proves the chain from there.

use std::ops::Bound;
use std::path::Path;

use super::frame::{
    self, Next, Reader, FORMAT, OLDEST_FORMAT, TAG_SNAP_END, TAG_SNAP_HEAD, TAG_SNAP_RECORDS,
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

/// Writes every record of `index` as the state at version `last`. Expired records are kept:
/// compaction changes no logical state, and only `purge_expired` removes them (with events).
/// On a failure before the rename, `snapshot.tmp` is removed again. After a failed
/// directory fsync the new snapshot may be in place, but it is not known to be durable: the
/// caller keeps the log it covers either way.
pub(crate) fn write(io: &dyn Io, dir: &Path, index: &Index<Record>, last: u64) -> Result<()> {
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
    buf.extend_from_slice(&FORMAT.to_le_bytes());
    buf.extend_from_slice(&last.to_le_bytes());
    buf.extend_from_slice(&(last + 1).to_le_bytes());
    frame::finish(&mut buf, start);

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
                close_chunk(&mut buf, chunk.take());
                io.write(&file, &tmp, &buf)
                    .map_err(|e| before_rename(io_at(&tmp, e)))?;
                buf.clear();
            }
        }
        cursor.advance();
    }
    close_chunk(&mut buf, chunk);
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
    io.sync_dir(dir).map_err(|e| io_at(dir, e))
}

/// Patches the record count into an open records frame and seals it.
fn close_chunk(buf: &mut [u8], chunk: Option<(usize, u32)>) {
    if let Some((start, count)) = chunk {
        let at = start + frame::FRAME_HEADER + 1;
        buf[at..at + 4].copy_from_slice(&count.to_le_bytes());
        frame::finish(buf, start);
    }
}

/// What a snapshot file held.
#[derive(Debug, Default)]
pub(crate) struct Loaded {
    /// The last version the snapshot covers, once its head frame was read.
    pub(crate) last: Option<u64>,
    pub(crate) records: Vec<Record>,
    /// Records the end frame declares (salvage reports how many it could not read).
    pub(crate) declared: Option<u64>,
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
    let mut at = 0;
    let damage = |offset: usize, reason: String| {
        Unreadable::Damage(Damage {
            offset: offset as u64,
            reason,
        })
    };
    let result: std::result::Result<(), Unreadable> = (|| {
        loop {
            let (payload, next) = match frame::next(data, at) {
                Next::Frame(p, n) => (p, n),
                Next::End if at == 0 => return Err(damage(at, "empty snapshot".into())),
                Next::End => break,
                Next::Incomplete => return Err(damage(at, "snapshot ends inside a frame".into())),
                Next::Bad(why) => return Err(damage(at, why.to_string())),
            };
            let mut r = Reader::new(payload);
            let parsed: std::result::Result<(), Unreadable> = (|| {
                match r.u8()? {
                    TAG_SNAP_HEAD if at == 0 => {
                        if payload[1..].starts_with(MAGIC_V1) {
                            return Err(Unreadable::Format(1));
                        }
                        if r.take(MAGIC.len())? != MAGIC {
                            return Err("not an acorn snapshot (bad magic)".to_string().into());
                        }
                        let format = r.u32()?;
                        if !(OLDEST_FORMAT..=FORMAT).contains(&format) {
                            return Err(Unreadable::Format(format));
                        }
                        loaded.format = format;
                        let last = r.u64()?;
                        let next = r.u64()?;
                        if last > MAX_VERSION {
                            return Err(format!(
                                "snapshot version {last} is impossible (the last is {MAX_VERSION})"
                            )
                            .into());
                        }
                        if next != last + 1 {
                            return Err(format!(
                                "snapshot of version {last} names segment {next} to follow, not {}",
                                last + 1
                            )
                            .into());
                        }
                        loaded.last = Some(last);
                    }
                    TAG_SNAP_RECORDS if loaded.last.is_some() && loaded.declared.is_none() => {
                        let last = loaded.last.unwrap_or_default();
                        let count = r.u32()?;
                        for _ in 0..count {
                            let rec = frame::record(r.bytes()?)?;
                            if rec.version() > last {
                                return Err(format!(
                                    "record of version {} in a snapshot of version {last}",
                                    rec.version()
                                )
                                .into());
                            }
                            loaded.records.push(rec);
                        }
                    }
                    TAG_SNAP_END if loaded.last.is_some() && loaded.declared.is_none() => {
                        loaded.declared = Some(r.u64()?);
                    }
                    t => return Err(format!("unexpected snapshot frame tag {t}").into()),
                }
                r.done()?;
                Ok(())
            })();
            parsed.map_err(|u| match u {
                Unreadable::Damage(d) => damage(at, d.reason),
                format => format,
            })?;
            at = next;
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
    })();
    match result {
        Ok(()) => Ok((loaded, None)),
        Err(Unreadable::Damage(d)) if salvage => Ok((loaded, Some(d))),
        Err(u) => Err(u),
    }
}
