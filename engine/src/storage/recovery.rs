//! Opening a directory: snapshot, then every log frame after it. A torn final frame (a crash
//! mid-append) is cut off and counted; damage anywhere else is `Error::Corrupt`, or, with
//! `RecoveryMode::Salvage`, the point where the kept history ends.

use std::fs::{self, OpenOptions};
use std::path::{Path, PathBuf};

use super::frame::{self, Next};
use super::snapshot::{self, Loaded};
use super::wal::{parse_segment, segment_name};
use super::{io_at, sync_dir, Damage, RecoveryMode};
use crate::record::Change;
use crate::Result;

#[derive(Debug, Default)]
pub(crate) struct Replay {
    pub(crate) snapshot: Loaded,
    /// Commits after the snapshot, in order.
    pub(crate) frames: Vec<(u64, Vec<Change>)>,
    /// Bytes of an incomplete final frame that were cut off.
    pub(crate) torn_bytes: u64,
    /// Bytes dropped by `RecoveryMode::Salvage` at damage.
    pub(crate) salvaged_bytes: u64,
    /// The segment new commits go to, and the bytes of log the next snapshot covers.
    pub(crate) active: PathBuf,
    pub(crate) log_bytes: u64,
}

impl Replay {
    pub(crate) fn seq(&self) -> u64 {
        self.frames.last().map_or(self.snapshot.seq, |(v, _)| *v)
    }
}

fn segments(dir: &Path) -> Result<Vec<(u64, PathBuf)>> {
    let mut out = Vec::new();
    for entry in fs::read_dir(dir).map_err(|e| io_at(dir, e))? {
        let entry = entry.map_err(|e| io_at(dir, e))?;
        if let Some(start) = entry.file_name().to_str().and_then(parse_segment) {
            out.push((start, entry.path()));
        }
    }
    out.sort();
    Ok(out)
}

fn truncate(path: &Path, len: usize) -> Result<()> {
    let f = OpenOptions::new()
        .write(true)
        .open(path)
        .map_err(|e| io_at(path, e))?;
    f.set_len(len as u64).map_err(|e| io_at(path, e))?;
    f.sync_all().map_err(|e| io_at(path, e))
}

/// Where and why reading a segment stopped early.
pub(crate) enum Stop {
    /// An incomplete final frame: expected after a crash.
    Torn(usize),
    Damaged(Damage),
}

/// Scans one segment, appending its commits after `seen` to `frames`.
pub(crate) fn scan(
    data: &[u8],
    is_last: bool,
    snapshot_seq: u64,
    seen: &mut u64,
    frames: &mut Vec<(u64, Vec<Change>)>,
) -> Option<Stop> {
    let mut at = 0;
    loop {
        let bad = |reason: String| {
            Some(Stop::Damaged(Damage {
                offset: at as u64,
                reason,
            }))
        };
        match frame::next(data, at) {
            Next::End => return None,
            Next::Frame(payload, next) => match frame::decode_commit(payload) {
                Ok((version, _)) if version <= *seen => {
                    return bad(format!(
                        "commit version {version} does not follow {}",
                        *seen
                    ));
                }
                Ok((version, changes)) => {
                    *seen = version;
                    if version > snapshot_seq {
                        frames.push((version, changes));
                    }
                    at = next;
                }
                Err(why) => return bad(why),
            },
            Next::Incomplete if is_last => return Some(Stop::Torn(at)),
            // A final frame whose bytes never all reached the disk: the file was extended
            // (so the header or the payload reads as zeros or stale data) but not filled.
            Next::Bad(_) if is_last && frame::reaches_end(data, at) => return Some(Stop::Torn(at)),
            Next::Incomplete => {
                return bad("segment ends inside a frame, but later segments exist".into())
            }
            Next::Bad(why) => return bad(why),
        }
    }
}

pub(crate) fn recover(dir: &Path, mode: RecoveryMode) -> Result<Replay> {
    let salvage = mode == RecoveryMode::Salvage;
    let tmp = dir.join(snapshot::TMP);
    if tmp.exists() {
        // A compaction that crashed before its rename: the log still covers everything.
        fs::remove_file(&tmp).map_err(|e| io_at(&tmp, e))?;
    }
    let mut replay = Replay::default();
    let snap = dir.join(snapshot::FILE);
    if snap.exists() {
        let (loaded, damage) = snapshot::read(&snap, salvage)?;
        if let Some(d) = damage {
            let len = fs::metadata(&snap).map_err(|e| io_at(&snap, e))?.len();
            replay.salvaged_bytes += len - d.offset;
        }
        replay.snapshot = loaded;
    }
    let mut segs = segments(dir)?;
    let mut seen = 0;
    let mut i = 0;
    while i < segs.len() {
        let path = segs[i].1.clone();
        let data = fs::read(&path).map_err(|e| io_at(&path, e))?;
        let is_last = i + 1 == segs.len();
        match scan(
            &data,
            is_last,
            replay.snapshot.seq,
            &mut seen,
            &mut replay.frames,
        ) {
            None => {}
            Some(Stop::Torn(at)) => {
                replay.torn_bytes = (data.len() - at) as u64;
                truncate(&path, at)?;
            }
            Some(Stop::Damaged(d)) if salvage => {
                replay.salvaged_bytes += data.len() as u64 - d.offset;
                truncate(&path, usize::try_from(d.offset).unwrap_or(usize::MAX))?;
                for (_, later) in segs.drain(i + 1..) {
                    replay.salvaged_bytes +=
                        fs::metadata(&later).map_err(|e| io_at(&later, e))?.len();
                    fs::remove_file(&later).map_err(|e| io_at(&later, e))?;
                }
            }
            Some(Stop::Damaged(d)) => return Err(d.into_error(&path)),
        }
        i += 1;
    }
    for (_, path) in &segs {
        replay.log_bytes += fs::metadata(path).map_err(|e| io_at(path, e))?.len();
    }
    replay.active = match segs.last() {
        Some((_, path)) => path.clone(),
        None => dir.join(segment_name(replay.seq() + 1)),
    };
    sync_dir(dir)?;
    Ok(replay)
}
