//! The thread loop for backends with an async API (`Backend::async_worker`): each thread
//! runs a current-thread tokio runtime with `[run] in_flight` lanes, each a task with its
//! own async worker, taking operations from the thread's one stream. A lane's write that
//! waits for the disk lets the other lanes run. Latency runs from when a lane takes an
//! operation to when it completes (closed loop per lane).

use std::cell::RefCell;
use std::future::Future;
use std::io::Write as _;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll};

use super::clock::Clock;
use crate::backend::{AsyncWorker, Backend, Result as BackendResult};
use crate::doc::Doc;
use crate::measure::Recorder;
use crate::workload::{Bound, Op, OpKind, OpStream, Plan};

/// What a thread's lanes run against.
#[derive(Clone, Copy)]
pub(super) struct Lanes<'a> {
    pub(super) backend: &'a dyn Backend,
    pub(super) plan: &'a Plan,
    pub(super) clock: &'a dyn Clock,
    pub(super) stop: &'a AtomicBool,
    pub(super) interval_ns: u64,
}

/// What a thread's lanes share (one thread: a `RefCell`, never held across an await).
struct Shared {
    stream: OpStream,
    recorded: Recorder,
    ops: u64,
    last_ns: u64,
    stopped: bool,
}

impl Lanes<'_> {
    /// Runs the thread's share of a phase; returns (elapsed ns, recordings, stopped), or
    /// gives the stream back when no runtime can be built.
    pub(super) fn run(
        self,
        stream: OpStream,
        docs: &[Doc],
    ) -> Result<(u64, Recorder, bool), Box<OpStream>> {
        let Ok(rt) = tokio::runtime::Builder::new_current_thread().build() else {
            return Err(Box::new(stream));
        };
        let start = self.clock.now_ns();
        let (end, max_ops) = match self.plan.run.bound {
            Bound::Duration(d) => (
                start.saturating_add(u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)),
                u64::MAX,
            ),
            Bound::Ops(n) => (u64::MAX, n),
        };
        let shared = RefCell::new(Shared {
            stream,
            recorded: Recorder::new(start, self.interval_ns),
            ops: 0,
            last_ns: start,
            stopped: false,
        });
        let limits = (end, max_ops);
        let lanes: Vec<Pin<Box<dyn Future<Output = ()> + '_>>> = (0..self.plan.run.in_flight)
            .filter_map(|_| self.backend.async_worker())
            .map(|w| {
                Box::pin(lane(self, &shared, w, docs, limits)) as Pin<Box<dyn Future<Output = ()>>>
            })
            .collect();
        rt.block_on(JoinAll(lanes));
        let s = shared.into_inner();
        Ok((s.last_ns - start, s.recorded, s.stopped))
    }
}

/// `prefix` + `id` zero-padded to `width`, into `buf` (reusing it).
fn write_key(buf: &mut Vec<u8>, prefix: &str, width: usize, id: u64) {
    buf.clear();
    let _ = write!(buf, "{prefix}{id:0width$}");
}

/// One lane: takes the next operation while the phase lasts, runs it, records it.
async fn lane(
    cx: Lanes<'_>,
    lanes: &RefCell<Shared>,
    mut w: Box<dyn AsyncWorker + '_>,
    docs: &[Doc],
    (end, max_ops): (u64, u64),
) {
    let mut key = Vec::with_capacity(64);
    let mut batch = Vec::new();
    loop {
        let began = cx.clock.now_ns();
        let op = {
            let mut l = lanes.borrow_mut();
            if cx.stop.load(Ordering::Relaxed) {
                l.stopped = true;
                return;
            }
            if l.ops >= max_ops || began >= end {
                return;
            }
            l.ops += 1;
            l.stream.next().unwrap_or(Op {
                kind: OpKind::Read,
                id: 0,
            })
        };
        let result = execute(w.as_mut(), cx.plan, op, &mut key, docs, &mut batch).await;
        let now = cx.clock.now_ns();
        let mut l = lanes.borrow_mut();
        let error = result.err().map(|e| e.to_string());
        l.recorded
            .record(op.kind, now.saturating_sub(began), now, error.as_deref());
        l.last_ns = l.last_ns.max(now);
    }
}

/// Runs `op` once: writes awaited, reads, scans and queries on the blocking worker.
async fn execute(
    w: &mut dyn AsyncWorker,
    plan: &Plan,
    op: Op,
    key: &mut Vec<u8>,
    docs: &[Doc],
    batch: &mut Vec<(Vec<u8>, Doc)>,
) -> BackendResult<()> {
    let doc = &docs[(op.id % docs.len() as u64) as usize];
    let ds = &plan.dataset;
    write_key(key, &ds.key_prefix, ds.key_width, op.id);
    match op.kind {
        OpKind::Read => w.blocking().read(key).map(|d| {
            std::hint::black_box(d.map(|d| d.id));
        }),
        OpKind::Update => w.update(key, doc).await,
        OpKind::Insert => w.insert(key, doc).await,
        OpKind::Delete => w.delete(key).await.map(|_| ()),
        OpKind::Scan => w.blocking().scan(key, plan.run.scan_length).map(|n| {
            std::hint::black_box(n);
        }),
        OpKind::Rmw => {
            let found = w.blocking().read(key)?;
            let mut next = found.cloned().unwrap_or_else(|| doc.clone());
            next.value = (next.value + 1) % 1000;
            w.update(key, &next).await
        }
        OpKind::Query => w.blocking().query(&plan.query).map(|n| {
            std::hint::black_box(n);
        }),
        OpKind::Batch => {
            batch.clear();
            for i in 0..plan.run.batch_size as u64 {
                let mut k = Vec::new();
                write_key(&mut k, &ds.key_prefix, ds.key_width, op.id + i);
                batch.push((k, docs[((op.id + i) % docs.len() as u64) as usize].clone()));
            }
            w.batch_insert(batch).await
        }
    }
}

/// Polls every lane until all are done (what `futures::future::join_all` does; the lanes
/// are few, so polling all of them on each wake costs little).
struct JoinAll<'a>(Vec<Pin<Box<dyn Future<Output = ()> + 'a>>>);

impl Future for JoinAll<'_> {
    type Output = ();
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        self.0.retain_mut(|f| f.as_mut().poll(cx).is_pending());
        if self.0.is_empty() {
            Poll::Ready(())
        } else {
            Poll::Pending
        }
    }
}
