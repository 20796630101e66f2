//! Checkpoints: a copy of a durable directory that opens as a tree at exactly one version,
//! made while writers go on (`Tree::checkpoint`).
//!
//! What is copied, and how: the snapshot and every sealed segment after it never change
//! again (a compaction replaces the snapshot by a rename and removes segments whole), so
//! they are hard-linked into the copy, or copied where a link cannot be made (another file
//! system). The active segment is still appended to: only its bytes up to the frame
//! boundary after the checkpoint's version are copied, into a temporary file renamed into
//! place, so the copy's log ends exactly there, unsealed, as a newest segment does. The
//! tree holds its compaction lock for the whole copy, so the files it names stay as they
//! are; writers wait only while the version and the active segment's length are taken.
//!
//! Order, for a copy interrupted by a crash: segments first, the snapshot last, then the
//! directory fsynced; a file copied appears under its name only whole (a temporary file
//! renamed). A copy with a segment missing, or without a snapshot it needs, fails a strict
//! open (the chain names what is missing) instead of opening as something else; one whose
//! snapshot is the empty one of a tree never compacted holds every version in its
//! segments, and opens at the checkpoint's version with or without it.

use std::fs::{File, OpenOptions};
use std::io::Read;
use std::path::{Path, PathBuf};

use super::io::Io;
use super::lock::{lock_directory, Flock};
use super::segment::{create_segment, segment_name, SEGMENT_TMP};
use super::{io_at, snapshot};
use crate::index::Index;
use crate::record::Record;
use crate::{Error, Result};

/// What a checkpoint of a durable directory copies.
#[derive(Debug)]
pub(crate) struct Plan {
    /// The source directory.
    pub(crate) dir: PathBuf,
    /// Sealed segments after the snapshot (first version, path), in order.
    pub(crate) sealed: Vec<(u64, PathBuf)>,
    /// The active segment: its first version, path, and the length of its whole commits
    /// up to the checkpoint's version.
    pub(crate) active: (u64, PathBuf, u64),
}

/// The files a copy has made so far, removed again if it fails.
struct Made<'a> {
    io: &'a dyn Io,
    to: &'a Path,
    /// The directories the copy created, removed again if it fails.
    created: CreatedDirs,
    files: Vec<PathBuf>,
    done: bool,
    /// The lock on `to` (see [`destination`]), released after the cleanup.
    _claim: Option<Flock>,
}

impl<'a> Made<'a> {
    /// Starts a copy into `to`, which becomes an empty directory this copy holds the lock
    /// of (see [`destination`]).
    fn start(io: &'a dyn Io, to: &'a Path) -> Result<Self> {
        let (created, claim) = destination(to)?;
        Ok(Made {
            io,
            to,
            created,
            files: Vec::new(),
            done: false,
            _claim: claim,
        })
    }

    /// Notes a file about to be made (to remove it if the copy fails); returns its path.
    fn note(&mut self, path: PathBuf) -> PathBuf {
        self.files.push(path.clone());
        path
    }
}

impl Drop for Made<'_> {
    fn drop(&mut self) {
        if self.done {
            self.created.keep();
            return;
        }
        // Best effort: a half-made copy never opens as a tree anyway (see the module docs).
        for f in self.files.iter().rev() {
            let _ = self.io.remove(f);
        }
        let _ = self.io.remove(&self.to.join(SEGMENT_TMP));
        let _ = self.io.remove(&self.to.join(snapshot::TMP));
        // `created` removes its directories next (a field, dropped after this).
    }
}

/// Directories a checkpoint created (`to` first, then the parents that were missing),
/// removed when dropped, each only if empty (nothing put in one meanwhile is lost), unless
/// kept.
#[derive(Debug)]
struct CreatedDirs(Vec<PathBuf>);

impl CreatedDirs {
    fn keep(&mut self) {
        self.0.clear();
    }
}

impl Drop for CreatedDirs {
    fn drop(&mut self) {
        for dir in &self.0 {
            let _ = std::fs::remove_dir(dir);
        }
    }
}

/// Makes `to` an empty directory that this copy holds the lock of: created (with its
/// parents) when missing; then locked as a tree's directory is (`lock::lock_directory`), so
/// a second checkpoint into it, or a tree opening it, is refused until the copy is done;
/// then, under the lock, it must be empty (a second checkpoint that found it empty before
/// the first began finds it locked or holding files). Returns the directories it created
/// (`to` first, then the parents that were missing), and the lock.
fn destination(to: &Path) -> Result<(CreatedDirs, Option<Flock>)> {
    let mut missing = Vec::new();
    let mut dir = Some(to);
    while let Some(d) = dir.filter(|d| !d.as_os_str().is_empty()) {
        match std::fs::metadata(d) {
            Ok(_) => break,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => missing.push(d.to_path_buf()),
            Err(e) => return Err(io_at(d, e)),
        }
        dir = d.parent();
    }
    if !missing.is_empty() {
        std::fs::create_dir_all(to).map_err(|e| io_at(to, e))?;
    }
    let refused = |kind, why: &str| {
        Error::Io(std::io::Error::new(
            kind,
            format!(
                "{}: a checkpoint goes into a new or empty directory, and this one {why}; \
                 choose another",
                to.display()
            ),
        ))
    };
    let claim = match lock_directory(to) {
        Err(Error::Locked { .. }) => {
            return Err(refused(
                std::io::ErrorKind::ResourceBusy,
                "is being filled by another checkpoint, or a tree is open in it",
            ))
        }
        claim => claim?,
    };
    let mut entries = std::fs::read_dir(to).map_err(|e| io_at(to, e))?;
    if entries.next().is_some() {
        return Err(refused(std::io::ErrorKind::AlreadyExists, "holds files"));
    }
    // Ours to remove again only from here on, under the lock: a checkpoint refused above
    // may have found (or made) the directories another one is filling.
    Ok((CreatedDirs(missing), claim))
}

/// Copies the files of `plan` into `to` (see the module docs).
pub(crate) fn copy(io: &dyn Io, plan: &Plan, to: &Path) -> Result<()> {
    let mut made = Made::start(io, to)?;
    // Each file is noted before it is made: a failure half way removes it too.
    for (first, path) in &plan.sealed {
        let target = made.note(to.join(segment_name(*first)));
        link_or_copy(io, path, &target, SEGMENT_TMP)?;
    }
    let (first, path, len) = &plan.active;
    let target = made.note(to.join(segment_name(*first)));
    copy_prefix(io, path, &to.join(SEGMENT_TMP), &target, *len)?;
    let target = made.note(to.join(snapshot::FILE));
    let snapshot = plan.dir.join(snapshot::FILE);
    link_or_copy(io, &snapshot, &target, snapshot::TMP)?;
    io.sync_dir(to).map_err(|e| io_at(to, e))?;
    made.done = true;
    Ok(())
}

/// Writes `index` as the state at `version` into `to`: what a checkpoint of a tree without
/// a log of its own (in memory, or read-only) is. A new segment after it, then the snapshot
/// naming it, as a new directory starts.
pub(crate) fn write(io: &dyn Io, index: &Index<Record>, version: u64, to: &Path) -> Result<()> {
    let mut made = Made::start(io, to)?;
    let first = version
        .checked_add(1)
        .ok_or(Error::VersionsExhausted { version })?;
    made.note(to.join(segment_name(first)));
    create_segment(io, to, first, 0).map_err(|f| f.error)?;
    made.note(to.join(snapshot::FILE));
    snapshot::write(io, to, index, version, 0)?;
    made.done = true;
    Ok(())
}

/// Gives `from` the name `to` (a hard link), or copies it there where a link cannot be
/// made (through the temporary file `tmp` in `to`'s directory, so `to` appears only
/// whole). The linked file's contents were made durable by whoever wrote them; they are
/// fsynced again all the same, which costs nothing when they are.
fn link_or_copy(io: &dyn Io, from: &Path, to: &Path, tmp: &str) -> Result<()> {
    if io.hard_link(from, to).is_ok() {
        let file = File::open(to).map_err(|e| io_at(to, e))?;
        return io.sync(&file, to).map_err(|e| io_at(to, e));
    }
    let len = std::fs::metadata(from).map_err(|e| io_at(from, e))?.len();
    let dir = to.parent().unwrap_or_else(|| Path::new("."));
    copy_prefix(io, from, &dir.join(tmp), to, len)
}

/// Copies the first `len` bytes of `from` into `tmp`, fsyncs it and renames it to `to`.
fn copy_prefix(io: &dyn Io, from: &Path, tmp: &Path, to: &Path, len: u64) -> Result<()> {
    copy_into(io, from, tmp, len)?;
    io.rename(tmp, to).map_err(|e| io_at(to, e))
}

/// Copies the first `len` bytes of `from` into a new file `to`, and fsyncs it.
fn copy_into(io: &dyn Io, from: &Path, to: &Path, len: u64) -> Result<()> {
    let mut source = OpenOptions::new()
        .read(true)
        .open(from)
        .map_err(|e| io_at(from, e))?
        .take(len);
    let file = io.create(to).map_err(|e| io_at(to, e))?;
    let mut buf = vec![0; (1 << 20).min(len.max(1) as usize)];
    let mut copied = 0;
    loop {
        let n = source.read(&mut buf).map_err(|e| io_at(from, e))?;
        if n == 0 {
            break;
        }
        io.write(&file, to, &buf[..n]).map_err(|e| io_at(to, e))?;
        copied += n as u64;
    }
    if copied != len {
        return Err(Error::Io(std::io::Error::new(
            std::io::ErrorKind::UnexpectedEof,
            format!(
                "{}: holds {copied} bytes, fewer than the {len} the checkpoint copies",
                from.display()
            ),
        )));
    }
    io.sync(&file, to).map_err(|e| io_at(to, e))
}
