//! `fjall`: an LSM-tree store (fjall 3), durable in a temporary directory. Configured as its
//! README advises: default keyspace options, and a block cache large enough to hold the
//! lab's data sets (the README: ~20-25% of memory, "or more if the data set fits fully into
//! memory"; 256 MiB here, against the 32 MiB default). Journal settings: the default
//! (`fjall`) writes each operation to the journal and flushes it to the OS, with no fsync
//! (like acorn's `SyncPolicy::Never`: survives a process crash, not a power loss);
//! `fjall:sync` also calls `persist(PersistMode::SyncData)` after every write (like
//! `SyncPolicy::Always`). JSON values (raw bytes when opaque).

use fjall::{Database, Keyspace, KeyspaceCreateOptions, PersistMode};

use super::codec::{Decode, Format};
use super::page::Pager;
use super::{
    peer_format, scratch_dir, Backend, BackendInfo, Options, OrStore, Page, QuerySpec, Result,
    Worker,
};
use crate::doc::Value;

/// Block cache: the lab's largest data set (100k documents of ~1.2 KB) fits.
const CACHE_BYTES: u64 = 256 << 20;

pub(crate) struct FjallBackend {
    // Field order: the keyspace handle goes before its database, the database before the
    // directory it lives in.
    docs: Keyspace,
    db: Database,
    format: Format,
    sync: bool,
    _dir: tempfile::TempDir,
}

const NAME: &str = "fjall";

pub(crate) fn open(options: &Options, sync: bool) -> Result<Box<dyn Backend>> {
    let dir = scratch_dir(options, NAME)?;
    let db = Database::builder(dir.path())
        .cache_size(CACHE_BYTES)
        .open()
        .or_store(NAME)?;
    let docs = db
        .keyspace("docs", KeyspaceCreateOptions::default)
        .or_store(NAME)?;
    Ok(Box::new(FjallBackend {
        docs,
        db,
        format: peer_format(options),
        sync,
        _dir: dir,
    }))
}

impl Backend for FjallBackend {
    fn name(&self) -> &str {
        if self.sync {
            "fjall:sync"
        } else {
            "fjall"
        }
    }

    fn describe(&self) -> BackendInfo {
        BackendInfo {
            name: self.name().into(),
            store: format!("fjall {} (LSM-tree)", env!("LAB_FJALL_VERSION")),
            durability: if self.sync {
                "durable: journal, persist(SyncData) after every write".into()
            } else {
                "durable: journal flushed to the OS per write, no fsync (default settings)".into()
            },
            serialization: self.format.label().into(),
            cache: "fjall block cache, 256 MiB (default keyspace options)".into(),
            stores_data: true,
            rust_heap: true,
        }
    }

    fn worker(&self) -> Box<dyn Worker + '_> {
        Box::new(FjallWorker {
            b: self,
            value: Value::default(),
            pager: Pager::default(),
            page: Page::default(),
        })
    }
}

struct FjallWorker<'a> {
    b: &'a FjallBackend,
    value: Value,
    pager: Pager,
    page: Page,
}

impl FjallWorker<'_> {
    fn persist(&self) -> Result<()> {
        if self.b.sync {
            self.b.db.persist(PersistMode::SyncData).or_store(NAME)?;
        }
        Ok(())
    }
}

impl Worker for FjallWorker<'_> {
    fn insert(&mut self, key: &[u8], value: &Value) -> Result<()> {
        let mut fresh = Vec::new();
        let bytes = self.b.format.stored(value, &mut fresh).or_store(NAME)?;
        self.b.docs.insert(key, bytes).or_store(NAME)?;
        self.persist()
    }

    fn read(&mut self, key: &[u8]) -> Result<Option<&Value>> {
        match self.b.docs.get(key).or_store(NAME)? {
            None => Ok(None),
            Some(v) => {
                self.b
                    .format
                    .decode(&v, &mut self.value, Decode::Fresh)
                    .or_store(NAME)?;
                Ok(Some(&self.value))
            }
        }
    }

    fn update(&mut self, key: &[u8], value: &Value) -> Result<()> {
        self.insert(key, value)
    }

    fn delete(&mut self, key: &[u8]) -> Result<bool> {
        let existed = self.b.docs.contains_key(key).or_store(NAME)?;
        if existed {
            self.b.docs.remove(key).or_store(NAME)?;
            self.persist()?;
        }
        Ok(existed)
    }

    fn scan(&mut self, start: &[u8], limit: usize) -> Result<usize> {
        let mut n = 0;
        for guard in self.b.docs.range(start..).take(limit) {
            let v = guard.value().or_store(NAME)?;
            self.b
                .format
                .decode(&v, &mut self.value, Decode::Fresh)
                .or_store(NAME)?;
            n += 1;
        }
        Ok(n)
    }

    fn batch_insert(&mut self, items: &[(Vec<u8>, Value)]) -> Result<()> {
        let mut batch = self.b.db.batch();
        for (k, v) in items {
            let bytes = self.b.format.encoded(v).or_store(NAME)?;
            batch.insert(&self.b.docs, k.as_slice(), bytes);
        }
        batch.commit().or_store(NAME)?;
        self.persist()
    }

    fn delete_batch(&mut self, keys: &[Vec<u8>]) -> Result<()> {
        let mut batch = self.b.db.batch();
        for k in keys {
            batch.remove(&self.b.docs, k.as_slice());
        }
        batch.commit().or_store(NAME)?;
        self.persist()
    }

    fn query(&mut self, q: &QuerySpec) -> Result<&Page> {
        self.pager.start(&mut self.page);
        for guard in self.b.docs.prefix(&q.prefix) {
            let (k, v) = guard.into_inner().or_store(NAME)?;
            if !self.pager.offer(q, self.b.format, &k, &v, &mut self.page) {
                break;
            }
        }
        self.pager.finish(q, &mut self.page);
        Ok(&self.page)
    }
}
