//! Which variants are resident together and in what order their phases run: per thread
//! count, the groups of variants loaded at once (one in sequential mode, all otherwise);
//! per group every repeat in [`schedule`]'s order (sequential, rotated, or all at once on
//! rayon), then the paired rounds, the summaries and the `recover` phase. What happens to
//! one variant at each step is `variant.rs`'s.

use rayon::prelude::*;

use super::variant::{disk_now, load, measure, recover, summarize, Loaded, Measured};
use super::{paired, profile, restore, Cx, Progressed};
use crate::backend::{Backend, BackendError};
use crate::workload::Mode;
use acorn_reports::results::VariantSummary;

/// Every thread count of the plan, in order: its groups of variants, each loaded, measured
/// and dropped before the next (stops at a stop request).
pub(super) fn run_all(cx: &Cx<'_>, state: &mut Progressed) -> Result<(), BackendError> {
    let plan = cx.plan;
    for &threads in &plan.run.threads {
        // Sequential: one variant in memory at a time; otherwise all of them together.
        let groups: Vec<&[String]> = match plan.run.mode {
            Mode::Sequential => plan.variants.chunks(1).collect(),
            Mode::Interleaved | Mode::Parallel => vec![&plan.variants[..]],
        };
        for group in groups {
            run_group(cx, group, threads, state)?;
            if state.stopped {
                return Ok(());
            }
        }
    }
    Ok(())
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
        .map(|l| disk_now(l.backend.as_ref()))
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
