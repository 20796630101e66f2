//! Step 2 of a strict open: prove from the files found that the chain of versions is whole,
//! from the snapshot to the newest segment, or refuse with `Error::Corrupt`. Pure: reads
//! only what `find` read, changes nothing.
//!
//! The chain: `snapshot.acorn` (version `S`, or 0 without one) names `wal-<S+1>.log`; each
//! segment's header repeats the first version of its name; inside a segment every commit is
//! the previous one plus one; every segment but the newest ends with a seal naming the one
//! after it, which must exist and start there. So the newest segment cannot vanish
//! unnoticed: the segment before it names it, and with no segment before it the snapshot
//! does. Segments named at or before `S` are leftovers of a compaction that stopped before
//! deleting them: they are removed only once read whole and found to hold nothing after
//! `S`. Of the newest segment, only a final frame cut short by the end of the file is a
//! torn tail; everything else is damage.

use std::path::Path;

use super::super::frame;
use super::super::segment::{segment_name, Segment};
use super::super::snapshot;
use super::find::{End, Found, Scanned, SegmentFile};
use super::{name_of, range};
use crate::{Error, Result};

/// What the proof established, and what opening must tidy up.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct Chain {
    /// The snapshot's version (0 without one).
    pub(crate) base: u64,
    /// Whether there is a snapshot (a new tree has none yet).
    pub(crate) has_snapshot: bool,
    /// The segments of the chain, as indexes into `Found::segments`, oldest first; the last
    /// one takes new commits.
    pub(crate) links: Vec<usize>,
    /// Segments proven to hold nothing after the snapshot: to remove.
    pub(crate) leftovers: Vec<usize>,
    /// The empty newest segment of a cut of the log that stopped before sealing the segment
    /// before it: holds no commit; to remove, so the segment before it goes on.
    pub(crate) unfinished_cut: Option<usize>,
    /// A final frame cut short by the end of the file: to cut off and count.
    pub(crate) torn: Option<Torn>,
    /// The last version in the chain.
    pub(crate) seq: u64,
    /// Some file is in on-disk format 2: rewrite the directory in the current format.
    pub(crate) convert: bool,
}

/// An incomplete final frame: segment (index into `Found::segments`), offset, length.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Torn {
    pub(crate) segment: usize,
    pub(crate) at: u64,
    pub(crate) bytes: u64,
}

fn corrupt(path: &Path, offset: u64, reason: String) -> Error {
    Error::Corrupt {
        path: path.to_path_buf(),
        offset,
        reason,
    }
}

/// "versions a..=b are lost" up to the next segment's first version, or "from a on".
fn lost_from(from: u64, next: Option<u64>) -> String {
    match next {
        Some(next) if next > from => format!("versions {} are lost", range(from, next - 1)),
        Some(_) => "no versions are lost".into(),
        None => format!("versions from {from} on are lost"),
    }
}

/// Step 2 (strict): proves the chain whole; see the module comment.
pub(crate) fn prove(found: &Found, dir: &Path) -> Result<Chain> {
    let mut chain = Chain::default();
    snapshot_base(found, &mut chain)?;
    let scans = headers(found, &mut chain)?;
    let (leftovers, links): (Vec<usize>, Vec<usize>) =
        (0..found.segments.len()).partition(|&i| is_leftover(&chain, &found.segments[i]));
    for &i in &leftovers {
        proven_leftover(&found.segments[i], scans[i], chain.base)?;
    }
    chain.leftovers = leftovers;
    let mut walk = Walk {
        expect: chain.base + 1,
        before: if chain.has_snapshot {
            format!("{} ends at version {}", snapshot::FILE, chain.base)
        } else {
            "with no snapshot, the log must start at version 1".to_string()
        },
    };
    for (k, &i) in links.iter().enumerate() {
        let later = links.get(k + 1).map(|&j| &found.segments[j]);
        walk.starts_where_expected(&chain, &found.segments[i], scans[i], dir)?;
        chain.links.push(i);
        let second_last = k + 2 == links.len();
        let stop = walk.ends_rightly(
            &mut chain,
            (i, &found.segments[i], scans[i]),
            later,
            second_last,
            dir,
        )?;
        if stop {
            chain.unfinished_cut = Some(links[k + 1]);
            break;
        }
    }
    if chain.has_snapshot && chain.links.is_empty() {
        return Err(corrupt(
            &dir.join(segment_name(chain.base + 1)),
            0,
            format!(
                "missing: {} ends at version {} and names this segment as the next; \
                 versions from {} on are lost",
                snapshot::FILE,
                chain.base,
                chain.base + 1
            ),
        ));
    }
    chain.seq = walk.expect - 1;
    Ok(chain)
}

/// The snapshot: the chain's base, or damage.
fn snapshot_base(found: &Found, chain: &mut Chain) -> Result<()> {
    let Some(snap) = &found.snapshot else {
        return Ok(());
    };
    if let Some(d) = &snap.damage {
        let lost = match snap.loaded.last {
            Some(last) => format!(
                "the records after it are unreadable (the snapshot holds versions up to \
                 {last})"
            ),
            None => "none of its records can be read".into(),
        };
        return Err(corrupt(
            &snap.path,
            d.offset,
            format!("damaged at byte {} ({}); {lost}", d.offset, d.reason),
        ));
    }
    chain.has_snapshot = true;
    chain.base = snap.loaded.last.unwrap_or(0);
    chain.convert = snap.loaded.format < frame::FORMAT;
    Ok(())
}

/// Named at or before the snapshot's version: a compaction's leftover, if proven.
fn is_leftover(chain: &Chain, seg: &SegmentFile) -> bool {
    chain.has_snapshot && seg.named <= chain.base
}

/// Every segment's header: readable, and agreeing with its name.
fn headers<'a>(found: &'a Found, chain: &mut Chain) -> Result<Vec<&'a Scanned>> {
    let base = chain.base;
    let mut scans = Vec::with_capacity(found.segments.len());
    for (i, seg) in found.segments.iter().enumerate() {
        let next_named = found.segments.get(i + 1).map(|s| s.named);
        match &seg.contents {
            Err(d) if is_leftover(chain, seg) => {
                return Err(corrupt(
                    &seg.path,
                    d.offset,
                    format!(
                        "{}; its name puts it at or before {}'s version {base}, but it cannot \
                         be proven to hold nothing newer, so it is left in place",
                        d.reason,
                        snapshot::FILE
                    ),
                ))
            }
            Err(d) => {
                return Err(corrupt(
                    &seg.path,
                    d.offset,
                    format!("{}; {}", d.reason, lost_from(seg.named, next_named)),
                ))
            }
            Ok(s) if s.first != seg.named => {
                return Err(corrupt(
                    &seg.path,
                    0,
                    format!(
                        "its header says it starts at version {}, but its name says {} \
                         (renamed or copied?); versions {} are not where the chain looks for \
                         them",
                        s.first,
                        seg.named,
                        range(s.first, s.last().max(s.first))
                    ),
                ))
            }
            Ok(s) => {
                chain.convert |= s.format < frame::FORMAT;
                scans.push(s);
            }
        }
    }
    Ok(scans)
}

/// A leftover is removed only when read whole and holding nothing after `base`.
fn proven_leftover(seg: &SegmentFile, s: &Scanned, base: u64) -> Result<()> {
    let unproven = |offset: u64, what: String| {
        corrupt(
            &seg.path,
            offset,
            format!(
                "{what}; it starts at version {}, at or before {}'s version {base}, but \
                 cannot be proven to hold nothing newer, so it is left in place",
                s.first,
                snapshot::FILE
            ),
        )
    };
    match &s.end {
        End::Damaged(d) => Err(unproven(
            d.offset,
            format!("damaged at byte {} ({})", d.offset, d.reason),
        )),
        End::Cut(at) => Err(unproven(*at, format!("ends inside a frame at byte {at}"))),
        End::Open | End::Sealed(_) if s.last() > base => Err(corrupt(
            &seg.path,
            0,
            format!(
                "starts at version {}, at or before {}'s version {base}, but holds versions \
                 up to {}: it is no leftover of a compaction, and versions {} would be lost",
                s.first,
                snapshot::FILE,
                s.last(),
                range(base + 1, s.last())
            ),
        )),
        End::Open | End::Sealed(_) => Ok(()),
    }
}

/// Where the walk along the chain is: the version the next segment must start at, and
/// what precedes it (for messages).
struct Walk {
    expect: u64,
    before: String,
}

impl Walk {
    /// The segment starts exactly where the chain has got to.
    fn starts_where_expected(
        &self,
        chain: &Chain,
        seg: &SegmentFile,
        s: &Scanned,
        dir: &Path,
    ) -> Result<()> {
        let (expect, before) = (self.expect, &self.before);
        if s.first > expect {
            let missing = range(expect, s.first - 1);
            if !chain.has_snapshot && expect == 1 {
                return Err(corrupt(
                    &dir.join(snapshot::FILE),
                    0,
                    format!(
                        "missing: the log starts at version {}, so versions {missing} must be \
                         in a snapshot, and there is none (was {} or {} deleted?)",
                        s.first,
                        snapshot::FILE,
                        segment_name(1)
                    ),
                ));
            }
            return Err(corrupt(
                &dir.join(segment_name(expect)),
                0,
                format!(
                    "missing: versions {missing} are in no file ({before}, and the next \
                     segment, {}, starts at version {})",
                    name_of(&seg.path),
                    s.first
                ),
            ));
        }
        if s.first < expect {
            return Err(corrupt(
                &seg.path,
                0,
                format!(
                    "starts at version {}, but {before}: it does not follow (it repeats \
                     versions {})",
                    s.first,
                    range(s.first, expect - 1)
                ),
            ));
        }
        Ok(())
    }

    /// The segment (index `i` into `Found::segments`) ends as its place demands: the
    /// newest unsealed or cut short (a torn tail), any other sealed, naming the one after
    /// it. Returns true when it is the end of an unfinished cut (the walk stops: `later`,
    /// the last segment, is empty and goes).
    fn ends_rightly(
        &mut self,
        chain: &mut Chain,
        (i, seg, s): (usize, &SegmentFile, &Scanned),
        later: Option<&SegmentFile>,
        second_last: bool,
        dir: &Path,
    ) -> Result<bool> {
        let next_first = s.last() + 1;
        let torn = |at: u64| Torn {
            segment: i,
            at,
            bytes: seg.len - at,
        };
        // A cut of the log that stopped after putting the new segment in place and before
        // sealing this one (or while sealing it: a torn seal). Format 2 sealed nothing.
        let unfinished_cut = s.format >= 3
            && second_last
            && later.is_some_and(|l| {
                l.normal()
                    .is_some_and(|n| n.first == next_first && n.is_pristine())
            });
        let mut stop = false;
        match (&s.end, later) {
            (End::Damaged(d), _) => {
                return Err(corrupt(
                    &seg.path,
                    d.offset,
                    format!(
                        "damaged at byte {} ({}); {} bytes after it dropped, {}",
                        d.offset,
                        d.reason,
                        seg.len.saturating_sub(d.offset),
                        lost_from(next_first, later.map(|l| l.named))
                    ),
                ))
            }
            (End::Sealed(next), None) => {
                return Err(corrupt(
                    &dir.join(segment_name(*next)),
                    0,
                    format!(
                        "missing: {} is sealed and names this segment as the one after it; \
                         versions from {next} on are lost",
                        name_of(&seg.path)
                    ),
                ))
            }
            (End::Sealed(_), Some(_)) | (End::Open, None) => {}
            (End::Cut(at), None) => chain.torn = Some(torn(*at)),
            (End::Open, Some(_)) if s.format < 3 => {}
            (End::Open | End::Cut(_), Some(_)) if unfinished_cut => {
                if let End::Cut(at) = s.end {
                    chain.torn = Some(torn(at));
                }
                stop = true;
            }
            (End::Cut(at), Some(l)) => {
                return Err(corrupt(
                    &seg.path,
                    *at,
                    format!(
                        "ends inside a frame at byte {at}, but {} follows it; {}",
                        name_of(&l.path),
                        lost_from(next_first, Some(l.named))
                    ),
                ))
            }
            (End::Open, Some(l)) => {
                return Err(corrupt(
                    &seg.path,
                    seg.len,
                    format!(
                        "ends at version {} without the seal that names the segment after \
                         it, but {} follows it (the file was cut short?); {}",
                        s.last(),
                        name_of(&l.path),
                        lost_from(next_first, Some(l.named))
                    ),
                ))
            }
        }
        self.expect = next_first;
        self.before = format!("{} ends at version {}", name_of(&seg.path), s.last());
        Ok(stop)
    }
}

/// The segments a proven chain leaves to the log, oldest first, with their lengths once
/// the torn tail is cut.
pub(crate) fn kept_segments(found: &Found, chain: &Chain) -> Vec<Segment> {
    chain
        .links
        .iter()
        .map(|&i| {
            let seg = &found.segments[i];
            let bytes = match chain.torn {
                Some(t) if t.segment == i => t.at,
                _ => seg.len,
            };
            Segment {
                path: seg.path.clone(),
                first: seg.named,
                bytes,
            }
        })
        .collect()
}
