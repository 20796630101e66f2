//! Runs a [`Plan`]: opens every variant, loads it (timed separately, in bulk), then for each
//! repeat runs a discarded warmup and a measured phase per variant, scheduled sequentially,
//! interleaved (rotating the order each repeat) or in parallel; then summarizes.

pub mod clock;
pub mod counted;
pub mod instructions;
pub mod phase;
pub mod restore;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::atomic::AtomicBool;
use std::time::Duration;

use rayon::prelude::*;

use crate::backend::{self, Backend, BackendError, Options};
use crate::machine;
use crate::measure::alloc;
use crate::workload::{Bound, Mode, Plan};
use acorn_reports::results::{RunResult, VariantSummary};
use acorn_reports::{stats, Results, SCHEMA_VERSION};
use clock::Clock;
use phase::{run_phase, PhaseResult};

/// How to run, beyond what the workload file says.
#[derive(Clone, Debug, Default)]
pub struct RunOptions {
    /// Only these variants (each must be registered).
    pub variants: Option<Vec<String>>,
    /// Shrink the workload to a smoke run: short phases, one repeat, at most 10k records.
    pub quick: bool,
    pub scratch_dir: Option<PathBuf>,
    /// Sample each variant's first measured phase in-process and write a flamegraph SVG per
    /// variant and thread count into this directory (not in parallel mode: one profiler per
    /// process).
    pub flamegraph: Option<PathBuf>,
    /// Measured operations per thread, instead of the file's `duration` or `ops`.
    pub ops: Option<u64>,
}

/// Progress callbacks (the CLI draws bars; tests pass nothing).
pub trait Progress: Sync {
    fn phase(&self, _label: &str, _done: u64, _total: u64) {}
}

/// No progress output.
#[derive(Debug, Default)]
pub struct Silent;
impl Progress for Silent {}

/// Applies `--quick`, `--ops` and `--variants` to a plan.
pub fn adjust(plan: &Plan, opts: &RunOptions) -> Result<Plan, BackendError> {
    let mut plan = plan.clone();
    if let Some(vs) = &opts.variants {
        for v in vs {
            if !backend::registry().iter().any(|r| r.name == v) {
                return Err(BackendError::Unknown {
                    name: v.clone(),
                    known: backend::known_names(),
                });
            }
        }
        plan.variants.clone_from(vs);
        plan.targets.retain(|t| vs.contains(&t.variant));
    }
    if let Some(n) = opts.ops {
        plan.run.bound = Bound::Ops(n);
    }
    if opts.quick {
        // The key space shrinks with the records; the inserts it expects stay.
        let expected = plan.item_count.saturating_sub(plan.dataset.records);
        plan.dataset.records = plan.dataset.records.min(10_000);
        plan.item_count = plan.dataset.records + expected;
        let run = &mut plan.run;
        run.repeats = 1;
        run.warmup = run.warmup.min(Duration::from_millis(50));
        run.bound = match run.bound {
            Bound::Duration(d) => Bound::Duration(d.min(Duration::from_millis(300))),
            Bound::Ops(n) => Bound::Ops(n.min(20_000)),
        };
        run.threads.truncate(2);
    }
    Ok(plan)
}

struct Loaded {
    backend: Box<dyn Backend>,
    load_s: f64,
    bytes_per_item: Option<f64>,
    rss: Option<u64>,
    /// Ids the last measured phase inserted, removed before the next repeat.
    leftovers: restore::Leftovers,
}

/// Opens nothing, loads everything: the timed bulk load, with memory measured around it.
fn load(backend: Box<dyn Backend>, plan: &Plan) -> Result<Loaded, BackendError> {
    let before = alloc::snapshot().live_bytes;
    let elapsed = restore::fill(backend.as_ref(), plan)?;
    let after = alloc::snapshot().live_bytes;
    // Nothing to report when the counting allocator is not installed (library use), when
    // the store allocates outside Rust's allocator, or when it stores nothing (`noop`).
    let info = backend.describe();
    let counted = (after != 0 || before != 0) && info.rust_heap && info.stores_data;
    let bytes_per_item = counted.then(|| (after - before) as f64 / plan.dataset.records as f64);
    Ok(Loaded {
        backend,
        load_s: elapsed.as_secs_f64(),
        bytes_per_item,
        rss: acorn::monitor::ResourceMonitor::memory_usage()
            .ok()
            .map(|m| m.resident_bytes),
        leftovers: restore::Leftovers::default(),
    })
}

fn run_result(variant: &str, threads: usize, repeat: u32, p: &PhaseResult) -> RunResult {
    let elapsed_s = p.elapsed_ns as f64 / 1e9;
    let ops = p.recorded.ops();
    RunResult {
        variant: variant.to_owned(),
        threads,
        repeat,
        elapsed_s,
        ops,
        errors: p.recorded.errors(),
        throughput: if elapsed_s > 0.0 {
            ops as f64 / elapsed_s
        } else {
            0.0
        },
        per_op: p.recorded.per_op(elapsed_s),
        interval_s: p.recorded.interval_ns() as f64 / 1e9,
        intervals: p.recorded.intervals().to_vec(),
        dropped: p.dropped,
    }
}

/// Restores the dataset, then runs warmup and measure for one variant; `None` when stopped
/// before measuring. Restoring (see `restore.rs`) makes each repeat start from the same
/// data even when the mix inserts, deletes or overwrites.
fn measure(
    loaded: &Loaded,
    plan: &Plan,
    threads: usize,
    repeat: u32,
    clock: &dyn Clock,
    stop: &AtomicBool,
    prof: &mut Profiling<'_>,
) -> Result<(Option<RunResult>, bool), BackendError> {
    let backend = loaded.backend.as_ref();
    let name = backend.describe().name;
    if !restore::prepare(
        backend,
        plan,
        threads,
        repeat,
        &loaded.leftovers,
        clock,
        stop,
    )? {
        return Ok((None, true));
    }
    let p = match prof.dir.filter(|_| repeat == 0) {
        Some(dir) => {
            let file = format!("flamegraph-{}-{threads}t.svg", name.replace(':', "_"));
            let (p, written) = profiled(dir, &file, || {
                run_phase(backend, plan, threads, false, clock, stop)
            });
            if written {
                prof.written.push(file);
            }
            p
        }
        None => run_phase(backend, plan, threads, false, clock, stop),
    };
    loaded.leftovers.set(p.inserted.clone());
    Ok((Some(run_result(&name, threads, repeat, &p)), p.stopped))
}

/// Where flamegraphs go (if anywhere), and the files written so far.
struct Profiling<'a> {
    dir: Option<&'a std::path::Path>,
    written: &'a mut Vec<String>,
}

/// Runs `f` under the sampling profiler and writes its flamegraph to `dir/file`; returns
/// whether a flamegraph was written (a phase too short to sample writes none).
#[cfg(unix)]
fn profiled<T>(dir: &std::path::Path, file: &str, f: impl FnOnce() -> T) -> (T, bool) {
    let guard = pprof::ProfilerGuardBuilder::default()
        .frequency(997)
        .blocklist(&["libc", "libgcc", "pthread", "vdso"])
        .build()
        .ok();
    let out = f();
    let written = guard
        .and_then(|g| g.report().build().ok())
        .and_then(|report| {
            let mut svg = Vec::new();
            report.flamegraph(&mut svg).ok()?;
            std::fs::create_dir_all(dir).ok()?;
            std::fs::write(dir.join(file), svg).ok()
        })
        .is_some();
    (out, written)
}

#[cfg(not(unix))]
fn profiled<T>(_: &std::path::Path, _: &str, f: impl FnOnce() -> T) -> (T, bool) {
    (f(), false)
}

fn summarize(loaded: &Loaded, plan: &Plan, threads: usize, runs: &[RunResult]) -> VariantSummary {
    let info = loaded.backend.describe();
    let mine: Vec<&RunResult> = runs
        .iter()
        .filter(|r| r.variant == info.name && r.threads == threads)
        .collect();
    let (median, ci, spread) =
        stats::spread(&mine.iter().map(|r| r.throughput).collect::<Vec<_>>());
    let total_s: f64 = mine.iter().map(|r| r.elapsed_s).sum();
    let mut per_op = BTreeMap::new();
    let ops: std::collections::BTreeSet<&String> =
        mine.iter().flat_map(|r| r.per_op.keys()).collect();
    for op in ops {
        let parts: Vec<_> = mine.iter().filter_map(|r| r.per_op.get(op)).collect();
        per_op.insert(op.clone(), stats::merge_ops(&parts, total_s));
    }
    let mut info_map = BTreeMap::new();
    info_map.insert("store".into(), info.store);
    info_map.insert("durability".into(), info.durability);
    info_map.insert("serialization".into(), info.serialization);
    info_map.insert("cache".into(), info.cache);
    VariantSummary {
        variant: info.name,
        threads,
        info: info_map,
        throughput_median: median,
        throughput_ci95: ci,
        spread,
        load_s: loaded.load_s,
        load_throughput: if loaded.load_s > 0.0 {
            plan.dataset.records as f64 / loaded.load_s
        } else {
            0.0
        },
        bytes_per_item: loaded.bytes_per_item,
        rss_bytes: loaded.rss,
        metrics: loaded.backend.metrics().into_iter().collect(),
        per_op,
    }
}

/// Runs `plan` and returns its results (marked partial when `stop` was raised).
pub fn run(
    plan: &Plan,
    opts: &RunOptions,
    clock: &dyn Clock,
    stop: &AtomicBool,
    progress: &dyn Progress,
) -> Result<Results, BackendError> {
    let plan = adjust(plan, opts)?;
    let options = Options {
        cache_capacity: plan.run.cache_capacity,
        scratch_dir: opts.scratch_dir.clone().unwrap_or_else(std::env::temp_dir),
    };
    let machine = machine::fingerprint();
    let started_at = machine::now_rfc3339();
    let max_threads = plan.run.threads.iter().copied().max().unwrap_or(1);
    let contended =
        plan.run.mode == Mode::Parallel && machine.cores < plan.variants.len() * max_threads;
    let mut state = Progressed {
        runs: Vec::new(),
        flamegraphs: Vec::new(),
        stopped: false,
        done: 0,
        total: (plan.run.threads.len() * plan.variants.len() * plan.run.repeats as usize) as u64,
    };
    let mut summaries = Vec::new();
    for &threads in &plan.run.threads {
        let mut loaded = Vec::new();
        for v in &plan.variants {
            let label = format!("loading {v} ({} records)", plan.dataset.records);
            progress.phase(&label, state.done, state.total);
            loaded.push(load(backend::open(v, &options)?, &plan)?);
        }
        let cx = Cx {
            plan: &plan,
            opts,
            clock,
            stop,
            progress,
        };
        run_thread_count(&cx, &loaded, threads, &mut state)?;
        summaries.extend(
            loaded
                .iter()
                .map(|l| summarize(l, &plan, threads, &state.runs)),
        );
        if state.stopped {
            break;
        }
    }
    progress.phase("done", state.total, state.total);
    let stopped = state.stopped;
    summaries.retain(|s| s.per_op.values().any(|o| o.count > 0) || !stopped);
    let targets = plan.targets.iter().map(|t| t.judge(&summaries)).collect();
    Ok(Results {
        schema_version: SCHEMA_VERSION,
        workload: plan.name.clone(),
        description: plan.description.clone(),
        plan: serde_json::to_value(&plan).unwrap_or_default(),
        mode: plan.run.mode.label().into(),
        contended,
        partial: stopped,
        quick: opts.quick,
        generators: 1,
        started_at,
        finished_at: machine::now_rfc3339(),
        machine,
        runs: state.runs,
        summaries,
        targets,
        flamegraphs: state.flamegraphs,
        measure: acorn_reports::Measure::WallClock,
        instructions: None,
    })
}

/// What every measurement of one run shares.
struct Cx<'a> {
    plan: &'a Plan,
    opts: &'a RunOptions,
    clock: &'a dyn Clock,
    stop: &'a AtomicBool,
    progress: &'a dyn Progress,
}

/// What the run has produced so far.
struct Progressed {
    runs: Vec<RunResult>,
    flamegraphs: Vec<String>,
    stopped: bool,
    done: u64,
    total: u64,
}

/// The order variants run in, per repeat: `(repeat, variant indexes)`.
fn schedule(mode: Mode, variants: usize, repeats: u32) -> Vec<(u32, Vec<usize>)> {
    let n = variants;
    match mode {
        Mode::Sequential => (0..n)
            .flat_map(|i| (0..repeats).map(move |r| (r, vec![i])))
            .collect(),
        Mode::Interleaved => (0..repeats)
            .map(|r| (r, (0..n).map(|i| (i + r as usize) % n).collect()))
            .collect(),
        Mode::Parallel => (0..repeats).map(|r| (r, (0..n).collect())).collect(),
    }
}

/// Every repeat of every loaded variant at one thread count.
fn run_thread_count(
    cx: &Cx<'_>,
    loaded: &[Loaded],
    threads: usize,
    state: &mut Progressed,
) -> Result<(), BackendError> {
    let plan = cx.plan;
    for (repeat, order) in schedule(plan.run.mode, loaded.len(), plan.run.repeats) {
        if plan.run.mode == Mode::Parallel {
            run_parallel(cx, loaded, &order, threads, repeat, state)?;
        } else {
            for i in order {
                let name = loaded[i].backend.describe().name;
                let label = format!("{name}, {threads} threads, repeat {}", repeat + 1);
                cx.progress.phase(&label, state.done, state.total);
                let mut prof = Profiling {
                    dir: cx.opts.flamegraph.as_deref(),
                    written: &mut state.flamegraphs,
                };
                let (r, s) = measure(
                    &loaded[i], plan, threads, repeat, cx.clock, cx.stop, &mut prof,
                )?;
                state.runs.extend(r);
                state.done += 1;
                if s {
                    state.stopped = true;
                    break;
                }
            }
        }
        if state.stopped {
            break;
        }
    }
    Ok(())
}

/// One repeat of every variant at once (no flamegraphs: one profiler per process).
fn run_parallel(
    cx: &Cx<'_>,
    loaded: &[Loaded],
    order: &[usize],
    threads: usize,
    repeat: u32,
    state: &mut Progressed,
) -> Result<(), BackendError> {
    let n = order.len();
    let label = format!(
        "{n} variants in parallel, {threads} threads, repeat {}",
        repeat + 1
    );
    cx.progress.phase(&label, state.done, state.total);
    let results: Vec<(Option<RunResult>, bool)> = order
        .par_iter()
        .map(|&i| {
            let mut none = Vec::new();
            let mut prof = Profiling {
                dir: None,
                written: &mut none,
            };
            measure(
                &loaded[i], cx.plan, threads, repeat, cx.clock, cx.stop, &mut prof,
            )
        })
        .collect::<Result<_, _>>()?;
    for (r, s) in results {
        state.runs.extend(r);
        state.stopped |= s;
    }
    state.done += n as u64;
    Ok(())
}
