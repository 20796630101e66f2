//! The statistics a row of `lab compare` is judged by (the module documentation's steps 1
//! to 5): whether each side has data enough, one value per repeat, the ratio to the
//! reference, the Hodges–Lehmann shift and its interval, the drift raw rows are widened
//! by, and the verdict.

use super::render::pct;
use super::{Basis, Change, Reference, Verdict, DEFAULT_REFERENCE};
use crate::estimate::{self, Stat, MIN_PHASE_OPS, MIN_PHASE_S};
use crate::format::thousands;
use crate::results::{Results, RunResult};
use crate::stats;

/// The Hodges–Lehmann shift from `base` to `new`: the median of every `new − base`
/// difference (on the scale given: logs, for ratios). Robust: a minority of odd repeats
/// on either side cannot move it far. `None` when a side is empty.
pub fn hodges_lehmann(base: &[f64], new: &[f64]) -> Option<f64> {
    let mut d: Vec<f64> = new
        .iter()
        .flat_map(|y| base.iter().map(move |x| y - x))
        .collect();
    estimate::median(&mut d)
}

/// The spread of single values within each side, pooled: the standard deviation of each
/// side's values about its own mean, over both sides, and its degrees of freedom. Not
/// robust on purpose: an odd repeat widens it, so odd repeats make a row undecided rather
/// than decide it (the shift itself, [`hodges_lehmann`], resists them).
pub fn spread(sides: &[&[f64]]) -> (f64, usize) {
    let (mut ss, mut df) = (0.0, 0);
    for x in sides.iter().filter(|x| x.len() >= 2) {
        let mean = x.iter().sum::<f64>() / x.len() as f64;
        ss += x.iter().map(|v| (v - mean).powi(2)).sum::<f64>();
        df += x.len() - 1;
    }
    (if df > 0 { (ss / df as f64).sqrt() } else { 0.0 }, df)
}

/// The half-width (log) of the 99% interval of a shift between sides of `m` and `n`
/// repeats, given the spread `(s, degrees of freedom)` of single repeats ([`spread`]):
/// `t₉₉ · s · √(1/m + 1/n + 1)`. The `1/m + 1/n` is the uncertainty of each side's level
/// from its repeats; the `+ 1` is what repeats cannot see: each process's
/// own luck (memory layout, hash seeds, the load it met), shared by all its repeats, taken
/// to move a file's level by as much as one repeat moves from another (measured on the
/// shared VM: between files, a variant's level moved 0.5–0.7 times as far as between
/// repeats of one file, so two files' luck adds 0.5–1.0 s²).
pub fn half_width((s, df): (f64, usize), m: usize, n: usize) -> Option<f64> {
    if df == 0 || m == 0 || n == 0 {
        return None;
    }
    Some(stats::student_t_995(df) * s * (1.0 / m as f64 + 1.0 / n as f64 + 1.0).sqrt())
}

/// What a side's runs (of one variant, or of the reference) lack for a verdict: too few
/// repeats, phases too short or too small ("1 repeat", "0.30 s phases", "2,000-op phases").
fn too_little(runs: &[&RunResult]) -> Option<String> {
    if runs.len() < 2 {
        return Some(format!(
            "{} repeat{}",
            runs.len(),
            if runs.len() == 1 { "" } else { "s" }
        ));
    }
    if let Some(short) = runs
        .iter()
        .map(|r| r.elapsed_s)
        .filter(|s| *s < MIN_PHASE_S)
        .min_by(f64::total_cmp)
    {
        return Some(format!("{short:.2} s phases"));
    }
    runs.iter()
        .map(|r| r.ops)
        .filter(|o| *o < MIN_PHASE_OPS)
        .min()
        .map(|few| format!("{}-op phases", thousands(few)))
}

/// The reasons two sides' runs lack, "1 repeat" when both say so, else "base: …; new: …",
/// with `who` (the reference) named when it is not the row's own variant.
fn lacking(sides: &Sides<'_>, who: Option<&str>) -> Vec<String> {
    let (b, n) = (too_little(&sides.0), too_little(&sides.1));
    let of = who.map_or(String::new(), |w| format!(" of {w}"));
    match (b, n) {
        (Some(b), Some(n)) if b == n => vec![format!("{b}{of} on each side")],
        (b, n) => b
            .map(|b| format!("base: {b}{of}"))
            .into_iter()
            .chain(n.map(|n| format!("new: {n}{of}")))
            .collect(),
    }
}

/// Each repeat's value of `stat`: the median of its blocks, by repeat number.
fn per_repeat(runs: &[&RunResult], op: Option<&str>, stat: Stat) -> Vec<(u32, f64)> {
    runs.iter()
        .filter_map(|r| {
            let mut b = estimate::blocks(r, op, stat);
            estimate::median(&mut b)
                .filter(|v| *v > 0.0 && v.is_finite())
                .map(|v| (r.repeat, v))
        })
        .collect()
}

/// The log values a side contributes: raw, or over the reference's in the same repeat.
fn log_values(mine: &[(u32, f64)], reference: Option<&[(u32, f64)]>) -> Vec<f64> {
    match reference {
        None => mine.iter().map(|(_, v)| v.ln()).collect(),
        Some(refs) => mine
            .iter()
            .filter_map(|(rep, v)| {
                let (_, r) = refs.iter().find(|(x, _)| x == rep)?;
                Some(v.ln() - r.ln())
            })
            .collect(),
    }
}

/// The drift raw rows are widened by: the largest distance (log) of one repeat's
/// throughput from its variant's median over repeats, over every variant and thread count
/// with two or more repeats in `r`.
pub fn drift(r: &Results) -> f64 {
    let mut keys: Vec<(&str, usize)> = r
        .runs
        .iter()
        .map(|x| (x.variant.as_str(), x.threads))
        .collect();
    keys.sort_unstable();
    keys.dedup();
    let mut most: f64 = 0.0;
    for (v, t) in keys {
        let runs = estimate::runs_of(r, v, t);
        let mut logs: Vec<f64> = per_repeat(&runs, None, Stat::Throughput)
            .iter()
            .map(|(_, v)| v.ln())
            .collect();
        if logs.len() < 2 {
            continue;
        }
        let Some(mid) = estimate::median(&mut logs.clone()) else {
            continue;
        };
        for l in &mut logs {
            most = most.max((*l - mid).abs());
        }
    }
    most
}

/// Per thread count, the unsigned median of every variant's raw change of throughput (the
/// Hodges–Lehmann shift of its repeats' logs) between the files: what the whole machine
/// may have done. One variant alone moves it all by itself, so its raw change is never
/// told from drift.
pub(super) fn common_moves(base: &Results, new: &Results) -> Vec<(usize, f64)> {
    let mut by_threads: std::collections::BTreeMap<usize, Vec<f64>> = Default::default();
    for s in &new.summaries {
        let logs = |r: &Results| -> Vec<f64> {
            per_repeat(
                &estimate::runs_of(r, &s.variant, s.threads),
                None,
                Stat::Throughput,
            )
            .iter()
            .map(|(_, v)| v.ln())
            .collect()
        };
        if let Some(shift) = hodges_lehmann(&logs(base), &logs(new)) {
            by_threads.entry(s.threads).or_default().push(shift);
        }
    }
    by_threads
        .into_iter()
        .filter_map(|(t, mut moves)| estimate::median(&mut moves).map(|m| (t, m.abs())))
        .collect()
}

/// What both files share to judge against: the reference variant's name, when both ran
/// it (see [`Reference`]); an error when a named one is missing.
pub(super) fn reference_of(
    base: &Results,
    new: &Results,
    wanted: &Reference,
) -> Result<Option<String>, String> {
    let ran = |r: &Results, v: &str| r.runs.iter().any(|x| x.variant == v);
    match wanted {
        Reference::None => Ok(None),
        Reference::Auto => Ok(
            (ran(base, DEFAULT_REFERENCE) && ran(new, DEFAULT_REFERENCE))
                .then(|| DEFAULT_REFERENCE.to_owned()),
        ),
        Reference::Variant(v) => {
            if ran(base, v) && ran(new, v) {
                Ok(Some(v.clone()))
            } else {
                Err(format!(
                    "--reference {v}: both files must have run it (base: {}, new: {})",
                    if ran(base, v) { "yes" } else { "no" },
                    if ran(new, v) { "yes" } else { "no" }
                ))
            }
        }
    }
}

/// One row: `stat` of `op` (None: the whole mix) for a variant at a thread count, with
/// each side's log values once it has them (`None`: the row lacks data).
pub(super) struct Row {
    pub(super) change: Change,
    values: Option<(Vec<f64>, Vec<f64>)>,
}

/// The sides' runs for one (variant, threads): (base, new).
pub(super) type Sides<'a> = (Vec<&'a RunResult>, Vec<&'a RunResult>);

/// A row's values (or why it has none), before the verdict.
pub(super) fn prepare_row(
    mut change: Change,
    mine: &Sides<'_>,
    refs: Option<(&str, &Sides<'_>)>,
) -> Row {
    let op = (change.op != "all").then_some(change.op.clone());
    let stat = change.stat;
    let mut short = lacking(mine, None);
    if let Some((name, refs)) = refs {
        short.extend(lacking(refs, Some(name)));
    }
    if !short.is_empty() {
        change.reason = short.join("; ");
        change.lacks_data = true;
        return Row {
            change,
            values: None,
        };
    }
    let values = |runs: &[&RunResult], reference: Option<&[&RunResult]>| {
        let mine = per_repeat(runs, op.as_deref(), stat);
        let refs = reference.map(|r| per_repeat(r, op.as_deref(), stat));
        log_values(&mine, refs.as_deref())
    };
    let (xb, xn) = match refs {
        Some((_, (rb, rn))) => (values(&mine.0, Some(rb)), values(&mine.1, Some(rn))),
        None => (values(&mine.0, None), values(&mine.1, None)),
    };
    if xb.len() < 2 || xn.len() < 2 {
        change.reason = format!(
            "too few operations per block for {} (a block needs {})",
            stat.name(),
            thousands(stat.min_ops())
        );
        change.lacks_data = true;
        return Row {
            change,
            values: None,
        };
    }
    Row {
        change,
        values: Some((xb, xn)),
    }
}

/// The verdict on a row with values, given, for raw rows, the drift it is widened by.
pub(super) fn judge(row: Row, drift: f64, threshold: f64) -> Change {
    let mut change = row.change;
    if let Basis::Raw { drift: d } = &mut change.basis {
        *d = drift;
    }
    let Some((xb, xn)) = row.values else {
        return change;
    };
    let (Some(point), Some(half)) = (
        hodges_lehmann(&xb, &xn),
        half_width(spread(&[&xb, &xn]), xb.len(), xn.len()),
    ) else {
        return change;
    };
    let widen = match change.basis {
        Basis::Raw { drift } => drift,
        Basis::Reference(_) => 0.0,
    };
    let (lo, hi) = (point - half - widen, point + half + widen);
    change.delta = Some(point.exp() - 1.0);
    change.interval = Some([lo.exp() - 1.0, hi.exp() - 1.0]);
    let t = threshold;
    // On the ratio new / base: wholly past 1 − t or 1 + t, or wholly within.
    let (below, above) = (hi.exp() < 1.0 - t, lo.exp() > 1.0 + t);
    let within = lo.exp() >= 1.0 - t && hi.exp() <= 1.0 + t;
    let up = change.stat.higher_is_better();
    change.verdict = match (below, above, within) {
        (true, _, _) if up => Verdict::Slower,
        (true, _, _) => Verdict::Faster,
        (_, true, _) if up => Verdict::Faster,
        (_, true, _) => Verdict::Slower,
        (_, _, true) => Verdict::Same,
        _ => Verdict::Unsure,
    };
    change.reason = match (&change.basis, change.verdict) {
        (Basis::Raw { drift }, Verdict::Unsure) if *drift > 0.0 => format!(
            "straddles ±{} widened by ±{} drift",
            pct(t),
            pct(drift.exp() - 1.0)
        ),
        (_, Verdict::Unsure) => format!("straddles ±{}", pct(t)),
        (Basis::Reference(r), _) => format!("vs {r}"),
        (Basis::Raw { .. }, _) => String::new(),
    };
    change
}
