//! `lab sweep`: for each variant, loaded once, the workload's phase at a series of offered
//! rates (open loop: latency from each operation's intended start), each step on the
//! loaded data again (the previous step's inserts removed), and the knee
//! (`acorn_reports::sweep::knee`). Rates are given, or found: `auto` runs a short closed
//! loop for the store's top speed, then offers from a hundredth of it upward, ×2 a step,
//! until two steps in a row miss the SLO after one held (three, when none has), or the
//! rate passes 2.5× the top speed.

use std::sync::atomic::AtomicBool;
use std::time::Duration;

use acorn_reports::sweep::{knee, Point, Sweep, SweepVariant};
use acorn_reports::{stats, OpResult};

use super::clock::Clock;
use super::phase::{run_phase, PhaseResult};
use super::{adjust, restore, Progress, RunOptions};
use crate::backend::{self, Backend, BackendError, Options};
use crate::workload::{Bound, Plan};

/// The offered rates of a sweep.
#[derive(Clone, Debug, PartialEq)]
pub enum Rates {
    /// These, in ascending order.
    List(Vec<f64>),
    /// Found per variant (see the module's comment).
    Auto,
}

/// Growth per step of `auto`.
pub const AUTO_GROWTH: f64 = 2.0;
/// At most this many steps per variant under `auto`.
pub const AUTO_STEPS: usize = 16;

/// How a sweep runs.
#[derive(Clone, Debug)]
pub struct SweepOptions {
    pub rates: Rates,
    pub slo: Duration,
    /// How long each step lasts.
    pub step: Duration,
}

/// Parses `--rates`: `auto`, or a comma-separated list like `500,1k,2.5k,1M` (ops/s
/// across all threads).
pub fn parse_rates(text: &str) -> Result<Rates, String> {
    if text.trim() == "auto" {
        return Ok(Rates::Auto);
    }
    let mut rates = Vec::new();
    for part in text.split(',') {
        let part = part.trim();
        let (num, scale) = match part.char_indices().last() {
            Some((i, 'k' | 'K')) => (&part[..i], 1e3),
            Some((i, 'm' | 'M')) => (&part[..i], 1e6),
            _ => (part, 1.0),
        };
        let rate = num
            .parse::<f64>()
            .ok()
            .map(|n| n * scale)
            .filter(|r| r.is_finite() && *r >= 1.0 && *r <= 1e9)
            .ok_or_else(|| format!("{part:?}: not a rate (ops/s, 1 to 1e9; `1k`, `2.5k`, `1M`)"))?;
        rates.push(rate);
    }
    rates.sort_by(f64::total_cmp);
    rates.dedup();
    Ok(Rates::List(rates))
}

/// The step's numbers, every operation of the mix together.
fn point(offered: f64, p: &PhaseResult) -> Point {
    let elapsed_s = p.elapsed_ns as f64 / 1e9;
    let per_op = p.recorded.per_op(elapsed_s);
    let parts: Vec<&OpResult> = per_op.values().collect();
    let all = stats::merge_ops(&parts, elapsed_s);
    let ops = p.recorded.ops();
    Point {
        offered,
        achieved: if elapsed_s > 0.0 {
            ops as f64 / elapsed_s
        } else {
            0.0
        },
        ops,
        errors: p.recorded.errors(),
        dropped: p.dropped,
        p50_ns: all.p50_ns,
        p99_ns: all.p99_ns,
        p999_ns: all.p999_ns,
    }
}

/// One variant's steps: its loaded backend and what every step shares.
struct Stepper<'a> {
    b: &'a dyn Backend,
    plan: &'a Plan,
    threads: usize,
    clock: &'a dyn Clock,
    stop: &'a AtomicBool,
    /// Says which rate runs (progress).
    announce: &'a dyn Fn(f64),
}

impl Stepper<'_> {
    /// One step at `rate` (`None`: closed loop) lasting `step`, from the loaded data (its
    /// inserts removed after): `None` when stopped.
    fn at(&self, rate: Option<f64>, step: Duration) -> Result<Option<PhaseResult>, BackendError> {
        if let Some(r) = rate {
            (self.announce)(r);
        }
        let mut p = self.plan.clone();
        p.run.rate = rate;
        p.run.bound = Bound::Duration(step);
        let r = run_phase(self.b, &p, self.threads, false, self.clock, self.stop);
        restore::remove(self.b, self.plan, r.inserted.clone())?;
        Ok((!r.stopped).then_some(r))
    }

    /// The steps at `rates`, in order.
    fn list(&self, rates: &[f64], step: Duration) -> Result<Option<Vec<Point>>, BackendError> {
        let mut points = Vec::new();
        for &rate in rates {
            let Some(r) = self.at(Some(rate), step)? else {
                return Ok(None);
            };
            points.push(point(rate, &r));
        }
        Ok(Some(points))
    }

    /// `auto`: the top speed from a closed loop of half a step, then rates doubling from a
    /// hundredth of it until two steps in a row miss the SLO after one held (three when
    /// none has), [`AUTO_STEPS`] steps, or 2.5× the top speed.
    fn auto(&self, step: Duration, slo_ns: u64) -> Result<Option<Vec<Point>>, BackendError> {
        let Some(top) = self.at(None, step / 2)? else {
            return Ok(None);
        };
        let top = top.recorded.ops() as f64 / (top.elapsed_ns.max(1) as f64 / 1e9);
        let mut rate = (top / 100.0).max(self.threads as f64);
        let (mut points, mut misses, mut held) = (Vec::new(), 0, false);
        while points.len() < AUTO_STEPS && misses < if held { 2 } else { 3 } && rate <= top * 2.5 {
            let Some(r) = self.at(Some(rate), step)? else {
                return Ok(None);
            };
            let p = point(rate, &r);
            held |= p.holds(slo_ns);
            misses = if p.holds(slo_ns) { 0 } else { misses + 1 };
            points.push(p);
            rate *= AUTO_GROWTH;
        }
        Ok(Some(points))
    }
}

/// Runs the sweep of `plan` (its first thread count) over `run_opts.variants` (default:
/// the plan's); `None` when stopped.
pub fn run(
    plan: &Plan,
    run_opts: &RunOptions,
    opts: &SweepOptions,
    clock: &dyn Clock,
    stop: &AtomicBool,
    progress: &dyn Progress,
) -> Result<Option<Sweep>, BackendError> {
    let plan = adjust(plan, run_opts)?;
    let threads = plan.run.threads.first().copied().unwrap_or(1);
    let options = Options {
        cache_capacity: plan.cache.capacity,
        cache_policy: plan.cache.policy,
        scratch_dir: std::env::temp_dir(),
        values: plan.dataset.value,
    };
    let slo_ns = u64::try_from(opts.slo.as_nanos()).unwrap_or(u64::MAX);
    let total = plan.variants.len() as u64;
    let mut variants = Vec::new();
    for (i, name) in plan.variants.iter().enumerate() {
        progress.started(&format!("sweeping {name}: loading"), i as u64, total);
        let backend = backend::open(name, &options)?;
        if restore::fill(backend.as_ref(), &plan, stop)?.is_none() {
            return Ok(None);
        }
        let announce = |rate: f64| {
            progress.started(
                &format!("sweeping {name}: {rate:.0} ops/s"),
                i as u64,
                total,
            );
        };
        let stepper = Stepper {
            b: backend.as_ref(),
            plan: &plan,
            threads,
            clock,
            stop,
            announce: &announce,
        };
        let points = match &opts.rates {
            Rates::List(rates) => stepper.list(rates, opts.step)?,
            Rates::Auto => stepper.auto(opts.step, slo_ns)?,
        };
        let Some(points) = points else {
            return Ok(None);
        };
        variants.push(SweepVariant {
            variant: name.clone(),
            knee: knee(&points, slo_ns),
            points,
        });
    }
    Ok(Some(Sweep {
        slo_ns,
        threads,
        step_s: opts.step.as_secs_f64(),
        rates: match opts.rates {
            Rates::Auto => "auto".into(),
            Rates::List(_) => "list".into(),
        },
        variants,
    }))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn rates_parse_with_their_suffixes_and_bad_ones_are_named() {
        assert_eq!(parse_rates("auto"), Ok(Rates::Auto));
        assert_eq!(
            parse_rates("2k, 500,1.5k,1M,2k"),
            Ok(Rates::List(vec![500.0, 1500.0, 2000.0, 1e6]))
        );
        let e = parse_rates("1k,fast").unwrap_err();
        assert!(e.contains("\"fast\""), "{e}");
        assert!(parse_rates("0").is_err());
        assert!(parse_rates("").is_err());
    }
}
