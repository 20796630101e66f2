//! One chart per operation: every variant and thread count side by side, the median of the
//! repeats' ops/s with its 95% interval (the same statistic as the throughput chart).

use std::collections::BTreeSet;

use super::throughput::ordered;
use super::{bars, Bar, BarSpec, Palette};
use crate::format::{human, variant_threads, Unit};
use crate::results::Results;
use crate::stats::op_spread;

/// `(operation, svg)` in operation order.
pub fn per_operation(r: &Results, palette: &Palette) -> Vec<(String, String)> {
    let ops: BTreeSet<&String> = r.summaries.iter().flat_map(|s| s.per_op.keys()).collect();
    ops.into_iter()
        .filter_map(|op| {
            let rows: Vec<Bar> = ordered(r, palette)
                .into_iter()
                .filter_map(|s| {
                    let o = s.per_op.get(op)?;
                    let spread = op_spread(r, &s.variant, s.threads, op);
                    Some(Bar {
                        label: variant_threads(&s.variant, s.threads),
                        variant: s.variant.clone(),
                        value: o.throughput,
                        interval: spread.filter(|(_, _, n)| *n > 1).map(|(_, ci, _)| ci),
                    })
                })
                .collect();
            let title = format!("{op}: ops/s per variant (median of repeats, 95% interval)");
            let spec = BarSpec {
                title: &title,
                axis: "ops/s",
                fmt: |v| human(Unit::Rate, v),
                palette,
            };
            bars(spec, &rows).map(|svg| (op.clone(), svg))
        })
        .collect()
}
