//! Throughput over time: operations per second in each interval of the first repeat, one
//! line per variant and thread count (colour: the variant; dash: the thread count).

use plotters::prelude::*;

use super::{dash, legend, legend_width, text_width, Entry, Palette, FONT, LABEL, PLOT_BG, WIDTH};
use crate::format::{human, variant_threads, Unit};
use crate::results::{Results, RunResult};

fn first_repeats(r: &Results) -> Vec<&RunResult> {
    r.runs
        .iter()
        .filter(|run| run.repeat == 0 && !run.intervals.is_empty() && run.interval_s > 0.0)
        .collect()
}

fn entries(runs: &[&RunResult], palette: &Palette) -> Vec<Entry> {
    let mut threads: Vec<usize> = runs.iter().map(|r| r.threads).collect();
    threads.sort_unstable();
    threads.dedup();
    runs.iter()
        .map(|run| {
            let style = palette.style(&run.variant);
            let k = threads.iter().position(|t| *t == run.threads).unwrap_or(0);
            Entry {
                label: variant_threads(&run.variant, run.threads),
                colour: style.colour,
                dash: dash(k, style),
            }
        })
        .collect()
}

pub fn intervals(r: &Results, palette: &Palette) -> Option<String> {
    let runs = first_repeats(r);
    if runs.is_empty() {
        return None;
    }
    let max_t = runs
        .iter()
        .map(|run| run.intervals.len() as f64 * run.interval_s)
        .fold(0.0, f64::max);
    let rate = |run: &RunResult, n: u64| n as f64 / run.interval_s;
    let max_y = runs
        .iter()
        .flat_map(|run| run.intervals.iter().map(move |c| rate(run, *c)))
        .fold(1.0, f64::max)
        * 1.1;
    let entries = entries(&runs, palette);
    let legend_w = legend_width(&entries);
    let height = (70 + 20 * entries.len() as u32).max(340);
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (WIDTH, height)).into_drawing_area();
        root.fill(&WHITE).ok()?;
        let (plot, side) = root.split_horizontally(WIDTH - legend_w);
        let seconds = |x: &f64| format!("{x:.1} s");
        let mut c = ChartBuilder::on(&plot)
            .caption(
                "Throughput over time, first repeat (×N = N threads)",
                (FONT, super::CAPTION),
            )
            .margin(10)
            .margin_right(text_width(&seconds(&max_t), LABEL) / 2 + 14)
            .x_label_area_size(46)
            .y_label_area_size(text_width(&human(Unit::Rate, max_y), LABEL) + 34)
            .build_cartesian_2d(0.0..max_t, 0.0..max_y)
            .ok()?;
        c.plotting_area().fill(&PLOT_BG).ok()?;
        c.configure_mesh()
            .x_desc("time into the phase")
            .y_desc("ops/s")
            .x_label_formatter(&seconds)
            .y_label_formatter(&|y| human(Unit::Rate, *y))
            .label_style((FONT, LABEL))
            .axis_desc_style((FONT, LABEL))
            .draw()
            .ok()?;
        for (run, e) in runs.iter().zip(&entries) {
            // The last interval is cut short by the end of the phase: leave it out.
            let whole = run.intervals.len().saturating_sub(1).max(1);
            let points: Vec<(f64, f64)> = run
                .intervals
                .iter()
                .take(whole)
                .enumerate()
                .map(|(k, n)| ((k as f64 + 0.5) * run.interval_s, rate(run, *n)))
                .collect();
            let style = e.colour.stroke_width(2);
            match e.dash {
                None => c.draw_series(LineSeries::new(points, style)).ok()?,
                Some((d, g)) => c
                    .draw_series(DashedLineSeries::new(points, d, g, style))
                    .ok()?,
            };
        }
        legend(&side, &entries)?;
        root.present().ok()?;
    }
    Some(svg)
}
