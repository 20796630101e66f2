//! Building durable directories through the public API, and reading them back.

use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};

use std::sync::Arc;

use acorn::faults::FaultyIo;
use acorn::{Error, RecoveryMode, Tree};

/// Every `wal-*.log` in `dir`, in name order.
pub fn segments(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            let name = p.file_name().unwrap().to_str().unwrap();
            name.starts_with("wal-") && name.ends_with(".log")
        })
        .collect();
    v.sort();
    v
}

/// The path of the segment whose first version is `first`.
pub fn segment(dir: &Path, first: u64) -> PathBuf {
    dir.join(format!("wal-{first:020}.log"))
}

/// A durable tree that leaves fsync to the OS, hands each commit to the OS as it is logged
/// (no buffer: tests read and damage the files it writes) and never compacts by itself.
pub fn open_never(dir: &Path) -> Tree {
    crate::trees::never_unbuffered(dir)
}

/// Opens `dir` strictly, as `Tree::open` does, but with fsyncs recorded instead of made
/// (hundreds of damaged directories are opened; what is tested is what opening decides).
pub fn open_strict(dir: &Path) -> acorn::Result<Tree> {
    Tree::builder()
        .path(dir)
        .io(Arc::new(FaultyIo::counting().without_fsync()))
        .open()
}

/// Opens `dir` with `RecoveryMode::Salvage` (fsyncs recorded, as in `open_strict`).
pub fn salvage(dir: &Path) -> acorn::Result<Tree> {
    Tree::builder()
        .path(dir)
        .recovery(RecoveryMode::Salvage)
        .io(Arc::new(FaultyIo::counting().without_fsync()))
        .open()
}

pub fn key(version: u64) -> String {
    format!("k{version:05}")
}

pub fn value(version: u64) -> String {
    format!("v{version}")
}

/// Stashes one key per version for every version in `versions` (the tree must be at
/// `versions.start() - 1`): version `v` writes `key(v)` = `value(v)`.
pub fn stash_versions(tree: &Tree, versions: std::ops::RangeInclusive<u64>) {
    for v in versions {
        assert_eq!(tree.stash(key(v), value(v)).unwrap(), v);
    }
}

/// The versions whose key holds its value, as `stash_versions` wrote them.
pub fn versions_held(tree: &Tree) -> BTreeSet<u64> {
    tree.iter()
        .map(|n| {
            let v: u64 = n.key[1..].parse().unwrap();
            assert_eq!(n.value, value(v).as_bytes(), "{}", &*n.key);
            v
        })
        .collect()
}

/// A directory named `name` (not empty) in `dir`, so a file cannot be created or renamed
/// there: a compaction step fails the way a full disk would make it fail.
pub fn block(dir: &Path, name: &str) -> PathBuf {
    let path = dir.join(name);
    if path.is_file() {
        fs::remove_file(&path).unwrap();
    }
    fs::create_dir(&path).unwrap();
    fs::write(path.join("keep"), b"x").unwrap();
    path
}

/// Snapshot at 100 (`wal-1` compacted away), `wal-101` holding 101..=200, and `wal-201`
/// holding 201..=300: a compaction failed after it had cut the log at 200 (it could not
/// create `snapshot.tmp`).
pub fn snapshot_and_two_segments() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let tree = open_never(dir.path());
    stash_versions(&tree, 1..=100);
    tree.compact().unwrap();
    stash_versions(&tree, 101..=200);
    let blocked = block(dir.path(), "snapshot.tmp");
    assert!(tree.compact().is_err());
    stash_versions(&tree, 201..=300);
    drop(tree);
    fs::remove_dir_all(blocked).unwrap();
    assert_eq!(
        segments(dir.path()),
        [segment(dir.path(), 101), segment(dir.path(), 201)]
    );
    dir
}

/// No snapshot beyond the empty one, and three segments: 1..=100, 101..=200, 201..=300
/// (two compactions failed after cutting the log).
pub fn three_segments() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let tree = open_never(dir.path());
    let blocked = block(dir.path(), "snapshot.tmp");
    stash_versions(&tree, 1..=100);
    assert!(tree.compact().is_err());
    stash_versions(&tree, 101..=200);
    assert!(tree.compact().is_err());
    stash_versions(&tree, 201..=300);
    drop(tree);
    fs::remove_dir_all(blocked).unwrap();
    assert_eq!(segments(dir.path()).len(), 3);
    dir
}

/// Every file in `dir` (not directories) with its bytes, to prove an open changed nothing.
pub fn contents(dir: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    let mut v: Vec<(PathBuf, Vec<u8>)> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_file() && p.file_name().unwrap() != "LOCK")
        .map(|p| {
            let data = fs::read(&p).unwrap();
            (p, data)
        })
        .collect();
    v.sort();
    v
}

/// Checks `result` is `Error::Corrupt` naming `file`, with `words` in its reason.
#[track_caller]
pub fn assert_corrupt(result: acorn::Result<Tree>, file: &Path, words: &str) {
    match result {
        Err(Error::Corrupt { path, reason, .. }) => {
            assert_eq!(path, file, "{reason}");
            assert!(
                reason.contains(words),
                "reason does not say {words}: {reason}"
            );
        }
        Err(other) => panic!("expected Corrupt naming {}, got {other}", file.display()),
        Ok(tree) => panic!(
            "opened with {} items (version {}) instead of reporting {}",
            tree.len(),
            tree.stats().version,
            file.display()
        ),
    }
}

/// Checks `result` is `Error::Corrupt` naming `file` at byte `offset`.
#[track_caller]
pub fn assert_corrupt_at(result: acorn::Result<Tree>, file: &Path, offset: u64, what: &str) {
    match result {
        Err(Error::Corrupt {
            path,
            offset: at,
            reason,
        }) => assert_eq!((path.as_path(), at), (file, offset), "{what}: {reason}"),
        Err(other) => panic!("{what}: expected Corrupt, got {other}"),
        Ok(tree) => panic!(
            "{what}: opened at version {} ({} torn bytes dropped)",
            tree.stats().version,
            tree.stats().torn_bytes_dropped
        ),
    }
}

/// The versions a salvage report says it dropped: every `dropped versions A..=B`, and
/// whether it says versions after the last kept one were lost in unknown number.
pub fn reported_dropped(report: &[String]) -> (BTreeSet<u64>, bool) {
    let mut dropped = BTreeSet::new();
    let mut unknown_tail = false;
    for line in report {
        let mut rest = line.as_str();
        while let Some(at) = rest.find("dropped versions ") {
            rest = &rest[at + "dropped versions ".len()..];
            let end = rest
                .find(|c: char| !(c.is_ascii_digit() || c == '.' || c == '='))
                .unwrap_or(rest.len());
            if let Some((a, b)) = rest[..end].split_once("..=") {
                dropped.extend(a.parse::<u64>().unwrap()..=b.parse::<u64>().unwrap());
            }
        }
        if line.contains("how many is unknown") {
            unknown_tail = true;
        }
    }
    (dropped, unknown_tail)
}

/// What a salvage report says the damaged snapshot lost: its version, and how many of its
/// records (`None`: an unknown number).
fn reported_snapshot_loss(report: &[String]) -> Option<(u64, Option<u64>)> {
    let line = report
        .iter()
        .find(|l| l.contains(" of its ") && l.contains("records"))?;
    let version = line
        .rsplit("of versions up to ")
        .next()?
        .trim()
        .parse()
        .ok()?;
    let count = line
        .split("dropped ")
        .nth(1)
        .and_then(|rest| rest.split(' ').next())
        .and_then(|n| n.parse().ok());
    Some((version, count))
}

/// Salvages `dir`, reopens it strictly, and checks that the report says exactly what the
/// reopened tree lacks of `acked` (versions written by `stash_versions`): every acknowledged
/// version is held, or named in a `dropped versions` range, or after the last version kept
/// when the report says an unknown number was lost there, or (a damaged snapshot) one of the
/// records the report counts as dropped from it; no version reported dropped is held;
/// `salvaged_versions_dropped` counts the ranges. Returns the versions held.
#[track_caller]
pub fn salvage_matches_report(dir: &Path, acked: &BTreeSet<u64>, what: &str) -> BTreeSet<u64> {
    let tree = match salvage(dir) {
        Ok(t) => t,
        Err(e) => panic!("{what}: salvage failed: {e}"),
    };
    let stats = tree.stats();
    let held_now = versions_held(&tree);
    drop(tree);
    let tree = match open_strict(dir) {
        Ok(t) => t,
        Err(e) => panic!("{what}: the salvaged directory does not open strictly: {e}"),
    };
    let held = versions_held(&tree);
    assert_eq!(
        held, held_now,
        "{what}: the strict reopen differs from salvage"
    );
    let (dropped, unknown_tail) = reported_dropped(&stats.salvage_report);
    let snapshot_loss = reported_snapshot_loss(&stats.salvage_report);
    let report = stats.salvage_report.join("\n");
    assert_eq!(
        stats.salvaged_versions_dropped,
        dropped.len() as u64,
        "{what}: the count disagrees with the ranges:\n{report}"
    );
    let kept = stats.version;
    let mut from_snapshot = 0;
    for v in acked {
        if held.contains(v) || dropped.contains(v) || (unknown_tail && *v > kept) {
            continue;
        }
        match snapshot_loss {
            Some((at, _)) if *v <= at => from_snapshot += 1,
            _ => panic!("{what}: version {v} is gone and the report does not say so:\n{report}"),
        }
    }
    if let Some((_, Some(count))) = snapshot_loss {
        assert_eq!(
            from_snapshot, count,
            "{what}: the snapshot lost another number of records than reported:\n{report}"
        );
    }
    for v in &dropped {
        assert!(
            !held.contains(v),
            "{what}: version {v} is reported dropped but was kept:\n{report}"
        );
    }
    held
}

/// The data files of a directory: snapshot, temporary snapshot, segments.
pub fn data_files(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            let name = p.file_name().unwrap().to_str().unwrap();
            name.starts_with("snapshot.") || name.starts_with("wal-")
        })
        .collect();
    files.sort();
    files
}

/// A copy of every file in `dir` (damage is done to copies).
pub fn copy_dir(dir: &Path) -> tempfile::TempDir {
    let copy = tempfile::tempdir().unwrap();
    for entry in fs::read_dir(dir).unwrap() {
        let entry = entry.unwrap();
        if entry.file_type().unwrap().is_file() {
            fs::copy(entry.path(), copy.path().join(entry.file_name())).unwrap();
        }
    }
    copy
}

/// Records what the calling thread logs (through the `log` crate) while `f` runs.
pub fn capture_logs<T>(f: impl FnOnce() -> T) -> (T, Vec<String>) {
    use std::cell::RefCell;
    thread_local! {
        static LINES: RefCell<Option<Vec<String>>> = const { RefCell::new(None) };
    }
    struct Capture;
    impl log::Log for Capture {
        fn enabled(&self, _: &log::Metadata<'_>) -> bool {
            true
        }
        fn log(&self, record: &log::Record<'_>) {
            LINES.with(|l| {
                if let Some(lines) = l.borrow_mut().as_mut() {
                    lines.push(format!("{} {}", record.level(), record.args()));
                }
            });
        }
        fn flush(&self) {}
    }
    static INSTALL: std::sync::Once = std::sync::Once::new();
    INSTALL.call_once(|| {
        log::set_logger(&Capture).unwrap();
        log::set_max_level(log::LevelFilter::Trace);
    });
    LINES.with(|l| *l.borrow_mut() = Some(Vec::new()));
    let out = f();
    let lines = LINES.with(|l| l.borrow_mut().take()).unwrap_or_default();
    (out, lines)
}
