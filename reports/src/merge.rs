//! `lab merge`: results of several load generators (processes or machines) that ran the
//! same plan at the same time, as one file that `compare` and `report` read like any
//! other. The files must be different runs of one workload with the same plan and mode,
//! and their run times must overlap. Each measured repeat becomes one run of the whole
//! system: operations, throughputs and interval counts add up (the generators ran side
//! by side), histograms merge exactly, the run lasts as long as its longest part.
//! Summaries are recomputed from the merged runs, as the lab computes them.

use std::collections::BTreeMap;
use std::time::SystemTime;

use crate::results::{OpResult, Results, RunResult, VariantSummary};
use crate::stats;

fn when(r: &Results, text: &str, what: &str) -> Result<SystemTime, String> {
    humantime::parse_rfc3339(text).map_err(|_| {
        format!(
            "cannot tell when the run of {:?} on {} {what} ({text:?}): a file from an older \
             lab has no finish time, so it cannot be shown to have run at the same time",
            r.workload, r.machine.hostname
        )
    })
}

/// Refuses parts that are not one plan run at the same time by different generators.
fn check(parts: &[Results]) -> Result<(), String> {
    let first = parts.first().ok_or("nothing to merge")?;
    if parts.iter().any(|p| p.measure != crate::Measure::WallClock) {
        return Err(
            "instruction counts do not merge: each variant was counted alone in one process, \
             and merging adds up load generators that ran at the same time"
                .into(),
        );
    }
    for (i, p) in parts.iter().enumerate().skip(1) {
        if p.workload != first.workload {
            return Err(format!(
                "cannot merge different workloads: {:?} and {:?}",
                first.workload, p.workload
            ));
        }
        if p.plan.without_file() != first.plan.without_file() || p.quick != first.quick {
            return Err(format!(
                "file {} ran {:?} with other settings than file 1 (records, mix, durations, \
                 repeats, threads, variants or --quick differ); only runs of the same plan merge",
                i + 1,
                p.workload
            ));
        }
        if p.mode != first.mode {
            return Err(format!(
                "file {} ran in {} mode, file 1 in {}",
                i + 1,
                p.mode,
                first.mode
            ));
        }
        if let Some(j) = parts[..i].iter().position(|q| same_run(q, p)) {
            return Err(format!(
                "files {} and {} are the same results (same start, machine and runs); each \
                 generator's file can be merged once",
                j + 1,
                i + 1
            ));
        }
    }
    let mut windows = Vec::new();
    for p in parts {
        windows.push((
            when(p, &p.started_at, "started")?,
            when(p, &p.finished_at, "finished")?,
        ));
    }
    let latest_start = windows.iter().map(|w| w.0).max();
    let earliest_end = windows.iter().map(|w| w.1).min();
    if let (Some(s), Some(e)) = (latest_start, earliest_end) {
        if s > e {
            let spans: Vec<String> = parts
                .iter()
                .map(|p| format!("{}..{}", p.started_at, p.finished_at))
                .collect();
            return Err(format!(
                "these runs did not overlap in time ({}); merge adds up generators that \
                 loaded the system together",
                spans.join(", ")
            ));
        }
    }
    Ok(())
}

fn same_run(a: &Results, b: &Results) -> bool {
    a.started_at == b.started_at && a.machine == b.machine && a.runs == b.runs
}

/// The run of the whole system for one (variant, threads, repeat).
fn merge_runs(parts: &[&RunResult]) -> RunResult {
    let mut out = parts[0].clone();
    out.elapsed_s = parts.iter().map(|r| r.elapsed_s).fold(0.0, f64::max);
    out.ops = parts.iter().map(|r| r.ops).sum();
    out.errors = parts.iter().map(|r| r.errors).sum();
    out.throughput = parts.iter().map(|r| r.throughput).sum();
    out.dropped = parts.iter().map(|r| r.dropped).sum();
    out.metrics = stats::merge_metrics(parts.iter().map(|r| &r.metrics));
    // Each generator counted its own process's storage: the system's is the sum.
    out.storage = parts
        .iter()
        .map(|r| r.storage.as_ref())
        .collect::<Option<Vec<_>>>()
        .and_then(crate::storage::StorageCost::sum);
    let len = parts.iter().map(|r| r.intervals.len()).max().unwrap_or(0);
    out.intervals = (0..len)
        .map(|i| parts.iter().filter_map(|r| r.intervals.get(i)).sum())
        .collect();
    let ops: std::collections::BTreeSet<&String> =
        parts.iter().flat_map(|r| r.per_op.keys()).collect();
    out.per_op = ops
        .into_iter()
        .map(|op| {
            let each: Vec<&OpResult> = parts.iter().filter_map(|r| r.per_op.get(op)).collect();
            let mut m = stats::merge_ops(&each, 1.0);
            m.throughput = each.iter().map(|o| o.throughput).sum();
            m.parts = merge_parts(&each);
            (op.clone(), m)
        })
        .collect();
    out
}

/// Parts of the same tenth of the phase, taken together: counts add, and the percentiles
/// are the generators' own weighted by their counts (an approximation: parts keep no
/// histogram).
fn merge_parts(each: &[&OpResult]) -> Vec<crate::results::PartLatency> {
    let n = each.iter().map(|o| o.parts.len()).min().unwrap_or(0);
    (0..n)
        .map(|i| {
            let ps: Vec<_> = each.iter().map(|o| o.parts[i]).collect();
            let count: u64 = ps.iter().map(|p| p.count).sum();
            let w = |f: fn(&crate::results::PartLatency) -> u64| {
                let sum: f64 = ps.iter().map(|p| f(p) as f64 * p.count as f64).sum();
                (sum / count.max(1) as f64).round() as u64
            };
            crate::results::PartLatency {
                count,
                p50_ns: w(|p| p.p50_ns),
                p99_ns: w(|p| p.p99_ns),
                p90_ns: w(|p| p.p90_ns),
                p999_ns: w(|p| p.p999_ns),
            }
        })
        .collect()
}

/// A summary recomputed from merged runs; the rest (backend description, load figures)
/// is the first file's, and backend counters are summed over the files.
fn summarize(
    first: &VariantSummary,
    all: &[&VariantSummary],
    runs: &[RunResult],
) -> VariantSummary {
    let mine: Vec<&RunResult> = runs
        .iter()
        .filter(|r| r.variant == first.variant && r.threads == first.threads)
        .collect();
    let mut s = first.clone();
    stats::summarize_runs(&mut s, &mine);
    // Counters add up over the generators; ratios come from the sums (or, for files that
    // hold only a ratio, are averaged).
    s.metrics = stats::merge_metrics(all.iter().map(|x| &x.metrics));
    s
}

/// Merges `parts` (see the module documentation).
pub fn merge(parts: &[Results]) -> Result<Results, String> {
    check(parts)?;
    let first = &parts[0];
    let mut groups: BTreeMap<(String, usize, u32), Vec<&RunResult>> = BTreeMap::new();
    for p in parts {
        for r in &p.runs {
            groups
                .entry((r.variant.clone(), r.threads, r.repeat))
                .or_default()
                .push(r);
        }
    }
    if let Some(((v, t, rep), _)) = groups.iter().find(|(_, g)| g.len() != parts.len()) {
        return Err(format!(
            "{v} at {t} thread(s), repeat {}, is not in every file (an interrupted run?); \
             only complete runs merge",
            rep + 1
        ));
    }
    let mut out = first.clone();
    // Written in this lab's format, whatever version the parts were read from.
    out.schema_version = crate::results::SCHEMA_VERSION;
    out.runs = groups.values().map(|g| merge_runs(g)).collect();
    out.summaries = first
        .summaries
        .iter()
        .map(|s| {
            let all: Vec<&VariantSummary> = parts
                .iter()
                .flat_map(|p| &p.summaries)
                .filter(|x| x.variant == s.variant && x.threads == s.threads)
                .collect();
            summarize(s, &all, &out.runs)
        })
        .collect();
    // Each generator's paired rounds ranked its own variants on its own machine; there are
    // no rounds of the whole system, so a merged file ranks by its repeats.
    out.paired = Vec::new();
    out.generators = parts.iter().map(|p| p.generators.max(1)).sum();
    out.partial = parts.iter().any(|p| p.partial);
    out.contended = parts.iter().any(|p| p.contended);
    out.started_at = parts
        .iter()
        .map(|p| p.started_at.clone())
        .min()
        .unwrap_or_default();
    out.finished_at = parts
        .iter()
        .map(|p| p.finished_at.clone())
        .max()
        .unwrap_or_default();
    out.machine.hostname = parts
        .iter()
        .map(|p| p.machine.hostname.as_str())
        .collect::<Vec<_>>()
        .join("+");
    out.load = parts.iter().filter_map(|p| p.load).reduce(f64::max);
    // The part files hold targets as text; one that no longer parses is reported as such
    // rather than judged.
    let mut parsed = Vec::new();
    let mut invalid = Vec::new();
    for t in &first.targets {
        match crate::targets::Target::parse(&t.name, &t.variant, &t.metric, &t.expect) {
            Ok(target) => parsed.push(target),
            Err(_) => invalid.push(crate::results::TargetVerdict {
                actual: None,
                interval: None,
                actual_text: "invalid target".into(),
                pass: false,
                status: Some(crate::results::TargetStatus::Fail),
                ..t.clone()
            }),
        }
    }
    out.targets = crate::targets::judge_all(&parsed, &out);
    out.targets.extend(invalid);
    Ok(out)
}
