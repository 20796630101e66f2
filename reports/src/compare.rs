//! `lab compare BASE NEW`: per variant, thread count and operation, the change in
//! throughput and in p50 and p99 latency, each with its own noise; only changes outside
//! the noise and past the threshold count, and a significant slowdown (less throughput, or
//! more latency) is a regression.
//!
//! The noise of one side is the relative half-width of a 95% interval:
//! - two or more repeats: Student's t interval of the mean over the repeats;
//! - one repeat: the run's own parts. Throughput: its completions per interval, grouped
//!   into [`PARTS`] consecutive parts; latency: the p50 or p99 of each fifth of the phase
//!   (parts with too few operations for that percentile are left out). A rerun is taken
//!   to differ from this run as much as one part may differ from the others — the
//!   prediction interval `t · s · √(1 + 1/k)` over the `k` parts — which also covers drift
//!   slower than a part. Per-operation throughput adds the sampling noise of its share of
//!   the mix. With fewer than 3 usable parts there is no estimate: the row says so and
//!   does not count.
//!
//! Both sides' noises add in quadrature. [`mismatches`] says what makes two files not
//! comparable (refused) or comparable with care (warned).

use std::fmt::Write as _;

use serde_json::Value;

use crate::format::{human, verdict_label, Unit};
use crate::results::{OpResult, Results, RunResult};
use crate::stats::{spread, student_t};

pub use crate::format::Verdict;

/// The parts one repeat's throughput intervals are grouped into.
pub const PARTS: usize = 5;

/// What a change is measured on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Measure {
    Throughput,
    P50,
    P99,
}

impl Measure {
    /// Whether a larger value is better.
    fn higher_is_better(self) -> bool {
        self == Measure::Throughput
    }

    fn unit(self) -> Unit {
        match self {
            Measure::Throughput => Unit::Rate,
            Measure::P50 | Measure::P99 => Unit::Time,
        }
    }

    fn quantile(self) -> f64 {
        match self {
            Measure::P99 => 0.99,
            _ => 0.5,
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct Change {
    pub variant: String,
    pub threads: usize,
    /// "all" for the whole mix, else an operation name.
    pub op: String,
    pub measure: Measure,
    pub base: f64,
    pub new: f64,
    /// new / base − 1.
    pub delta: f64,
    /// Relative half-width of the combined 95% intervals; `None` when a side has no
    /// estimate (one short repeat).
    pub noise: Option<f64>,
    pub verdict: Verdict,
}

impl Change {
    /// "all", "read", "read p50", "read p99".
    pub fn label(&self) -> String {
        match self.measure {
            Measure::Throughput => self.op.clone(),
            Measure::P50 => format!("{} p50", self.op),
            Measure::P99 => format!("{} p99", self.op),
        }
    }

    /// The unit of `base` and `new`.
    pub fn unit(&self) -> Unit {
        self.measure.unit()
    }
}

/// One side's value and the relative half-width of its 95% interval.
#[derive(Clone, Copy, Debug)]
struct Estimate {
    value: f64,
    noise: Option<f64>,
}

/// Median and t-interval over repeats.
fn over_repeats(values: &[f64]) -> Estimate {
    let (median, ci, _) = spread(values);
    let mean = values.iter().sum::<f64>() / values.len().max(1) as f64;
    let half = (ci[1] - ci[0]) / 2.0;
    Estimate {
        value: median,
        noise: Some(if mean > 0.0 { half / mean } else { 0.0 }),
    }
}

/// The prediction-interval half-width over parts (intervals of a run, or fifths of its
/// phase), relative to their mean (≥ 3 parts).
fn over_parts(parts: &[f64]) -> Option<f64> {
    let k = parts.len();
    if k < 3 {
        return None;
    }
    let mean = parts.iter().sum::<f64>() / k as f64;
    if mean <= 0.0 {
        return None;
    }
    let var = parts.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (k - 1) as f64;
    Some(student_t(k - 1) * var.sqrt() * (1.0 + 1.0 / k as f64).sqrt() / mean)
}

/// Completions per second of each full interval of a run (its last, partial interval
/// left out).
pub fn interval_rates(run: &RunResult) -> Vec<f64> {
    if run.interval_s <= 0.0 {
        return Vec::new();
    }
    let full = &run.intervals[..run.intervals.len().saturating_sub(1)];
    full.iter().map(|c| *c as f64 / run.interval_s).collect()
}

fn op_of<'a>(run: &'a RunResult, op: &str) -> Option<&'a OpResult> {
    run.per_op.get(op)
}

/// A side's throughput of the whole mix (`op` None) or of one operation.
fn throughput(runs: &[&RunResult], op: Option<&str>) -> Option<Estimate> {
    let values: Vec<f64> = runs
        .iter()
        .filter_map(|r| match op {
            None => Some(r.throughput),
            Some(op) => op_of(r, op).map(|o| o.throughput),
        })
        .collect();
    match values.len() {
        0 => None,
        1 => {
            let run = runs[0];
            let mut noise = over_parts(&interval_rates(run));
            if let (Some(op), Some(n)) = (op, noise.as_mut()) {
                // The operation's share of the mix varies too (binomially).
                let count = op_of(run, op).map_or(0, |o| o.count).max(1) as f64;
                *n = (*n * *n + 1.96 * 1.96 / count).sqrt();
            }
            Some(Estimate {
                value: values[0],
                noise,
            })
        }
        _ => Some(over_repeats(&values)),
    }
}

/// A side's p50 or p99 of one operation.
fn latency(runs: &[&RunResult], op: &str, m: Measure) -> Option<Estimate> {
    latency_alone(runs, op, m)
}

/// The least noise a latency change is judged against, given the combined relative noise
/// `h` of the throughput: in closed loop mean latency is threads over throughput, so a
/// throughput that may be `1 − h` of itself lets latency be `1 / (1 − h)` of itself.
fn latency_floor(h: Option<f64>) -> f64 {
    match h {
        Some(h) if h < 1.0 => h / (1.0 - h),
        Some(_) => f64::INFINITY,
        None => 0.0,
    }
}

fn latency_alone(runs: &[&RunResult], op: &str, m: Measure) -> Option<Estimate> {
    let pick = |o: &OpResult| match m {
        Measure::P99 => o.p99_ns,
        _ => o.p50_ns,
    };
    let ops: Vec<&OpResult> = runs.iter().filter_map(|r| op_of(r, op)).collect();
    match ops.len() {
        0 => None,
        1 => {
            // Enough operations in a part for its percentile to mean something.
            let need = (10.0 / (1.0 - m.quantile())).ceil() as u64;
            let parts: Vec<f64> = ops[0]
                .parts
                .iter()
                .filter(|p| p.count >= need)
                .map(|p| match m {
                    Measure::P99 => p.p99_ns as f64,
                    _ => p.p50_ns as f64,
                })
                .collect();
            Some(Estimate {
                value: pick(ops[0]) as f64,
                noise: over_parts(&parts),
            })
        }
        _ => Some(over_repeats(
            &ops.iter().map(|o| pick(o) as f64).collect::<Vec<_>>(),
        )),
    }
}

/// The verdict on a change of `delta` with `noise`, for a measure where `higher_is_better`.
fn judge(delta: f64, noise: Option<f64>, threshold: f64, higher_is_better: bool) -> Verdict {
    let Some(noise) = noise else {
        return Verdict::Unsure;
    };
    if delta.abs() <= threshold.max(noise) {
        Verdict::Same
    } else if (delta > 0.0) == higher_is_better {
        Verdict::Faster
    } else {
        Verdict::Slower
    }
}

fn change(
    key: (&str, usize, &str),
    measure: Measure,
    (base, new): (Estimate, Estimate),
    threshold: f64,
    floor: f64,
) -> Option<Change> {
    if base.value <= 0.0 {
        return None;
    }
    let delta = new.value / base.value - 1.0;
    let noise = base
        .noise
        .zip(new.noise)
        .map(|(b, n)| (b * b + n * n).sqrt().max(floor));
    Some(Change {
        variant: key.0.to_owned(),
        threads: key.1,
        op: key.2.to_owned(),
        measure,
        base: base.value,
        new: new.value,
        delta,
        noise,
        verdict: judge(delta, noise, threshold, measure.higher_is_better()),
    })
}

fn runs_of<'a>(r: &'a Results, variant: &str, threads: usize) -> Vec<&'a RunResult> {
    r.runs
        .iter()
        .filter(|x| x.variant == variant && x.threads == threads)
        .collect()
}

/// Compares every (variant, threads, operation) present in both files: throughput of the
/// whole mix and of each operation, and each operation's p50 and p99.
pub fn compare(base: &Results, new: &Results, threshold: f64) -> Vec<Change> {
    let mut out = Vec::new();
    for s in &new.summaries {
        let Some(b) = base
            .summaries
            .iter()
            .find(|b| b.variant == s.variant && b.threads == s.threads)
        else {
            continue;
        };
        let (br, nr) = (
            runs_of(base, &b.variant, b.threads),
            runs_of(new, &s.variant, s.threads),
        );
        let all = (s.variant.as_str(), s.threads, "all");
        let whole = throughput(&br, None).zip(throughput(&nr, None));
        let whole = whole.and_then(|xy| change(all, Measure::Throughput, xy, threshold, 0.0));
        let floor = latency_floor(whole.as_ref().and_then(|c| c.noise));
        out.extend(whole);
        for op in s.per_op.keys().filter(|k| b.per_op.contains_key(*k)) {
            let key = (s.variant.as_str(), s.threads, op.as_str());
            let xy = throughput(&br, Some(op)).zip(throughput(&nr, Some(op)));
            out.extend(xy.and_then(|xy| change(key, Measure::Throughput, xy, threshold, 0.0)));
            for m in [Measure::P50, Measure::P99] {
                let xy = latency(&br, op, m).zip(latency(&nr, op, m));
                out.extend(xy.and_then(|xy| change(key, m, xy, threshold, floor)));
            }
        }
    }
    out
}

/// Whether any change is a significant slowdown.
pub fn regressed(changes: &[Change]) -> bool {
    changes.iter().any(|c| c.verdict == Verdict::Slower)
}

/// Whether no change could be judged (every side lacked a noise estimate).
pub fn nothing_judged(changes: &[Change]) -> bool {
    changes.iter().all(|c| c.verdict == Verdict::Unsure)
}

/// The comparison as a terminal table.
pub fn render(changes: &[Change], threshold: f64) -> String {
    let mut out = format!(
        "{:<16} {:>3} {:<14} {:>14} {:>14} {:>9} {:>8}  verdict (threshold {})\n",
        "variant",
        "thr",
        "op",
        "base",
        "new",
        "change",
        "±noise",
        percent(threshold)
    );
    for c in changes {
        let noise = c
            .noise
            .map_or_else(|| "?".to_owned(), |n| format!("{:.1}%", n * 100.0));
        let _ = writeln!(
            out,
            "{:<16} {:>3} {:<14} {:>14} {:>14} {:>+8.1}% {:>8}  {}",
            c.variant,
            c.threads,
            c.label(),
            human(c.unit(), c.base),
            human(c.unit(), c.new),
            c.delta * 100.0,
            noise,
            verdict_label(c.verdict)
        );
    }
    if changes.iter().any(|c| c.verdict == Verdict::Unsure) {
        out.push_str(
            "(?: one repeat too short to estimate its own noise — fewer than 3 usable parts; \
             run with repeats >= 2 or longer phases)\n",
        );
    }
    out
}

fn percent(t: f64) -> String {
    let p = t * 100.0;
    if (p - p.round()).abs() < 1e-9 {
        format!("{p:.0}%")
    } else {
        format!("{p}%")
    }
}

/// Parses a threshold: "5%", "5" and "0.05" all mean 5% (a bare number of 1 or more is a
/// percentage, below 1 a fraction). From 0% up to, not including, 100%.
pub fn parse_threshold(s: &str) -> Result<f64, String> {
    let t = s.trim();
    let bad = || format!("threshold {s:?} is not a percentage like \"5%\", \"5\" or \"0.05\"");
    let v = match t.strip_suffix('%') {
        Some(p) => p.trim().parse::<f64>().map_err(|_| bad())? / 100.0,
        None => {
            let x = t.parse::<f64>().map_err(|_| bad())?;
            if x >= 1.0 {
                x / 100.0
            } else {
                x
            }
        }
    };
    if !v.is_finite() || !(0.0..1.0).contains(&v) {
        return Err(format!(
            "threshold {s:?} must be from 0% up to (not including) 100%"
        ));
    }
    Ok(v)
}

/// Why two results files are not comparable (`refuse`), or comparable with care (`warn`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Mismatches {
    pub refuse: Vec<String>,
    pub warn: Vec<String>,
}

/// Plan entries that change what is measured: different values are refused.
const SAME_WORKLOAD: [&str; 12] = [
    "records",
    "key_prefix",
    "key_width",
    "key_order",
    "doc",
    "mix",
    "distribution",
    "item_count",
    "scan",
    "scan_length",
    "batch_size",
    "query",
];

/// Plan entries that change how it is measured: different values are warned about.
const SAME_SETTINGS: [&str; 7] = [
    "bound",
    "warmup",
    "repeats",
    "rate",
    "mode",
    "seed",
    "cache_capacity",
];

fn shown(v: Option<&Value>) -> String {
    v.map_or_else(|| "(not recorded)".to_owned(), Value::to_string)
}

/// What differs between two files beyond the code under test (see [`Mismatches`]).
pub fn mismatches(base: &Results, new: &Results) -> Mismatches {
    let mut m = Mismatches::default();
    if base.workload != new.workload {
        m.refuse.push(format!(
            "different workloads: {:?} and {:?}",
            base.workload, new.workload
        ));
    }
    if base.quick != new.quick {
        let q = |r: &Results| if r.quick { "--quick" } else { "full" };
        m.refuse.push(format!(
            "a {} run against a {} run: quick runs are smoke tests, not measurements",
            q(base),
            q(new)
        ));
    }
    for key in SAME_WORKLOAD.iter().chain(&SAME_SETTINGS) {
        let (b, n) = (base.plan.get(*key), new.plan.get(*key));
        if b == n {
            continue;
        }
        let text = format!("`{key}` differs: {} vs {}", shown(b), shown(n));
        // A key only one file records (an older lab wrote the other) is a warning.
        if SAME_WORKLOAD.contains(key) && b.is_some() && n.is_some() {
            m.refuse.push(text);
        } else {
            m.warn.push(text);
        }
    }
    settings(base, new, &mut m.warn);
    m
}

/// Differences in machine, generators, state and variant descriptions: warnings.
fn settings(base: &Results, new: &Results, warn: &mut Vec<String>) {
    let (bm, nm) = (&base.machine, &new.machine);
    if (bm.cpu.as_str(), bm.cores) != (nm.cpu.as_str(), nm.cores) {
        warn.push(format!(
            "different machines: {} ({} cores) vs {} ({} cores)",
            bm.cpu, bm.cores, nm.cpu, nm.cores
        ));
    }
    if base.generators != new.generators {
        warn.push(format!(
            "{} load generator(s) vs {}: merged throughputs add up across generators",
            base.generators, new.generators
        ));
    }
    for (r, side) in [(base, "base"), (new, "new")] {
        if r.partial {
            warn.push(format!("{side} is partial (interrupted)"));
        }
        if r.contended {
            warn.push(format!(
                "{side} ran contended (parallel mode on too few cores)"
            ));
        }
    }
    for s in &new.summaries {
        let same = base.summaries.iter().find(|b| b.variant == s.variant);
        if let Some(b) = same.filter(|b| b.info != s.info) {
            for (k, v) in &s.info {
                let old = b.info.get(k).map_or("(none)", String::as_str);
                if old != v {
                    warn.push(format!(
                        "variant {}: {k} differs: {old:?} vs {v:?}",
                        s.variant
                    ));
                }
            }
        }
    }
    warn.dedup();
}
