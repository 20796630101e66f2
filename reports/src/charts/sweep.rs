//! `lab sweep`: latency against offered rate, one colour per variant, p50 / p99 / p99.9 as
//! solid / dashed / dotted lines, both axes logarithmic, the SLO as a horizontal line and
//! each variant's knee as a ring on its p99 line.

use plotters::prelude::*;

use super::{legend, legend_width, text_width, Entry, Palette, FONT, LABEL, PLOT_BG, WIDTH};
use crate::format::{human, human_ns, Unit};
use crate::results::Results;
use crate::sweep::{Point, Sweep, SweepVariant};

/// A percentile drawn: its label, reading and dash.
struct Line {
    label: &'static str,
    read: fn(&Point) -> u64,
    dash: Option<(u32, u32)>,
}

const LINES: [Line; 3] = [
    Line {
        label: "p50",
        read: |p| p.p50_ns,
        dash: None,
    },
    Line {
        label: "p99",
        read: |p| p.p99_ns,
        dash: Some((8, 4)),
    },
    Line {
        label: "p99.9",
        read: |p| p.p999_ns,
        dash: Some((2, 3)),
    },
];

/// The legend: a colour per variant (with its knee), a dash per percentile.
fn entries(s: &Sweep, palette: &Palette) -> Vec<Entry> {
    let mut entries: Vec<Entry> = s
        .variants
        .iter()
        .map(|v| Entry {
            label: format!(
                "{} (knee {})",
                v.variant,
                v.knee.map_or("none".into(), |k| human(Unit::Rate, k))
            ),
            colour: palette.style(&v.variant).colour,
            dash: None,
        })
        .collect();
    entries.extend(LINES.iter().map(|l| Entry {
        label: l.label.to_owned(),
        colour: BLACK,
        dash: l.dash,
    }));
    entries
}

/// A variant's three percentile lines and its knee's ring.
fn draw_variant<DB: DrawingBackend>(
    c: &mut ChartContext<'_, DB, Cartesian2d<LogCoord<f64>, LogCoord<f64>>>,
    v: &SweepVariant,
    colour: RGBColor,
) -> Option<()> {
    for l in &LINES {
        let line: Vec<(f64, f64)> = v
            .points
            .iter()
            .map(|p| (p.offered.max(1.0), (l.read)(p).max(1) as f64))
            .collect();
        let style = colour.stroke_width(2);
        match l.dash {
            None => c.draw_series(LineSeries::new(line, style)).ok()?,
            Some((d, g)) => c
                .draw_series(DashedLineSeries::new(line, d, g, style))
                .ok()?,
        };
    }
    if let Some(p) = v
        .knee
        .and_then(|k| v.points.iter().find(|p| p.offered == k))
    {
        let at = (p.offered.max(1.0), p.p99_ns.max(1) as f64);
        c.draw_series(std::iter::once(Circle::new(at, 7, colour.stroke_width(3))))
            .ok()?;
    }
    Some(())
}

/// The chart, when the results hold a sweep with steps.
pub fn sweep(r: &Results, palette: &Palette) -> Option<String> {
    let s = r.sweep.as_ref()?;
    let points = || s.variants.iter().flat_map(|v| &v.points);
    points().next()?;
    let x_lo = points()
        .map(|p| p.offered.max(1.0))
        .fold(f64::MAX, f64::min);
    let x_hi = points().map(|p| p.offered).fold(1.0, f64::max);
    let slo = s.slo_ns as f64;
    let y_lo = points().map(|p| p.p50_ns.max(1) as f64).fold(slo, f64::min);
    let y_hi = points().map(|p| p.p999_ns as f64).fold(slo, f64::max);
    let entries = entries(s, palette);
    let legend_w = legend_width(&entries);
    let height = (70 + 20 * entries.len() as u32).max(380);
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (WIDTH, height)).into_drawing_area();
        root.fill(&WHITE).ok()?;
        let (plot, side) = root.split_horizontally(WIDTH - legend_w);
        let title = format!(
            "Latency against offered rate ({} thread(s), from intended start); SLO p99 ≤ {}, knee ringed",
            s.threads,
            human_ns(slo)
        );
        let (x0, x1) = (x_lo * 0.8, x_hi * 1.25);
        let mut c = ChartBuilder::on(&plot)
            .caption(title, (FONT, super::CAPTION))
            .margin(10)
            .margin_right(text_width(&human(Unit::Rate, x_hi), LABEL) / 2 + 14)
            .x_label_area_size(46)
            .y_label_area_size(text_width(&human_ns(y_hi), LABEL) + 34)
            .build_cartesian_2d((x0..x1).log_scale(), (y_lo * 0.8..y_hi * 1.25).log_scale())
            .ok()?;
        c.plotting_area().fill(&PLOT_BG).ok()?;
        c.configure_mesh()
            .x_desc("offered rate")
            .y_desc("latency")
            .x_label_formatter(&|x| human(Unit::Rate, *x))
            .y_label_formatter(&|y| human_ns(*y))
            .label_style((FONT, LABEL))
            .axis_desc_style((FONT, LABEL))
            .draw()
            .ok()?;
        let grey = RGBColor(120, 120, 120).stroke_width(1);
        c.draw_series(DashedLineSeries::new([(x0, slo), (x1, slo)], 6, 6, grey))
            .ok()?;
        for v in &s.variants {
            draw_variant(&mut c, v, palette.style(&v.variant).colour)?;
        }
        legend(&side, &entries)?;
        root.present().ok()?;
    }
    Some(svg)
}
