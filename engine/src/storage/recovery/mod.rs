//! Opening a durable directory, in four named steps:
//!
//! 1. **find** ([`find::find`]): list the directory and read the snapshot and every segment
//!    whole, judging nothing;
//! 2. **prove** ([`chain::prove`], strict): prove the chain of versions whole from the
//!    snapshot to the newest segment, or refuse with `Error::Corrupt` naming the file, the
//!    offset and the missing versions; or **salvage** ([`salvage::plan`],
//!    `RecoveryMode::Salvage`, only when the proof refused): keep every commit that can be
//!    read and list what was dropped;
//! 3. **replay** ([`replay`]): the snapshot's records and the commits after it, for the
//!    tree to load, and the segments the log goes on with;
//! 4. **clean up** ([`clean_up`], or [`salvage_open`] after a salvage): only now change the
//!    directory: remove temporary files, cut a torn tail, remove leftovers proven redundant
//!    and the empty segment of an unfinished cut; rewrite a format-2 directory in the
//!    current format; salvage moves damaged and renamed files, whole, into `salvaged-<n>/`
//!    and starts over from a fresh snapshot.
//!
//! Steps 1 to 3 change nothing, so a refused open leaves the directory as it found it; each
//! is tested alone in `steps_tests.rs`. A new tree starts with an empty snapshot (version 0)
//! that names `wal-1`, so even its first segment cannot vanish unnoticed.

use std::fs;
use std::ops::Bound;
use std::path::{Path, PathBuf};

use super::io::Io;
use super::segment::{self, Segment};
use super::{io_at, snapshot, RecoveryMode};
use crate::index::Index;
use crate::record::{Change, Record};
use crate::{Error, Result};

mod chain;
mod find;
mod salvage;
#[cfg(test)]
mod steps_tests;

pub(crate) use find::scan;

/// What recovery found, and what it dropped.
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
    /// Versions salvage knows were lost (runs of versions in no readable file).
    pub(crate) salvaged_versions: u64,
    /// One line per thing salvage dropped.
    pub(crate) salvage_report: Vec<String>,
    /// The segment new commits go to (`None`: create `wal-<seq+1>.log`).
    pub(crate) active: Option<Segment>,
    /// The segments before it, which the next snapshot makes obsolete.
    pub(crate) older: Vec<Segment>,
}

pub(crate) fn name_of(path: &Path) -> String {
    path.file_name().map_or_else(
        || path.display().to_string(),
        |n| n.to_string_lossy().into_owned(),
    )
}

/// `a..=b`, the way errors and reports name a run of versions.
pub(crate) fn range(a: u64, b: u64) -> String {
    format!("{a}..={b}")
}

/// Opens `dir`: the four steps of the module comment.
pub(crate) fn recover(io: &dyn Io, dir: &Path, mode: RecoveryMode) -> Result<Replay> {
    let found = find::find(dir)?;
    match chain::prove(&found, dir) {
        Ok(chain) => {
            let tidy = Tidy::of(&found, &chain);
            clean_up(io, dir, tidy, replay(found, &chain))
        }
        Err(Error::Corrupt { .. }) if mode == RecoveryMode::Salvage => salvage_open(io, dir, found),
        Err(e) => Err(e),
    }
}

/// What step 4 changes in the directory after a proven chain.
#[derive(Debug, Default)]
struct Tidy {
    temporaries: Vec<PathBuf>,
    /// The torn tail to cut: file, offset.
    torn: Option<(PathBuf, u64)>,
    /// The empty segment of an unfinished cut.
    unfinished_cut: Option<PathBuf>,
    leftovers: Vec<PathBuf>,
    /// No snapshot: write the empty one (and the first segment when there is none).
    new_tree: bool,
    /// Format 2: rewrite the directory in the current format.
    convert: bool,
}

impl Tidy {
    fn of(found: &find::Found, chain: &chain::Chain) -> Tidy {
        let path_of = |i: usize| found.segments[i].path.clone();
        Tidy {
            temporaries: found.temporaries.clone(),
            torn: chain.torn.map(|t| (path_of(t.segment), t.at)),
            unfinished_cut: chain.unfinished_cut.map(path_of),
            leftovers: chain.leftovers.iter().map(|&i| path_of(i)).collect(),
            new_tree: found.snapshot.is_none(),
            convert: chain.convert,
        }
    }
}

/// Step 3 after a proven chain: the snapshot's records, the chain's commits in order, and
/// the segments the log goes on with (the last one active). Changes nothing.
fn replay(mut found: find::Found, chain: &chain::Chain) -> Replay {
    let mut segments = chain::kept_segments(&found, chain);
    let mut replay = Replay {
        seq: chain.seq,
        torn_bytes: chain.torn.map_or(0, |t| t.bytes),
        records: found
            .snapshot
            .take()
            .map(|s| s.loaded.records)
            .unwrap_or_default(),
        active: segments.pop(),
        older: segments,
        ..Replay::default()
    };
    for &i in &chain.links {
        if let Ok(s) = &mut found.segments[i].contents {
            replay.frames.append(&mut s.frames);
        }
    }
    replay
}

/// Step 4 after a proven chain: only now change the directory (see [`Tidy`]).
fn clean_up(io: &dyn Io, dir: &Path, tidy: Tidy, mut replay: Replay) -> Result<Replay> {
    remove_temporaries(io, &tidy.temporaries)?;
    if let Some((path, at)) = &tidy.torn {
        io.truncate(path, *at).map_err(|e| io_at(path, e))?;
        log::warn!(
            "{}: cut the {} bytes of an incomplete final frame at byte {at} (a commit \
             interrupted mid-write, never acknowledged)",
            path.display(),
            replay.torn_bytes
        );
    }
    if let Some(path) = &tidy.unfinished_cut {
        io.remove(path).map_err(|e| io_at(path, e))?;
        log::info!(
            "{}: removed; it held no commit (a compaction stopped while cutting the log)",
            path.display()
        );
    }
    for path in &tidy.leftovers {
        io.remove(path).map_err(|e| io_at(path, e))?;
        log::info!(
            "{}: removed; every commit in it is in {} (a compaction stopped before removing \
             it)",
            path.display(),
            snapshot::FILE
        );
    }
    if tidy.convert {
        // Format 2: rewrite it as a snapshot and a first segment of the current format.
        let index = build_index(
            std::mem::take(&mut replay.records),
            std::mem::take(&mut replay.frames),
        );
        let obsolete: Vec<PathBuf> = replay
            .older
            .drain(..)
            .chain(replay.active.take())
            .map(|s| s.path)
            .collect();
        replay.active = Some(rebase(io, dir, &index, replay.seq, &obsolete)?);
        replay.records = records_of(&index);
        log::info!(
            "{}: rewritten from on-disk format 2 to format {}",
            dir.display(),
            super::frame::FORMAT
        );
        return Ok(replay);
    }
    if tidy.new_tree {
        // A new tree (or one whose empty first snapshot was lost): its first segment, and
        // a snapshot of version 0 that names it, so that losing the segment later is
        // noticed instead of opening an empty tree.
        if replay.active.is_none() {
            replay.active = Some(segment::create_segment(io, dir, 1).map_err(|f| f.error)?.1);
        }
        snapshot::write(io, dir, &Index::default(), 0)?;
    }
    if tidy.unfinished_cut.is_some() || !tidy.leftovers.is_empty() || !tidy.temporaries.is_empty() {
        io.sync_dir(dir).map_err(|e| io_at(dir, e))?;
    }
    Ok(replay)
}

/// Steps 3 and 4 of a salvage.
fn salvage_open(io: &dyn Io, dir: &Path, found: find::Found) -> Result<Replay> {
    let temporaries = found.temporaries.clone();
    let plan = salvage::plan(found);
    remove_temporaries(io, &temporaries)?;
    if let Some((path, at, _)) = &plan.torn {
        io.truncate(path, *at).map_err(|e| io_at(path, e))?;
    }
    let mut report = plan.report;
    let mut kept = format!(
        "kept every readable commit; the log goes on after version {}",
        plan.seq
    );
    if !plan.set_aside.is_empty() {
        let aside = set_aside(io, dir, &plan.set_aside)?;
        kept.push_str(&format!(
            "; the damaged, renamed or copied files, whole, are in {}",
            name_of(&aside)
        ));
    }
    report.push(kept);
    let index = build_index(plan.records, plan.commits);
    let active = rebase(io, dir, &index, plan.seq, &plan.redundant)?;
    for line in &report {
        log::warn!("{}: salvage: {line}", dir.display());
    }
    Ok(Replay {
        records: records_of(&index),
        seq: plan.seq,
        torn_bytes: plan.torn.map_or(0, |t| t.2),
        salvaged_bytes: plan.bytes_dropped,
        salvaged_versions: plan.versions_dropped,
        salvage_report: report,
        active: Some(active),
        ..Replay::default()
    })
}

fn remove_temporaries(io: &dyn Io, temporaries: &[PathBuf]) -> Result<()> {
    for tmp in temporaries {
        io.remove(tmp).map_err(|e| io_at(tmp, e))?;
    }
    Ok(())
}

/// The state at the last version: the records, then each commit in order.
fn build_index(records: Vec<Record>, commits: Vec<(u64, Vec<Change>)>) -> Index<Record> {
    let mut index: Index<Record> = Index::default();
    for rec in records {
        index.insert(rec);
    }
    for (_, changes) in commits {
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
    index
}

fn records_of(index: &Index<Record>) -> Vec<Record> {
    let mut records = Vec::with_capacity(index.len());
    let mut cursor = index.cursor(Bound::Unbounded);
    while let Some(rec) = cursor.peek() {
        records.push(rec.clone());
        cursor.advance();
    }
    records
}

/// Starts the directory over from `index` at version `seq`: a new, empty segment
/// `wal-<seq+1>.log` (replacing an empty one of that name), then the snapshot naming it,
/// then the `obsolete` segments removed (every commit in them is in the snapshot). A crash
/// between steps leaves a directory that opens: before the snapshot, the old chain and an
/// empty newest segment (an unfinished cut); after it, leftovers.
fn rebase(
    io: &dyn Io,
    dir: &Path,
    index: &Index<Record>,
    seq: u64,
    obsolete: &[PathBuf],
) -> Result<Segment> {
    let first = seq
        .checked_add(1)
        .ok_or(Error::VersionsExhausted { version: seq })?;
    let (_, active) = segment::create_segment(io, dir, first).map_err(|f| f.error)?;
    snapshot::write(io, dir, index, seq)?;
    for path in obsolete.iter().filter(|p| **p != active.path) {
        io.remove(path).map_err(|e| io_at(path, e))?;
    }
    io.sync_dir(dir).map_err(|e| io_at(dir, e))?;
    Ok(active)
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

    use super::super::frame;
    use super::super::io::StdIo;
    use super::super::segment::segment_name;
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
        let later = frame::FORMAT + 1;
        data[at..at + 4].copy_from_slice(&later.to_le_bytes());
        frame::finish(&mut data, 0);
        fs::write(dir.path().join(segment_name(1)), &data).unwrap();
        let err = Tree::open(dir.path()).unwrap_err();
        assert!(
            matches!(err, Error::UnsupportedFormat { found, .. } if found == later),
            "{err}"
        );
        assert!(
            err.to_string().contains(&format!("format {later}")),
            "{err}"
        );
        // The message (written in error.rs, which knows nothing of storage) names the
        // formats this build reads.
        let reads = format!(
            "reads formats {} to {}",
            frame::OLDEST_FORMAT,
            frame::FORMAT
        );
        assert!(err.to_string().contains(&reads), "{err}");
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
        // The renamed file itself is named, whatever else is wrong.
        for snapshot_at in [None, Some(4)] {
            if let Some(at) = snapshot_at {
                snapshot::write(&StdIo, dir.path(), &Index::default(), at).unwrap();
            }
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
}
