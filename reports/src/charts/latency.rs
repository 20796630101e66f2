//! Latency percentile curves (p50 … p99.99) per operation, one line per variant, log axis.

use plotters::prelude::*;

use crate::results::Results;

const POINTS: [&str; 5] = ["p50", "p90", "p99", "p99.9", "p99.99"];

/// One chart per operation, in operation order.
pub fn latency(r: &Results) -> Vec<(String, String)> {
    let mut ops: Vec<&String> = r.summaries.iter().flat_map(|s| s.per_op.keys()).collect();
    ops.sort();
    ops.dedup();
    ops.into_iter()
        .filter_map(|op| chart(r, op).map(|svg| (op.clone(), svg)))
        .collect()
}

fn chart(r: &Results, op: &str) -> Option<String> {
    let lines: Vec<(String, [f64; 5])> = r
        .summaries
        .iter()
        .filter_map(|s| {
            let o = s.per_op.get(op)?;
            let v =
                [o.p50_ns, o.p90_ns, o.p99_ns, o.p999_ns, o.p9999_ns].map(|x| (x.max(1)) as f64);
            Some((crate::format::variant_threads(&s.variant, s.threads), v))
        })
        .collect();
    if lines.is_empty() {
        return None;
    }
    let lo = lines
        .iter()
        .flat_map(|(_, v)| v.iter().copied())
        .fold(f64::MAX, f64::min)
        .max(1.0)
        / 1.5;
    let hi = lines
        .iter()
        .flat_map(|(_, v)| v.iter().copied())
        .fold(1.0, f64::max)
        * 1.5;
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (640, 340)).into_drawing_area();
        root.fill(&WHITE).ok()?;
        let mut c = ChartBuilder::on(&root)
            .caption(format!("{op}: latency percentiles"), ("sans-serif", 18))
            .margin(10)
            .x_label_area_size(35)
            .y_label_area_size(70)
            .build_cartesian_2d(0f64..4f64, (lo..hi).log_scale())
            .ok()?;
        c.configure_mesh()
            .x_labels(5)
            .x_label_formatter(&|x| {
                POINTS
                    .get(x.round() as usize)
                    .map(|s| (*s).to_owned())
                    .unwrap_or_default()
            })
            .y_label_formatter(&|y| crate::format::human_ns(*y))
            .y_desc("latency")
            .draw()
            .ok()?;
        for (i, (name, v)) in lines.iter().enumerate() {
            let color = Palette99::pick(i);
            c.draw_series(LineSeries::new(
                v.iter().enumerate().map(|(x, y)| (x as f64, *y)),
                color.stroke_width(2),
            ))
            .ok()?
            .label(name.clone())
            .legend(move |(x, y)| PathElement::new([(x, y), (x + 16, y)], color.stroke_width(2)));
        }
        c.configure_series_labels()
            .border_style(BLACK)
            .background_style(WHITE.mix(0.9))
            .draw()
            .ok()?;
        root.present().ok()?;
    }
    Some(svg)
}
