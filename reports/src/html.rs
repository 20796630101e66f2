//! The HTML report: one self-contained file (inline SVG charts, inline CSS, no scripts, no
//! external URLs), rendered from an embedded tera template with autoescaping, so names
//! from results files are always shown as text. It opens with the verdict (who wins at each
//! thread count, by how much, beyond the noise or tied), then the summary, charts (one
//! colour per variant throughout), per-operation tables and the backends.

use std::collections::BTreeSet;

use serde::Serialize;

use crate::charts::{self, Palette};
use crate::estimate::of_op;
use crate::estimate::{self, interval_pct, with_interval, Stat};
use crate::format::{allocations, flamegraph_file, human, human_ns, threads_text, Unit};
use crate::results::{Results, VariantSummary};
use crate::verdict;

#[derive(Debug, thiserror::Error)]
#[error("rendering the report failed: {0}")]
pub struct HtmlError(pub(crate) String);

#[derive(Serialize)]
struct Chart {
    id: String,
    svg: String,
}

#[derive(Serialize)]
struct Swatch {
    variant: String,
    colour: String,
}

#[derive(Serialize)]
struct Row {
    variant: String,
    colour: String,
    threads: usize,
    count: u64,
    rate: String,
    interval: String,
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
struct Winner {
    op: String,
    threads: String,
    fastest: String,
    fastest_rate: String,
    lowest_p99: String,
    p99: String,
    /// How far ahead of the runner-up, and what differs between them ([`crate::winners`]).
    why: String,
}

#[derive(Serialize)]
struct Link {
    file: String,
    title: String,
}

#[derive(Serialize)]
struct BackendRow {
    variant: String,
    colour: String,
    store: String,
    durability: String,
    serialization: String,
    cache: String,
    flamegraphs: Vec<Link>,
}

#[derive(Serialize)]
struct TargetRow {
    name: String,
    variant: String,
    threads: String,
    metric: String,
    expect: String,
    actual_text: String,
    /// "pass", "fail" or "undecided" (the cell's class).
    status: &'static str,
    /// The word shown ("pass", "FAIL", "undecided").
    label: &'static str,
}

#[derive(Serialize)]
struct Delta {
    variant: String,
    threads: usize,
    op: String,
    base: String,
    new: String,
    change: String,
    /// The change's 95% interval.
    interval: String,
    verdict: &'static str,
    /// Why undecided, or what it was judged against.
    reason: String,
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
    let palette = Palette::of(results);
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
    let (rows, summary) = deltas(results, baseline);
    cx.insert("deltas", &rows);
    cx.insert("delta_summary", &summary);
    cx.insert("verdicts", &verdict::verdicts(results));
    cx.insert("method", &verdict::method(results));
    cx.insert("legend", &legend(&palette));
    cx.insert("flamegraphs", &flamegraph_links(results));
    cx.insert("workload", &results.workload);
    cx.insert("description", &results.description);
    cx.insert("partial", &results.partial);
    cx.insert("contended", &results.contended);
    let mut warnings = results.warnings.clone();
    warnings.extend(estimate::caveats(results));
    cx.insert("warnings", &warnings);
    cx.insert("not_judged", &crate::targets::not_judged(results));
    cx.insert("mode", &mode(results));
    cx.insert("started_at", &results.started_at);
    cx.insert("machine", &results.machine);
    cx.insert("targets", &targets(results));
    cx.insert("winners", &winners(results));
    cx.insert("charts", &charts(results, &palette));
    cx.insert("operations", &operations(results, &palette));
    cx.insert("backends", &backends(results, &palette));
    cx.insert("storage_columns", &crate::storage::COLUMNS);
    cx.insert("storage_rows", &crate::storage::rows(results));
    counted_sections(&mut cx, results, baseline, beside);
    tera.render("report.html", &cx)
        .map_err(|e| HtmlError(format!("{e:?}")))
}

/// "interleaved (4 variants resident at once)".
fn mode(r: &Results) -> String {
    match r.resident {
        Some(n) => format!(
            "{} ({n} variant{} resident in memory at once)",
            r.mode,
            if n == 1 { "" } else { "s" }
        ),
        None => r.mode.clone(),
    }
}

fn legend(palette: &Palette) -> Vec<Swatch> {
    palette
        .variants()
        .iter()
        .map(|v| Swatch {
            variant: v.clone(),
            colour: palette.style(v).hex(),
        })
        .collect()
}

/// Every chart the results have data for, in page order.
fn charts(results: &Results, palette: &Palette) -> Vec<Chart> {
    let mut list = Vec::new();
    let mut push = |id: String, svg: Option<String>| {
        if let Some(svg) = svg {
            list.push(Chart { id, svg });
        }
    };
    push(
        "throughput".into(),
        charts::throughput::throughput(results, palette),
    );
    push("paired".into(), charts::forest::paired(results, palette));
    push("sweep".into(), charts::sweep::sweep(results, palette));
    for (op, svg) in charts::operations::per_operation(results, palette) {
        push(format!("ops-{op}"), Some(svg));
    }
    for (op, svg) in charts::latency::latency(results, palette) {
        push(format!("latency-{op}"), Some(svg));
    }
    push(
        "intervals".into(),
        charts::intervals::intervals(results, palette),
    );
    push(
        "memory".into(),
        charts::memory::bytes_per_item(results, palette),
    );
    for (key, svg) in charts::storage::storage(results, palette) {
        push(format!("storage-{key}"), Some(svg));
    }
    for (key, svg) in charts::metrics::metrics(results, palette) {
        push(key.replace('_', "-"), Some(svg));
    }
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

/// The fastest variant of each operation at each thread count ("tied" when the intervals
/// over repeats overlap), and the lowest p99.
fn winners(results: &Results) -> Vec<Winner> {
    let ops: BTreeSet<&String> = results
        .summaries
        .iter()
        .flat_map(|s| s.per_op.keys())
        .collect();
    let mut out = Vec::new();
    for op in ops {
        for threads in verdict::thread_counts(results) {
            let present: Vec<(&VariantSummary, &crate::results::OpResult)> = results
                .summaries
                .iter()
                .filter(|s| s.threads == threads)
                .filter_map(|s| s.per_op.get(op).map(|o| (s, o)))
                .collect();
            let Some(lowest) = present
                .iter()
                .filter(|(s, _)| results.ranked(&s.variant, threads))
                .min_by_key(|(_, o)| o.p99_ns)
            else {
                continue;
            };
            if let Some(w) = paired_winner(results, threads, op, &present) {
                out.push(Winner {
                    op: op.clone(),
                    threads: threads_text(threads),
                    lowest_p99: lowest.0.variant.clone(),
                    p99: human_ns(lowest.1.p99_ns as f64),
                    ..w
                });
                continue;
            }
            let mut rates: Vec<verdict::Contender> = present
                .iter()
                .filter(|(s, _)| results.ranked(&s.variant, threads))
                .map(|(s, o)| {
                    let e = of_op(results, s, op, o, Stat::Throughput);
                    verdict::Contender {
                        variant: s.variant.clone(),
                        median: e.median,
                        ci: e.interval(),
                        repeats: crate::stats::repeats(results, s),
                    }
                })
                .collect();
            rates.sort_by(|a, b| b.median.total_cmp(&a.median));
            let lead = &rates[0];
            let entry = |v: &str| present.iter().find(|(s, _)| s.variant == v).copied();
            let tied: Vec<&str> = rates
                .iter()
                .filter(|c| c.repeats > 1 && c.ci[0] <= lead.ci[1] && lead.ci[0] <= c.ci[1])
                .map(|c| c.variant.as_str())
                .collect();
            let runner_up = rates.get(1).and_then(|r| entry(&r.variant));
            let why = match (entry(&lead.variant), runner_up) {
                _ if tied.len() > 1 => "their 95% intervals overlap".to_owned(),
                (Some(w), Some(r)) => crate::winners::why(w, r),
                _ => String::new(),
            };
            out.push(Winner {
                op: op.clone(),
                threads: threads_text(threads),
                fastest: if tied.len() > 1 {
                    format!("tied: {}", verdict::and_list(&tied))
                } else {
                    lead.variant.clone()
                },
                fastest_rate: human(Unit::Rate, lead.median),
                lowest_p99: lowest.0.variant.clone(),
                p99: human_ns(lowest.1.p99_ns as f64),
                why,
            });
        }
    }
    out
}

/// The fastest variant of `op` at `threads` by the run's paired rounds, when it took them
/// (with two or more variants of `op`): ties are variants whose ratio to the leader has an
/// interval reaching 1. The caller fills in the lowest p99.
fn paired_winner(
    results: &Results,
    threads: usize,
    op: &str,
    present: &[crate::winners::Entry<'_>],
) -> Option<Winner> {
    let entry = |v: &str| present.iter().find(|(s, _)| s.variant == v).copied();
    let ranked = results
        .paired
        .iter()
        .find(|p| p.threads == threads)?
        .ranking(Some(op), |v| results.ranked(v, threads));
    let (lead, rest) = ranked.split_first()?;
    let next = rest.first()?;
    let tied: Vec<&str> = std::iter::once(lead)
        .chain(rest.iter().filter(|v| verdict::tied_with_lead(v)))
        .map(|v| v.variant.as_str())
        .collect();
    let (w, r) = (entry(&lead.variant)?, entry(&next.variant)?);
    Some(Winner {
        op: op.to_owned(),
        threads: String::new(),
        fastest: if tied.len() > 1 {
            format!("tied: {}", verdict::and_list(&tied))
        } else {
            lead.variant.clone()
        },
        fastest_rate: human(Unit::Rate, w.1.throughput),
        why: match next.behind {
            Some(ratio) if tied.len() == 1 => crate::winners::why_paired(w, r, &ratio),
            Some(ratio) => format!(
                "paired: {}/{} {}, an interval reaching 1",
                lead.variant,
                next.variant,
                ratio.text()
            ),
            None => "too few paired rounds to say".into(),
        },
        lowest_p99: String::new(),
        p99: String::new(),
    })
}

/// One table per operation: a row per variant and thread count, the fastest marked.
fn operations(results: &Results, palette: &Palette) -> Vec<Operation> {
    let ordered = charts::throughput::ordered(results, palette);
    let ops: BTreeSet<&String> = ordered.iter().flat_map(|s| s.per_op.keys()).collect();
    ops.into_iter()
        .map(|op| {
            let present: Vec<_> = ordered
                .iter()
                .filter_map(|s| s.per_op.get(op).map(|o| (*s, o)))
                .collect();
            // The fastest store at each thread count (fixtures are not ranked against
            // stores).
            let ranked = |s: &VariantSummary| results.ranked(&s.variant, s.threads);
            let best = |s: &VariantSummary, rate: f64| {
                ranked(s)
                    && !present
                        .iter()
                        .any(|(x, o)| ranked(x) && x.threads == s.threads && o.throughput > rate)
            };
            let rows = present
                .iter()
                .map(|(s, o)| {
                    let est = |stat| of_op(results, s, op, o, stat);
                    let rate = est(Stat::Throughput);
                    let latency = |stat| with_interval(Unit::Time, &est(stat));
                    Row {
                        variant: s.variant.clone(),
                        colour: palette.style(&s.variant).hex(),
                        threads: s.threads,
                        count: o.count,
                        rate: human(Unit::Rate, rate.median),
                        interval: interval_pct(&rate),
                        p50: latency(Stat::P50),
                        p90: latency(Stat::P90),
                        p99: latency(Stat::P99),
                        p999: latency(Stat::P999),
                        max: human_ns(o.max_ns as f64),
                        mean: human_ns(o.mean_ns),
                        errors: o.errors,
                        allocs: allocations(o.allocations_per_op()),
                        best: best(s, o.throughput),
                    }
                })
                .collect();
            Operation {
                name: op.clone(),
                rows,
            }
        })
        .collect()
}

/// Flamegraphs, titled "workload: variant, N threads" when the file is a variant's.
fn flamegraph_links(r: &Results) -> Vec<Link> {
    r.flamegraphs
        .iter()
        .map(|file| {
            let of = r
                .summaries
                .iter()
                .find(|s| flamegraph_file(&s.variant, s.threads) == *file);
            Link {
                file: file.clone(),
                title: of.map_or_else(
                    || file.clone(),
                    |s| format!("{}: {}, {}", r.workload, s.variant, threads_text(s.threads)),
                ),
            }
        })
        .collect()
}

/// What each variant is, once per variant, with its flamegraphs.
fn backends(results: &Results, palette: &Palette) -> Vec<BackendRow> {
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
            let flamegraphs = results
                .summaries
                .iter()
                .filter(|x| x.variant == *variant)
                .map(|x| (x.threads, flamegraph_file(&x.variant, x.threads)))
                .filter(|(_, f)| results.flamegraphs.contains(f))
                .map(|(t, file)| Link {
                    file,
                    title: threads_text(t),
                })
                .collect();
            BackendRow {
                variant: variant.clone(),
                colour: palette.style(variant).hex(),
                store: get("store"),
                durability: get("durability"),
                serialization: get("serialization"),
                cache: get("cache"),
                flamegraphs,
            }
        })
        .collect()
}

/// Targets, with the thread count each was judged at.
fn targets(r: &Results) -> Vec<TargetRow> {
    r.targets
        .iter()
        .map(|t| {
            let status = t.status();
            TargetRow {
                name: t.name.clone(),
                variant: t.variant.clone(),
                threads: t.threads.map_or_else(|| "—".into(), threads_text),
                metric: t.metric.clone(),
                expect: t.expect.clone(),
                actual_text: t.actual_text.clone(),
                status: match status {
                    crate::TargetStatus::Pass => "pass",
                    crate::TargetStatus::Fail => "fail",
                    crate::TargetStatus::Undecided => "undecided",
                },
                label: status.label(),
            }
        })
        .collect()
}

/// The comparison with the baseline, when there is one (at 5%, against the default
/// reference), and its summary line.
fn deltas(results: &Results, baseline: Option<&Results>) -> (Vec<Delta>, String) {
    use crate::compare::{self, Reference};
    let Some(c) = baseline.and_then(|b| compare::compare(b, results, 0.05, &Reference::Auto).ok())
    else {
        return (Vec::new(), String::new());
    };
    let rows = c
        .changes
        .iter()
        .map(|ch| Delta {
            op: ch.label(),
            variant: ch.variant.clone(),
            threads: ch.threads,
            base: with_interval(ch.unit(), &ch.base),
            new: with_interval(ch.unit(), &ch.new),
            change: ch
                .delta
                .filter(|d| d.is_finite())
                .map_or_else(|| "?".into(), |d| format!("{:+.1}%", d * 100.0)),
            interval: compare::interval_text(ch.interval),
            verdict: crate::format::verdict_label(ch.verdict),
            reason: ch.reason.clone(),
        })
        .collect();
    (rows, c.summary())
}
