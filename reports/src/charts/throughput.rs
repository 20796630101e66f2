//! Throughput per variant and thread count, with the 95% interval over repeats; memory per
//! item; cache hit ratio — the bar charts.

use super::{bars, Bar};
use crate::results::Results;
use crate::targets::{human, Kind};

fn label(variant: &str, threads: usize) -> String {
    format!("{variant} ×{threads}")
}

pub fn throughput(r: &Results) -> Option<String> {
    let data: Vec<Bar> = r
        .summaries
        .iter()
        .map(|s| Bar {
            label: label(&s.variant, s.threads),
            value: s.throughput_median,
            interval: Some(s.throughput_ci95),
        })
        .collect();
    bars(
        "Throughput (median of repeats, 95% interval)",
        "ops/s",
        &data,
        |v| human(Kind::Rate, v),
    )
}

pub fn memory(r: &Results) -> Option<String> {
    let data: Vec<Bar> = r
        .summaries
        .iter()
        .filter_map(|s| {
            s.bytes_per_item.map(|b| Bar {
                label: label(&s.variant, s.threads),
                value: b,
                interval: None,
            })
        })
        .collect();
    bars("Memory per item after load", "bytes", &data, |v| {
        human(Kind::Bytes, v)
    })
}

pub fn cache_hit_ratio(r: &Results) -> Option<String> {
    let data: Vec<Bar> = r
        .summaries
        .iter()
        .filter_map(|s| {
            s.metrics.get("cache_hit_ratio").map(|v| Bar {
                label: label(&s.variant, s.threads),
                value: *v,
                interval: None,
            })
        })
        .collect();
    bars("Cache hit ratio", "fraction of reads", &data, |v| {
        format!("{v:.2}")
    })
}
