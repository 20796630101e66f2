//! What `lab run` and `lab compare` write for CI and for people's tools, beside the
//! terminal table: Markdown (a pull-request comment, GitHub's job summary), JUnit XML
//! (every CI shows it as test results), CSV (spreadsheets), JSON (the results and the
//! comparison), Bencher Metric Format (bencher.dev) and HdrHistogram interval logs
//! (HistogramLogAnalyzer). `docs/outputs.md` describes each.
//!
//! Every format is rendered from two neutral forms built here: a run's numbers
//! ([`measurements`]: one row per variant, thread count, operation and metric, with its 95%
//! interval when the repeats give one) and a comparison ([`Comparison`]: one row per
//! variant, thread count, operation and metric, with the verdict). Only [`Comparison::times`]
//! and [`Comparison::counts`] know how `compare` lays out its outcome.

pub mod bmf;
pub mod csv;
pub mod hdrlog;
pub mod junit;
pub mod markdown;

use hdrhistogram::Histogram as Hdr;
use serde::Serialize;

use crate::compare::{self, Change};
use crate::counts::{Measure, PerOp};
use crate::format::Verdict;
use crate::instructions::{self, CountComparison};
use crate::results::{OpResult, Results};
use crate::stats;

/// What `--format` and `--export` name.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// The terminal table (`lab run`'s and `lab compare`'s usual output).
    Table,
    Markdown,
    Json,
    Junit,
    Csv,
    /// Bencher Metric Format.
    Bmf,
}

impl Format {
    /// Every format, in the order help lists them.
    pub const ALL: [Format; 6] = [
        Format::Table,
        Format::Markdown,
        Format::Json,
        Format::Junit,
        Format::Csv,
        Format::Bmf,
    ];

    /// The name on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Format::Table => "table",
            Format::Markdown => "markdown",
            Format::Json => "json",
            Format::Junit => "junit",
            Format::Csv => "csv",
            Format::Bmf => "bmf",
        }
    }

    /// Parses a format name (`md` and `xml` too); an unknown one lists the valid names.
    pub fn parse(s: &str) -> Result<Format, String> {
        let t = s.trim().to_ascii_lowercase();
        let alias = match t.as_str() {
            "md" => "markdown",
            "xml" => "junit",
            "bencher" => "bmf",
            other => other,
        };
        Format::ALL
            .into_iter()
            .find(|f| f.name() == alias)
            .ok_or_else(|| {
                let names: Vec<&str> = Format::ALL.iter().map(|f| f.name()).collect();
                format!("unknown format {s:?}; valid: {}", names.join(", "))
            })
    }
}

/// The operation name of the whole mix.
pub const ALL_OPS: &str = instructions::ALL;

/// One number of a run.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Measured {
    pub workload: String,
    pub variant: String,
    pub threads: usize,
    /// [`ALL_OPS`] for the whole mix, else an operation name.
    pub op: String,
    /// `throughput`, `latency_p50`, `latency_p99`, `latency_p999`, `latency_max`,
    /// `errors` (wall-clock); `instructions`, `estimated_cycles` (instruction counts).
    pub metric: &'static str,
    pub value: f64,
    /// The 95% interval over the repeats, when there were two or more.
    pub lower: Option<f64>,
    pub upper: Option<f64>,
    /// `ops/s`, `ns`, `count`, `instructions/op`, `cycles/op`.
    pub unit: &'static str,
}

/// Latency percentiles of a set of operation results, their histograms merged exactly.
fn mix_latency<'a>(ops: impl IntoIterator<Item = &'a OpResult>) -> Option<Hdr<u64>> {
    let mut all: Option<Hdr<u64>> = None;
    for o in ops {
        let h = stats::decode(&o.histogram);
        match &mut all {
            None => all = Some(h),
            Some(a) => {
                // Histograms of one precision always add.
                let _ = a.add(h);
            }
        }
    }
    all.filter(|h| !h.is_empty())
}

/// The 95% interval of `samples` over repeats, when there are two or more.
fn interval(samples: &[f64]) -> (Option<f64>, Option<f64>) {
    if samples.len() < 2 {
        return (None, None);
    }
    let (_, ci, _) = stats::spread(samples);
    (Some(ci[0]), Some(ci[1]))
}

/// Every number of `r`, per variant, thread count and operation (the whole mix first).
pub fn measurements(r: &Results) -> Vec<Measured> {
    match r.measure {
        Measure::WallClock => wall_clock(r),
        Measure::Instructions => counted(r),
    }
}

fn wall_clock(r: &Results) -> Vec<Measured> {
    let mut out = Vec::new();
    for s in &r.summaries {
        let runs: Vec<_> = r
            .runs
            .iter()
            .filter(|x| x.variant == s.variant && x.threads == s.threads)
            .collect();
        let mut push = |op: &str, metric, value: f64, (lower, upper), unit| {
            out.push(Measured {
                workload: r.workload.clone(),
                variant: s.variant.clone(),
                threads: s.threads,
                op: op.to_owned(),
                metric,
                value,
                lower,
                upper,
                unit,
            });
        };
        let repeats = stats::repeats(r, s);
        let ci = if repeats >= 2 {
            (Some(s.throughput_ci95[0]), Some(s.throughput_ci95[1]))
        } else {
            (None, None)
        };
        push(ALL_OPS, "throughput", s.throughput_median, ci, "ops/s");
        if let Some(h) = mix_latency(s.per_op.values()) {
            for (metric, q) in [("latency_p50", 0.5), ("latency_p99", 0.99)] {
                let per_run: Vec<f64> = runs
                    .iter()
                    .filter_map(|x| mix_latency(x.per_op.values()))
                    .map(|h| h.value_at_quantile(q) as f64)
                    .collect();
                push(
                    ALL_OPS,
                    metric,
                    h.value_at_quantile(q) as f64,
                    interval(&per_run),
                    "ns",
                );
            }
        }
        for (op, o) in &s.per_op {
            let ci = stats::op_spread(r, &s.variant, s.threads, op)
                .filter(|(_, _, n)| *n >= 2)
                .map_or((None, None), |(_, ci, _)| (Some(ci[0]), Some(ci[1])));
            push(op, "throughput", o.throughput, ci, "ops/s");
            let of = |pick: fn(&OpResult) -> u64| -> Vec<f64> {
                runs.iter()
                    .filter_map(|x| x.per_op.get(op))
                    .map(|o| pick(o) as f64)
                    .collect()
            };
            push(
                op,
                "latency_p50",
                o.p50_ns as f64,
                interval(&of(|o| o.p50_ns)),
                "ns",
            );
            push(
                op,
                "latency_p99",
                o.p99_ns as f64,
                interval(&of(|o| o.p99_ns)),
                "ns",
            );
            push(op, "latency_p999", o.p999_ns as f64, (None, None), "ns");
            push(op, "latency_max", o.max_ns as f64, (None, None), "ns");
            push(op, "errors", o.errors as f64, (None, None), "count");
        }
    }
    out
}

fn counted(r: &Results) -> Vec<Measured> {
    let Some(run) = instructions::counted(r) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for s in &run.variants {
        for (op, c) in instructions::ops_of(s) {
            for (metric, which, unit) in [
                ("instructions", PerOp::Instructions, "instructions/op"),
                ("estimated_cycles", PerOp::EstimatedCycles, "cycles/op"),
            ] {
                out.push(Measured {
                    workload: r.workload.clone(),
                    variant: s.variant.clone(),
                    threads: 1,
                    op: op.to_owned(),
                    metric,
                    value: c.per_op(which),
                    lower: None,
                    upper: None,
                    unit,
                });
            }
        }
    }
    out
}

/// `lab compare`'s outcome in the form every format renders (and `--format json` writes).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Comparison {
    pub workload: String,
    /// `wall-clock` or `instructions`.
    pub measure: &'static str,
    /// The two files, as given.
    pub base: String,
    pub new: String,
    /// The smallest change that counts, as a fraction.
    pub threshold: f64,
    /// Whether any change is a regression (`lab compare` exits 1).
    pub regressed: bool,
    /// What differs between the files beyond the code (machine, settings).
    pub warnings: Vec<String>,
    pub changes: Vec<Compared>,
}

/// One variant, thread count, operation and metric, before and after.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Compared {
    pub variant: String,
    pub threads: usize,
    /// [`ALL_OPS`] for the whole mix, else an operation name.
    pub op: String,
    /// `throughput`, `latency_p50`, `latency_p99` (wall-clock) or `instructions`.
    pub metric: &'static str,
    /// `ops/s`, `ns` or `instructions/op`.
    pub unit: &'static str,
    pub base: f64,
    pub new: f64,
    /// new / base − 1 (null when base was 0).
    pub change: Option<f64>,
    /// The relative half-width of the combined 95% intervals; null without an estimate
    /// (and always for instruction counts, which have no noise).
    pub noise: Option<f64>,
    #[serde(serialize_with = "verdict_key")]
    pub verdict: Verdict,
}

/// The verdict as the JSON and CSV spell it.
pub fn verdict_name(v: Verdict) -> &'static str {
    match v {
        Verdict::Same => "same",
        Verdict::Faster => "faster",
        Verdict::Slower => "regression",
        Verdict::Unsure => "unsure",
    }
}

fn verdict_key<S: serde::Serializer>(v: &Verdict, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(verdict_name(*v))
}

/// The files a comparison is between, and what was said about them.
#[derive(Clone, Debug, Default)]
pub struct Sides {
    pub base: String,
    pub new: String,
    pub workload: String,
    pub warnings: Vec<String>,
}

impl Comparison {
    fn new(sides: &Sides, measure: Measure, threshold: f64, changes: Vec<Compared>) -> Self {
        Comparison {
            workload: sides.workload.clone(),
            measure: measure.name(),
            base: sides.base.clone(),
            new: sides.new.clone(),
            threshold,
            regressed: changes.iter().any(|c| c.verdict == Verdict::Slower),
            warnings: sides.warnings.clone(),
            changes,
        }
    }

    /// A wall-clock comparison ([`compare::compare`]'s changes).
    pub fn times(sides: &Sides, changes: &[Change], threshold: f64) -> Self {
        let rows = changes
            .iter()
            .map(|c| {
                let (metric, unit) = match c.measure {
                    compare::Measure::Throughput => ("throughput", "ops/s"),
                    compare::Measure::P50 => ("latency_p50", "ns"),
                    compare::Measure::P99 => ("latency_p99", "ns"),
                };
                Compared {
                    variant: c.variant.clone(),
                    threads: c.threads,
                    op: c.op.clone(),
                    metric,
                    unit,
                    base: c.base,
                    new: c.new,
                    change: Some(c.delta).filter(|d| d.is_finite()),
                    noise: c.noise,
                    verdict: c.verdict,
                }
            })
            .collect();
        Comparison::new(sides, Measure::WallClock, threshold, rows)
    }

    /// An instruction-count comparison ([`instructions::compare`]).
    pub fn counts(sides: &Sides, c: &CountComparison, threshold: f64) -> Self {
        let rows = c
            .changes
            .iter()
            .map(|c| Compared {
                variant: c.variant.clone(),
                threads: 1,
                op: c.op.clone(),
                metric: "instructions",
                unit: "instructions/op",
                base: c.base,
                new: c.new,
                change: Some(c.delta).filter(|d| d.is_finite()),
                noise: None,
                verdict: c.verdict,
            })
            .collect();
        Comparison::new(sides, Measure::Instructions, threshold, rows)
    }

    /// The comparison as indented JSON.
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).unwrap_or_default()
    }

    /// The changes grouped by variant and thread count (a "phase"), in first-seen order.
    pub fn phases(&self) -> Vec<((&str, usize), Vec<&Compared>)> {
        grouped(
            self.changes
                .iter()
                .map(|c| ((c.variant.as_str(), c.threads), c)),
        )
    }
}

/// The results as `--format json` prints them: the object for one workload, an array for
/// several.
pub fn results_json(results: &[Results], pretty: bool) -> String {
    let value = match results {
        [one] => serde_json::to_value(one),
        many => serde_json::to_value(many),
    }
    .unwrap_or_default();
    if pretty {
        serde_json::to_string_pretty(&value).unwrap_or_default()
    } else {
        serde_json::to_string(&value).unwrap_or_default()
    }
}

/// The verdict a group of changes adds up to: a regression anywhere wins, then an
/// improvement; no estimate only when nothing could be judged.
pub fn overall(changes: &[&Compared]) -> Verdict {
    let any = |v| changes.iter().any(|c| c.verdict == v);
    if any(Verdict::Slower) {
        Verdict::Slower
    } else if any(Verdict::Faster) {
        Verdict::Faster
    } else if changes.iter().all(|c| c.verdict == Verdict::Unsure) {
        Verdict::Unsure
    } else {
        Verdict::Same
    }
}

/// A value in its unit, for people: "1.20M ops/s", "3.4 µs", "12", "2345 instructions/op".
pub fn human_value(unit: &str, v: f64) -> String {
    match unit {
        "ops/s" => crate::format::human(crate::format::Unit::Rate, v),
        "ns" => crate::format::human_ns(v),
        "count" => format!("{v:.0}"),
        _ => format!("{} {unit}", crate::format::human_count(v)),
    }
}

/// A relative noise as a percentage ("3.1%"), "∞" when a side's interval is unbounded.
pub fn noise_text(n: f64) -> String {
    if n.is_finite() {
        format!("{:.1}%", n * 100.0)
    } else {
        "∞".into()
    }
}

/// Groups `rows` by key, keeping first-seen order.
pub(crate) fn grouped<K: PartialEq, T>(rows: impl IntoIterator<Item = (K, T)>) -> Vec<(K, Vec<T>)> {
    let mut out: Vec<(K, Vec<T>)> = Vec::new();
    for (k, t) in rows {
        match out.iter_mut().find(|(x, _)| *x == k) {
            Some((_, v)) => v.push(t),
            None => out.push((k, vec![t])),
        }
    }
    out
}
