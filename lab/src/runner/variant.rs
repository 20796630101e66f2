//! One loaded variant's life in a run, step by step: [`load`] (the timed bulk load, memory
//! and disk measured around it), [`measure`] (restore, warm up and run one measured phase,
//! turned into a [`RunResult`]), [`summarize`] (its phases at one thread count as a
//! [`VariantSummary`]) and [`recover`] (the `recover` phase: close, reopen, time it).
//! Which variants are loaded together and in what order their phases run is
//! `schedule.rs`'s.

use std::collections::BTreeMap;

use super::phase::{run_phase, PhaseResult};
use super::{profile, restore, Cx, Progressed};
use crate::backend::{self, Backend, BackendError};
use crate::measure::storage::{disk_usage, Probe};
use crate::measure::{alloc, rss};
use crate::workload::Plan;
use acorn_reports::results::{RunResult, VariantSummary};
use acorn_reports::stats;
use acorn_reports::storage::{check_tier, Recovery, StorageCost, StorageSummary};

/// A variant opened and loaded: its store and what the load measured.
pub(super) struct Loaded {
    pub(super) backend: Box<dyn Backend>,
    load_s: f64,
    bytes_per_item: Option<f64>,
    rss: Option<u64>,
    /// Key + value bytes per record as the user hands them (`user_bytes_per_item`).
    user_bytes_per_item: f64,
    /// The data directory's size after the load (file system synced first).
    disk_after_load: Option<u64>,
    /// Ids the last measured phase inserted, removed before the next repeat.
    pub(super) leftovers: restore::Leftovers,
}

/// Opens and loads `variant`: the timed bulk load, with memory measured around it; `None`
/// when stopped while loading.
pub(super) fn load(
    cx: &Cx<'_>,
    variant: &str,
    state: &Progressed,
) -> Result<Option<Loaded>, BackendError> {
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
    let disk_after_load = disk_now(backend.as_ref());
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
pub(super) type Measured = (Option<RunResult>, Option<profile::Sampled>);

/// Restores the dataset (see `restore.rs`: each repeat starts from the same data even when
/// the mix inserts, deletes or overwrites), then runs warmup and measure for one variant.
pub(super) fn measure(
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

/// `loaded`'s measured phases at `threads` as one summary (`None` when none finished).
pub(super) fn summarize(
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

/// The `recover` phase (`[run] recover = true`, stores that can reopen): removes what the
/// last phase inserted, then closes the store (drops every handle) and times its reopen
/// from its files until it answers a read of the first and the last loaded record. Drops
/// the store either way.
pub(super) fn recover(
    cx: &Cx<'_>,
    l: Loaded,
    state: &Progressed,
) -> Result<Option<Recovery>, BackendError> {
    let plan = cx.plan;
    if !plan.run.recover || !l.backend.can_reopen() {
        return Ok(None);
    }
    let name = l.backend.name().to_owned();
    cx.progress
        .started(&format!("recovering {name}"), state.done, state.total);
    restore::remove(l.backend.as_ref(), plan, l.leftovers.take())?;
    let bytes = disk_now(l.backend.as_ref()).unwrap_or(0);
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

/// The size of `backend`'s data directory now, the file system synced first (`None` for a
/// store in memory).
pub(super) fn disk_now(backend: &dyn Backend) -> Option<u64> {
    let d = backend.data_dir()?;
    let _ = crate::measure::syncs::sync_file_system(d);
    disk_usage(d)
}
