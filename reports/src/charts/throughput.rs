//! Throughput per variant and thread count: the median of the repeats, with the 95%
//! interval of the mean when there were at least two.

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
        .map(|s| Bar {
            label: variant_threads(&s.variant, s.threads),
            variant: s.variant.clone(),
            value: s.throughput_median,
            interval: (crate::stats::repeats(r, s) > 1).then_some(s.throughput_ci95),
        })
        .collect();
    bars(
        BarSpec {
            title: "Throughput, all operations (median of repeats, 95% interval; ×N = N threads)",
            axis: "ops/s",
            fmt: |v| human(Unit::Rate, v),
            palette,
        },
        &rows,
    )
}
