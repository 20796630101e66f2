//! Stage one of loading: the TOML as written, with spans so stage two (the `Plan`) can point
//! at the line and column of any value it rejects.

use std::collections::BTreeMap;

use serde::Deserialize;
use toml::Spanned;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WorkloadSpec {
    pub name: Spanned<String>,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub variants: Option<Spanned<Vec<Spanned<String>>>>,
    pub dataset: Spanned<DatasetSpec>,
    #[serde(default)]
    pub run: Option<RunSpec>,
    pub mix: Spanned<BTreeMap<String, Spanned<i64>>>,
    #[serde(default)]
    pub distribution: Option<DistributionSpec>,
    #[serde(default)]
    pub cache: Option<CacheSpec>,
    #[serde(default)]
    pub query: Option<QueryToml>,
    #[serde(default, rename = "target")]
    pub targets: Vec<TargetSpec>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DatasetSpec {
    pub records: Spanned<i64>,
    #[serde(default)]
    pub key: Option<KeySpec>,
    #[serde(default)]
    pub doc: Option<Spanned<DocSpec>>,
    /// Opaque values instead of documents: `value = { bytes = 100 }`.
    #[serde(default)]
    pub value: Option<Spanned<ValueSpec>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ValueSpec {
    pub bytes: Spanned<i64>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeySpec {
    #[serde(default)]
    pub prefix: Option<String>,
    #[serde(default)]
    pub width: Option<Spanned<i64>>,
    /// `hashed` (YCSB's default) or `ordered`.
    #[serde(default)]
    pub order: Option<Spanned<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DocSpec {
    #[serde(default)]
    pub fields: Option<Spanned<i64>>,
    #[serde(default)]
    pub field_bytes: Option<Spanned<i64>>,
    #[serde(default)]
    pub tags: Option<Spanned<i64>>,
}

/// `threads = 4` or `threads = [1, 2, 4]`.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub enum Threads {
    One(i64),
    Many(Vec<i64>),
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RunSpec {
    #[serde(default)]
    pub threads: Option<Spanned<Threads>>,
    #[serde(default)]
    pub duration: Option<Spanned<String>>,
    #[serde(default)]
    pub ops: Option<Spanned<i64>>,
    #[serde(default)]
    pub warmup: Option<Spanned<String>>,
    #[serde(default)]
    pub repeats: Option<Spanned<i64>>,
    #[serde(default)]
    pub seed: Option<Spanned<i64>>,
    #[serde(default)]
    pub rate: Option<Spanned<f64>>,
    #[serde(default)]
    pub mode: Option<Spanned<String>>,
    #[serde(default)]
    pub scan_length: Option<Spanned<i64>>,
    /// `uniform` (YCSB's default: `min_scan_length..=scan_length`), `fixed` or `zipfian`.
    #[serde(default)]
    pub scan_length_distribution: Option<Spanned<String>>,
    #[serde(default)]
    pub min_scan_length: Option<Spanned<i64>>,
    #[serde(default)]
    pub batch_size: Option<Spanned<i64>>,
    /// The older spelling of `[cache] capacity`, still accepted.
    #[serde(default)]
    pub cache_capacity: Option<Spanned<i64>>,
    #[serde(default)]
    pub in_flight: Option<Spanned<i64>>,
    pub measure: Option<Spanned<String>>,
    /// After the measured phases, close each durable store and time its reopen.
    #[serde(default)]
    pub recover: Option<Spanned<bool>>,
}

/// `[cache]`: how the `cached` variant behaves.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CacheSpec {
    #[serde(default)]
    pub policy: Option<Spanned<String>>,
    #[serde(default)]
    pub capacity: Option<Spanned<i64>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DistributionSpec {
    pub kind: Spanned<String>,
    #[serde(default)]
    pub theta: Option<Spanned<f64>>,
    #[serde(default)]
    pub hot_fraction: Option<Spanned<f64>>,
    #[serde(default)]
    pub hot_ops: Option<Spanned<f64>>,
    /// Inserts the key distribution should make room for (YCSB: 2 × operations × insert
    /// share); records not inserted yet are redrawn.
    #[serde(default)]
    pub expected_inserts: Option<Spanned<i64>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct QueryToml {
    #[serde(default)]
    pub min_value: Option<Spanned<i64>>,
    #[serde(default)]
    pub order: Option<Spanned<String>>,
    #[serde(default)]
    pub skip: Option<Spanned<i64>>,
    #[serde(default)]
    pub take: Option<Spanned<i64>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TargetSpec {
    pub name: Spanned<String>,
    pub metric: Spanned<String>,
    #[serde(default)]
    pub variant: Option<Spanned<String>>,
    pub expect: Spanned<String>,
}
