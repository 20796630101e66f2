//! Histograms in and out of the schema, percentiles, and the spread over repeats.

use std::collections::BTreeMap;

use hdrhistogram::Histogram as Hdr;

use crate::results::{Histogram, OpResult};

/// Significant figures every lab histogram uses.
pub const SIGFIG: u8 = 3;

/// An empty histogram at the lab's precision.
fn empty() -> Hdr<u64> {
    Hdr::new(SIGFIG).unwrap_or_else(|_| unreachable!("3 significant figures is valid"))
}

/// Lossless pairs of recorded buckets.
pub fn encode(h: &Hdr<u64>) -> Histogram {
    Histogram {
        sigfig: h.sigfig(),
        counts: h
            .iter_recorded()
            .map(|v| [v.value_iterated_to(), v.count_at_value()])
            .collect(),
    }
}

/// Rebuilds the HDR histogram from its pairs.
pub fn decode(h: &Histogram) -> Hdr<u64> {
    let mut out = Hdr::new(h.sigfig.clamp(1, 5)).unwrap_or_else(|_| empty());
    for [value, count] in &h.counts {
        // Values come from a histogram of the same precision, so this cannot fail; a
        // hand-edited file with an absurd value is skipped rather than trusted.
        let _ = out.record_n(*value, *count);
    }
    out
}

/// Merges two stored histograms exactly.
pub fn merge(a: &Histogram, b: &Histogram) -> Histogram {
    let mut h = decode(a);
    let _ = h.add(decode(b));
    encode(&h)
}

/// Percentiles and throughput of one operation type, from its histogram.
pub fn op_result(
    h: &Hdr<u64>,
    errors: u64,
    error_samples: Vec<String>,
    elapsed_s: f64,
) -> OpResult {
    let count = h.len();
    OpResult {
        count,
        errors,
        error_samples,
        throughput: if elapsed_s > 0.0 {
            count as f64 / elapsed_s
        } else {
            0.0
        },
        p50_ns: h.value_at_quantile(0.50),
        p90_ns: h.value_at_quantile(0.90),
        p99_ns: h.value_at_quantile(0.99),
        p999_ns: h.value_at_quantile(0.999),
        p9999_ns: h.value_at_quantile(0.9999),
        max_ns: h.max(),
        mean_ns: h.mean(),
        histogram: encode(h),
        allocations: None,
        parts: Vec::new(),
    }
}

/// Merges per-operation results of several runs (counts and histograms add; throughput
/// is the merged count over `elapsed_s`).
pub fn merge_ops(parts: &[&OpResult], elapsed_s: f64) -> OpResult {
    let mut h = empty();
    let mut errors = 0;
    let mut samples = Vec::new();
    // Allocations add up only when every part counted them.
    let allocations = parts
        .iter()
        .map(|p| p.allocations)
        .sum::<Option<u64>>()
        .filter(|_| !parts.is_empty());
    for p in parts {
        let _ = h.add(decode(&p.histogram));
        errors += p.errors;
        for s in &p.error_samples {
            if samples.len() < 3 && !samples.contains(s) {
                samples.push(s.clone());
            }
        }
    }
    OpResult {
        allocations,
        ..op_result(&h, errors, samples, elapsed_s)
    }
}

/// Sums backend counters over phases (or merged files) and derives their ratios: every
/// `<name>_hits` with a `<name>_misses` gets `<name>_hit_ratio` = hits / (hits + misses),
/// recomputed from the sums (a ratio itself never adds). A ratio with no counters behind
/// it (files written before counters were kept) is averaged over the parts that have it.
pub fn merge_metrics<'a>(
    parts: impl IntoIterator<Item = &'a BTreeMap<String, f64>>,
) -> BTreeMap<String, f64> {
    let mut sum: BTreeMap<String, f64> = BTreeMap::new();
    let mut ratios: BTreeMap<String, (f64, usize)> = BTreeMap::new();
    for part in parts {
        for (k, v) in part {
            if k.ends_with("_ratio") {
                let r = ratios.entry(k.clone()).or_default();
                r.0 += v;
                r.1 += 1;
            } else {
                *sum.entry(k.clone()).or_default() += v;
            }
        }
    }
    for (k, (total, n)) in ratios {
        sum.insert(k, total / n as f64);
    }
    let ratios: Vec<(String, f64)> = sum
        .iter()
        .filter_map(|(k, hits)| {
            let name = k.strip_suffix("_hits")?;
            let misses = sum.get(&format!("{name}_misses"))?;
            let total = hits + misses;
            (total > 0.0).then(|| (format!("{name}_hit_ratio"), hits / total))
        })
        .collect();
    sum.extend(ratios);
    sum
}

/// How many measured repeats a summary's numbers come from: its runs in `results` (every
/// repeat of every merged file), or 1 when the file holds no runs for it.
pub fn repeats(results: &crate::Results, s: &crate::VariantSummary) -> usize {
    results
        .runs
        .iter()
        .filter(|r| r.variant == s.variant && r.threads == s.threads)
        .count()
        .max(1)
}

/// Sets a summary's numbers over its runs (one variant at one thread count): the whole
/// mix's throughput estimate (median and 95% interval, [`crate::estimate`]) and spread over
/// repeats, and per operation the runs merged (histograms exactly) with the throughput
/// estimate's median. The lab and `lab merge` both summarize through this.
pub fn summarize_runs(s: &mut crate::VariantSummary, runs: &[&crate::RunResult]) {
    use crate::estimate::{over_runs, Stat};
    let mix = over_runs(runs, None, Stat::Throughput);
    s.throughput_median = mix.map_or(0.0, |e| e.median);
    s.throughput_ci95 = mix.map_or([0.0; 2], |e| e.interval());
    s.spread = spread(&runs.iter().map(|r| r.throughput).collect::<Vec<_>>()).2;
    let total_s: f64 = runs.iter().map(|r| r.elapsed_s).sum();
    let ops: std::collections::BTreeSet<&String> =
        runs.iter().flat_map(|r| r.per_op.keys()).collect();
    s.per_op = ops
        .into_iter()
        .map(|op| {
            let each: Vec<&OpResult> = runs.iter().filter_map(|r| r.per_op.get(op)).collect();
            let mut merged = merge_ops(&each, total_s);
            if let Some(e) = over_runs(runs, Some(op), Stat::Throughput) {
                merged.throughput = e.median;
            }
            (op.clone(), merged)
        })
        .collect();
}

/// Two-sided 97.5% quantiles of Student's t for 1..=30 degrees of freedom.
const T975: [f64; 30] = [
    12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179, 2.160,
    2.145, 2.131, 2.120, 2.110, 2.101, 2.093, 2.086, 2.080, 2.074, 2.069, 2.064, 2.060, 2.056,
    2.052, 2.048, 2.045, 2.042,
];

/// The two-sided 97.5% quantile of Student's t with `df` degrees of freedom (≥ 1).
pub fn student_t(df: usize) -> f64 {
    T975.get(df.max(1) - 1).copied().unwrap_or(1.96)
}

/// 99.5% quantiles of Student's t for 1..=30 degrees of freedom.
const T995: [f64; 30] = [
    63.657, 9.925, 5.841, 4.604, 4.032, 3.707, 3.499, 3.355, 3.250, 3.169, 3.106, 3.055, 3.012,
    2.977, 2.947, 2.921, 2.898, 2.878, 2.861, 2.845, 2.831, 2.819, 2.807, 2.797, 2.787, 2.779,
    2.771, 2.763, 2.756, 2.750,
];

/// The 99.5% quantile of Student's t with `df` degrees of freedom (≥ 1): the half-width
/// factor of a two-sided 99% interval (the normal's 2.576 past 30, slightly narrow up to
/// about 60).
pub fn student_t_995(df: usize) -> f64 {
    T995.get(df.max(1) - 1)
        .copied()
        .unwrap_or(if df <= 60 { 2.66 } else { 2.576 })
}

/// Median, 95% interval of the mean, and relative spread ((max - min) / median).
pub fn spread(samples: &[f64]) -> (f64, [f64; 2], f64) {
    if samples.is_empty() {
        return (0.0, [0.0, 0.0], 0.0);
    }
    let mut v = samples.to_vec();
    v.sort_by(f64::total_cmp);
    let n = v.len();
    let median = if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    };
    let mean = v.iter().sum::<f64>() / n as f64;
    let ci = if n < 2 {
        [mean, mean]
    } else {
        let var = v.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1) as f64;
        let t = student_t(n - 1);
        let half = t * (var / n as f64).sqrt();
        [mean - half, mean + half]
    };
    let rel = if median > 0.0 {
        (v[n - 1] - v[0]) / median
    } else {
        0.0
    };
    (median, ci, rel)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn merging_two_halves_equals_the_whole() {
        let (mut a, mut b, mut whole) = (empty(), empty(), empty());
        for v in 1..10_000u64 {
            let x = v * 37 % 5_000_000 + 1;
            whole.record(x).unwrap();
            if v % 2 == 0 {
                a.record(x).unwrap()
            } else {
                b.record(x).unwrap()
            }
        }
        let merged = decode(&merge(&encode(&a), &encode(&b)));
        assert_eq!(merged, whole);
        assert_eq!(
            merged.value_at_quantile(0.99),
            whole.value_at_quantile(0.99)
        );
    }

    #[test]
    fn counters_add_and_ratios_come_from_the_sums() {
        let phase = |h: f64, m: f64| {
            let mut p = BTreeMap::new();
            p.insert("cache_hits".to_owned(), h);
            p.insert("cache_misses".to_owned(), m);
            p.insert("cache_hit_ratio".to_owned(), h / (h + m));
            p
        };
        let merged = merge_metrics(&[phase(90.0, 10.0), phase(10.0, 90.0), phase(0.0, 0.0)]);
        assert_eq!(merged["cache_hits"], 100.0);
        assert_eq!(merged["cache_misses"], 100.0);
        assert_eq!(merged["cache_hit_ratio"], 0.5);
        let old = BTreeMap::from([("cache_hit_ratio".to_owned(), 0.8)]);
        let older = BTreeMap::from([("cache_hit_ratio".to_owned(), 0.6)]);
        assert!((merge_metrics([&old, &older])["cache_hit_ratio"] - 0.7).abs() < 1e-12);
    }

    #[test]
    fn spread_of_repeats() {
        let (median, ci, rel) = spread(&[100.0, 110.0, 90.0]);
        assert_eq!(median, 100.0);
        assert!(ci[0] < 100.0 && ci[1] > 100.0);
        assert!((rel - 0.2).abs() < 1e-9);
        assert_eq!(spread(&[5.0]), (5.0, [5.0, 5.0], 0.0));
    }
}
