//! Each step of recovery alone, on directories written byte by byte: what `find` reads,
//! what `prove` decides (without changing anything), what `salvage::plan` keeps and reports.

use std::fs;
use std::path::Path;

use super::super::frame;
use super::super::segment::segment_name;
use super::chain::{self, Torn};
use super::find::{self, End};
use super::{replay, salvage};
use crate::record::{Change, Record};
use crate::Error;

fn put(version: u64) -> Change {
    let mut rec = Record::new(format!("k{version}").as_bytes(), b"v", 0, 0, 0);
    rec.stamp(version, 1);
    Change::Put(rec)
}

/// Writes `wal-<name>.log` with a header saying `first`, commits `versions`, and a seal
/// when `sealed`. Returns the file's length before the seal.
fn segment(
    dir: &Path,
    name: u64,
    first: u64,
    versions: impl IntoIterator<Item = u64>,
    sealed: bool,
) -> usize {
    let mut data = Vec::new();
    frame::encode_segment_head(&mut data, first);
    let mut last = first - 1;
    for v in versions {
        frame::encode_commit(&mut data, v, &[put(v)]);
        last = v;
    }
    let unsealed = data.len();
    if sealed {
        frame::encode_seal(&mut data, last);
    }
    fs::write(dir.join(segment_name(name)), data).unwrap();
    unsealed
}

fn snapshot_at(dir: &Path, version: u64) {
    crate::storage::snapshot::write(
        &crate::storage::io::StdIo,
        dir,
        &crate::index::Index::default(),
        version,
    )
    .unwrap();
}

fn corrupt_path(result: crate::Result<chain::Chain>) -> String {
    match result {
        Err(Error::Corrupt { path, reason, .. }) => {
            format!("{} {reason}", path.file_name().unwrap().to_string_lossy())
        }
        other => panic!("expected Corrupt, got {other:?}"),
    }
}

#[test]
fn find_reads_how_each_segment_ends_without_judging() {
    let dir = tempfile::tempdir().unwrap();
    segment(dir.path(), 1, 1, 1..=3, true);
    let cut = segment(dir.path(), 4, 4, 4..=6, false);
    // The last frame of wal-4 cut short; wal-7 has a flipped bit in its second commit.
    let path = dir.path().join(segment_name(4));
    let data = fs::read(&path).unwrap();
    fs::write(&path, &data[..cut - 3]).unwrap();
    segment(dir.path(), 7, 7, 7..=9, false);
    let path = dir.path().join(segment_name(7));
    let mut data = fs::read(&path).unwrap();
    let n = data.len();
    data[n - 5] ^= 1;
    fs::write(&path, &data).unwrap();
    fs::write(dir.path().join("snapshot.tmp"), b"half").unwrap();
    let found = find::find(dir.path()).unwrap();
    assert!(found.snapshot.is_none());
    assert_eq!(found.temporaries, [dir.path().join("snapshot.tmp")]);
    let ends: Vec<&End> = found
        .segments
        .iter()
        .map(|s| &s.contents.as_ref().unwrap().end)
        .collect();
    assert_eq!(ends[0], &End::Sealed(4));
    assert!(matches!(ends[1], End::Cut(_)));
    assert!(matches!(ends[2], End::Damaged(_)));
    assert_eq!(found.segments[1].contents.as_ref().unwrap().last(), 5);
    assert_eq!(found.segments[2].contents.as_ref().unwrap().last(), 8);
}

#[test]
fn prove_walks_the_chain_and_names_what_it_must_tidy() {
    let dir = tempfile::tempdir().unwrap();
    snapshot_at(dir.path(), 10);
    segment(dir.path(), 1, 1, 1..=10, true); // a leftover: all at or before 10
    segment(dir.path(), 11, 11, 11..=20, true);
    segment(dir.path(), 21, 21, 21..=25, false);
    let found = find::find(dir.path()).unwrap();
    let chain = chain::prove(&found, dir.path()).unwrap();
    assert_eq!(chain.base, 10);
    assert_eq!(chain.leftovers, [0]);
    assert_eq!(chain.links, [1, 2]);
    assert_eq!(chain.seq, 25);
    assert_eq!(
        (chain.torn, chain.unfinished_cut, chain.convert),
        (None, None, false)
    );
    // prove changed nothing.
    assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 4);

    // The newest deleted: the seal of the one before names it.
    fs::remove_file(dir.path().join(segment_name(21))).unwrap();
    let found = find::find(dir.path()).unwrap();
    let why = corrupt_path(chain::prove(&found, dir.path()));
    assert!(why.starts_with(&segment_name(21)), "{why}");
}

#[test]
fn prove_recognizes_an_unfinished_cut_and_only_that() {
    let dir = tempfile::tempdir().unwrap();
    snapshot_at(dir.path(), 0);
    let unsealed = segment(dir.path(), 1, 1, 1..=5, false);
    segment(dir.path(), 6, 6, [], false); // pristine: the header alone
    let found = find::find(dir.path()).unwrap();
    let chain = chain::prove(&found, dir.path()).unwrap();
    assert_eq!(
        (chain.links.as_slice(), chain.unfinished_cut),
        (&[0][..], Some(1))
    );
    assert_eq!(chain.seq, 5);

    // Half a seal: the same, and the half seal is a torn tail.
    let path = dir.path().join(segment_name(1));
    let mut data = fs::read(&path).unwrap();
    frame::encode_seal(&mut data, 5);
    let full = data.len();
    fs::write(&path, &data[..full - 4]).unwrap();
    let found = find::find(dir.path()).unwrap();
    let chain = chain::prove(&found, dir.path()).unwrap();
    assert_eq!(chain.unfinished_cut, Some(1));
    assert_eq!(
        chain.torn,
        Some(Torn {
            segment: 0,
            at: unsealed as u64,
            bytes: (full - 4 - unsealed) as u64
        })
    );

    // An empty segment with another after it is no unfinished cut either.
    segment(dir.path(), 1, 1, 1..=5, false);
    segment(dir.path(), 7, 7, 7..=8, false);
    let found = find::find(dir.path()).unwrap();
    let why = corrupt_path(chain::prove(&found, dir.path()));
    assert!(why.starts_with(&segment_name(1)), "{why}");
    fs::remove_file(dir.path().join(segment_name(7))).unwrap();

    // A newest segment that holds a commit is no unfinished cut: the seal is missing.
    segment(dir.path(), 6, 6, 6..=6, false);
    let found = find::find(dir.path()).unwrap();
    let why = corrupt_path(chain::prove(&found, dir.path()));
    assert!(why.starts_with(&segment_name(1)), "{why}");
}

#[test]
fn prove_keeps_a_leftover_it_cannot_prove_redundant() {
    let dir = tempfile::tempdir().unwrap();
    snapshot_at(dir.path(), 10);
    // Named at or before 10, holding versions past it.
    segment(dir.path(), 5, 5, 5..=15, true);
    segment(dir.path(), 11, 11, 11..=12, false);
    let found = find::find(dir.path()).unwrap();
    let why = corrupt_path(chain::prove(&found, dir.path()));
    assert!(
        why.starts_with(&segment_name(5)) && why.contains("11..=15"),
        "{why}"
    );
}

#[test]
fn salvage_reads_segments_by_their_headers_and_reports_each_run_dropped() {
    let dir = tempfile::tempdir().unwrap();
    snapshot_at(dir.path(), 0);
    segment(dir.path(), 1, 1, 1..=10, true);
    // 11..=20 renamed to wal-50; 21..=30 deleted; 31..=35 sealed, its successor missing.
    segment(dir.path(), 50, 11, 11..=20, true);
    segment(dir.path(), 31, 31, 31..=35, true);
    let found = find::find(dir.path()).unwrap();
    assert!(chain::prove(&found, dir.path()).is_err());
    let plan = salvage::plan(found);
    let versions: Vec<u64> = plan.commits.iter().map(|(v, _)| *v).collect();
    assert_eq!(versions, (1..=20).chain(31..=35).collect::<Vec<_>>());
    assert_eq!(plan.versions_dropped, 10);
    assert_eq!(plan.seq, 35);
    let report = plan.report.join("\n");
    assert!(report.contains("dropped versions 21..=30"), "{report}");
    assert!(
        report.contains("dropped versions after 35, how many is unknown"),
        "{report}"
    );
    assert!(report.contains("renamed or copied"), "{report}");
    assert_eq!(plan.set_aside, [dir.path().join(segment_name(50))]);
    assert_eq!(
        plan.redundant,
        [
            dir.path().join(segment_name(1)),
            dir.path().join(segment_name(31))
        ]
    );
}

#[test]
fn replay_hands_over_the_chain_in_order_with_its_torn_tail_counted() {
    let dir = tempfile::tempdir().unwrap();
    snapshot_at(dir.path(), 0);
    segment(dir.path(), 1, 1, 1..=3, true);
    let end = segment(dir.path(), 4, 4, 4..=6, false);
    let path = dir.path().join(segment_name(4));
    let data = fs::read(&path).unwrap();
    fs::write(&path, &data[..end - 2]).unwrap();
    let found = find::find(dir.path()).unwrap();
    let chain = chain::prove(&found, dir.path()).unwrap();
    let replay = replay(found, &chain);
    let versions: Vec<u64> = replay.frames.iter().map(|(v, _)| *v).collect();
    assert_eq!(versions, [1, 2, 3, 4, 5]);
    assert_eq!(replay.seq, 5);
    let active = replay.active.unwrap();
    assert_eq!((active.path, active.first), (path, 4));
    assert_eq!(replay.torn_bytes + active.bytes, (end - 2) as u64);
    assert_eq!(replay.older.len(), 1);
    // Nothing was cut yet: that is step 4's.
    assert_eq!(
        fs::read(dir.path().join(segment_name(4))).unwrap().len(),
        end - 2
    );
}
