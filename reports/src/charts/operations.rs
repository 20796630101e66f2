//! One chart per operation: every variant and thread count side by side, the estimate of
//! its ops/s (median over blocks with its 95% interval, [`crate::estimate`]: the same
//! statistic as the throughput chart).

use std::collections::BTreeSet;

use super::throughput::ordered;
use super::{bars, Bar, BarSpec, Palette};
use crate::estimate::of_op;
use crate::estimate::Stat;
use crate::format::{human, variant_threads, Unit};
use crate::results::Results;

/// `(operation, svg)` in operation order.
pub fn per_operation(r: &Results, palette: &Palette) -> Vec<(String, String)> {
    let ops: BTreeSet<&String> = r.summaries.iter().flat_map(|s| s.per_op.keys()).collect();
    ops.into_iter()
        .filter_map(|op| {
            let rows: Vec<Bar> = ordered(r, palette)
                .into_iter()
                .filter_map(|s| {
                    let o = s.per_op.get(op)?;
                    let e = of_op(r, s, op, o, Stat::Throughput);
                    Some(Bar {
                        label: variant_threads(&s.variant, s.threads),
                        variant: s.variant.clone(),
                        value: e.median,
                        interval: e.has_interval().then(|| e.interval()),
                    })
                })
                .collect();
            let title = format!("{op}: ops/s per variant (median over blocks, 95% interval)");
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
