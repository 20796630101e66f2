//! `sqlite`: rusqlite with SQLite built in (bundled). `:memory:`, or a file in WAL mode with
//! `synchronous=FULL` (fsync per commit). One table `(key BLOB PRIMARY KEY, value BLOB)`,
//! declared `WITHOUT ROWID` when the values are opaque and small (SQLite's documentation
//! advises it for non-integer primary keys with rows under about 1/20 of a page, and
//! against it for larger rows such as the ~1.2 KB documents); one connection shared behind
//! a mutex (SQLite serializes writers anyway), with its prepared statements cached and
//! reused; blobs are read in place, not copied into a `Vec`. JSON values (raw bytes when
//! opaque).

use std::sync::{Mutex, MutexGuard, PoisonError};

use rusqlite::{params, Connection, OptionalExtension};

use super::codec::{Decode, Format};
use super::page::Pager;
use super::{
    peer_format, scratch_dir, variant_name, Backend, BackendInfo, Options, OrStore, Page,
    QuerySpec, Result, Worker,
};
use crate::doc::{Value, ValueShape};

pub(crate) struct SqliteBackend {
    conn: Mutex<Connection>,
    format: Format,
    without_rowid: bool,
    name: String,
    durable: bool,
    _dir: Option<tempfile::TempDir>,
}

const NAME: &str = "sqlite";

/// Rows up to this size go in a `WITHOUT ROWID` table (1/20 of SQLite's 4 KiB page).
const SMALL_ROW: usize = 4096 / 20;

pub(crate) fn open(options: &Options, durable: bool) -> Result<Box<dyn Backend>> {
    let (conn, dir) = if durable {
        let dir = scratch_dir(options, NAME)?;
        let conn = Connection::open(dir.path().join("lab.sqlite")).or_store(NAME)?;
        conn.pragma_update(None, "journal_mode", "WAL")
            .or_store(NAME)?;
        conn.pragma_update(None, "synchronous", "FULL")
            .or_store(NAME)?;
        (conn, Some(dir))
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
    Ok(Box::new(SqliteBackend {
        conn: Mutex::new(conn),
        format: peer_format(options),
        without_rowid,
        name: variant_name(NAME, durable),
        durable,
        _dir: dir,
    }))
}

impl Backend for SqliteBackend {
    fn name(&self) -> &str {
        &self.name
    }

    fn describe(&self) -> BackendInfo {
        BackendInfo {
            name: self.name().into(),
            store: format!(
                "SQLite {} (rusqlite {}, bundled){}",
                rusqlite::version(),
                env!("LAB_RUSQLITE_VERSION"),
                if self.without_rowid {
                    ", WITHOUT ROWID table"
                } else {
                    ""
                }
            ),
            durability: if self.durable {
                "durable: file, WAL journal, synchronous=FULL (fsync per commit)".into()
            } else {
                "in memory (:memory:)".into()
            },
            serialization: format!("{} in a BLOB", self.format.label()),
            cache: "SQLite page cache (default size)".into(),
            stores_data: true,
            rust_heap: false,
        }
    }

    fn worker(&self) -> Box<dyn Worker + '_> {
        Box::new(SqliteWorker {
            b: self,
            value: Value::default(),
            pager: Pager::default(),
            page: Page::default(),
        })
    }
}

struct SqliteWorker<'a> {
    b: &'a SqliteBackend,
    value: Value,
    pager: Pager,
    page: Page,
}

impl SqliteBackend {
    fn conn(&self) -> MutexGuard<'_, Connection> {
        self.conn.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Hands each `(key, value)` of `sql` (bound to `start`) to `keep`, borrowed from the
    /// row, until it says stop.
    fn each(
        &self,
        sql: &str,
        start: &[u8],
        mut keep: impl FnMut(&[u8], &[u8]) -> Result<bool>,
    ) -> Result<()> {
        let conn = self.conn();
        let mut stmt = conn.prepare_cached(sql).or_store(NAME)?;
        let mut rows = stmt.query(params![start]).or_store(NAME)?;
        while let Some(row) = rows.next().or_store(NAME)? {
            let key = row.get_ref(0).and_then(|v| Ok(v.as_blob()?));
            let value = row.get_ref(1).and_then(|v| Ok(v.as_blob()?));
            if !keep(key.or_store(NAME)?, value.or_store(NAME)?)? {
                break;
            }
        }
        Ok(())
    }
}

const UPSERT: &str = "INSERT OR REPLACE INTO docs (key, value) VALUES (?1, ?2)";
const FROM: &str = "SELECT key, value FROM docs WHERE key >= ?1 ORDER BY key";

impl Worker for SqliteWorker<'_> {
    fn insert(&mut self, key: &[u8], value: &Value) -> Result<()> {
        let mut fresh = Vec::new();
        let bytes = self.b.format.stored(value, &mut fresh).or_store(NAME)?;
        let conn = self.b.conn();
        conn.prepare_cached(UPSERT)
            .or_store(NAME)?
            .execute(params![key, bytes])
            .or_store(NAME)?;
        Ok(())
    }

    fn read(&mut self, key: &[u8]) -> Result<Option<&Value>> {
        let (b, value) = (self.b, &mut self.value);
        let conn = b.conn();
        let mut stmt = conn
            .prepare_cached("SELECT value FROM docs WHERE key = ?1")
            .or_store(NAME)?;
        let found = stmt
            .query_row(params![key], |r| {
                let blob = r.get_ref(0)?.as_blob()?;
                Ok(b.format.decode(blob, value, Decode::Fresh))
            })
            .optional()
            .or_store(NAME)?;
        match found {
            None => Ok(None),
            Some(decoded) => {
                decoded.or_store(NAME)?;
                Ok(Some(&self.value))
            }
        }
    }

    fn update(&mut self, key: &[u8], value: &Value) -> Result<()> {
        self.insert(key, value)
    }

    fn delete(&mut self, key: &[u8]) -> Result<bool> {
        let conn = self.b.conn();
        let n = conn
            .prepare_cached("DELETE FROM docs WHERE key = ?1")
            .or_store(NAME)?
            .execute(params![key])
            .or_store(NAME)?;
        Ok(n > 0)
    }

    fn scan(&mut self, start: &[u8], limit: usize) -> Result<usize> {
        let (b, value) = (self.b, &mut self.value);
        let mut n = 0;
        if limit > 0 {
            b.each(FROM, start, |_, v| {
                b.format.decode(v, value, Decode::Fresh).or_store(NAME)?;
                n += 1;
                Ok(n < limit)
            })?;
        }
        Ok(n)
    }

    fn batch_insert(&mut self, items: &[(Vec<u8>, Value)]) -> Result<()> {
        let mut conn = self.b.conn();
        let txn = conn.transaction().or_store(NAME)?;
        {
            let mut stmt = txn.prepare_cached(UPSERT).or_store(NAME)?;
            let mut fresh = Vec::new();
            for (k, v) in items {
                let bytes = self.b.format.stored(v, &mut fresh).or_store(NAME)?;
                stmt.execute(params![k, bytes]).or_store(NAME)?;
            }
        }
        txn.commit().or_store(NAME)
    }

    fn delete_batch(&mut self, keys: &[Vec<u8>]) -> Result<()> {
        let mut conn = self.b.conn();
        let txn = conn.transaction().or_store(NAME)?;
        {
            let mut stmt = txn
                .prepare_cached("DELETE FROM docs WHERE key = ?1")
                .or_store(NAME)?;
            for k in keys {
                stmt.execute(params![k]).or_store(NAME)?;
            }
        }
        txn.commit().or_store(NAME)
    }

    fn query(&mut self, q: &QuerySpec) -> Result<&Page> {
        let (b, pager, page) = (self.b, &mut self.pager, &mut self.page);
        pager.start(page);
        b.each(FROM, &q.prefix, |k, v| {
            Ok(k.starts_with(&q.prefix) && pager.offer(q, b.format, k, v, page))
        })?;
        pager.finish(q, page);
        Ok(&self.page)
    }
}
