//! Markdown for a pull-request comment or GitHub's job summary: per workload, one compact
//! table (a row per variant and thread count, or per operation for instruction counts and
//! comparisons) and the verdicts under it.

use std::fmt::Write as _;

use super::{grouped, human_value, measurements, overall, Compared, Comparison, Measured, ALL_OPS};
use crate::counts::Measure;
use crate::format::{self, human_count, Verdict};
use crate::results::Results;
use crate::results::TargetStatus;

/// A table cell: pipes escaped, on one line.
fn cell(s: &str) -> String {
    s.replace('|', "\\|").replace(['\n', '\r'], " ")
}

/// A value in its unit, for people (the unit of counts is in the column's name).
fn value(unit: &str, v: f64) -> String {
    match unit {
        "ops/s" | "ns" => human_value(unit, v),
        _ => human_count(v),
    }
}

/// The half-width of an interval as a percentage of the value, or why there is none.
fn interval(m: &Measured) -> String {
    match (m.lower, m.upper) {
        (Some(lo), Some(hi)) if m.value > 0.0 && lo.is_finite() && hi.is_finite() => {
            format!("±{:.1}%", 50.0 * (hi - lo) / m.value)
        }
        _ => "n/a (1 repeat)".into(),
    }
}

fn row(out: &mut String, cells: &[String]) {
    let cells: Vec<String> = cells.iter().map(|c| cell(c)).collect();
    let _ = writeln!(out, "| {} |", cells.join(" | "));
}

/// The header row and its alignment row (first `left` columns left-aligned, the rest right).
fn header(out: &mut String, names: &[&str], left: usize) {
    let _ = writeln!(out, "| {} |", names.join(" | "));
    let align: Vec<&str> = (0..names.len())
        .map(|i| if i < left { "---" } else { "--:" })
        .collect();
    let _ = writeln!(out, "|{}|", align.join("|"));
}

/// `lab run`'s results: a section per workload.
pub fn run(results: &[Results]) -> String {
    let mut out = String::new();
    for r in results {
        workload(&mut out, r);
    }
    out
}

fn workload(out: &mut String, r: &Results) {
    let _ = writeln!(
        out,
        "### {}{}\n",
        cell(&r.workload),
        if r.partial {
            " (PARTIAL: interrupted)"
        } else {
            ""
        }
    );
    if !r.description.is_empty() {
        let _ = writeln!(out, "{}\n", cell(&r.description));
    }
    let _ = writeln!(
        out,
        "{} · mode {} · {} ({} cores) · rev `{}`\n",
        r.measure.name(),
        r.mode,
        cell(&r.machine.cpu),
        r.machine.cores,
        r.machine.git_revision
    );
    let m = measurements(r);
    match r.measure {
        Measure::WallClock => wall_clock_table(out, &m),
        Measure::Instructions => counted_table(out, &m),
    }
    let verdicts = crate::verdict::verdicts(r);
    if !verdicts.is_empty() {
        let _ = writeln!(out, "\n**Verdict** (×N = N threads):\n");
        for v in verdicts {
            let _ = writeln!(out, "- {}", cell(&v));
        }
    }
    if let Some(why) = crate::targets::not_judged(r) {
        let _ = writeln!(out, "\nTargets: {why}.");
    } else if !r.targets.is_empty() {
        let _ = writeln!(out, "\n**Targets:**\n");
        for t in &r.targets {
            let at = t.threads.map_or(String::new(), |n| {
                format!(" at {}", format::threads_text(n))
            });
            let status = match t.status() {
                TargetStatus::Fail => format!("**{}**", TargetStatus::Fail.label()),
                other => other.label().to_owned(),
            };
            let _ = writeln!(
                out,
                "- {status} {}: {}{at} {} {} — got {}",
                cell(&t.name),
                cell(&t.variant),
                cell(&t.metric),
                cell(&t.expect),
                cell(&t.actual_text)
            );
        }
    }
    out.push('\n');
}

/// A row per variant and thread count: the whole mix's throughput, interval, p50, p99 and
/// the errors of all operations.
fn wall_clock_table(out: &mut String, m: &[Measured]) {
    header(
        out,
        &[
            "variant",
            "threads",
            "throughput",
            "95% interval",
            "p50",
            "p99",
            "errors",
        ],
        1,
    );
    for ((variant, threads), rows) in grouped(m.iter().map(|x| ((&x.variant, x.threads), x))) {
        let find = |metric: &str| rows.iter().find(|x| x.op == ALL_OPS && x.metric == metric);
        let errors: f64 = rows
            .iter()
            .filter(|x| x.metric == "errors")
            .map(|x| x.value)
            .sum();
        let shown = |metric: &str| find(metric).map_or("-".into(), |x| value(x.unit, x.value));
        row(
            out,
            &[
                variant.clone(),
                threads.to_string(),
                shown("throughput"),
                find("throughput").map_or("-".into(), |x| interval(x)),
                shown("latency_p50"),
                shown("latency_p99"),
                format!("{errors:.0}"),
            ],
        );
    }
}

/// A row per variant and operation: instructions and estimated cycles per operation.
fn counted_table(out: &mut String, m: &[Measured]) {
    header(
        out,
        &["variant", "op", "instructions/op", "est. cycles/op"],
        2,
    );
    for ((variant, op), rows) in grouped(m.iter().map(|x| ((&x.variant, &x.op), x))) {
        let shown = |metric: &str| {
            rows.iter()
                .find(|x| x.metric == metric)
                .map_or("-".into(), |x| value(x.unit, x.value))
        };
        row(
            out,
            &[
                variant.clone(),
                op.clone(),
                shown("instructions"),
                shown("estimated_cycles"),
            ],
        );
    }
}

/// The word for a verdict in a table; a regression stands out.
fn verdict_word(v: Verdict, measure: &str) -> String {
    match v {
        Verdict::Slower => "**REGRESSION**".into(),
        Verdict::Faster if measure == "instructions" => "fewer instructions".into(),
        v => format::verdict_label(v).into(),
    }
}

/// "1.20M → 1.00M ops/s (−16.67% [−18.20%, −15.10%])"; "?" for a change that could not
/// be computed.
fn change_cell(c: &Compared) -> String {
    let change = c.change.map_or_else(|| "?".into(), format::change_percent);
    let interval = super::interval_text(c);
    let interval = if interval.is_empty() {
        interval
    } else {
        format!(" {interval}")
    };
    format!(
        "{} → {} ({change}{interval})",
        value(c.unit, c.base),
        value(c.unit, c.new)
    )
}

/// The column a metric goes in.
fn column(metric: &str) -> &str {
    match metric {
        "latency_p50" => "p50",
        "latency_p99" => "p99",
        "instructions" => "instructions/op",
        m => m,
    }
}

/// `lab compare`'s outcome: a line saying whether anything regressed, the warnings, then a
/// row per variant, thread count and operation with a column per metric.
pub fn compare(c: &Comparison) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "### Comparison: {} ({})\n",
        cell(&c.workload),
        c.measure
    );
    let count = |v: Verdict| c.changes.iter().filter(|x| x.verdict == v).count() as u64;
    let headline = if c.regressed {
        format!(
            "**{}**",
            format::count(count(Verdict::Slower), "regression")
        )
    } else {
        "No regression".to_owned()
    };
    let against = c
        .reference
        .as_ref()
        .map_or(String::new(), |r| format!(", judged against `{}`", cell(r)));
    let _ = writeln!(
        out,
        "`{}` → `{}`, threshold {}{against}: {headline}.\n\n{}\n",
        cell(&c.base),
        cell(&c.new),
        format::percent(c.threshold),
        cell(&c.summary),
    );
    for w in &c.warnings {
        let _ = writeln!(out, "> **Warning:** {}\n", cell(w));
    }
    let mut metrics: Vec<&str> = Vec::new();
    for x in &c.changes {
        if !metrics.contains(&x.metric) {
            metrics.push(x.metric);
        }
    }
    let mut names = vec!["variant", "threads", "op"];
    names.extend(metrics.iter().map(|m| column(m)));
    names.push("verdict");
    header(&mut out, &names, 3);
    let rows = grouped(
        c.changes
            .iter()
            .map(|x| ((x.variant.as_str(), x.threads, x.op.as_str()), x)),
    );
    for ((variant, threads, op), xs) in rows {
        let mut cells = vec![variant.to_owned(), threads.to_string(), op.to_owned()];
        cells.extend(metrics.iter().map(|m| {
            xs.iter()
                .find(|x| x.metric == *m)
                .map_or(String::new(), |x| change_cell(x))
        }));
        cells.push(verdict_word(overall(&xs), c.measure));
        row(&mut out, &cells);
    }
    out.push('\n');
    out
}
