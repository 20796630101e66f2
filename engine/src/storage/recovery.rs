//! Opening a directory: the snapshot, then the chain of log segments after it, proving that
//! versions run on without a gap from the snapshot's last version to the last frame.
//!
//! The chain: `snapshot.acorn` (when present) records its last version `S` and names
//! `wal-<S+1>.log` as the segment that follows; each segment's header repeats its first
//! version; inside a segment every commit is the previous one plus one; the next segment
//! starts right after the last commit of the one before. Without a snapshot the chain starts
//! at version 1. Segments that start at or before `S` are leftovers of a compaction that
//! stopped before deleting them: the snapshot covers them and they are removed.
//!
//! Only an incomplete final frame of the last segment (a crash mid-append) is cut off, and
//! counted. Anything else (a gap, a segment that does not follow, a file the chain names but
//! cannot find, damage before the tail) is `Error::Corrupt` naming the file and the missing
//! versions, and nothing in the directory is changed. A new tree starts with an empty
//! snapshot (version 0) that names `wal-1`, so even its first segment cannot vanish
//! unnoticed. `RecoveryMode::Salvage` instead keeps
//! every commit it can read, reports what it dropped, moves damaged files into
//! `salvaged-<n>/`, and writes a fresh snapshot so the directory opens strictly again.

use std::fs;
use std::path::{Path, PathBuf};

use super::frame::{self, HeadError, Next};
use super::io::Io;
use super::segment::{self, parse_segment, segment_name, Segment};
use super::snapshot::{self, Loaded};
use super::{io_at, Damage, RecoveryMode, Unreadable};
use crate::index::Index;
use crate::record::{Change, Record};
use crate::{Error, Result};

/// What recovery found, and what salvage dropped.
#[derive(Debug, Default)]
pub(crate) struct Replay {
    /// The snapshot's records, in key order.
    pub(crate) records: Vec<Record>,
    /// Commits after the snapshot, in order.
    pub(crate) frames: Vec<(u64, Vec<Change>)>,
    /// The last version recovered.
    pub(crate) seq: u64,
    /// Bytes of an incomplete final frame that were cut off.
    pub(crate) torn_bytes: u64,
    /// Bytes `RecoveryMode::Salvage` could not use.
    pub(crate) salvaged_bytes: u64,
    /// Versions salvage knows were lost (gaps with readable versions on both sides).
    pub(crate) salvaged_versions: u64,
    /// One line per thing salvage dropped.
    pub(crate) salvage_report: Vec<String>,
    /// The segment new commits go to (`None`: create `wal-<seq+1>.log`).
    pub(crate) active: Option<Segment>,
    /// The segments before it, which the next snapshot makes obsolete.
    pub(crate) older: Vec<Segment>,
}

/// Where and why reading a segment stopped early.
#[derive(Debug)]
pub(crate) enum Stop {
    /// An incomplete final frame: expected after a crash.
    Torn(usize),
    Damaged(Damage),
}

/// A segment's contents: its header's first version, the commits read, and where reading
/// stopped early (if it did).
#[derive(Debug)]
pub(crate) struct Scanned {
    pub(crate) first: u64,
    pub(crate) frames: Vec<(u64, Vec<Change>)>,
    pub(crate) stop: Option<Stop>,
}

/// Reads one segment: the header, then commits that must run on from its first version
/// without a gap. `is_last`: an incomplete final frame is a torn tail, not damage.
pub(crate) fn scan(data: &[u8], is_last: bool) -> std::result::Result<Scanned, Unreadable> {
    let bad_head = |reason: String| {
        Unreadable::Damage(Damage {
            offset: 0,
            reason: format!("no valid segment header: {reason}"),
        })
    };
    let (first, mut at) = match frame::next(data, 0) {
        Next::Frame(payload, next) => match frame::decode_segment_head(payload) {
            Ok(first) => (first, next),
            Err(HeadError::Format(f)) => return Err(Unreadable::Format(f)),
            Err(HeadError::Bad(why)) => return Err(bad_head(why.to_string())),
        },
        Next::End => {
            return Err(bad_head(
                "the file is empty (a segment is created with its header in place; only a \
                 directory of acorn's format 1 holds an empty one)"
                    .into(),
            ))
        }
        Next::Incomplete => return Err(bad_head("the file ends inside it".into())),
        Next::Bad(why) => return Err(bad_head(why.to_string())),
    };
    let mut frames: Vec<(u64, Vec<Change>)> = Vec::new();
    let stop = loop {
        let expect = frames.last().map_or(first, |(v, _)| v + 1);
        let bad = |reason: String| {
            Some(Stop::Damaged(Damage {
                offset: at as u64,
                reason,
            }))
        };
        match frame::next(data, at) {
            Next::End => break None,
            Next::Frame(payload, next) => match frame::decode_commit(payload) {
                Ok((version, _)) if version != expect => {
                    break bad(format!(
                        "commit version {version} where {expect} must follow"
                    ));
                }
                Ok(commit) => {
                    frames.push(commit);
                    at = next;
                }
                Err(why) => break bad(why.to_string()),
            },
            Next::Incomplete if is_last => break Some(Stop::Torn(at)),
            // A final frame whose bytes never all reached the disk: the file was extended
            // (so the header or the payload reads as zeros or stale data) but not filled.
            Next::Bad(_) if is_last && frame::reaches_end(data, at) => break Some(Stop::Torn(at)),
            Next::Incomplete => {
                break bad("segment ends inside a frame, but later segments exist".into())
            }
            Next::Bad(why) => break bad(why.to_string()),
        }
    };
    Ok(Scanned {
        first,
        frames,
        stop,
    })
}

/// Files found in the directory.
struct Listing {
    /// `(first version from the name, path)`, in version order.
    segments: Vec<(u64, PathBuf)>,
    /// Temporary files of an interrupted compaction or segment creation.
    temporaries: Vec<PathBuf>,
}

fn list(dir: &Path) -> Result<Listing> {
    let mut segments = Vec::new();
    let mut temporaries = Vec::new();
    for entry in fs::read_dir(dir).map_err(|e| io_at(dir, e))? {
        let entry = entry.map_err(|e| io_at(dir, e))?;
        let name = entry.file_name();
        let Some(name) = name.to_str() else { continue };
        if let Some(first) = parse_segment(name) {
            segments.push((first, entry.path()));
        } else if name == snapshot::TMP || name == segment::SEGMENT_TMP {
            temporaries.push(entry.path());
        }
    }
    segments.sort();
    Ok(Listing {
        segments,
        temporaries,
    })
}

fn name_of(path: &Path) -> String {
    path.file_name().map_or_else(
        || path.display().to_string(),
        |n| n.to_string_lossy().into_owned(),
    )
}

/// `a..=b`, the way errors and reports name a run of versions.
fn range(a: u64, b: u64) -> String {
    format!("{a}..={b}")
}

/// Collects problems: in Strict mode the first one is the error; Salvage notes them all.
struct Problems {
    salvage: bool,
    report: Vec<String>,
    bytes: u64,
    versions: u64,
    /// Damaged files to move aside (whole; nothing of them is destroyed).
    damaged: Vec<PathBuf>,
}

impl Problems {
    /// Refuses (Strict) or notes (Salvage) a problem in `path`.
    fn found(&mut self, path: &Path, offset: u64, reason: String) -> Result<()> {
        if !self.salvage {
            return Err(Error::Corrupt {
                path: path.to_path_buf(),
                offset,
                reason,
            });
        }
        self.report.push(format!("{}: {reason}", name_of(path)));
        Ok(())
    }

    fn any(&self) -> bool {
        !self.report.is_empty()
    }
}

pub(crate) fn recover(io: &dyn Io, dir: &Path, mode: RecoveryMode) -> Result<Replay> {
    let salvage = mode == RecoveryMode::Salvage;
    let mut problems = Problems {
        salvage,
        report: Vec::new(),
        bytes: 0,
        versions: 0,
        damaged: Vec::new(),
    };
    let listing = list(dir)?;

    // The snapshot: the chain's base.
    let snap_path = dir.join(snapshot::FILE);
    let snap_exists = match fs::symlink_metadata(&snap_path) {
        Ok(_) => true,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => false,
        Err(e) => return Err(io_at(&snap_path, e)),
    };
    let mut loaded = Loaded::default();
    if snap_exists {
        let (l, damage) = snapshot::read(&snap_path, salvage)?;
        if let Some(d) = damage {
            let len = fs::metadata(&snap_path)
                .map_err(|e| io_at(&snap_path, e))?
                .len();
            problems.bytes += len.saturating_sub(d.offset);
            let lost = match l.declared {
                Some(n) => format!(
                    "{} of its {n} records",
                    n.saturating_sub(l.records.len() as u64)
                ),
                None => "the records after it".into(),
            };
            problems.found(
                &snap_path,
                d.offset,
                format!(
                    "damaged at byte {} ({}); dropped {lost}",
                    d.offset, d.reason
                ),
            )?;
            problems.damaged.push(snap_path.clone());
        }
        loaded = l;
    }
    let base = loaded.last.unwrap_or(0);

    // Segments at or before the base are a finished compaction's leftovers.
    let (leftovers, chain): (Vec<_>, Vec<_>) = listing
        .segments
        .into_iter()
        .partition(|(first, _)| loaded.last.is_some() && *first <= base);

    let mut frames: Vec<(u64, Vec<Change>)> = Vec::new();
    let mut expect = base + 1;
    // (path, offset, bytes) of a torn tail to cut.
    let mut torn: Option<(PathBuf, usize, u64)> = None;
    let mut kept: Vec<Segment> = Vec::new();
    // Describes what precedes the segment being checked, for messages.
    let mut before = if loaded.last.is_some() {
        format!("{} ends at version {base}", snapshot::FILE)
    } else if snap_exists {
        format!(
            "{} is unreadable, so the log must start at version 1",
            snapshot::FILE
        )
    } else {
        "with no snapshot, the log must start at version 1".to_string()
    };
    for (i, (first, path)) in chain.iter().enumerate() {
        let is_last = i + 1 == chain.len();
        let after = chain.get(i + 1).map(|(f, _)| *f);
        if *first > expect {
            let missing = range(expect, first - 1);
            if loaded.last.is_none() && !snap_exists && expect == 1 {
                problems.found(
                    &snap_path,
                    0,
                    format!(
                        "missing: the log starts at version {first}, so versions {missing} must \
                         be in a snapshot, and there is none (was {} or {} deleted?)",
                        snapshot::FILE,
                        segment_name(1)
                    ),
                )?;
            } else {
                problems.found(
                    &dir.join(segment_name(expect)),
                    0,
                    format!(
                        "missing: versions {missing} are in no file ({before}, and the next \
                         segment, {}, starts at version {first})",
                        name_of(path)
                    ),
                )?;
            }
            problems.versions += first - expect;
            expect = *first;
        } else if *first < expect {
            problems.found(
                path,
                0,
                format!(
                    "starts at version {first}, but {before}: it does not follow (it repeats \
                     versions {})",
                    range(*first, expect - 1)
                ),
            )?;
        }
        let data = fs::read(path).map_err(|e| io_at(path, e))?;
        let scanned = match scan(&data, is_last) {
            Ok(s) => s,
            Err(Unreadable::Format(found)) => {
                return Err(Error::UnsupportedFormat {
                    path: path.clone(),
                    found,
                    supported: frame::FORMAT,
                })
            }
            Err(Unreadable::Damage(d)) => {
                let lost = match after {
                    Some(next) if next > *first => {
                        format!("versions {} are lost", range(*first, next - 1))
                    }
                    _ => format!("versions from {first} on are lost"),
                };
                problems.found(path, d.offset, format!("{}; {lost}", d.reason))?;
                problems.bytes += data.len() as u64;
                problems.damaged.push(path.clone());
                continue;
            }
        };
        if scanned.first != *first {
            problems.found(
                path,
                0,
                format!(
                    "its header says it starts at version {}, but its name says {first} \
                     (renamed?)",
                    scanned.first
                ),
            )?;
            problems.bytes += data.len() as u64;
            problems.damaged.push(path.clone());
            continue;
        }
        let mut end = data.len();
        match scanned.stop {
            None => {}
            Some(Stop::Torn(at)) => {
                end = at;
                torn = Some((path.clone(), at, (data.len() - at) as u64));
            }
            Some(Stop::Damaged(d)) => {
                let from = scanned.frames.last().map_or(*first, |(v, _)| v + 1);
                let lost = match after {
                    Some(next) if next > from => {
                        format!("versions {} are lost", range(from, next - 1))
                    }
                    Some(_) => "no versions are lost".into(),
                    None => format!("versions from {from} on are lost"),
                };
                problems.found(
                    path,
                    d.offset,
                    format!(
                        "damaged at byte {} ({}); {} bytes after it dropped, {lost}",
                        d.offset,
                        d.reason,
                        data.len() as u64 - d.offset
                    ),
                )?;
                problems.bytes += data.len() as u64 - d.offset;
                problems.damaged.push(path.clone());
            }
        }
        for (version, changes) in scanned.frames {
            if version >= expect {
                expect = version + 1;
                frames.push((version, changes));
            }
        }
        before = format!("{} ends at version {}", name_of(path), expect - 1);
        kept.push(Segment {
            path: path.clone(),
            first: *first,
            bytes: end as u64,
        });
    }
    if loaded.last.is_some() && chain.is_empty() {
        problems.found(
            &dir.join(segment_name(base + 1)),
            0,
            format!(
                "missing: {} ends at version {base} and names this segment as the next; \
                 versions from {} on are lost",
                snapshot::FILE,
                base + 1
            ),
        )?;
    }

    // Everything is checked: only now change the directory.
    for tmp in &listing.temporaries {
        io.remove(tmp).map_err(|e| io_at(tmp, e))?;
    }
    let mut replay = Replay {
        torn_bytes: torn.as_ref().map_or(0, |t| t.2),
        seq: expect - 1,
        ..Replay::default()
    };
    if let Some((path, at, _)) = &torn {
        io.truncate(path, *at as u64).map_err(|e| io_at(path, e))?;
    }
    let mut obsolete: Vec<PathBuf> = leftovers.into_iter().map(|(_, p)| p).collect();
    if problems.any() {
        // Salvage: keep what was read as a fresh snapshot, set damaged files aside, and
        // start the log over after it.
        let mut index: Index<Record> = Index::default();
        for rec in loaded.records {
            index.insert(rec);
        }
        for (_, changes) in frames {
            for change in changes {
                match change {
                    Change::Put(rec) => {
                        index.insert(rec);
                    }
                    Change::Delete(key) => {
                        index.remove(&key);
                    }
                }
            }
        }
        let kept_line = if problems.damaged.is_empty() {
            format!("kept every readable commit, up to version {}", replay.seq)
        } else {
            let aside = set_aside(io, dir, &problems.damaged)?;
            format!(
                "kept every readable commit, up to version {}; the damaged files, whole, are \
                 in {}",
                replay.seq,
                name_of(&aside)
            )
        };
        problems.report.push(kept_line);
        let next = replay.seq + 1;
        let active = match kept.last() {
            Some(s) if s.first == next && !problems.damaged.contains(&s.path) => s.clone(),
            _ => {
                segment::create_segment(io, dir, next)
                    .map_err(|f| f.error)?
                    .1
            }
        };
        snapshot::write(io, dir, &index, replay.seq)?;
        obsolete.extend(
            kept.iter()
                .filter(|s| s.path != active.path && !problems.damaged.contains(&s.path))
                .map(|s| s.path.clone()),
        );
        replay.active = Some(active);
        let mut cursor = index.cursor(std::ops::Bound::Unbounded);
        while let Some(rec) = cursor.peek() {
            replay.records.push(rec.clone());
            cursor.advance();
        }
        replay.salvaged_bytes = problems.bytes;
        replay.salvaged_versions = problems.versions;
        replay.salvage_report = problems.report;
    } else {
        replay.records = loaded.records;
        replay.frames = frames;
        replay.active = kept.pop();
        replay.older = kept;
        if !snap_exists {
            // A new tree (or one whose empty first snapshot was lost): its first segment,
            // and a snapshot of version 0 that names it, so that losing the segment later
            // is noticed instead of opening an empty tree.
            if replay.active.is_none() {
                replay.active = Some(segment::create_segment(io, dir, 1).map_err(|f| f.error)?.1);
            }
            snapshot::write(io, dir, &Index::default(), 0)?;
        }
    }
    for path in &obsolete {
        io.remove(path).map_err(|e| io_at(path, e))?;
    }
    if !obsolete.is_empty() || !listing.temporaries.is_empty() {
        io.sync_dir(dir).map_err(|e| io_at(dir, e))?;
    }
    Ok(replay)
}

/// Moves `files` into a new `salvaged-<n>/` directory inside `dir`; returns its path.
fn set_aside(io: &dyn Io, dir: &Path, files: &[PathBuf]) -> Result<PathBuf> {
    let mut n = 1;
    let aside = loop {
        let candidate = dir.join(format!("salvaged-{n}"));
        match fs::create_dir(&candidate) {
            Ok(()) => break candidate,
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => n += 1,
            Err(e) => return Err(io_at(&candidate, e)),
        }
    };
    for file in files {
        let to = aside.join(file.file_name().unwrap_or_default());
        io.rename(file, &to).map_err(|e| io_at(file, e))?;
    }
    io.sync_dir(&aside).map_err(|e| io_at(&aside, e))?;
    io.sync_dir(dir).map_err(|e| io_at(dir, e))?;
    Ok(aside)
}

#[cfg(test)]
mod tests {
    use std::fs;

    use super::super::io::StdIo;
    use super::*;
    use crate::limits::MAX_VERSION;
    use crate::Tree;

    #[test]
    fn a_commit_after_the_last_version_fails_cleanly_and_never_wraps() {
        let dir = tempfile::tempdir().unwrap();
        // A snapshot one below the last version, and the segment it names.
        let mut index: Index<Record> = Index::default();
        let mut rec = Record::new(b"old", b"v", 0, 0, 0);
        rec.stamp(MAX_VERSION - 1, 1);
        index.insert(rec);
        segment::create_segment(&StdIo, dir.path(), MAX_VERSION).unwrap();
        snapshot::write(&StdIo, dir.path(), &index, MAX_VERSION - 1).unwrap();

        let tree = Tree::open(dir.path()).unwrap();
        assert_eq!(tree.stash("last", b"x").unwrap(), MAX_VERSION);
        match tree.stash("after", b"y") {
            Err(Error::VersionsExhausted { version }) => assert_eq!(version, MAX_VERSION),
            other => panic!("expected VersionsExhausted, got {other:?}"),
        }
        assert!(!tree.contains("after"));
        // The log still works for what it holds: compaction names segment u64::MAX.
        tree.compact().unwrap();
        drop(tree);
        let tree = Tree::open(dir.path()).unwrap();
        assert_eq!(tree.stats().version, MAX_VERSION);
        assert_eq!(tree.len(), 2);
        assert!(matches!(
            tree.stash("after", b"y"),
            Err(Error::VersionsExhausted { .. })
        ));
    }

    #[test]
    fn directories_of_another_format_are_refused_with_the_format_they_declare() {
        // Format 1: a segment that starts with a commit, no header.
        let dir = tempfile::tempdir().unwrap();
        let mut data = Vec::new();
        frame::encode_commit(&mut data, 1, &[Change::Delete(b"k".as_slice().into())]);
        let seg = dir.path().join(segment_name(1));
        fs::write(&seg, &data).unwrap();
        match Tree::open(dir.path()) {
            Err(Error::UnsupportedFormat {
                path,
                found,
                supported,
            }) => assert_eq!((path, found, supported), (seg.clone(), 1, frame::FORMAT)),
            other => panic!("expected UnsupportedFormat, got {other:?}"),
        }
        assert_eq!(fs::read(&seg).unwrap(), data, "nothing was changed");

        // Format 1: a snapshot with the old magic.
        let dir = tempfile::tempdir().unwrap();
        let mut data = Vec::new();
        let start = frame::begin(&mut data);
        data.push(frame::TAG_SNAP_HEAD);
        data.extend_from_slice(b"ACORN-SNAPSHOT-1");
        data.extend_from_slice(&7u64.to_le_bytes());
        frame::finish(&mut data, start);
        fs::write(dir.path().join(snapshot::FILE), &data).unwrap();
        assert!(matches!(
            Tree::open(dir.path()),
            Err(Error::UnsupportedFormat { found: 1, .. })
        ));

        // A later format: refused, not misread.
        let dir = tempfile::tempdir().unwrap();
        let mut data = Vec::new();
        frame::encode_segment_head(&mut data, 1);
        let at = frame::FRAME_HEADER + 1 + b"ACORN-SEGMENT".len();
        data[at..at + 4].copy_from_slice(&3u32.to_le_bytes());
        frame::finish(&mut data, 0);
        fs::write(dir.path().join(segment_name(1)), &data).unwrap();
        let err = Tree::open(dir.path()).unwrap_err();
        assert!(
            matches!(err, Error::UnsupportedFormat { found: 3, .. }),
            "{err}"
        );
        assert!(err.to_string().contains("format 3"), "{err}");
    }

    #[test]
    fn a_segment_whose_header_disagrees_with_its_name_is_corruption() {
        let dir = tempfile::tempdir().unwrap();
        segment::create_segment(&StdIo, dir.path(), 1).unwrap();
        fs::rename(
            dir.path().join(segment_name(1)),
            dir.path().join(segment_name(5)),
        )
        .unwrap();
        match Tree::open(dir.path()) {
            Err(Error::Corrupt { path, reason, .. }) => {
                // No snapshot, and the log starts at 5: the first problem is the gap.
                assert_eq!(path, dir.path().join(snapshot::FILE), "{reason}");
                assert!(reason.contains("1..=4"), "{reason}");
            }
            other => panic!("expected Corrupt, got {other:?}"),
        }
        // With the gap closed by a snapshot at 4, the header itself is the problem.
        snapshot::write(&StdIo, dir.path(), &Index::default(), 4).unwrap();
        match Tree::open(dir.path()) {
            Err(Error::Corrupt { path, reason, .. }) => {
                assert_eq!(path, dir.path().join(segment_name(5)), "{reason}");
                assert!(
                    reason.contains("header says it starts at version 1"),
                    "{reason}"
                );
            }
            other => panic!("expected Corrupt, got {other:?}"),
        }
    }
}
