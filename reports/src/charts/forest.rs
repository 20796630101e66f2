//! A forest plot of paired ratios: one row per comparison (a variant at a thread count),
//! its estimate as a dot and its 95% interval as a whisker, against a line at 1 (no
//! change) and thin lines at 1 ± the threshold a verdict needs the whole interval past.

use plotters::prelude::*;

use super::{row_label, text_width, Frame, Palette, LABEL, WIDTH};
use crate::format::variant_threads;
use crate::results::Results;

/// One row: a ratio and its interval.
#[derive(Clone, Debug)]
pub struct Row {
    pub label: String,
    pub variant: String,
    pub estimate: f64,
    pub lo: f64,
    pub hi: f64,
}

/// Height of one row.
const ROW: u32 = 28;

/// The plot; `None` when no row has a finite interval.
pub fn forest(
    title: &str,
    axis: &str,
    rows: &[Row],
    threshold: f64,
    palette: &Palette,
) -> Option<String> {
    let rows: Vec<&Row> = rows
        .iter()
        .filter(|r| [r.estimate, r.lo, r.hi].iter().all(|v| v.is_finite()))
        .collect();
    if rows.is_empty() {
        return None;
    }
    let low = rows.iter().map(|r| r.lo).fold(1.0 - threshold, f64::min);
    let high = rows.iter().map(|r| r.hi).fold(1.0 + threshold, f64::max);
    let pad = ((high - low) * 0.08).max(0.002);
    let (left, right) = (low - pad, high + pad);
    let n = rows.len();
    let label_w = rows
        .iter()
        .map(|r| text_width(&r.label, LABEL))
        .max()
        .unwrap_or(0)
        + 14;
    let height = 40 + ROW * n as u32 + 52;
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (WIDTH, height)).into_drawing_area();
        let fmt = |x: &f64| format!("{x:.3}");
        let frame = Frame {
            title,
            axis,
            x: left..right,
            rows: n,
            label_w,
            right_margin: text_width("0.000", LABEL) / 2 + 12,
            x_labels: 8,
            fmt: &fmt,
        };
        let mut chart = frame.draw(&root)?;
        let span =
            |x: f64, style: ShapeStyle| PathElement::new([(x, -0.5), (x, n as f64 - 0.5)], style);
        chart
            .draw_series([
                span(1.0, BLACK.stroke_width(1)),
                span(1.0 - threshold, RGBColor(0x99, 0x99, 0x99).stroke_width(1)),
                span(1.0 + threshold, RGBColor(0x99, 0x99, 0x99).stroke_width(1)),
            ])
            .ok()?;
        for (i, r) in rows.iter().enumerate() {
            // The first row on top.
            let y = (n - 1 - i) as f64;
            let colour = palette.style(&r.variant).colour;
            let whisker =
                ErrorBar::new_horizontal(y, r.lo, r.estimate, r.hi, colour.stroke_width(2), 10);
            chart.draw_series(std::iter::once(whisker)).ok()?;
            let dot = Circle::new((r.estimate, y), 5, colour.filled());
            chart.draw_series(std::iter::once(dot)).ok()?;
            row_label(&root, &chart, (left, y), &r.label)?;
        }
        root.present().ok()?;
    }
    Some(svg)
}

/// `lab run`'s paired rounds: per thread count, how far the fastest variant is ahead of
/// each other one (leader/variant), with the 95% interval; `None` without paired rounds.
pub fn paired(results: &Results, palette: &Palette) -> Option<String> {
    let rows: Vec<Row> = results
        .paired
        .iter()
        .flat_map(|p| {
            let ranked = p.ranking(None, |v| results.ranked(v, p.threads));
            let lead = ranked
                .first()
                .map(|l| l.variant.clone())
                .unwrap_or_default();
            ranked.into_iter().filter_map(move |v| {
                let r = v.behind?;
                Some(Row {
                    label: format!("{lead} / {}", variant_threads(&v.variant, p.threads)),
                    variant: v.variant,
                    estimate: r.estimate,
                    lo: r.lo,
                    hi: r.hi,
                })
            })
        })
        .collect();
    forest(
        "How far the fastest variant is ahead of each other one (paired rounds, 95% interval; ×N = N threads)",
        "fastest / variant (throughput)",
        &rows,
        0.0,
        palette,
    )
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn one_dot_and_whisker_per_row_and_none_without_rows() {
        let palette = Palette::from_variants(vec!["a".into(), "b".into()]);
        let row = |label: &str, variant: &str, e: f64| Row {
            label: label.into(),
            variant: variant.into(),
            estimate: e,
            lo: e - 0.01,
            hi: e + 0.01,
        };
        let svg = forest(
            "t",
            "candidate/baseline",
            &[
                row("first row", "a", 0.97),
                row("second row", "b", 1.0),
                row("nan row", "b", f64::NAN),
            ],
            0.02,
            &palette,
        )
        .unwrap();
        // A filled dot per row, in its variant's colour.
        assert_eq!(svg.matches("<circle").count(), 4);
        assert_eq!(svg.matches("fill=\"#CC6677\" stroke=\"none\"").count(), 1);
        assert_eq!(svg.matches("fill=\"#332288\" stroke=\"none\"").count(), 1);
        assert!(
            svg.contains("first row") && svg.contains("second row") && !svg.contains("nan row")
        );
        assert!(forest("t", "x", &[], 0.02, &palette).is_none());
    }
}
