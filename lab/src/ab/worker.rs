//! `lab worker FILE --variant V`: one side of `lab ab`. It loads the variant with the
//! workload's dataset once, says it is ready, then runs what stdin asks (warm-ups and
//! slices, `runner::slice`) one at a time, answering each on stdout, until `quit` or the
//! end of its input. Between requests it only waits.

use std::io::{BufRead, Write};
use std::sync::atomic::AtomicBool;
use std::time::{Duration, Instant};

use acorn_reports::stats;

use super::protocol::{Ran, Reply, Request, PROTOCOL};
use crate::backend::{self, BackendError, Options};
use crate::error::LabError;
use crate::machine;
use crate::runner::clock::RealClock;
use crate::runner::phase::PhaseResult;
use crate::runner::pin;
use crate::runner::restore;
use crate::runner::slice::Slicer;
use crate::workload::{OpKind, Plan};

fn send(out: &mut impl Write, reply: &Reply) -> Result<(), LabError> {
    let line = serde_json::to_string(reply)
        .map_err(|e| LabError::BadInput(format!("cannot encode a reply: {e}")))?;
    writeln!(out, "{line}")
        .and_then(|()| out.flush())
        .map_err(|e| LabError::output(std::path::Path::new("<stdout>"), e))
}

/// What a phase ran, as a reply carries it.
fn ran(p: &PhaseResult) -> Ran {
    let mut all = crate::measure::recorder::histogram();
    for k in OpKind::ALL {
        let _ = all.add(p.recorded.latencies(k));
    }
    Ran {
        ops: p.recorded.ops(),
        errors: p.recorded.errors(),
        elapsed_ns: p.elapsed_ns,
        busy_ns: p.busy_ns,
        latency: stats::encode(&all),
    }
}

/// Serves `plan`'s `variant` until `quit` or the end of `input`.
pub fn serve(
    plan: &Plan,
    variant: &str,
    input: impl BufRead,
    mut out: impl Write,
) -> Result<(), LabError> {
    let store = |source: BackendError| match source {
        e @ BackendError::Unknown { .. } => LabError::BadInput(e.to_string()),
        source => LabError::Store {
            file: plan.file.clone(),
            source,
        },
    };
    let options = Options {
        cache_capacity: plan.cache.capacity,
        cache_policy: plan.cache.policy,
        scratch_dir: std::env::temp_dir(),
        values: plan.dataset.value,
    };
    let backend = backend::open(variant, &options).map_err(store)?;
    // Nothing stops a worker but its parent: Ctrl-C reaches it directly.
    let never = AtomicBool::new(false);
    let began = Instant::now();
    restore::fill(backend.as_ref(), plan, &never).map_err(store)?;
    send(
        &mut out,
        &Reply::Ready {
            protocol: PROTOCOL,
            revision: machine::fingerprint().git_revision,
            store: backend.describe().store,
            load_s: began.elapsed().as_secs_f64(),
        },
    )?;
    let clock = RealClock::default();
    let mut slicer = Slicer::new(backend.as_ref(), plan);
    for line in input.lines() {
        let line = line.map_err(|e| LabError::BadInput(format!("reading a request: {e}")))?;
        let request: Request = serde_json::from_str(&line)
            .map_err(|e| LabError::BadInput(format!("not a worker request: {line:?}: {e}")))?;
        let phase = match request {
            Request::Warm {
                threads,
                millis,
                cpus,
            } => {
                pin::pin(&cpus);
                slicer
                    .warm(threads, Duration::from_millis(millis), &clock, &never)
                    .map_err(store)?
            }
            Request::Slice {
                threads,
                ops,
                index,
                cpus,
            } => {
                pin::pin(&cpus);
                slicer
                    .slice(threads, ops, index, &clock, &never)
                    .map_err(store)?
            }
            Request::Quit => break,
        };
        if let Some(p) = phase {
            send(&mut out, &Reply::Ran(ran(&p)))?;
        }
    }
    Ok(())
}
