//! The paired rounds behind `lab run`'s verdicts. After the repeats at a thread count, with
//! every variant loaded, the variants take turns in short slices (`runner::slice`): one
//! slice each per round, in `paired::forward` order (first to last, then last to first,
//! ...), every variant's slice of a round on the same CPUs (`runner::pin`) and running the
//! same seeded operations. A verdict then compares two variants round by round
//! (`acorn_reports::paired`), so both numbers of a ratio were taken within a few tenths
//! of a second of each other, not in repeats seconds or minutes apart.

use std::collections::BTreeMap;
use std::sync::atomic::AtomicBool;
use std::time::Duration;

use acorn_reports::paired::{forward, per_second, RoundRates, Rounds, Timing};

use super::clock::Clock;
use super::phase::PhaseResult;
use super::pin;
use super::slice::Slicer;
use crate::backend::{Backend, BackendError};
use crate::workload::{OpKind, Plan};

/// Rounds and slice length by default, and for `--quick`.
pub const ROUNDS: usize = 40;
pub const SLICE: Duration = Duration::from_millis(50);
pub const QUICK_ROUNDS: usize = 10;
pub const QUICK_SLICE: Duration = Duration::from_millis(20);

/// How much faster than over its wall-clock time a warm-up may be judged over its busy
/// time when slices are sized from it (see [`sizing_rate`]).
pub const MAX_BUSY_SPEEDUP: f64 = 20.0;

/// The rate a warm-up of `ops` operations sizes slices by: over its busy time (wall-clock
/// less the wait for a CPU) where it has one, so that a slice holds about as much work on
/// a loaded machine as on a quiet one, but never more than [`MAX_BUSY_SPEEDUP`] times the
/// rate over its wall-clock time. Busy time is the difference of two clocks (the window on
/// the runner's clock, the wait on the kernel's); when the wait swallows nearly the whole
/// window, or the clocks disagree, it comes out at a few nanoseconds, and slices sized
/// from it would hold billions of operations and never end.
pub fn sizing_rate(ops: u64, busy_ns: Option<u64>, elapsed_ns: u64) -> f64 {
    let wall = per_second(ops, elapsed_ns);
    match busy_ns.map(|b| per_second(ops, b)) {
        Some(busy) if wall > 0.0 => busy.min(wall * MAX_BUSY_SPEEDUP),
        Some(busy) => busy,
        None => wall,
    }
}

/// One variant's slices as they are taken: rates over busy time and over wall-clock time.
struct Taken {
    ops: u64,
    busy: Vec<Option<f64>>,
    wall: Vec<f64>,
    per_op_busy: BTreeMap<String, Vec<Option<f64>>>,
    per_op_wall: BTreeMap<String, Vec<f64>>,
}

impl Taken {
    fn push(&mut self, p: &PhaseResult, kinds: &[OpKind]) {
        let ops = p.recorded.ops();
        self.wall.push(per_second(ops, p.elapsed_ns));
        self.busy.push(p.busy_ns.map(|b| per_second(ops, b)));
        for k in kinds {
            let n = p.recorded.latencies(*k).len();
            let name = k.name().to_owned();
            self.per_op_wall
                .entry(name.clone())
                .or_default()
                .push(per_second(n, p.elapsed_ns));
            self.per_op_busy
                .entry(name)
                .or_default()
                .push(p.busy_ns.map(|b| per_second(n, b)));
        }
    }

    /// The rates over busy time when every slice had one, else over wall-clock time.
    fn rates(self, variant: &str, busy: bool) -> RoundRates {
        let pick = |b: Vec<Option<f64>>, w: Vec<f64>| {
            if busy {
                b.into_iter().map(|x| x.unwrap_or(0.0)).collect()
            } else {
                w
            }
        };
        let mut wall = self.per_op_wall;
        let per_op = self
            .per_op_busy
            .into_iter()
            .map(|(k, b)| {
                let w = wall.remove(&k).unwrap_or_default();
                (k, pick(b, w))
            })
            .collect();
        RoundRates {
            variant: variant.to_owned(),
            ops_per_slice: self.ops,
            rates: pick(self.busy, self.wall),
            per_op,
        }
    }
}

/// Takes `rounds` rounds of slices of about `slice` each of every backend in `loaded`
/// (each holding the loaded dataset) at `threads` threads. `None` when `stop` was raised.
pub fn take(
    loaded: &[&dyn Backend],
    plan: &Plan,
    threads: usize,
    (rounds, slice): (usize, Duration),
    clock: &dyn Clock,
    stop: &AtomicBool,
) -> Result<Option<Rounds>, BackendError> {
    let kinds: Vec<OpKind> = plan.mix.0.iter().map(|(k, _)| *k).collect();
    let mut slicers: Vec<Slicer<'_>> = loaded.iter().map(|b| Slicer::new(*b, plan)).collect();
    let cpus = pin::cpus();
    let mut taken = Vec::new();
    // Each variant's slices hold as many operations as it does in `slice`: sized by a
    // warm-up of four slices' length, on the CPUs of round 0.
    for s in &mut slicers {
        let warm = pin::with_cpus(&pin::for_pair(&cpus, 0, threads), || {
            s.warm(threads, slice * 4, clock, stop)
        })?;
        let Some(w) = warm else { return Ok(None) };
        let rate = sizing_rate(w.recorded.ops(), w.busy_ns, w.elapsed_ns);
        let ops = (rate * slice.as_secs_f64() / threads as f64)
            .round()
            .max(1.0);
        taken.push(Taken {
            ops: ops as u64,
            busy: Vec::new(),
            wall: Vec::new(),
            per_op_busy: BTreeMap::new(),
            per_op_wall: BTreeMap::new(),
        });
    }
    for round in 0..rounds {
        let mut order: Vec<usize> = (0..slicers.len()).collect();
        if !forward(round) {
            order.reverse();
        }
        let ran = pin::with_cpus(&pin::for_pair(&cpus, round, threads), || {
            for &i in &order {
                let ops = taken[i].ops;
                match slicers[i].slice(threads, ops, round as u64, clock, stop)? {
                    Some(p) => taken[i].push(&p, &kinds),
                    None => return Ok(false),
                }
            }
            Ok::<_, BackendError>(true)
        })?;
        if !ran {
            return Ok(None);
        }
    }
    let busy = taken.iter().all(|t| t.busy.iter().all(Option::is_some));
    Ok(Some(Rounds {
        threads,
        slice_s: slice.as_secs_f64(),
        timing: if busy { Timing::Busy } else { Timing::Wall },
        variants: taken
            .into_iter()
            .zip(loaded)
            .map(|(t, b)| t.rates(b.name(), busy))
            .collect(),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slices_are_sized_by_busy_time_but_never_from_a_vanished_one() {
        // 1,000 operations in 200 ms of wall-clock time, 100 ms of it waiting for a CPU.
        assert_eq!(sizing_rate(1_000, Some(100_000_000), 200_000_000), 10_000.0);
        assert_eq!(sizing_rate(1_000, None, 200_000_000), 5_000.0);
        // The wait swallowed the window (busy clamped to 1 ns): not 10^12 operations per
        // second, at most MAX_BUSY_SPEEDUP times the wall-clock rate.
        assert_eq!(
            sizing_rate(1_000, Some(1), 200_000_000),
            5_000.0 * MAX_BUSY_SPEEDUP
        );
    }
}
