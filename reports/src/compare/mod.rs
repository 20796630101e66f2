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
//!
//! This file holds the rows' types and [`compare`], which builds every row and judges it;
//! `rules.rs` the statistics of a row (steps 1 to 5 above), `render.rs` the terminal table
//! and `--threshold`, `mismatches.rs` what makes two files not comparable.

mod mismatches;
mod render;
mod rules;

use crate::estimate::{self, Estimate, Stat};
use crate::format::Unit;
use crate::results::Results;
use rules::{common_moves, judge, prepare_row, reference_of};

pub use crate::format::Verdict;
pub use mismatches::{mismatches, Mismatches};
pub use render::{interval_text, parse_threshold, render, LACKING_NOTE};
pub use rules::{drift, half_width, hodges_lehmann, spread};

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
