//! `sqlite`: rusqlite with SQLite built in (bundled). `:memory:`, or a file in WAL mode with
//! `synchronous=FULL` (fsync per commit). One table `(key BLOB PRIMARY KEY, value BLOB)`,
//! declared `WITHOUT ROWID` when the values are opaque and small (SQLite's documentation
//! advises it for non-integer primary keys with rows under about 1/20 of a page, and
//! against it for larger rows such as the ~1.2 KB documents); one connection shared behind
//! a mutex (SQLite serializes writers anyway), with its prepared statements cached and
//! reused; blobs are read in place, not copied into a `Vec`. JSON values (raw bytes when
//! opaque).

use std::borrow::Cow;
use std::sync::{Mutex, MutexGuard, PoisonError};

use rusqlite::{params, Connection, OptionalExtension};

use super::peer::{Items, Kv, Peer};
use super::{scratch_dir, Backend, BackendInfo, Options, OrStore, Registration, Result, Tier, Version};
use crate::doc::ValueShape;

const VERSION: Version = Version::Crate("rusqlite");

pub(crate) const REGISTRATIONS: &[Registration] = &[
    Registration::store(
        "sqlite",
        "SQLite in memory (:memory:), prepared statements, JSON in a BLOB",
        Tier::Memory,
        VERSION,
        open,
    ),
    Registration::store(
        "sqlite:durable",
        "SQLite in a file, WAL journal, synchronous=FULL",
        Tier::FsyncPerCommit,
        VERSION,
        open,
    ),
    Registration::store(
        "sqlite:normal",
        "SQLite in a file, WAL journal, synchronous=NORMAL (fsync at checkpoints only)",
        Tier::OsBuffered,
        VERSION,
        open,
    ),
];

const NAME: &str = "sqlite";

/// Rows up to this size go in a `WITHOUT ROWID` table (1/20 of SQLite's 4 KiB page).
const SMALL_ROW: usize = 4096 / 20;

const UPSERT: &str = "INSERT OR REPLACE INTO docs (key, value) VALUES (?1, ?2)";
const DELETE: &str = "DELETE FROM docs WHERE key = ?1";
const FROM: &str = "SELECT key, value FROM docs WHERE key >= ?1 ORDER BY key";

struct Sqlite {
    conn: Mutex<Connection>,
    without_rowid: bool,
    /// `FULL` (fsync per commit) or `NORMAL` (WAL fsynced at checkpoints only), on disk.
    synchronous: &'static str,
    /// The file's directory when durable; removed when dropped.
    dir: Option<tempfile::TempDir>,
}

/// The database file in `dir`, opened (or created) in WAL mode with `synchronous`.
fn open_file(dir: &tempfile::TempDir, synchronous: &str) -> Result<Connection> {
    let conn = Connection::open(dir.path().join("lab.sqlite")).or_store(NAME)?;
    conn.pragma_update(None, "journal_mode", "WAL")
        .or_store(NAME)?;
    conn.pragma_update(None, "synchronous", synchronous)
        .or_store(NAME)?;
    conn.set_prepared_statement_cache_capacity(32);
    Ok(conn)
}

fn open(reg: &Registration, options: &Options) -> Result<Box<dyn Backend>> {
    // FULL for fsync-per-commit; NORMAL, in WAL mode, syncs only at checkpoints.
    let synchronous = if reg.tier == Tier::FsyncPerCommit {
        "FULL"
    } else {
        "NORMAL"
    };
    let (conn, dir) = if reg.tier.on_disk() {
        let dir = scratch_dir(options, NAME)?;
        (open_file(&dir, synchronous)?, Some(dir))
    } else {
        (Connection::open_in_memory().or_store(NAME)?, None)
    };
    let without_rowid = matches!(options.values, ValueShape::Bytes(n) if n <= SMALL_ROW);
    conn.execute(
        if without_rowid {
            "CREATE TABLE docs (key BLOB PRIMARY KEY, value BLOB) WITHOUT ROWID"
        } else {
            "CREATE TABLE docs (key BLOB PRIMARY KEY, value BLOB)"
        },
        [],
    )
    .or_store(NAME)?;
    conn.set_prepared_statement_cache_capacity(32);
    let conn = Mutex::new(conn);
    Peer::open(
        reg,
        options,
        Sqlite {
            conn,
            without_rowid,
            synchronous,
            dir,
        },
    )
}

impl Sqlite {
    fn conn(&self) -> MutexGuard<'_, Connection> {
        self.conn.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Runs `f` with the connection in a transaction, committed if `f` succeeds.
    fn transaction(&self, f: impl FnOnce(&rusqlite::Transaction<'_>) -> Result<()>) -> Result<()> {
        let mut conn = self.conn();
        let txn = conn.transaction().or_store(NAME)?;
        f(&txn)?;
        txn.commit().or_store(NAME)
    }
}

impl Kv for Sqlite {
    fn dir(&self) -> Option<&std::path::Path> {
        self.dir.as_ref().map(tempfile::TempDir::path)
    }

    fn can_reopen(&self) -> bool {
        self.dir.is_some()
    }

    fn reopen(self) -> Result<Self> {
        let Sqlite {
            conn,
            without_rowid,
            synchronous,
            dir,
        } = self;
        // Closing the last connection checkpoints the WAL into the database file.
        drop(conn);
        let dir = dir.ok_or_else(|| super::store_err(NAME, "reopen: not on disk"))?;
        let conn = Mutex::new(open_file(&dir, synchronous)?);
        Ok(Sqlite {
            conn,
            without_rowid,
            synchronous,
            dir: Some(dir),
        })
    }

    fn describe(&self, info: BackendInfo) -> BackendInfo {
        BackendInfo {
            store: format!(
                "SQLite {} (rusqlite {}, bundled){}",
                rusqlite::version(),
                VERSION.number(),
                if self.without_rowid {
                    ", WITHOUT ROWID table"
                } else {
                    ""
                }
            ),
            durability: match (&self.dir, self.synchronous) {
                (Some(_), "FULL") => {
                    "durable: file, WAL journal, synchronous=FULL (fsync per commit)".into()
                }
                (Some(_), _) => "durable against a process crash: file, WAL journal, synchronous=NORMAL (the WAL fsynced at \
                                 checkpoints only: a power loss can lose recent commits)"
                    .into(),
                (None, _) => {
                    "in memory (:memory:)".into()
                }
            },
            serialization: format!("{} in a BLOB", info.serialization),
            cache: "SQLite page cache (default size)".into(),
            rust_heap: false,
            ..info
        }
    }

    fn put(&self, key: &[u8], value: Cow<'_, [u8]>) -> Result<()> {
        let conn = self.conn();
        conn.prepare_cached(UPSERT)
            .or_store(NAME)?
            .execute(params![key, &*value])
            .or_store(NAME)?;
        Ok(())
    }

    fn get<T>(
        &self,
        key: &[u8],
        _scratch: &mut Vec<u8>,
        read: impl FnOnce(&[u8]) -> T,
    ) -> Result<Option<T>> {
        let conn = self.conn();
        let mut stmt = conn
            .prepare_cached("SELECT value FROM docs WHERE key = ?1")
            .or_store(NAME)?;
        stmt.query_row(params![key], |r| Ok(read(r.get_ref(0)?.as_blob()?)))
            .optional()
            .or_store(NAME)
    }

    fn delete(&self, key: &[u8]) -> Result<bool> {
        let conn = self.conn();
        let n = conn
            .prepare_cached(DELETE)
            .or_store(NAME)?
            .execute(params![key])
            .or_store(NAME)?;
        Ok(n > 0)
    }

    fn scan(
        &self,
        start: &[u8],
        mut each: impl FnMut(&[u8], &[u8]) -> Result<bool>,
    ) -> Result<()> {
        let conn = self.conn();
        let mut stmt = conn.prepare_cached(FROM).or_store(NAME)?;
        let mut rows = stmt.query(params![start]).or_store(NAME)?;
        while let Some(row) = rows.next().or_store(NAME)? {
            let key = row.get_ref(0).and_then(|v| Ok(v.as_blob()?));
            let value = row.get_ref(1).and_then(|v| Ok(v.as_blob()?));
            if !each(key.or_store(NAME)?, value.or_store(NAME)?)? {
                break;
            }
        }
        Ok(())
    }

    fn put_batch(&self, items: Items<'_>) -> Result<()> {
        self.transaction(|txn| {
            let mut stmt = txn.prepare_cached(UPSERT).or_store(NAME)?;
            items.each(|k, v| stmt.execute(params![k, v]).map(drop).or_store(NAME))
        })
    }

    fn delete_batch(&self, keys: &[Vec<u8>]) -> Result<()> {
        self.transaction(|txn| {
            let mut stmt = txn.prepare_cached(DELETE).or_store(NAME)?;
            for k in keys {
                stmt.execute(params![k]).or_store(NAME)?;
            }
            Ok(())
        })
    }
}
