//! Memory per item after the load, per variant and thread count.

use super::{bars, Bar};
use crate::format::{human, variant_threads, Unit};
use crate::results::Results;

pub fn bytes_per_item(r: &Results) -> Option<String> {
    let data: Vec<Bar> = r
        .summaries
        .iter()
        .filter_map(|s| {
            s.bytes_per_item.map(|b| Bar {
                label: variant_threads(&s.variant, s.threads),
                value: b,
                interval: None,
            })
        })
        .collect();
    bars("Memory per item after load", "bytes", &data, |v| {
        human(Unit::Bytes, v)
    })
}
