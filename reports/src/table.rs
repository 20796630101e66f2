//! The terminal table: one block per variant and thread count, one line per operation,
//! then the target verdicts.

use std::fmt::Write as _;

use crate::estimate::{self, of_mix, of_op, Stat};
use crate::estimate::{interval_pct, with_pct};
use crate::format::{allocations, human, percent, threads_text, Unit};
use crate::results::Results;

fn pad(out: &mut String, cells: &[String], widths: &[usize]) {
    for (i, (c, w)) in cells.iter().zip(widths).enumerate() {
        if i + 1 == cells.len() {
            let _ = write!(out, "{c}");
        } else if i < 2 {
            let _ = write!(out, "{c:<w$}  ");
        } else {
            let _ = write!(out, "{c:>w$}  ");
        }
    }
    out.push('\n');
}

/// Renders the comparison table for `r`.
pub fn render(r: &Results) -> String {
    if r.measure == crate::Measure::Instructions {
        return crate::instructions::render_table(r);
    }
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{} — {}{}\nmode {}{}{}, machine: {} ({} cores), rev {}",
        r.workload,
        r.description,
        if r.partial {
            " [PARTIAL: interrupted]"
        } else {
            ""
        },
        r.mode,
        r.resident.map_or(String::new(), |n| format!(
            " ({n} variant{} resident at once)",
            if n == 1 { "" } else { "s" }
        )),
        if r.contended {
            " (contended: fewer cores than variants x threads)"
        } else {
            ""
        },
        r.machine.cpu,
        r.machine.cores,
        r.machine.git_revision,
    );
    for c in estimate::caveats(r) {
        let _ = writeln!(out, "warning: {c}");
    }
    let rows = rows(r);
    let widths: Vec<usize> = (0..rows[0].len())
        .map(|i| rows.iter().map(|r| r[i].chars().count()).max().unwrap_or(0))
        .collect();
    for row in &rows {
        pad(&mut out, row, &widths);
    }
    storage(&mut out, r);
    backends(&mut out, r);
    let verdicts = crate::verdict::verdicts(r);
    if !verdicts.is_empty() {
        let _ = writeln!(
            out,
            "verdict (×N = N threads):\n  {}",
            verdicts.join("\n  ")
        );
    }
    targets(&mut out, r);
    out
}

const HEADER: [&str; 13] = [
    "variant",
    "thr",
    "throughput",
    "±95%",
    "op",
    "ops/s ±95%",
    "p50 ±95%",
    "p99 ±95%",
    "p99.9 ±95%",
    "max",
    "errors",
    "alloc/op",
    "bytes/item",
];

/// The header, then one row per variant, thread count and operation.
fn rows(r: &Results) -> Vec<Vec<String>> {
    let mut rows = vec![HEADER.map(str::to_owned).to_vec()];
    for s in &r.summaries {
        let mix = of_mix(r, s);
        for (i, (op, o)) in s.per_op.iter().enumerate() {
            let first = i == 0;
            let mut row = if first {
                vec![
                    s.variant.clone(),
                    s.threads.to_string(),
                    human(Unit::Rate, mix.median),
                    interval_pct(&mix),
                ]
            } else {
                vec![String::new(); 4]
            };
            let cell = |stat: Stat, unit: Unit| with_pct(unit, &of_op(r, s, op, o, stat));
            row.extend([
                op.clone(),
                cell(Stat::Throughput, Unit::Rate),
                cell(Stat::P50, Unit::Time),
                cell(Stat::P99, Unit::Time),
                cell(Stat::P999, Unit::Time),
                human(Unit::Time, o.max_ns as f64),
                o.errors.to_string(),
                allocations(o.allocations_per_op()),
                if first {
                    s.bytes_per_item
                        .map_or_else(|| "-".into(), |b| format!("{b:.0}"))
                } else {
                    String::new()
                },
            ]);
            rows.push(row);
        }
    }
    rows
}

/// What writes cost the storage, per variant and thread count, grouped by tier (see
/// `storage::rows`), with the tier checks that failed.
fn storage(out: &mut String, r: &Results) {
    let body = crate::storage::rows(r);
    if body.is_empty() {
        return;
    }
    let mut rows = vec![crate::storage::COLUMNS.map(str::to_owned).to_vec()];
    rows.extend(body);
    let widths: Vec<usize> = (0..rows[0].len())
        .map(|i| rows.iter().map(|r| r[i].chars().count()).max().unwrap_or(0))
        .collect();
    let _ = writeln!(
        out,
        "storage (measured phases summed; sync calls counted, device bytes from /proc/self/io; docs/storage.md):"
    );
    for row in &rows {
        pad(out, row, &widths);
    }
    for s in &r.summaries {
        if let Some(m) = s.storage.as_ref().and_then(|st| st.tier_mismatch.as_ref()) {
            let _ = writeln!(out, "  ! {} ×{}: {m}", s.variant, s.threads);
        }
    }
}

/// What each backend is (at the lowest thread count, once per variant).
fn backends(out: &mut String, r: &Results) {
    let min_threads = r.summaries.iter().map(|x| x.threads).min().unwrap_or(0);
    let infos: Vec<String> = r
        .summaries
        .iter()
        .filter(|s| s.threads == min_threads)
        .map(|s| {
            format!(
                "  {}: {}; {}; cache: {}{}",
                s.variant,
                s.info.get("durability").map_or("?", String::as_str),
                s.info.get("serialization").map_or("?", String::as_str),
                s.info.get("cache").map_or("?", String::as_str),
                hit_ratios(r, &s.variant)
            )
        })
        .collect();
    if !infos.is_empty() {
        let _ = writeln!(out, "backends:\n{}", infos.join("\n"));
    }
}

/// "; hit ratio 87.1% (×1), 85.0% (×2)" for a variant that caches, else nothing.
fn hit_ratios(r: &Results, variant: &str) -> String {
    let ratios: Vec<String> = r
        .summaries
        .iter()
        .filter(|s| s.variant == variant)
        .filter_map(|s| {
            let v = s.metrics.get("cache_hit_ratio")?;
            Some(format!("{} (×{})", percent(*v), s.threads))
        })
        .collect();
    if ratios.is_empty() {
        String::new()
    } else {
        format!("; hit ratio {}", ratios.join(", "))
    }
}

fn targets(out: &mut String, r: &Results) {
    if let Some(why) = crate::targets::not_judged(r) {
        let _ = writeln!(out, "targets: {why}");
        return;
    }
    if r.targets.is_empty() {
        return;
    }
    let _ = writeln!(
        out,
        "targets (judged on the whole 95% interval; undecided when it straddles):"
    );
    for t in &r.targets {
        let at = t
            .threads
            .map_or(String::new(), |n| format!(" at {}", threads_text(n)));
        let _ = writeln!(
            out,
            "  [{}] {}: {}{at} {} {} — got {}",
            t.status().label(),
            t.name,
            t.variant,
            t.metric,
            t.expect,
            t.actual_text
        );
    }
}
