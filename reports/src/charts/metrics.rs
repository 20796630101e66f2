//! One chart per backend metric (`metrics` of the summaries, e.g. `cache_hit_ratio`):
//! whatever metrics the results carry, each gets a chart, known or not.

use std::collections::BTreeSet;

use super::throughput::ordered;
use super::{bars, Bar, BarSpec, Palette};
use crate::format::{human, variant_threads, Unit};
use crate::results::Results;

/// A title and an axis for the metrics the lab knows; others are named by their key.
fn describe(key: &str) -> (String, String, fn(f64) -> String) {
    match key {
        "cache_hit_ratio" => (
            "Cache hit ratio (reads served from the cache)".into(),
            "fraction of reads".into(),
            |v| format!("{v:.2}"),
        ),
        _ => (
            format!("Backend metric: {key}"),
            key.replace('_', " "),
            |v| human(Unit::Ratio, v),
        ),
    }
}

/// `(metric key, svg)` in key order.
pub fn metrics(r: &Results, palette: &Palette) -> Vec<(String, String)> {
    let keys: BTreeSet<&String> = r.summaries.iter().flat_map(|s| s.metrics.keys()).collect();
    keys.into_iter()
        .filter_map(|key| {
            let rows: Vec<Bar> = ordered(r, palette)
                .into_iter()
                .filter_map(|s| {
                    s.metrics.get(key).map(|v| Bar {
                        label: variant_threads(&s.variant, s.threads),
                        variant: s.variant.clone(),
                        value: *v,
                        interval: None,
                    })
                })
                .collect();
            let (title, axis, fmt) = describe(key);
            let spec = BarSpec {
                title: &title,
                axis: &axis,
                fmt,
                palette,
            };
            bars(spec, &rows).map(|svg| (key.clone(), svg))
        })
        .collect()
}
