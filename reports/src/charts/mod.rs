//! Inline SVG charts (plotters, SVG backend: text is left to the browser, so no fonts are
//! needed). One file per chart; each returns `None` when the results hold nothing to draw.
//!
//! Every chart is as wide as the page's content and scales with it (see the template's
//! CSS), colours each series by its variant ([`palette`]), keeps text out of the plot area
//! (label areas and the legend are sized from the longest label, erring wide), and marks
//! its plot area with [`PLOT_BG`] so the browser test can check exactly that.

pub mod forest;
pub mod instructions;
pub mod intervals;
pub mod latency;
pub mod memory;
pub mod metrics;
pub mod operations;
pub mod palette;
pub mod storage;
pub mod sweep;
pub mod throughput;

use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

pub use palette::Palette;

/// Width of every chart, in SVG units (the page's content width; charts scale with it).
pub const WIDTH: u32 = 1040;
pub const FONT: &str = "sans-serif";
/// Font size of labels and legends, and of chart titles, as plotters takes them (its SVG
/// backend writes `font-size` as the size / 1.24: these are 13 px and 16 px).
pub const LABEL: u32 = 16;
pub const CAPTION: u32 = 20;
/// The plot area's background; nothing else is painted in it.
pub const PLOT_BG: RGBColor = RGBColor(0xF7, 0xF7, 0xFA);
/// Height of one row of a bar chart.
const ROW: u32 = 24;

/// How wide `text` is at plotters' font `size` in a sans-serif font, erring wide (0.62 em
/// a glyph; digits and lower case average about 0.55).
pub fn text_width(text: &str, size: u32) -> u32 {
    (text.chars().count() as f64 * f64::from(size) / 1.24 * 0.62).ceil() as u32
}

/// One row of a bar chart: a variant at a thread count.
#[derive(Debug, Clone)]
pub struct Bar {
    pub label: String,
    pub variant: String,
    pub value: f64,
    pub interval: Option<[f64; 2]>,
}

/// What a bar chart shows.
#[derive(Clone, Copy, Debug)]
pub struct BarSpec<'a> {
    pub title: &'a str,
    /// The value axis' description ("ops/s", "bytes").
    pub axis: &'a str,
    pub fmt: fn(f64) -> String,
    pub palette: &'a Palette,
}

pub(crate) fn label_style(anchor: Pos) -> TextStyle<'static> {
    (FONT, LABEL).into_font().color(&BLACK).pos(anchor)
}

/// A bar's interval when it has a drawable one, clamped at `floor`.
fn interval(b: &Bar, floor: f64) -> Option<[f64; 2]> {
    b.interval
        .filter(|i| i[0].is_finite() && i[1].is_finite())
        .map(|[lo, hi]| [lo.max(floor), hi])
}

/// The value axis' ends, and the floor intervals are clamped at: an interval of the mean
/// can reach below zero, what it bounds (a rate, a size) cannot.
fn extent(rows: &[&Bar]) -> (f64, f64, f64) {
    let floor = if rows.iter().all(|b| b.value >= 0.0) {
        0.0
    } else {
        f64::NEG_INFINITY
    };
    let ends = |b: &Bar| {
        let [lo, hi] = interval(b, floor).unwrap_or([b.value, b.value]);
        (lo.min(b.value), hi.max(b.value))
    };
    let low = rows.iter().map(|b| ends(b).0).fold(0.0, f64::min);
    let high = rows.iter().map(|b| ends(b).1).fold(0.0, f64::max);
    let pad = ((high - low) * 0.08).max(1e-9);
    (if low < 0.0 { low - pad } else { 0.0 }, high + pad, floor)
}

/// Horizontal bars, one row per variant and thread count (named at the left), coloured by
/// variant, with the 95% interval as an error bar when there is one.
pub fn bars(spec: BarSpec<'_>, rows: &[Bar]) -> Option<String> {
    // Non-finite values cannot be drawn; a chart with none left is no chart.
    let rows: Vec<&Bar> = rows.iter().filter(|b| b.value.is_finite()).collect();
    if rows.is_empty() {
        return None;
    }
    let (left, right, floor) = extent(&rows);
    let n = rows.len();
    let label_w = rows
        .iter()
        .map(|b| text_width(&b.label, LABEL))
        .max()
        .unwrap_or(0)
        + 14;
    let tick_w = text_width(&(spec.fmt)(right), LABEL);
    let height = 40 + ROW * n as u32 + 52;
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (WIDTH, height)).into_drawing_area();
        let fmt = |x: &f64| (spec.fmt)(*x);
        let frame = Frame {
            title: spec.title,
            axis: spec.axis,
            x: left..right,
            rows: n,
            label_w,
            right_margin: tick_w / 2 + 12,
            x_labels: 6,
            fmt: &fmt,
        };
        let mut chart = frame.draw(&root)?;
        for (i, b) in rows.iter().enumerate() {
            // The first row on top.
            let y = (n - 1 - i) as f64;
            let colour = spec.palette.style(&b.variant).colour;
            let bar = Rectangle::new([(0.0, y - 0.32), (b.value, y + 0.32)], colour.filled());
            chart.draw_series(std::iter::once(bar)).ok()?;
            if let Some([lo, hi]) = interval(b, floor) {
                let whisker =
                    ErrorBar::new_horizontal(y, lo, b.value, hi, BLACK.stroke_width(1), 8);
                chart.draw_series(std::iter::once(whisker)).ok()?;
            }
            row_label(&root, &chart, (left, y), &b.label)?;
        }
        root.present().ok()?;
    }
    Some(svg)
}

/// The frame of a chart with one named row per item, the values along x.
pub(crate) struct Frame<'a> {
    pub title: &'a str,
    pub axis: &'a str,
    pub x: std::ops::Range<f64>,
    pub rows: usize,
    /// Width of the row labels' area at the left.
    pub label_w: u32,
    pub right_margin: u32,
    pub x_labels: usize,
    pub fmt: &'a dyn Fn(&f64) -> String,
}

/// A chart of rows: x in value units, row `i` of `n` at y = `n − 1 − i` (the first on top).
pub(crate) type RowChart<'a, 'b> = ChartContext<
    'a,
    SVGBackend<'b>,
    Cartesian2d<plotters::coord::types::RangedCoordf64, plotters::coord::types::RangedCoordf64>,
>;

impl Frame<'_> {
    /// Fills `root` white, draws the caption, the x axis and its mesh, and fills the plot
    /// area with [`PLOT_BG`]; row labels are drawn by [`row_label`].
    pub(crate) fn draw<'a, 'b>(
        &self,
        root: &'a DrawingArea<SVGBackend<'b>, Shift>,
    ) -> Option<RowChart<'a, 'b>> {
        root.fill(&WHITE).ok()?;
        let mut chart = ChartBuilder::on(root)
            .caption(self.title, (FONT, CAPTION))
            .margin_top(8)
            .margin_left(8)
            .margin_right(self.right_margin)
            .x_label_area_size(46)
            .y_label_area_size(self.label_w)
            .build_cartesian_2d(self.x.clone(), -0.5..self.rows as f64 - 0.5)
            .ok()?;
        chart.plotting_area().fill(&PLOT_BG).ok()?;
        chart
            .configure_mesh()
            .disable_y_mesh()
            .y_labels(0)
            .x_labels(self.x_labels)
            .x_label_formatter(self.fmt)
            .x_desc(self.axis)
            .label_style((FONT, LABEL))
            .axis_desc_style((FONT, LABEL))
            .light_line_style(WHITE)
            .draw()
            .ok()?;
        Some(chart)
    }
}

/// A row's label, right-aligned just left of the plot area at `at` (x at the left edge).
pub(crate) fn row_label(
    root: &DrawingArea<SVGBackend<'_>, Shift>,
    chart: &RowChart<'_, '_>,
    at: (f64, f64),
    text: &str,
) -> Option<()> {
    let (x0, yp) = chart.backend_coord(&at);
    let anchor = label_style(Pos::new(HPos::Right, VPos::Center));
    root.draw(&Text::new(text.to_owned(), (x0 - 8, yp), anchor))
        .ok()
}

/// One entry of a legend: a swatch (a line, dashed or not) and its label.
#[derive(Debug, Clone)]
pub struct Entry {
    pub label: String,
    pub colour: RGBColor,
    /// Dash and gap lengths; `None` for a solid line.
    pub dash: Option<(u32, u32)>,
}

/// How wide a legend of `entries` is.
pub fn legend_width(entries: &[Entry]) -> u32 {
    entries
        .iter()
        .map(|e| text_width(&e.label, LABEL))
        .max()
        .unwrap_or(0)
        + 48
}

/// Draws `entries` top-down in `area` (beside the plot, never over it).
pub fn legend(area: &DrawingArea<SVGBackend<'_>, Shift>, entries: &[Entry]) -> Option<()> {
    for (i, e) in entries.iter().enumerate() {
        let y = 46 + 20 * i as i32;
        let style = e.colour.stroke_width(3);
        match e.dash {
            None => area
                .draw(&PathElement::new([(10, y), (34, y)], style))
                .ok()?,
            Some((dash, gap)) => {
                let mut x = 10;
                while x < 34 {
                    let end = (x + dash as i32).min(34);
                    area.draw(&PathElement::new([(x, y), (end, y)], style))
                        .ok()?;
                    x = end + gap as i32;
                }
            }
        }
        area.draw(&Text::new(
            e.label.clone(),
            (40, y),
            label_style(Pos::new(HPos::Left, VPos::Center)),
        ))
        .ok()?;
    }
    Some(())
}

/// The dash of the line for the `k`th thread count of a chart (solid, dashed, dotted, ...),
/// shifted by one when the palette's colours came round again.
pub fn dash(k: usize, style: palette::Style) -> Option<(u32, u32)> {
    match (k + usize::from(style.dashed)) % 4 {
        0 => None,
        1 => Some((8, 5)),
        2 => Some((2, 4)),
        _ => Some((12, 4)),
    }
}
