//! The plan a run used, as `results.json` records it (`Results::plan`): typed, so that
//! `compare`, `merge` and the report read fields the compiler checks instead of looking
//! keys up by string. The lab fills it from its resolved workload plan
//! (`acorn_lab::workload::Plan::record`).
//!
//! Its JSON is the flat object every version of the results schema has written (the
//! dataset and run settings inline). Every field is optional or defaults, so files of
//! schema 1 to 3 read: entries older labs wrote under other names (`doc`, `scan_length`,
//! `cache_capacity`) have their own fields, and entries this lab does not know are kept in
//! [`RunPlan::other`] and compared like the rest. The structured entries whose inside no
//! reader looks at (the mix, the distribution, the value shape, ...) are kept as JSON:
//! compared for equality and shown, never interpreted.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// A target as the workload file wrote it (parsed again where it is judged).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlanTarget {
    pub name: String,
    pub metric: String,
    pub variant: String,
    pub expect: String,
}

/// The resolved plan of a run (after `--quick` and `--variants`).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct RunPlan {
    pub name: String,
    pub description: String,
    /// The workload file, as given on the command line.
    pub file: String,
    pub variants: Vec<String>,
    // `[dataset]`
    pub records: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key_prefix: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key_width: Option<u64>,
    /// `hashed` or `ordered`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key_order: Option<String>,
    /// The value shape: `{"doc": {..}}` or `{"bytes": N}`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub value: Option<Value>,
    // `[run]`
    pub threads: Vec<usize>,
    /// `{"duration": "2s"}` or `{"ops": N}`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bound: Option<Value>,
    /// As text (`"500ms"`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub warmup: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub repeats: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub seed: Option<u64>,
    /// Operations per second across all threads; absent (or null) is closed loop.
    pub rate: Option<f64>,
    /// `sequential`, `interleaved` or `parallel`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mode: Option<String>,
    /// The scan length distribution.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scan: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub batch_size: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub in_flight: Option<u64>,
    /// `true` when the run timed the `recover` phase (close and reopen the store, schema
    /// 4); absent otherwise.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub recover: Option<bool>,
    /// What the run measured.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub measure: Option<crate::Measure>,
    /// `[[op, weight], ...]`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mix: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub distribution: Option<Value>,
    /// `{"policy": .., "capacity": ..}` (the `cached` variant).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cache: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub item_count: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub query: Option<Value>,
    pub targets: Vec<PlanTarget>,
    /// Older labs' document shape (now `value`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub doc: Option<Value>,
    /// Older labs' fixed scan length (now `scan`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scan_length: Option<u64>,
    /// Older labs' cache size (now `cache`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cache_capacity: Option<u64>,
    /// Entries this lab does not know (a newer lab's), kept and compared as they are.
    #[serde(flatten)]
    pub other: BTreeMap<String, Value>,
}

/// One entry of a plan, named as the results file names it, with its value as JSON
/// (`None` when the file did not record it).
pub type Entry = (&'static str, Option<Value>);

fn json<T: Serialize>(v: &Option<T>) -> Option<Value> {
    v.as_ref().and_then(|v| serde_json::to_value(v).ok())
}

impl RunPlan {
    /// The entries that change what is measured: two files that differ in one are not
    /// comparable.
    pub fn workload(&self) -> Vec<Entry> {
        vec![
            ("records", json(&self.records)),
            ("key_prefix", json(&self.key_prefix)),
            ("key_width", json(&self.key_width)),
            ("key_order", json(&self.key_order)),
            ("value", self.value.clone()),
            ("doc", self.doc.clone()),
            ("mix", self.mix.clone()),
            ("distribution", self.distribution.clone()),
            ("item_count", json(&self.item_count)),
            ("scan", self.scan.clone()),
            ("scan_length", json(&self.scan_length)),
            ("batch_size", json(&self.batch_size)),
            ("query", self.query.clone()),
        ]
    }

    /// The entries that change how it is measured: a difference is worth a warning.
    pub fn settings(&self) -> Vec<Entry> {
        vec![
            ("bound", self.bound.clone()),
            ("warmup", json(&self.warmup)),
            ("repeats", json(&self.repeats)),
            ("rate", json(&self.rate)),
            ("mode", json(&self.mode)),
            ("seed", json(&self.seed)),
            ("cache", self.cache.clone()),
            ("cache_capacity", json(&self.cache_capacity)),
            ("in_flight", json(&self.in_flight)),
            ("recover", json(&self.recover)),
        ]
    }

    /// The plan without what may differ between load generators of one run (the file's
    /// path and the description): what `lab merge` requires to be equal.
    pub fn without_file(&self) -> RunPlan {
        RunPlan {
            file: String::new(),
            description: String::new(),
            ..self.clone()
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn a_plan_written_by_a_schema_3_lab_reads_and_writes_back_the_same() {
        let text = r#"{"batch_size": 100, "bound": {"ops": 50}, "cache": {"capacity": 10000,
            "policy": "write-through"}, "description": "", "distribution": {"kind": "uniform"},
            "file": "w.toml", "in_flight": 1, "item_count": 10, "key_order": "hashed",
            "key_prefix": "user", "key_width": 1, "measure": "wall-clock",
            "mix": [["read", 100]], "mode": "interleaved", "name": "w", "query": {"take": 10},
            "rate": null, "records": 10, "repeats": 2, "scan": {"kind": "uniform", "max": 100,
            "min": 1}, "seed": 42, "targets": [], "threads": [1, 2],
            "value": {"doc": {"field_bytes": 100, "fields": 10, "tags": 3}},
            "variants": ["noop", "btreemap"], "warmup": "0s", "from_the_future": [1]}"#;
        let plan: RunPlan = serde_json::from_str(text).unwrap();
        assert_eq!(plan.records, Some(10));
        assert_eq!(plan.threads, [1, 2]);
        assert_eq!(plan.warmup.as_deref(), Some("0s"));
        assert_eq!(plan.rate, None);
        assert_eq!(plan.measure, Some(crate::Measure::WallClock));
        assert_eq!(plan.other["from_the_future"], serde_json::json!([1]));
        let back: Value = serde_json::to_value(&plan).unwrap();
        let mut want: Value = serde_json::from_str(text).unwrap();
        // `rate: null` is written as null too; nothing else changes.
        want["rate"] = Value::Null;
        assert_eq!(back, want);
    }
}
