//! Following a directory another process writes, read-only (`Tree::open_read_only`): never
//! a write, a removal or the writer's lock; every file is only read.
//!
//! **Opening** reads the directory as recovery does (find, prove, replay: steps 1 to 3) and
//! changes nothing. A writer may be appending and compacting meanwhile, so a read can see a
//! segment removed under it or a new snapshot renamed in between two files; then the chain
//! does not prove, and the read is tried again. A failure is reported only once the
//! directory stayed the same across the failed read (the same files, lengths and inodes):
//! then it is no race but real damage. A view that proves is right, whenever its files
//! were read: the snapshot is a whole state at its version (renamed in whole), sealed
//! segments never change, the active one only grows by whole frames (a frame being written
//! is cut short by the end of the file and not read), and the chain proves every version
//! from the snapshot's to the last one read is there.
//!
//! **Refreshing** goes on from the frame boundary where reading stopped: new commits of the
//! segment being read, its seal, then the segment the seal names. When the segment is gone
//! (a compaction removed it), or what follows cannot be proven to continue the view, the
//! directory is read again as at opening ([`Refresh::Reload`]).

use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::time::Duration;

use super::frame::{self, HeadError, Next};
use super::log_reader::LogReader;
use super::segment::{self, segment_name};
use super::{io_at, recovery, snapshot, Commits, FileId, Recovered, Unreadable};
use crate::{Error, Result};

/// A read-only view's place in a directory.
#[derive(Debug)]
pub(crate) struct Follower {
    dir: PathBuf,
    /// The segment being read (path, first version) and the offset after its last whole
    /// commit read; `None` before the first segment exists.
    at: Option<(PathBuf, u64, u64)>,
    /// The last version read.
    seq: u64,
}

/// What a refresh found.
#[derive(Debug)]
pub(crate) enum Refresh {
    /// The commits after the view's version, in order (none when nothing is new).
    Commits(Commits),
    /// The directory as it is now, read whole: the view could not be followed commit by
    /// commit (a compaction removed the segment it was reading).
    Reload(Recovered),
}

/// How many times a read that raced with the writer is tried again.
const ATTEMPTS: u32 = 100;

impl Follower {
    /// Reads `dir` (see the module docs); errors when it holds no tree, or is damaged.
    pub(crate) fn open(dir: &Path) -> Result<(Follower, Recovered)> {
        let mut follower = Follower {
            dir: dir.to_path_buf(),
            at: None,
            seq: 0,
        };
        let recovered = follower.read_whole()?;
        Ok((follower, recovered))
    }

    /// The commits the writer added since the last read, or the whole directory again.
    pub(crate) fn refresh(&mut self) -> Result<Refresh> {
        match self.follow() {
            Ok(Some(commits)) => Ok(Refresh::Commits(commits)),
            // Not followable, or damaged: whatever the directory holds now, proven whole.
            Ok(None) | Err(Error::Corrupt { .. }) => Ok(Refresh::Reload(self.read_whole()?)),
            Err(e) => Err(e),
        }
    }

    /// Reads the whole directory, trying again while a writer changes it under the read.
    fn read_whole(&mut self) -> Result<Recovered> {
        let mut attempt = 0;
        loop {
            let before = fingerprint(&self.dir)?;
            let error = match recovery::read_only(&self.dir) {
                Ok(replay) => {
                    self.seq = replay.seq;
                    self.at = replay.active.map(|s| (s.path, s.first, s.bytes));
                    return Ok(Recovered {
                        records: replay.records,
                        frames: replay.frames,
                        seq: replay.seq,
                    });
                }
                Err(e @ Error::Corrupt { .. }) => e,
                Err(Error::Io(e)) if e.kind() == std::io::ErrorKind::NotFound => Error::Io(e),
                Err(e) => return Err(e),
            };
            attempt += 1;
            if attempt >= ATTEMPTS || fingerprint(&self.dir)? == before {
                return Err(error);
            }
            std::thread::sleep(Duration::from_millis(u64::from(attempt.min(10))));
        }
    }

    /// Reads on from where the view stopped. `None`: the view cannot be followed (its
    /// segment is gone, or what comes next does not continue it). The view's place moves
    /// only when the commits are returned.
    fn follow(&mut self) -> Result<Option<Commits>> {
        let mut commits = Vec::new();
        let mut seq = self.seq;
        let mut place = self.at.clone();
        loop {
            let (path, first, offset) = match &place {
                Some(at) => at.clone(),
                // No segment yet (a directory being created): the first one to come.
                None => (self.dir.join(segment_name(seq + 1)), seq + 1, 0),
            };
            let mut file = match File::open(&path) {
                Ok(f) => f,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                    if place.is_none() {
                        break;
                    }
                    // Compacted away after the view's last commit was read from it? Then the
                    // next version starts a segment of its own.
                    let next = self.dir.join(segment_name(seq + 1));
                    if first != seq + 1 && next.exists() {
                        place = Some((next, seq + 1, 0));
                        continue;
                    }
                    return Ok(None);
                }
                Err(e) => return Err(io_at(&path, e)),
            };
            let mut data = Vec::new();
            file.seek(SeekFrom::Start(offset))
                .and_then(|_| file.read_to_end(&mut data))
                .map_err(|e| io_at(&path, e))?;
            let mut at = 0;
            if offset == 0 {
                match check_head(&data, first, seq, &path)? {
                    Head::Starts(next) => at = next,
                    Head::NotWritten => break,
                    Head::Unfollowable => return Ok(None),
                }
            }
            match read_commits(&data, &mut at, &mut seq, &mut commits) {
                Tail::Sealed(next) => {
                    place = Some((self.dir.join(segment_name(next)), next, 0));
                    continue;
                }
                Tail::Open => {}
                Tail::Unfollowable => return Ok(None),
            }
            place = Some((path, first, offset + at as u64));
            break;
        }
        self.seq = seq;
        self.at = place;
        Ok(Some(commits))
    }
}

/// What a segment read from its start begins with.
enum Head {
    /// The head of the segment the view needs: its commits start at this offset.
    Starts(usize),
    /// No head yet: a segment is renamed into place whole, so only a directory being
    /// created has this.
    NotWritten,
    /// Another segment, or damage: the view cannot be followed.
    Unfollowable,
}

/// Checks the head of the segment `path` (read from its start into `data`): it must be the
/// segment `first`, and that must be the next version after the view's `seq`.
fn check_head(data: &[u8], first: u64, seq: u64, path: &Path) -> Result<Head> {
    match frame::next(data, 0) {
        Next::Frame(payload, next) => match frame::decode_segment_head(payload) {
            Ok((f, _, _)) if f == first && f == seq + 1 => Ok(Head::Starts(next)),
            Ok(_) | Err(HeadError::Bad(_)) => Ok(Head::Unfollowable),
            Err(HeadError::Format(f)) => Err(Unreadable::Format(f).into_error(path)),
            Err(HeadError::Flags(f)) => Err(Unreadable::Flags(f).into_error(path)),
        },
        Next::End | Next::Incomplete => Ok(Head::NotWritten),
        Next::Bad(_) => Ok(Head::Unfollowable),
    }
}

/// Where reading a segment's commits stopped.
enum Tail {
    /// At its end, or before a frame still being written.
    Open,
    /// At its seal, which names the first version of the next segment.
    Sealed(u64),
    /// At a frame that does not continue the view.
    Unfollowable,
}

/// Reads the commits in `data` from `*at` that continue the view at `*seq`, into `commits`,
/// moving `*at` and `*seq` past each one.
fn read_commits(data: &[u8], at: &mut usize, seq: &mut u64, commits: &mut Commits) -> Tail {
    loop {
        match frame::next(data, *at) {
            Next::Frame(payload, next) if frame::is_seal(payload) => {
                return match frame::decode_seal(payload) {
                    Ok((last, following)) if last == *seq => {
                        *at = next;
                        Tail::Sealed(following)
                    }
                    _ => Tail::Unfollowable,
                };
            }
            Next::Frame(payload, next) => match frame::decode_commit(payload) {
                Ok((version, changes)) if version == *seq + 1 => {
                    commits.push((version, changes));
                    *seq = version;
                    *at = next;
                }
                _ => return Tail::Unfollowable,
            },
            // The end, or a frame still being written: stop before it.
            Next::End | Next::Incomplete => return Tail::Open,
            Next::Bad(_) => return Tail::Unfollowable,
        }
    }
}

/// The commits of versions `after + 1 ..= until` from the log of `dir` as it is now, for a
/// read-only tree's change feed.
pub(crate) fn read_feed(reader: &LogReader, dir: &Path, after: u64, until: u64) -> Result<Commits> {
    super::read_log(
        reader,
        || snapshot::version_in(dir),
        || segment::list(dir),
        after,
        until,
    )
}

/// What a writer changes in a directory: the data files' names, lengths and identities.
fn fingerprint(dir: &Path) -> Result<Vec<(String, u64, FileId)>> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(|e| io_at(dir, e))? {
        let entry = entry.map_err(|e| io_at(dir, e))?;
        let name = entry.file_name().to_string_lossy().into_owned();
        let data = name == snapshot::FILE || segment::parse_segment(&name).is_some();
        if !data {
            continue;
        }
        // A file removed between the listing and this look is a change too.
        let (len, id) = match entry.metadata() {
            Ok(m) => (m.len(), FileId::of(&m)),
            Err(_) => (u64::MAX, FileId::default()),
        };
        files.push((name, len, id));
    }
    files.sort_by(|a, b| a.0.cmp(&b.0));
    Ok(files)
}
