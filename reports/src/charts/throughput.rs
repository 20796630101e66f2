//! Throughput per variant and thread count: the estimate of its throughput (median over
//! blocks with its 95% interval, [`crate::estimate`]).

use super::{bars, Bar, BarSpec, Palette};
use crate::format::{human, variant_threads, Unit};
use crate::results::{Results, VariantSummary};

/// Summaries in chart order: by thread count, then by the palette's variant order.
pub fn ordered<'a>(r: &'a Results, palette: &Palette) -> Vec<&'a VariantSummary> {
    let mut list: Vec<&VariantSummary> = r.summaries.iter().collect();
    let at = |v: &str| palette.variants().iter().position(|x| x == v);
    list.sort_by_key(|s| (s.threads, at(&s.variant)));
    list
}

pub fn throughput(r: &Results, palette: &Palette) -> Option<String> {
    let rows: Vec<Bar> = ordered(r, palette)
        .into_iter()
        .map(|s| {
            let e = crate::estimate::of_mix(r, s);
            Bar {
                label: variant_threads(&s.variant, s.threads),
                variant: s.variant.clone(),
                value: e.median,
                interval: e.has_interval().then(|| e.interval()),
            }
        })
        .collect();
    bars(
        BarSpec {
            title: "Throughput, all operations (median over blocks, 95% interval; ×N = N threads)",
            axis: "ops/s",
            fmt: |v| human(Unit::Rate, v),
            palette,
        },
        &rows,
    )
}
