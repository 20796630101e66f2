//! The ways a file is damaged: deleted, emptied, cut, bit-flipped (header and body; first,
//! middle, last frame), zeroed, renamed, copied, overwritten.

use std::ffi::OsString;
use std::fs;
use std::path::{Path, PathBuf};

use crate::states::State;
use crate::support::{copy_dir, data_files};

/// One kind of damage to one file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Damage {
    Delete,
    Empty,
    /// Cut to half its length.
    CutHalf,
    CutLastByte,
    /// Cut at the start of its last whole frame (at a frame boundary).
    CutLastFrame,
    /// A flipped bit in the payload of its header frame.
    FlipHeader,
    /// A flipped bit in the first, middle or last frame after the header.
    FlipFirst,
    FlipMiddle,
    FlipLast,
    /// A flipped bit in the frame header (the length) of its header frame, of the first,
    /// middle or last frame after it.
    FlipHeaderLength,
    FlipFirstLength,
    FlipMiddleLength,
    FlipLastLength,
    /// Its last frame's bytes all zero.
    ZeroLast,
    /// Its last four bytes zero.
    ZeroEnd,
    /// Renamed to a segment name at or below the snapshot's version.
    RenameBelow,
    /// Renamed to a segment name past every version.
    RenameAbove,
    /// Renamed to a name that is no data file's.
    RenameAway,
    /// Copied to a segment name at or below the snapshot's version.
    CopyBelow,
    /// Copied to a segment name past every version.
    CopyAbove,
    /// Overwritten with the bytes of another data file.
    Overwrite,
}

impl Damage {
    pub const ALL: [Damage; 21] = [
        Damage::Delete,
        Damage::Empty,
        Damage::CutHalf,
        Damage::CutLastByte,
        Damage::CutLastFrame,
        Damage::FlipHeader,
        Damage::FlipFirst,
        Damage::FlipMiddle,
        Damage::FlipLast,
        Damage::FlipHeaderLength,
        Damage::FlipFirstLength,
        Damage::FlipMiddleLength,
        Damage::FlipLastLength,
        Damage::ZeroLast,
        Damage::ZeroEnd,
        Damage::RenameBelow,
        Damage::RenameAbove,
        Damage::RenameAway,
        Damage::CopyBelow,
        Damage::CopyAbove,
        Damage::Overwrite,
    ];

    /// Cuts the file's end short: after a crash mid-append the log looks the same.
    pub fn cuts_the_end(self) -> bool {
        matches!(
            self,
            Damage::CutHalf | Damage::CutLastByte | Damage::CutLastFrame
        )
    }
}

/// Where each frame of `data` starts, up to the first that does not fit.
pub fn frame_starts(data: &[u8]) -> Vec<usize> {
    let mut starts = Vec::new();
    let mut at = 0;
    while at + 12 <= data.len() {
        let len = u32::from_le_bytes(data[at..at + 4].try_into().unwrap()) as usize;
        if at + 12 + len > data.len() {
            break;
        }
        starts.push(at);
        at += 12 + len;
    }
    starts
}

/// The version a snapshot file's header records (0 when unreadable).
pub fn snapshot_version(path: &Path) -> u64 {
    fs::read(path)
        .ok()
        .filter(|d| d.len() >= 39)
        .map_or(0, |d| u64::from_le_bytes(d[31..39].try_into().unwrap()))
}

fn segment_name(first: u64) -> String {
    format!("wal-{first:020}.log")
}

/// Does `damage` to `file` in `dir`; returns the file's new path when it was renamed or
/// copied, `None` when `damage` does not apply to it. `other` is another data file,
/// `below` and `above` unused segment first versions.
pub fn apply(
    damage: Damage,
    file: &Path,
    other: Option<&Path>,
    below: Option<u64>,
    above: u64,
) -> Option<PathBuf> {
    let data = fs::read(file).unwrap();
    match damage {
        Damage::Delete => fs::remove_file(file).unwrap(),
        Damage::Overwrite => fs::copy(other?, file).map(|_| ()).unwrap(),
        Damage::RenameBelow
        | Damage::RenameAbove
        | Damage::RenameAway
        | Damage::CopyBelow
        | Damage::CopyAbove => return relocate(damage, file, below, above),
        _ => rewrite(damage, file, &data)?,
    }
    Some(file.to_path_buf())
}

/// The frames of a file's bytes, and the frames after its header frame.
struct Frames<'a> {
    data: &'a [u8],
    frames: Vec<usize>,
    body: Vec<usize>,
}

impl Frames<'_> {
    /// Where the chosen frame (0 first, 1 middle, else last; the header frame when it is
    /// alone) starts.
    fn start_of(&self, which: usize) -> usize {
        let list = if self.body.is_empty() {
            &self.frames
        } else {
            &self.body
        };
        match which {
            0 => list[0],
            1 => list[list.len() / 2],
            _ => list[list.len() - 1],
        }
    }

    /// A byte in the middle of the chosen frame's payload.
    fn pick(&self, which: usize) -> usize {
        let start = self.start_of(which);
        let end = (self.frames.iter())
            .find(|s| **s > start)
            .copied()
            .unwrap_or(self.data.len());
        (start + 12 + end) / 2
    }
}

/// Cuts, flips or zeroes bytes of `file` (holding `data`); `None` when `damage` does not
/// apply to it.
fn rewrite(damage: Damage, file: &Path, data: &[u8]) -> Option<()> {
    let frames = frame_starts(data);
    let body: Vec<usize> = frames.iter().skip(1).copied().collect();
    let f = Frames { data, frames, body };
    let frames = &f.frames;
    let flip = |at: usize| {
        let mut d = data.to_vec();
        let at = at.min(d.len() - 1);
        d[at] ^= 0x10;
        fs::write(file, d).unwrap();
    };
    match damage {
        Damage::Empty => fs::write(file, b"").unwrap(),
        Damage::CutHalf => fs::write(file, &data[..data.len() / 2]).unwrap(),
        Damage::CutLastByte => fs::write(file, &data[..data.len() - 1]).unwrap(),
        Damage::CutLastFrame => {
            let last = *frames.last()?;
            if last == 0 {
                return None;
            }
            fs::write(file, &data[..last]).unwrap();
        }
        Damage::FlipHeader => flip(frames.first().map_or(0, |s| s + 16)),
        Damage::FlipFirst if !frames.is_empty() => flip(f.pick(0)),
        Damage::FlipMiddle if !frames.is_empty() => flip(f.pick(1)),
        Damage::FlipLast if !frames.is_empty() => flip(f.pick(2)),
        Damage::FlipHeaderLength => flip(*frames.first()? + 1),
        Damage::FlipFirstLength if !frames.is_empty() => flip(f.start_of(0) + 1),
        Damage::FlipMiddleLength if !frames.is_empty() => flip(f.start_of(1) + 1),
        Damage::FlipLastLength => flip(*frames.last()? + 1),
        Damage::ZeroLast => {
            let last = *frames.last()?;
            let mut d = data.to_vec();
            d[last..].fill(0);
            fs::write(file, d).unwrap();
        }
        Damage::ZeroEnd => {
            let mut d = data.to_vec();
            let n = d.len();
            d[n.saturating_sub(4)..].fill(0);
            fs::write(file, d).unwrap();
        }
        _ => return None,
    }
    Some(())
}

/// Renames or copies `file` (a segment to another segment name, a snapshot next to
/// itself as its temporary file, any file away); returns where to, `None` when `damage`
/// does not apply to it.
fn relocate(damage: Damage, file: &Path, below: Option<u64>, above: u64) -> Option<PathBuf> {
    let dir = file.parent().unwrap();
    let is_segment = file
        .file_name()
        .unwrap()
        .to_str()
        .unwrap()
        .starts_with("wal-");
    let to = match damage {
        Damage::RenameBelow | Damage::CopyBelow if is_segment => {
            let to = dir.join(segment_name(below?));
            if to.exists() {
                return None;
            }
            to
        }
        Damage::RenameAbove | Damage::CopyAbove if is_segment => dir.join(segment_name(above)),
        Damage::RenameAway => dir.join("moved-away"),
        Damage::CopyAbove => {
            // A snapshot copied: next to it, as its own temporary file.
            let to = dir.join("snapshot.tmp");
            if to.exists() {
                return None;
            }
            to
        }
        _ => return None,
    };
    if matches!(
        damage,
        Damage::RenameBelow | Damage::RenameAbove | Damage::RenameAway
    ) {
        fs::rename(file, &to).unwrap();
    } else {
        fs::copy(file, &to).unwrap();
    }
    Some(to)
}

/// One file of a state damaged one way, in a copy of the state's directory.
pub struct Damaged {
    pub kind: Damage,
    /// The copy of the state's directory that holds the damage.
    pub copy: tempfile::TempDir,
    /// The damaged file's name.
    pub name: OsString,
    /// The file's path in the copy, and its path after the damage (see [`apply`]).
    pub original: PathBuf,
    pub renamed: PathBuf,
    /// How a failure names it: the state, the file, the damage.
    pub what: String,
}

/// Calls `f` with every data file of `state` damaged every way ([`Damage::ALL`]) that
/// applies to it, each in its own copy of the state's directory.
pub fn each_way(state: &State, mut f: impl FnMut(Damaged)) {
    let files = data_files(state.dir.path());
    let snapshot_at = snapshot_version(&state.dir.path().join("snapshot.acorn"));
    let last = *state.acked.last().unwrap();
    for file in &files {
        let name = file.file_name().unwrap();
        let other = files
            .iter()
            .rfind(|f| *f != file && f.file_name().unwrap() != "snapshot.tmp");
        for kind in Damage::ALL {
            let copy = copy_dir(state.dir.path());
            let original = copy.path().join(name);
            let other = other.map(|o| copy.path().join(o.file_name().unwrap()));
            let below = (snapshot_at >= 2).then_some(snapshot_at / 2);
            let Some(renamed) = apply(kind, &original, other.as_deref(), below, last + 1000) else {
                continue;
            };
            let what = format!("{}: {} {kind:?}", state.name, name.to_string_lossy());
            f(Damaged {
                kind,
                copy,
                name: name.to_owned(),
                original,
                renamed,
                what,
            });
        }
    }
}
