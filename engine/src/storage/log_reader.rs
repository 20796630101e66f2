//! Reading the log back for the change feed (`Tree::changes_since`): the commits of a run
//! of versions, from the segments that hold them, while a writer goes on appending and
//! compacting. Nothing here changes a file.
//!
//! A segment is read from a known frame boundary near the first version wanted: the reader
//! remembers, per segment, where a commit starts about every 64 KiB it has read past, so
//! following the feed costs the bytes asked for plus at most 64 KiB, not the whole segment.
//! Frames a writer is still appending (the end of the file cut inside a frame) are where
//! reading stops; versions must run on without a gap, or the read is damage.

use std::collections::HashMap;
use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::sync::{Mutex, PoisonError};

use super::frame::{self, HeadError, Next};
use super::{io_at, Commits, Unreadable};
use crate::{Error, Result};

/// How far apart the remembered frame boundaries of a segment are, at least.
const MARK_EVERY: u64 = 64 << 10;

/// A segment of the log: its first version and its path.
pub(crate) type SegmentRef = (u64, PathBuf);

/// Why a read did not return the commits.
#[derive(Debug)]
pub(crate) enum ReadError {
    /// A segment is gone (a compaction removed it after it was listed): list again.
    Missing(PathBuf),
    Failed(Error),
}

impl From<Error> for ReadError {
    fn from(e: Error) -> Self {
        ReadError::Failed(e)
    }
}

/// Reads commits from segments, remembering where commits start in each.
#[derive(Debug, Default)]
pub(crate) struct LogReader {
    /// Per segment: `(version, offset)` of commits about every [`MARK_EVERY`] bytes, in
    /// order.
    marks: Mutex<HashMap<PathBuf, Vec<(u64, u64)>>>,
}

impl LogReader {
    /// The commits of versions `after + 1 ..= until`, from `segments` (the log's segments
    /// in order, the first holding version `after + 1`).
    pub(crate) fn read(
        &self,
        segments: &[SegmentRef],
        after: u64,
        until: u64,
    ) -> std::result::Result<Commits, ReadError> {
        let mut out = Vec::new();
        if after >= until {
            return Ok(out);
        }
        let start = segments
            .partition_point(|(first, _)| *first <= after + 1)
            .saturating_sub(1);
        let wanted = &segments[start.min(segments.len())..];
        // Opened before reading any, so a compaction that removes one meanwhile does not
        // take it away half way (an open file stays readable).
        let mut files = Vec::with_capacity(wanted.len());
        for (first, path) in wanted {
            match File::open(path) {
                Ok(f) => files.push((*first, path, f)),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                    return Err(ReadError::Missing(path.clone()));
                }
                Err(e) => return Err(io_at(path, e).into()),
            }
        }
        let mut want = after + 1;
        for (first, path, mut file) in files {
            if want > until {
                break;
            }
            if first > want {
                return Err(gap(path, want, first).into());
            }
            let from = self.mark_before(path, want);
            let mut data = Vec::new();
            file.seek(SeekFrom::Start(from))
                .and_then(|_| file.read_to_end(&mut data))
                .map_err(|e| io_at(path, e))?;
            let mut marks = Vec::new();
            let read = Segment {
                path,
                first,
                base: from,
                data: &data,
            }
            .commits(&mut want, until, &mut out, &mut marks);
            self.remember(path, marks);
            read?;
        }
        if want <= until {
            let last = segments.last().map_or_else(PathBuf::new, |s| s.1.clone());
            return Err(Error::Corrupt {
                path: last,
                offset: 0,
                reason: format!(
                    "the log ends at version {}, before version {until}, which the tree \
                     holds",
                    want - 1
                ),
            }
            .into());
        }
        // Forget the segments that are gone.
        self.lock()
            .retain(|p, _| segments.iter().any(|(_, s)| s == p));
        Ok(out)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<PathBuf, Vec<(u64, u64)>>> {
        self.marks.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The offset of the last remembered commit at or before `version` (0: the start).
    fn mark_before(&self, path: &Path, version: u64) -> u64 {
        let marks = self.lock();
        let Some(m) = marks.get(path) else { return 0 };
        let i = m.partition_point(|(v, _)| *v <= version);
        if i == 0 {
            0
        } else {
            m[i - 1].1
        }
    }

    fn remember(&self, path: &Path, found: Vec<(u64, u64)>) {
        if found.is_empty() {
            return;
        }
        let mut marks = self.lock();
        let m = marks.entry(path.to_path_buf()).or_default();
        for (version, offset) in found {
            if m.last().is_none_or(|(_, last)| offset >= last + MARK_EVERY) {
                m.push((version, offset));
            }
        }
    }
}

/// The bytes of one segment from `base` on.
struct Segment<'a> {
    path: &'a Path,
    first: u64,
    base: u64,
    data: &'a [u8],
}

impl Segment<'_> {
    /// Decodes the commits from `*want` to `until` into `out` (advancing `want`), noting
    /// where commits start in `marks`. Stops at the seal, the end of the data, or a frame
    /// cut short by it (one being appended).
    fn commits(
        &self,
        want: &mut u64,
        until: u64,
        out: &mut Commits,
        marks: &mut Vec<(u64, u64)>,
    ) -> Result<()> {
        let mut at = 0;
        if self.base == 0 {
            at = self.head()?;
        }
        let mut last_mark = self.base;
        while *want <= until {
            let (payload, next) = match frame::next(self.data, at) {
                Next::Frame(p, n) => (p, n),
                Next::End | Next::Incomplete => break,
                Next::Bad(why) => return Err(self.damage(at, why.to_string())),
            };
            if frame::is_seal(payload) {
                break;
            }
            let offset = self.base + at as u64;
            let Some(version) = frame::commit_version(payload) else {
                return Err(self.damage(at, frame::FrameError::NotCommit.to_string()));
            };
            if offset >= last_mark + MARK_EVERY {
                marks.push((version, offset));
                last_mark = offset;
            }
            if version > *want {
                return Err(gap(self.path, *want, version));
            }
            if version == *want {
                let (v, changes) = frame::decode_commit(payload)
                    .map_err(|why| self.damage(at, why.to_string()))?;
                out.push((v, changes));
                *want += 1;
            }
            at = next;
        }
        Ok(())
    }

    /// Checks the header frame; returns the offset after it.
    fn head(&self) -> Result<usize> {
        match frame::next(self.data, 0) {
            Next::Frame(payload, next) => match frame::decode_segment_head(payload) {
                Ok((first, _, _)) if first == self.first => Ok(next),
                Ok((first, _, _)) => Err(self.damage(
                    0,
                    format!(
                        "its header says it starts at version {first}, but its name says {}",
                        self.first
                    ),
                )),
                Err(HeadError::Format(f)) => Err(Unreadable::Format(f).into_error(self.path)),
                Err(HeadError::Flags(f)) => Err(Unreadable::Flags(f).into_error(self.path)),
                Err(HeadError::Bad(why)) => Err(self.damage(0, why.to_string())),
            },
            _ => Err(self.damage(0, "no valid segment header".into())),
        }
    }

    fn damage(&self, at: usize, reason: String) -> Error {
        Error::Corrupt {
            path: self.path.to_path_buf(),
            offset: self.base + at as u64,
            reason,
        }
    }
}

/// Versions `want ..= found - 1` are in no segment read.
fn gap(path: &Path, want: u64, found: u64) -> Error {
    Error::Corrupt {
        path: path.to_path_buf(),
        offset: 0,
        reason: format!(
            "reading the log for the change feed: version {want} should come next, but {found} \
             does"
        ),
    }
}
