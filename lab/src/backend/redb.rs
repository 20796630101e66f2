//! `redb`: in memory (its `InMemoryBackend`) or durable in a temporary file with its
//! default durability (`Durability::Immediate`: fsync on every commit). One write
//! transaction per write, one read transaction per read, JSON values.

use redb::{Database, ReadableDatabase, TableDefinition};

use super::{
    from_json, page, store_err, to_json, Backend, BackendInfo, Options, QuerySpec, Result, Worker,
};
use crate::doc::Doc;

const TABLE: TableDefinition<&[u8], &[u8]> = TableDefinition::new("docs");

pub(crate) struct RedbBackend {
    db: Database,
    durable: bool,
    _dir: Option<tempfile::TempDir>,
}

fn err(e: impl std::fmt::Display) -> super::BackendError {
    store_err("redb", e)
}

pub(crate) fn open(options: &Options, durable: bool) -> Result<Box<dyn Backend>> {
    let (db, dir) = if durable {
        let dir = tempfile::Builder::new()
            .prefix("redb-lab-")
            .tempdir_in(&options.scratch_dir)
            .map_err(err)?;
        (
            Database::create(dir.path().join("lab.redb")).map_err(err)?,
            Some(dir),
        )
    } else {
        let db = Database::builder()
            .create_with_backend(redb::backends::InMemoryBackend::new())
            .map_err(err)?;
        (db, None)
    };
    let txn = db.begin_write().map_err(err)?;
    txn.open_table(TABLE).map_err(err)?;
    txn.commit().map_err(err)?;
    Ok(Box::new(RedbBackend {
        db,
        durable,
        _dir: dir,
    }))
}

impl Backend for RedbBackend {
    fn name(&self) -> &str {
        if self.durable {
            "redb:durable"
        } else {
            "redb"
        }
    }

    fn describe(&self) -> BackendInfo {
        BackendInfo {
            name: self.name().into(),
            store: "redb 3.1".into(),
            durability: if self.durable {
                "durable: file, Durability::Immediate (fsync per commit), one write txn per write"
                    .into()
            } else {
                "in memory (InMemoryBackend)".into()
            },
            serialization: "JSON (serde_json)".into(),
            cache: "redb's page cache (default size)".into(),
            stores_data: true,
            rust_heap: true,
        }
    }

    fn worker(&self) -> Box<dyn Worker + '_> {
        Box::new(RedbWorker {
            db: &self.db,
            doc: Doc::default(),
        })
    }
}

struct RedbWorker<'a> {
    db: &'a Database,
    doc: Doc,
}

impl RedbWorker<'_> {
    fn write(
        &self,
        f: impl FnOnce(&mut redb::Table<'_, &[u8], &[u8]>) -> Result<bool>,
    ) -> Result<bool> {
        let txn = self.db.begin_write().map_err(err)?;
        let out = {
            let mut table = txn.open_table(TABLE).map_err(err)?;
            f(&mut table)?
        };
        txn.commit().map_err(err)?;
        Ok(out)
    }
}

impl Worker for RedbWorker<'_> {
    fn insert(&mut self, key: &[u8], doc: &Doc) -> Result<()> {
        let bytes = to_json("redb", doc)?;
        self.write(|t| t.insert(key, bytes.as_slice()).map(|_| true).map_err(err))?;
        Ok(())
    }

    fn read(&mut self, key: &[u8]) -> Result<Option<&Doc>> {
        let txn = self.db.begin_read().map_err(err)?;
        let table = txn.open_table(TABLE).map_err(err)?;
        match table.get(key).map_err(err)? {
            None => Ok(None),
            Some(v) => {
                self.doc = from_json("redb", v.value())?;
                Ok(Some(&self.doc))
            }
        }
    }

    fn update(&mut self, key: &[u8], doc: &Doc) -> Result<()> {
        self.insert(key, doc)
    }

    fn delete(&mut self, key: &[u8]) -> Result<bool> {
        self.write(|t| t.remove(key).map(|old| old.is_some()).map_err(err))
    }

    fn scan(&mut self, start: &[u8], limit: usize) -> Result<usize> {
        let txn = self.db.begin_read().map_err(err)?;
        let table = txn.open_table(TABLE).map_err(err)?;
        let mut n = 0;
        for entry in table.range(start..).map_err(err)?.take(limit) {
            let (_, v) = entry.map_err(err)?;
            from_json("redb", v.value())?;
            n += 1;
        }
        Ok(n)
    }

    fn batch_insert(&mut self, items: &[(Vec<u8>, Doc)]) -> Result<()> {
        let encoded = items
            .iter()
            .map(|(k, d)| Ok((k, to_json("redb", d)?)))
            .collect::<Result<Vec<_>>>()?;
        self.write(|t| {
            for (k, v) in &encoded {
                t.insert(k.as_slice(), v.as_slice()).map_err(err)?;
            }
            Ok(true)
        })?;
        Ok(())
    }

    fn query(&mut self, q: &QuerySpec) -> Result<usize> {
        let txn = self.db.begin_read().map_err(err)?;
        let table = txn.open_table(TABLE).map_err(err)?;
        let mut rows = Vec::new();
        for entry in table.range(q.prefix.as_slice()..).map_err(err)? {
            let (k, v) = entry.map_err(err)?;
            if !k.value().starts_with(&q.prefix) {
                break;
            }
            let d = from_json("redb", v.value())?;
            rows.push((d.value, d.timestamp));
        }
        Ok(page(rows, q))
    }
}
