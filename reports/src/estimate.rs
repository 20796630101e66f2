//! The one statistic: every throughput and latency a person reads (the terminal table, the
//! report, `compare`'s values, the targets) is the **median over blocks** of the measured
//! phases, with a **95% interval from a two-stage bootstrap** (repeats resampled, then
//! blocks within each chosen repeat), computed here and nowhere else.
//!
//! A block is a tenth of one measured phase: for throughput, the phase's completion
//! intervals grouped into [`BLOCKS`] consecutive groups (an operation's throughput is the
//! group's rate times the operation's share of that tenth's completions); for a latency
//! percentile, that percentile of the operations of one tenth (`parts` in `results.json`;
//! tenths with too few operations for the percentile are left out). The median resists
//! the few blocks a regime switch or a descheduled thread spoils. Blocks of one repeat
//! share its moment on the machine, so the interval resamples repeats first: a slow
//! repeat widens it as much as it could move the median, instead of counting as ten
//! independent witnesses. The bootstrap is seeded, so the same file always gives the same
//! interval; the interval never goes below zero (no block does) and always contains its
//! median (it is widened to it in the rare resampling where it would not).

use crate::results::{OpResult, Results, RunResult, VariantSummary};

/// Blocks per measured phase (the lab records latencies in as many parts).
pub const BLOCKS: usize = 10;

/// Bootstrap resamples per interval.
const RESAMPLES: usize = 1000;

/// What is estimated: a throughput, or a latency percentile.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stat {
    Throughput,
    P50,
    P90,
    P99,
    P999,
}

impl Stat {
    /// The percentile's quantile (latencies only).
    pub fn quantile(self) -> Option<f64> {
        match self {
            Stat::Throughput => None,
            Stat::P50 => Some(0.5),
            Stat::P90 => Some(0.9),
            Stat::P99 => Some(0.99),
            Stat::P999 => Some(0.999),
        }
    }

    /// The operations a block needs for this percentile to mean something: ten beyond it.
    pub fn min_ops(self) -> u64 {
        self.quantile()
            .map_or(1, |q| (10.0 / (1.0 - q)).round() as u64)
    }

    /// Whether a larger value is better.
    pub fn higher_is_better(self) -> bool {
        self == Stat::Throughput
    }

    /// "p50", "p99", ... (latencies), "throughput".
    pub fn name(self) -> &'static str {
        match self {
            Stat::Throughput => "throughput",
            Stat::P50 => "p50",
            Stat::P90 => "p90",
            Stat::P99 => "p99",
            Stat::P999 => "p99.9",
        }
    }

    /// The statistic a target metric names ("p99" → P99); `None` for those without blocks
    /// (max, mean, p99.99).
    pub fn latency(name: &str) -> Option<Stat> {
        [Stat::P50, Stat::P90, Stat::P99, Stat::P999]
            .into_iter()
            .find(|s| s.name() == name)
    }

    /// The value over all of `o`'s operations (its throughput, or the percentile of its
    /// merged histogram).
    fn whole(self, o: &OpResult) -> f64 {
        match self {
            Stat::Throughput => o.throughput,
            Stat::P50 => o.p50_ns as f64,
            Stat::P90 => o.p90_ns as f64,
            Stat::P99 => o.p99_ns as f64,
            Stat::P999 => o.p999_ns as f64,
        }
    }
}

/// A median and its 95% interval, with what it was computed from.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Estimate {
    pub median: f64,
    pub lo: f64,
    pub hi: f64,
    /// Repeats (measured phases) and blocks it came from.
    pub repeats: usize,
    pub blocks: usize,
}

impl Estimate {
    /// A value measured once, with no interval around it.
    pub fn exact(v: f64) -> Estimate {
        Estimate {
            median: v,
            lo: v,
            hi: v,
            repeats: 1,
            blocks: 1,
        }
    }

    /// The interval as `[lo, hi]`.
    pub fn interval(&self) -> [f64; 2] {
        [self.lo, self.hi]
    }

    /// Whether the interval says anything beyond the point (more than one block).
    pub fn has_interval(&self) -> bool {
        self.blocks > 1
    }
}

/// SplitMix64: the bootstrap's fixed-seed randomness.
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: usize) -> usize {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        ((u128::from(z ^ (z >> 31)) * n as u128) >> 64) as usize
    }
}

/// The median of `v` (sorted in place); `None` when empty.
pub fn median(v: &mut [f64]) -> Option<f64> {
    if v.is_empty() {
        return None;
    }
    v.sort_by(f64::total_cmp);
    let n = v.len();
    Some(if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    })
}

/// The median of a non-empty `v` by selection (reorders it), for the bootstrap's loop.
fn quick_median(v: &mut [f64]) -> f64 {
    let n = v.len();
    let (_, hi, _) = v.select_nth_unstable_by(n / 2, f64::total_cmp);
    let hi = *hi;
    if n % 2 == 1 {
        hi
    } else {
        let lo = v[..n / 2].iter().copied().fold(f64::NEG_INFINITY, f64::max);
        (lo + hi) / 2.0
    }
}

/// The median of every block, and its 95% two-stage bootstrap interval: `clusters` are the
/// blocks of each repeat. Non-finite and negative values are left out; `None` when no
/// block is left.
pub fn of_clusters(clusters: &[Vec<f64>]) -> Option<Estimate> {
    let clusters: Vec<Vec<f64>> = clusters
        .iter()
        .map(|c| {
            c.iter()
                .copied()
                .filter(|x| x.is_finite() && *x >= 0.0)
                .collect::<Vec<f64>>()
        })
        .filter(|c| !c.is_empty())
        .collect();
    let mut all: Vec<f64> = clusters.iter().flatten().copied().collect();
    let point = median(&mut all)?;
    let blocks = all.len();
    let mut est = Estimate {
        median: point,
        lo: point,
        hi: point,
        repeats: clusters.len(),
        blocks,
    };
    if blocks < 2 {
        return Some(est);
    }
    let mut rng = Rng(0x005e_ed0f_b10c);
    let mut medians = Vec::with_capacity(RESAMPLES);
    let mut sample = Vec::with_capacity(blocks);
    for _ in 0..RESAMPLES {
        sample.clear();
        for _ in 0..clusters.len() {
            let c = &clusters[rng.below(clusters.len())];
            for _ in 0..c.len() {
                sample.push(c[rng.below(c.len())]);
            }
        }
        medians.push(quick_median(&mut sample));
    }
    medians.sort_by(f64::total_cmp);
    let at = |q: f64| medians[((q * medians.len() as f64) as usize).min(medians.len() - 1)];
    est.lo = at(0.025).min(point);
    est.hi = at(0.975).max(point);
    Some(est)
}

/// The same, for blocks of one repeat (or values with nothing to group them).
pub fn of_values(values: &[f64]) -> Option<Estimate> {
    of_clusters(&[values.to_vec()])
}

/// Completions per second of each full interval of a run (its last, partial interval
/// left out).
pub fn interval_rates(run: &RunResult) -> Vec<f64> {
    if run.interval_s <= 0.0 {
        return Vec::new();
    }
    let full = &run.intervals[..run.intervals.len().saturating_sub(1)];
    full.iter().map(|c| *c as f64 / run.interval_s).collect()
}

/// The run's throughput in each block: its full intervals in [`BLOCKS`] consecutive groups
/// (fewer when it has fewer intervals; the whole run as one block when it has none).
fn rate_blocks(run: &RunResult) -> Vec<f64> {
    let rates = interval_rates(run);
    if rates.is_empty() {
        return vec![run.throughput];
    }
    let groups = BLOCKS.min(rates.len());
    (0..groups)
        .map(|g| {
            let (a, b) = (g * rates.len() / groups, (g + 1) * rates.len() / groups);
            rates[a..b].iter().sum::<f64>() / (b - a) as f64
        })
        .collect()
}

/// The share of block `b` (of `blocks`) that operation `op` had: from the latency parts
/// (the part covering the block's middle), else its share of the whole run.
fn share(run: &RunResult, op: &OpResult, b: usize, blocks: usize) -> f64 {
    let whole = if run.ops > 0 {
        op.count as f64 / run.ops as f64
    } else {
        0.0
    };
    let parts = op.parts.len();
    if parts == 0 {
        return whole;
    }
    let p = ((2 * b + 1) * parts / (2 * blocks)).min(parts - 1);
    let all: u64 = run
        .per_op
        .values()
        .filter_map(|o| o.parts.get(p).map(|x| x.count))
        .sum();
    if all == 0 {
        return whole;
    }
    op.parts[p].count as f64 / all as f64
}

/// One run's blocks of `stat` for the whole mix (`op` None; throughput only) or for one
/// operation. Empty when the run lacks the operation, or when no part has enough
/// operations for the percentile (see [`Stat::min_ops`]).
pub fn blocks(run: &RunResult, op: Option<&str>, stat: Stat) -> Vec<f64> {
    let o = match op {
        None if stat == Stat::Throughput => return rate_blocks(run),
        None => return Vec::new(),
        Some(op) => match run.per_op.get(op) {
            Some(o) => o,
            None => return Vec::new(),
        },
    };
    match stat {
        Stat::Throughput => {
            let rates = rate_blocks(run);
            let n = rates.len();
            if n == 1 {
                return vec![o.throughput];
            }
            rates
                .iter()
                .enumerate()
                .map(|(b, r)| r * share(run, o, b, n))
                .collect()
        }
        _ => o
            .parts
            .iter()
            .filter(|p| p.count >= stat.min_ops())
            .filter_map(|p| {
                let v = match stat {
                    Stat::P50 => p.p50_ns,
                    Stat::P90 => p.p90_ns,
                    Stat::P99 => p.p99_ns,
                    _ => p.p999_ns,
                };
                // Parts from files that did not record this percentile hold 0.
                (v > 0).then_some(v as f64)
            })
            .collect(),
    }
}

/// The runs of `variant` at `threads`, in repeat order.
pub fn runs_of<'a>(r: &'a Results, variant: &str, threads: usize) -> Vec<&'a RunResult> {
    let mut runs: Vec<&RunResult> = r
        .runs
        .iter()
        .filter(|x| x.variant == variant && x.threads == threads)
        .collect();
    runs.sort_by_key(|x| x.repeat);
    runs
}

/// The estimate of `stat` over `runs` (a variant's repeats at one thread count). When no
/// run has blocks for it (too few operations for the percentile), the whole runs' values:
/// their median, with no interval beyond their range.
pub fn over_runs(runs: &[&RunResult], op: Option<&str>, stat: Stat) -> Option<Estimate> {
    let clusters: Vec<Vec<f64>> = runs.iter().map(|r| blocks(r, op, stat)).collect();
    if let Some(e) = of_clusters(&clusters) {
        return Some(e);
    }
    let whole: Vec<f64> = runs
        .iter()
        .filter_map(|r| match op {
            None => Some(r.throughput),
            Some(op) => r.per_op.get(op).map(|o| stat.whole(o)),
        })
        .collect();
    let mut e = of_clusters(&whole.iter().map(|v| vec![*v]).collect::<Vec<_>>())?;
    // One value per run is no block structure: no interval beyond the runs' range.
    let mut sorted = whole;
    sorted.sort_by(f64::total_cmp);
    if let (Some(first), Some(last)) = (sorted.first(), sorted.last()) {
        e.lo = e.lo.max(*first);
        e.hi = e.hi.min(*last);
    }
    Some(e)
}

/// The estimate of `stat` for `variant` at `threads` in `r` (see [`over_runs`]).
pub fn of(
    r: &Results,
    variant: &str,
    threads: usize,
    op: Option<&str>,
    stat: Stat,
) -> Option<Estimate> {
    over_runs(&runs_of(r, variant, threads), op, stat)
}

/// The estimate of `stat` for one operation of a summary (the summary's own value, with no
/// interval, when the file holds no runs of it).
pub fn of_op(r: &Results, s: &VariantSummary, op: &str, o: &OpResult, stat: Stat) -> Estimate {
    of(r, &s.variant, s.threads, Some(op), stat).unwrap_or_else(|| Estimate::exact(stat.whole(o)))
}

/// The estimate of a variant's throughput on the whole mix (the summary's median, with no
/// interval, when the file holds no runs of it).
pub fn of_mix(r: &Results, s: &VariantSummary) -> Estimate {
    of(r, &s.variant, s.threads, None, Stat::Throughput)
        .unwrap_or_else(|| Estimate::exact(s.throughput_median))
}

/// Why the numbers of `r` deserve caution: phases shorter than 1 s or with fewer than
/// 10,000 operations, warm-ups still changing at their cap, and more threads than the
/// machine has cores. One line each, for the run's output, the table and the report.
pub fn caveats(r: &Results) -> Vec<String> {
    let mut out = Vec::new();
    let short: Vec<&RunResult> = r
        .runs
        .iter()
        .filter(|x| x.elapsed_s < MIN_PHASE_S)
        .collect();
    if let Some(min) = short.iter().map(|x| x.elapsed_s).min_by(f64::total_cmp) {
        out.push(format!(
            "{} of {} measured phases lasted under {MIN_PHASE_S:.0} s (shortest {min:.2} s): \
             too short to outlast this machine's slow and fast spells; comparisons across \
             runs will be undecided (use `lab ab`, or longer phases)",
            short.len(),
            r.runs.len()
        ));
    }
    let few: Vec<&RunResult> = r.runs.iter().filter(|x| x.ops < MIN_PHASE_OPS).collect();
    if let Some(min) = few.iter().map(|x| x.ops).min() {
        out.push(format!(
            "{} of {} measured phases ran fewer than 10,000 operations (fewest {min}): too \
             few for a verdict across runs",
            few.len(),
            r.runs.len(),
        ));
    }
    let unsteady: Vec<&RunResult> = r
        .runs
        .iter()
        .filter(|x| x.warmup_steady == Some(false))
        .collect();
    if let Some(first) = unsteady.first() {
        out.push(format!(
            "{} of {} warm-ups were still changing at their cap (first: {}, {} thread{}, \
             repeat {}, after {:.1} s): those phases may include warming up",
            unsteady.len(),
            r.runs.len(),
            first.variant,
            first.threads,
            if first.threads == 1 { "" } else { "s" },
            first.repeat + 1,
            first.warmup_s.unwrap_or(0.0)
        ));
    }
    if let Some(load) = busy(r) {
        out.push(format!(
            "the machine was busy: load average {load:.1} on {} cores with {} thread{} of \
             this run, so other work shared the cores; the numbers are what this run got, \
             not what the machine can do, and targets it missed are undecided",
            r.machine.cores,
            max_threads(r),
            if max_threads(r) == 1 { "" } else { "s" }
        ));
    }
    let threads = max_threads(r);
    let cores = r.machine.cores;
    if cores > 0 && threads > cores {
        out.push(format!(
            "oversubscribed: {threads} threads on {cores} cores; threads wait for each \
             other's cores, so their latencies include that wait"
        ));
    }
    out
}

/// The most threads any measured phase of `r` ran.
fn max_threads(r: &Results) -> usize {
    r.runs.iter().map(|x| x.threads).max().unwrap_or(0)
}

/// The load average of a run whose machine was busy with other work: more runnable
/// threads, on average, than its cores and the run's own threads together. `None` when
/// it was not (or the load was not recorded).
pub fn busy(r: &Results) -> Option<f64> {
    let cores = r.machine.cores;
    r.load
        .filter(|load| cores > 0 && *load > (cores + max_threads(r)) as f64)
}

/// A phase shorter than this (seconds) is too short for a verdict across runs.
pub const MIN_PHASE_S: f64 = 1.0;

/// A phase with fewer operations is too small for a verdict across runs (the caveat
/// spells it "10,000").
pub const MIN_PHASE_OPS: u64 = 10_000;

/// How far a 95% interval reaches from its median, as a percentage of the median: the
/// larger of its two sides ("±3.1%", "±12%"), so the text covers the whole interval; "n/a"
/// when there is no interval (one block) or no median to relate it to.
pub fn interval_pct(e: &Estimate) -> String {
    let reach = (e.hi - e.median).max(e.median - e.lo);
    if !e.has_interval() || e.median <= 0.0 || !reach.is_finite() {
        return "n/a".into();
    }
    let pct = 100.0 * reach / e.median;
    if pct >= 10.0 {
        format!("±{pct:.0}%")
    } else {
        format!("±{pct:.1}%")
    }
}

/// A value with its interval relative to it: "1.2 µs ±4.0%" (just the value when it has no
/// interval).
pub fn with_pct(unit: crate::format::Unit, e: &Estimate) -> String {
    if e.has_interval() {
        format!(
            "{} {}",
            crate::format::human(unit, e.median),
            interval_pct(e)
        )
    } else {
        crate::format::human(unit, e.median)
    }
}

/// A value with its whole interval: "1.07M ops/s [1.01M ops/s, 1.12M ops/s]" (just the value
/// when it has no interval).
pub fn with_interval(unit: crate::format::Unit, e: &Estimate) -> String {
    if e.has_interval() {
        format!(
            "{} [{}, {}]",
            crate::format::human(unit, e.median),
            crate::format::human(unit, e.lo),
            crate::format::human(unit, e.hi)
        )
    } else {
        crate::format::human(unit, e.median)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn intervals_contain_their_median_and_never_go_below_zero() {
        let mut rng = Rng(7);
        for case in 0..300 {
            let repeats = 1 + case % 4;
            let clusters: Vec<Vec<f64>> = (0..repeats)
                .map(|_| {
                    let n = 1 + rng.below(12);
                    (0..n)
                        .map(|_| match rng.below(4) {
                            0 => 0.0,
                            1 => rng.below(1_000_000) as f64,
                            _ => 1e6 + rng.below(100) as f64,
                        })
                        .collect()
                })
                .collect();
            let e = of_clusters(&clusters).unwrap();
            assert!(e.lo >= 0.0, "{e:?}");
            assert!(e.lo <= e.median && e.median <= e.hi, "{e:?}");
        }
        assert_eq!(of_clusters(&[vec![f64::NAN, -1.0]]), None);
        assert_eq!(of_values(&[5.0]).unwrap(), Estimate::exact(5.0));
    }

    #[test]
    fn a_slow_repeat_widens_the_interval_ten_slow_blocks_of_one_run_do_not_make_it_narrow() {
        // Three repeats of ten blocks: two near 100, one near 60 (a slow spell).
        let fast = |s: f64| (0..10).map(|i| s + f64::from(i) * 0.1).collect::<Vec<_>>();
        let e = of_clusters(&[fast(100.0), fast(100.0), fast(60.0)]).unwrap();
        assert!(e.median >= 99.0, "{e:?}");
        assert!(
            e.lo < 70.0,
            "the slow repeat could be the typical one: {e:?}"
        );
        // The same thirty values taken as independent would give a narrower interval.
        let flat: Vec<f64> = [fast(100.0), fast(100.0), fast(60.0)].concat();
        let naive = of_values(&flat).unwrap();
        assert!(naive.lo > e.lo + 10.0, "{naive:?} vs {e:?}");
    }

    #[test]
    fn the_same_blocks_give_the_same_interval() {
        let c = vec![vec![3.0, 1.0, 2.0, 5.0], vec![2.5, 2.0]];
        assert_eq!(of_clusters(&c), of_clusters(&c));
    }
}
