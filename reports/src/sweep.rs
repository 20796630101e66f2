//! `lab sweep`: the same phase at a series of offered rates (open loop), each variant's
//! latency against the rate offered, and its knee: the highest offered rate at which the
//! 99th percentile stays within the SLO and the store keeps up (achieves at least 99% of
//! the rate, dropping nothing). Latency is measured from each operation's intended start
//! (corrected for coordinated omission, as wrk2 does). `results.json` keeps the sweep in
//! `sweep`; `lab compare` compares two sweeps by their knees.

use std::fmt::Write as _;

use serde::{Deserialize, Serialize};

use crate::format::{human, human_ns, times, Unit};

/// The share of the offered rate a step must achieve to count as keeping up.
pub const ACHIEVED: f64 = 0.99;

/// One offered rate's step.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Point {
    /// Operations per second offered, across all threads.
    pub offered: f64,
    /// Operations per second completed: operations over the step's whole window (which
    /// runs past its end while a backlog drains).
    pub achieved: f64,
    pub ops: u64,
    pub errors: u64,
    /// Operations that fell due but were never run (the backlog outlasted the step).
    #[serde(default)]
    pub dropped: u64,
    /// Latency from each operation's intended start, every operation of the mix together.
    pub p50_ns: u64,
    pub p99_ns: u64,
    pub p999_ns: u64,
}

impl Point {
    /// Whether the step kept the SLO: p99 within `slo_ns`, at least [`ACHIEVED`] of the
    /// offered rate achieved, nothing dropped.
    pub fn holds(&self, slo_ns: u64) -> bool {
        self.p99_ns <= slo_ns && self.achieved >= ACHIEVED * self.offered && self.dropped == 0
    }
}

/// One variant's steps and knee.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct SweepVariant {
    pub variant: String,
    /// Steps in the order run (ascending offered rate).
    pub points: Vec<Point>,
    /// The knee (ops/s offered), when some step held.
    pub knee: Option<f64>,
}

/// A whole sweep.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Sweep {
    /// The latency objective for the 99th percentile.
    pub slo_ns: u64,
    pub threads: usize,
    /// How long each step lasts.
    pub step_s: f64,
    /// `auto` (grown geometrically until the store fell behind) or `list`.
    pub rates: String,
    pub variants: Vec<SweepVariant>,
}

/// The knee: the highest offered rate among `points` whose step held the SLO (see
/// [`Point::holds`]); `None` when none did.
pub fn knee(points: &[Point], slo_ns: u64) -> Option<f64> {
    points
        .iter()
        .filter(|p| p.holds(slo_ns))
        .map(|p| p.offered)
        .max_by(f64::total_cmp)
}

/// The sweep as the terminal shows it: per variant, one line per step and its knee.
pub fn render(s: &Sweep) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "sweep: {} thread(s), {} per step, SLO p99 ≤ {}; latency from each operation's \
         intended start; knee = highest offered rate with p99 within the SLO and ≥ {:.0}% \
         of it achieved",
        s.threads,
        human_ns(s.step_s * 1e9),
        human_ns(s.slo_ns as f64),
        ACHIEVED * 100.0
    );
    for v in &s.variants {
        let _ = writeln!(
            out,
            "{}: knee {}",
            v.variant,
            v.knee
                .map_or("none (no step held the SLO)".into(), |k| human(
                    Unit::Rate,
                    k
                ))
        );
        for p in &v.points {
            let _ = writeln!(
                out,
                "  offered {:>12}  achieved {:>12}  p50 {:>9}  p99 {:>9}  p99.9 {:>9}{}{}",
                human(Unit::Rate, p.offered),
                human(Unit::Rate, p.achieved),
                human_ns(p.p50_ns as f64),
                human_ns(p.p99_ns as f64),
                human_ns(p.p999_ns as f64),
                if p.dropped > 0 {
                    format!("  dropped {}", p.dropped)
                } else {
                    String::new()
                },
                if p.holds(s.slo_ns) { "" } else { "  (misses)" }
            );
        }
    }
    out
}

/// Two sweeps compared by their knees, variant by variant: the lines to print, and whether
/// any knee fell by more than `threshold` (a fraction) or vanished (a regression). `Err`
/// when they cannot be compared (different SLOs or thread counts).
pub fn compare(base: &Sweep, new: &Sweep, threshold: f64) -> Result<(Vec<String>, bool), String> {
    if base.slo_ns != new.slo_ns || base.threads != new.threads {
        return Err(format!(
            "the sweeps differ in SLO ({} vs {}) or threads ({} vs {}): knees are comparable \
             only under the same objective",
            human_ns(base.slo_ns as f64),
            human_ns(new.slo_ns as f64),
            base.threads,
            new.threads
        ));
    }
    let mut lines = Vec::new();
    let mut regression = false;
    for n in &new.variants {
        let Some(b) = base.variants.iter().find(|b| b.variant == n.variant) else {
            lines.push(format!("{}: only in the new sweep", n.variant));
            continue;
        };
        let text = |k: Option<f64>| k.map_or("none".into(), |k| human(Unit::Rate, k));
        let verdict = match (b.knee, n.knee) {
            (Some(bk), Some(nk)) if nk < bk * (1.0 - threshold) => {
                regression = true;
                format!("REGRESSION ({} of the base)", times(nk / bk))
            }
            (Some(bk), Some(nk)) if nk > bk * (1.0 + threshold) => {
                format!("better ({} the base)", times(nk / bk))
            }
            (Some(_), Some(_)) => "unchanged (within the threshold)".into(),
            (Some(_), None) => {
                regression = true;
                "REGRESSION (no step holds the SLO any more)".into()
            }
            (None, Some(_)) => "better (now holds the SLO)".into(),
            (None, None) => "no knee on either side".into(),
        };
        lines.push(format!(
            "{}: knee {} -> {}: {verdict}",
            n.variant,
            text(b.knee),
            text(n.knee)
        ));
    }
    Ok((lines, regression))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn point(offered: f64, achieved: f64, p99_us: u64) -> Point {
        Point {
            offered,
            achieved,
            p99_ns: p99_us * 1000,
            ..Point::default()
        }
    }

    #[test]
    fn the_knee_is_the_highest_rate_that_keeps_the_slo_and_keeps_up() {
        let slo = 1_000_000;
        let points = [
            point(1000.0, 1000.0, 200),
            point(2000.0, 1995.0, 400),
            // Within the SLO but behind: 98% achieved.
            point(4000.0, 3920.0, 900),
            // Keeps up, but p99 past the SLO.
            point(8000.0, 8000.0, 1500),
        ];
        assert_eq!(knee(&points, slo), Some(2000.0));
        // Exactly at the SLO and exactly 99% counts.
        let edge = [point(5000.0, 4950.0, 1000)];
        assert_eq!(knee(&edge, slo), Some(5000.0));
        // A dropped operation is falling behind.
        let mut dropped = point(3000.0, 3000.0, 100);
        dropped.dropped = 1;
        assert_eq!(knee(&[dropped], slo), None);
        assert_eq!(knee(&[point(100.0, 100.0, 2000)], slo), None);
        assert_eq!(knee(&[], slo), None);
        // A later passing step at a higher rate is the knee, whatever failed between.
        let bumpy = [
            point(1000.0, 1000.0, 200),
            point(2000.0, 2000.0, 5000),
            point(3000.0, 3000.0, 300),
        ];
        assert_eq!(knee(&bumpy, slo), Some(3000.0));
    }

    #[test]
    fn sweeps_compare_by_their_knees() {
        let sweep = |knees: &[(&str, Option<f64>)]| Sweep {
            slo_ns: 1_000_000,
            threads: 1,
            variants: knees
                .iter()
                .map(|(v, k)| SweepVariant {
                    variant: (*v).into(),
                    knee: *k,
                    ..SweepVariant::default()
                })
                .collect(),
            ..Sweep::default()
        };
        let base = sweep(&[
            ("a", Some(10_000.0)),
            ("b", Some(5000.0)),
            ("c", Some(100.0)),
        ]);
        let new = sweep(&[("a", Some(9700.0)), ("b", Some(4000.0)), ("c", None)]);
        let (lines, regression) = compare(&base, &new, 0.05).unwrap_or_default();
        assert!(regression);
        assert!(lines[0].contains("unchanged"), "{lines:?}");
        assert!(lines[1].contains("REGRESSION (0.80×"), "{lines:?}");
        assert!(lines[2].contains("no step holds"), "{lines:?}");
        let (_, regression) = compare(&base, &base, 0.05).unwrap_or_default();
        assert!(!regression);
        let other = Sweep {
            slo_ns: 2_000_000,
            ..base.clone()
        };
        assert!(compare(&base, &other, 0.05).is_err());
    }
}
