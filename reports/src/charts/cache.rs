//! Cache hit ratio of the variants that cache.

use super::{bars, Bar};
use crate::format::variant_threads;
use crate::results::Results;

pub fn cache_hit_ratio(r: &Results) -> Option<String> {
    let data: Vec<Bar> = r
        .summaries
        .iter()
        .filter_map(|s| {
            s.metrics.get("cache_hit_ratio").map(|v| Bar {
                label: variant_threads(&s.variant, s.threads),
                value: *v,
                interval: None,
            })
        })
        .collect();
    bars("Cache hit ratio", "fraction of reads", &data, |v| {
        format!("{v:.2}")
    })
}
