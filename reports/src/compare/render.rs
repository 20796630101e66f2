//! A comparison as a terminal table (with its summary line last), and `--threshold`'s
//! parsing.

use std::fmt::Write as _;

use super::{Comparison, DEFAULT_REFERENCE};
use crate::estimate::Estimate;
use crate::format::{human, verdict_label, Unit};

/// The note under a table with rows undecided for lack of data.
pub const LACKING_NOTE: &str = "undecided for lack of data: across two runs taken at different \
times a verdict needs, on each side, two or more repeats (three or more for a useful \
interval) whose phases last at least 1 s and run at least 10,000 operations, with enough \
operations in each tenth of a phase for the percentile; with less, the machine's fast and \
slow spells cannot be told from the code. For a paired verdict on a noisy machine, use \
`lab ab`.";

/// A change as a signed percentage, never `inf%` or `NaN`.
fn signed(d: Option<f64>) -> String {
    match d {
        Some(d) if d.is_finite() => format!("{:+.1}%", d * 100.0),
        _ => "?".into(),
    }
}

/// "[-3.1%, +4.0%]", or "?".
pub fn interval_text(i: Option<[f64; 2]>) -> String {
    match i {
        Some([lo, hi]) if lo.is_finite() && hi.is_finite() => {
            format!("[{}, {}]", signed(Some(lo)), signed(Some(hi)))
        }
        _ => "?".into(),
    }
}

/// A value for a cell: "?" when there is none.
fn value(unit: Unit, e: &Estimate) -> String {
    if e.median > 0.0 && e.median.is_finite() {
        human(unit, e.median)
    } else {
        "?".into()
    }
}

/// The comparison as a terminal table, with its summary line last.
pub fn render(c: &Comparison) -> String {
    let mut out = String::new();
    let moves: Vec<String> = c
        .common
        .iter()
        .map(|(t, m)| format!("±{} at {t}", pct(m.exp() - 1.0)))
        .collect();
    let drift = format!(
        "widened by the drift: ±{} within the runs, and every variant's common move ({})",
        pct(c.drift.exp() - 1.0),
        moves.join(", ")
    );
    match &c.reference {
        Some(r) => {
            let _ = writeln!(
                out,
                "judged against {r}: each variant's change is that of its ratio to {r} in the \
                 same repeat; {r}'s own rows are raw, {drift}"
            );
        }
        None => {
            let _ = writeln!(
                out,
                "no reference variant in both files (add {DEFAULT_REFERENCE} to the variants, or \
                 --reference V): raw values, {drift}"
            );
        }
    }
    let _ = writeln!(
        out,
        "{:<16} {:>3} {:<14} {:>14} {:>14} {:>8} {:>18}  verdict (threshold {})",
        "variant",
        "thr",
        "op",
        "base",
        "new",
        "change",
        "95% interval",
        pct(c.threshold)
    );
    for ch in &c.changes {
        let reason = if ch.reason.is_empty() {
            String::new()
        } else {
            format!(" ({})", ch.reason)
        };
        let _ = writeln!(
            out,
            "{:<16} {:>3} {:<14} {:>14} {:>14} {:>8} {:>18}  {}{reason}",
            ch.variant,
            ch.threads,
            ch.label(),
            value(ch.unit(), &ch.base),
            value(ch.unit(), &ch.new),
            signed(ch.delta),
            interval_text(ch.interval),
            verdict_label(ch.verdict),
        );
    }
    if c.changes.iter().any(|ch| ch.lacks_data) {
        let _ = writeln!(out, "{LACKING_NOTE}");
    }
    out.push_str(&c.summary());
    out.push('\n');
    out
}

/// A percentage for a sentence: "5%", "2.5%".
pub(super) fn pct(t: f64) -> String {
    let p = t * 100.0;
    if !p.is_finite() {
        "?".into()
    } else if (p - p.round()).abs() < 0.05 {
        format!("{p:.0}%")
    } else {
        format!("{p:.1}%")
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
