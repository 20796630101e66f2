//! Log segment files: their names, and their creation. A segment is created whole: its
//! header is written to `segment.tmp`, fsynced, renamed to `wal-<first version>.log` and
//! the directory fsynced, so a segment under its name always has a complete header and an
//! empty or headless one is damage, never a crash. The writer (`wal/`) and recovery
//! (`recovery/`) both build on this module; it builds on neither.

use std::fs::File;
use std::path::{Path, PathBuf};

use super::io::Io;
use super::{frame, io_at};
use crate::Error;

/// A log segment the tree goes on with.
#[derive(Debug, Clone)]
pub(crate) struct Segment {
    pub(crate) path: PathBuf,
    pub(crate) first: u64,
    pub(crate) bytes: u64,
}

/// The flags in the head of the segment at `path` (0 when it has none, or cannot be read:
/// its frames are then written as they are, which every build reads).
pub(crate) fn head_flags(path: &Path) -> u32 {
    use std::io::Read;
    let mut head = Vec::with_capacity(64);
    let read = File::open(path).and_then(|f| f.take(64).read_to_end(&mut head));
    match (read, frame::next(&head, 0)) {
        (Ok(_), frame::Next::Frame(payload, _)) => {
            frame::decode_segment_head(payload).map_or(0, |(_, _, flags)| flags)
        }
        _ => 0,
    }
}

/// Where a new segment is assembled before it is renamed into place.
pub(crate) const SEGMENT_TMP: &str = "segment.tmp";

pub(crate) fn segment_name(first_version: u64) -> String {
    format!("wal-{first_version:020}.log")
}

/// First version of a segment file name, if it is one.
pub(crate) fn parse_segment(name: &str) -> Option<u64> {
    let digits = name.strip_prefix("wal-")?.strip_suffix(".log")?;
    if digits.len() != 20 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

/// Every segment file in `dir` (first version, path), in order.
pub(crate) fn list(dir: &Path) -> Result<Vec<(u64, PathBuf)>, Error> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(|e| io_at(dir, e))? {
        let entry = entry.map_err(|e| io_at(dir, e))?;
        if let Some(first) = entry.file_name().to_str().and_then(parse_segment) {
            found.push((first, entry.path()));
        }
    }
    found.sort();
    Ok(found)
}

/// How creating a segment failed.
#[derive(Debug)]
pub(crate) struct CreateFailed {
    pub(crate) error: Error,
    /// The segment is in place under its name (only its directory fsync failed): the log
    /// may no longer be written to the previous segment.
    pub(crate) renamed: bool,
}

/// Creates `wal-<first>.log` holding only its header, durably; returns it opened for
/// appending. Before the rename, a failure removes the temporary file again.
pub(crate) fn create_segment(
    io: &dyn Io,
    dir: &Path,
    first: u64,
    flags: u32,
) -> std::result::Result<(File, Segment), CreateFailed> {
    let tmp = dir.join(SEGMENT_TMP);
    let path = dir.join(segment_name(first));
    let before_rename = |error: Error| {
        let _ = io.remove(&tmp);
        CreateFailed {
            error,
            renamed: false,
        }
    };
    let mut head = Vec::new();
    frame::encode_segment_head(&mut head, first, flags);
    let file = io.create(&tmp).map_err(|e| CreateFailed {
        error: io_at(&tmp, e),
        renamed: false,
    })?;
    io.write(&file, &tmp, &head)
        .map_err(|e| before_rename(io_at(&tmp, e)))?;
    io.sync(&file, &tmp)
        .map_err(|e| before_rename(io_at(&tmp, e)))?;
    io.rename(&tmp, &path)
        .map_err(|e| before_rename(io_at(&path, e)))?;
    io.sync_dir(dir).map_err(|e| CreateFailed {
        error: io_at(dir, e),
        renamed: true,
    })?;
    let segment = Segment {
        path,
        first,
        bytes: head.len() as u64,
    };
    Ok((file, segment))
}
