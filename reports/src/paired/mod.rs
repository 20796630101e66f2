//! The paired statistic: how much faster one side is than another when the two took turns
//! in short slices (`lab ab` between two builds; `lab run` between variants).
//!
//! On a shared machine the speed of everything jumps between regimes (here about 1.7×
//! apart, each lasting from under a second to many seconds), so two numbers taken at
//! different times cannot be compared. Two slices run back to back, a few tens of
//! milliseconds apart, almost always share a regime. So the sides take turns, one slice
//! each per *round*, and only each round's ratio is judged:
//!
//! - The order alternates ([`forward`]): rounds 2k and 2k+1 run the sides in opposite
//!   orders (A B | B A), and successive pairs of rounds alternate which side starts
//!   (ABBA BAAB), so going first or second, and a drift over a few rounds, favour
//!   neither side.
//! - The estimate is the Hodges–Lehmann estimator of the rounds' log ratios (the median
//!   of all pairwise means): as efficient as the mean when the noise is normal (95%), yet
//!   a round that straddled a regime switch moves it by at most one rank; it breaks down
//!   only when more than 29% of the rounds are wild. (Averaging each ABBA block first
//!   would cancel the order effect exactly, but a switch inside a block then spoils the
//!   whole block: with 10% of rounds hit on one side, the estimate over blocks moved 1.1%,
//!   the one over rounds 0.6%; docs/ab.md.)
//! - The interval is a 95% percentile bootstrap over rounds ([`BOOTSTRAP`] resamples,
//!   seeded, so the same pairs give the same interval); when the rounds ran in several
//!   pairs of processes ([`ratio_grouped`]), over those pairs and then over their rounds,
//!   since two processes of one build can differ for their whole lives.
//! - A round *looks like a regime switch* when its log ratio is more than 10% and more
//!   than four robust standard deviations (1.4826 × the median absolute deviation) from
//!   the estimate; those rounds are counted and shown, never dropped (the estimator
//!   already gives them no say).
//!
//! docs/ab.md has the measurements behind these choices.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// Bootstrap resamples behind every interval.
pub const BOOTSTRAP: usize = 1000;

/// Usable rounds needed before an interval is given.
pub const MIN_PAIRS: usize = 10;

/// The smallest change a verdict calls a regression or improvement by default: the
/// interval must lie wholly past 1 ± 2%. (Two processes of one build differ by a few
/// tenths of a percent: the default keeps well above that.)
pub const DEFAULT_THRESHOLD: f64 = 0.02;

/// Whether round `round` runs the sides in their given order (else reversed): forward in
/// rounds 0 and 3 of every four, so rounds 2k and 2k+1 run every two sides once in each
/// order and successive pairs of rounds start with a different side (A B B A B A A B).
pub fn forward(round: usize) -> bool {
    matches!(round % 4, 0 | 3)
}

/// Which time paired rates are over.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Timing {
    /// Wall-clock time less the threads' wait for a CPU: another process taking the CPU
    /// does not count against the side that was running (I/O and lock waits still do).
    #[default]
    Busy,
    /// Wall-clock time: where the system does not say how long threads waited for a CPU.
    Wall,
}

impl Timing {
    /// How the page and the details name it.
    pub fn label(self) -> &'static str {
        match self {
            Timing::Busy => "wall-clock time less waits for a CPU",
            Timing::Wall => "wall-clock time",
        }
    }
}

/// The ratio of side A's rate to side B's, judged from paired rounds.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Ratio {
    /// A/B (the Hodges–Lehmann estimate, back from logs).
    pub estimate: f64,
    /// The 95% interval of `estimate`.
    pub lo: f64,
    pub hi: f64,
    /// Rounds with a usable rate on both sides: what the estimate was made from.
    pub pairs: usize,
    /// Pairs of processes the rounds ran in (`lab ab` starts fresh ones in turn).
    #[serde(default = "one")]
    pub processes: usize,
    /// Rounds whose ratio looked like a regime switch (see the module documentation).
    pub switches: usize,
}

fn one() -> usize {
    1
}

/// Operations per second of `ops` done in `ns` nanoseconds (0 when nothing was timed).
pub fn per_second(ops: u64, ns: u64) -> f64 {
    if ns == 0 {
        0.0
    } else {
        ops as f64 * 1e9 / ns as f64
    }
}

/// What a ratio says about side A against side B, at a threshold.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// The whole interval is below 1 − threshold: A is slower.
    Regression,
    /// The whole interval is above 1 + threshold: A is faster.
    Improvement,
    /// The interval reaches inside 1 ± threshold.
    NoDifference,
}

impl Verdict {
    /// The words `lab ab` prints.
    pub fn label(self) -> &'static str {
        match self {
            Verdict::Regression => "regression",
            Verdict::Improvement => "improvement",
            Verdict::NoDifference => "no difference",
        }
    }
}

impl Ratio {
    /// The verdict at `threshold` (a fraction: 0.02 is 2%).
    pub fn verdict(&self, threshold: f64) -> Verdict {
        if self.hi < 1.0 - threshold {
            Verdict::Regression
        } else if self.lo > 1.0 + threshold {
            Verdict::Improvement
        } else {
            Verdict::NoDifference
        }
    }

    /// Whether the interval holds 1 (no side shown to be faster at all).
    pub fn holds_one(&self) -> bool {
        self.lo <= 1.0 && 1.0 <= self.hi
    }

    /// "0.967× [0.958, 0.976]".
    pub fn text(&self) -> String {
        format!("{:.3}× [{:.3}, {:.3}]", self.estimate, self.lo, self.hi)
    }
}

/// The ratio of `a`'s rates to `b`'s, where `a[i]` and `b[i]` were taken in round `i` (in
/// the order [`forward`] gives), all by one pair of processes. A round where either rate
/// is not a positive number is unusable. `None` with fewer than [`MIN_PAIRS`] usable
/// rounds.
pub fn ratio(a: &[f64], b: &[f64]) -> Option<Ratio> {
    ratio_grouped(a, b, &vec![0; a.len()])
}

/// As [`ratio`], where round `i` ran in the pair of processes `process[i]`. Two processes
/// of one build can differ by a few percent for the whole of their lives (where their
/// memory happened to land, which CPU they ran on: measured in docs/ab.md), so the
/// interval is a two-stage bootstrap: the process pairs are resampled, then the rounds
/// within each. When the pairs disagree, the interval says so.
pub fn ratio_grouped(a: &[f64], b: &[f64], process: &[usize]) -> Option<Ratio> {
    let mut groups: Vec<(usize, Vec<f64>)> = Vec::new();
    for ((x, y), p) in a.iter().zip(b).zip(process) {
        if !(*x > 0.0 && *y > 0.0 && x.is_finite() && y.is_finite()) {
            continue;
        }
        let log = (x / y).ln();
        match groups.iter_mut().find(|(q, _)| q == p) {
            Some((_, g)) => g.push(log),
            None => groups.push((*p, vec![log])),
        }
    }
    let groups: Vec<Vec<f64>> = groups.into_iter().map(|(_, g)| g).collect();
    let logs: Vec<f64> = groups.concat();
    if logs.len() < MIN_PAIRS {
        return None;
    }
    let center = hodges_lehmann(&logs);
    let (lo, hi) = bootstrap(&groups);
    Some(Ratio {
        estimate: center.exp(),
        lo: lo.exp(),
        hi: hi.exp(),
        pairs: logs.len(),
        processes: groups.len(),
        switches: switches(&logs, center),
    })
}

/// `lab run`'s paired rounds at one thread count: the variants took turns, one slice each
/// per round (in [`forward`] order), so any two of them can be compared round by round.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Rounds {
    pub threads: usize,
    /// The slice length asked for, in seconds.
    pub slice_s: f64,
    pub timing: Timing,
    pub variants: Vec<RoundRates>,
}

/// One variant's rates, round by round.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct RoundRates {
    pub variant: String,
    /// Operations per thread in each of its slices.
    pub ops_per_slice: u64,
    /// Operations per second in each round (0: the round was cut short).
    pub rates: Vec<f64>,
    /// The same per operation kind.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub per_op: BTreeMap<String, Vec<f64>>,
}

/// A variant's place in a paired ranking.
#[derive(Clone, Debug, PartialEq)]
pub struct Ranked {
    pub variant: String,
    /// The median of its rounds' rates.
    pub median: f64,
    /// The leader's rate over this one's ([`ratio`] of the leader's rounds to its own);
    /// `None` for the leader itself and when too few rounds were usable.
    pub behind: Option<Ratio>,
}

fn median(x: &[f64]) -> f64 {
    median_of(&mut x.to_vec())
}

impl RoundRates {
    /// The rates of operation kind `op` (`None`: the whole mix).
    pub fn of(&self, op: Option<&str>) -> Option<&[f64]> {
        match op {
            None => Some(&self.rates),
            Some(op) => self.per_op.get(op).map(Vec::as_slice),
        }
    }
}

impl Rounds {
    /// The variants fastest first (by the median of their rounds) for the whole mix
    /// (`op` = `None`) or one operation kind, each with how far the leader is ahead of
    /// it. Variants that did not run `op`, and those `ranked` says no to (harness fixtures
    /// among stores: [`crate::Results::ranked`]), are left out.
    pub fn ranking(&self, op: Option<&str>, ranked: impl Fn(&str) -> bool) -> Vec<Ranked> {
        let mut list: Vec<(&RoundRates, f64)> = self
            .variants
            .iter()
            .filter(|v| ranked(&v.variant))
            .filter_map(|v| Some((v, median(v.of(op)?))))
            .collect();
        list.sort_by(|a, b| b.1.total_cmp(&a.1));
        let Some(lead) = list.first().and_then(|(v, _)| v.of(op)) else {
            return Vec::new();
        };
        list.iter()
            .enumerate()
            .map(|(i, (v, m))| Ranked {
                variant: v.variant.clone(),
                median: *m,
                behind: (i > 0).then(|| ratio(lead, v.of(op)?)).flatten(),
            })
            .collect()
    }

    /// Rounds taken (the longest of the variants' lists).
    pub fn rounds(&self) -> usize {
        self.variants
            .iter()
            .map(|v| v.rates.len())
            .max()
            .unwrap_or(0)
    }
}

/// The median of `x` (sorted in place); NaN when empty.
fn median_of(x: &mut [f64]) -> f64 {
    if x.is_empty() {
        return f64::NAN;
    }
    let mid = x.len() / 2;
    let (_, hi, _) = x.select_nth_unstable_by(mid, f64::total_cmp);
    let hi = *hi;
    if x.len() % 2 == 1 {
        return hi;
    }
    let lo = x[..mid].iter().copied().fold(f64::NEG_INFINITY, f64::max);
    (lo + hi) / 2.0
}

/// The Hodges–Lehmann estimate of `x`'s center: the median of the means of every two
/// elements (each element with itself included).
pub fn hodges_lehmann(x: &[f64]) -> f64 {
    let mut walsh = Vec::with_capacity(x.len() * (x.len() + 1) / 2);
    walsh_means(x, &mut walsh);
    median_of(&mut walsh)
}

fn walsh_means(x: &[f64], out: &mut Vec<f64>) {
    out.clear();
    for (i, a) in x.iter().enumerate() {
        out.extend(x[i..].iter().map(|b| (a + b) / 2.0));
    }
}

/// SplitMix64: the bootstrap's resampling, seeded so an interval is reproducible.
struct SplitMix(u64);

impl SplitMix {
    fn below(&mut self, n: usize) -> usize {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^= z >> 31;
        ((u128::from(z) * n as u128) >> 64) as usize
    }
}

/// The 95% percentile bootstrap interval of the Hodges–Lehmann estimate of the rounds in
/// `groups` (one group per pair of processes): each resample draws as many groups as there
/// are, with replacement, and from each drawn group as many of its rounds, with
/// replacement. Resampling the groups alone would count each group's own noise once, not
/// twice, and give narrower intervals (18% on 40 A/A comparisons of this VM), but they held
/// 1 in 36 of those 40 where these held it in 38: the two stages stay, on the safe side.
/// One group is the plain bootstrap over rounds.
fn bootstrap(groups: &[Vec<f64>]) -> (f64, f64) {
    let n: usize = groups.iter().map(Vec::len).sum();
    let mut rng = SplitMix(0x5eed ^ n as u64);
    let mut sample = Vec::with_capacity(2 * n);
    let mut walsh = Vec::new();
    let mut estimates: Vec<f64> = (0..BOOTSTRAP)
        .map(|_| {
            sample.clear();
            for _ in 0..groups.len() {
                let g = &groups[rng.below(groups.len())];
                for _ in 0..g.len() {
                    sample.push(g[rng.below(g.len())]);
                }
            }
            walsh_means(&sample, &mut walsh);
            median_of(&mut walsh)
        })
        .collect();
    estimates.sort_by(f64::total_cmp);
    let at = |q: f64| estimates[((q * BOOTSTRAP as f64) as usize).min(BOOTSTRAP - 1)];
    (at(0.025), at(0.975))
}

/// Rounds whose log ratio is more than 10% and more than four robust standard deviations
/// from `center`.
fn switches(rounds: &[f64], center: f64) -> usize {
    let mut dev: Vec<f64> = rounds.iter().map(|r| (r - center).abs()).collect();
    let sigma = 1.4826 * median_of(&mut dev);
    let limit = (4.0 * sigma).max(1.1f64.ln());
    rounds
        .iter()
        .filter(|r| (*r - center).abs() > limit)
        .count()
}

#[cfg(test)]
mod tests;
