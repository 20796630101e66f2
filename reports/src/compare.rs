//! `lab compare BASE NEW`: per variant, thread count and operation, the change in throughput
//! with its uncertainty from the repeats; only changes outside the noise (and past the
//! threshold) count, and a significant slowdown is a regression.

use std::fmt::Write as _;

use crate::format::{human, verdict_label, Unit};
use crate::results::{Results, RunResult};
use crate::stats::spread;

pub use crate::format::Verdict;

#[derive(Clone, Debug, PartialEq)]
pub struct Change {
    pub variant: String,
    pub threads: usize,
    /// "all" for the whole mix, else an operation name.
    pub op: String,
    pub base: f64,
    pub new: f64,
    /// new / base − 1.
    pub delta: f64,
    /// Relative half-width of the combined 95% intervals.
    pub noise: f64,
    pub verdict: Verdict,
}

fn throughputs(runs: &[RunResult], variant: &str, threads: usize, op: Option<&str>) -> Vec<f64> {
    runs.iter()
        .filter(|r| r.variant == variant && r.threads == threads)
        .filter_map(|r| match op {
            None => Some(r.throughput),
            Some(op) => r.per_op.get(op).map(|o| o.throughput),
        })
        .collect()
}

fn relative_halfwidth(samples: &[f64]) -> (f64, f64) {
    let (median, ci, _) = spread(samples);
    let mean = samples.iter().sum::<f64>() / samples.len().max(1) as f64;
    let half = (ci[1] - ci[0]) / 2.0;
    (median, if mean > 0.0 { half / mean } else { 0.0 })
}

/// Compares every (variant, threads, operation) present in both files.
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
        let ops = std::iter::once(None).chain(
            s.per_op
                .keys()
                .filter(|k| b.per_op.contains_key(*k))
                .map(|k| Some(k.as_str())),
        );
        for op in ops {
            let (bs, ns) = (
                throughputs(&base.runs, &b.variant, b.threads, op),
                throughputs(&new.runs, &s.variant, s.threads, op),
            );
            if bs.is_empty() || ns.is_empty() {
                continue;
            }
            let ((bm, bn), (nm, nn)) = (relative_halfwidth(&bs), relative_halfwidth(&ns));
            if bm <= 0.0 {
                continue;
            }
            let delta = nm / bm - 1.0;
            let noise = (bn * bn + nn * nn).sqrt();
            let verdict = if delta.abs() <= threshold.max(noise) {
                Verdict::Same
            } else if delta > 0.0 {
                Verdict::Faster
            } else {
                Verdict::Slower
            };
            out.push(Change {
                variant: s.variant.clone(),
                threads: s.threads,
                op: op.unwrap_or("all").to_owned(),
                base: bm,
                new: nm,
                delta,
                noise,
                verdict,
            });
        }
    }
    out
}

/// Whether any change is a significant slowdown.
pub fn regressed(changes: &[Change]) -> bool {
    changes.iter().any(|c| c.verdict == Verdict::Slower)
}

/// The comparison as a terminal table.
pub fn render(changes: &[Change], threshold: f64) -> String {
    let mut out = format!(
        "{:<16} {:>3} {:<8} {:>14} {:>14} {:>9} {:>8}  verdict (threshold {:.0}%)\n",
        "variant",
        "thr",
        "op",
        "base",
        "new",
        "change",
        "±noise",
        threshold * 100.0
    );
    for c in changes {
        let _ = writeln!(
            out,
            "{:<16} {:>3} {:<8} {:>14} {:>14} {:>+8.1}% {:>7.1}%  {}",
            c.variant,
            c.threads,
            c.op,
            human(Unit::Rate, c.base),
            human(Unit::Rate, c.new),
            c.delta * 100.0,
            c.noise * 100.0,
            verdict_label(c.verdict)
        );
    }
    out
}

/// Parses "5%" or "0.05".
pub fn parse_threshold(s: &str) -> Result<f64, String> {
    let t = s.trim();
    let v = match t.strip_suffix('%') {
        Some(p) => p.trim().parse::<f64>().map(|x| x / 100.0),
        None => t.parse::<f64>(),
    }
    .map_err(|_| format!("threshold {s:?} is not a percentage like \"5%\""))?;
    if !(0.0..10.0).contains(&v) {
        return Err(format!("threshold {s:?} must be between 0% and 1000%"));
    }
    Ok(v)
}
