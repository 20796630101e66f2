//! `sqlite`: rusqlite with SQLite built in (bundled). `:memory:`, or a file in WAL mode with
//! `synchronous=FULL` (fsync per commit). One table `(key BLOB PRIMARY KEY, value BLOB)`;
//! one connection shared behind a mutex (SQLite serializes writers anyway), with its
//! prepared statements cached and reused. JSON values.

use std::sync::{Mutex, MutexGuard, PoisonError};

use rusqlite::{params, Connection, OptionalExtension};

use super::{
    from_json, page, scratch_dir, to_json, variant_name, Backend, BackendInfo, Options, OrStore,
    QuerySpec, Result, Worker,
};
use crate::doc::Doc;

pub(crate) struct SqliteBackend {
    conn: Mutex<Connection>,
    name: String,
    durable: bool,
    _dir: Option<tempfile::TempDir>,
}

const NAME: &str = "sqlite";

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
    conn.execute("CREATE TABLE docs (key BLOB PRIMARY KEY, value BLOB)", [])
        .or_store(NAME)?;
    conn.set_prepared_statement_cache_capacity(32);
    Ok(Box::new(SqliteBackend {
        conn: Mutex::new(conn),
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
            store: format!("SQLite {} (rusqlite, bundled)", rusqlite::version()),
            durability: if self.durable {
                "durable: file, WAL journal, synchronous=FULL (fsync per commit)".into()
            } else {
                "in memory (:memory:)".into()
            },
            serialization: "JSON (serde_json) in a BLOB".into(),
            cache: "SQLite page cache (default size)".into(),
            stores_data: true,
            rust_heap: false,
        }
    }

    fn worker(&self) -> Box<dyn Worker + '_> {
        Box::new(SqliteWorker {
            b: self,
            doc: Doc::default(),
        })
    }
}

struct SqliteWorker<'a> {
    b: &'a SqliteBackend,
    doc: Doc,
}

impl SqliteWorker<'_> {
    fn conn(&self) -> MutexGuard<'_, Connection> {
        self.b.conn.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Decodes each value of `sql` (bound to `start`) until `keep` says stop.
    fn each(
        &self,
        sql: &str,
        start: &[u8],
        mut keep: impl FnMut(&[u8], Doc) -> bool,
    ) -> Result<()> {
        let conn = self.conn();
        let mut stmt = conn.prepare_cached(sql).or_store(NAME)?;
        let mut rows = stmt.query(params![start]).or_store(NAME)?;
        while let Some(row) = rows.next().or_store(NAME)? {
            let key: Vec<u8> = row.get(0).or_store(NAME)?;
            let value: Vec<u8> = row.get(1).or_store(NAME)?;
            if !keep(&key, from_json(NAME, &value)?) {
                break;
            }
        }
        Ok(())
    }
}

const UPSERT: &str = "INSERT OR REPLACE INTO docs (key, value) VALUES (?1, ?2)";

impl Worker for SqliteWorker<'_> {
    fn insert(&mut self, key: &[u8], doc: &Doc) -> Result<()> {
        let bytes = to_json(NAME, doc)?;
        let conn = self.conn();
        conn.prepare_cached(UPSERT)
            .or_store(NAME)?
            .execute(params![key, bytes])
            .or_store(NAME)?;
        Ok(())
    }

    fn read(&mut self, key: &[u8]) -> Result<Option<&Doc>> {
        let bytes: Option<Vec<u8>> = {
            let conn = self.conn();
            let mut stmt = conn
                .prepare_cached("SELECT value FROM docs WHERE key = ?1")
                .or_store(NAME)?;
            stmt.query_row(params![key], |r| r.get(0))
                .optional()
                .or_store(NAME)?
        };
        match bytes {
            None => Ok(None),
            Some(b) => {
                self.doc = from_json(NAME, &b)?;
                Ok(Some(&self.doc))
            }
        }
    }

    fn update(&mut self, key: &[u8], doc: &Doc) -> Result<()> {
        self.insert(key, doc)
    }

    fn delete(&mut self, key: &[u8]) -> Result<bool> {
        let conn = self.conn();
        let n = conn
            .prepare_cached("DELETE FROM docs WHERE key = ?1")
            .or_store(NAME)?
            .execute(params![key])
            .or_store(NAME)?;
        Ok(n > 0)
    }

    fn scan(&mut self, start: &[u8], limit: usize) -> Result<usize> {
        let mut n = 0;
        if limit > 0 {
            self.each(
                "SELECT key, value FROM docs WHERE key >= ?1 ORDER BY key",
                start,
                |_, _| {
                    n += 1;
                    n < limit
                },
            )?;
        }
        Ok(n)
    }

    fn batch_insert(&mut self, items: &[(Vec<u8>, Doc)]) -> Result<()> {
        let mut conn = self.conn();
        let txn = conn.transaction().or_store(NAME)?;
        {
            let mut stmt = txn.prepare_cached(UPSERT).or_store(NAME)?;
            for (k, d) in items {
                stmt.execute(params![k, to_json(NAME, d)?]).or_store(NAME)?;
            }
        }
        txn.commit().or_store(NAME)
    }

    fn delete_batch(&mut self, keys: &[Vec<u8>]) -> Result<()> {
        let mut conn = self.conn();
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

    fn query(&mut self, q: &QuerySpec) -> Result<usize> {
        let mut rows = Vec::new();
        self.each(
            "SELECT key, value FROM docs WHERE key >= ?1 ORDER BY key",
            &q.prefix,
            |k, d| {
                let inside = k.starts_with(&q.prefix);
                if inside {
                    rows.push((d.value, d.timestamp));
                }
                inside
            },
        )?;
        Ok(page(rows, q))
    }
}
