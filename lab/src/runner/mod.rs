//! Runs a [`Plan`]: loads the variants (timed separately, in bulk), then for each repeat
//! runs a discarded warmup and a measured phase per variant, scheduled sequentially,
//! interleaved (rotating the order each repeat) or in parallel; then summarizes.
//!
//! Only what runs is loaded: sequential mode loads one variant at a time and drops it when
//! its phases end; interleaved and parallel modes hold every variant at once (the results
//! say how many were resident). A stop request (Ctrl-C) is seen within a batch of the load,
//! an operation of a phase or 50 ms of an open-loop wait; the phase it cut short is dropped,
//! so partial results hold only finished phases, and they are not judged against targets.
//!
//! This file owns the entry point: the options, [`adjust`], and [`run`] as its steps (open
//! options, the machine at the start, `schedule`'s loop over thread counts and groups, the
//! results assembled). `schedule.rs` owns which variants are loaded together and the order
//! of their phases; `variant.rs` what happens to one loaded variant (load, measure a phase,
//! summarize, recover).

pub mod clock;
pub mod counted;
mod dispatch;
mod inflight;
pub mod instructions;
pub mod paired;
pub mod phase;
pub mod pin;
pub mod profile;
pub mod restore;
mod schedule;
pub mod slice;
pub mod sweep;
mod variant;

use std::sync::atomic::AtomicBool;
use std::time::Duration;

use crate::backend::{self, BackendError, Options};
use crate::machine;
use crate::workload::{Bound, Mode, Plan};
use acorn_reports::results::{RunResult, VariantSummary};
use acorn_reports::{Results, SCHEMA_VERSION};
use clock::Clock;
pub use variant::user_bytes_per_item;

/// How to run, beyond what the workload file says.
#[derive(Clone, Debug, Default)]
pub struct RunOptions {
    /// Only these variants (each must be registered).
    pub variants: Option<Vec<String>>,
    /// Shrink the workload to a smoke run: short phases, one repeat, at most 10k records.
    pub quick: bool,
    pub scratch_dir: Option<std::path::PathBuf>,
    /// Sample each variant's first measured phase in-process and write a flamegraph SVG per
    /// variant and thread count into this directory (not in parallel mode: one profiler per
    /// process).
    pub flamegraph: Option<std::path::PathBuf>,
    /// Measured operations per thread, instead of the file's `duration` or `ops`.
    pub ops: Option<u64>,
    /// Rounds of paired slices per thread count behind the verdicts (`runner::paired`):
    /// `None` for the default (`paired::ROUNDS`, `paired::QUICK_ROUNDS` with `quick`), 0
    /// for none.
    pub pairs: Option<usize>,
}

/// A measured phase that finished.
#[derive(Clone, Debug)]
pub struct Finished {
    pub variant: String,
    pub threads: usize,
    /// 1-based.
    pub repeat: u32,
    pub repeats: u32,
    /// Operations per second over the phase.
    pub throughput: f64,
    pub elapsed_s: f64,
    /// Measured phases finished so far in this run, and in all.
    pub done: u64,
    pub total: u64,
}

/// Progress callbacks (the CLI draws bars or prints lines; tests pass nothing).
pub trait Progress: Sync {
    /// Something started: loading a variant, or a phase. `done` of `total` phases finished.
    fn started(&self, _label: &str, _done: u64, _total: u64) {}
    /// A measured phase finished.
    fn finished(&self, _phase: &Finished) {}
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

/// How many variants a plan holds in memory at once: one in sequential mode, all of them
/// when they take turns or run together.
pub fn resident(plan: &Plan) -> usize {
    match plan.run.mode {
        Mode::Sequential => plan.variants.len().min(1),
        Mode::Interleaved | Mode::Parallel => plan.variants.len(),
    }
}

/// Why `--flamegraph` does not apply to `plan`, if it does not: parallel mode runs every
/// variant at once, and one profiler per process cannot tell them apart.
pub fn flamegraph_note(plan: &Plan) -> Option<String> {
    (plan.run.mode == Mode::Parallel).then(|| {
        format!(
            "--flamegraph does not apply to {} (parallel mode: one profiler per process cannot \
             tell the variants apart); no flamegraphs were made",
            plan.name
        )
    })
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
    let options = store_options(&plan, opts);
    let start = Start::now();
    let cx = Cx {
        plan: &plan,
        opts,
        options: &options,
        clock,
        stop,
        progress,
    };
    let mut state = Progressed::new(&plan, opts);
    schedule::run_all(&cx, &mut state)?;
    cx.progress.started("done", state.done, state.total);
    Ok(assemble(&cx, start, state))
}

/// What every store of the run is opened with: the plan's cache and value shape, and the
/// scratch directory (the system's temporary directory unless given).
fn store_options(plan: &Plan, opts: &RunOptions) -> Options {
    Options {
        cache_capacity: plan.cache.capacity,
        cache_policy: plan.cache.policy,
        scratch_dir: opts.scratch_dir.clone().unwrap_or_else(std::env::temp_dir),
        values: plan.dataset.value,
    }
}

/// The machine as the run started.
struct Start {
    machine: acorn_reports::Machine,
    load: Option<f64>,
    at: String,
}

impl Start {
    fn now() -> Start {
        Start {
            machine: machine::fingerprint(),
            load: machine::load_average(),
            at: machine::now_rfc3339(),
        }
    }
}

/// The results file of a finished (or stopped) run: what `state` gathered, the machine,
/// and the targets judged (partial and `--quick` results are not: a target missed by an
/// interrupted run or a smoke run means nothing).
fn assemble(cx: &Cx<'_>, start: Start, state: Progressed) -> Results {
    let (plan, opts) = (cx.plan, cx.opts);
    let max_threads = plan.run.threads.iter().copied().max().unwrap_or(1);
    let contended =
        plan.run.mode == Mode::Parallel && start.machine.cores < plan.variants.len() * max_threads;
    let stopped = state.stopped;
    let mut results = Results {
        schema_version: SCHEMA_VERSION,
        workload: plan.name.clone(),
        description: plan.description.clone(),
        plan: plan.record(),
        mode: plan.run.mode.label().into(),
        contended,
        partial: stopped,
        quick: opts.quick,
        generators: 1,
        started_at: start.at,
        finished_at: machine::now_rfc3339(),
        machine: start.machine,
        runs: state.runs,
        summaries: state.summaries,
        targets: Vec::new(),
        flamegraphs: state.flamegraphs,
        resident: Some(resident(plan)),
        warnings: state.warnings,
        load: [start.load, machine::load_average()]
            .into_iter()
            .flatten()
            .reduce(f64::max),
        measure: acorn_reports::Measure::WallClock,
        instructions: None,
        paired: state.paired,
        sweep: None,
    };
    if !stopped && !opts.quick {
        results.targets = acorn_reports::targets::judge_all(&plan.targets, &results);
    }
    results
}

/// What every measurement of one run shares.
struct Cx<'a> {
    plan: &'a Plan,
    opts: &'a RunOptions,
    options: &'a Options,
    clock: &'a dyn Clock,
    stop: &'a AtomicBool,
    progress: &'a dyn Progress,
}

/// What the run has produced so far.
#[derive(Default)]
struct Progressed {
    runs: Vec<RunResult>,
    summaries: Vec<VariantSummary>,
    flamegraphs: Vec<String>,
    warnings: Vec<String>,
    paired: Vec<acorn_reports::paired::Rounds>,
    stopped: bool,
    done: u64,
    total: u64,
}

impl Progressed {
    /// Nothing yet: every phase of the plan still to run, and the `--flamegraph` note when
    /// it does not apply.
    fn new(plan: &Plan, opts: &RunOptions) -> Progressed {
        Progressed {
            total: (plan.run.threads.len() * plan.variants.len() * plan.run.repeats as usize)
                as u64,
            warnings: opts
                .flamegraph
                .as_ref()
                .and_then(|_| flamegraph_note(plan))
                .into_iter()
                .collect(),
            ..Progressed::default()
        }
    }

    /// Records a finished phase (or notes the stop) and reports it.
    fn record(&mut self, cx: &Cx<'_>, run: Option<RunResult>) {
        self.done += 1;
        let Some(run) = run else {
            self.stopped = true;
            return;
        };
        cx.progress.finished(&Finished {
            variant: run.variant.clone(),
            threads: run.threads,
            repeat: run.repeat + 1,
            repeats: cx.plan.run.repeats,
            throughput: run.throughput,
            elapsed_s: run.elapsed_s,
            done: self.done,
            total: self.total,
        });
        self.runs.push(run);
    }
}
