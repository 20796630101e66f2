//! The process that `lab run --measure instructions` starts under callgrind, once per
//! variant (`lab __count`): it opens and loads the variant, runs an uncounted warm-up, then
//! the measured operations on this one thread, each through a function of its own per
//! operation kind. Callgrind counts only inside those functions (`--toggle-collect`), so
//! loading, warm-up, drawing the next operation and reporting are never counted, and each
//! function's inclusive cost is the cost of its kind.
//!
//! Nothing here reads a clock or records a latency, and the operation stream is seeded, so
//! two runs of the same build execute the same instructions. Loading runs before callgrind
//! instruments anything (client request), which makes it about as fast as natively.

use std::collections::BTreeMap;
use std::hint::black_box;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use super::dispatch::{execute_now, Buffers};
use super::phase::value_pool;
use super::restore;
use crate::backend::{self, BackendError, BackendInfo, Options, Worker};
use crate::measure::client;
use crate::workload::{KeySpace, Op, OpKind, OpStream, Plan};

/// What the counted process reports back (as JSON on stdout); the counts themselves come
/// from callgrind's output file.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ChildReport {
    pub info: Option<BackendInfo>,
    pub metrics: BTreeMap<String, f64>,
    /// Per operation kind: operations run and how many failed.
    pub ops: BTreeMap<String, (u64, u64)>,
    /// Per operation kind: the first error message, if any failed.
    pub first_errors: BTreeMap<String, String>,
}

/// What every counted operation needs.
struct Cx<'a> {
    w: &'a mut dyn Worker,
    plan: &'a Plan,
    bufs: Buffers<'a>,
}

/// One never-inlined function per operation kind. Each keeps the result alive past the call
/// (`black_box`) so the compiler cannot turn the call into a jump, which would end the
/// function, and with it the counting, early.
macro_rules! counted {
    ($($f:ident => $kind:ident,)*) => {
        $(
            #[inline(never)]
            fn $f(cx: &mut Cx<'_>, op: Op) -> Result<(), String> {
                let op = Op { kind: OpKind::$kind, ..op };
                let r = execute_now(cx.w, cx.plan, op, &mut cx.bufs);
                black_box(&r);
                r
            }
        )*

        /// The counted function of `kind`.
        fn counted(kind: OpKind) -> fn(&mut Cx<'_>, Op) -> Result<(), String> {
            match kind {
                $(OpKind::$kind => $f,)*
            }
        }

        /// The full path of the counted function of `kind`, as callgrind names it.
        pub fn function_name(kind: OpKind) -> &'static str {
            match kind {
                $(OpKind::$kind => std::any::type_name_of_val(&$f),)*
            }
        }
    };
}

counted! {
    count_read => Read,
    count_update => Update,
    count_insert => Insert,
    count_delete => Delete,
    count_scan => Scan,
    count_rmw => Rmw,
    count_query => Query,
    count_batch => Batch,
}

/// Loads `variant` with `plan`'s dataset (uninstrumented where client requests work), turns
/// callgrind's instrumentation on, runs `warmup_ops` operations uncounted (the warm-up stream
/// of a one-thread run, inserting where the measured phase never does: they warm the
/// simulated caches too) and removes what they inserted, then runs `ops` through the
/// counted functions (the measured stream of thread 0 of a one-thread run: the operations a
/// wall-clock run would start with).
pub fn run(
    plan: &Plan,
    variant: &str,
    ops: u64,
    warmup_ops: u64,
) -> Result<ChildReport, BackendError> {
    let options = Options {
        cache_capacity: plan.cache.capacity,
        cache_policy: plan.cache.policy,
        scratch_dir: std::env::temp_dir(),
        values: plan.dataset.value,
    };
    let backend = backend::open(variant, &options)?;
    // No Ctrl-C handler runs here: the parent stops the child by killing it.
    restore::fill(backend.as_ref(), plan, &AtomicBool::new(false))?;
    client::start_instrumentation();
    let names = plan.dataset.key_table();
    let values = value_pool(plan, 0);
    let spec = plan.stream_spec();
    let records = plan.dataset.records;
    let mut report = ChildReport::default();
    {
        let mut w = backend.worker();
        let mut cx = Cx {
            w: w.as_mut(),
            plan,
            // Callgrind counts what allocation costs; the lab's counter would add to it.
            bufs: Buffers::new(&names, &values, false),
        };
        // The stream `run_phase` warms a one-thread run up with.
        let mut warm = OpStream::new(&spec, 1 + 7919, 1, Arc::new(KeySpace::warmup(records)));
        for _ in 0..warmup_ops {
            let Some(op) = warm.next() else { break };
            let _ = execute_now(cx.w, plan, op, &mut cx.bufs);
            warm.done(&op);
        }
        restore::remove(backend.as_ref(), plan, warm.space().inserted_ids())?;
        let mut stream = OpStream::new(&spec, 0, 1, Arc::new(KeySpace::measured(records)));
        for _ in 0..ops {
            let Some(op) = stream.next() else { break };
            let result = counted(op.kind)(&mut cx, op);
            stream.done(&op);
            let tally = report.ops.entry(op.kind.name().to_owned()).or_default();
            tally.0 += 1;
            if let Err(e) = result {
                tally.1 += 1;
                report
                    .first_errors
                    .entry(op.kind.name().to_owned())
                    .or_insert(e);
            }
        }
    }
    report.info = Some(backend.describe());
    // One worker runs the warm-up and the counted operations (so its reused buffers are
    // warm when counting starts), and a worker adds its counters when dropped: these
    // metrics (e.g. `cache_hit_ratio`) cover the warm-up too, unlike a wall-clock phase's.
    report.metrics = backend.metrics().into_iter().collect();
    Ok(report)
}
