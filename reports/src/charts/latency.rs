//! Latency percentile curves (p50 … p99.99) per operation, one line per variant and thread
//! count (colour: the variant; dash: the thread count), log axis, legend beside the plot.

use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use super::{dash, legend, legend_width, text_width, Entry, Palette, FONT, LABEL, PLOT_BG, WIDTH};
use crate::format::{human_ns, variant_threads};
use crate::results::Results;

const POINTS: [&str; 5] = ["p50", "p90", "p99", "p99.9", "p99.99"];

/// One chart per operation, in operation order.
pub fn latency(r: &Results, palette: &Palette) -> Vec<(String, String)> {
    let mut ops: Vec<&String> = r.summaries.iter().flat_map(|s| s.per_op.keys()).collect();
    ops.sort();
    ops.dedup();
    ops.into_iter()
        .filter_map(|op| chart(r, op, palette).map(|svg| (op.clone(), svg)))
        .collect()
}

/// A line to draw: its legend entry and its five percentiles.
struct Line {
    entry: Entry,
    values: [f64; 5],
}

fn lines(r: &Results, op: &str, palette: &Palette) -> Vec<Line> {
    let mut threads: Vec<usize> = r.summaries.iter().map(|s| s.threads).collect();
    threads.sort_unstable();
    threads.dedup();
    super::throughput::ordered(r, palette)
        .into_iter()
        .filter_map(|s| {
            let o = s.per_op.get(op)?;
            let style = palette.style(&s.variant);
            let k = threads.iter().position(|t| *t == s.threads).unwrap_or(0);
            Some(Line {
                entry: Entry {
                    label: variant_threads(&s.variant, s.threads),
                    colour: style.colour,
                    dash: dash(k, style),
                },
                values: [o.p50_ns, o.p90_ns, o.p99_ns, o.p999_ns, o.p9999_ns]
                    .map(|x| x.max(1) as f64),
            })
        })
        .collect()
}

fn chart(r: &Results, op: &str, palette: &Palette) -> Option<String> {
    let lines = lines(r, op, palette);
    if lines.is_empty() {
        return None;
    }
    let all = || lines.iter().flat_map(|l| l.values.iter().copied());
    let lo = all().fold(f64::MAX, f64::min).max(1.0) / 1.5;
    let hi = all().fold(1.0, f64::max) * 1.5;
    let entries: Vec<Entry> = lines.iter().map(|l| l.entry.clone()).collect();
    let legend_w = legend_width(&entries);
    let height = (70 + 20 * entries.len() as u32).max(360);
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (WIDTH, height)).into_drawing_area();
        root.fill(&WHITE).ok()?;
        let (plot, side) = root.split_horizontally(WIDTH - legend_w);
        let mut c = ChartBuilder::on(&plot)
            .caption(
                format!("{op}: latency percentiles (×N = N threads)"),
                (FONT, super::CAPTION),
            )
            .margin(10)
            .margin_right(24)
            .x_label_area_size(40)
            .y_label_area_size(text_width(&human_ns(hi), LABEL) + 34)
            .build_cartesian_2d(-0.15f64..4.15f64, (lo..hi).log_scale())
            .ok()?;
        c.plotting_area().fill(&PLOT_BG).ok()?;
        c.configure_mesh()
            .x_labels(0)
            .disable_x_mesh()
            .y_label_formatter(&|y| human_ns(*y))
            .x_desc("percentile")
            .y_desc("latency per operation (log scale)")
            .label_style((FONT, LABEL))
            .axis_desc_style((FONT, LABEL))
            .draw()
            .ok()?;
        for l in &lines {
            let points: Vec<(f64, f64)> = l
                .values
                .iter()
                .enumerate()
                .map(|(x, y)| (x as f64, *y))
                .collect();
            let style = l.entry.colour.stroke_width(2);
            match l.entry.dash {
                None => c.draw_series(LineSeries::new(points, style)).ok()?,
                Some((d, g)) => c
                    .draw_series(DashedLineSeries::new(points, d, g, style))
                    .ok()?,
            };
        }
        for (k, name) in POINTS.iter().enumerate() {
            let (x, y) = c.backend_coord(&(k as f64, lo));
            plot.draw(&Text::new(
                *name,
                (x, y + 8),
                super::label_style(Pos::new(HPos::Center, VPos::Top)),
            ))
            .ok()?;
        }
        legend(&side, &entries)?;
        root.present().ok()?;
    }
    Some(svg)
}
