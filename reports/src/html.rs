//! The HTML report: one self-contained file (inline SVG charts, inline CSS, no external
//! URLs), rendered from an embedded tera template with autoescaping, so names from results
//! files are always shown as text.

use std::collections::BTreeSet;

use serde::Serialize;

use crate::charts;
use crate::format::{human, human_ns, variant_threads, Unit};
use crate::results::Results;

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
    best: bool,
}

#[derive(Serialize)]
struct Operation {
    name: String,
    rows: Vec<Row>,
}

#[derive(Serialize)]
struct Winner {
    op: String,
    fastest: String,
    fastest_rate: String,
    lowest_p99: String,
    p99: String,
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
    render_beside(results, baseline, None)
}

/// Renders `results`, with a comparison against `baseline` and the same workload in the
/// other measure (`beside`: wall-clock beside instruction counts or the reverse) side by
/// side, when given.
pub fn render_beside(
    results: &Results,
    baseline: Option<&Results>,
    beside: Option<&Results>,
) -> Result<String, HtmlError> {
    let mut tera = tera::Tera::default();
    tera.add_raw_templates([
        (
            "instructions.html",
            include_str!("../templates/instructions.html.tera"),
        ),
        ("report.html", include_str!("../templates/report.html.tera")),
    ])
    .map_err(|e| HtmlError(e.to_string()))?;
    let (operations, winners) = operations(results);
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
    cx.insert("winners", &winners);
    cx.insert("charts", &charts(results));
    cx.insert("operations", &operations);
    cx.insert("backends", &backends(results));
    counted_sections(&mut cx, results, baseline, beside);
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

/// The instruction-count sections: the counted run's tables and charts, its comparison
/// with a baseline, and both views side by side when `beside` holds the other measure.
fn counted_sections(
    cx: &mut tera::Context,
    results: &Results,
    baseline: Option<&Results>,
    beside: Option<&Results>,
) {
    use crate::instructions as ins;
    cx.insert("measure", results.measure.name());
    cx.insert("counted", &ins::counted(results));
    cx.insert("count_rows", &ins::rows(results));
    cx.insert("count_deltas", &ins::deltas(results, baseline));
    let views = beside.map(|b| ins::views(results, b)).unwrap_or_default();
    let mut charts = Vec::new();
    for (id, svg) in [
        ("instructions", charts::instructions::instructions(results)),
        (
            "estimated-cycles",
            charts::instructions::estimated_cycles(results),
        ),
        ("views", charts::instructions::views(&views)),
    ] {
        if let Some(svg) = svg {
            charts.push(Chart { id: id.into(), svg });
        }
    }
    cx.insert("count_charts", &charts);
    cx.insert("views", &views);
    cx.insert(
        "beside",
        &beside.map(|b| format!("{} results of {}", b.measure.name(), b.started_at)),
    );
}

/// One table per operation, and the winner of each.
fn operations(results: &Results) -> (Vec<Operation>, Vec<Winner>) {
    let ops: BTreeSet<&String> = results
        .summaries
        .iter()
        .flat_map(|s| s.per_op.keys())
        .collect();
    let mut operations = Vec::new();
    let mut winners = Vec::new();
    for op in ops {
        let present: Vec<_> = results
            .summaries
            .iter()
            .filter_map(|s| s.per_op.get(op).map(|o| (s, o)))
            .collect();
        let fastest = present
            .iter()
            .max_by(|a, b| a.1.throughput.total_cmp(&b.1.throughput));
        let lowest = present.iter().min_by_key(|(_, o)| o.p99_ns);
        if let (Some(f), Some(l)) = (fastest, lowest) {
            winners.push(Winner {
                op: op.clone(),
                fastest: variant_threads(&f.0.variant, f.0.threads),
                fastest_rate: human(Unit::Rate, f.1.throughput),
                lowest_p99: variant_threads(&l.0.variant, l.0.threads),
                p99: human_ns(l.1.p99_ns as f64),
            });
        }
        let best = fastest.map(|f| (f.0.variant.as_str(), f.0.threads));
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
                best: best == Some((s.variant.as_str(), s.threads)),
            })
            .collect();
        operations.push(Operation {
            name: op.clone(),
            rows,
        });
    }
    (operations, winners)
}

/// What each variant is, once per variant.
fn backends(results: &Results) -> Vec<BackendRow> {
    let mut seen = BTreeSet::new();
    let counted = crate::instructions::counted(results).map(|r| &r.variants);
    results
        .summaries
        .iter()
        .map(|s| (&s.variant, &s.info))
        .chain(counted.into_iter().flatten().map(|s| (&s.variant, &s.info)))
        .filter(|(v, _)| seen.insert((*v).clone()))
        .map(|(variant, info)| {
            let get = |k: &str| info.get(k).cloned().unwrap_or_default();
            BackendRow {
                variant: variant.clone(),
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
