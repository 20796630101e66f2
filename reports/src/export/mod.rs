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
use crate::estimate::Stat;
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
            // The one statistic's interval (median over blocks), as the table shows it.
            let e = crate::estimate::of_op(r, s, op, o, Stat::Throughput);
            let ci = if e.repeats >= 2 && e.has_interval() {
                (Some(e.lo), Some(e.hi))
            } else {
                (None, None)
            };
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
    /// The variant each wall-clock change was judged against (its ratio to it in the same
    /// repeat), when both files ran one; null for raw values and instruction counts.
    pub reference: Option<String>,
    /// What differs between the files beyond the code (machine, settings).
    pub warnings: Vec<String>,
    pub changes: Vec<Compared>,
    /// The one summary line: "summary: regressions 1, improvements 0, undecided 3, no
    /// difference 20".
    pub summary: String,
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
    /// Each side's value (wall-clock: the one statistic, the median over blocks).
    pub base: f64,
    pub new: f64,
    /// The judged change, new / base − 1 (wall-clock, against a reference: of the ratio to
    /// it); null when it could not be computed.
    pub change: Option<f64>,
    /// The change's interval (`lower`, `upper`, as changes); null without one (undecided
    /// for lack of data, and always for instruction counts, which have no noise).
    pub lower: Option<f64>,
    pub upper: Option<f64>,
    #[serde(serialize_with = "verdict_key")]
    pub verdict: Verdict,
    /// Why the row is undecided, or what it was judged against; empty when nothing to say.
    pub reason: String,
}

/// The verdict as the JSON and CSV spell it: `compare`'s four verdicts.
pub fn verdict_name(v: Verdict) -> &'static str {
    match v {
        Verdict::Same => "no-difference",
        Verdict::Faster => "improvement",
        Verdict::Slower => "regression",
        Verdict::Unsure => "undecided",
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
    fn new(
        sides: &Sides,
        measure: Measure,
        threshold: f64,
        reference: Option<String>,
        changes: Vec<Compared>,
    ) -> Self {
        let count = |v| changes.iter().filter(|c| c.verdict == v).count();
        let summary = format!(
            "summary: regressions {}, improvements {}, undecided {}, no difference {}",
            count(Verdict::Slower),
            count(Verdict::Faster),
            count(Verdict::Unsure),
            count(Verdict::Same)
        );
        Comparison {
            workload: sides.workload.clone(),
            measure: measure.name(),
            base: sides.base.clone(),
            new: sides.new.clone(),
            threshold,
            regressed: changes.iter().any(|c| c.verdict == Verdict::Slower),
            reference,
            warnings: sides.warnings.clone(),
            changes,
            summary,
        }
    }

    /// A wall-clock comparison ([`compare::compare`]'s rows, verdicts and reference).
    pub fn times(sides: &Sides, c: &compare::Comparison) -> Self {
        let rows = c
            .changes
            .iter()
            .map(|ch: &Change| {
                let (metric, unit) = match ch.stat {
                    Stat::Throughput => ("throughput", "ops/s"),
                    Stat::P50 => ("latency_p50", "ns"),
                    Stat::P90 => ("latency_p90", "ns"),
                    Stat::P99 => ("latency_p99", "ns"),
                    Stat::P999 => ("latency_p999", "ns"),
                };
                let [lower, upper] = ch
                    .interval
                    .filter(|[lo, hi]| lo.is_finite() && hi.is_finite())
                    .map_or([None, None], |[lo, hi]| [Some(lo), Some(hi)]);
                Compared {
                    variant: ch.variant.clone(),
                    threads: ch.threads,
                    op: ch.op.clone(),
                    metric,
                    unit,
                    base: ch.base.median,
                    new: ch.new.median,
                    change: ch.delta.filter(|d| d.is_finite()),
                    lower,
                    upper,
                    verdict: ch.verdict,
                    reason: ch.reason.clone(),
                }
            })
            .collect();
        Comparison::new(
            sides,
            Measure::WallClock,
            c.threshold,
            c.reference.clone(),
            rows,
        )
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
                lower: None,
                upper: None,
                verdict: c.verdict,
                reason: String::new(),
            })
            .collect();
        Comparison::new(sides, Measure::Instructions, threshold, None, rows)
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

/// A change's interval for people ("[-67.5%, -65.8%]"), empty without one.
pub fn interval_text(c: &Compared) -> String {
    match (c.lower, c.upper) {
        (Some(lo), Some(hi)) => format!(
            "[{}, {}]",
            crate::format::change_percent(lo),
            crate::format::change_percent(hi)
        ),
        _ => String::new(),
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
