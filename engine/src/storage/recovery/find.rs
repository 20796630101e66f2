//! Step 1 of opening: find the data files and read each one whole, judging nothing yet.
//! A segment is read without knowing where it sits in the chain, so how its reading ended
//! ([`End`]) is only a fact here; `chain.rs` and `salvage.rs` decide what it means.

use std::fs;
use std::path::{Path, PathBuf};

use super::super::frame::{self, HeadError, Next};
use super::super::segment::{self, parse_segment};
use super::super::snapshot::{self, Loaded};
use super::super::{io_at, Damage, Unreadable};
use crate::record::Change;
use crate::Result;

/// Everything in the directory that recovery reads or removes.
#[derive(Debug, Default)]
pub(crate) struct Found {
    /// `snapshot.acorn`, when there is one.
    pub(crate) snapshot: Option<SnapshotFile>,
    /// Every `wal-<20 digits>.log`, in name order.
    pub(crate) segments: Vec<SegmentFile>,
    /// Temporary files of an interrupted compaction or segment creation. By construction
    /// never the only copy of anything: a temporary file becomes data only by its rename.
    pub(crate) temporaries: Vec<PathBuf>,
}

/// The snapshot as read: the records before any damage, and the damage.
#[derive(Debug)]
pub(crate) struct SnapshotFile {
    pub(crate) path: PathBuf,
    pub(crate) len: u64,
    pub(crate) loaded: Loaded,
    /// Where and why reading stopped early (`loaded` holds what came before).
    pub(crate) damage: Option<Damage>,
}

/// A log segment as read.
#[derive(Debug)]
pub(crate) struct SegmentFile {
    pub(crate) path: PathBuf,
    /// The first version its name gives.
    pub(crate) named: u64,
    pub(crate) len: u64,
    /// Its contents, or why its header could not be read.
    pub(crate) contents: std::result::Result<Scanned, Damage>,
}

impl SegmentFile {
    /// Its contents when its header was read and agrees with its name.
    pub(crate) fn normal(&self) -> Option<&Scanned> {
        self.contents
            .as_ref()
            .ok()
            .filter(|s| s.first == self.named)
    }
}

/// A segment's contents: its header, the commits read, and how reading ended.
#[derive(Debug)]
pub(crate) struct Scanned {
    /// The first version its header gives.
    pub(crate) first: u64,
    /// The on-disk format its header declares.
    pub(crate) format: u32,
    /// The commits read, each the previous one plus one, from `first` on.
    pub(crate) frames: Vec<(u64, Vec<Change>)>,
    pub(crate) end: End,
    /// When reading ended at damage in one frame whose header is intact (so where the next
    /// frame starts is known): what reading on after it found. Only salvage uses it; for
    /// every other reader the segment ends at the damage.
    pub(crate) resumed: Option<Resumed>,
}

/// The reading of a segment on past damaged frames (see [`Scanned::resumed`]).
#[derive(Debug)]
pub(crate) struct Resumed {
    /// Commits read after the damage, in rising versions (gaps where frames were skipped).
    pub(crate) frames: Vec<(u64, Vec<Change>)>,
    /// Bytes of the damaged frames skipped.
    pub(crate) skipped: u64,
    /// How this reading ended: never `Damaged` at a skippable frame.
    pub(crate) end: End,
}

impl Scanned {
    /// The version of its last commit read (`first - 1` when it holds none).
    pub(crate) fn last(&self) -> u64 {
        self.frames.last().map_or(self.first - 1, |(v, _)| *v)
    }

    /// Whether it holds nothing but its header: what an interrupted cut of the log leaves.
    pub(crate) fn is_pristine(&self) -> bool {
        self.frames.is_empty() && matches!(self.end, End::Open) && self.format >= frame::FORMAT
    }
}

/// How reading a segment ended.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum End {
    /// At the end of the file, after a whole commit (or the header), with no seal.
    Open,
    /// At its seal, which names the first version of the segment that must follow.
    Sealed(u64),
    /// At a final frame cut short by the end of the file, starting at this offset: what a
    /// crash in the middle of an append leaves. Bytes that are all there but fail their
    /// checksum are never this; they are [`End::Damaged`].
    Cut(u64),
    /// At damage: a frame that fails its checksum or does not decode, a commit out of
    /// order, bytes after the seal. Nothing after it is in `frames` (salvage's reading on
    /// past it is [`Scanned::resumed`]).
    Damaged(Damage),
}

/// Step 1: lists `dir` and reads the snapshot and every segment. Errors only when a file
/// cannot be read at all, or declares an on-disk format this build does not read.
pub(crate) fn find(dir: &Path) -> Result<Found> {
    let mut found = Found::default();
    let mut named = Vec::new();
    for entry in fs::read_dir(dir).map_err(|e| io_at(dir, e))? {
        let entry = entry.map_err(|e| io_at(dir, e))?;
        let name = entry.file_name();
        let Some(name) = name.to_str() else { continue };
        if let Some(first) = parse_segment(name) {
            named.push((first, entry.path()));
        } else if name == snapshot::TMP || name == segment::SEGMENT_TMP {
            found.temporaries.push(entry.path());
        } else if name == snapshot::FILE {
            let path = entry.path();
            let data = fs::read(&path).map_err(|e| io_at(&path, e))?;
            let (loaded, damage) = snapshot::parse(&data, true).map_err(|u| u.into_error(&path))?;
            found.snapshot = Some(SnapshotFile {
                path,
                len: data.len() as u64,
                loaded,
                damage,
            });
        }
    }
    named.sort();
    for (first, path) in named {
        let data = fs::read(&path).map_err(|e| io_at(&path, e))?;
        let contents = match scan(&data) {
            Ok(s) => Ok(s),
            Err(Unreadable::Damage(d)) => Err(d),
            Err(refused) => return Err(refused.into_error(&path)),
        };
        found.segments.push(SegmentFile {
            path,
            named: first,
            len: data.len() as u64,
            contents,
        });
    }
    Ok(found)
}

/// Reads one segment: its header, then commits that run on from its first version without
/// a gap, then (format 3) a seal and nothing after it.
pub(crate) fn scan(data: &[u8]) -> std::result::Result<Scanned, Unreadable> {
    let (first, format, at) = scan_head(data)?;
    let mut frames: Vec<(u64, Vec<Change>)> = Vec::new();
    let (end, skip_to) = read_commits(data, format, at, first - 1, false, &mut frames);
    let resumed = skip_to.map(|(next, skipped)| {
        let last = frames.last().map_or(first - 1, |(v, _)| *v);
        let mut later = Vec::new();
        let mut skipped = skipped;
        let mut at = next;
        loop {
            let after = later.last().map_or(last, |(v, _)| *v);
            match read_commits(data, format, at, after, true, &mut later) {
                (_, Some((next, more))) => {
                    skipped += more;
                    at = next;
                }
                (end, None) => {
                    break Resumed {
                        frames: later,
                        skipped,
                        end,
                    }
                }
            }
        }
    });
    Ok(Scanned {
        first,
        format,
        frames,
        end,
        resumed,
    })
}

/// Reads commits from `at` into `frames`, each the previous one plus one after `last`
/// (`rising`: any version above the previous one, for a reading resumed past damage), to
/// the segment's end. At damage in a frame whose header is intact, also returns where the
/// frame after it starts and the damaged frame's length, so a salvage can read on.
fn read_commits(
    data: &[u8],
    format: u32,
    mut at: usize,
    mut last: u64,
    rising: bool,
    frames: &mut Vec<(u64, Vec<Change>)>,
) -> (End, Option<(usize, u64)>) {
    loop {
        let damaged = |reason: String| damaged_at(at, reason);
        let skip = |next: usize| Some((next, (next - at) as u64));
        match frame::next(data, at) {
            Next::End => return (End::Open, None),
            Next::Incomplete => return (End::Cut(at as u64), None),
            Next::Bad(why @ frame::FrameError::PayloadChecksum) => {
                let next = at + frame::FRAME_HEADER + frame::payload_len(data, at);
                return (damaged(why.to_string()), skip(next));
            }
            Next::Bad(why) => return (damaged(why.to_string()), None),
            Next::Frame(payload, next) if frame::is_seal(payload) => {
                return (seal_end(data, payload, format, last, at, next), None);
            }
            Next::Frame(payload, next) => match frame::decode_commit(payload) {
                Ok((version, _)) if version != last + 1 && !(rising && version > last) => {
                    let why = format!("commit version {version} where {} must follow", last + 1);
                    return (damaged(why), skip(next));
                }
                Ok(commit) => {
                    last = commit.0;
                    frames.push(commit);
                    at = next;
                }
                Err(why) => return (damaged(why.to_string()), skip(next)),
            },
        }
    }
}

/// A segment's header frame: its first version, its format, and where its commits start.
fn scan_head(data: &[u8]) -> std::result::Result<(u64, u32, usize), Unreadable> {
    let bad_head = |reason: String| {
        Unreadable::Damage(Damage {
            offset: 0,
            reason: format!("no valid segment header: {reason}"),
        })
    };
    match frame::next(data, 0) {
        Next::Frame(payload, next) => match frame::decode_segment_head(payload) {
            Ok((first, format, _)) => Ok((first, format, next)),
            Err(HeadError::Format(f)) => Err(Unreadable::Format(f)),
            Err(HeadError::Flags(f)) => Err(Unreadable::Flags(f)),
            Err(HeadError::Bad(why)) => Err(bad_head(why.to_string())),
        },
        Next::End => Err(bad_head(
            "the file is empty (a segment is created with its header in place; only a \
             directory of acorn's format 1 holds an empty one)"
                .into(),
        )),
        Next::Incomplete => Err(bad_head("the file ends inside it".into())),
        Next::Bad(why) => Err(bad_head(why.to_string())),
    }
}

/// How a segment of `format` whose commits end at `last` ends at the seal `payload` (the
/// frame at `at`; `next` is where the frame after it would start): sealed when the seal
/// names `last` and is the end of `data`, damaged otherwise.
fn seal_end(data: &[u8], payload: &[u8], format: u32, last: u64, at: usize, next: usize) -> End {
    let damaged = |reason: String| damaged_at(at, reason);
    if format < 3 {
        return damaged(format!("a seal in a segment of format {format}"));
    }
    match frame::decode_seal(payload) {
        Ok((sealed, _)) if sealed != last => damaged(format!(
            "the seal says the segment ends at version {sealed}, but it ends at {last}"
        )),
        Ok((_, following)) if next == data.len() => End::Sealed(following),
        Ok(_) => damaged_at(
            next,
            format!(
                "{} bytes after the seal that ends the segment",
                data.len() - next
            ),
        ),
        Err(why) => damaged(why.to_string()),
    }
}

/// Damage at offset `at` of a segment.
fn damaged_at(at: usize, reason: String) -> End {
    End::Damaged(Damage {
        offset: at as u64,
        reason,
    })
}
