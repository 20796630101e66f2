//! One chart per backend metric (`metrics` of the summaries, e.g. `cache_hit_ratio`):
//! whatever metrics the results carry, each gets a chart, known or not. A bar is the value
//! over all measured phases; its whiskers, the lowest and highest phase's own value.

use std::collections::BTreeSet;

use super::throughput::ordered;
use super::{bars, Bar, BarSpec, Palette};
use crate::format::{human, percent, variant_threads, Unit};
use crate::results::Results;

/// A title and an axis for the metrics the lab knows; others are named by their key.
fn describe(key: &str) -> (String, String, fn(f64) -> String) {
    match key {
        "cache_hit_ratio" => (
            "Cache hit ratio (reads served from the cache; whiskers: lowest and highest phase)"
                .into(),
            "fraction of reads".into(),
            percent,
        ),
        _ => (
            format!("Backend metric: {key} (whiskers: lowest and highest phase)"),
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
                    let value = *s.metrics.get(key)?;
                    let phases: Vec<f64> = r
                        .runs
                        .iter()
                        .filter(|run| run.variant == s.variant && run.threads == s.threads)
                        .filter_map(|run| run.metrics.get(key).copied())
                        .collect();
                    let low = phases.iter().copied().fold(f64::INFINITY, f64::min);
                    let high = phases.iter().copied().fold(f64::NEG_INFINITY, f64::max);
                    Some(Bar {
                        label: variant_threads(&s.variant, s.threads),
                        variant: s.variant.clone(),
                        value,
                        interval: (phases.len() > 1).then_some([low, high]),
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
