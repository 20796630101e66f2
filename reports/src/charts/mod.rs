//! Inline SVG charts (plotters, SVG backend: text is left to the browser, so no fonts are
//! needed). One file per chart; each returns `None` when the results hold nothing to draw.

pub mod cache;
pub mod instructions;
pub mod intervals;
pub mod latency;
pub mod memory;
pub mod throughput;

use plotters::prelude::*;

/// A labelled value with an optional interval, for bar charts.
#[derive(Debug)]
pub struct Bar {
    pub label: String,
    pub value: f64,
    pub interval: Option<[f64; 2]>,
}

/// A vertical bar chart with error bars, as an SVG string.
pub fn bars(title: &str, y_desc: &str, data: &[Bar], fmt: fn(f64) -> String) -> Option<String> {
    // Non-finite values cannot be drawn; a chart with none left is no chart.
    let data: Vec<&Bar> = data.iter().filter(|b| b.value.is_finite()).collect();
    if data.is_empty() {
        return None;
    }
    let ends = |b: &Bar| {
        let [lo, hi] = b
            .interval
            .filter(|i| i[0].is_finite() && i[1].is_finite())
            .unwrap_or([b.value, b.value]);
        (lo.min(b.value), hi.max(b.value))
    };
    let low = data.iter().map(|b| ends(b).0).fold(0.0, f64::min);
    let high = data.iter().map(|b| ends(b).1).fold(0.0, f64::max);
    let pad = ((high - low) * 0.15).max(1e-9);
    let (bottom, top) = (if low < 0.0 { low - pad } else { 0.0 }, high + pad);
    let mut svg = String::new();
    {
        let width = (160 + 90 * data.len() as u32).max(480);
        let root = SVGBackend::with_string(&mut svg, (width, 320)).into_drawing_area();
        root.fill(&WHITE).ok()?;
        let n = data.len() as f64;
        let mut chart = ChartBuilder::on(&root)
            .caption(title, ("sans-serif", 18))
            .margin(10)
            .x_label_area_size(40)
            .y_label_area_size(70)
            .build_cartesian_2d(-0.5..n - 0.5, bottom..top)
            .ok()?;
        chart
            .configure_mesh()
            .disable_x_mesh()
            .x_labels(data.len())
            .x_label_formatter(&|x| {
                let i = x.round();
                if (x - i).abs() < 1e-6 && i >= 0.0 {
                    data.get(i as usize)
                        .map(|b| b.label.clone())
                        .unwrap_or_default()
                } else {
                    String::new()
                }
            })
            .y_label_formatter(&|y| fmt(*y))
            .y_desc(y_desc)
            .draw()
            .ok()?;
        for (i, b) in data.iter().enumerate() {
            let x = i as f64;
            let color = Palette99::pick(i).mix(0.8);
            chart
                .draw_series(std::iter::once(Rectangle::new(
                    [(x - 0.35, 0.0), (x + 0.35, b.value)],
                    color.filled(),
                )))
                .ok()?;
            if let Some([lo, hi]) = b.interval {
                chart
                    .draw_series(std::iter::once(ErrorBar::new_vertical(
                        x,
                        lo.max(0.0),
                        b.value,
                        hi,
                        BLACK.filled(),
                        10,
                    )))
                    .ok()?;
            }
        }
        root.present().ok()?;
    }
    Some(svg)
}
