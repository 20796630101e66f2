//! One chart per backend metric (`metrics` of the summaries, e.g. `cache_hit_ratio`):
//! whatever metrics the results carry, each gets a chart, known or not. A bar is the value
//! over all measured phases; its whiskers, the lowest and highest phase's own value.

use std::collections::BTreeSet;

use super::throughput::ordered;
use super::{bars, Bar, BarSpec, Palette};
use crate::format::{human, percent, variant_threads, Unit};
use crate::results::Results;

/// A title and an axis for the metrics the lab knows; others are named by their key. A
/// counter (any key but a `_ratio`) adds up over phases in the summary, so its bar is the
/// mean per phase, the quantity its whiskers (lowest and highest phase) bound.
fn describe(key: &str) -> (String, String, fn(f64) -> String) {
    match key {
        "cache_hit_ratio" => (
            "Cache hit ratio (reads served from the cache; whiskers: lowest and highest phase)"
                .into(),
            "fraction of reads".into(),
            percent,
        ),
        k if is_ratio(k) => (
            format!("Backend metric: {k} (whiskers: lowest and highest phase)"),
            k.replace('_', " "),
            |v| human(Unit::Ratio, v),
        ),
        k => (
            format!("Backend metric: {k}, per phase (mean; whiskers: lowest and highest phase)"),
            format!("{} per phase", k.replace('_', " ")),
            |v| human(Unit::Ratio, v),
        ),
    }
}

/// Ratios are averaged over phases (see `stats::merge_metrics`); everything else adds up.
fn is_ratio(key: &str) -> bool {
    key.ends_with("_ratio")
}

/// The rows of `key`'s chart: per variant and thread count, the value over all measured
/// phases (a counter's mean per phase), whiskers at the lowest and highest phase.
pub(crate) fn rows(r: &Results, palette: &Palette, key: &str) -> Vec<Bar> {
    ordered(r, palette)
        .into_iter()
        .filter_map(|s| {
            let total = *s.metrics.get(key)?;
            let phases: Vec<f64> = r
                .runs
                .iter()
                .filter(|run| run.variant == s.variant && run.threads == s.threads)
                .filter_map(|run| run.metrics.get(key).copied())
                .collect();
            let value = if is_ratio(key) || phases.is_empty() {
                total
            } else {
                total / phases.len() as f64
            };
            let low = phases.iter().copied().fold(f64::INFINITY, f64::min);
            let high = phases.iter().copied().fold(f64::NEG_INFINITY, f64::max);
            Some(Bar {
                label: variant_threads(&s.variant, s.threads),
                variant: s.variant.clone(),
                value,
                interval: (phases.len() > 1).then_some([low, high]),
            })
        })
        .collect()
}

/// `(metric key, svg)` in key order.
pub fn metrics(r: &Results, palette: &Palette) -> Vec<(String, String)> {
    let keys: BTreeSet<&String> = r.summaries.iter().flat_map(|s| s.metrics.keys()).collect();
    keys.into_iter()
        .filter_map(|key| {
            let rows = rows(r, palette, key);
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

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    /// Three phases of `cached` with counters and their ratio, as the lab records them.
    fn three_phases() -> Results {
        let path =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/results.json");
        let mut r = Results::load(&path).unwrap();
        let cached: Vec<usize> = r
            .runs
            .iter()
            .enumerate()
            .filter(|(_, run)| run.variant == "cached" && run.threads == 1)
            .map(|(i, _)| i)
            .collect();
        assert!(!cached.is_empty());
        let mut phases = Vec::new();
        for (k, &i) in cached.iter().cycle().take(3).enumerate() {
            let mut run = r.runs[i].clone();
            run.repeat = k as u32;
            let (hits, misses) = (100.0 * (k + 1) as f64, 50.0);
            run.metrics = [
                ("cache_hits".to_owned(), hits),
                ("cache_misses".to_owned(), misses),
                ("cache_hit_ratio".to_owned(), hits / (hits + misses)),
            ]
            .into();
            phases.push(run);
        }
        r.runs
            .retain(|run| !(run.variant == "cached" && run.threads == 1));
        let merged = crate::stats::merge_metrics(phases.iter().map(|p| &p.metrics));
        r.runs.extend(phases);
        let s = r
            .summaries
            .iter_mut()
            .find(|s| s.variant == "cached" && s.threads == 1)
            .unwrap();
        s.metrics = merged;
        r
    }

    #[test]
    fn every_bar_lies_within_its_whiskers() {
        let r = three_phases();
        let palette = Palette::of(&r);
        for key in ["cache_hits", "cache_misses", "cache_hit_ratio"] {
            let rows = rows(&r, &palette, key);
            let bar = rows.iter().find(|b| b.label.starts_with("cached")).unwrap();
            let [lo, hi] = bar.interval.unwrap();
            assert!(
                lo <= bar.value && bar.value <= hi,
                "{key}: bar {} outside its whiskers [{lo}, {hi}]",
                bar.value
            );
        }
        // The counters' bars are the mean per phase: 200 hits, 50 misses.
        let hits = rows(&r, &palette, "cache_hits");
        assert_eq!(
            hits.iter()
                .find(|b| b.label.starts_with("cached"))
                .unwrap()
                .value,
            200.0
        );
    }
}
