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
    match unit {
        Unit::Rate if v >= 1e6 => format!("{:.2}M ops/s", v / 1e6),
        Unit::Rate if v >= 1e3 => format!("{:.1}k ops/s", v / 1e3),
        Unit::Rate => format!("{v:.0} ops/s"),
        Unit::Time => human_ns(v),
        Unit::Bytes if v >= 1e6 => format!("{:.1} MB", v / 1e6),
        Unit::Bytes if v >= 1e3 => format!("{:.1} KB", v / 1e3),
        Unit::Bytes => format!("{v:.0} B"),
        Unit::Ratio => format!("{v:.3}"),
    }
}

/// Formats nanoseconds as ns, µs, ms or s.
pub fn human_ns(ns: f64) -> String {
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

/// A target's status word.
pub fn pass_label(pass: bool) -> &'static str {
    if pass {
        "pass"
    } else {
        "FAIL"
    }
}

/// What `compare` concluded about a change.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Inside the noise or the threshold.
    Same,
    Faster,
    /// A regression.
    Slower,
    /// No noise estimate on one side (a single repeat too short to judge): not counted.
    Unsure,
}

/// The word for a verdict, wherever one is printed.
pub fn verdict_label(v: Verdict) -> &'static str {
    match v {
        Verdict::Same => "within noise",
        Verdict::Faster => "faster",
        Verdict::Slower => "REGRESSION",
        Verdict::Unsure => "no noise estimate",
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

/// How many times faster one rate is than another ("2.6×").
pub fn times(ratio: f64) -> String {
    format!("{ratio:.2}×")
}

/// A fraction as a percentage ("87.3%").
pub fn percent(fraction: f64) -> String {
    format!("{:.1}%", fraction * 100.0)
}

/// A variant at a thread count, as charts and winners name it ("plain ×2").
pub fn variant_threads(variant: &str, threads: usize) -> String {
    format!("{variant} ×{threads}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn units_switch_at_their_thresholds() {
        assert_eq!(human(Unit::Rate, 999.0), "999 ops/s");
        assert_eq!(human(Unit::Rate, 1500.0), "1.5k ops/s");
        assert_eq!(human(Unit::Rate, 2.5e6), "2.50M ops/s");
        assert_eq!(human(Unit::Time, 1500.0), "1.5 µs");
        assert_eq!(human_ns(2.5e6), "2.50 ms");
        assert_eq!(human_ns(3e9), "3.00 s");
        assert_eq!(human(Unit::Bytes, 2048.0), "2.0 KB");
        assert_eq!(human(Unit::Ratio, 0.5), "0.500");
        assert_eq!(allocations(Some(0.0)), "0");
        assert_eq!(allocations(Some(19.44)), "19.4");
        assert_eq!(allocations(None), "n/a");
        assert_eq!(times(2.567), "2.57×");
        assert_eq!(percent(0.8734), "87.3%");
    }
}
