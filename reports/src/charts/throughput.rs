//! Throughput per variant and thread count, with the 95% interval over repeats.

use super::{bars, Bar};
use crate::format::{human, variant_threads, Unit};
use crate::results::Results;

pub fn throughput(r: &Results) -> Option<String> {
    let data: Vec<Bar> = r
        .summaries
        .iter()
        .map(|s| Bar {
            label: variant_threads(&s.variant, s.threads),
            value: s.throughput_median,
            interval: Some(s.throughput_ci95),
        })
        .collect();
    bars(
        "Throughput (median of repeats, 95% interval)",
        "ops/s",
        &data,
        |v| human(Unit::Rate, v),
    )
}
