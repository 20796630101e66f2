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
    /// The segment being read; `None` before the first segment exists.
    at: Option<Place>,
    /// The last version read.
    seq: u64,
    /// Why refreshing stopped for good: the directory went back before the view (restored
    /// or replaced meanwhile), so no later state of it continues the view.
    refused: Option<String>,
}

/// Where reading a segment stopped.
#[derive(Clone, Debug)]
struct Place {
    path: PathBuf,
    /// The segment's first version.
    first: u64,
    /// The offset after its last whole commit read.
    offset: u64,
    /// The file read (a segment of the same name in a directory restored or replaced
    /// meanwhile is another file, whose bytes at `offset` continue nothing).
    id: FileId,
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
            refused: None,
        };
        let (recovered, at) = follower.read_whole()?;
        follower.seq = recovered.seq;
        follower.at = at;
        Ok((follower, recovered))
    }

    /// The commits the writer added since the view's version `view`, or the whole
    /// directory again. A directory that went back before the view is refused, by this
    /// refresh and every later one; the view's place stays as it was.
    pub(crate) fn refresh(&mut self, view: u64) -> Result<Refresh> {
        if let Some(reason) = &self.refused {
            return Err(self.refusal(reason.clone()));
        }
        match self.follow() {
            Ok(Some(commits)) => Ok(Refresh::Commits(commits)),
            // Not followable, or damaged: whatever the directory holds now, proven whole.
            Ok(None) | Err(Error::Corrupt { .. }) => {
                let (recovered, at) = self.read_whole()?;
                if recovered.seq < view {
                    let reason = format!(
                        "the directory now ends at version {}, before this read-only view's \
                         {view}: it was restored, replaced or salvaged meanwhile; open it \
                         read-only again",
                        recovered.seq
                    );
                    self.refused = Some(reason.clone());
                    return Err(self.refusal(reason));
                }
                self.seq = recovered.seq;
                self.at = at;
                Ok(Refresh::Reload(recovered))
            }
            Err(e) => Err(e),
        }
    }

    fn refusal(&self, reason: String) -> Error {
        Error::Corrupt {
            path: self.dir.clone(),
            offset: 0,
            reason,
        }
    }

    /// Reads the whole directory, trying again while a writer changes it under the read;
    /// with the place after its last commit.
    fn read_whole(&self) -> Result<(Recovered, Option<Place>)> {
        let mut attempt = 0;
        loop {
            let before = fingerprint(&self.dir)?;
            let error = match recovery::read_only(&self.dir) {
                Ok(replay) => {
                    let at = replay.active.map(|s| {
                        // The file as listed before the read: a file replaced since has
                        // another identity, and the next refresh reads the directory again.
                        let name = s.path.file_name().map(|n| n.to_string_lossy().into_owned());
                        let id = before
                            .iter()
                            .find(|(n, _, _)| Some(n) == name.as_ref())
                            .map_or_else(FileId::default, |f| f.2);
                        Place {
                            path: s.path,
                            first: s.first,
                            offset: s.bytes,
                            id,
                        }
                    });
                    let recovered = Recovered {
                        records: replay.records,
                        frames: replay.frames,
                        seq: replay.seq,
                    };
                    return Ok((recovered, at));
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
            let (path, first, offset, id) = match &place {
                Some(at) => (at.path.clone(), at.first, at.offset, at.id),
                // No segment yet (a directory being created): the first one to come.
                None => (
                    self.dir.join(segment_name(seq + 1)),
                    seq + 1,
                    0,
                    FileId::default(),
                ),
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
                        place = Some(Place {
                            path: next,
                            first: seq + 1,
                            offset: 0,
                            id: FileId::default(),
                        });
                        continue;
                    }
                    return Ok(None);
                }
                Err(e) => return Err(io_at(&path, e)),
            };
            let meta = file.metadata().map_err(|e| io_at(&path, e))?;
            let opened = FileId::of(&meta);
            if offset > 0 && (opened != id || meta.len() < offset) {
                // Another file under the segment's name (a segment only grows): the
                // directory was replaced.
                return Ok(None);
            }
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
                    place = Some(Place {
                        path: self.dir.join(segment_name(next)),
                        first: next,
                        offset: 0,
                        id: FileId::default(),
                    });
                    continue;
                }
                Tail::Open => {}
                Tail::Unfollowable => return Ok(None),
            }
            place = Some(Place {
                path,
                first,
                offset: offset + at as u64,
                id: opened,
            });
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
