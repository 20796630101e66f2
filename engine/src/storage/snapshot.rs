//! Snapshots: the live state written as frames to `snapshot.tmp`, fsynced, renamed over
//! `snapshot.acorn`, and the directory fsynced, so a crash leaves the old or the new one.

use std::fs::{self, File};
use std::io::{BufWriter, Write};
use std::ops::Bound;
use std::path::Path;

use super::frame::{self, Next, Reader, TAG_SNAP_END, TAG_SNAP_HEAD, TAG_SNAP_RECORDS};
use super::{io_at, sync_dir, Damage};
use crate::index::Index;
use crate::record::Record;
use crate::Result;

pub(crate) const FILE: &str = "snapshot.acorn";
pub(crate) const TMP: &str = "snapshot.tmp";
const MAGIC: &[u8] = b"ACORN-SNAPSHOT-1";
const CHUNK: usize = 256 << 10;

/// Writes every record of `index` as the state at version `seq`. Expired records are kept:
/// compaction changes no logical state, and only `purge_expired` removes them (with events).
pub(crate) fn write(dir: &Path, index: &Index<Record>, seq: u64) -> Result<()> {
    let tmp = dir.join(TMP);
    let file = File::create(&tmp).map_err(|e| io_at(&tmp, e))?;
    let mut out = BufWriter::with_capacity(1 << 20, file);
    let mut buf = Vec::with_capacity(CHUNK + 4096);
    let start = frame::begin(&mut buf);
    buf.push(TAG_SNAP_HEAD);
    buf.extend_from_slice(MAGIC);
    buf.extend_from_slice(&seq.to_le_bytes());
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
                out.write_all(&buf).map_err(|e| io_at(&tmp, e))?;
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
    out.write_all(&buf).map_err(|e| io_at(&tmp, e))?;
    let file = out.into_inner().map_err(|e| io_at(&tmp, e.into_error()))?;
    file.sync_all().map_err(|e| io_at(&tmp, e))?;
    drop(file);
    let target = dir.join(FILE);
    fs::rename(&tmp, &target).map_err(|e| io_at(&target, e))?;
    sync_dir(dir)
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
    pub(crate) seq: u64,
    pub(crate) records: Vec<Record>,
}

/// Reads `path`. Any damage (a snapshot is only ever renamed into place whole) is
/// reported with its offset; `salvage` keeps the records before it instead.
pub(crate) fn read(path: &Path, salvage: bool) -> Result<(Loaded, Option<Damage>)> {
    let data = fs::read(path).map_err(|e| io_at(path, e))?;
    match parse(&data, salvage) {
        Ok(found) => Ok(found),
        Err(d) => Err(d.into_error(path)),
    }
}

/// Parses snapshot bytes; see [`read`].
pub(crate) fn parse(
    data: &[u8],
    salvage: bool,
) -> std::result::Result<(Loaded, Option<Damage>), Damage> {
    let mut loaded = Loaded::default();
    let mut at = 0;
    let mut expected_total = None;
    let damage = |offset: usize, reason: String| Damage {
        offset: offset as u64,
        reason,
    };
    let result: std::result::Result<(), Damage> = (|| {
        loop {
            let (payload, next) = match frame::next(data, at) {
                Next::Frame(p, n) => (p, n),
                Next::End => break,
                Next::Incomplete => return Err(damage(at, "snapshot ends inside a frame".into())),
                Next::Bad(why) => return Err(damage(at, why)),
            };
            let mut r = Reader::new(payload);
            let parsed: std::result::Result<(), String> = (|| {
                match r.u8()? {
                    TAG_SNAP_HEAD if at == 0 => {
                        if r.take(MAGIC.len())? != MAGIC {
                            return Err("not an acorn snapshot (bad magic)".into());
                        }
                        loaded.seq = r.u64()?;
                    }
                    TAG_SNAP_RECORDS if at > 0 && expected_total.is_none() => {
                        let count = r.u32()?;
                        for _ in 0..count {
                            loaded.records.push(frame::record(r.bytes()?)?);
                        }
                    }
                    TAG_SNAP_END if at > 0 => expected_total = Some(r.u64()?),
                    t => return Err(format!("unexpected snapshot frame tag {t}")),
                }
                r.done()
            })();
            parsed.map_err(|why| damage(at, why))?;
            at = next;
        }
        match expected_total {
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
        Err(d) if salvage => Ok((loaded, Some(d))),
        Err(d) => Err(d),
    }
}
