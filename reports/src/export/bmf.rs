//! Bencher Metric Format (<https://bencher.dev/docs/reference/bencher-metric-format/>), which
//! `bencher run --adapter json` tracks across commits:
//! `{"<benchmark>": {"<measure>": {"value": v, "lower_value": lo, "upper_value": hi}}}`.
//!
//! A benchmark per workload, variant and thread count (`mixed/plain/2t`, the whole mix)
//! and per operation (`mixed/plain/2t/read`). Measures: `throughput` (ops/s),
//! `latency_p50` and `latency_p99` (ns) for wall-clock results; `instructions` and
//! `estimated_cycles` (per operation) for instruction counts. `lower_value` and
//! `upper_value` are the 95% interval over the repeats, left out with one repeat.

use std::collections::BTreeMap;

use serde::Serialize;

use super::{measurements, ALL_OPS};
use crate::results::Results;

/// The measures written (others, such as `latency_max`, stay in the CSV).
pub const MEASURES: [&str; 5] = [
    "throughput",
    "latency_p50",
    "latency_p99",
    "instructions",
    "estimated_cycles",
];

/// One measure's value and interval.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct Metric {
    pub value: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lower_value: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub upper_value: Option<f64>,
}

/// Benchmark name → measure name → metric.
pub type Bmf = BTreeMap<String, BTreeMap<&'static str, Metric>>;

/// The benchmark name of a variant at a thread count (and an operation).
pub fn benchmark(workload: &str, variant: &str, threads: usize, op: &str) -> String {
    if op == ALL_OPS {
        format!("{workload}/{variant}/{threads}t")
    } else {
        format!("{workload}/{variant}/{threads}t/{op}")
    }
}

/// The benchmarks of every workload in `results`.
pub fn of(results: &[Results]) -> Bmf {
    let mut out = Bmf::new();
    for r in results {
        for m in measurements(r) {
            if !MEASURES.contains(&m.metric) || !m.value.is_finite() {
                continue;
            }
            let finite = |v: Option<f64>| v.filter(|v| v.is_finite());
            out.entry(benchmark(&m.workload, &m.variant, m.threads, &m.op))
                .or_default()
                .insert(
                    m.metric,
                    Metric {
                        value: m.value,
                        lower_value: finite(m.lower),
                        upper_value: finite(m.upper),
                    },
                );
        }
    }
    out
}

/// BMF JSON of `results`, indented.
pub fn render(results: &[Results]) -> String {
    serde_json::to_string_pretty(&of(results)).unwrap_or_default()
}
