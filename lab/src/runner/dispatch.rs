//! The one place an operation becomes backend calls: [`execute`] maps every [`OpKind`] to
//! its calls in one exhaustive `match` (no wildcard arm: a new kind does not compile until
//! it is given its calls here). Every runner goes through it: the thread loop
//! (`phase.rs`) and the counted process (`counted.rs`) on a blocking [`Worker`] through
//! [`execute_now`], the async lanes (`inflight.rs`) on an [`AsyncWorker`], whose writes are
//! futures, by awaiting [`execute`].
//!
//! A blocking worker's calls are futures that are ready when made ([`Calls`] for
//! `dyn Worker`), so [`execute_now`] completes the whole operation in one poll, with no
//! runtime; the harness cost of that poll is nothing a `noop` run can see.

use std::future::{ready, Future};
use std::hint::black_box;
use std::pin::pin;
use std::task::{Context, Poll, Waker};

use crate::backend::{AsyncWorker, Result, Worker};
use crate::doc::Value;
use crate::workload::{KeyTable, Op, OpKind, Plan};

/// The backend calls an operation is made of, on a blocking or an async worker. Reads,
/// scans and queries never wait, so they go through [`Calls::blocking`]; writes are futures.
pub(crate) trait Calls {
    /// The blocking worker, for calls that never wait.
    fn blocking(&mut self) -> &mut dyn Worker;
    fn insert<'a>(
        &'a mut self,
        key: &'a [u8],
        value: &'a Value,
    ) -> impl Future<Output = Result<()>> + 'a;
    fn update<'a>(
        &'a mut self,
        key: &'a [u8],
        value: &'a Value,
    ) -> impl Future<Output = Result<()>> + 'a;
    fn delete<'a>(&'a mut self, key: &'a [u8]) -> impl Future<Output = Result<bool>> + 'a;
    fn batch_insert<'a>(
        &'a mut self,
        items: &'a [(Vec<u8>, Value)],
    ) -> impl Future<Output = Result<()>> + 'a;
}

/// A blocking worker: each call runs when made and its future is ready.
impl Calls for dyn Worker + '_ {
    fn blocking(&mut self) -> &mut dyn Worker {
        self
    }
    fn insert<'a>(
        &'a mut self,
        key: &'a [u8],
        value: &'a Value,
    ) -> impl Future<Output = Result<()>> + 'a {
        ready(Worker::insert(self, key, value))
    }
    fn update<'a>(
        &'a mut self,
        key: &'a [u8],
        value: &'a Value,
    ) -> impl Future<Output = Result<()>> + 'a {
        ready(Worker::update(self, key, value))
    }
    fn delete<'a>(&'a mut self, key: &'a [u8]) -> impl Future<Output = Result<bool>> + 'a {
        ready(Worker::delete(self, key))
    }
    fn batch_insert<'a>(
        &'a mut self,
        items: &'a [(Vec<u8>, Value)],
    ) -> impl Future<Output = Result<()>> + 'a {
        ready(Worker::batch_insert(self, items))
    }
}

/// An async worker: writes wait for the store (the disk) without holding the thread.
impl Calls for dyn AsyncWorker + '_ {
    fn blocking(&mut self) -> &mut dyn Worker {
        AsyncWorker::blocking(self)
    }
    fn insert<'a>(
        &'a mut self,
        key: &'a [u8],
        value: &'a Value,
    ) -> impl Future<Output = Result<()>> + 'a {
        AsyncWorker::insert(self, key, value)
    }
    fn update<'a>(
        &'a mut self,
        key: &'a [u8],
        value: &'a Value,
    ) -> impl Future<Output = Result<()>> + 'a {
        AsyncWorker::update(self, key, value)
    }
    fn delete<'a>(&'a mut self, key: &'a [u8]) -> impl Future<Output = Result<bool>> + 'a {
        AsyncWorker::delete(self, key)
    }
    fn batch_insert<'a>(
        &'a mut self,
        items: &'a [(Vec<u8>, Value)],
    ) -> impl Future<Output = Result<()>> + 'a {
        AsyncWorker::batch_insert(self, items)
    }
}

/// Key names: the phase's table of loaded records, or formatted into a reused buffer.
pub(crate) struct Keys<'a> {
    pub(crate) names: &'a KeyTable,
    pub(crate) buf: Vec<u8>,
}

impl<'a> Keys<'a> {
    pub(crate) fn new(names: &'a KeyTable) -> Self {
        Keys {
            names,
            buf: Vec::with_capacity(64),
        }
    }

    /// The name of record `id`.
    fn get(&mut self, plan: &Plan, id: u64) -> &[u8] {
        match self.names.get(id) {
            Some(name) => name,
            None => {
                plan.dataset.write_key(&mut self.buf, id);
                &self.buf
            }
        }
    }
}

/// A runner's reusable buffers (one per thread, or per async lane), so the harness itself
/// allocates nothing per operation once warm (allocations are counted per operation).
pub(crate) struct Buffers<'a> {
    pub(crate) keys: Keys<'a>,
    /// The values this thread writes, generated before timing starts.
    pub(crate) values: &'a [Value],
    pub(crate) batch: Vec<(Vec<u8>, Value)>,
    /// The next version of a value, for read-modify-write.
    pub(crate) next: Value,
    /// Whether the counting allocator is installed (so allocations are recorded).
    pub(crate) count_allocations: bool,
}

impl<'a> Buffers<'a> {
    /// Empty buffers over the phase's key table and the thread's values.
    pub(crate) fn new(names: &'a KeyTable, values: &'a [Value], count_allocations: bool) -> Self {
        Buffers {
            keys: Keys::new(names),
            values,
            batch: Vec::new(),
            next: Value::default(),
            count_allocations,
        }
    }
}

/// Fills `batch` with `n` values under the ids from `first`, reusing its allocations.
fn fill_batch(
    batch: &mut Vec<(Vec<u8>, Value)>,
    plan: &Plan,
    values: &[Value],
    first: u64,
    n: u64,
) {
    batch.resize_with(n as usize, Default::default);
    for (i, (k, v)) in (first..).zip(batch.iter_mut()) {
        plan.dataset.write_key(k, i);
        v.assign(&values[(i % values.len() as u64) as usize]);
    }
}

/// Runs `op` once on `w`: the one mapping from an operation kind to backend calls. `Err`
/// carries the message for the report.
pub(crate) async fn execute<W: Calls + ?Sized>(
    w: &mut W,
    plan: &Plan,
    op: Op,
    bufs: &mut Buffers<'_>,
) -> std::result::Result<(), String> {
    let values = bufs.values;
    let value = &values[(op.id % values.len() as u64) as usize];
    let r = match op.kind {
        OpKind::Read => {
            let key = bufs.keys.get(plan, op.id);
            w.blocking().read(key).map(|v| {
                black_box(v);
            })
        }
        OpKind::Update => w.update(bufs.keys.get(plan, op.id), value).await,
        OpKind::Insert => w.insert(bufs.keys.get(plan, op.id), value).await,
        OpKind::Delete => w.delete(bufs.keys.get(plan, op.id)).await.map(|existed| {
            black_box(existed);
        }),
        OpKind::Scan => {
            let key = bufs.keys.get(plan, op.id);
            w.blocking().scan(key, op.len as usize).map(|n| {
                black_box(n);
            })
        }
        OpKind::Rmw => {
            let key = bufs.keys.get(plan, op.id);
            match w.blocking().read(key) {
                Ok(found) => {
                    bufs.next.assign(found.unwrap_or(value));
                    bufs.next.bump();
                    w.update(key, &bufs.next).await
                }
                Err(e) => Err(e),
            }
        }
        OpKind::Query => w.blocking().query(&plan.query).map(|page| {
            black_box(page.len());
        }),
        OpKind::Batch => {
            fill_batch(&mut bufs.batch, plan, values, op.id, op.len);
            w.batch_insert(&bufs.batch).await
        }
    };
    r.map_err(|e| e.to_string())
}

/// Runs `op` once on a blocking worker (see [`execute`]): every call is ready when made,
/// so one poll completes it.
#[inline]
pub(crate) fn execute_now(
    w: &mut dyn Worker,
    plan: &Plan,
    op: Op,
    bufs: &mut Buffers<'_>,
) -> std::result::Result<(), String> {
    let call = pin!(execute(w, plan, op, bufs));
    match call.poll(&mut Context::from_waker(Waker::noop())) {
        Poll::Ready(r) => r,
        // Cannot happen: `Calls for dyn Worker` returns only ready futures.
        Poll::Pending => Err("a blocking worker's call did not complete at once".into()),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use std::cell::RefCell;
    use std::path::Path;
    use std::rc::Rc;

    use super::*;
    use crate::backend::{LocalFuture, Page, QuerySpec};

    type Log = Rc<RefCell<Vec<String>>>;

    /// A worker that logs each call (`"read k3"`, ...) and holds one value.
    struct Logged(Log, Page, Value);

    impl Logged {
        fn log(&self, call: &str, key: &[u8]) {
            let key = String::from_utf8_lossy(key);
            self.0
                .borrow_mut()
                .push(format!("{call} {key}").trim().to_owned());
        }
    }

    impl Worker for Logged {
        fn insert(&mut self, key: &[u8], _: &Value) -> Result<()> {
            self.log("insert", key);
            Ok(())
        }
        fn read(&mut self, key: &[u8]) -> Result<Option<&Value>> {
            self.log("read", key);
            Ok(Some(&self.2))
        }
        fn update(&mut self, key: &[u8], value: &Value) -> Result<()> {
            self.log("update", key);
            self.2.assign(value);
            Ok(())
        }
        fn delete(&mut self, key: &[u8]) -> Result<bool> {
            self.log("delete", key);
            Ok(true)
        }
        fn scan(&mut self, key: &[u8], limit: usize) -> Result<usize> {
            self.log(&format!("scan{limit}"), key);
            Ok(limit)
        }
        fn batch_insert(&mut self, items: &[(Vec<u8>, Value)]) -> Result<()> {
            self.log(&format!("batch{}", items.len()), &items[0].0);
            Ok(())
        }
        fn query(&mut self, _: &QuerySpec) -> Result<&Page> {
            self.log("query", b"");
            Ok(&self.1)
        }
    }

    /// The same worker behind an async API whose writes each wait once before they run.
    struct Later(Logged);

    impl Later {
        fn later<'a, T: 'a>(
            &'a mut self,
            call: impl FnOnce(&mut Logged) -> Result<T> + 'a,
        ) -> LocalFuture<'a, Result<T>> {
            let (mut call, mut waited) = (Some(call), false);
            Box::pin(std::future::poll_fn(move |cx| {
                if !waited {
                    waited = true;
                    cx.waker().wake_by_ref();
                    return Poll::Pending;
                }
                let call = call.take().expect("polled again after completing");
                Poll::Ready(call(&mut self.0))
            }))
        }
    }

    impl AsyncWorker for Later {
        fn insert<'a>(
            &'a mut self,
            key: &'a [u8],
            value: &'a Value,
        ) -> LocalFuture<'a, Result<()>> {
            self.later(move |w| w.insert(key, value))
        }
        fn update<'a>(
            &'a mut self,
            key: &'a [u8],
            value: &'a Value,
        ) -> LocalFuture<'a, Result<()>> {
            self.later(move |w| w.update(key, value))
        }
        fn delete<'a>(&'a mut self, key: &'a [u8]) -> LocalFuture<'a, Result<bool>> {
            self.later(move |w| w.delete(key))
        }
        fn batch_insert<'a>(
            &'a mut self,
            items: &'a [(Vec<u8>, Value)],
        ) -> LocalFuture<'a, Result<()>> {
            self.later(move |w| w.batch_insert(items))
        }
        fn blocking(&mut self) -> &mut dyn Worker {
            &mut self.0
        }
    }

    /// The calls each kind must make on record 3 (scans and batches of 2).
    fn expected(kind: OpKind) -> &'static [&'static str] {
        match kind {
            OpKind::Read => &["read k3"],
            OpKind::Update => &["update k3"],
            OpKind::Insert => &["insert k3"],
            OpKind::Delete => &["delete k3"],
            OpKind::Scan => &["scan2 k3"],
            OpKind::Rmw => &["read k3", "update k3"],
            OpKind::Query => &["query"],
            OpKind::Batch => &["batch2 k3"],
        }
    }

    /// Waits only where the async worker's write does.
    fn async_waits(kind: OpKind) -> bool {
        matches!(
            kind,
            OpKind::Update | OpKind::Insert | OpKind::Delete | OpKind::Rmw | OpKind::Batch
        )
    }

    #[test]
    fn every_kind_makes_the_same_calls_on_blocking_and_async_workers() {
        let src = "name = \"t\"\nvariants = [\"noop\"]\n[dataset]\nrecords = 2\n\
                   key = { prefix = \"k\", order = \"ordered\", width = 1 }\n[run]\nops = 1\n\
                   [mix]\nread = 100\n";
        let plan = Plan::parse(Path::new("t.toml"), src).unwrap();
        let names = plan.dataset.key_table();
        let values = crate::runner::phase::value_pool(&plan, 0);
        for kind in OpKind::ALL {
            let op = Op {
                kind,
                id: 3,
                len: 2,
            };
            let log = Log::default();
            let mut w = Logged(Rc::clone(&log), Page::default(), values[1].clone());
            let mut bufs = Buffers::new(&names, &values, false);
            execute_now(&mut w, &plan, op, &mut bufs).unwrap();
            assert_eq!(*log.borrow(), expected(kind), "{kind:?}, blocking");

            let log = Log::default();
            let mut w = Later(Logged(Rc::clone(&log), Page::default(), values[1].clone()));
            let mut bufs = Buffers::new(&names, &values, false);
            let w: &mut dyn AsyncWorker = &mut w;
            let mut call = pin!(execute(w, &plan, op, &mut bufs));
            let mut cx = Context::from_waker(Waker::noop());
            let mut polls = 1;
            while call.as_mut().poll(&mut cx).is_pending() {
                polls += 1;
            }
            assert_eq!(*log.borrow(), expected(kind), "{kind:?}, async");
            assert_eq!(polls > 1, async_waits(kind), "{kind:?}: awaited its write");
        }
    }
}
