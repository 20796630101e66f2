//! `redb`: in memory (its `InMemoryBackend`) or durable in a temporary file with its
//! default durability (`Durability::Immediate`: fsync on every commit) and default page
//! cache, as its documentation recommends. One write transaction per write, one read
//! transaction per read (redb's read transactions are cheap snapshots), JSON values (raw
//! bytes when opaque).

use std::borrow::Cow;

use redb::{Database, ReadableDatabase, Table, TableDefinition};

use super::peer::{Each, Items, Kv, Peer};
use super::{scratch_dir, Backend, BackendInfo, Options, OrStore, Registration, Result, Tier, Version};

const VERSION: Version = Version::Crate("redb");

pub(crate) const REGISTRATIONS: &[Registration] = &[
    Registration::store(
        "redb",
        "redb (B-tree) in memory, a transaction per operation, JSON",
        Tier::Memory,
        VERSION,
        open,
    ),
    Registration::store(
        "redb:durable",
        "redb in a file, fsync per commit",
        Tier::FsyncPerCommit,
        VERSION,
        open,
    ),
];

const TABLE: TableDefinition<&[u8], &[u8]> = TableDefinition::new("docs");

const NAME: &str = "redb";

struct Redb {
    db: Database,
    /// The file's directory when durable; removed when dropped.
    dir: Option<tempfile::TempDir>,
}

fn open(reg: &Registration, options: &Options) -> Result<Box<dyn Backend>> {
    let (db, dir) = if reg.tier.on_disk() {
        let dir = scratch_dir(options, NAME)?;
        (
            Database::create(dir.path().join("lab.redb")).or_store(NAME)?,
            Some(dir),
        )
    } else {
        let db = Database::builder()
            .create_with_backend(redb::backends::InMemoryBackend::new())
            .or_store(NAME)?;
        (db, None)
    };
    let txn = db.begin_write().or_store(NAME)?;
    txn.open_table(TABLE).or_store(NAME)?;
    txn.commit().or_store(NAME)?;
    Peer::open(reg, options, Redb { db, dir })
}

impl Redb {
    /// Runs `f` on the table in a write transaction of its own, committed.
    fn write<T>(&self, f: impl FnOnce(&mut Table<'_, &[u8], &[u8]>) -> Result<T>) -> Result<T> {
        let txn = self.db.begin_write().or_store(NAME)?;
        let out = {
            let mut table = txn.open_table(TABLE).or_store(NAME)?;
            f(&mut table)?
        };
        txn.commit().or_store(NAME)?;
        Ok(out)
    }

    /// [`Kv::scan`], not generic: one small loop, which the compiler inlines redb's range
    /// iterator into (generic copies of the loop did not: ~7% more instructions a query).
    fn walk(&self, start: &[u8], each: &mut Each<'_>) -> Result<()> {
        let txn = self.db.begin_read().or_store(NAME)?;
        let table = txn.open_table(TABLE).or_store(NAME)?;
        for entry in table.range(start..).or_store(NAME)? {
            let (k, v) = entry.or_store(NAME)?;
            if !each(k.value(), v.value())? {
                break;
            }
        }
        Ok(())
    }
}

impl Kv for Redb {
    fn dir(&self) -> Option<&std::path::Path> {
        self.dir.as_ref().map(tempfile::TempDir::path)
    }

    fn can_reopen(&self) -> bool {
        self.dir.is_some()
    }

    fn reopen(self) -> Result<Self> {
        let Redb { db, dir } = self;
        drop(db);
        let dir = dir.ok_or_else(|| super::store_err(NAME, "reopen: not on disk"))?;
        let db = Database::open(dir.path().join("lab.redb")).or_store(NAME)?;
        Ok(Redb { db, dir: Some(dir) })
    }

    fn describe(&self, info: BackendInfo) -> BackendInfo {
        BackendInfo {
            store: format!("redb {}", VERSION.number()),
            durability: if self.dir.is_some() {
                "durable: file, Durability::Immediate (fsync per commit), one write txn per write"
                    .into()
            } else {
                "in memory (InMemoryBackend)".into()
            },
            cache: "redb's page cache (default size)".into(),
            ..info
        }
    }

    fn put(&self, key: &[u8], value: Cow<'_, [u8]>) -> Result<()> {
        self.write(|t| t.insert(key, &*value).map(drop).or_store(NAME))
    }

    fn get<T>(
        &self,
        key: &[u8],
        _scratch: &mut Vec<u8>,
        read: impl FnOnce(&[u8]) -> T,
    ) -> Result<Option<T>> {
        let txn = self.db.begin_read().or_store(NAME)?;
        let table = txn.open_table(TABLE).or_store(NAME)?;
        Ok(table.get(key).or_store(NAME)?.map(|v| read(v.value())))
    }

    fn delete(&self, key: &[u8]) -> Result<bool> {
        self.write(|t| t.remove(key).map(|old| old.is_some()).or_store(NAME))
    }

    fn scan(
        &self,
        start: &[u8],
        mut each: impl FnMut(&[u8], &[u8]) -> Result<bool>,
    ) -> Result<()> {
        self.walk(start, &mut each)
    }

    fn put_batch(&self, items: Items<'_>) -> Result<()> {
        let encoded = items.owned().collect::<Result<Vec<_>>>()?;
        self.write(|t| {
            for (k, v) in &encoded {
                t.insert(*k, v.as_slice()).or_store(NAME)?;
            }
            Ok(())
        })
    }

    fn delete_batch(&self, keys: &[Vec<u8>]) -> Result<()> {
        self.write(|t| {
            for k in keys {
                t.remove(k.as_slice()).or_store(NAME)?;
            }
            Ok(())
        })
    }
}
