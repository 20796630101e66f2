//! Step 2 of a salvage (`RecoveryMode::Salvage`, taken only when the strict proof refused):
//! keep every commit that can be read, wherever it is, and say exactly what was dropped.
//! Pure: reads only what `find` read, changes nothing.
//!
//! Segments are read by their headers, not their names, so a renamed or copied segment
//! still gives its commits. Versions after the snapshot's are taken from every readable
//! segment (a version found twice is taken from the first file in name order whose name
//! agrees with its header) and applied in version order; each run of versions found in no
//! file is one `dropped versions a..=b` line of the report, and when something unreadable
//! could have held versions after the last one kept, one line says `dropped versions after
//! K, how many is unknown`. A strict open afterwards holds exactly what the report leaves.

use std::collections::BTreeMap;
use std::path::PathBuf;

use super::super::segment::segment_name;
use super::super::snapshot;
use super::find::{End, Found, Resumed, SegmentFile, SnapshotFile};
use super::{name_of, range};
use crate::record::{Change, Record};

/// What salvage keeps, what it drops, and what it does with each file.
#[derive(Debug, Default)]
pub(crate) struct Salvaged {
    /// The snapshot's readable records.
    pub(crate) records: Vec<Record>,
    /// Readable commits after the snapshot, in version order.
    pub(crate) commits: Vec<(u64, Vec<Change>)>,
    /// The last version known, kept or dropped: the log goes on after it.
    pub(crate) seq: u64,
    /// One line per file or run of versions dropped (see the module comment).
    pub(crate) report: Vec<String>,
    /// Versions known lost: the sum of the `dropped versions` runs.
    pub(crate) versions_dropped: u64,
    /// Bytes that could not be used.
    pub(crate) bytes_dropped: u64,
    /// The newest segment's incomplete final frame: (segment, offset, bytes).
    pub(crate) torn: Option<(PathBuf, u64, u64)>,
    /// Damaged, renamed or copied files: moved, whole, out of the way.
    pub(crate) set_aside: Vec<PathBuf>,
    /// Segments read whole whose commits the new snapshot holds: removed.
    pub(crate) redundant: Vec<PathBuf>,
}

/// A segment whose reading stopped early: what it gave and where it stopped.
struct Stopped {
    first: u64,
    last: u64,
    why: String,
}

/// What the snapshot gave.
#[derive(Default)]
struct Base {
    /// Its version (0 without a readable header).
    version: u64,
    /// No snapshot to start from: versions from 1 on must come from the log.
    lost: bool,
    /// A snapshot whose header could not be read: it held versions nobody can name.
    unreadable: bool,
}

/// What the segments gave.
#[derive(Default)]
struct Readings {
    commits: BTreeMap<u64, Vec<Change>>,
    /// Segments whose header could not be read.
    unreadable: Vec<String>,
    stopped: Vec<Stopped>,
    /// Last versions of segments read to an unsealed end (or a torn tail).
    open_ends: Vec<u64>,
    /// (last version, name) of sealed segments.
    sealed_ends: Vec<(u64, String)>,
    /// A segment's header proves the versions before it existed: (first - 1, its name).
    bound: (u64, String),
}

/// Step 2 (salvage): see the module comment.
pub(crate) fn plan(found: Found) -> Salvaged {
    let mut out = Salvaged::default();
    let base = from_snapshot(found.snapshot, &mut out);
    let mut readings = read_segments(found.segments, base.version, &mut out);
    out.seq = runs_dropped(&readings, &base, &mut out);
    unknown_tail(&readings, &base, &mut out);
    out.commits = std::mem::take(&mut readings.commits).into_iter().collect();
    out
}

/// The snapshot's readable records, and a report line when it is damaged.
fn from_snapshot(snap: Option<SnapshotFile>, out: &mut Salvaged) -> Base {
    let mut base = Base {
        lost: true,
        ..Base::default()
    };
    let Some(snap) = snap else {
        return base;
    };
    let name = name_of(&snap.path);
    match (snap.loaded.last, snap.damage) {
        (Some(last), None) => {
            base = Base {
                version: last,
                ..Base::default()
            };
            out.records = snap.loaded.records;
        }
        (Some(last), Some(d)) => {
            base = Base {
                version: last,
                ..Base::default()
            };
            let kept = snap.loaded.records.len() as u64;
            let lost = match snap.loaded.declared {
                Some(n) => format!("dropped {} of its {n} records", n.saturating_sub(kept)),
                None => format!("dropped an unknown number of its records (kept {kept})"),
            };
            out.report.push(format!(
                "{name}: damaged at byte {} ({}); {lost}, of versions up to {last}",
                d.offset, d.reason
            ));
            out.bytes_dropped += snap.loaded.dropped_bytes;
            out.set_aside.push(snap.path);
            out.records = snap.loaded.records;
        }
        (None, damage) => {
            let why = damage.map_or_else(
                || "no header".to_string(),
                |d| format!("{} at byte {}", d.reason, d.offset),
            );
            out.report.push(format!(
                "{name}: unreadable ({why}); dropped every record in it"
            ));
            out.bytes_dropped += snap.len;
            out.set_aside.push(snap.path);
            base.unreadable = true;
        }
    }
    base
}

/// Every segment's commits after `base`, by version (files whose name agrees with their
/// header first), and a report line for each damaged, cut or renamed one.
fn read_segments(segments: Vec<SegmentFile>, base: u64, out: &mut Salvaged) -> Readings {
    let mut r = Readings {
        bound: (base, String::new()),
        ..Readings::default()
    };
    let newest_name = segments.last().map(|s| s.named);
    let (normal, other): (Vec<_>, Vec<_>) =
        segments.into_iter().partition(|s| s.normal().is_some());
    for seg in normal.into_iter().chain(other) {
        read_segment(seg, newest_name, base, &mut r, out);
    }
    r
}

/// One segment of [`read_segments`]: its commits after `base` into `r`, its end judged
/// (whole, torn at the end of the newest, cut or damaged), the file marked redundant or set
/// aside.
fn read_segment(
    seg: SegmentFile,
    newest_name: Option<u64>,
    base: u64,
    r: &mut Readings,
    out: &mut Salvaged,
) {
    let name = name_of(&seg.path);
    let s = match seg.contents {
        Ok(s) => s,
        Err(d) => {
            out.report.push(format!(
                "{name}: {}; its {} bytes are unreadable",
                d.reason, seg.len
            ));
            out.bytes_dropped += seg.len;
            out.set_aside.push(seg.path);
            r.unreadable.push(name);
            return;
        }
    };
    if s.first - 1 > r.bound.0 {
        r.bound = (s.first - 1, name.clone());
    }
    let renamed = s.first != seg.named;
    if renamed {
        out.report.push(format!(
            "{name}: its header says it starts at version {} (renamed or copied?); its \
                 commits were read by their versions",
            s.first
        ));
    }
    let last = s.last();
    let seg_at = SegmentAt {
        name: &name,
        path: &seg.path,
        len: seg.len,
        first: s.first,
        last,
        // Whole if it ends as it should, and is where its name says.
        in_place: !renamed,
        newest: Some(seg.named) == newest_name,
    };
    let whole = judge_end(&s.end, s.resumed.is_some(), &seg_at, r, out);
    let mut frames = s.frames;
    if let Some(resumed) = s.resumed {
        read_on(resumed, &name, seg.len, s.first, r, out, &mut frames);
    }
    for (version, changes) in frames {
        if version > base {
            r.commits.entry(version).or_insert(changes);
        }
    }
    if whole {
        out.redundant.push(seg.path);
    } else {
        out.set_aside.push(seg.path);
    }
}

/// A segment whose end [`judge_end`] judges.
struct SegmentAt<'a> {
    name: &'a str,
    path: &'a std::path::Path,
    len: u64,
    first: u64,
    last: u64,
    in_place: bool,
    newest: bool,
}

/// Judges how a segment ends (whole, torn at the end of the newest, cut or damaged) into
/// the report and `r`; returns whether it was read whole.
fn judge_end(
    end: &End,
    resumed: bool,
    seg: &SegmentAt<'_>,
    r: &mut Readings,
    out: &mut Salvaged,
) -> bool {
    let name = seg.name;
    let mut stopped = |at: u64, why: String, what: String| {
        out.report.push(format!(
            "{why}{what}; the {} bytes after it dropped",
            seg.len.saturating_sub(at)
        ));
        out.bytes_dropped += seg.len.saturating_sub(at);
        r.stopped.push(Stopped {
            first: seg.first,
            last: seg.last,
            why,
        });
    };
    match *end {
        End::Open => {
            r.open_ends.push(seg.last);
            seg.in_place
        }
        End::Sealed(_) => {
            r.sealed_ends.push((seg.last, name.to_owned()));
            seg.in_place
        }
        End::Cut(at) if seg.in_place && seg.newest => {
            let bytes = seg.len - at;
            out.report.push(format!(
                "{name}: cut the {bytes} bytes of an incomplete final frame at byte {at} \
                     (a commit interrupted mid-write, never acknowledged)"
            ));
            out.torn = Some((seg.path.to_path_buf(), at, bytes));
            r.open_ends.push(seg.last);
            true
        }
        End::Cut(at) => {
            let why = format!("{name} ends inside a frame at byte {at}");
            stopped(at, why, ", but later segments exist".into());
            false
        }
        End::Damaged(ref d) if resumed => {
            let why = format!("{name} is damaged at byte {}", d.offset);
            out.report.push(format!(
                "{why} ({}); its commits after the damaged frames were read on",
                d.reason
            ));
            r.stopped.push(Stopped {
                first: seg.first,
                last: seg.last,
                why,
            });
            false
        }
        End::Damaged(ref d) => {
            let why = format!("{name} is damaged at byte {}", d.offset);
            stopped(d.offset, why, format!(" ({})", d.reason));
            false
        }
    }
}

/// What reading a damaged segment on past its damaged frames found (`find::Resumed`): its
/// commits into `frames`, the bytes skipped, and how that reading ended (whole, or stopped
/// at damage it could not read past or a cut, which may hide later versions).
fn read_on(
    resumed: Resumed,
    name: &str,
    len: u64,
    first: u64,
    r: &mut Readings,
    out: &mut Salvaged,
    frames: &mut Vec<(u64, Vec<Change>)>,
) {
    out.bytes_dropped += resumed.skipped;
    let last = resumed
        .frames
        .last()
        .or(frames.last())
        .map_or(first - 1, |(v, _)| *v);
    frames.extend(resumed.frames);
    let (at, why) = match resumed.end {
        End::Open => return r.open_ends.push(last),
        End::Sealed(_) => return r.sealed_ends.push((last, name.to_string())),
        End::Cut(at) => (at, format!("{name} ends inside a frame at byte {at}")),
        End::Damaged(d) => (
            d.offset,
            format!(
                "{name} is damaged again at byte {} ({})",
                d.offset, d.reason
            ),
        ),
    };
    out.report.push(format!(
        "{why}; the {} bytes after it dropped",
        len.saturating_sub(at)
    ));
    out.bytes_dropped += len.saturating_sub(at);
    r.stopped.push(Stopped { first, last, why });
}

/// One `dropped versions a..=b` line per run of versions in no readable file: between
/// versions read, and up to the newest segment header's first version. Returns the last
/// version known, kept or dropped: the log goes on after it.
fn runs_dropped(r: &Readings, base: &Base, out: &mut Salvaged) -> u64 {
    let mut expect = base.version + 1;
    let mut drop_run = |from: u64, to: u64, why: String| {
        out.report
            .push(format!("dropped versions {}: {why}", range(from, to)));
        out.versions_dropped += to + 1 - from;
    };
    for &version in r.commits.keys() {
        if version > expect {
            let why = gap_cause(expect, &r.stopped, &r.unreadable, &r.sealed_ends, base.lost);
            drop_run(expect, version - 1, why);
        }
        expect = version + 1;
    }
    if r.bound.0 >= expect {
        let why = match r.stopped.iter().find(|s| s.last + 1 == expect) {
            Some(s) => s.why.clone(),
            None => format!(
                "in no file, though {} starts at version {}",
                r.bound.1,
                r.bound.0 + 1
            ),
        };
        drop_run(expect, r.bound.0, why);
        expect = r.bound.0 + 1;
    }
    expect - 1
}

/// When something unreadable could hold versions after the last one known, one line
/// saying so and why.
fn unknown_tail(r: &Readings, base: &Base, out: &mut Salvaged) {
    let seq = out.seq;
    let mut unknown: Vec<String> = r
        .stopped
        .iter()
        .filter(|s| s.last >= seq)
        .map(|s| s.why.clone())
        .collect();
    if !r.unreadable.is_empty() {
        unknown.push(format!("{} could not be read", r.unreadable.join(", ")));
    }
    if base.unreadable && r.commits.is_empty() {
        unknown.push(format!("{} could not be read", snapshot::FILE));
    }
    if unknown.is_empty() && !r.open_ends.contains(&seq) {
        unknown.push(match r.sealed_ends.iter().find(|(last, _)| *last == seq) {
            Some((_, name)) => format!(
                "{name} is sealed and names {} as the segment after it, which is missing",
                segment_name(seq + 1)
            ),
            None => format!(
                "no segment ends at version {seq} without a seal, so nothing shows where \
                 the log ended ({} is missing?)",
                segment_name(seq + 1)
            ),
        });
    }
    if !unknown.is_empty() {
        out.report.push(format!(
            "dropped versions after {seq}, how many is unknown: {}",
            unknown.join("; ")
        ));
    }
}

/// Why versions from `from` on are in no readable file, as the report says it.
fn gap_cause(
    from: u64,
    stopped: &[Stopped],
    unreadable: &[String],
    sealed_ends: &[(u64, String)],
    snapshot_lost: bool,
) -> String {
    if let Some(s) = stopped
        .iter()
        .find(|s| s.first <= from && s.last + 1 == from)
    {
        return s.why.clone();
    }
    if !unreadable.is_empty() {
        return format!(
            "in no readable file ({} could not be read)",
            unreadable.join(", ")
        );
    }
    if from == 1 && snapshot_lost {
        return format!("in no file: there is no readable {}", snapshot::FILE);
    }
    if let Some((_, name)) = sealed_ends.iter().find(|(last, _)| last + 1 == from) {
        return format!(
            "in no file: {name} names {} as the segment after it, which is missing",
            segment_name(from)
        );
    }
    format!("in no file ({} is missing?)", segment_name(from))
}
