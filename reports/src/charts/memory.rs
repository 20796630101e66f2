//! Memory per item after the load, per variant and thread count.

use super::throughput::ordered;
use super::{bars, Bar, BarSpec, Palette};
use crate::format::{human, variant_threads, Unit};
use crate::results::Results;

pub fn bytes_per_item(r: &Results, palette: &Palette) -> Option<String> {
    let rows: Vec<Bar> = ordered(r, palette)
        .into_iter()
        .filter_map(|s| {
            s.bytes_per_item.map(|b| Bar {
                label: variant_threads(&s.variant, s.threads),
                variant: s.variant.clone(),
                value: b,
                interval: None,
            })
        })
        .collect();
    bars(
        BarSpec {
            title: "Memory per item after the load (heap bytes counted by the lab's allocator)",
            axis: "bytes per item",
            fmt: |v| human(Unit::Bytes, v),
            palette,
        },
        &rows,
    )
}
