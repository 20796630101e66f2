//! The thread loop for backends with an async API (`Backend::async_worker`): each thread
//! runs a current-thread tokio runtime with `[run] in_flight` lanes, each a task with its
//! own async worker, taking operations from the thread's one stream. A lane's write that
//! waits for the disk lets the other lanes run. Latency runs from when a lane takes an
//! operation to when it completes (closed loop per lane; `in_flight > 1` with a rate is
//! refused when the workload is read).

use std::cell::RefCell;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll};

use super::clock::Clock;
use super::dispatch::{execute, Buffers};
use crate::backend::{AsyncWorker, Backend};
use crate::doc::Value;
use crate::measure::recorder::PARTS;
use crate::measure::Recorder;
use crate::workload::{Bound, KeyTable, Op, OpKind, OpStream, Plan};

/// What a thread's lanes run against.
#[derive(Clone, Copy)]
pub(super) struct Lanes<'a> {
    pub(super) backend: &'a dyn Backend,
    pub(super) plan: &'a Plan,
    pub(super) clock: &'a dyn Clock,
    pub(super) stop: &'a AtomicBool,
    pub(super) interval_ns: u64,
    pub(super) names: &'a KeyTable,
}

/// What a thread's lanes share (one thread: a `RefCell`, never held across an await).
struct Shared {
    stream: OpStream,
    recorded: Recorder,
    ops: u64,
    last_ns: u64,
    stopped: bool,
    /// Latencies go into PARTS parts of the phase (of its time, or of its operations).
    part_len: u64,
    next_part: u64,
}

/// How a thread's run ended: (last completion, recordings, stopped).
pub(super) type Ran = (u64, Recorder, bool);

impl Lanes<'_> {
    /// Runs the thread's share of a phase, starting when `wait_start` (the threads'
    /// common barrier) returns; gives the stream back, before waiting, when no runtime can
    /// be built.
    pub(super) fn run(
        self,
        stream: OpStream,
        values: &[Value],
        wait_start: impl FnOnce() -> u64,
    ) -> Result<Ran, Box<OpStream>> {
        let Ok(rt) = tokio::runtime::Builder::new_current_thread().build() else {
            return Err(Box::new(stream));
        };
        let workers: Vec<_> = (0..self.plan.run.in_flight)
            .filter_map(|_| self.backend.async_worker())
            .collect();
        let start = wait_start();
        let (end, max_ops) = match self.plan.run.bound {
            Bound::Duration(d) => (
                start.saturating_add(u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)),
                u64::MAX,
            ),
            Bound::Ops(n) => (u64::MAX, n),
        };
        let timed = end != u64::MAX;
        let part_len = if timed { end - start } else { max_ops }
            .div_ceil(PARTS as u64)
            .max(1);
        let shared = RefCell::new(Shared {
            stream,
            recorded: Recorder::new(start, self.interval_ns),
            ops: 0,
            last_ns: start,
            stopped: false,
            part_len,
            next_part: part_len,
        });
        let phase = Phase {
            start,
            end,
            max_ops,
        };
        let lanes: Vec<Pin<Box<dyn Future<Output = ()> + '_>>> = workers
            .into_iter()
            .map(|w| {
                Box::pin(lane(self, &shared, w, values, phase)) as Pin<Box<dyn Future<Output = ()>>>
            })
            .collect();
        rt.block_on(JoinAll(lanes));
        let s = shared.into_inner();
        Ok((s.last_ns, s.recorded, s.stopped))
    }
}

#[derive(Clone, Copy)]
struct Phase {
    start: u64,
    end: u64,
    max_ops: u64,
}

/// One lane: takes the next operation while the phase lasts, runs it, records it.
async fn lane(
    cx: Lanes<'_>,
    shared: &RefCell<Shared>,
    mut w: Box<dyn AsyncWorker + '_>,
    values: &[Value],
    phase: Phase,
) {
    // The allocator is not counted per operation here (lanes interleave on one thread).
    let mut bufs = Buffers::new(cx.names, values, false);
    loop {
        let began = cx.clock.now_ns();
        let op = {
            let mut s = shared.borrow_mut();
            if cx.stop.load(Ordering::Relaxed) {
                s.stopped = true;
                return;
            }
            if s.ops >= phase.max_ops || began >= phase.end {
                return;
            }
            s.ops += 1;
            s.stream.next().unwrap_or(Op {
                kind: OpKind::Read,
                id: 0,
                len: 0,
            })
        };
        let result = execute(w.as_mut(), cx.plan, op, &mut bufs).await;
        let now = cx.clock.now_ns();
        let mut s = shared.borrow_mut();
        s.stream.done(&op);
        s.recorded.record(
            op.kind,
            now.saturating_sub(began),
            now,
            result.err().as_deref(),
        );
        s.last_ns = s.last_ns.max(now);
        let progress = if phase.end == u64::MAX {
            s.ops
        } else {
            now - phase.start
        };
        if progress >= s.next_part {
            let part = progress / s.part_len;
            s.recorded.set_part(part as usize);
            s.next_part = (part + 1).saturating_mul(s.part_len);
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
