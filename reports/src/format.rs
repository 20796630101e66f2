//! Every number and label a person reads, formatted in one place: rates, times, sizes,
//! ratios, and the words for verdicts. The terminal table, the HTML report, `compare` and
//! the targets table all call these, so a unit is spelled the same everywhere.

/// What a number measures, which fixes its unit.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Unit {
    /// Operations per second.
    Rate,
    /// Nanoseconds.
    Time,
    Bytes,
    /// A plain number (a fraction, a count).
    Ratio,
}

/// Formats a base-unit value (ops/s, ns, bytes, plain number) for people.
pub fn human(unit: Unit, v: f64) -> String {
    if v < 0.0 && unit != Unit::Ratio {
        return format!("-{}", human(unit, -v));
    }
    match unit {
        Unit::Rate if v >= 1e6 => format!("{:.2}M ops/s", v / 1e6),
        Unit::Rate if v >= 1e3 => format!("{:.1}k ops/s", v / 1e3),
        Unit::Rate => format!("{v:.0} ops/s"),
        Unit::Time => human_ns(v),
        Unit::Bytes if v >= 1e12 => format!("{:.1} TB", v / 1e12),
        Unit::Bytes if v >= 1e9 => format!("{:.1} GB", v / 1e9),
        Unit::Bytes if v >= 1e6 => format!("{:.1} MB", v / 1e6),
        Unit::Bytes if v >= 1e3 => format!("{:.1} KB", v / 1e3),
        Unit::Bytes => format!("{v:.0} B"),
        Unit::Ratio => format!("{v:.3}"),
    }
}

/// Formats nanoseconds as ns, µs, ms or s.
pub fn human_ns(ns: f64) -> String {
    if ns < 0.0 {
        return format!("-{}", human_ns(-ns));
    }
    if ns >= 1e9 {
        format!("{:.2} s", ns / 1e9)
    } else if ns >= 1e6 {
        format!("{:.2} ms", ns / 1e6)
    } else if ns >= 1e3 {
        format!("{:.1} µs", ns / 1e3)
    } else {
        format!("{ns:.0} ns")
    }
}

/// What `compare` concluded about a change.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// No difference: the whole interval lies within the threshold.
    Same,
    /// An improvement: the whole interval lies past the threshold on the fast side.
    Faster,
    /// A regression: the whole interval lies past the threshold on the slow side.
    Slower,
    /// Undecided: the interval straddles the threshold, or the data cannot support a
    /// verdict (the row says why).
    Unsure,
}

/// The word for a wall-clock verdict, wherever one is printed.
pub fn verdict_label(v: Verdict) -> &'static str {
    match v {
        Verdict::Same => "no difference",
        Verdict::Faster => "improvement",
        Verdict::Slower => "REGRESSION",
        Verdict::Unsure => "undecided",
    }
}

/// Allocations per operation ("0", "1.0", "19.4"); "n/a" when not counted.
pub fn allocations(per_op: Option<f64>) -> String {
    match per_op {
        None => "n/a".into(),
        Some(0.0) => "0".into(),
        Some(a) => format!("{a:.1}"),
    }
}

/// A count with thousands separators ("10,000").
pub fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// A fraction as a percentage ("87.3%").
pub fn percent(fraction: f64) -> String {
    format!("{:.1}%", fraction * 100.0)
}

/// A count per operation (instructions, estimated cycles, memory accesses, misses), precise
/// enough that a 0.1% change shows: "12345", "12.35M", "0.42".
pub fn human_count(v: f64) -> String {
    if v >= 1e7 {
        format!("{:.2}M", v / 1e6)
    } else if v >= 100.0 {
        format!("{v:.0}")
    } else {
        format!("{v:.2}")
    }
}

/// A relative change (`new / base − 1`) as a signed percentage with two decimals.
pub fn change_percent(delta: f64) -> String {
    let pct = delta * 100.0;
    if !delta.is_finite() {
        "new".into()
    } else if pct != 0.0 && pct.abs() < 0.005 {
        // A change of a few instructions in a million still shows as one.
        format!("{pct:+.4}%")
    } else {
        format!("{pct:+.2}%")
    }
}

/// The word for a verdict on instruction counts (no noise: equal is "unchanged").
pub fn count_verdict_label(v: Verdict, delta: f64) -> &'static str {
    match v {
        Verdict::Same if delta == 0.0 => "unchanged",
        Verdict::Same => "within threshold",
        Verdict::Faster => "fewer instructions",
        Verdict::Slower => "REGRESSION",
        // Counts always have an answer; shown as wall-clock's word if one ever comes here.
        Verdict::Unsure => verdict_label(v),
    }
}

/// A variant at a thread count, as charts and winners name it ("plain ×2": 2 threads).
pub fn variant_threads(variant: &str, threads: usize) -> String {
    format!("{variant} ×{threads}")
}

/// `n` and the noun, singular for one: "1 variant", "2 variants", "0 records".
pub fn count(n: impl Into<u64>, noun: &str) -> String {
    let n = n.into();
    if n == 1 {
        format!("1 {noun}")
    } else {
        format!("{n} {noun}s")
    }
}

/// "1 thread", "2 threads".
pub fn threads_text(threads: usize) -> String {
    count(threads as u64, "thread")
}

/// The file a variant's flamegraph at a thread count is written to (the runner names it,
/// the report links it from the variant's row).
pub fn flamegraph_file(variant: &str, threads: usize) -> String {
    format!("flamegraph-{}-{threads}t.svg", variant.replace(':', "_"))
}

/// A ratio of two rates for a sentence: "1.8×", "1.05×".
pub fn times(ratio: f64) -> String {
    if !ratio.is_finite() {
        "∞×".into()
    } else if ratio >= 10.0 {
        format!("{ratio:.0}×")
    } else if ratio >= 1.1 {
        format!("{ratio:.1}×")
    } else {
        format!("{ratio:.2}×")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_are_singular_for_one_only() {
        assert_eq!(count(1u64, "variant"), "1 variant");
        assert_eq!(count(0u64, "record"), "0 records");
        assert_eq!(count(2u64, "pair"), "2 pairs");
        assert_eq!(threads_text(1), "1 thread");
    }

    #[test]
    fn units_switch_at_their_thresholds() {
        assert_eq!(human(Unit::Rate, 999.0), "999 ops/s");
        assert_eq!(human(Unit::Rate, 1500.0), "1.5k ops/s");
        assert_eq!(human(Unit::Rate, 2.5e6), "2.50M ops/s");
        assert_eq!(human(Unit::Time, 1500.0), "1.5 µs");
        assert_eq!(human_ns(2.5e6), "2.50 ms");
        assert_eq!(human_ns(3e9), "3.00 s");
        assert_eq!(human(Unit::Bytes, 2048.0), "2.0 KB");
        assert_eq!(human(Unit::Bytes, 3.5e9), "3.5 GB");
        assert_eq!(human(Unit::Bytes, 1.3e12), "1.3 TB");
        assert_eq!(human(Unit::Rate, -2e5), "-200.0k ops/s");
        assert_eq!(human(Unit::Ratio, 0.5), "0.500");
        assert_eq!(allocations(Some(0.0)), "0");
        assert_eq!(allocations(Some(19.44)), "19.4");
        assert_eq!(allocations(None), "n/a");
        assert_eq!(times(2.567), "2.6×");
        assert_eq!(percent(0.8734), "87.3%");
        assert_eq!(thousands(10_000), "10,000");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1_234_567), "1,234,567");
        assert_eq!(human_count(12_345.4), "12345");
        assert_eq!(human_count(12_345_678.0), "12.35M");
        assert_eq!(human_count(0.4242), "0.42");
        assert_eq!(change_percent(0.0213), "+2.13%");
        assert_eq!(change_percent(f64::INFINITY), "new");
        assert_eq!(change_percent(0.000_008), "+0.0008%");
        assert_eq!(change_percent(0.0), "+0.00%");
        assert_eq!(count_verdict_label(Verdict::Same, 0.0), "unchanged");
        assert_eq!(count_verdict_label(Verdict::Slower, 0.02), "REGRESSION");
    }
}
