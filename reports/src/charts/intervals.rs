//! Throughput over time: operations per second in each interval of the first repeat.

use plotters::prelude::*;

use crate::results::Results;

pub fn intervals(r: &Results) -> Option<String> {
    let runs: Vec<_> = r
        .runs
        .iter()
        .filter(|run| run.repeat == 0 && !run.intervals.is_empty() && run.interval_s > 0.0)
        .collect();
    if runs.is_empty() {
        return None;
    }
    let max_t = runs
        .iter()
        .map(|run| run.intervals.len() as f64 * run.interval_s)
        .fold(0.0, f64::max);
    let max_y = runs
        .iter()
        .flat_map(|run| {
            run.intervals
                .iter()
                .map(move |c| *c as f64 / run.interval_s)
        })
        .fold(1.0, f64::max)
        * 1.1;
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (640, 320)).into_drawing_area();
        root.fill(&WHITE).ok()?;
        let mut c = ChartBuilder::on(&root)
            .caption("Throughput over time (first repeat)", ("sans-serif", 18))
            .margin(10)
            .x_label_area_size(35)
            .y_label_area_size(70)
            .build_cartesian_2d(0.0..max_t, 0.0..max_y)
            .ok()?;
        c.configure_mesh()
            .x_desc("seconds")
            .y_desc("ops/s")
            .draw()
            .ok()?;
        for (i, run) in runs.iter().enumerate() {
            let color = Palette99::pick(i);
            // The last interval is cut short by the end of the phase: leave it out.
            let whole = run.intervals.len().saturating_sub(1).max(1);
            let points = run.intervals.iter().take(whole).enumerate().map(|(k, n)| {
                (
                    (k as f64 + 0.5) * run.interval_s,
                    *n as f64 / run.interval_s,
                )
            });
            c.draw_series(LineSeries::new(points, color.stroke_width(2)))
                .ok()?
                .label(crate::format::variant_threads(&run.variant, run.threads))
                .legend(move |(x, y)| {
                    PathElement::new([(x, y), (x + 16, y)], color.stroke_width(2))
                });
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
