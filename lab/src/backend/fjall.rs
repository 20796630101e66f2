//! `fjall`: an LSM-tree store, durable in a temporary directory. Journal settings: the
//! default (`fjall`) writes each batch to the journal and flushes it to the OS, with no
//! fsync (like acorn's `SyncPolicy::Never`: survives a process crash, not a power loss);
//! `fjall:sync` also calls `persist(PersistMode::SyncData)` after every write (like
//! `SyncPolicy::Always`). JSON values.

use fjall::{Config, Keyspace, PartitionCreateOptions, PartitionHandle, PersistMode};

use super::{
    from_json, page, scratch_dir, to_json, Backend, BackendInfo, Options, OrStore, QuerySpec,
    Result, Worker,
};
use crate::doc::Doc;

pub(crate) struct FjallBackend {
    keyspace: Keyspace,
    docs: PartitionHandle,
    sync: bool,
    _dir: tempfile::TempDir,
}

const NAME: &str = "fjall";

pub(crate) fn open(options: &Options, sync: bool) -> Result<Box<dyn Backend>> {
    let dir = scratch_dir(options, NAME)?;
    let keyspace = Config::new(dir.path()).open().or_store(NAME)?;
    let docs = keyspace
        .open_partition("docs", PartitionCreateOptions::default())
        .or_store(NAME)?;
    Ok(Box::new(FjallBackend {
        keyspace,
        docs,
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
            store: "fjall 2.11 (LSM-tree)".into(),
            durability: if self.sync {
                "durable: journal, persist(SyncData) after every write".into()
            } else {
                "durable: journal flushed to the OS per write, no fsync (default settings)".into()
            },
            serialization: "JSON (serde_json)".into(),
            cache: "fjall block cache (default size)".into(),
            stores_data: true,
            rust_heap: true,
        }
    }

    fn worker(&self) -> Box<dyn Worker + '_> {
        Box::new(FjallWorker {
            b: self,
            doc: Doc::default(),
        })
    }
}

struct FjallWorker<'a> {
    b: &'a FjallBackend,
    doc: Doc,
}

impl FjallWorker<'_> {
    fn persist(&self) -> Result<()> {
        if self.b.sync {
            self.b
                .keyspace
                .persist(PersistMode::SyncData)
                .or_store(NAME)?;
        }
        Ok(())
    }
}

impl Worker for FjallWorker<'_> {
    fn insert(&mut self, key: &[u8], doc: &Doc) -> Result<()> {
        self.b
            .docs
            .insert(key, to_json(NAME, doc)?)
            .or_store(NAME)?;
        self.persist()
    }

    fn read(&mut self, key: &[u8]) -> Result<Option<&Doc>> {
        match self.b.docs.get(key).or_store(NAME)? {
            None => Ok(None),
            Some(v) => {
                self.doc = from_json(NAME, &v)?;
                Ok(Some(&self.doc))
            }
        }
    }

    fn update(&mut self, key: &[u8], doc: &Doc) -> Result<()> {
        self.insert(key, doc)
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
        for entry in self.b.docs.range(start..).take(limit) {
            let (_, v) = entry.or_store(NAME)?;
            from_json(NAME, &v)?;
            n += 1;
        }
        Ok(n)
    }

    fn batch_insert(&mut self, items: &[(Vec<u8>, Doc)]) -> Result<()> {
        let mut batch = self.b.keyspace.batch();
        for (k, d) in items {
            batch.insert(&self.b.docs, k.as_slice(), to_json(NAME, d)?);
        }
        batch.commit().or_store(NAME)?;
        self.persist()
    }

    fn delete_batch(&mut self, keys: &[Vec<u8>]) -> Result<()> {
        let mut batch = self.b.keyspace.batch();
        for k in keys {
            batch.remove(&self.b.docs, k.as_slice());
        }
        batch.commit().or_store(NAME)?;
        self.persist()
    }

    fn query(&mut self, q: &QuerySpec) -> Result<usize> {
        let mut rows = Vec::new();
        for entry in self.b.docs.prefix(&q.prefix) {
            let (_, v) = entry.or_store(NAME)?;
            let d = from_json(NAME, &v)?;
            rows.push((d.value, d.timestamp));
        }
        Ok(page(rows, q))
    }
}
