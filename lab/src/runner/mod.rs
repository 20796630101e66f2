//! Runs a [`Plan`]: loads the variants (timed separately, in bulk), then for each repeat
//! runs a discarded warmup and a measured phase per variant, scheduled sequentially,
//! interleaved (rotating the order each repeat) or in parallel; then summarizes.
//!
//! Only what runs is loaded: sequential mode loads one variant at a time and drops it when
//! its phases end; interleaved and parallel modes hold every variant at once (the results
//! say how many were resident). A stop request (Ctrl-C) is seen within a batch of the load,
//! an operation of a phase or 50 ms of an open-loop wait; the phase it cut short is dropped,
//! so partial results hold only finished phases, and they are not judged against targets.

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
pub mod slice;
pub mod sweep;

use std::collections::BTreeMap;
use std::sync::atomic::AtomicBool;
use std::time::Duration;

use rayon::prelude::*;

use crate::backend::{self, Backend, BackendError, Options};
use crate::machine;
use crate::measure::storage::{disk_usage, Probe};
use crate::measure::{alloc, rss};
use crate::workload::{Bound, Mode, Plan};
use acorn_reports::results::{RunResult, VariantSummary};
use acorn_reports::storage::{check_tier, Recovery, StorageCost, StorageSummary};
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

struct Loaded {
    backend: Box<dyn Backend>,
    load_s: f64,
    bytes_per_item: Option<f64>,
    rss: Option<u64>,
    /// Key + value bytes per record as the user hands them (`user_bytes_per_item`).
    user_bytes_per_item: f64,
    /// The data directory's size after the load (file system synced first).
    disk_after_load: Option<u64>,
    /// Ids the last measured phase inserted, removed before the next repeat.
    leftovers: restore::Leftovers,
}

/// Opens and loads `variant`: the timed bulk load, with memory measured around it; `None`
/// when stopped while loading.
fn load(cx: &Cx<'_>, variant: &str, state: &Progressed) -> Result<Option<Loaded>, BackendError> {
    let label = format!(
        "loading {variant} ({})",
        acorn_reports::format::count(cx.plan.dataset.records, "record")
    );
    cx.progress.started(&label, state.done, state.total);
    let backend = backend::open(variant, cx.options)?;
    let before = alloc::snapshot().live_bytes;
    let Some(elapsed) = restore::fill(backend.as_ref(), cx.plan, cx.stop)? else {
        return Ok(None);
    };
    let after = alloc::snapshot().live_bytes;
    let disk_after_load = backend.data_dir().and_then(|d| {
        let _ = crate::measure::syncs::sync_file_system(d);
        disk_usage(d)
    });
    // Nothing to report when the counting allocator is not installed (library use), when
    // the store allocates outside Rust's allocator, or when it stores nothing (`noop`).
    let info = backend.describe();
    let counted = (after != 0 || before != 0) && info.rust_heap && info.stores_data;
    let records = cx.plan.dataset.records as f64;
    Ok(Some(Loaded {
        backend,
        load_s: elapsed.as_secs_f64(),
        bytes_per_item: counted.then(|| (after - before) as f64 / records),
        rss: rss::resident_bytes(),
        user_bytes_per_item: user_bytes_per_item(cx.plan),
        disk_after_load,
        leftovers: restore::Leftovers::default(),
    }))
}

/// Records sampled for [`user_bytes_per_item`].
const SAMPLED: u64 = 1000;

/// Key + value bytes per record as a user would hand them to a store (a document's JSON,
/// opaque bytes as they are), averaged over the first [`SAMPLED`] records: what write and
/// space amplification divide by.
pub fn user_bytes_per_item(plan: &Plan) -> f64 {
    let ds = &plan.dataset;
    let n = ds.records.clamp(1, SAMPLED);
    let mut key = Vec::new();
    let total: usize = (0..n)
        .map(|i| {
            key.clear();
            ds.write_key(&mut key, i);
            let value = match crate::doc::Value::generate(i, 0, plan.run.seed, &ds.value) {
                crate::doc::Value::Doc(d) => serde_json::to_vec(&d).map_or(0, |v| v.len()),
                crate::doc::Value::Bytes(b) => b.len(),
            };
            key.len() + value
        })
        .sum();
    total as f64 / n as f64
}

/// The commits a phase made (every write operation; a batch is one) and the user bytes
/// they carried (`per_item` per value written: inserts, updates, read-modify-writes and
/// each batched item; deletes carry none).
fn commits_and_bytes(run: &RunResult, batch_size: usize, per_item: f64) -> (u64, u64) {
    let count = |op: &str| run.per_op.get(op).map_or(0, |o| o.count);
    let commits = ["insert", "update", "delete", "rmw", "batch"]
        .iter()
        .map(|op| count(op))
        .sum();
    let items =
        count("insert") + count("update") + count("rmw") + count("batch") * batch_size as u64;
    (commits, (items as f64 * per_item).round() as u64)
}

/// One measured phase as the results file keeps it. `metrics` are the backend's counters
/// for this phase; allocation counts are dropped for stores that allocate outside Rust's
/// allocator (they would count only the Rust side).
fn run_result(
    info: &backend::BackendInfo,
    threads: usize,
    repeat: u32,
    p: &PhaseResult,
    metrics: Vec<(String, f64)>,
) -> RunResult {
    let elapsed_s = p.elapsed_ns as f64 / 1e9;
    let ops = p.recorded.ops();
    let mut per_op = p.recorded.per_op(elapsed_s);
    if !info.rust_heap {
        for o in per_op.values_mut() {
            o.allocations = None;
        }
    }
    let metrics: BTreeMap<String, f64> = metrics.into_iter().collect();
    RunResult {
        variant: info.name.clone(),
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
        per_op,
        interval_s: p.recorded.interval_ns() as f64 / 1e9,
        intervals: p.recorded.intervals().to_vec(),
        metrics: stats::merge_metrics([&metrics]),
        dropped: p.dropped,
        ..RunResult::default()
    }
}

/// One measured phase of one variant: its result (`None` when a stop request cut it or its
/// warmup short: a cut-short phase is not a measurement) and its flamegraph, if sampled.
type Measured = (Option<RunResult>, Option<profile::Sampled>);

/// Restores the dataset (see `restore.rs`: each repeat starts from the same data even when
/// the mix inserts, deletes or overwrites), then runs warmup and measure for one variant.
fn measure(
    cx: &Cx<'_>,
    loaded: &Loaded,
    threads: usize,
    repeat: u32,
    profile: Option<&profile::Target<'_>>,
    alone: bool,
) -> Result<Measured, BackendError> {
    let (plan, clock, stop) = (cx.plan, cx.clock, cx.stop);
    let backend = loaded.backend.as_ref();
    let leftovers = &loaded.leftovers;
    let Some(warmed) = restore::prepare(backend, plan, threads, repeat, leftovers, clock, stop)?
    else {
        return Ok((None, None));
    };
    // Backend counters are per phase: what restoring, loading and warmup counted is dropped.
    backend.metrics();
    let info = backend.describe();
    let dir = backend.data_dir();
    let probe = info.stores_data.then(|| Probe::start(dir, alone));
    let phase = || run_phase(backend, plan, threads, false, clock, stop);
    let (p, sampled) = match profile.filter(|_| repeat == 0) {
        Some(target) => target.sample(phase, |p: &PhaseResult| !p.stopped),
        None => (phase(), None),
    };
    loaded.leftovers.set(p.inserted.clone());
    let metrics = backend.metrics();
    if p.stopped {
        return Ok((None, None));
    }
    let mut run = run_result(&info, threads, repeat, &p, metrics);
    run.warmup_s = Some(warmed.secs);
    run.warmup_steady = Some(warmed.steady);
    run.storage = probe.map(|probe| {
        let (commits, bytes) =
            commits_and_bytes(&run, plan.run.batch_size, loaded.user_bytes_per_item);
        probe.finish(dir, run.ops, commits, bytes)
    });
    Ok((Some(run), sampled))
}

fn summarize(
    loaded: &Loaded,
    plan: &Plan,
    threads: usize,
    runs: &[RunResult],
    disk_after_run: Option<u64>,
) -> Option<VariantSummary> {
    let info = loaded.backend.describe();
    let mine: Vec<&RunResult> = runs
        .iter()
        .filter(|r| r.variant == info.name && r.threads == threads)
        .collect();
    if mine.is_empty() {
        return None;
    }
    let mut info_map = BTreeMap::new();
    info_map.insert("store".into(), info.store);
    info_map.insert("durability".into(), info.durability);
    info_map.insert("serialization".into(), info.serialization);
    info_map.insert("cache".into(), info.cache);
    let tier = backend::find(&info.name).map_or("unknown", |r| r.tier.name());
    info_map.insert("tier".into(), tier.into());
    let storage = StorageCost::sum(mine.iter().filter_map(|r| r.storage.as_ref())).map(|phases| {
        StorageSummary {
            tier: tier.into(),
            tier_mismatch: check_tier(tier, threads, &phases).err(),
            phases,
            records: plan.dataset.records,
            user_bytes_per_item: loaded.user_bytes_per_item,
            disk_after_load: loaded.disk_after_load,
            disk_after_run,
            recovery: None,
        }
    });
    let mut summary = VariantSummary {
        fixture: crate::backend::is_fixture(&info.name),
        variant: info.name,
        threads,
        info: info_map,
        load_s: loaded.load_s,
        load_throughput: if loaded.load_s > 0.0 {
            plan.dataset.records as f64 / loaded.load_s
        } else {
            0.0
        },
        bytes_per_item: loaded.bytes_per_item,
        rss_bytes: loaded.rss,
        metrics: stats::merge_metrics(mine.iter().map(|r| &r.metrics)),
        storage,
        ..VariantSummary::default()
    };
    stats::summarize_runs(&mut summary, &mine);
    Some(summary)
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
        cache_capacity: plan.cache.capacity,
        cache_policy: plan.cache.policy,
        scratch_dir: opts.scratch_dir.clone().unwrap_or_else(std::env::temp_dir),
        values: plan.dataset.value,
    };
    let machine = machine::fingerprint();
    let load_at_start = machine::load_average();
    let started_at = machine::now_rfc3339();
    let max_threads = plan.run.threads.iter().copied().max().unwrap_or(1);
    let contended =
        plan.run.mode == Mode::Parallel && machine.cores < plan.variants.len() * max_threads;
    let cx = Cx {
        plan: &plan,
        opts,
        options: &options,
        clock,
        stop,
        progress,
    };
    let mut state = Progressed {
        total: (plan.run.threads.len() * plan.variants.len() * plan.run.repeats as usize) as u64,
        warnings: opts
            .flamegraph
            .as_ref()
            .and_then(|_| flamegraph_note(&plan))
            .into_iter()
            .collect(),
        ..Progressed::default()
    };
    for &threads in &plan.run.threads {
        // Sequential: one variant in memory at a time; otherwise all of them together.
        let groups: Vec<&[String]> = match plan.run.mode {
            Mode::Sequential => plan.variants.chunks(1).collect(),
            Mode::Interleaved | Mode::Parallel => vec![&plan.variants[..]],
        };
        for group in groups {
            run_group(&cx, group, threads, &mut state)?;
            if state.stopped {
                break;
            }
        }
        if state.stopped {
            break;
        }
    }
    cx.progress.started("done", state.done, state.total);
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
        started_at,
        finished_at: machine::now_rfc3339(),
        machine,
        runs: state.runs,
        summaries: state.summaries,
        targets: Vec::new(),
        flamegraphs: state.flamegraphs,
        resident: Some(resident(&plan)),
        warnings: state.warnings,
        load: [load_at_start, machine::load_average()]
            .into_iter()
            .flatten()
            .reduce(f64::max),
        measure: acorn_reports::Measure::WallClock,
        instructions: None,
        paired: state.paired,
        sweep: None,
    };
    // Partial and --quick results are not judged: a target missed by an interrupted run
    // or a smoke run means nothing.
    if !stopped && !opts.quick {
        results.targets = acorn_reports::targets::judge_all(&plan.targets, &results);
    }
    Ok(results)
}

/// Loads `variants` together, runs every repeat of them at `threads`, summarizes them, and
/// drops them.
fn run_group(
    cx: &Cx<'_>,
    variants: &[String],
    threads: usize,
    state: &mut Progressed,
) -> Result<(), BackendError> {
    let mut loaded = Vec::new();
    for v in variants {
        match load(cx, v, state)? {
            Some(l) => loaded.push(l),
            None => {
                state.stopped = true;
                return Ok(());
            }
        }
    }
    run_thread_count(cx, &loaded, threads, state)?;
    // The data directories as the measured phases left them (before pairing rewrites them).
    let disk_after_run: Vec<Option<u64>> = loaded
        .iter()
        .map(|l| {
            let d = l.backend.data_dir()?;
            let _ = crate::measure::syncs::sync_file_system(d);
            disk_usage(d)
        })
        .collect();
    if !state.stopped {
        pair(cx, &loaded, threads, state)?;
    }
    let mut summaries: Vec<VariantSummary> = loaded
        .iter()
        .zip(disk_after_run)
        .filter_map(|(l, disk)| summarize(l, cx.plan, threads, &state.runs, disk))
        .collect();
    for l in loaded {
        let name = l.backend.name().to_owned();
        let recovered = if state.stopped {
            None
        } else {
            recover(cx, l, state)?
        };
        let summary = summaries.iter_mut().find(|s| s.variant == name);
        if let Some(storage) = summary.and_then(|s| s.storage.as_mut()) {
            storage.recovery = recovered;
            if let Some(m) = &storage.tier_mismatch {
                state.warnings.push(format!(
                    "{name} at {}: {m}",
                    acorn_reports::format::threads_text(threads)
                ));
            }
        }
    }
    state.summaries.extend(summaries);
    Ok(())
}

/// The `recover` phase (`[run] recover = true`, stores that can reopen): removes what the
/// last phase inserted, then closes the store (drops every handle) and times its reopen
/// from its files until it answers a read of the first and the last loaded record. Drops
/// the store either way.
fn recover(cx: &Cx<'_>, l: Loaded, state: &Progressed) -> Result<Option<Recovery>, BackendError> {
    let plan = cx.plan;
    if !plan.run.recover || !l.backend.can_reopen() {
        return Ok(None);
    }
    let name = l.backend.name().to_owned();
    cx.progress
        .started(&format!("recovering {name}"), state.done, state.total);
    restore::remove(l.backend.as_ref(), plan, l.leftovers.take())?;
    let bytes = l
        .backend
        .data_dir()
        .and_then(|d| {
            let _ = crate::measure::syncs::sync_file_system(d);
            disk_usage(d)
        })
        .unwrap_or(0);
    let records = plan.dataset.records;
    let (mut first, mut last) = (Vec::new(), Vec::new());
    plan.dataset.write_key(&mut first, 0);
    plan.dataset.write_key(&mut last, records.saturating_sub(1));
    let started = std::time::Instant::now();
    let backend = l.backend.reopen()?;
    let mut w = backend.worker();
    let found = w.read(&first)?.is_some() && w.read(&last)?.is_some();
    let reopen_s = started.elapsed().as_secs_f64();
    if !found && records > 0 {
        return Err(backend::store_err(
            &name,
            "reopened store lost a loaded record (the first or the last)",
        ));
    }
    Ok(Some(Recovery {
        reopen_s,
        bytes,
        records,
    }))
}

/// The paired rounds of `loaded` at `threads` (`runner::paired`), from the loaded data
/// again (what the last repeat inserted removed, every record rewritten): when at least two
/// variants are loaded, the run is closed loop (a rate fixes the throughput) and pairs are
/// not turned off.
fn pair(
    cx: &Cx<'_>,
    loaded: &[Loaded],
    threads: usize,
    state: &mut Progressed,
) -> Result<(), BackendError> {
    let plan = cx.plan;
    let (rounds, slice) = if cx.opts.quick {
        (paired::QUICK_ROUNDS, paired::QUICK_SLICE)
    } else {
        (paired::ROUNDS, paired::SLICE)
    };
    let rounds = cx.opts.pairs.unwrap_or(rounds);
    if loaded.len() < 2 || rounds == 0 || plan.run.rate.is_some() {
        return Ok(());
    }
    let label = format!(
        "pairing {} variants, {threads} threads: {rounds} rounds of {} ms slices",
        loaded.len(),
        slice.as_millis()
    );
    cx.progress.started(&label, state.done, state.total);
    for l in loaded {
        restore::remove(l.backend.as_ref(), plan, l.leftovers.take())?;
        if restore::fill(l.backend.as_ref(), plan, cx.stop)?.is_none() {
            state.stopped = true;
            return Ok(());
        }
    }
    let backends: Vec<&dyn Backend> = loaded.iter().map(|l| l.backend.as_ref()).collect();
    match paired::take(&backends, plan, threads, (rounds, slice), cx.clock, cx.stop)? {
        Some(r) => state.paired.push(r),
        None => state.stopped = true,
    }
    Ok(())
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
                let name = loaded[i].backend.name().to_owned();
                let label = format!(
                    "{name}, {}, repeat {}",
                    acorn_reports::format::threads_text(threads),
                    repeat + 1
                );
                cx.progress.started(&label, state.done, state.total);
                let target = cx.opts.flamegraph.as_deref().map(|dir| profile::Target {
                    dir,
                    workload: &plan.name,
                    variant: &name,
                    threads,
                });
                let (r, sampled) = measure(cx, &loaded[i], threads, repeat, target.as_ref(), true)?;
                if let Some(s) = sampled {
                    state.warnings.extend(s.warning());
                    if s.failed.is_none() {
                        state.flamegraphs.push(s.file);
                    }
                }
                state.record(cx, r);
                if state.stopped {
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
        "{n} variants in parallel, {}, repeat {}",
        acorn_reports::format::threads_text(threads),
        repeat + 1
    );
    cx.progress.started(&label, state.done, state.total);
    let results: Vec<Measured> = order
        .par_iter()
        .map(|&i| measure(cx, &loaded[i], threads, repeat, None, n == 1))
        .collect::<Result<_, _>>()?;
    for (r, _) in results {
        state.record(cx, r);
    }
    Ok(())
}
