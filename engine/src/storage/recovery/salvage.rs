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
use super::find::{End, Found};
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

/// Step 2 (salvage): see the module comment.
pub(crate) fn plan(found: Found) -> Salvaged {
    let mut out = Salvaged::default();
    let mut base = 0;
    // No snapshot to start from: versions from 1 on must come from the log.
    let mut snapshot_lost = true;
    // A snapshot whose header could not be read: it held versions nobody can name.
    let mut snapshot_unreadable = false;
    if let Some(snap) = found.snapshot {
        let name = name_of(&snap.path);
        match (snap.loaded.last, snap.damage) {
            (Some(last), None) => {
                base = last;
                snapshot_lost = false;
                out.records = snap.loaded.records;
            }
            (Some(last), Some(d)) => {
                base = last;
                snapshot_lost = false;
                let kept = snap.loaded.records.len() as u64;
                let lost = match snap.loaded.declared {
                    Some(n) => format!("dropped {} of its {n} records", n.saturating_sub(kept)),
                    None => format!("dropped an unknown number of its records (kept {kept})"),
                };
                out.report.push(format!(
                    "{name}: damaged at byte {} ({}); {lost}, of versions up to {last}",
                    d.offset, d.reason
                ));
                out.bytes_dropped += snap.len.saturating_sub(d.offset);
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
                snapshot_unreadable = true;
            }
        }
    }

    let newest_name = found.segments.last().map(|s| s.named);
    let mut commits: BTreeMap<u64, Vec<Change>> = BTreeMap::new();
    let mut unreadable: Vec<String> = Vec::new();
    let mut stopped: Vec<Stopped> = Vec::new();
    // (last version, name) of segments read to their end: unsealed, or sealed.
    let mut open_ends: Vec<u64> = Vec::new();
    let mut sealed_ends: Vec<(u64, String)> = Vec::new();
    // A segment's header proves the versions before it existed: (first - 1, its name).
    let mut bound: (u64, String) = (base, String::new());
    // Segments whose name agrees with their header first, so their commits win.
    let (normal, other): (Vec<_>, Vec<_>) = found
        .segments
        .into_iter()
        .partition(|s| s.normal().is_some());
    for seg in normal.into_iter().chain(other) {
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
                unreadable.push(name);
                continue;
            }
        };
        if s.first - 1 > bound.0 {
            bound = (s.first - 1, name.clone());
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
        let mut whole = !renamed;
        match s.end {
            End::Open => open_ends.push(last),
            End::Sealed(_) => sealed_ends.push((last, name.clone())),
            End::Cut(at) if !renamed && Some(seg.named) == newest_name => {
                let bytes = seg.len - at;
                out.report.push(format!(
                    "{name}: cut the {bytes} bytes of an incomplete final frame at byte {at} \
                     (a commit interrupted mid-write, never acknowledged)"
                ));
                out.torn = Some((seg.path.clone(), at, bytes));
                open_ends.push(last);
            }
            End::Cut(at) => {
                let why = format!("{name} ends inside a frame at byte {at}");
                out.report.push(format!(
                    "{why}, but later segments exist; the {} bytes after it dropped",
                    seg.len - at
                ));
                out.bytes_dropped += seg.len - at;
                whole = false;
                stopped.push(Stopped {
                    first: s.first,
                    last,
                    why,
                });
            }
            End::Damaged(d) => {
                let why = format!("{name} is damaged at byte {}", d.offset);
                out.report.push(format!(
                    "{why} ({}); the {} bytes after it dropped",
                    d.reason,
                    seg.len.saturating_sub(d.offset)
                ));
                out.bytes_dropped += seg.len.saturating_sub(d.offset);
                whole = false;
                stopped.push(Stopped {
                    first: s.first,
                    last,
                    why,
                });
            }
        }
        for (version, changes) in s.frames {
            if version > base {
                commits.entry(version).or_insert(changes);
            }
        }
        if whole {
            out.redundant.push(seg.path);
        } else {
            out.set_aside.push(seg.path);
        }
    }

    // Runs of versions in no readable file.
    let mut expect = base + 1;
    for &version in commits.keys() {
        if version > expect {
            let why = gap_cause(expect, &stopped, &unreadable, &sealed_ends, snapshot_lost);
            out.report.push(format!(
                "dropped versions {}: {why}",
                range(expect, version - 1)
            ));
            out.versions_dropped += version - expect;
        }
        expect = version + 1;
    }
    if bound.0 >= expect {
        let why = match stopped.iter().find(|s| s.last + 1 == expect) {
            Some(s) => s.why.clone(),
            None => format!(
                "in no file, though {} starts at version {}",
                bound.1,
                bound.0 + 1
            ),
        };
        out.report.push(format!(
            "dropped versions {}: {why}",
            range(expect, bound.0)
        ));
        out.versions_dropped += bound.0 + 1 - expect;
        expect = bound.0 + 1;
    }
    // The tree goes on after every version known, kept or dropped.
    out.seq = expect - 1;
    let seq = out.seq;

    // What could hold versions after the last one kept.
    let mut unknown: Vec<String> = stopped
        .iter()
        .filter(|s| s.last >= seq)
        .map(|s| s.why.clone())
        .collect();
    if !unreadable.is_empty() {
        unknown.push(format!("{} could not be read", unreadable.join(", ")));
    }
    if snapshot_unreadable && commits.is_empty() {
        unknown.push(format!("{} could not be read", snapshot::FILE));
    }
    if unknown.is_empty() && !open_ends.contains(&seq) {
        unknown.push(match sealed_ends.iter().find(|(last, _)| *last == seq) {
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
    out.commits = commits.into_iter().collect();
    out
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
