//! `lab compare BASE NEW`: per variant, thread count and operation, whether throughput
//! and p50 and p99 latency changed, judged so that the machine's drift between two runs
//! is not called a regression.
//!
//! Two files taken at different times cannot be paired, and on a shared or throttled
//! machine the whole machine runs fast or slow for spells of under a second to many
//! seconds (1.7× apart on a quiet VM; several times apart on one shared with builds).
//! So compare judges from what the runs recorded, per row:
//! 1. **Enough data, or undecided.** Each side needs at least two repeats whose phases
//!    lasted at least 1 s and ran at least 10,000 operations ([`estimate::MIN_PHASE_S`],
//!    [`estimate::MIN_PHASE_OPS`]); otherwise the row is undecided, says why, and the
//!    table points to `lab ab`.
//! 2. **One value per repeat**: the median of its blocks ([`estimate::blocks`]), which
//!    resists the blocks a spell or a descheduled thread spoils.
//! 3. **Against a reference, when both runs have one.** When both files ran the reference
//!    variant (`btreemap` by default; `--reference`), each repeat's value is divided by the
//!    reference's value in the same repeat, which ran beside it and shared the machine's
//!    spell more often than not; the change of that ratio is what is judged, so a machine
//!    that ran everything 1.7× slower changes nothing. Rows of the reference itself, and
//!    all rows without a reference, compare raw values.
//! 4. **The change and its interval**: the Hodges–Lehmann shift between the two sides' log
//!    values (the median of every base × new difference: a minority of odd repeats cannot
//!    move it far), with a 99% interval `t₉₉ · s · √(1/m + 1/n + 1)` from the spread `s` of
//!    single repeats pooled over both sides (see [`half_width`] for the `+ 1`: each
//!    process's own luck, which its repeats share and cannot show). Odd repeats widen `s`:
//!    they make a row undecided, never a regression. Raw rows are widened further, on
//!    both sides, by the larger of the drift seen within the runs (the largest distance of
//!    a repeat from its variant's median over repeats, in either file) and how far every
//!    variant moved together between the files (the median of their raw changes at that
//!    thread count): a raw change the whole machine could have made is not the code's.
//! 5. **The verdict**: a regression when the whole interval is past the threshold on the
//!    slow side (less throughput, more latency); an improvement when past it on the fast
//!    side; no difference when it lies within ±threshold; undecided when it straddles
//!    the threshold.
//!
//! The rows' values (`base`, `new`) are the one statistic of [`crate::estimate`]. The
//! judged values enter as plain lists of logs per side ([`hodges_lehmann`],
//! [`half_width`]), so finer paired samples (alternating slices) can feed the same rule.
//! [`mismatches`] says what makes two files not comparable (refused) or comparable with
//! care (warned).

use std::fmt::Write as _;

use serde_json::Value;

use crate::estimate::{self, Estimate, Stat, MIN_PHASE_OPS, MIN_PHASE_S};
use crate::format::{human, thousands, verdict_label, Unit};
use crate::results::{Results, RunResult};
use crate::stats;

pub use crate::format::Verdict;

/// The reference variant compare uses by default, when both files ran it.
pub const DEFAULT_REFERENCE: &str = "btreemap";

/// Which variant the others are judged against.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum Reference {
    /// [`DEFAULT_REFERENCE`] when both files ran it, else none.
    #[default]
    Auto,
    /// Raw values only.
    None,
    /// This variant (both files must have run it).
    Variant(String),
}

impl Reference {
    /// Parses `--reference`: a variant name, or `none`.
    pub fn parse(s: &str) -> Reference {
        match s.trim() {
            "none" => Reference::None,
            v => Reference::Variant(v.to_owned()),
        }
    }
}

/// How one row was judged.
#[derive(Clone, Debug, PartialEq)]
pub enum Basis {
    /// Raw values of the two files, the interval widened by this drift (a log ratio).
    Raw { drift: f64 },
    /// Each repeat's value over the reference's in the same repeat.
    Reference(String),
}

#[derive(Clone, Debug, PartialEq)]
pub struct Change {
    pub variant: String,
    pub threads: usize,
    /// "all" for the whole mix, else an operation name.
    pub op: String,
    pub stat: Stat,
    /// Each side's value: the one statistic (median over blocks with its interval).
    pub base: Estimate,
    pub new: Estimate,
    /// The judged change (new / base − 1; of the ratio to the reference when `basis` is
    /// one), when it could be computed.
    pub delta: Option<f64>,
    /// Its interval, as changes (`[lo, hi]`, new / base − 1).
    pub interval: Option<[f64; 2]>,
    pub basis: Basis,
    pub verdict: Verdict,
    /// Why the row is undecided (or what it was judged against).
    pub reason: String,
    /// Undecided because the data cannot support a verdict (too few repeats, phases too
    /// short or too small): the table points to `lab ab`.
    pub lacks_data: bool,
}

impl Change {
    /// "all", "read", "read p50", "read p99".
    pub fn label(&self) -> String {
        match self.stat {
            Stat::Throughput => self.op.clone(),
            s => format!("{} {}", self.op, s.name()),
        }
    }

    /// The unit of `base` and `new`.
    pub fn unit(&self) -> Unit {
        match self.stat {
            Stat::Throughput => Unit::Rate,
            _ => Unit::Time,
        }
    }
}

/// A whole comparison: its rows, and what they were judged against.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Comparison {
    pub changes: Vec<Change>,
    /// The reference variant, when one was used.
    pub reference: Option<String>,
    /// The drift seen within the runs (a log ratio): the largest distance of one repeat
    /// from its variant's median over repeats, in either file.
    pub drift: f64,
    /// Per thread count, how far every variant moved together between the files (a log
    /// ratio: the median of the variants' raw changes, unsigned), which raw values cannot
    /// tell from the machine's drift.
    pub common: Vec<(usize, f64)>,
    pub threshold: f64,
}

impl Comparison {
    /// Whether any change is a regression.
    pub fn regressed(&self) -> bool {
        self.count(Verdict::Slower) > 0
    }

    /// How many rows have `verdict`.
    pub fn count(&self, verdict: Verdict) -> usize {
        self.changes.iter().filter(|c| c.verdict == verdict).count()
    }

    /// The last line: "summary: regressions 1, improvements 0, undecided 3, no difference 20".
    pub fn summary(&self) -> String {
        format!(
            "summary: regressions {}, improvements {}, undecided {}, no difference {}",
            self.count(Verdict::Slower),
            self.count(Verdict::Faster),
            self.count(Verdict::Unsure),
            self.count(Verdict::Same)
        )
    }
}

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

/// The note under a table with rows undecided for lack of data.
pub const LACKING_NOTE: &str = "undecided for lack of data: across two runs taken at different \
times a verdict needs, on each side, two or more repeats (three or more for a useful \
interval) whose phases last at least 1 s and run at least 10,000 operations, with enough \
operations in each tenth of a phase for the percentile; with less, the machine's fast and \
slow spells cannot be told from the code. For a paired verdict on a noisy machine, use \
`lab ab`.";

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
fn common_moves(base: &Results, new: &Results) -> Vec<(usize, f64)> {
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
fn reference_of(
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
struct Row {
    change: Change,
    values: Option<(Vec<f64>, Vec<f64>)>,
}

/// The sides' runs for one (variant, threads): (base, new).
type Sides<'a> = (Vec<&'a RunResult>, Vec<&'a RunResult>);

/// A row's values (or why it has none), before the verdict.
fn prepare_row(mut change: Change, mine: &Sides<'_>, refs: Option<(&str, &Sides<'_>)>) -> Row {
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
fn judge(row: Row, drift: f64, threshold: f64) -> Change {
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

/// Compares every (variant, threads, operation) present in both files: throughput of the
/// whole mix and of each operation, and each operation's p50 and p99 (see the module
/// documentation). Errors when a named reference is missing from a file.
pub fn compare(
    base: &Results,
    new: &Results,
    threshold: f64,
    reference: &Reference,
) -> Result<Comparison, String> {
    let reference = reference_of(base, new, reference)?;
    let drift = drift(base).max(drift(new));
    let mut rows = Vec::new();
    for s in &new.summaries {
        let Some(b) = base
            .summaries
            .iter()
            .find(|b| b.variant == s.variant && b.threads == s.threads)
        else {
            continue;
        };
        let sides = (
            estimate::runs_of(base, &b.variant, b.threads),
            estimate::runs_of(new, &s.variant, s.threads),
        );
        let ref_sides = reference
            .as_deref()
            .filter(|r| *r != s.variant)
            .map(|r| {
                (
                    r,
                    (
                        estimate::runs_of(base, r, s.threads),
                        estimate::runs_of(new, r, s.threads),
                    ),
                )
            })
            .filter(|(_, (rb, rn))| !rb.is_empty() && !rn.is_empty());
        let refs = ref_sides.as_ref().map(|(r, sides)| (*r, sides));
        let mut wanted = vec![(None, Stat::Throughput)];
        for op in s.per_op.keys().filter(|k| b.per_op.contains_key(*k)) {
            for stat in [Stat::Throughput, Stat::P50, Stat::P99] {
                wanted.push((Some(op.as_str()), stat));
            }
        }
        for (op, stat) in wanted {
            let change = Change {
                variant: s.variant.clone(),
                threads: s.threads,
                op: op.unwrap_or("all").to_owned(),
                stat,
                base: estimate::over_runs(&sides.0, op, stat).unwrap_or(Estimate::exact(0.0)),
                new: estimate::over_runs(&sides.1, op, stat).unwrap_or(Estimate::exact(0.0)),
                delta: None,
                interval: None,
                basis: match refs {
                    Some((name, _)) => Basis::Reference(name.to_owned()),
                    None => Basis::Raw { drift },
                },
                verdict: Verdict::Unsure,
                reason: String::new(),
                lacks_data: false,
            };
            rows.push(prepare_row(change, &sides, refs));
        }
    }
    let common = common_moves(base, new);
    let changes = rows
        .into_iter()
        .map(|row| {
            let moved = common
                .iter()
                .find(|(t, _)| *t == row.change.threads)
                .map_or(0.0, |(_, m)| *m);
            judge(row, drift.max(moved), threshold)
        })
        .collect();
    Ok(Comparison {
        changes,
        reference,
        drift,
        common,
        threshold,
    })
}

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
fn pct(t: f64) -> String {
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

/// Why two results files are not comparable (`refuse`), or comparable with care (`warn`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Mismatches {
    pub refuse: Vec<String>,
    pub warn: Vec<String>,
}

fn shown(v: Option<&Value>) -> String {
    v.map_or_else(|| "(not recorded)".to_owned(), Value::to_string)
}

/// What differs between two files beyond the code under test (see [`Mismatches`]).
pub fn mismatches(base: &Results, new: &Results) -> Mismatches {
    let mut m = Mismatches::default();
    if base.workload != new.workload {
        m.refuse.push(format!(
            "different workloads: {:?} and {:?}",
            base.workload, new.workload
        ));
    }
    if base.quick != new.quick {
        let q = |r: &Results| if r.quick { "--quick" } else { "full" };
        m.refuse.push(format!(
            "a {} run against a {} run: quick runs are smoke tests, not measurements",
            q(base),
            q(new)
        ));
    }
    // The plan's entries, from its typed fields: what is measured (refused when both
    // files record it and it differs; a warning when only one does: an older lab wrote
    // the other), how it is measured, and entries only a newer lab knows (warnings).
    let (bp, np) = (&base.plan, &new.plan);
    let workload = bp.workload().into_iter().zip(np.workload());
    let settings_ = bp.settings().into_iter().zip(np.settings());
    for (refusing, ((key, b), (_, n))) in workload
        .map(|e| (true, e))
        .chain(settings_.map(|e| (false, e)))
    {
        if b == n {
            continue;
        }
        let text = format!(
            "`{key}` differs: {} vs {}",
            shown(b.as_ref()),
            shown(n.as_ref())
        );
        if refusing && b.is_some() && n.is_some() {
            m.refuse.push(text);
        } else {
            m.warn.push(text);
        }
    }
    let keys: std::collections::BTreeSet<&String> =
        bp.other.keys().chain(np.other.keys()).collect();
    for key in keys {
        let (b, n) = (bp.other.get(key), np.other.get(key));
        if b != n {
            m.warn
                .push(format!("`{key}` differs: {} vs {}", shown(b), shown(n)));
        }
    }
    settings(base, new, &mut m.warn);
    m
}

/// Differences in machine, generators, state and variant descriptions: warnings.
fn settings(base: &Results, new: &Results, warn: &mut Vec<String>) {
    let (bm, nm) = (&base.machine, &new.machine);
    if (bm.cpu.as_str(), bm.cores) != (nm.cpu.as_str(), nm.cores) {
        warn.push(format!(
            "different machines: {} ({} cores) vs {} ({} cores)",
            bm.cpu, bm.cores, nm.cpu, nm.cores
        ));
    }
    if base.generators != new.generators {
        warn.push(format!(
            "{} load generator(s) vs {}: merged throughputs add up across generators",
            base.generators, new.generators
        ));
    }
    for (r, side) in [(base, "base"), (new, "new")] {
        if r.partial {
            warn.push(format!("{side} is partial (interrupted)"));
        }
        if r.contended {
            warn.push(format!(
                "{side} ran contended (parallel mode on too few cores)"
            ));
        }
    }
    for s in &new.summaries {
        let same = base.summaries.iter().find(|b| b.variant == s.variant);
        if let Some(b) = same.filter(|b| b.info != s.info) {
            for (k, v) in &s.info {
                let old = b.info.get(k).map_or("(none)", String::as_str);
                if old != v {
                    warn.push(format!(
                        "variant {}: {k} differs: {old:?} vs {v:?}",
                        s.variant
                    ));
                }
            }
        }
    }
    warn.dedup();
}
