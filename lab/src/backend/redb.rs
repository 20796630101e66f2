//! `redb`: in memory (its `InMemoryBackend`) or durable in a temporary file with its
//! default durability (`Durability::Immediate`: fsync on every commit) and default page
//! cache, as its documentation recommends. One write transaction per write, one read
//! transaction per read (redb's read transactions are cheap snapshots), JSON values (raw
//! bytes when opaque).

use redb::{Database, ReadableDatabase, TableDefinition};

use super::codec::{Decode, Format};
use super::page::Pager;
use super::{
    peer_format, scratch_dir, variant_name, Backend, BackendInfo, Options, OrStore, Page,
    QuerySpec, Result, Worker,
};
use crate::doc::Value;

const TABLE: TableDefinition<&[u8], &[u8]> = TableDefinition::new("docs");

pub(crate) struct RedbBackend {
    db: Database,
    format: Format,
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
        format: peer_format(options),
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
            store: format!("redb {}", env!("LAB_REDB_VERSION")),
            durability: if self.durable {
                "durable: file, Durability::Immediate (fsync per commit), one write txn per write"
                    .into()
            } else {
                "in memory (InMemoryBackend)".into()
            },
            serialization: self.format.label().into(),
            cache: "redb's page cache (default size)".into(),
            stores_data: true,
            rust_heap: true,
        }
    }

    fn worker(&self) -> Box<dyn Worker + '_> {
        Box::new(RedbWorker {
            db: &self.db,
            format: self.format,
            value: Value::default(),
            pager: Pager::default(),
            page: Page::default(),
        })
    }
}

struct RedbWorker<'a> {
    db: &'a Database,
    format: Format,
    value: Value,
    pager: Pager,
    page: Page,
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
    fn insert(&mut self, key: &[u8], value: &Value) -> Result<()> {
        let mut fresh = Vec::new();
        let bytes = self.format.stored(value, &mut fresh).or_store(NAME)?;
        self.write(|t| t.insert(key, bytes).map(|_| true).or_store(NAME))?;
        Ok(())
    }

    fn read(&mut self, key: &[u8]) -> Result<Option<&Value>> {
        let txn = self.db.begin_read().or_store(NAME)?;
        let table = txn.open_table(TABLE).or_store(NAME)?;
        match table.get(key).or_store(NAME)? {
            None => Ok(None),
            Some(v) => {
                self.format
                    .decode(v.value(), &mut self.value, Decode::Fresh)
                    .or_store(NAME)?;
                Ok(Some(&self.value))
            }
        }
    }

    fn update(&mut self, key: &[u8], value: &Value) -> Result<()> {
        self.insert(key, value)
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
            self.format
                .decode(v.value(), &mut self.value, Decode::Fresh)
                .or_store(NAME)?;
            n += 1;
        }
        Ok(n)
    }

    fn batch_insert(&mut self, items: &[(Vec<u8>, Value)]) -> Result<()> {
        let format = self.format;
        let encoded = items
            .iter()
            .map(|(k, v)| Ok((k, format.encoded(v).or_store(NAME)?)))
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

    fn query(&mut self, q: &QuerySpec) -> Result<&Page> {
        let txn = self.db.begin_read().or_store(NAME)?;
        let table = txn.open_table(TABLE).or_store(NAME)?;
        self.pager.start(&mut self.page);
        for entry in table.range(q.prefix.as_slice()..).or_store(NAME)? {
            let (k, v) = entry.or_store(NAME)?;
            let key = k.value();
            if !key.starts_with(&q.prefix)
                || !self
                    .pager
                    .offer(q, self.format, key, v.value(), &mut self.page)
            {
                break;
            }
        }
        self.pager.finish(q, &mut self.page);
        Ok(&self.page)
    }
}
