//! The HTML report: one self-contained file (inline SVG charts, inline CSS, no external
//! URLs), rendered from an embedded tera template with autoescaping, so names from results
//! files are always shown as text.

use std::collections::BTreeSet;

use serde::Serialize;

use crate::charts;
use crate::format::{allocations, human, human_ns, Unit};
use crate::results::Results;
use crate::winners::winners;

#[derive(Debug, thiserror::Error)]
#[error("rendering the report failed: {0}")]
pub struct HtmlError(String);

#[derive(Serialize)]
struct Chart {
    id: String,
    svg: String,
}

#[derive(Serialize)]
struct Row {
    variant: String,
    threads: usize,
    count: u64,
    rate: String,
    p50: String,
    p90: String,
    p99: String,
    p999: String,
    max: String,
    mean: String,
    errors: u64,
    /// Allocations per operation ("n/a" when not counted).
    allocs: String,
    best: bool,
}

#[derive(Serialize)]
struct Operation {
    name: String,
    rows: Vec<Row>,
}

#[derive(Serialize)]
struct BackendRow {
    variant: String,
    store: String,
    durability: String,
    serialization: String,
    cache: String,
}

#[derive(Serialize)]
struct Delta {
    variant: String,
    threads: usize,
    op: String,
    base: String,
    new: String,
    change: String,
    noise: String,
    verdict: &'static str,
}

/// Renders `results` to one HTML document.
pub fn render(results: &Results) -> Result<String, HtmlError> {
    render_with(results, None)
}

/// Renders `results`, with a comparison section against `baseline` when given.
pub fn render_with(results: &Results, baseline: Option<&Results>) -> Result<String, HtmlError> {
    let mut tera = tera::Tera::default();
    tera.add_raw_template("report.html", include_str!("../templates/report.html.tera"))
        .map_err(|e| HtmlError(e.to_string()))?;
    let operations = operations(results);
    let mut cx = tera::Context::new();
    cx.insert(
        "baseline",
        &baseline.map(|b| {
            format!(
                "{} ({}, rev {})",
                b.workload, b.started_at, b.machine.git_revision
            )
        }),
    );
    cx.insert("deltas", &deltas(results, baseline));
    cx.insert("flamegraphs", &results.flamegraphs);
    cx.insert("workload", &results.workload);
    cx.insert("description", &results.description);
    cx.insert("partial", &results.partial);
    cx.insert("contended", &results.contended);
    cx.insert("mode", &results.mode);
    cx.insert("started_at", &results.started_at);
    cx.insert("machine", &results.machine);
    cx.insert("targets", &results.targets);
    cx.insert("winners", &winners(results));
    cx.insert("charts", &charts(results));
    cx.insert("operations", &operations);
    cx.insert("backends", &backends(results));
    tera.render("report.html", &cx)
        .map_err(|e| HtmlError(format!("{e:?}")))
}

/// Every chart the results have data for, in page order.
fn charts(results: &Results) -> Vec<Chart> {
    let mut list = Vec::new();
    let mut push = |id: &str, svg: Option<String>| {
        if let Some(svg) = svg {
            list.push(Chart {
                id: id.to_owned(),
                svg,
            });
        }
    };
    push("throughput", charts::throughput::throughput(results));
    for (op, svg) in charts::latency::latency(results) {
        push(&format!("latency-{op}"), Some(svg));
    }
    push("intervals", charts::intervals::intervals(results));
    push("memory", charts::memory::bytes_per_item(results));
    push("cache-hit-ratio", charts::cache::cache_hit_ratio(results));
    list
}

/// One table per operation; the fastest row at each thread count is marked.
fn operations(results: &Results) -> Vec<Operation> {
    let ops: BTreeSet<&String> = results
        .summaries
        .iter()
        .flat_map(|s| s.per_op.keys())
        .collect();
    let mut operations = Vec::new();
    for op in ops {
        let present: Vec<_> = results
            .summaries
            .iter()
            .filter_map(|s| s.per_op.get(op).map(|o| (s, o)))
            .collect();
        let best = |threads: usize| {
            present
                .iter()
                .filter(|(s, _)| s.threads == threads)
                .max_by(|a, b| a.1.throughput.total_cmp(&b.1.throughput))
                .map(|(s, _)| s.variant.as_str())
        };
        let rows = present
            .iter()
            .map(|(s, o)| Row {
                variant: s.variant.clone(),
                threads: s.threads,
                count: o.count,
                rate: human(Unit::Rate, o.throughput),
                p50: human_ns(o.p50_ns as f64),
                p90: human_ns(o.p90_ns as f64),
                p99: human_ns(o.p99_ns as f64),
                p999: human_ns(o.p999_ns as f64),
                max: human_ns(o.max_ns as f64),
                mean: human_ns(o.mean_ns),
                errors: o.errors,
                allocs: allocations(o.allocations_per_op()),
                best: best(s.threads) == Some(s.variant.as_str()),
            })
            .collect();
        operations.push(Operation {
            name: op.clone(),
            rows,
        });
    }
    operations
}

/// What each variant is, once per variant.
fn backends(results: &Results) -> Vec<BackendRow> {
    let mut seen = BTreeSet::new();
    results
        .summaries
        .iter()
        .filter(|s| seen.insert(s.variant.clone()))
        .map(|s| {
            let get = |k: &str| s.info.get(k).cloned().unwrap_or_default();
            BackendRow {
                variant: s.variant.clone(),
                store: get("store"),
                durability: get("durability"),
                serialization: get("serialization"),
                cache: get("cache"),
            }
        })
        .collect()
}

/// The comparison with the baseline, when there is one.
fn deltas(results: &Results, baseline: Option<&Results>) -> Vec<Delta> {
    baseline
        .map(|b| crate::compare::compare(b, results, 0.05))
        .unwrap_or_default()
        .into_iter()
        .map(|c| Delta {
            op: c.label(),
            variant: c.variant.clone(),
            threads: c.threads,
            base: human(c.unit(), c.base),
            new: human(c.unit(), c.new),
            change: format!("{:+.1}%", c.delta * 100.0),
            noise: c
                .noise
                .map_or_else(|| "?".to_owned(), |n| format!("±{:.1}%", n * 100.0)),
            verdict: crate::format::verdict_label(c.verdict),
        })
        .collect()
}
