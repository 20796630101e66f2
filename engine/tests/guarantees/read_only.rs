//! "A read-only open ... changes nothing on disk ... and sees what a strict open would."
//!
//! Tried: every file of every state of [`crate::states`] damaged every way of
//! [`crate::damage`] (and undamaged): a read-only open and a refresh leave every file and
//! the directory itself as they were — names, lengths, contents, inodes, modification and
//! change times — take no lock (a writer opens beside it), and open exactly when a strict
//! open does, holding what it holds. A writer compacting beside a reader:
//! `tests/read_only.rs`; across processes, with the writer killed: `tests/crash/`.

use std::fs;
use std::path::Path;

use acorn::{Error, Tree};

use crate::damage;
use crate::states;
use crate::support::*;

/// Everything a write, a rename, a link, a removal or a truncation would change: per
/// entry its name, length, contents, inode, modification and change times; and the
/// directory's own times.
#[cfg(unix)]
fn everything(dir: &Path) -> Vec<String> {
    use std::os::unix::fs::MetadataExt;
    let stamp = |m: &fs::Metadata| {
        format!(
            "ino {} len {} mtime {}.{} ctime {}.{}",
            m.ino(),
            m.len(),
            m.mtime(),
            m.mtime_nsec(),
            m.ctime(),
            m.ctime_nsec()
        )
    };
    let mut all = vec![format!(". {}", stamp(&fs::metadata(dir).unwrap()))];
    for e in fs::read_dir(dir).unwrap() {
        let e = e.unwrap();
        let m = e.metadata().unwrap();
        let data = if m.is_file() {
            fs::read(e.path()).unwrap()
        } else {
            Vec::new()
        };
        all.push(format!(
            "{} {} {}",
            e.file_name().to_string_lossy(),
            stamp(&m),
            crc(&data)
        ));
    }
    all.sort();
    all
}

#[cfg(unix)]
fn crc(data: &[u8]) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    data.hash(&mut h);
    h.finish()
}

/// One directory: what a read-only open does to it (nothing), and what it sees (what a
/// strict open sees). Returns whether it opened.
#[cfg(unix)]
fn check(dir: &Path, what: &str) -> bool {
    let before = everything(dir);
    let read_only = Tree::open_read_only(dir);
    if let Ok(r) = &read_only {
        r.refresh()
            .unwrap_or_else(|e| panic!("{what}: refresh: {e}"));
    }
    let seen = read_only
        .as_ref()
        .map(versions_held)
        .map_err(ToString::to_string);
    assert_eq!(
        everything(dir),
        before,
        "{what}: a read-only open changed the directory"
    );
    // With the reader still open: it took no lock, so a writer opens beside it.
    let strict = open_strict(dir).map(|t| versions_held(&t));
    match (&seen, &strict) {
        (Ok(a), Ok(b)) => assert_eq!(a, b, "{what}: read-only and strict views differ"),
        (Err(_), Err(e)) => {
            assert!(
                !matches!(e, Error::Locked { .. }),
                "{what}: the reader locked it"
            );
            assert!(
                matches!(
                    read_only,
                    Err(Error::Corrupt { .. } | Error::UnsupportedFormat { .. })
                ),
                "{what}: {read_only:?}"
            );
        }
        _ => panic!("{what}: read-only {seen:?}, strict {strict:?}"),
    }
    drop(read_only);
    seen.is_ok()
}

#[cfg(unix)]
#[test]
fn a_read_only_open_of_every_state_damaged_every_way_changes_nothing() {
    let (mut opened, mut refused) = (0, 0);
    for state in states::all() {
        // Undamaged first.
        let copy = copy_dir(state.dir.path());
        assert!(check(copy.path(), state.name), "{}: undamaged", state.name);
        damage::each_way(&state, |d| {
            if check(d.copy.path(), &d.what) {
                opened += 1;
            } else {
                refused += 1;
            }
        });
    }
    println!("read-only opens of damaged directories: {opened} opened, {refused} refused");
    assert!(opened + refused > 450, "{opened} + {refused}");
}
