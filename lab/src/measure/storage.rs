//! What a measured phase costs the storage: the sync calls counted around it
//! ([`super::syncs`]), the process's I/O counters from `/proc/self/io`, and the size of a
//! data directory (`du`). `docs/storage.md` says how each figure is measured and its
//! limits.

use std::collections::BTreeMap;
use std::path::Path;

use acorn_reports::storage::StorageCost;

use super::syncs::{self, SyncCall};

/// The process's I/O counters (`/proc/self/io`, every thread, exited ones included).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Io {
    /// Bytes passed to write-like system calls (page cache or not).
    pub wchar: u64,
    /// Bytes read by read-like system calls.
    pub rchar: u64,
    /// Bytes the process caused to be sent to the storage layer, counted when a page is
    /// dirtied (so a page written twice before it is written back counts once).
    pub write_bytes: u64,
    /// Bytes of dirty pages the process truncated before they were written back.
    pub cancelled_write_bytes: u64,
}

impl Io {
    /// The counters now; `None` where `/proc/self/io` cannot be read.
    pub fn now() -> Option<Io> {
        Io::parse(&std::fs::read_to_string("/proc/self/io").ok()?)
    }

    /// Reads the `name: value` lines of `/proc/<pid>/io`.
    pub fn parse(text: &str) -> Option<Io> {
        let mut fields = BTreeMap::new();
        for line in text.lines() {
            let (k, v) = line.split_once(':')?;
            fields.insert(k.trim(), v.trim().parse::<u64>().ok()?);
        }
        Some(Io {
            wchar: *fields.get("wchar")?,
            rchar: *fields.get("rchar")?,
            write_bytes: *fields.get("write_bytes")?,
            cancelled_write_bytes: *fields.get("cancelled_write_bytes")?,
        })
    }
}

/// The allocated size of every file under `dir` (what `du` says: blocks, not lengths), or
/// `None` when it cannot be read.
pub fn disk_usage(dir: &Path) -> Option<u64> {
    use std::os::unix::fs::MetadataExt;
    let mut total = 0;
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).ok()? {
            let entry = entry.ok()?;
            let meta = entry.metadata().ok()?;
            total += meta.blocks() * 512;
            if meta.is_dir() {
                stack.push(entry.path());
            }
        }
    }
    Some(total)
}

/// Whether `dir` is on a file system with no device behind it (tmpfs, ramfs): there an
/// fsync writes nothing and `write_bytes` stays 0, so device figures mean nothing.
fn in_memory_fs(dir: &Path) -> bool {
    use std::os::unix::ffi::OsStrExt;
    let Ok(path) = std::ffi::CString::new(dir.as_os_str().as_bytes()) else {
        return false;
    };
    // SAFETY: statfs(2) fills the zeroed struct it is given from a NUL-terminated path.
    #[allow(unsafe_code)]
    let fs = unsafe {
        let mut fs: libc::statfs = std::mem::zeroed();
        if libc::statfs(path.as_ptr(), &mut fs) != 0 {
            return false;
        }
        fs
    };
    const TMPFS: i64 = 0x0102_1994;
    const RAMFS: i64 = 0x8584_58f6;
    matches!(fs.f_type as i64, TMPFS | RAMFS)
}

/// Counters taken before a phase; [`Probe::finish`] turns them into the phase's
/// [`StorageCost`].
#[derive(Debug)]
pub struct Probe {
    syncs: Option<[u64; 5]>,
    io: Option<Io>,
    not_counted: Option<String>,
}

impl Probe {
    /// Before a phase: syncs the file system of `dir` (the store's data directory, if it
    /// has one; untimed and not counted) so the phase starts with no dirty page of the
    /// store's, then reads the counters. `alone`: no other store runs meanwhile (the
    /// counters are process-wide, so in parallel mode nothing is counted).
    pub fn start(dir: Option<&Path>, alone: bool) -> Probe {
        if !alone {
            return Probe {
                syncs: None,
                io: None,
                not_counted: Some(
                    "parallel mode: the counters are the process's, shared by every variant".into(),
                ),
            };
        }
        let mut not_counted = None;
        if let Some(d) = dir {
            if in_memory_fs(d) {
                not_counted = Some(format!(
                    "{} is in memory (tmpfs): no device writes to count; set TMPDIR to a disk",
                    d.display()
                ));
            }
            let _ = syncs::sync_file_system(d);
        }
        let syncs = match syncs::counting() {
            Ok(()) => Some(syncs::snapshot()),
            Err(why) => {
                not_counted.get_or_insert_with(|| format!("sync calls not counted: {why}"));
                None
            }
        };
        let io = Io::now();
        if io.is_none() {
            not_counted.get_or_insert_with(|| "/proc/self/io cannot be read".into());
        }
        Probe {
            syncs,
            io,
            not_counted,
        }
    }

    /// After the phase: reads the sync counts, syncs the file system of `dir` again (so
    /// every page the phase dirtied is written back before the next phase; `write_bytes`
    /// counted them when they were dirtied), reads the I/O counters. `ops`, `commits` and
    /// `user_bytes` are the phase's.
    pub fn finish(
        self,
        dir: Option<&Path>,
        ops: u64,
        commits: u64,
        user_bytes: u64,
    ) -> StorageCost {
        let syncs = self.syncs.map(|before| {
            let after = syncs::snapshot();
            SyncCall::ALL
                .iter()
                .map(|c| {
                    let i = *c as usize;
                    (c.name().to_owned(), after[i].saturating_sub(before[i]))
                })
                .collect()
        });
        if let Some(d) = dir.filter(|_| self.io.is_some()) {
            let _ = syncs::sync_file_system(d);
        }
        let io = self.io.zip(Io::now());
        let delta = |f: fn(&Io) -> u64| io.map(|(a, b)| f(&b).saturating_sub(f(&a)));
        let device = io.map(|(a, b)| {
            let written = b.write_bytes.saturating_sub(a.write_bytes);
            let cancelled = b
                .cancelled_write_bytes
                .saturating_sub(a.cancelled_write_bytes);
            written.saturating_sub(cancelled)
        });
        StorageCost {
            ops,
            commits,
            user_bytes,
            syncs,
            device_write_bytes: device,
            wchar: delta(|i| i.wchar),
            rchar: delta(|i| i.rchar),
            not_counted: self.not_counted,
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn proc_io_is_parsed_and_a_missing_field_is_none() {
        let text = "rchar: 10\nwchar: 20\nsyscr: 1\nsyscw: 2\nread_bytes: 0\nwrite_bytes: 4096\ncancelled_write_bytes: 0\n";
        assert_eq!(
            Io::parse(text),
            Some(Io {
                wchar: 20,
                rchar: 10,
                write_bytes: 4096,
                cancelled_write_bytes: 0
            })
        );
        assert_eq!(Io::parse("rchar: 10\n"), None);
        assert_eq!(Io::parse("rchar: x\n"), None);
    }

    // The exact count of a phase that fsyncs is checked in `lab/tests/storage.rs`, whose
    // tests run one at a time (the counters are the process's).

    #[test]
    fn parallel_phases_are_not_counted() {
        let cost = Probe::start(None, false).finish(None, 1, 1, 1);
        assert_eq!(cost.syncs, None);
        assert!(cost.not_counted.unwrap().contains("parallel"));
    }
}
