//! Cache hit ratio of the variants that cache: over all measured phases, with the range of
//! the phases' own ratios as the interval.

use super::{bars, Bar};
use crate::format::{percent, variant_threads};
use crate::results::Results;

pub fn cache_hit_ratio(r: &Results) -> Option<String> {
    let data: Vec<Bar> = r
        .summaries
        .iter()
        .filter_map(|s| {
            let value = *s.metrics.get("cache_hit_ratio")?;
            let phases: Vec<f64> = r
                .runs
                .iter()
                .filter(|run| run.variant == s.variant && run.threads == s.threads)
                .filter_map(|run| run.metrics.get("cache_hit_ratio").copied())
                .collect();
            let low = phases.iter().copied().fold(f64::INFINITY, f64::min);
            let high = phases.iter().copied().fold(f64::NEG_INFINITY, f64::max);
            Some(Bar {
                label: variant_threads(&s.variant, s.threads),
                value,
                interval: (phases.len() > 1).then_some([low, high]),
            })
        })
        .collect();
    bars(
        "Cache hit ratio (bars: all phases; whiskers: lowest and highest phase)",
        "fraction of reads",
        &data,
        percent,
    )
}
