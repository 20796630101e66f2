//! `lab run --measure instructions`: every variant that can be counted runs in its own
//! process under callgrind (`lab __count`, see [`super::counted`]), as many at once as
//! there are cores (at most 4), a fixed number of operations on one thread; its counted functions' inclusive costs become
//! its numbers per operation kind. No repeats: two runs of one build count the same.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Stdio;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Mutex, PoisonError};

use acorn_reports::counts::{
    InstructionRun, InstructionSummary, Measure, OpCounts, Skipped, CYCLES_FORMULA,
};
use acorn_reports::{Results, SCHEMA_VERSION};

use super::counted::{self, ChildReport};
use super::{adjust, Progress, RunOptions};
use crate::backend::{self, BackendError};
use crate::machine;
use crate::measure::callgrind::{self, Calls, Valgrind, ValgrindError};
use crate::workload::{Bound, OpKind, Plan};

/// Measured operations per variant when neither `--ops` nor the workload's `ops` says.
pub const DEFAULT_OPS: u64 = 10_000;

/// Why an instruction-count run could not be done.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CountError {
    #[error(transparent)]
    Valgrind(#[from] ValgrindError),
    /// A variant named on the command line cannot be counted.
    #[error("{variant} cannot be measured by instruction count: {reason}")]
    Unsupported {
        variant: String,
        reason: &'static str,
    },
    /// The workload names no variant that can be counted.
    #[error("no variant of this workload can be measured by instruction count: {0}")]
    NothingToCount(String),
    #[error(transparent)]
    Backend(#[from] BackendError),
    /// The counted process failed, or what it left behind did not add up.
    #[error("{variant} under callgrind: {message}")]
    Failed { variant: String, message: String },
}

/// Operations each variant runs counted: `--ops`, else the workload's `ops`, else
/// [`DEFAULT_OPS`] (a `duration` means nothing to a count).
pub fn counted_ops(plan: &Plan) -> u64 {
    match plan.run.bound {
        Bound::Ops(n) => n,
        Bound::Duration(_) => DEFAULT_OPS,
    }
}

/// Operations run before counting starts (from the warm-up stream, under instrumentation so
/// the simulated caches are warm too): a quarter of those counted, or none when the workload
/// turns warm-up off.
pub fn warmup_ops(plan: &Plan) -> u64 {
    if plan.run.warmup.is_zero() {
        0
    } else {
        counted_ops(plan).div_ceil(4)
    }
}

/// The variants to count, and those left out with why. A variant named with `--variants`
/// that cannot be counted is an error; one the workload lists is left out.
fn choose(plan: &Plan, explicit: bool) -> Result<(Vec<String>, Vec<Skipped>), CountError> {
    let mut chosen = Vec::new();
    let mut skipped = Vec::new();
    for v in &plan.variants {
        match backend::uncountable(v) {
            None => chosen.push(v.clone()),
            Some(reason) if explicit => {
                return Err(CountError::Unsupported {
                    variant: v.clone(),
                    reason,
                })
            }
            Some(reason) => skipped.push(Skipped {
                variant: v.clone(),
                reason: reason.to_owned(),
            }),
        }
    }
    if chosen.is_empty() {
        let why: Vec<String> = skipped
            .iter()
            .map(|s| format!("{} ({})", s.variant, s.reason))
            .collect();
        return Err(CountError::NothingToCount(why.join("; ")));
    }
    Ok((chosen, skipped))
}

/// Counts every countable variant of `plan`, a process per variant, as many at once as
/// there are cores, at most 4 (counts do not depend on what else runs); the results are marked partial
/// when `stop` was raised (variants not finished then are dropped).
pub fn run(
    plan: &Plan,
    opts: &RunOptions,
    stop: &AtomicBool,
    progress: &dyn Progress,
) -> Result<Results, CountError> {
    let mut plan = adjust(plan, opts)?;
    // What a counted run is, whatever the file says for timed runs: recorded as such.
    plan.run.bound = Bound::Ops(counted_ops(&plan));
    plan.run.threads = vec![1];
    plan.run.repeats = 1;
    plan.run.rate = None;
    let (chosen, skipped) = choose(&plan, opts.variants.is_some())?;
    let valgrind = Valgrind::find()?;
    let started_at = machine::now_rfc3339();
    let counted = count_all(&valgrind, &plan, opts.quick, &chosen, stop, progress);
    let partial = stop.load(Ordering::SeqCst);
    let mut variants = Vec::new();
    for c in counted {
        match c {
            Some(Ok(s)) => variants.push(s),
            Some(Err(e)) if !partial => return Err(e),
            _ => {}
        }
    }
    Ok(Results {
        schema_version: SCHEMA_VERSION,
        workload: plan.name.clone(),
        description: plan.description.clone(),
        plan: plan.record(),
        mode: "sequential".into(),
        partial,
        quick: opts.quick,
        generators: 1,
        started_at,
        finished_at: machine::now_rfc3339(),
        machine: machine::fingerprint(),
        measure: Measure::Instructions,
        instructions: Some(InstructionRun {
            tool: format!("callgrind ({})", valgrind.version),
            caches: callgrind::CACHES_TEXT.into(),
            cycles_formula: CYCLES_FORMULA.into(),
            ops: counted_ops(&plan),
            warmup_ops: warmup_ops(&plan),
            variants,
            skipped,
        }),
        ..Results::default()
    })
}

/// Counts each of `chosen` (in that order in the result; `None` where a stop came first).
fn count_all(
    valgrind: &Valgrind,
    plan: &Plan,
    quick: bool,
    chosen: &[String],
    stop: &AtomicBool,
    progress: &dyn Progress,
) -> Vec<Option<Result<InstructionSummary, CountError>>> {
    let jobs = std::thread::available_parallelism()
        .map_or(1, std::num::NonZeroUsize::get)
        .clamp(1, 4)
        .min(chosen.len());
    let next = AtomicUsize::new(0);
    let done = AtomicUsize::new(0);
    let slots: Vec<Mutex<Option<_>>> = chosen.iter().map(|_| Mutex::new(None)).collect();
    let total = chosen.len() as u64;
    progress.started("counting instructions", 0, total);
    std::thread::scope(|s| {
        for _ in 0..jobs {
            s.spawn(|| loop {
                let i = next.fetch_add(1, Ordering::SeqCst);
                if i >= chosen.len() || stop.load(Ordering::SeqCst) {
                    break;
                }
                let counted = count(valgrind, plan, quick, &chosen[i]);
                if stop.load(Ordering::SeqCst) {
                    break;
                }
                *slots[i].lock().unwrap_or_else(PoisonError::into_inner) = Some(counted);
                let n = done.fetch_add(1, Ordering::SeqCst) + 1;
                progress.started(&format!("counted {}", chosen[i]), n as u64, total);
            });
        }
    });
    slots
        .into_iter()
        .map(|m| m.into_inner().unwrap_or_else(PoisonError::into_inner))
        .collect()
}

/// The counted functions' names, in [`OpKind::ALL`] order.
fn functions() -> Vec<String> {
    OpKind::ALL
        .iter()
        .map(|k| counted::function_name(*k).to_owned())
        .collect()
}

/// Runs `variant` in a process of its own under callgrind and reads what was counted.
fn count(
    valgrind: &Valgrind,
    plan: &Plan,
    quick: bool,
    variant: &str,
) -> Result<InstructionSummary, CountError> {
    let failed = |message: String| CountError::Failed {
        variant: variant.to_owned(),
        message,
    };
    let dir = tempfile::Builder::new()
        .prefix("lab-callgrind-")
        .tempdir()
        .map_err(|e| failed(format!("cannot create a temporary directory: {e}")))?;
    let (out_file, log_file) = (dir.path().join("callgrind.out"), dir.path().join("log"));
    let exe = std::env::current_exe()
        .map_err(|e| failed(format!("cannot find the lab executable: {e}")))?;
    let functions = functions();
    let mut cmd = valgrind.callgrind(&out_file, &log_file, &functions, &exe);
    cmd.arg("__count")
        .arg(&plan.file)
        .args(["--variant", variant])
        .args(["--ops", &counted_ops(plan).to_string()])
        .args(["--warmup-ops", &warmup_ops(plan).to_string()])
        // acorn reads the OS clock at every call, not the CPU counter between anchors it
        // renews by elapsed time: counts must not depend on how long the run took.
        .env("ACORN_CLOCK", "os");
    if quick {
        cmd.arg("--quick");
    }
    let output = cmd
        .stdin(Stdio::null())
        .output()
        .map_err(|e| failed(format!("cannot start valgrind: {e}")))?;
    if !output.status.success() {
        return Err(failed(child_failure(&output, &log_file)));
    }
    let report: ChildReport = serde_json::from_slice(&output.stdout)
        .map_err(|e| failed(format!("unreadable report from the counted process: {e}")))?;
    let text = std::fs::read_to_string(&out_file)
        .map_err(|e| failed(format!("cannot read {}: {e}", out_file.display())))?;
    let calls = callgrind::inclusive_calls(&text, &functions)
        .map_err(|e| failed(format!("{}: {e}", out_file.display())))?;
    summarize(variant, report, &calls).map_err(failed)
}

/// What the counted process said when it failed: its own error, or valgrind's.
fn child_failure(output: &std::process::Output, log_file: &Path) -> String {
    let stderr = String::from_utf8_lossy(&output.stderr).trim().to_owned();
    if !stderr.is_empty() {
        return format!("{} ({})", stderr, output.status);
    }
    let log = std::fs::read_to_string(log_file).unwrap_or_default();
    let tail: Vec<&str> = log.lines().rev().take(8).collect();
    let tail: Vec<&str> = tail.into_iter().rev().collect();
    format!("{}; valgrind said:\n{}", output.status, tail.join("\n"))
}

/// One variant's numbers: per operation kind, what its counted function cost. The call
/// counts callgrind saw must equal the operations the process ran, or the counted functions
/// were not what callgrind toggled on (inlined, renamed) and every number would be wrong.
fn summarize(
    variant: &str,
    report: ChildReport,
    calls: &BTreeMap<String, Calls>,
) -> Result<InstructionSummary, String> {
    let mut all = OpCounts::default();
    let mut per_op = BTreeMap::new();
    for kind in OpKind::ALL {
        let name = kind.name();
        let (ran, errors) = report.ops.get(name).copied().unwrap_or_default();
        let f = counted::function_name(kind);
        let seen = calls.get(f).copied().unwrap_or_default();
        if seen.calls != ran {
            return Err(format!(
                "callgrind saw {} calls of {f} but the process ran {ran} {name} operations; \
                 the counted function is not the one callgrind toggled on (inlined or \
                 renamed?), so no count would be right",
                seen.calls
            ));
        }
        if ran == 0 {
            continue;
        }
        all.count += ran;
        all.errors += errors;
        all.events.add(&seen.events);
        let error_samples = report.first_errors.get(name).cloned().into_iter().collect();
        per_op.insert(
            name.to_owned(),
            OpCounts {
                count: ran,
                errors,
                events: seen.events,
                error_samples,
            },
        );
    }
    let info = report
        .info
        .ok_or("the counted process described no backend")?;
    let info_map = BTreeMap::from([
        ("store".to_owned(), info.store),
        ("durability".to_owned(), info.durability),
        ("serialization".to_owned(), info.serialization),
        ("cache".to_owned(), info.cache),
    ]);
    Ok(InstructionSummary {
        variant: variant.to_owned(),
        info: info_map,
        metrics: report.metrics,
        all,
        per_op,
    })
}
