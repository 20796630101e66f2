//! `[run]`: threads, phase length, repeats, pacing, per-operation sizes and what is
//! measured; every key checked, the problems reported together.

use std::time::Duration;

use serde::Serialize;
use toml::Spanned;

use crate::workload::context::{Ctx, Problems, WorkloadError};
use crate::workload::keys::ScanLength;
use crate::workload::spec::{RunSpec, Threads};
use acorn_reports::Measure;

/// How long each measured phase lasts.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Bound {
    #[serde(with = "duration_text")]
    Duration(Duration),
    Ops(u64),
}

pub(crate) mod duration_text {
    pub fn serialize<S: serde::Serializer>(
        d: &std::time::Duration,
        s: S,
    ) -> Result<S::Ok, S::Error> {
        s.serialize_str(&humantime::format_duration(*d).to_string())
    }
}

/// How variants share the machine.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Mode {
    /// Each variant runs all its repeats, then the next variant.
    Sequential,
    /// Variants take turns each repeat, in rotated order, so drift hits all alike.
    Interleaved,
    /// All variants at once (rayon): noisy, flagged as contended on small machines.
    Parallel,
}

impl Mode {
    pub fn label(self) -> &'static str {
        match self {
            Mode::Sequential => "sequential",
            Mode::Interleaved => "interleaved",
            Mode::Parallel => "parallel",
        }
    }
}

/// `[run]`: threads, phase length, repeats, pacing and per-operation sizes.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct RunSettings {
    pub threads: Vec<usize>,
    pub bound: Bound,
    #[serde(with = "duration_text")]
    pub warmup: Duration,
    pub repeats: u32,
    pub seed: u64,
    /// Operations per second across all threads; `None` is closed loop.
    pub rate: Option<f64>,
    pub mode: Mode,
    pub scan: ScanLength,
    pub batch_size: usize,
    /// Operations each thread keeps going at once, as tokio tasks, on backends with an
    /// async API (`plain:async`); others run one at a time.
    pub in_flight: usize,
    /// Wall-clock time (the default) or instructions counted under callgrind.
    pub measure: Measure,
    /// The `recover` phase: after a variant's measured phases, close its store and time
    /// the reopen (stores on disk only).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub recover: bool,
}

impl RunSettings {
    /// Every key of `[run]` is checked, even after one fails (each failed key's default
    /// stands in, so the later checks can go on), and the problems are reported together.
    pub(crate) fn from_spec(cx: Ctx<'_>, run: Option<&RunSpec>) -> Result<Self, WorkloadError> {
        let mut p = Problems::default();
        let threads = match run.and_then(|r| r.threads.as_ref()) {
            None => vec![1],
            Some(t) => p.or(threads(cx, t), vec![1]),
        };
        let warmup = match run.and_then(|r| r.warmup.as_ref()) {
            None => Duration::from_secs(1),
            Some(w) => p.or(cx.duration(w, "run.warmup"), Duration::ZERO),
        };
        let repeats = match run.and_then(|r| r.repeats.as_ref()) {
            None => 3,
            Some(r) => p.or(cx.positive(r, "run.repeats", 1000, "measured repeats"), 1) as u32,
        };
        let mode = match run.and_then(|r| r.mode.as_ref()) {
            None => Mode::Interleaved,
            Some(m) => p.or(
                cx.choice(
                    m,
                    "run.mode",
                    "mode",
                    &[
                        ("sequential", Mode::Sequential),
                        ("interleaved", Mode::Interleaved),
                        ("parallel", Mode::Parallel),
                    ],
                ),
                Mode::Interleaved,
            ),
        };
        let rate = p.or(rate(cx, run.and_then(|r| r.rate.as_ref()), &threads), None);
        let bound = p.or(bound(cx, run), Bound::Ops(1));
        let scan = p.or(scan_length(cx, run), ScanLength::Fixed { length: 1 });
        let batch_size = p.or(
            cx.positive_or(
                run.and_then(|r| r.batch_size.as_ref()),
                "run.batch_size",
                100,
                1_000_000,
            ),
            1,
        );
        let in_flight = p.or(in_flight(cx, run), 1);
        let measure = p.or(
            measure(cx, run.and_then(|r| r.measure.as_ref())),
            Measure::default(),
        );
        p.finish(|| RunSettings {
            threads,
            bound,
            warmup,
            repeats,
            seed: run
                .and_then(|r| r.seed.as_ref())
                .map_or(42, |s| s.get_ref().unsigned_abs()),
            rate,
            mode,
            scan,
            batch_size,
            in_flight,
            measure,
            recover: run
                .and_then(|r| r.recover.as_ref())
                .is_some_and(|r| *r.get_ref()),
        })
    }
}

/// `[run] in_flight`: 1 to 100,000 operations per thread at once; closed loop only.
fn in_flight(cx: Ctx<'_>, run: Option<&RunSpec>) -> Result<usize, WorkloadError> {
    let Some(v) = run.and_then(|r| r.in_flight.as_ref()) else {
        return Ok(1);
    };
    let n = cx.positive(
        v,
        "run.in_flight",
        100_000,
        "operations in flight per thread",
    )?;
    let paced = run
        .and_then(|r| r.rate.as_ref())
        .is_some_and(|r| *r.get_ref() > 0.0);
    if n > 1 && paced {
        return Err(cx.err(
            v.span(),
            "run.in_flight",
            "operations in flight run closed loop; drop `rate` or set in_flight = 1",
        ));
    }
    Ok(n as usize)
}

/// `measure = "wall-clock" | "instructions"`.
fn measure(cx: Ctx<'_>, m: Option<&Spanned<String>>) -> Result<Measure, WorkloadError> {
    let Some(m) = m else {
        return Ok(Measure::default());
    };
    let choices = Measure::ALL.map(|m| (m.name(), m));
    cx.choice(m, "run.measure", "measure", &choices)
}

/// `scan_length` (the longest, or the only, length), `scan_length_distribution` and
/// `min_scan_length`.
fn scan_length(cx: Ctx<'_>, run: Option<&RunSpec>) -> Result<ScanLength, WorkloadError> {
    let max = cx.positive_or(
        run.and_then(|r| r.scan_length.as_ref()),
        "run.scan_length",
        100,
        100_000,
    )? as u64;
    let min = cx.positive_or(
        run.and_then(|r| r.min_scan_length.as_ref()),
        "run.min_scan_length",
        1,
        100_000,
    )? as u64;
    #[derive(Clone, Copy)]
    enum Kind {
        Fixed,
        Uniform,
        Zipfian,
    }
    let kind = match run.and_then(|r| r.scan_length_distribution.as_ref()) {
        None => Kind::Uniform,
        Some(k) => cx.choice(
            k,
            "run.scan_length_distribution",
            "scan length distribution",
            &[
                ("uniform", Kind::Uniform),
                ("fixed", Kind::Fixed),
                ("zipfian", Kind::Zipfian),
            ],
        )?,
    };
    if min > max && !matches!(kind, Kind::Fixed) {
        let at = run
            .and_then(|r| r.min_scan_length.as_ref())
            .map_or(0..0, Spanned::span);
        return Err(cx.err(
            at,
            "run.min_scan_length",
            format!("{min} is longer than scan_length ({max})"),
        ));
    }
    Ok(match kind {
        Kind::Fixed => ScanLength::Fixed { length: max },
        Kind::Uniform => ScanLength::Uniform { min, max },
        Kind::Zipfian => ScanLength::Zipfian { min, max },
    })
}

fn threads(cx: Ctx<'_>, t: &Spanned<Threads>) -> Result<Vec<usize>, WorkloadError> {
    let list = match t.get_ref() {
        Threads::One(n) => vec![*n],
        Threads::Many(v) => v.clone(),
    };
    if list.is_empty() || list.iter().any(|n| *n < 1 || *n > 1024) {
        return Err(cx.err(
            t.span(),
            "run.threads",
            "give a thread count or a list of them, each between 1 and 1024",
        ));
    }
    Ok(list
        .into_iter()
        .map(|n| n.unsigned_abs() as usize)
        .collect())
}

fn bound(cx: Ctx<'_>, run: Option<&RunSpec>) -> Result<Bound, WorkloadError> {
    match (
        run.and_then(|r| r.duration.as_ref()),
        run.and_then(|r| r.ops.as_ref()),
    ) {
        (Some(d), Some(_)) => Err(cx.err(
            d.span(),
            "run.duration",
            "give `duration` or `ops`, not both",
        )),
        (Some(d), None) => {
            let dur = cx.duration(d, "run.duration")?;
            if dur.is_zero() {
                return Err(cx.err(d.span(), "run.duration", "must be longer than zero"));
            }
            Ok(Bound::Duration(dur))
        }
        (None, Some(o)) => Ok(Bound::Ops(cx.positive(
            o,
            "run.ops",
            i64::MAX,
            "operations per thread",
        )?)),
        (None, None) => Ok(Bound::Duration(Duration::from_secs(5))),
    }
}

/// `run.rate`: 0 (closed loop), or a total rate that gives every thread at least one
/// operation per second at the largest thread count.
fn rate(
    cx: Ctx<'_>,
    r: Option<&Spanned<f64>>,
    threads: &[usize],
) -> Result<Option<f64>, WorkloadError> {
    let Some(r) = r else { return Ok(None) };
    let x = *r.get_ref();
    if x == 0.0 {
        return Ok(None);
    }
    let most = threads.iter().copied().max().unwrap_or(1);
    let floor = most as f64;
    if !x.is_finite() || x < floor || x > 1e9 {
        let threads_text = if most == 1 {
            "1 thread".to_owned()
        } else {
            format!("{most} threads")
        };
        return Err(cx.err(
            r.span(),
            "run.rate",
            format!(
                "{x} is not a possible rate: use 0 for closed loop, or a total across all \
                 threads of at least 1 operation per second per thread (here {floor} or more, \
                 for {threads_text}) and at most 1e9"
            ),
        ));
    }
    Ok(Some(x))
}
