//! `synthetic`: `btreemap` with a known amount of extra work on its read path, for checking
//! the lab's own gates rather than for comparing stores. `LAB_SYNTHETIC_READ_WORK=N` adds N
//! rounds of integer arithmetic to every read (read when the backend opens; default 0, when
//! it is `btreemap` under another name). A test sets N to make reads a known fraction more
//! expensive and checks that `lab compare` flags exactly that.
//!
//! `synthetic:durable` is the same map plus a known number of sync calls per commit: every
//! put, delete and batch writes one 4 KiB block to a file in its directory and fsyncs it,
//! [`SYNCS_PER_COMMIT`] times. Its tests check that the lab counts exactly that
//! (`lab/tests/storage.rs`).

use std::borrow::Cow;
use std::hint::black_box;
use std::io::{Seek, SeekFrom, Write};
use std::sync::{Mutex, PoisonError};

use super::btreemap::Map;
use super::peer::{Items, Kv, Peer};
use super::{
    scratch_dir, store_err, Backend, BackendInfo, Measures, Options, OrStore, Registration,
    Result, Role, Tier, Version, WRITES_TO_DISK,
};

/// Blocks written and fsynced per commit by `synthetic:durable`.
pub const SYNCS_PER_COMMIT: u64 = 3;

/// The block `synthetic:durable` writes before each fsync.
pub const BLOCK: usize = 4096;

/// The environment variable that sets the extra rounds per read.
pub const READ_WORK_VAR: &str = "LAB_SYNTHETIC_READ_WORK";

pub(crate) const REGISTRATIONS: &[Registration] = &[
    Registration {
        name: "synthetic",
        about: "btreemap plus LAB_SYNTHETIC_READ_WORK rounds of arithmetic per read: checks \
                the lab's own gates",
        tier: Tier::Memory,
        version: Version::Std,
        measures: Measures::All,
        role: Role::Fixture,
        open,
    },
    Registration {
        name: "synthetic:durable",
        about: "synthetic plus 3 fsyncs of a 4 KiB block per commit: checks the lab's storage \
                counters",
        tier: Tier::FsyncPerCommit,
        version: Version::Std,
        measures: Measures::WallClockOnly(WRITES_TO_DISK),
        role: Role::Fixture,
        open,
    },
];

/// `btreemap`'s map, the rounds of work each read adds, and (durable) the file each commit
/// writes and fsyncs.
struct Synthetic {
    map: Map,
    rounds: u64,
    disk: Option<(Mutex<std::fs::File>, tempfile::TempDir)>,
}

impl Synthetic {
    /// `synthetic:durable`'s commit cost: [`SYNCS_PER_COMMIT`] times a block written at the
    /// file's start and fsynced.
    fn commit(&self) -> Result<()> {
        let Some((file, _)) = &self.disk else {
            return Ok(());
        };
        let mut f = file.lock().unwrap_or_else(PoisonError::into_inner);
        for _ in 0..SYNCS_PER_COMMIT {
            f.seek(SeekFrom::Start(0)).or_store("synthetic")?;
            f.write_all(&[0x5a; BLOCK]).or_store("synthetic")?;
            f.sync_all().or_store("synthetic")?;
        }
        Ok(())
    }
}

fn open(reg: &Registration, options: &Options) -> Result<Box<dyn Backend>> {
    let rounds = match std::env::var(READ_WORK_VAR) {
        Err(_) => 0,
        Ok(v) => v.trim().parse().map_err(|_| {
            store_err(
                reg.name,
                format!("{READ_WORK_VAR}={v:?}: not a number of rounds per read"),
            )
        })?,
    };
    let map = Map::new(options);
    let disk = if reg.tier.on_disk() {
        let dir = scratch_dir(options, reg.name)?;
        let file = std::fs::File::create(dir.path().join("commits")).or_store(reg.name)?;
        Some((Mutex::new(file), dir))
    } else {
        None
    };
    Peer::open(reg, options, Synthetic { map, rounds, disk })
}

/// `rounds` rounds of arithmetic the compiler cannot fold away: a fixed cost per round.
#[inline(never)]
fn work(rounds: u64) -> u64 {
    let mut x = 0x9e37_79b9_7f4a_7c15u64;
    for i in 0..rounds {
        x = black_box(x.rotate_left(5) ^ i).wrapping_mul(0x2545_f491_4f6c_dd1d);
    }
    x
}

impl Kv for Synthetic {
    fn describe(&self, info: BackendInfo) -> BackendInfo {
        BackendInfo {
            store: format!(
                "btreemap plus {} rounds of arithmetic per read ({READ_WORK_VAR}); a test fixture",
                self.rounds
            ),
            durability: if self.disk.is_some() {
                format!(
                    "durable (a fixture): {SYNCS_PER_COMMIT} fsyncs of a {BLOCK}-byte block \
                     per commit; the data itself in memory"
                )
            } else {
                "in memory".into()
            },
            ..self.map.describe(info)
        }
    }

    fn get<T>(
        &self,
        key: &[u8],
        scratch: &mut Vec<u8>,
        read: impl FnOnce(&[u8]) -> T,
    ) -> Result<Option<T>> {
        black_box(work(self.rounds));
        self.map.get(key, scratch, read)
    }

    fn put(&self, key: &[u8], value: Cow<'_, [u8]>) -> Result<()> {
        self.map.put(key, value)?;
        self.commit()
    }

    fn delete(&self, key: &[u8]) -> Result<bool> {
        let found = self.map.delete(key)?;
        self.commit()?;
        Ok(found)
    }

    fn dir(&self) -> Option<&std::path::Path> {
        self.disk.as_ref().map(|(_, d)| d.path())
    }

    fn scan(&self, start: &[u8], each: impl FnMut(&[u8], &[u8]) -> Result<bool>) -> Result<()> {
        self.map.scan(start, each)
    }

    fn put_batch(&self, items: Items<'_>) -> Result<()> {
        self.map.put_batch(items)?;
        self.commit()
    }
}
