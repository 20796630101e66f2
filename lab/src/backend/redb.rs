//! `redb`: in memory (its `InMemoryBackend`) or durable in a temporary file with its
//! default durability (`Durability::Immediate`: fsync on every commit). One write
//! transaction per write, one read transaction per read, JSON values.

use redb::{Database, ReadableDatabase, TableDefinition};

use super::{
    from_json, page, scratch_dir, to_json, variant_name, Backend, BackendInfo, Options, OrStore,
    QuerySpec, Result, Worker,
};
use crate::doc::Doc;

const TABLE: TableDefinition<&[u8], &[u8]> = TableDefinition::new("docs");

pub(crate) struct RedbBackend {
    db: Database,
    name: String,
    durable: bool,
    _dir: Option<tempfile::TempDir>,
}

const NAME: &str = "redb";

pub(crate) fn open(options: &Options, durable: bool) -> Result<Box<dyn Backend>> {
    let (db, dir) = if durable {
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
    Ok(Box::new(RedbBackend {
        db,
        name: variant_name(NAME, durable),
        durable,
        _dir: dir,
    }))
}

impl Backend for RedbBackend {
    fn name(&self) -> &str {
        &self.name
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
        let txn = self.db.begin_write().or_store(NAME)?;
        let out = {
            let mut table = txn.open_table(TABLE).or_store(NAME)?;
            f(&mut table)?
        };
        txn.commit().or_store(NAME)?;
        Ok(out)
    }
}

impl Worker for RedbWorker<'_> {
    fn insert(&mut self, key: &[u8], doc: &Doc) -> Result<()> {
        let bytes = to_json(NAME, doc)?;
        self.write(|t| t.insert(key, bytes.as_slice()).map(|_| true).or_store(NAME))?;
        Ok(())
    }

    fn read(&mut self, key: &[u8]) -> Result<Option<&Doc>> {
        let txn = self.db.begin_read().or_store(NAME)?;
        let table = txn.open_table(TABLE).or_store(NAME)?;
        match table.get(key).or_store(NAME)? {
            None => Ok(None),
            Some(v) => {
                self.doc = from_json(NAME, v.value())?;
                Ok(Some(&self.doc))
            }
        }
    }

    fn update(&mut self, key: &[u8], doc: &Doc) -> Result<()> {
        self.insert(key, doc)
    }

    fn delete(&mut self, key: &[u8]) -> Result<bool> {
        self.write(|t| t.remove(key).map(|old| old.is_some()).or_store(NAME))
    }

    fn scan(&mut self, start: &[u8], limit: usize) -> Result<usize> {
        let txn = self.db.begin_read().or_store(NAME)?;
        let table = txn.open_table(TABLE).or_store(NAME)?;
        let mut n = 0;
        for entry in table.range(start..).or_store(NAME)?.take(limit) {
            let (_, v) = entry.or_store(NAME)?;
            from_json(NAME, v.value())?;
            n += 1;
        }
        Ok(n)
    }

    fn batch_insert(&mut self, items: &[(Vec<u8>, Doc)]) -> Result<()> {
        let encoded = items
            .iter()
            .map(|(k, d)| Ok((k, to_json(NAME, d)?)))
            .collect::<Result<Vec<_>>>()?;
        self.write(|t| {
            for (k, v) in &encoded {
                t.insert(k.as_slice(), v.as_slice()).or_store(NAME)?;
            }
            Ok(true)
        })?;
        Ok(())
    }

    fn delete_batch(&mut self, keys: &[Vec<u8>]) -> Result<()> {
        self.write(|t| {
            for k in keys {
                t.remove(k.as_slice()).or_store(NAME)?;
            }
            Ok(true)
        })?;
        Ok(())
    }

    fn query(&mut self, q: &QuerySpec) -> Result<usize> {
        let txn = self.db.begin_read().or_store(NAME)?;
        let table = txn.open_table(TABLE).or_store(NAME)?;
        let mut rows = Vec::new();
        for entry in table.range(q.prefix.as_slice()..).or_store(NAME)? {
            let (k, v) = entry.or_store(NAME)?;
            if !k.value().starts_with(&q.prefix) {
                break;
            }
            let d = from_json(NAME, v.value())?;
            rows.push((d.value, d.timestamp));
        }
        Ok(page(rows, q))
    }
}
