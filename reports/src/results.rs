//! The `results.json` schema (documented in `docs/results-schema.md`).

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::counts::{InstructionRun, Measure};

/// Bumped on any change a reader of an older version could misread. 2: `measure` and
/// `instructions` (instruction-count runs); files of version 1 read as wall-clock results.
pub const SCHEMA_VERSION: u32 = 2;

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ResultsError {
    #[error("{path}: cannot read: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
    #[error("{path}: not a valid results file: {reason}")]
    Invalid { path: String, reason: String },
    #[error("{path}: schema_version {found} is newer than this lab understands ({SCHEMA_VERSION}); upgrade acorn-lab")]
    TooNew { path: String, found: u32 },
}

/// Where a run happened.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Machine {
    pub cpu: String,
    pub cores: usize,
    pub os: String,
    pub rustc: String,
    pub git_revision: String,
    pub hostname: String,
}

/// A latency histogram in nanoseconds, stored losslessly as (value, count) pairs of the
/// HDR histogram's recorded buckets, so runs merge exactly.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Histogram {
    /// Significant figures of the HDR histogram the pairs came from.
    pub sigfig: u8,
    pub counts: Vec<[u64; 2]>,
}

/// One operation type within one run.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct OpResult {
    pub count: u64,
    pub errors: u64,
    /// Up to three distinct error messages, for the report.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub error_samples: Vec<String>,
    pub throughput: f64,
    pub p50_ns: u64,
    pub p90_ns: u64,
    pub p99_ns: u64,
    pub p999_ns: u64,
    pub p9999_ns: u64,
    pub max_ns: u64,
    pub mean_ns: f64,
    pub histogram: Histogram,
    /// Heap allocations these operations made on the worker threads (the lab's counting
    /// allocator), when counted; divide by `count` for allocations per operation. Absent
    /// in files from before it was recorded, and for stores that allocate outside Rust.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allocations: Option<u64>,
    /// In a run: the latencies of each tenth of its measured phase (fifths in older
    /// files), oldest first: the blocks of the latency estimates ([`crate::estimate`]).
    /// Absent in summaries and in files written before it existed.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub parts: Vec<PartLatency>,
}

impl OpResult {
    /// Allocations per operation, when counted.
    pub fn allocations_per_op(&self) -> Option<f64> {
        self.allocations
            .filter(|_| self.count > 0)
            .map(|a| a as f64 / self.count as f64)
    }
}

/// The latency percentiles of one part of a measured phase.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PartLatency {
    pub count: u64,
    pub p50_ns: u64,
    pub p99_ns: u64,
    /// 0 in files written before it was recorded.
    #[serde(default)]
    pub p90_ns: u64,
    /// 0 in files written before it was recorded.
    #[serde(default)]
    pub p999_ns: u64,
}

impl PartLatency {
    /// The part's numbers from its histogram.
    pub fn of(h: &hdrhistogram::Histogram<u64>) -> PartLatency {
        PartLatency {
            count: h.len(),
            p50_ns: h.value_at_quantile(0.50),
            p99_ns: h.value_at_quantile(0.99),
            p90_ns: h.value_at_quantile(0.90),
            p999_ns: h.value_at_quantile(0.999),
        }
    }
}

/// One measured repeat of one variant at one thread count.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct RunResult {
    pub variant: String,
    pub threads: usize,
    pub repeat: u32,
    pub elapsed_s: f64,
    pub ops: u64,
    pub errors: u64,
    pub throughput: f64,
    /// Per operation type ("read", "update", ...).
    pub per_op: BTreeMap<String, OpResult>,
    /// Operations completed in each interval of `interval_s` seconds.
    pub interval_s: f64,
    pub intervals: Vec<u64>,
    /// What the backend counted during this phase (e.g. `cache_hits`, `cache_misses`, and
    /// the derived `cache_hit_ratio`); empty for backends that count nothing and in files
    /// from before it was recorded.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub metrics: BTreeMap<String, f64>,
    /// Open loop: operations that fell due before the end of the phase but were never run
    /// (the backlog was more than a whole phase long). Absent when none.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub dropped: u64,
    /// How long the warm-up before this phase ran (seconds; it runs in windows until
    /// throughput is steady, at most four times the configured warm-up). Absent in older
    /// files.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub warmup_s: Option<f64>,
    /// Whether the warm-up's last two windows agreed within 5% (false: it stopped at its
    /// cap still changing). Absent in older files.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub warmup_steady: Option<bool>,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

fn one() -> u32 {
    1
}

fn is_one(n: &u32) -> bool {
    *n == 1
}

/// The numbers that summarize a variant at one thread count, over its repeats.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct VariantSummary {
    pub variant: String,
    pub threads: usize,
    /// The backend's own description: durability, serialization, cache.
    pub info: BTreeMap<String, String>,
    pub throughput_median: f64,
    /// 95% interval of the throughput over repeats (t-distribution on the mean).
    pub throughput_ci95: [f64; 2],
    /// (max - min) / median over repeats, as a fraction.
    pub spread: f64,
    pub load_s: f64,
    pub load_throughput: f64,
    pub bytes_per_item: Option<f64>,
    pub rss_bytes: Option<u64>,
    /// What the backend counted, summed over the repeats' measured phases, with ratios
    /// derived from the sums (`cache_hits`, `cache_misses`, `cache_hit_ratio`).
    pub metrics: BTreeMap<String, f64>,
    /// Operation results merged over repeats (histograms merged exactly).
    pub per_op: BTreeMap<String, OpResult>,
}

/// Whether a target held: judged on the whole interval of its estimate.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TargetStatus {
    /// The whole interval meets the expectation.
    Pass,
    /// The whole interval misses it (or the variant did not run).
    Fail,
    /// The interval straddles the expectation: the run cannot tell.
    Undecided,
}

/// Harness fixtures, not stores: `noop` measures the lab's own cost per operation and
/// `synthetic` plants a known cost for the lab's gates. Reports show them but never rank
/// them against the engine and its peers.
pub const FIXTURES: [&str; 2] = ["noop", "synthetic"];

/// Whether `variant` is a harness fixture (see [`FIXTURES`]).
pub fn is_fixture(variant: &str) -> bool {
    let base = variant.split(':').next().unwrap_or(variant);
    FIXTURES.contains(&base)
}

/// One target from the workload and whether it held.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct TargetVerdict {
    pub name: String,
    pub metric: String,
    pub variant: String,
    pub expect: String,
    /// The thread count the target was judged at (the variant's highest), when it ran.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub threads: Option<usize>,
    /// The measured value in the target's unit (the median of its estimate), when the
    /// variant ran.
    pub actual: Option<f64>,
    /// The 95% interval of `actual`, when it has one (throughputs and latency
    /// percentiles); absent in older files.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interval: Option<[f64; 2]>,
    pub actual_text: String,
    /// True only when the target held (`status` pass).
    pub pass: bool,
    /// pass, fail or undecided; absent in older files, where `pass` says it all.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<TargetStatus>,
}

impl TargetVerdict {
    /// pass, fail or undecided (from `pass` in files written before `status` existed).
    pub fn status(&self) -> TargetStatus {
        self.status.unwrap_or(if self.pass {
            TargetStatus::Pass
        } else {
            TargetStatus::Fail
        })
    }

    /// Whether the target failed (its whole interval missed it): the run exits 1.
    pub fn failed(&self) -> bool {
        self.status() == TargetStatus::Fail
    }
}

/// A whole `results.json`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Results {
    pub schema_version: u32,
    pub workload: String,
    pub description: String,
    /// The validated plan, as the lab printed it.
    pub plan: serde_json::Value,
    /// sequential | interleaved | parallel
    pub mode: String,
    /// True when a parallel run had fewer cores than variants x threads.
    pub contended: bool,
    /// True when the run was interrupted (Ctrl-C) and holds only what finished.
    pub partial: bool,
    /// True for `lab run --quick` (smoke-sized: not a measurement to compare with a full
    /// run). Absent (false) in older files.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub quick: bool,
    /// How many load generators' results this file holds (`lab merge` adds them up).
    #[serde(default = "one", skip_serializing_if = "is_one")]
    pub generators: u32,
    pub started_at: String,
    /// RFC 3339, when the last phase ended (`lab merge` checks that generators overlapped).
    /// Empty in older files.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub finished_at: String,
    pub machine: Machine,
    pub runs: Vec<RunResult>,
    pub summaries: Vec<VariantSummary>,
    pub targets: Vec<TargetVerdict>,
    /// Flamegraph SVG files (names relative to the results file), from `lab run --flamegraph`,
    /// named by [`crate::format::flamegraph_file`].
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub flamegraphs: Vec<String>,
    /// The most variants loaded in memory at once (1 in sequential mode; every variant in
    /// interleaved and parallel mode). Absent in files from before it was recorded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resident: Option<usize>,
    /// What the reader should know before trusting the numbers (e.g. a flamegraph with too
    /// few samples, `--flamegraph` in parallel mode).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
    /// The highest 1-minute load average seen when the run started and when it finished:
    /// beyond the machine's cores and the run's own threads, other work shared the cores
    /// (see [`crate::estimate::busy`]). Absent in older files and where it cannot be read.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub load: Option<f64>,
    /// What the numbers are: wall-clock time (`runs`, `summaries`) or instruction counts
    /// (`instructions`). Absent in version 1 files, which are all wall-clock.
    #[serde(default)]
    pub measure: Measure,
    /// The counted run, when `measure` is `instructions`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub instructions: Option<InstructionRun>,
}

impl Results {
    /// Reads and checks a results file.
    pub fn load(path: &Path) -> Result<Results, ResultsError> {
        let shown = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|source| ResultsError::Io {
            path: shown.clone(),
            source,
        })?;
        Self::parse(&text, &shown)
    }

    /// Parses results text; `origin` names it in errors.
    pub fn parse(text: &str, origin: &str) -> Result<Results, ResultsError> {
        let value: serde_json::Value =
            serde_json::from_str(text).map_err(|e| ResultsError::Invalid {
                path: origin.to_owned(),
                reason: e.to_string(),
            })?;
        let found = value
            .get("schema_version")
            .and_then(serde_json::Value::as_u64)
            .ok_or_else(|| ResultsError::Invalid {
                path: origin.to_owned(),
                reason: "missing schema_version".into(),
            })?;
        if found > u64::from(SCHEMA_VERSION) {
            return Err(ResultsError::TooNew {
                path: origin.to_owned(),
                found: u32::try_from(found).unwrap_or(u32::MAX),
            });
        }
        serde_json::from_value(value).map_err(|e| ResultsError::Invalid {
            path: origin.to_owned(),
            reason: e.to_string(),
        })
    }

    /// Pretty JSON.
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).unwrap_or_default()
    }
}
