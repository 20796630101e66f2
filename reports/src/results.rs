//! The `results.json` schema (documented in `docs/results-schema.md`).

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::counts::{InstructionRun, Measure};

/// Bumped on any change a reader of an older version could misread. 2: `measure` and
/// `instructions` (instruction-count runs); files of version 1 read as wall-clock results.
/// 3: histograms in HdrHistogram's V2 encoding. 4: the one statistic (summaries' median
/// over blocks and its bootstrap interval, ten latency blocks per run, warm-up times,
/// targets' interval and status, the load average), the paired rounds (`paired`),
/// `fixture` on summaries, and what writes cost the disk (issue 26: `storage` in runs and
/// summaries, `info.tier`, `sweep`); every field new in 4 is optional, so files of
/// versions 1–3 still read.
pub const SCHEMA_VERSION: u32 = 4;

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

/// A latency histogram in nanoseconds: in memory the (value, count) pairs of the HDR
/// histogram's recorded buckets, so runs merge exactly; in `results.json` HdrHistogram's
/// own V2 compressed encoding in base64 (what HdrHistogram's tools read), a few hundred
/// bytes where the pairs took tens of kilobytes. Files of schema 2 and older, which stored
/// the pairs (`{"sigfig": 3, "counts": [[value, count], ...]}`), still read.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Histogram {
    /// Significant figures of the HDR histogram the pairs came from.
    pub sigfig: u8,
    pub counts: Vec<[u64; 2]>,
}

/// The pairs as older files stored them.
#[derive(Deserialize)]
struct HistogramPairs {
    sigfig: u8,
    counts: Vec<[u64; 2]>,
}

impl Histogram {
    /// HdrHistogram's V2 compressed encoding of these buckets, in base64.
    pub fn to_base64(&self) -> String {
        use base64::Engine as _;
        use hdrhistogram::serialization::Serializer as _;
        let mut h = hdrhistogram::Histogram::<u64>::new(self.sigfig.clamp(1, 5))
            .unwrap_or_else(|_| unreachable!("1 to 5 significant figures are valid"));
        for [value, count] in &self.counts {
            // Values come from a histogram of the same precision; an absurd one is skipped.
            let _ = h.record_n(*value, *count);
        }
        let mut bytes = Vec::new();
        match hdrhistogram::serialization::V2DeflateSerializer::new().serialize(&h, &mut bytes) {
            Ok(_) => base64::engine::general_purpose::STANDARD.encode(bytes),
            // Serializing into memory fails only on an internal error of the encoder.
            Err(_) => String::new(),
        }
    }

    /// Reads HdrHistogram's V2 encoding (compressed or not) from base64.
    pub fn from_base64(text: &str) -> Result<Histogram, String> {
        use base64::Engine as _;
        if text.is_empty() {
            return Ok(Histogram::default());
        }
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(text.trim())
            .map_err(|e| format!("histogram: not base64 ({e})"))?;
        let h: hdrhistogram::Histogram<u64> = hdrhistogram::serialization::Deserializer::new()
            .deserialize(&mut bytes.as_slice())
            .map_err(|e| format!("histogram: not an HdrHistogram V2 encoding ({e:?})"))?;
        Ok(Histogram {
            sigfig: h.sigfig(),
            counts: h
                .iter_recorded()
                .map(|v| [v.value_iterated_to(), v.count_at_value()])
                .collect(),
        })
    }
}

impl Serialize for Histogram {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_base64())
    }
}

impl<'de> Deserialize<'de> for Histogram {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Histogram, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Stored {
            Encoded(String),
            Pairs(HistogramPairs),
        }
        match Stored::deserialize(d)? {
            Stored::Encoded(text) => {
                Histogram::from_base64(&text).map_err(serde::de::Error::custom)
            }
            Stored::Pairs(p) => Ok(Histogram {
                sigfig: p.sigfig,
                counts: p.counts,
            }),
        }
    }
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
    /// What the phase cost the storage: sync calls, device and user bytes (schema 4);
    /// absent for stores that keep no data (`noop`) and in older files.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub storage: Option<crate::storage::StorageCost>,
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
    /// A harness fixture, not a store (`noop`, `synthetic`, `synthetic:durable`: the lab's backend registry
    /// says which): shown, never ranked against stores. Files before version 4 did not
    /// record it; reading them, the fixtures of that time (`noop`, `synthetic`) are marked.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub fixture: bool,
    /// What writes cost the storage: the phases' counts summed, the data directory's size,
    /// the reopen time, the tier check (schema 4); absent for stores that keep no data and
    /// in older files.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub storage: Option<crate::storage::StorageSummary>,
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

impl TargetStatus {
    /// The status word ("pass", "FAIL", "undecided").
    pub fn label(self) -> &'static str {
        match self {
            TargetStatus::Pass => "pass",
            TargetStatus::Fail => "FAIL",
            TargetStatus::Undecided => "undecided",
        }
    }
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
    /// The resolved plan the run used (after `--quick` / `--variants`).
    #[serde(default)]
    pub plan: crate::plan::RunPlan,
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
    /// The paired rounds the verdicts rank the variants by, per thread count (`lab run`
    /// with several variants loaded at once: interleaved and parallel mode). Absent when
    /// the run did not pair them, and in older files.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub paired: Vec<crate::paired::Rounds>,
    /// `lab sweep`: latency against offered rate per variant, and each knee (schema 4);
    /// `runs` and `summaries` are then empty. Absent otherwise.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sweep: Option<crate::sweep::Sweep>,
}

/// The harness fixtures of the labs that wrote files before version 4 (which did not
/// record [`VariantSummary::fixture`]).
const FIXTURES_BEFORE_4: [&str; 2] = ["noop", "synthetic"];

impl Results {
    /// Whether `variant` at `threads` is ranked: every store is; a harness fixture only
    /// when nothing but fixtures ran at that thread count.
    pub fn ranked(&self, variant: &str, threads: usize) -> bool {
        let here = || self.summaries.iter().filter(|s| s.threads == threads);
        let fixture = here().any(|s| s.variant == variant && s.fixture);
        !fixture || here().all(|s| s.fixture)
    }

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
        let mut results: Results =
            serde_json::from_value(value).map_err(|e| ResultsError::Invalid {
                path: origin.to_owned(),
                reason: e.to_string(),
            })?;
        if found < 4 {
            for s in &mut results.summaries {
                s.fixture = FIXTURES_BEFORE_4.contains(&s.variant.as_str());
            }
        }
        Ok(results)
    }

    /// Compact JSON (what `lab run` writes by default).
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }

    /// Indented JSON (`lab run --pretty`).
    pub fn to_json_pretty(&self) -> String {
        serde_json::to_string_pretty(self).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn latencies() -> hdrhistogram::Histogram<u64> {
        let mut h = hdrhistogram::Histogram::<u64>::new(3).unwrap();
        for i in 0..20_000u64 {
            h.record(200 + (i * 7919) % 50_000).unwrap();
        }
        h.record(3_000_000_000).unwrap();
        h
    }

    #[test]
    fn histograms_are_stored_in_hdrhistograms_own_encoding_and_read_back_exactly() {
        let h = crate::stats::encode(&latencies());
        let op = OpResult {
            count: 20_001,
            histogram: h.clone(),
            ..OpResult::default()
        };
        let json = serde_json::to_string(&op).unwrap();
        let stored: serde_json::Value = serde_json::from_str(&json).unwrap();
        let text = stored["histogram"].as_str().unwrap();
        // HdrHistogram's own reader takes it: the V2 compressed form, base64.
        use base64::Engine as _;
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(text)
            .unwrap();
        let read: hdrhistogram::Histogram<u64> = hdrhistogram::serialization::Deserializer::new()
            .deserialize(&mut bytes.as_slice())
            .unwrap();
        assert_eq!(read.len(), 20_001);
        assert_eq!(read.max(), latencies().max());
        assert_eq!(
            read.value_at_quantile(0.99),
            latencies().value_at_quantile(0.99)
        );
        // And back into the schema, bucket for bucket.
        let back: OpResult = serde_json::from_str(&json).unwrap();
        assert_eq!(back.histogram, h);
        // Far smaller than the pairs it replaces.
        let pairs = serde_json::json!({"sigfig": h.sigfig, "counts": h.counts}).to_string();
        assert!(
            text.len() * 5 < pairs.len(),
            "{} vs {} bytes",
            text.len(),
            pairs.len()
        );
    }

    #[test]
    fn histograms_stored_as_pairs_by_older_labs_still_read() {
        let h = crate::stats::encode(&latencies());
        let old = serde_json::json!({"sigfig": h.sigfig, "counts": h.counts});
        let read: Histogram = serde_json::from_value(old).unwrap();
        assert_eq!(read, h);
        assert!(serde_json::from_value::<Histogram>(serde_json::json!("not base64!")).is_err());
    }
}
