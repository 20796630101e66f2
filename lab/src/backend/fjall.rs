//! `fjall`: an LSM-tree store (fjall 3), durable in a temporary directory. Configured as its
//! README advises: default keyspace options, and a block cache large enough to hold the
//! lab's data sets (the README: ~20-25% of memory, "or more if the data set fits fully into
//! memory"; 256 MiB here, against the 32 MiB default). Journal settings: the default
//! (`fjall`) writes each operation to the journal and flushes it to the OS, with no fsync
//! (like acorn's `SyncPolicy::Never`: survives a process crash, not a power loss);
//! `fjall:sync` also calls `persist(PersistMode::SyncData)` after every write (like
//! `SyncPolicy::Always`). JSON values (raw bytes when opaque).

use std::borrow::Cow;

use fjall::{Database, Guard, Keyspace, KeyspaceCreateOptions, PersistMode};

use super::peer::{Items, Kv, Peer};
use super::{scratch_dir, Backend, BackendInfo, Measures, Options, OrStore, Registration, Result, Role, Tier, Version};

const VERSION: Version = Version::Crate("fjall");

/// Why fjall is not counted, whatever its journal does.
const BACKGROUND: &str = "it flushes and compacts on background threads, whose work and \
    timing fall outside the counted thread (and it writes to disk); compare it by wall clock";

pub(crate) const REGISTRATIONS: &[Registration] = &[
    Registration {
        name: "fjall",
        about: "fjall (LSM tree), journal flushed to the OS per write, no fsync",
        tier: Tier::OsBuffered,
        version: VERSION,
        measures: Measures::WallClockOnly(BACKGROUND),
        role: Role::Store,
        open,
    },
    Registration {
        name: "fjall:sync",
        about: "fjall, journal fsynced after every write",
        tier: Tier::FsyncPerCommit,
        version: VERSION,
        measures: Measures::WallClockOnly(BACKGROUND),
        role: Role::Store,
        open,
    },
];

/// Block cache: the lab's largest data set (100k documents of ~1.2 KB) fits.
const CACHE_BYTES: u64 = 256 << 20;

const NAME: &str = "fjall";

struct Fjall {
    // Field order: the keyspace handle goes before its database, the database before the
    // directory it lives in.
    docs: Keyspace,
    db: Database,
    /// fsync the journal after every write.
    sync: bool,
    _dir: tempfile::TempDir,
}

/// The database in `dir` (created when empty) and its one keyspace.
fn open_in(dir: &std::path::Path) -> Result<(Keyspace, Database)> {
    let db = Database::builder(dir)
        .cache_size(CACHE_BYTES)
        .open()
        .or_store(NAME)?;
    let docs = db
        .keyspace("docs", KeyspaceCreateOptions::default)
        .or_store(NAME)?;
    Ok((docs, db))
}

fn open(reg: &Registration, options: &Options) -> Result<Box<dyn Backend>> {
    let dir = scratch_dir(options, NAME)?;
    let (docs, db) = open_in(dir.path())?;
    let sync = reg.tier == Tier::FsyncPerCommit;
    Peer::open(
        reg,
        options,
        Fjall {
            docs,
            db,
            sync,
            _dir: dir,
        },
    )
}

impl Fjall {
    /// The durability flush after a write: an fsync of the journal for `fjall:sync`.
    fn persist(&self) -> Result<()> {
        if self.sync {
            self.db.persist(PersistMode::SyncData).or_store(NAME)?;
        }
        Ok(())
    }
}

/// Hands each pair of `guards` to `each` until it returns false.
fn walk(
    guards: impl Iterator<Item = Guard>,
    mut each: impl FnMut(&[u8], &[u8]) -> Result<bool>,
) -> Result<()> {
    for guard in guards {
        let (k, v) = guard.into_inner().or_store(NAME)?;
        if !each(&k, &v)? {
            break;
        }
    }
    Ok(())
}

impl Kv for Fjall {
    fn dir(&self) -> Option<&std::path::Path> {
        Some(self._dir.path())
    }

    fn can_reopen(&self) -> bool {
        true
    }

    fn reopen(self) -> Result<Self> {
        let Fjall {
            docs,
            db,
            sync,
            _dir,
        } = self;
        drop(docs);
        drop(db);
        let (docs, db) = open_in(_dir.path())?;
        Ok(Fjall {
            docs,
            db,
            sync,
            _dir,
        })
    }

    fn describe(&self, info: BackendInfo) -> BackendInfo {
        BackendInfo {
            store: format!("fjall {} (LSM-tree)", VERSION.number()),
            durability: if self.sync {
                "durable: journal, persist(SyncData) after every write".into()
            } else {
                "durable: journal flushed to the OS per write, no fsync (default settings)".into()
            },
            cache: "fjall block cache, 256 MiB (default keyspace options)".into(),
            ..info
        }
    }

    fn put(&self, key: &[u8], value: Cow<'_, [u8]>) -> Result<()> {
        self.docs.insert(key, &*value).or_store(NAME)?;
        self.persist()
    }

    fn get<T>(
        &self,
        key: &[u8],
        _scratch: &mut Vec<u8>,
        read: impl FnOnce(&[u8]) -> T,
    ) -> Result<Option<T>> {
        Ok(self.docs.get(key).or_store(NAME)?.map(|v| read(&v)))
    }

    fn delete(&self, key: &[u8]) -> Result<bool> {
        let existed = self.docs.contains_key(key).or_store(NAME)?;
        if existed {
            self.docs.remove(key).or_store(NAME)?;
            self.persist()?;
        }
        Ok(existed)
    }

    fn scan(&self, start: &[u8], each: impl FnMut(&[u8], &[u8]) -> Result<bool>) -> Result<()> {
        walk(self.docs.range(start..), each)
    }

    fn scan_prefix(
        &self,
        prefix: &[u8],
        each: impl FnMut(&[u8], &[u8]) -> Result<bool>,
    ) -> Result<()> {
        walk(self.docs.prefix(prefix), each)
    }

    fn put_batch(&self, items: Items<'_>) -> Result<()> {
        let mut batch = self.db.batch();
        for item in items.owned() {
            let (k, v) = item?;
            batch.insert(&self.docs, k, v);
        }
        batch.commit().or_store(NAME)?;
        self.persist()
    }

    fn delete_batch(&self, keys: &[Vec<u8>]) -> Result<()> {
        let mut batch = self.db.batch();
        for k in keys {
            batch.remove(&self.docs, k.as_slice());
        }
        batch.commit().or_store(NAME)?;
        self.persist()
    }
}
