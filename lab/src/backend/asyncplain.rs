//! `plain:async`: `plain` (acorn + serde_json, or opaque values as they are) through the engine's async API
//! ([`acorn::AsyncTree`]). The runner keeps `[run] in_flight` operations going per thread as
//! tokio tasks on a current-thread runtime; a durable write waits for its fsync as a waker
//! in the log, so the tasks of one thread share fsyncs. What it costs shows in memory
//! (`plain:async` vs `plain`), what it buys on disk (`plain:async:durable` with
//! `in_flight = 64` vs `plain:durable`).
//!
//! Its blocking [`Worker`] (loading, the conformance suite, `in_flight = 1` paths that need
//! one) runs each write as a future to completion on the worker's own current-thread runtime.

use acorn::AsyncTree;

use super::engine::{key_str, EngineBackend, EngineWorker};
use super::{AsyncWorker, Backend, BackendInfo, LocalFuture, Options, Page, QuerySpec, Registration, Result, Tier, Version, Worker};
use crate::doc::Value;

pub(crate) const REGISTRATIONS: &[Registration] = &[
    Registration::store(
        "plain:async",
        "plain through AsyncTree: writes awaited as tokio tasks, [run] in_flight per \
                thread",
        Tier::Memory,
        Version::Acorn,
        open,
    ),
    Registration::store(
        "plain:async:durable",
        "plain:async on a WAL (Always): in-flight writes share fsyncs",
        Tier::GroupCommit,
        Version::Acorn,
        open,
    ),
];

pub(crate) struct AsyncBackend {
    engine: EngineBackend,
    tree: AsyncTree,
}

fn open(reg: &Registration, options: &Options) -> Result<Box<dyn Backend>> {
    let engine = EngineBackend::open(super::plain::VARIANT, reg, options)?;
    let tree = engine.tree.to_async();
    Ok(Box::new(AsyncBackend { engine, tree }))
}

impl Backend for AsyncBackend {
    fn data_dir(&self) -> Option<&std::path::Path> {
        self.engine.data_dir()
    }

    fn name(&self) -> &str {
        self.engine.name()
    }

    fn describe(&self) -> BackendInfo {
        self.engine
            .info("none; writes awaited as tokio tasks, [run] in_flight per thread")
    }

    fn worker(&self) -> Box<dyn Worker + '_> {
        Box::new(BlockingWorker {
            w: self.task_worker(),
            rt: tokio::runtime::Builder::new_current_thread().build().ok(),
        })
    }

    fn async_worker(&self) -> Option<Box<dyn AsyncWorker + '_>> {
        Some(Box::new(self.task_worker()))
    }
}

impl AsyncBackend {
    fn task_worker(&self) -> TaskWorker<'_> {
        TaskWorker {
            w: self.engine.worker(),
            tree: &self.tree,
        }
    }
}

/// One task's worker: writes are futures; everything else is `plain`'s.
pub(crate) struct TaskWorker<'a> {
    w: EngineWorker<'a>,
    tree: &'a AsyncTree,
}

impl TaskWorker<'_> {
    fn encode(&self, value: &Value) -> Result<Vec<u8>> {
        self.w.b.format.encoded(value).map_err(|e| self.w.b.err(e))
    }

    async fn put(&self, key: &[u8], value: &Value) -> Result<()> {
        let key = key_str(self.w.b.name(), key)?;
        let bytes = self.encode(value)?;
        self.tree
            .stash(key, bytes)
            .await
            .map_err(|e| self.w.b.err(e))?;
        Ok(())
    }
}

impl AsyncWorker for TaskWorker<'_> {
    fn insert<'a>(&'a mut self, key: &'a [u8], value: &'a Value) -> LocalFuture<'a, Result<()>> {
        Box::pin(self.put(key, value))
    }

    fn update<'a>(&'a mut self, key: &'a [u8], value: &'a Value) -> LocalFuture<'a, Result<()>> {
        Box::pin(self.put(key, value))
    }

    fn delete<'a>(&'a mut self, key: &'a [u8]) -> LocalFuture<'a, Result<bool>> {
        Box::pin(async move {
            let key = key_str(self.w.b.name(), key)?;
            self.tree.toss(key).await.map_err(|e| self.w.b.err(e))
        })
    }

    fn batch_insert<'a>(
        &'a mut self,
        items: &'a [(Vec<u8>, Value)],
    ) -> LocalFuture<'a, Result<()>> {
        Box::pin(async move {
            let mut batch = self.tree.batch();
            for (key, value) in items {
                batch.stash(key_str(self.w.b.name(), key)?, self.encode(value)?);
            }
            self.tree.commit(batch).await.map_err(|e| self.w.b.err(e))?;
            Ok(())
        })
    }

    fn blocking(&mut self) -> &mut dyn Worker {
        &mut self.w
    }
}

/// The blocking face of `plain:async`: every write is the async one, run to completion.
struct BlockingWorker<'a> {
    w: TaskWorker<'a>,
    /// `None` when the runtime could not be built: writes then report it.
    rt: Option<tokio::runtime::Runtime>,
}

impl BlockingWorker<'_> {
    fn runtime(&self) -> Result<&tokio::runtime::Runtime> {
        self.rt
            .as_ref()
            .ok_or_else(|| self.w.w.b.err("could not build a tokio runtime"))
    }
}

impl Worker for BlockingWorker<'_> {
    fn insert(&mut self, key: &[u8], value: &Value) -> Result<()> {
        self.runtime()?;
        let Self { w, rt } = self;
        rt.as_ref()
            .map_or(Ok(()), |rt| rt.block_on(AsyncWorker::insert(w, key, value)))
    }

    fn read(&mut self, key: &[u8]) -> Result<Option<&Value>> {
        self.w.w.read(key)
    }

    fn update(&mut self, key: &[u8], value: &Value) -> Result<()> {
        self.runtime()?;
        let Self { w, rt } = self;
        rt.as_ref()
            .map_or(Ok(()), |rt| rt.block_on(AsyncWorker::update(w, key, value)))
    }

    fn delete(&mut self, key: &[u8]) -> Result<bool> {
        self.runtime()?;
        let Self { w, rt } = self;
        rt.as_ref()
            .map_or(Ok(false), |rt| rt.block_on(AsyncWorker::delete(w, key)))
    }

    fn scan(&mut self, start: &[u8], limit: usize) -> Result<usize> {
        self.w.w.scan(start, limit)
    }

    fn batch_insert(&mut self, items: &[(Vec<u8>, Value)]) -> Result<()> {
        self.runtime()?;
        let Self { w, rt } = self;
        rt.as_ref().map_or(Ok(()), |rt| {
            rt.block_on(AsyncWorker::batch_insert(w, items))
        })
    }

    fn query(&mut self, q: &QuerySpec) -> Result<&Page> {
        self.w.w.query(q)
    }
}
